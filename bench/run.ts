// `npm run bench -- <scenario> [options]`: runs a benchmark, prints a table, writes JSON
// under bench/results/.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import nodeDataChannel from 'node-datachannel';
import { runApi } from './api.js';
import { runBrowserJoin } from './browser-join.js';
import { plotChurn, runChurn } from './churn.js';
import { runOverload } from './overload.js';
import { medianRate, runEgressBench } from './egress.js';
import { runForwarding } from './forwarding.js';
import { runIngressBench } from './ingress.js';
import { plotPacketsPerCpu, storedResults } from './plot.js';
import { summariseProfiles } from './profile.js';
import { formatShares } from './threads.js';
import { SCENARIOS, runJoinStorm, type JoinLatency, runRelayBaseline, runSfuBench, type Scenario, type SfuBenchResult, type Target } from './sfu.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    fanout: { type: 'string', default: '10' },
    packets: { type: 'string', default: '20000' },
    rate: { type: 'string', default: '4000' },
    rooms: { type: 'string', default: '20' },
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '10' },
    connections: { type: 'string', default: '20' },
    subscribers: { type: 'string' },
    bots: { type: 'string', default: '100' },
    workers: { type: 'string', default: '2' },
    nodes: { type: 'string', default: '1' },
    target: { type: 'string', default: 'strand' },
    sweep: { type: 'string' },
    'bots-per-process': { type: 'string', default: '25' },
    'join-rate': { type: 'string', default: '20' },
    'video-bitrate': { type: 'string', default: '1500000' },
    joins: { type: 'string', default: '20' },
    publishers: { type: 'string', default: '2' },
    ingresses: { type: 'string', default: '2' },
    v0: { type: 'boolean', default: false },
    url: { type: 'string' },
    profile: { type: 'boolean', default: false },
    baseline: { type: 'string', default: 'fair' },
    cycles: { type: 'string', default: '10' },
    participants: { type: 'string', default: '20' },
  },
});
const scenario = positionals[0] ?? 'forwarding';

const RESULTS = fileURLToPath(new URL('../../bench/results/', import.meta.url));

function writeResults(data: object): void {
  mkdirSync(RESULTS, { recursive: true });
  const file = `${RESULTS}${scenario}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`;
  writeFileSync(file, `${JSON.stringify({ scenario, ...data }, null, 2)}\n`);
  console.log(`results: ${file}`);
}

/** The top functions of each profiled Strand thread (--profile). */
function printProfiles(dir: string): void {
  console.log(`profiles: ${dir}`);
  for (const p of summariseProfiles(dir)) {
    console.log(`  ${p.file}: ${p.busySeconds.toFixed(2)} s busy of ${p.seconds.toFixed(1)} s sampled`);
    for (const t of p.top) console.log(`    ${t.percentOfBusy.toFixed(1).padStart(5)}%  ${t.fn}  ${t.where}`);
  }
}

/**
 * `audio-fanout | video-fanout | meeting | idle [--subscribers N] [--duration 20] [--warmup 10]
 * [--workers 2] [--sweep 10,25,50] [--target strand|janus] [--nodes N]`: bots against Strand (and Janus, with
 * `--target janus`), and the plain relay baseline at the same rate, in one run: a table with the
 * ratios, JSON, and a plot.
 */
