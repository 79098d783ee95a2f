// System benchmarks modelled on LiveKit's table: audio fan-out (10 publishers → N subscribers),
// video fan-out (1 → N) and a meeting (N × N), with bots in child processes and Strand in its
// own process. Measures, over a fixed window after everyone joined: delivered packets/s and
// Mbit/s, loss, one-way latency, join time, the server's CPU (all threads, from /proc) and
// packets delivered per server CPU-second, and the server's RSS per subscribed track.
import { percentile } from '../src/loadtest/percentile.js';
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { RoomServiceClient } from 'livekit-server-sdk';
import { startCluster } from '../test/helpers/cluster.js';
import { startStrand, workerStats } from '../test/helpers/strand-process.js';
import type { BotCommand, BotReply, BotSnapshot, BotSpec, JanusTarget } from './bot/bot-process.js';
import { createJanusRoom } from './bot/janus-bot.js';
import type { ForwardingResult } from './forwarding.js';
import { startJanus } from './janus-server.js';
import type { RelayRunReply, RelayRunRequest } from './relay-process.js';
import { devToken, processCpuSeconds, processRssMiB } from './measure.js';
import type { LinkWorkerStats } from '../src/workers/node-link/link-protocol.js';
import { formatShares, sampleThreads, threadShares, type ThreadShare } from './threads.js';

export type Target = 'strand' | 'janus' | 'relay';

export type Scenario = 'audio-fanout' | 'video-fanout' | 'meeting' | 'idle';
export const SCENARIOS: Scenario[] = ['audio-fanout', 'video-fanout', 'meeting', 'idle'];

export interface SfuBenchOptions {
  target: Target;
  scenario: Scenario;
  /** Subscribers (fan-out scenarios) or participants (meeting). */
  subscribers: number;
  /** Measurement window, s. */
  duration: number;
  /**
   * Seconds between the last join and the window: the joins' own work (ICE, DTLS, SCTP, the
   * JIT compiling the forwarding path) is over by then, so the window sees steady forwarding.
   */
  warmup: number;
  /** Strand media workers. */
  workers: number;
  botsPerProcess: number;
  /** Joins per second. */
  joinRate: number;
  videoBitrate: number;
  /** Strand only: write V8 CPU profiles of its threads into this directory. */
  profileDir?: string;
  /**
   * Strand only: this many nodes on one Redis, one room across them (cascading), its
   * subscribers spread evenly (rtc.max_subscribers_per_node) and connected to their own node.
   */
  nodes?: number;
  onProgress(line: string): void;
}

export interface SfuBenchResult {
  target: string;
  scenario: Scenario;
  workers: number;
  publishers: number;
  subscribers: number;
  subscribedTracks: number;
  seconds: number;
  packetsPerSecond: number;
  mbitPerSecond: number;
  lossPercent: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  joinP50Ms: number;
  joinP99Ms: number;
  joinFailures: number;
  /** Joins that succeeded only on a second try. */
  joinRetries: number;
  serverCpuSeconds: number;
  /** Delivered packets per second of server CPU (user + system, every thread). */
  packetsPerCpuSecond: number;
  serverRssMiB: number;
  rssPerSubscribedTrackKiB: number;
  /** Packets the publishers sent, per second. */
  packetsInPerSecond?: number;
  /** Server CPU-seconds per connected participant-second. */
  cpuPerParticipantSecond?: number;
  /** The server's CPU over the window by thread (percent of one core = 100 × cpuSeconds / seconds). */
  threads?: ThreadShare[];
  /** With --nodes: each node's subscribers and what its node link carried. */
  nodes?: NodeShare[];
  /** With --nodes: CPU of the node link workers (all nodes) per packet relayed between nodes, µs. */
  linkCpuUsPerRelayedPacket?: number;
  /** With --nodes: one-way latency of the subscribers on other nodes than the publisher's, minus that of its own node's, ms. */
  addedLatencyP50Ms?: number;
  addedLatencyP99Ms?: number;
}

export interface NodeShare {
  node: number;
  subscribers: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  cpuSeconds: number;
  linkCpuSeconds: number;
  /** Media records the node's link sent to other nodes and received from them, in the window. */
  linkRecordsOut: number;
  linkRecordsIn: number;
}

class BotProcess {
  private readonly child: ChildProcess;
  private readonly waiting: Array<(r: BotReply) => void> = [];

