// `strand load-test`: LiveKit's `lk load-test` with Strand's bots (node-datachannel
// participants that publish synthetic audio and VP8 and measure what they receive), against any
// LiveKit-compatible server. Publishers join first, then subscribers; after the run, a table:
// tracks subscribed of those expected, bitrate, loss, one-way latency, and join time.
import { parseArgs } from 'node:util';
import nodeDataChannel from 'node-datachannel';
import { signToken } from '../main/auth/token-signer.js';
import { ConfigError } from '../main/config-error.js';
import { parseKeys } from '../main/config.js';
import { Bot } from './bot.js';
import { percentile } from './percentile.js';

export const LOAD_TEST_USAGE = `usage: strand load-test [--url ws://host:7880 --api-key K --api-secret S | --dev]
              [--room R] [--publishers 1] [--subscribers 5] [--video-resolution low|medium|high]
              [--no-audio] [--no-video] [--duration 10s]`;

/** Video bitrate per resolution, bit/s (as lk load-test's layers: 180p, 360p, 720p). */
const BITRATES: Record<string, number> = { low: 150_000, medium: 500_000, high: 1_700_000 };

export interface LoadTestResult {
  publishers: number;
  subscribers: number;
  tracksExpected: number;
  tracksSubscribed: number;
  seconds: number;
  mbitPerSecond: number;
  lossPercent: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  joinP50Ms: number;
  joinP99Ms: number;
  joinFailures: number;
}

function seconds(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(s|m)?$/.exec(text.trim());
  if (!m) throw new ConfigError(`--duration ${text}: use e.g. 30s or 2m`);
  return Number(m[1]) * (m[2] === 'm' ? 60 : 1);
}