async function sfu(): Promise<void> {
  const targets: Target[] = values.target === 'janus' ? ['strand', 'janus', 'relay'] : values.target === 'strand' ? ['strand', 'relay'] : [];
  if (targets.length === 0) {
    console.error(`--target ${values.target}: use strand or janus`);
    process.exit(2);
  }
  const fallback = scenario === 'meeting' ? 10 : 50;
  const fanouts = values.sweep ? values.sweep.split(',').map(Number) : [Number(values.subscribers ?? fallback)];
  const results: SfuBenchResult[] = [];
  for (const subscribers of fanouts) {
    const opts = {
      scenario: scenario as Scenario, subscribers, duration: Number(values.duration), warmup: Number(values.warmup), workers: Number(values.workers),
      botsPerProcess: Number(values['bots-per-process']), joinRate: Number(values['join-rate']), videoBitrate: Number(values['video-bitrate']),
      onProgress: (line: string) => console.log(line),
    };
    const profileDir = values.profile ? mkdtempSync(join(tmpdir(), `strand-profile-${subscribers}-`)) : undefined;
    const strand = await runSfuBench({ ...opts, target: 'strand', profileDir });
    results.push(strand);
    if (profileDir) printProfiles(profileDir);
    // --nodes N: the same room spread over N nodes (cascading), beside the single node.
    if (Number(values.nodes) > 1) results.push(await runSfuBench({ ...opts, target: 'strand', nodes: Number(values.nodes) }));
    if (targets.includes('janus')) results.push(await runSfuBench({ ...opts, target: 'janus' }));
    if (targets.includes('relay') && scenario !== 'meeting' && scenario !== 'idle') results.push(await runRelayBaseline({ ...opts, target: 'relay' }, strand.packetsInPerSecond ?? 0, values.baseline === 'sender-only' ? 'relay' : 'fair-relay'));
  }
  console.table(results.map((r) => ({
    target: r.target, workers: r.workers || '', pubs: r.publishers, subs: r.subscribers, 'pkts/s': Math.round(r.packetsPerSecond),
    'Mbit/s': r.mbitPerSecond.toFixed(1), 'loss %': r.lossPercent.toFixed(2), 'lat p50/p99 ms': `${r.latencyP50Ms.toFixed(1)}/${r.latencyP99Ms.toFixed(1)}`,
    'join p50/p99 ms': `${Math.round(r.joinP50Ms)}/${Math.round(r.joinP99Ms)}`, 'join retries': r.joinRetries, 'cpu s': r.serverCpuSeconds.toFixed(2),
    'pkts/cpu-s': Math.round(r.packetsPerCpuSecond), 'KiB RSS/track': Math.round(r.rssPerSubscribedTrackKiB),
    'ms cpu / participant-s': ((r.cpuPerParticipantSecond ?? 0) * 1000).toFixed(2), 'RSS MiB': r.serverRssMiB.toFixed(0),
  })));
  // Memory per added subscribed track: RSS between the smallest and the largest run of a target.
  for (const target of new Set(results.map((r) => r.target))) {
    const runs = results.filter((r) => r.target === target && r.serverRssMiB > 0).sort((a, b) => a.subscribedTracks - b.subscribedTracks);
    const lo = runs[0];
    const hi = runs[runs.length - 1];
    if (lo && hi && hi.subscribedTracks > lo.subscribedTracks) {
      const kib = ((hi.serverRssMiB - lo.serverRssMiB) * 1024) / (hi.subscribedTracks - lo.subscribedTracks);
      console.log(`${target}: marginal RSS ${kib.toFixed(0)} KiB per added subscribed track (${lo.subscribedTracks} → ${hi.subscribedTracks} tracks)`);
    }
  }
  for (const r of results) {
    if (r.threads?.length) console.log(`${r.target} ×${r.subscribers} threads: ${formatShares(r.threads, r.seconds)}`);
  }
  for (const r of results) {
    if (!r.nodes) continue;
    for (const n of r.nodes) {
      console.log(`${r.target} ×${r.subscribers}, node ${n.node}${n.node === 0 ? ' (home, publisher)' : ''}: ${n.subscribers} subscribers, latency p50/p99 `
        + `${n.latencyP50Ms.toFixed(1)}/${n.latencyP99Ms.toFixed(1)} ms, CPU ${n.cpuSeconds.toFixed(2)} s (link ${n.linkCpuSeconds.toFixed(2)} s), `
        + `link records out/in ${n.linkRecordsOut}/${n.linkRecordsIn}`);
    }
    console.log(`${r.target} ×${r.subscribers}: link added latency p50/p99 ${r.addedLatencyP50Ms!.toFixed(2)}/${r.addedLatencyP99Ms!.toFixed(2)} ms, `
      + `link CPU ${r.linkCpuUsPerRelayedPacket!.toFixed(1)} µs per relayed packet`);
  }
  for (const subscribers of fanouts) {
    const at = results.filter((r) => r.subscribers === subscribers);
    const strand = at.find((r) => r.target === 'strand');
    for (const other of at.filter((r) => r.target !== 'strand')) {
      if (strand && other.packetsPerCpuSecond > 0) {
        console.log(`fan-out ${subscribers}: Strand / ${other.target} = ${(strand.packetsPerCpuSecond / other.packetsPerCpuSecond).toFixed(2)} (packets per CPU-second)`);
      }
      if (strand && other.nodes) {
        console.log(`fan-out ${subscribers}: ${other.target}: ${Math.round(other.packetsPerCpuSecond)} packets per CPU-second, `
          + `${Math.round(strand.packetsPerCpuSecond)} on one node`);
      }
    }
  }
  writeResults({ duration: Number(values.duration), warmup: Number(values.warmup), results });
  const svg = `${RESULTS}${scenario}-packets-per-cpu.svg`;
  plotPacketsPerCpu(storedResults(RESULTS, scenario), scenario, svg);
  console.log(`plot: ${svg}`);
}