  constructor() {
    this.child = fork(fileURLToPath(new URL('./bot/bot-process.js', import.meta.url)), [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    this.child.on('message', (r: BotReply) => this.waiting.shift()?.(r));
  }

  private ask(cmd: BotCommand): Promise<BotReply> {
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      this.child.send(cmd);
    });
  }

  async start(url: string, bots: BotSpec[], joinIntervalMs: number, janus?: JanusTarget): Promise<BotSnapshot> {
    const r = await this.ask({ cmd: 'start', url, bots, joinIntervalMs, janus });
    return r.kind === 'snapshot' || r.kind === 'started' ? r.snapshot : emptySnapshot();
  }

  async snapshot(): Promise<BotSnapshot> {
    const r = await this.ask({ cmd: 'snapshot' });
    return r.kind === 'snapshot' ? r.snapshot : emptySnapshot();
  }

  async stop(): Promise<void> {
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.send({ cmd: 'stop' });
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 8000);
    await exited;
    clearTimeout(timer);
  }
}

function emptySnapshot(): BotSnapshot {
  return {
    joined: 0, failed: 0, retries: 0, errors: [], packets: 0, bytes: 0, lost: 0, subscribedTracks: 0, latencies: [], joinTimes: [], joinResponseTimes: [], sent: 0, feeds: [],
  };
}

function sum(snaps: BotSnapshot[]): BotSnapshot {
  const s = emptySnapshot();
  for (const x of snaps) {
    s.joined += x.joined;
    s.failed += x.failed;
    s.retries += x.retries;
    s.errors.push(...x.errors);
    s.packets += x.packets;
    s.bytes += x.bytes;
    s.lost += x.lost;
    s.subscribedTracks += x.subscribedTracks;
    s.latencies.push(...x.latencies);
    s.joinTimes.push(...x.joinTimes);
    s.joinResponseTimes.push(...x.joinResponseTimes);
    s.sent += x.sent;
    s.feeds.push(...x.feeds);
  }
  return s;
}

function token(room: string, identity: string, canPublish: boolean, canSubscribe = true): Promise<string> {
  return devToken({ roomJoin: true, room, canPublish, canSubscribe }, identity);
}

/** Who publishes what, and how many only subscribe, for a scenario. */
function cast(o: SfuBenchOptions): { publishers: number; publish: { audio: boolean; video: boolean }; subscribers: number } {
  switch (o.scenario) {
    case 'audio-fanout': return { publishers: 10, publish: { audio: true, video: false }, subscribers: o.subscribers };
    case 'video-fanout': return { publishers: 1, publish: { audio: false, video: true }, subscribers: o.subscribers };
    case 'meeting': return { publishers: o.subscribers, publish: { audio: true, video: true }, subscribers: 0 };
    // Connected (signal, ICE, DTLS, data channels) and publishing nothing.
    case 'idle': return { publishers: 0, publish: { audio: false, video: false }, subscribers: o.subscribers };
  }
}

/** The server under test: where bots go, and whose process is measured. */
interface Server {
  url: string;
  pid: number;
  /** With --nodes: every node (the first is the room's home, where `url` and `pid` point). */
  cluster?: Array<{ url: string; httpUrl: string; pid: number }>;
  /** Labels of the server's own threads (tid → "main", "media worker 0", …), read once everyone joined. */
  threadLabels(): Promise<Map<number, string>>;
  janus?: Omit<JanusTarget, 'feeds'>;
  /** With --nodes: makes the room on the first node (its home). */
  createRoom?(room: string): Promise<void>;
  stop(): Promise<unknown>;
}

/** A node's link worker: its thread and counters (`/debug/link`). */
async function linkSample(node: { httpUrl: string; pid: number }): Promise<{ cpuSeconds: number; out: number; in: number }> {
  const stats = await (await fetch(`${node.httpUrl}/debug/link`)).json() as LinkWorkerStats;
  return {
    cpuSeconds: sampleThreads(node.pid).threads.get(stats.tid)?.cpuSeconds ?? 0,
    out: stats.peers.reduce((n, p) => n + p.mediaSent, 0),
    in: stats.peers.reduce((n, p) => n + p.mediaReceived, 0),
  };
}