export async function loadTestCommand(argv: string[], env: NodeJS.ProcessEnv, print: (line: string) => void): Promise<LoadTestResult> {
  const { values } = parseArgs({
    args: argv, strict: true,
    options: {
      url: { type: 'string' }, 'api-key': { type: 'string' }, 'api-secret': { type: 'string' }, dev: { type: 'boolean' },
      room: { type: 'string' }, publishers: { type: 'string' }, subscribers: { type: 'string' }, 'video-resolution': { type: 'string' },
      'no-audio': { type: 'boolean' }, 'no-video': { type: 'boolean' }, duration: { type: 'string' }, help: { type: 'boolean' },
    },
  });
  if (values.help) {
    print(LOAD_TEST_USAGE);
    process.exit(0);
  }
  const url = (values.url ?? env.LIVEKIT_URL ?? (values.dev ? 'ws://127.0.0.1:7880' : '')).replace(/^http/, 'ws');
  const [serverKey, serverSecret] = env.LIVEKIT_KEYS ? Object.entries(parseKeys(env.LIVEKIT_KEYS))[0] ?? [] : [];
  const key = values['api-key'] ?? env.LIVEKIT_API_KEY ?? serverKey ?? (values.dev ? 'devkey' : '');
  const secret = values['api-secret'] ?? env.LIVEKIT_API_SECRET ?? serverSecret ?? (values.dev ? 'secret' : '');
  if (!url || !key || !secret) throw new ConfigError(`give --url, --api-key and --api-secret (or LIVEKIT_URL, LIVEKIT_API_KEY, LIVEKIT_API_SECRET), or --dev\n\n${LOAD_TEST_USAGE}`);
  const publishers = Number(values.publishers ?? 1);
  const subscribers = Number(values.subscribers ?? 5);
  const resolution = values['video-resolution'] ?? 'high';
  const bitrate = BITRATES[resolution];
  if (bitrate === undefined) throw new ConfigError(`--video-resolution ${resolution}: use low, medium or high`);
  if (!Number.isInteger(publishers) || !Number.isInteger(subscribers) || publishers < 0 || subscribers < 0 || publishers + subscribers === 0) {
    throw new ConfigError('--publishers and --subscribers are counts (at least one participant)');
  }
  const audio = !values['no-audio'];
  const video = !values['no-video'];
  const duration = seconds(values.duration ?? '10s');
  const room = values.room ?? `load-test-${Date.now()}`;
  const token = (identity: string, canPublish: boolean) => signToken(key, secret, { identity, video: { roomJoin: true, room, canPublish, canSubscribe: true } }, 3600);

  print(`load test: ${publishers} publisher(s), ${subscribers} subscriber(s) in room ${room} at ${url}, ${resolution} video (${bitrate / 1000} kbit/s), ${duration} s`);
  const bots: Bot[] = [];
  let failures = 0;
  try {
    for (let i = 0; i < publishers; i++) {
      const bot = new Bot(`publisher-${i}`);
      bots.push(bot);
      await bot.join(url, token(bot.identity, true));
      await bot.publish({ audio, video, videoBitrate: bitrate });
    }
    await Promise.all(Array.from({ length: subscribers }, async (_, i) => {
      const bot = new Bot(`subscriber-${i}`);
      bots.push(bot);
      try {
        await bot.join(url, token(bot.identity, false));
      } catch (err) {
        failures++;
        print(`  ${bot.identity}: ${(err as Error).message}`);
      }
    }));
    // Tracks settle (subscriptions, first keyframes) before the window.
    await new Promise((r) => setTimeout(r, 2000));
    const snapshot = () => bots.flatMap((b) => [...b.received.values()].map((t) => ({ packets: t.packets, bytes: t.bytes, lost: t.lost })));
    const before = snapshot();
    const sum = (list: Array<{ packets: number; bytes: number; lost: number }>, k: 'packets' | 'bytes' | 'lost') => list.reduce((n, t) => n + t[k], 0);
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, duration * 1000));
    const window = (performance.now() - t0) / 1000;
    const after = snapshot();
    const packets = sum(after, 'packets') - sum(before, 'packets');
    const lost = sum(after, 'lost') - sum(before, 'lost');
    const latencies = bots.flatMap((b) => [...b.received.values()].flatMap((t) => t.latencies)).sort((a, b) => a - b);
    const joins = bots.filter((b) => b.joinMs >= 0).map((b) => b.joinMs).sort((a, b) => a - b);
    const perPublisher = (audio ? 1 : 0) + (video ? 1 : 0);
    // Everyone receives every publisher but itself.
    const expected = perPublisher * publishers * (publishers - 1 + subscribers);
    const result: LoadTestResult = {
      publishers, subscribers, tracksExpected: expected, tracksSubscribed: after.length, seconds: window,
      mbitPerSecond: ((sum(after, 'bytes') - sum(before, 'bytes')) * 8) / window / 1e6,
      lossPercent: packets + lost > 0 ? (100 * lost) / (packets + lost) : 0,
      latencyP50Ms: percentile(latencies, 50), latencyP99Ms: percentile(latencies, 99),
      joinP50Ms: percentile(joins, 50), joinP99Ms: percentile(joins, 99), joinFailures: failures,
    };
    const rows: Array<[string, string]> = [
      ['tracks', `${result.tracksSubscribed}/${result.tracksExpected}`],
      ['bitrate', `${result.mbitPerSecond.toFixed(2)} Mbit/s`],
      ['packet loss', `${result.lossPercent.toFixed(2)} %`],
      ['latency p50 / p99', `${result.latencyP50Ms.toFixed(1)} / ${result.latencyP99Ms.toFixed(1)} ms`],
      ['join p50 / p99', `${Math.round(result.joinP50Ms)} / ${Math.round(result.joinP99Ms)} ms`],
      ['join failures', String(failures)],
    ];
    const w = Math.max(...rows.map(([k]) => k.length));
    print('');
    for (const [k, v] of rows) print(`${k.padEnd(w)}  ${v}`);
    return result;
  } finally {
    await Promise.allSettled(bots.map((b) => b.close()));
    // libdatachannel's threads go only with its cleanup, once the connections reported closed.
    await new Promise((r) => setTimeout(r, 500));
    try {
      nodeDataChannel.cleanup();
    } catch {
      // a timed-out cleanup: the process exits anyway (cli.ts)
    }
  }
}