/** `forwarding [--fanout 10] [--packets 20000] [--rate 4000]`: forwarding cost, SFU path vs plain relay. */
async function forwarding(): Promise<void> {
  const fanout = Number(values.fanout);
  const packets = Number(values.packets);
  const rate = Number(values.rate);
  console.log(`forwarding: fan-out ${fanout}, ${packets} packets in at ${rate}/s, 1.2 kB VP8 RTP, SRTP to node-datachannel receivers in another process`);
  const results = await runForwarding(fanout, packets, rate);
  console.table(results.map((r) => ({
    mode: r.mode, 'forwarded pkts': r.packetsForwarded, 'delivered': r.delivered, 'cpu s': r.cpuSeconds.toFixed(2),
    'wall s': r.wallSeconds.toFixed(2), 'pkts / cpu-s': Math.round(r.packetsPerCpuSecond),
  })));
  const [relay, sfu] = results;
  if (relay && sfu) console.log(`SFU logic costs ${(100 * (relay.packetsPerCpuSecond / sfu.packetsPerCpuSecond - 1)).toFixed(1)}% more CPU per forwarded packet than the plain relay`);
  writeResults({ fanout, packets, rate, results });
  nodeDataChannel.cleanup();
}

/** `api [--rooms 20] [--duration 10] [--connections 20]`: Twirp ListRooms and /rtc/validate under autocannon. */
async function api(): Promise<void> {
  const rooms = Number(values.rooms);
  const duration = Number(values.duration);
  const connections = Number(values.connections);
  console.log(`api: ${rooms} rooms, ${connections} connections, ${duration} s per endpoint, Strand in its own process`);
  const results = await runApi(rooms, duration, connections, (line) => console.log(line));
  console.table(results.map((r) => ({
    target: r.target, 'req/s': Math.round(r.requestsPerSecond), 'p50 ms': r.latencyP50Ms, 'p99 ms': r.latencyP99Ms,
    errors: r.errors, non2xx: r.non2xx, 'server cpu s': r.serverCpuSeconds.toFixed(2), 'req / server cpu-s': Math.round(r.requestsPerServerCpuSecond),
  })));
  writeResults({ rooms, duration, connections, results });
}

/**
 * `join-storm [--bots 100] [--join-rate 20] [--workers 2] [--nodes 1]`: join latency percentiles
 * under a burst of joins; with `--nodes 3`, through all three nodes of a cluster, the joins
 * relayed to the room's node side by side with those made on it.
 */