async function startServer(o: SfuBenchOptions, participants: number): Promise<Server> {
  if (o.target === 'janus') {
    if (o.scenario === 'meeting') throw new Error('the meeting scenario is not implemented for Janus (fan-out scenarios only)');
    const janus = await startJanus();
    try {
      const room = await createJanusRoom(janus.base, participants + 5);
      return {
        url: janus.base, pid: janus.pid, janus: { base: janus.base, room, bindAddress: janus.hostAddress }, stop: () => janus.stop(),
        threadLabels: async () => new Map([[janus.pid, 'main']]),
      };
    } catch (err) {
      await janus.stop();
      throw err;
    }
  }
  // Spread the room over the workers: each takes its share of the subscribers.
  const perWorker = Math.ceil(participants / o.workers);
  const nodes = o.nodes ?? 1;
  if (nodes > 1) {
    // The publisher does not subscribe (its token): the cap counts the subscribers alone.
    const perNode = Math.ceil(cast(o).subscribers / nodes);
    const cluster = await startCluster(nodes, {
      workers: o.workers,
      config: () => `rtc: { max_subscribers_per_node: ${perNode}, max_subscribers_per_worker: ${o.workers > 1 ? Math.ceil(perNode / o.workers) : 0} }\nlog_level: info`,
    });
    const home = cluster.nodes[0]!;
    return {
      url: home.url, pid: home.child.pid!, stop: () => cluster.stop(),
      cluster: cluster.nodes.map((n) => ({ url: n.url, httpUrl: n.httpUrl, pid: n.child.pid! })),
      threadLabels: async () => {
        const labels = await strandThreadLabels(home.httpUrl, home.child.pid!);
        const link = await (await fetch(`${home.httpUrl}/debug/link`)).json() as LinkWorkerStats;
        if (link.tid) labels.set(link.tid, 'node link');
        return labels;
      },
      createRoom: (room: string) => cluster.roomService(0).createRoom({ name: room, nodeId: cluster.nodeIds[0] }).then(() => undefined),
    };
  }
  const strand = await startStrand({
    workers: o.workers,
    // STRAND_BENCH_NODE_ARGS: more options for Strand's node (e.g. --trace-gc), for investigations.
    nodeArgs: [...(o.profileDir ? ['--cpu-prof', '--cpu-prof-dir', o.profileDir] : []), ...(process.env.STRAND_BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? [])],
    args: ['--config-body', `rtc: { max_subscribers_per_worker: ${o.workers > 1 ? perWorker : 0} }\nlog_level: info`],
  });
  return { url: strand.url, pid: strand.child.pid!, stop: () => strand.stop(), threadLabels: () => strandThreadLabels(strand.httpUrl, strand.child.pid!) };
}

/** Strand's main thread and its media workers, by the tids the workers report (`/debug/stats`, --dev). */
export async function strandThreadLabels(httpUrl: string, pid: number): Promise<Map<number, string>> {
  const labels = new Map<number, string>([[pid, 'main']]);
  for (const s of await workerStats(httpUrl)) if (s.tid) labels.set(s.tid, `media worker ${s.slot}`);
  return labels;
}

/**
 * The baseline: a plain node-datachannel relay (SSRC rewrite and send, no SFU logic) carrying the
 * same packet rate to the same number of receivers, over real SRTP (forwarding.ts). The fair one
 * (default) also receives the stream over SRTP and gives every receiver a data channel, as
 * Strand's subscribers have; `sender-only` makes the packets in its own process.
 */
export async function runRelayBaseline(o: SfuBenchOptions, packetsPerSecondIn: number, mode: 'fair-relay' | 'relay' = 'fair-relay'): Promise<SfuBenchResult> {
  const c = cast(o);
  // Publishers receive each other too (they subscribe, like LiveKit's load tester's).
  const fanout = c.subscribers + c.publishers - 1;
  const rate = Math.max(1, Math.round(packetsPerSecondIn));
  o.onProgress(`${mode} baseline: ${rate} packets/s in, fan-out ${fanout}, ${o.duration} s`);
  const r = await relayRun({ fanout, packets: rate * o.duration, rate, mode });
  return {
    target: mode === 'relay' ? 'relay (sender only)' : 'relay', scenario: o.scenario, workers: 1, publishers: c.publishers, subscribers: c.subscribers || c.publishers,
    subscribedTracks: fanout, seconds: r.wallSeconds, packetsPerSecond: r.delivered / r.wallSeconds,
    mbitPerSecond: (r.delivered * 1200 * 8) / r.wallSeconds / 1e6, lossPercent: r.packetsForwarded > 0 ? (100 * (r.packetsForwarded - r.delivered)) / r.packetsForwarded : 0,
    latencyP50Ms: 0, latencyP99Ms: 0, joinP50Ms: 0, joinP99Ms: 0, joinFailures: 0, joinRetries: 0, serverCpuSeconds: r.cpuSeconds,
    packetsPerCpuSecond: r.delivered / r.cpuSeconds, serverRssMiB: 0, rssPerSubscribedTrackKiB: 0,
  };
}

