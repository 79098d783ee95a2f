// `npm run bench -- overload [--duration 10]`: a room of one publishing bot (audio and 1.5 Mbit/s
// video) and five subscribing bots, measured for a calm window and then for a window in which
// one more participant (@livekit/rtc-node, in a process of its own: flooder-process.ts) floods
// the room with 1 kB data packets as fast as it can and a raw signal client floods pings.
// Strand runs with its default limits. Loss and one-way latency of the bots' media in each
// window show what the flood costs everyone else; the drop counters show that the flooders
// were cut to their limits.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { setPriority } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { Bot } from '../src/loadtest/bot.js';
import { percentile } from '../src/loadtest/percentile.js';
import { scrapeMetrics, total } from '../test/helpers/prometheus-text.js';
import { startStrand } from '../test/helpers/strand-process.js';
import { devToken } from './measure.js';

export interface OverloadWindow {
  phase: 'calm' | 'flood';
  seconds: number;
  lossPercent: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  /** Data packets the flooder sent, and Strand's drop counters over the window. */
  floodSent: number;
  dataDropped: number;
  signalSent: number;
  signalDropped: number;
}

async function metric(httpUrl: string, name: string): Promise<number> {
  return total(await scrapeMetrics(httpUrl, { signal: AbortSignal.timeout(5000) }), name);
}

export async function runOverload(opts: { seconds: number }): Promise<OverloadWindow[]> {
  const strand = await startStrand({ workers: 1 });
  const room = `overload-${Date.now()}`;
  const bots: Bot[] = [];
  let flooder: ChildProcess | null = null;
  try {
    const publisher = new Bot('publisher');
    bots.push(publisher);
    await publisher.join(strand.url, await devToken({ roomJoin: true, room, canPublish: true }, publisher.identity));
    await publisher.publish({ audio: true, video: true, videoBitrate: 1_500_000 });
    for (let i = 0; i < 5; i++) {
      const bot = new Bot(`subscriber-${i}`);
      bots.push(bot);
      await bot.join(strand.url, await devToken({ roomJoin: true, room, canPublish: false }, bot.identity));
    }
    const child = spawn(process.execPath, [new URL('./flooder-process.js', import.meta.url).pathname, strand.url,
      await devToken({ roomJoin: true, room }, 'flooder'), await devToken({ roomJoin: true, room }, 'signal-flooder'), String(opts.seconds)],
    { stdio: ['pipe', 'pipe', 'inherit'] });
    flooder = child;
    // The flooder stands for a client elsewhere: its own busy loop is not the server's load, so
    // on a small benchmark host it runs at the lowest priority and takes the CPU that Strand
    // and the measuring bots leave. (It still sends more than the default limit lets through.)
    if (child.pid !== undefined) setPriority(child.pid, 19);
    let out = '';
    child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
    while (!out.includes('ready\n')) await sleep(100);
    await sleep(3000);

    const windows: OverloadWindow[] = [];
    for (const phase of ['calm', 'flood'] as const) {
      const tracks = bots.flatMap((b) => [...b.received.values()]);
      for (const t of tracks) t.latencies = [];
      const before = tracks.map((t) => ({ packets: t.packets, lost: t.lost }));
      const dataDropped0 = await metric(strand.httpUrl, 'strand_data_packets_dropped_total');
      const signalDropped0 = await metric(strand.httpUrl, 'strand_signal_messages_dropped_total');
      const t0 = performance.now();
      let floodSent = 0;
      let signalSent = 0;
      if (phase === 'flood') {
        child.stdin!.write('go\n');
        await Promise.race([once(child, 'exit'), sleep((opts.seconds + 10) * 1000)]);
        const counts = JSON.parse(out.split('\n').filter((l) => l.startsWith('{')).pop() ?? '{}') as { dataSent?: number; signalSent?: number };
        floodSent = counts.dataSent ?? 0;
        signalSent = counts.signalSent ?? 0;
      } else {
        await sleep(opts.seconds * 1000);
      }
      const seconds = (performance.now() - t0) / 1000;
      const after = bots.flatMap((b) => [...b.received.values()]);
      let packets = 0;
      let lost = 0;
      after.forEach((t, i) => {
        packets += t.packets - (before[i]?.packets ?? 0);
        lost += t.lost - (before[i]?.lost ?? 0);
      });
      const latencies = after.flatMap((t) => t.latencies).sort((a, b) => a - b);
      windows.push({
        phase, seconds, lossPercent: packets + lost > 0 ? (100 * lost) / (packets + lost) : 0,
        latencyP50Ms: percentile(latencies, 50), latencyP99Ms: percentile(latencies, 99),
        floodSent, dataDropped: (await metric(strand.httpUrl, 'strand_data_packets_dropped_total')) - dataDropped0,
        signalSent, signalDropped: (await metric(strand.httpUrl, 'strand_signal_messages_dropped_total')) - signalDropped0,
      });
    }
    return windows;
  } finally {
    flooder?.kill();
    await Promise.race([Promise.allSettled(bots.map((b) => b.close())), sleep(5000)]);
    await strand.stop();
  }
}