async function joinStorm(): Promise<void> {
  const result = await runJoinStorm(Number(values.bots), Number(values['join-rate']), Number(values.workers), Number(values['bots-per-process']),
    (line) => console.log(line), Number(values.nodes));
  const row = (path: string, l: JoinLatency) => ({
    path, joined: l.joined, failed: l.failed,
    'JoinResponse p50/p99 ms': `${Math.round(l.joinResponseP50Ms)}/${Math.round(l.joinResponseP99Ms)}`,
    'connected p50/p99 ms': `${Math.round(l.connectedP50Ms)}/${Math.round(l.connectedP99Ms)}`,
  });
  console.log(`${result.bots} bots at ${result.joinRate}/s, ${result.nodes} node(s): server CPU ${result.serverCpuSeconds.toFixed(2)} s`);
  console.table([
    row('all', result),
    ...(result.direct ? [row('on the room\'s node', result.direct)] : []),
    ...(result.relayed ? [row('relayed from another node', result.relayed)] : []),
  ]);
  writeResults({ result });
}

/**
 * `browser-join [--joins 20] [--v0] [--url ws://host:port]`: livekit-client in Chromium joins N
 * times; join time from connect() and from the signal socket opening to the first connected
 * PeerConnection. Both modes, and the default against a server given by --url, side by side.
 */
async function browserJoin(): Promise<void> {
  const joins = Number(values.joins);
  const runs = [
    await runBrowserJoin({ joins, v0: false, onProgress: (line) => console.log(`default: ${line}`) }),
    await runBrowserJoin({ joins, v0: true, onProgress: (line) => console.log(`v0: ${line}`) }),
  ];
  if (values.url) runs.push(await runBrowserJoin({ joins, v0: values.v0, url: values.url, onProgress: (line) => console.log(`${values.url}: ${line}`) }));
  console.table(runs.map((r) => ({
    server: r.server, options: r.mode, joins: r.joins, failed: r.failed, path: r.signalPath,
    'sockets/join': r.socketsPerJoin.toFixed(1), 'PCs/join': r.peerConnectionsPerJoin.toFixed(1),
    'connect() → connected p50/p99 ms': `${Math.round(r.connectP50Ms)}/${Math.round(r.connectP99Ms)}`,
    'socket open → connected p50/p99 ms': `${Math.round(r.socketP50Ms)}/${Math.round(r.socketP99Ms)}`,
  })));
  writeResults({ joins, results: runs });
}

/**
 * `egress [--publishers 2] [--duration 10]`: what recording costs: the tap on the forwarding
 * path, and CPU per recorded track-second for track egress and a room composite.
 */
async function egress(): Promise<void> {
  const { tap, recordings } = await runEgressBench({ publishers: Number(values.publishers), seconds: Number(values.duration), onProgress: (l) => console.log(l) });
  console.table(tap.map((r) => ({ mode: r.mode, 'forwarded pkts': r.packetsForwarded, 'cpu s': r.cpuSeconds.toFixed(2), 'pkts / cpu-s': Math.round(r.packetsPerCpuSecond) })));
  const plain = medianRate(tap, 'sfu');
  const tapped = medianRate(tap, 'sfu+tap');
  console.log(`median packets per CPU-second: ${Math.round(plain)} without, ${Math.round(tapped)} with the egress tap: `
    + `the tap costs the forwarding path ${(100 * (plain / tapped - 1)).toFixed(1)}% more CPU per packet`);
  console.table(recordings.map((r) => ({
    phase: r.phase, egresses: r.egresses, 'tracks recorded': r.recordedTracks, 'Strand cpu s': r.strandCpuSeconds.toFixed(2), 'ffmpeg cpu s': r.ffmpegCpuSeconds.toFixed(2),
    'pkts in / Strand cpu-s': Math.round(r.packetsInPerStrandCpuSecond), 'cpu-s per track-s': r.cpuPerTrackSecond.toFixed(3),
  })));
  writeResults({ duration: Number(values.duration), tap, recordings });
  nodeDataChannel.cleanup();
}

/**
 * `ingress [--ingresses 2] [--duration 10]`: CPU per ingress-second of RTMP (transcoded) and
 * WHIP (passthrough) ingress, and the latency from an encoder's frame to a decoded frame.
 */