/**
 * One relay run in its own process (relay-process.ts). Once the result is in, how the child
 * ends does not matter: libdatachannel's teardown may still crash it at exit.
 */
function relayRun(req: RelayRunRequest): Promise<ForwardingResult> {
  const child = fork(fileURLToPath(new URL('./relay-process.js', import.meta.url)), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise<ForwardingResult>((resolve, reject) => {
    child.once('message', (reply: RelayRunReply) => ('result' in reply ? resolve(reply.result) : reject(new Error(`relay baseline: ${reply.error}`))));
    child.once('exit', (code, signal) => reject(new Error(`relay baseline process ended (${signal ?? code}) before its result`)));
    child.send(req);
  });
}

export async function runSfuBench(o: SfuBenchOptions): Promise<SfuBenchResult> {
  const c = cast(o);
  const server = await startServer(o, c.publishers + c.subscribers);
  const pid = server.pid;
  const nodes = server.cluster ?? [{ url: server.url, httpUrl: '', pid }];
  const room = `bench-${o.scenario}-${Date.now()}`;
  const processes: BotProcess[] = [];
  /** The node each bot process's bots are served by. */
  const processNode: number[] = [];
  let progress: NodeJS.Timeout | undefined;
  try {
    await server.createRoom?.(room);
    const interval = 1000 / o.joinRate;
    const publisherSpecs: BotSpec[] = [];
    for (let i = 0; i < c.publishers; i++) {
      publisherSpecs.push({
        identity: `pub-${i}`, token: await token(room, `pub-${i}`, true, !server.cluster), publish: { ...c.publish, videoBitrate: o.videoBitrate },
      });
    }
    const subscriberSpecs: BotSpec[] = [];
    for (let i = 0; i < c.subscribers; i++) subscriberSpecs.push({ identity: `sub-${i}`, token: await token(room, `sub-${i}`, false) });
    const chunk = (specs: BotSpec[]) => {
      const out: BotSpec[][] = [];
      for (let i = 0; i < specs.length; i += o.botsPerProcess) out.push(specs.slice(i, i + o.botsPerProcess));
      return out;
    };
    const publisherGroups = chunk(publisherSpecs);
    const subscriberGroups = chunk(subscriberSpecs);
    o.onProgress(`${o.scenario} on ${o.target === 'janus' ? 'Janus' : `Strand with ${o.workers} worker(s)`}: ${c.publishers} publishers, `
      + `${c.subscribers} subscribers, ${publisherGroups.length + subscriberGroups.length} bot processes`);
    const joinStarted = Date.now();
    progress = setInterval(() => o.onProgress(`  joining… ${((Date.now() - joinStarted) / 1000).toFixed(0)} s`), 2000);
    const launch = (groups: BotSpec[][], feeds: number[], node = 0) => Promise.all(groups.map((g) => {
      const p = new BotProcess();
      processes.push(p);
      processNode.push(node);
      // The processes join in parallel; together they keep to the join rate.
      return p.start(nodes[node]!.url, g, interval * groups.length, server.janus ? { ...server.janus, feeds } : undefined);
    }));
    // Publishers first, so that subscribers find their tracks when they join.
    const publishers = sum(await launch(publisherGroups, []));
    if (publishers.failed > 0) throw new Error(`${publishers.failed} publisher(s) could not publish: ${publishers.errors.join('; ')}`);
    const started = [publishers];
    if (server.cluster) {
      // Node by node: each node's share connects to it once the nodes before are full, so that
      // the room's node set serves each bot on the node it connected to.
      const perNode = Math.ceil(subscriberSpecs.length / nodes.length);
      for (let n = 0; n < nodes.length; n++) {
        started.push(...await launch(chunk(subscriberSpecs.slice(n * perNode, (n + 1) * perNode)), publishers.feeds, n));
      }
    } else {
      started.push(...await launch(subscriberGroups, publishers.feeds));
    }
    clearInterval(progress);
    const joined = sum(started);
    o.onProgress(`  ${joined.joined} joined (${joined.retries} on a second try), ${joined.failed} failed`
      + `${joined.errors.length ? ` (${joined.errors[0]})` : ''}; warming up for ${o.warmup} s`);
    await new Promise((r) => setTimeout(r, o.warmup * 1000));

    const labels = await server.threadLabels();
    const beforeEach = await Promise.all(processes.map((p) => p.snapshot()));
    const before = sum(beforeEach);
    const threads0 = sampleThreads(pid);
    const nodeCpu = () => nodes.map((n) => processCpuSeconds(n.pid));
    const links0 = server.cluster ? await Promise.all(server.cluster.map(linkSample)) : [];
    const cpu0 = nodeCpu();
    const totalCpu = () => nodeCpu().reduce((t, c, i) => t + c - cpu0[i]!, 0);
    const t0 = performance.now();
    for (let t = 1; t <= o.duration; t++) {
      await new Promise((r) => setTimeout(r, 1000));
      const now = sum(await Promise.all(processes.map((p) => p.snapshot())));
      o.onProgress(`  ${t}/${o.duration} s: ${Math.round((now.packets - before.packets) / t)} pkts/s delivered, server CPU ${(100 * totalCpu() / t).toFixed(0)}%`);
    }
    const seconds = (performance.now() - t0) / 1000;
    const cpuEach = nodeCpu().map((c, i) => c - cpu0[i]!);
    const cpu = cpuEach.reduce((a, b) => a + b, 0);
    const links1 = server.cluster ? await Promise.all(server.cluster.map(linkSample)) : [];
    const threads = threadShares(threads0, sampleThreads(pid), labels);
    o.onProgress(`  threads${server.cluster ? ' (home node)' : ''}: ${formatShares(threads, seconds)}`);
    const afterEach = await Promise.all(processes.map((p) => p.snapshot()));
    const after = sum(afterEach);
    let nodeShares: NodeShare[] | undefined;
    let linkCpuUs: number | undefined;
    let added: { p50: number; p99: number } | undefined;
    if (server.cluster) {
      nodeShares = nodes.map((_, n) => {
        const mine = afterEach.filter((_, i) => processNode[i] === n && i >= c.publishers);
        const lat = mine.flatMap((x) => x.latencies).sort((a, b) => a - b);
        return {
          node: n, subscribers: mine.reduce((t, x) => t + x.joined, 0), latencyP50Ms: percentile(lat, 50), latencyP99Ms: percentile(lat, 99),
          cpuSeconds: cpuEach[n]!, linkCpuSeconds: links1[n]!.cpuSeconds - links0[n]!.cpuSeconds,
          linkRecordsOut: links1[n]!.out - links0[n]!.out, linkRecordsIn: links1[n]!.in - links0[n]!.in,
        };
      });
      const relayed = nodeShares.reduce((t, x) => t + x.linkRecordsOut, 0);
      linkCpuUs = relayed > 0 ? (1e6 * nodeShares.reduce((t, x) => t + x.linkCpuSeconds, 0)) / relayed : 0;
      const remote = afterEach.filter((_, i) => processNode[i]! > 0).flatMap((x) => x.latencies).sort((a, b) => a - b);
      const home = nodeShares[0]!;
      added = { p50: percentile(remote, 50) - home.latencyP50Ms, p99: percentile(remote, 99) - home.latencyP99Ms };
    }
    const packets = after.packets - before.packets;
    const lost = after.lost - before.lost;
    const latencies = after.latencies.sort((a, b) => a - b);
    const joins = after.joinTimes.sort((a, b) => a - b);
    const rss = nodes.reduce((t, n) => t + processRssMiB(n.pid), 0);
    return {
      target: o.target, scenario: o.scenario, workers: o.target === 'strand' ? o.workers : 0, publishers: c.publishers, subscribers: c.subscribers || c.publishers,
      subscribedTracks: after.subscribedTracks, seconds,
      packetsPerSecond: packets / seconds, mbitPerSecond: ((after.bytes - before.bytes) * 8) / seconds / 1e6,
      lossPercent: packets + lost > 0 ? (100 * lost) / (packets + lost) : 0,
      latencyP50Ms: percentile(latencies, 50), latencyP99Ms: percentile(latencies, 99),
      joinP50Ms: percentile(joins, 50), joinP99Ms: percentile(joins, 99), joinFailures: after.failed, joinRetries: after.retries,
      serverCpuSeconds: cpu, packetsPerCpuSecond: cpu > 0 ? packets / cpu : 0,
      serverRssMiB: rss, rssPerSubscribedTrackKiB: after.subscribedTracks > 0 ? (rss * 1024) / after.subscribedTracks : 0,
      packetsInPerSecond: (after.sent - before.sent) / seconds, threads,
      cpuPerParticipantSecond: after.joined > 0 ? cpu / (after.joined * seconds) : 0,
      ...(nodeShares ? {
        target: `strand ×${nodes.length} nodes`, nodes: nodeShares, linkCpuUsPerRelayedPacket: linkCpuUs,
        addedLatencyP50Ms: added!.p50, addedLatencyP99Ms: added!.p99,
      } : {}),
    };
  } finally {
    clearInterval(progress);
    await Promise.all(processes.map((p) => p.stop()));
    await server.stop();
  }
}

/** Join latencies of one set of bots. */
export interface JoinLatency {
  joined: number;
  failed: number;
  joinResponseP50Ms: number;
  joinResponseP99Ms: number;
  connectedP50Ms: number;
  connectedP99Ms: number;
}

export interface JoinStormResult extends JoinLatency {
  bots: number;
  joinRate: number;
  workers: number;
  nodes: number;
  serverCpuSeconds: number;
  /**
   * With several nodes: the bots whose signal connection landed on the room's node, and those
   * whose connection another node relayed to it.
   */
  direct?: JoinLatency;
  relayed?: JoinLatency;
}

function latencies(snaps: BotSnapshot[]): JoinLatency {
  const all = sum(snaps);
  const responses = all.joinResponseTimes.sort((a, b) => a - b);
  const connected = all.joinTimes.sort((a, b) => a - b);
  return {
    joined: all.joined, failed: all.failed,
    joinResponseP50Ms: percentile(responses, 50), joinResponseP99Ms: percentile(responses, 99),
    connectedP50Ms: percentile(connected, 50), connectedP99Ms: percentile(connected, 99),
  };
}

/**
 * Bots join one room at `joinRate`. With `nodes` > 1, a cluster of that many nodes on a Redis
 * of its own: the room lives on the first node and bot processes take turns among the nodes'
 * URLs, so most joins are relayed across nodes.
 */
export async function runJoinStorm(bots: number, joinRate: number, workers: number, botsPerProcess: number, onProgress: (line: string) => void,
  nodes = 1): Promise<JoinStormResult> {
  const cluster = nodes > 1 ? await startCluster(nodes, { workers, config: () => 'log_level: info' }) : null;
  const servers = cluster ? cluster.nodes : [await startStrand({ workers, args: ['--config-body', 'log_level: info'] })];
  const room = `storm-${Date.now()}`;
  const processes: BotProcess[] = [];
  try {
    if (cluster) await new RoomServiceClient(servers[1]!.httpUrl, 'devkey', 'secret').createRoom({ name: room, nodeId: cluster.nodeIds[0] });
    const specs: BotSpec[] = [];
    for (let i = 0; i < bots; i++) specs.push({ identity: `storm-${i}`, token: await token(room, `storm-${i}`, false) });
    const groups: BotSpec[][] = [];
    for (let i = 0; i < specs.length; i += botsPerProcess) groups.push(specs.slice(i, i + botsPerProcess));
    onProgress(`join storm: ${bots} bots at ${joinRate}/s into one room, ${groups.length} bot processes, ${nodes} node(s) with ${workers} worker(s)`
      + (cluster ? ', the room on the first node' : ''));
    const cpu0 = servers.map((s) => processCpuSeconds(s.child.pid!));
    const snaps = await Promise.all(groups.map((g, i) => {
      const p = new BotProcess();
      processes.push(p);
      return p.start(servers[i % servers.length]!.url, g, (1000 / joinRate) * groups.length);
    }));
    const cpu = servers.reduce((t, s, i) => t + processCpuSeconds(s.child.pid!) - cpu0[i]!, 0);
    return {
      bots, joinRate, workers, nodes, serverCpuSeconds: cpu, ...latencies(snaps),
      ...(cluster ? {
        direct: latencies(snaps.filter((_, i) => i % servers.length === 0)),
        relayed: latencies(snaps.filter((_, i) => i % servers.length !== 0)),
      } : {}),
    };
  } finally {
    await Promise.all(processes.map((p) => p.stop()));
    if (cluster) await cluster.stop();
    else await servers[0]!.stop();
  }
}
