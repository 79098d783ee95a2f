// A child process running a share of a benchmark's bots, so that their CPU is not the server's
// and not the parent's. The parent drives it over IPC: start (join, optionally publish), snapshot
// (counters so far), stop.
import nodeDataChannel from 'node-datachannel';
import { Bot } from '../../src/loadtest/bot.js';
import { JanusBot } from './janus-bot.js';
import type { BotMedia, PublishOptions } from '../../src/loadtest/media.js';

export interface BotSpec {
  identity: string;
  token: string;
  publish?: PublishOptions;
}

/** Where Janus bots go: the API, the room, the host address to bind to, the feeds to subscribe to. */
export interface JanusTarget {
  base: string;
  room: number;
  bindAddress: string;
  feeds: number[];
}

export type BotCommand =
  | { cmd: 'start'; url: string; bots: BotSpec[]; joinIntervalMs: number; janus?: JanusTarget }
  | { cmd: 'snapshot' }
  | { cmd: 'pli' }
  | { cmd: 'stop' };

export interface BotSnapshot {
  joined: number;
  failed: number;
  /** Joins that needed a second try. */
  retries: number;
  errors: string[];
  /** Received media over all bots and tracks. */
  packets: number;
  bytes: number;
  lost: number;
  subscribedTracks: number;
  /** A sample of one-way latencies, ms. */
  latencies: number[];
  /** Join times (WebSocket open to subscriber connection up), ms. */
  joinTimes: number[];
  /** WebSocket open to JoinResponse, ms. */
  joinResponseTimes: number[];
  sent: number;
  /** Janus feed ids of this process's publishers. */
  feeds: number[];
}

/** What the process needs of a bot, whichever server it talks to. */
interface AnyBot {
  readonly media: BotMedia;
  readonly joinMs: number;
  readonly connectedMs: number;
  sent(): number;
  close(): Promise<void>;
}

export type BotReply = { kind: 'snapshot'; snapshot: BotSnapshot } | { kind: 'started'; snapshot: BotSnapshot } | { kind: 'stopped' };

const bots: AnyBot[] = [];
const feeds: number[] = [];
let failed = 0;
let retries = 0;
const errors: string[] = [];

function snapshot(): BotSnapshot {
  const s: BotSnapshot = {
    joined: bots.length, failed, retries, errors: errors.slice(0, 5), packets: 0, bytes: 0, lost: 0, subscribedTracks: 0, latencies: [], joinTimes: [],
    joinResponseTimes: [], sent: 0, feeds: [...feeds],
  };
  for (const b of bots) {
    if (b.connectedMs >= 0) s.joinTimes.push(b.connectedMs);
    if (b.joinMs >= 0) s.joinResponseTimes.push(b.joinMs);
    s.sent += b.sent();
    for (const t of b.media.received.values()) {
      s.packets += t.packets;
      s.bytes += t.bytes;
      s.lost += t.lost;
      s.subscribedTracks++;
      for (let i = 0; i < t.latencies.length; i += Math.max(1, Math.floor(t.latencies.length / 200))) s.latencies.push(t.latencies[i]!);
    }
    s.errors.push(...b.media.errors.slice(0, 2));
  }
  s.errors = s.errors.slice(0, 5);
  return s;
}

async function startOne(url: string, spec: BotSpec, janus: JanusTarget | undefined): Promise<AnyBot> {
  if (janus) {
    const bot = new JanusBot(spec.identity, janus.base, janus.bindAddress);
    try {
      if (spec.publish) feeds.push(await bot.publish(janus.room, spec.publish));
      // Nothing to subscribe to (the idle scenario): connected with a data channel only.
      else if (janus.feeds.length === 0) await bot.joinIdle(janus.room);
      else await bot.subscribe(janus.room, janus.feeds);
    } catch (err) {
      await bot.close();
      throw err;
    }
    return bot;
  }
  const bot = new Bot(spec.identity);
  try {
    await bot.join(url, spec.token);
    if (spec.publish) await bot.publish(spec.publish);
  } catch (err) {
    await bot.close();
    throw err;
  }
  return bot;
}

/**
 * Joins one bot, with one more try after a failure: about one connection in a few dozen does not
 * come up within the timeout on a loaded 2-core host, and a run should measure forwarding, not
 * abort on that. Retries are reported (`retries`), failures after the retry count as failed.
 */
async function startWithRetry(url: string, spec: BotSpec, janus: JanusTarget | undefined): Promise<void> {
  try {
    bots.push(await startOne(url, spec, janus));
  } catch (first) {
    retries++;
    errors.push(`retried ${spec.identity}: ${(first as Error).message}`);
    try {
      bots.push(await startOne(url, spec, janus));
    } catch (err) {
      failed++;
      errors.push(String((err as Error).message));
    }
  }
}

async function start(url: string, specs: BotSpec[], intervalMs: number, janus: JanusTarget | undefined): Promise<void> {
  const joins: Promise<void>[] = [];
  for (const spec of specs) {
    joins.push(startWithRetry(url, spec, janus));
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  await Promise.all(joins);
}

function reply(r: BotReply): void {
  process.send?.(r);
}

process.on('message', (m: BotCommand) => {
  if (m.cmd === 'start') void start(m.url, m.bots, m.joinIntervalMs, m.janus).then(() => reply({ kind: 'started', snapshot: snapshot() }));
  else if (m.cmd === 'snapshot') reply({ kind: 'snapshot', snapshot: snapshot() });
  else if (m.cmd === 'pli') for (const b of bots) b.media.sendPli();
  else if (m.cmd === 'stop') {
    void Promise.all(bots.map((b) => b.close())).then(() => {
      nodeDataChannel.cleanup();
      reply({ kind: 'stopped' });
      process.exit(0);
    });
  }
});
// The parent's disconnect (or death) ends this process too.
process.on('disconnect', () => process.exit(0));