async function ingress(): Promise<void> {
  const { costs, latency } = await runIngressBench({ ingresses: Number(values.ingresses), seconds: Number(values.duration), onProgress: (l) => console.log(l) });
  console.table(costs.map((c) => ({
    input: c.input, ingresses: c.ingresses, seconds: c.seconds.toFixed(1), 'Strand cpu s': c.strandCpuSeconds.toFixed(2),
    'transcoder cpu s': c.transcoderCpuSeconds.toFixed(2), 'pkts in / s': Math.round(c.packetsInPerSecond), 'cpu-s per ingress-s': c.cpuPerIngressSecond.toFixed(3),
  })));
  console.log(`encoder start → first decoded frame: ${latency.firstFrameMs} ms`);
  console.log(`encoder frame → decoded frame (RTMP, transcoded): p50 ${latency.p50Ms} ms, p90 ${latency.p90Ms} ms, max ${latency.maxMs} ms over ${latency.samples} frames`);
  writeResults({ duration: Number(values.duration), costs, latency });
  nodeDataChannel.cleanup();
  process.exit(0); // rtc-node's runtime keeps the loop alive
}

/**
 * `churn [--cycles 10] [--participants 20] [--workers 2]`: memory after each cycle of joining,
 * publishing, subscribing and leaving; a table, JSON and a plot. RSS growth from cycle 2 on is
 * what participants leave behind (cycle 1 pays for start-up: libdatachannel's threads, JIT).
 */
async function churn(): Promise<void> {
  const participants = Number(values.participants);
  const cycles = await runChurn({ cycles: Number(values.cycles), participants, workers: Number(values.workers) });
  console.table(cycles.map((c) => ({ cycle: c.cycle, 'RSS MiB': c.rssMiB.toFixed(1), 'main heap MiB': c.mainHeapMiB.toFixed(1), 'worker heaps MiB': c.workerHeapMiB.map((h) => h.toFixed(1)).join(' / ') })));
  const second = cycles[1];
  const last = cycles[cycles.length - 1];
  if (second && last) console.log(`RSS after cycle ${last.cycle} is ${(100 * (last.rssMiB / second.rssMiB - 1)).toFixed(1)}% from cycle 2 (${second.rssMiB.toFixed(1)} → ${last.rssMiB.toFixed(1)} MiB)`);
  mkdirSync(RESULTS, { recursive: true });
  const svg = `${RESULTS}churn-${new Date().toISOString().replace(/[:.]/g, '-')}.svg`;
  plotChurn(cycles, participants, svg);
  console.log(`plot: ${svg}`);
  writeResults({ participants, cycles });
  process.exit(0); // the bots' libdatachannel: cleanup() after this many connections crashed the bench process (not Strand)
}

/**
 * `overload [--duration 10]`: one room's media loss and latency, calm and then while one
 * participant floods data packets and signal messages (default limits); the drops counted.
 */
async function overload(): Promise<void> {
  const windows = await runOverload({ seconds: Number(values.duration) });
  console.table(windows.map((w) => ({
    phase: w.phase, seconds: w.seconds.toFixed(1), 'loss %': w.lossPercent.toFixed(2), 'latency p50 ms': w.latencyP50Ms.toFixed(1), 'latency p99 ms': w.latencyP99Ms.toFixed(1),
    'data sent': w.floodSent, 'data dropped': w.dataDropped, 'signal sent': w.signalSent, 'signal dropped': w.signalDropped,
  })));
  const [calm, flood] = windows;
  if (calm && flood) console.log(`p99 latency under the flood is ${(flood.latencyP99Ms / Math.max(calm.latencyP99Ms, 0.001)).toFixed(2)}× the calm window's`);
  writeResults({ duration: Number(values.duration), windows });
  process.exit(0); // rtc-node's runtime keeps the loop alive
}

const RUNNERS: Record<string, () => Promise<void>> = {
  egress, ingress, churn, overload,
  forwarding, api, 'join-storm': joinStorm, 'browser-join': browserJoin, ...Object.fromEntries(SCENARIOS.map((s) => [s, sfu])),
};
const run = RUNNERS[scenario];
if (!run) {
  console.error(`unknown scenario "${scenario}"; available: ${Object.keys(RUNNERS).join(', ')}`);
  process.exit(2);
}
await run();
