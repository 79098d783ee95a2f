// `npm run bench -- churn --cycles 10 --participants 20`: K cycles of N node-datachannel bots
// joining one room, a fifth of them publishing audio and video, everyone subscribing, then all
// leaving. After each cycle, once the room has closed: the process's RSS and the V8 heap of the
// main thread and of each media worker (after a collection: Strand runs with --expose-gc), and
// what the workers still hold. Memory that participants leave behind shows as a rising line.
import { setTimeout as sleep } from 'node:timers/promises';
import { Bot } from '../src/loadtest/bot.js';
import { startStrand } from '../test/helpers/strand-process.js';
import type { ThreadMemory } from '../src/workers/protocol.js';
import { devToken } from './measure.js';
import { writeLineChart } from './plot.js';

export interface ChurnCycle {
  cycle: number;
  rssMiB: number;
  mainHeapMiB: number;
  workerHeapMiB: number[];
  /**
   * What the workers and the main thread still hold after the cycle (all should be 0); native
   * objects are counted beyond what each worker held idle (its ICE port hold).
   */
  leftOver: { rooms: number; workerParticipants: number; workerRooms: number; nativeHeld: number };
  joinFailures: number;
}

interface MemoryReport { rssBytes: number; mainHeapUsedBytes: number; rooms: number; workers: ThreadMemory[] }

const MiB = 1024 * 1024;
const HOLD_MS = 3000;

export async function runChurn(opts: { cycles: number; participants: number; workers: number }): Promise<ChurnCycle[]> {
  const strand = await startStrand({
    workers: opts.workers, nodeArgs: ['--expose-gc'],
    args: ['--config-body', 'room: { departure_timeout: 1, empty_timeout: 1 }'],
  });
  const memory = async (): Promise<MemoryReport> => (await fetch(`${strand.httpUrl}/debug/memory`)).json() as Promise<MemoryReport>;
  const out: ChurnCycle[] = [];
  try {
    const idle = (await memory()).workers.map((w) => w.nativeHeld);
    const nativeLeft = (m: MemoryReport) => m.workers.reduce((n, w, i) => n + Math.max(0, w.nativeHeld - (idle[i] ?? 0)), 0);
    const publishers = Math.max(1, Math.round(opts.participants / 5));
    for (let cycle = 1; cycle <= opts.cycles; cycle++) {
      const room = `churn-${cycle}`;
      const bots = Array.from({ length: opts.participants }, (_, i) => new Bot(`${i < publishers ? 'pub' : 'sub'}-${cycle}-${i}`));
      let joinFailures = 0;
      await Promise.all(bots.map(async (bot) => {
        try {
          await bot.join(strand.url, await devToken({ roomJoin: true, room, canPublish: true, canSubscribe: true }, bot.identity));
        } catch {
          joinFailures++;
        }
      }));
      await Promise.all(bots.slice(0, publishers).map((bot) => bot.publish({ audio: true, video: true }).catch(() => { joinFailures++; })));
      await sleep(HOLD_MS);
      await Promise.all(bots.map((bot) => bot.close()));
      // The room closes 1 s after its last participant (departure_timeout), then settles.
      const deadline = Date.now() + 15_000;
      let m = await memory();
      while ((m.rooms > 0 || m.workers.some((w) => w.participants > 0) || nativeLeft(m) > 0) && Date.now() < deadline) {
        await sleep(500);
        m = await memory();
      }
      await sleep(1000);
      m = await memory();
      const c: ChurnCycle = {
        cycle,
        rssMiB: m.rssBytes / MiB,
        mainHeapMiB: m.mainHeapUsedBytes / MiB,
        workerHeapMiB: m.workers.map((w) => w.heapUsedBytes / MiB),
        leftOver: {
          rooms: m.rooms,
          workerParticipants: m.workers.reduce((n, w) => n + w.participants, 0),
          workerRooms: m.workers.reduce((n, w) => n + w.rooms, 0),
          nativeHeld: nativeLeft(m),
        },
        joinFailures,
      };
      out.push(c);
      console.log(`cycle ${String(cycle).padStart(2)}: RSS ${c.rssMiB.toFixed(1)} MiB, main heap ${c.mainHeapMiB.toFixed(1)} MiB, `
        + `worker heaps ${c.workerHeapMiB.map((h) => h.toFixed(1)).join(' / ')} MiB, left over ${JSON.stringify(c.leftOver)}, join failures ${joinFailures}`);
    }
  } finally {
    await strand.stop();
  }
  return out;
}

/** RSS and heaps per cycle, as an SVG chart. */
export function plotChurn(cycles: ChurnCycle[], participants: number, file: string): void {
  const series = new Map<string, Array<[number, number]>>([
    ['RSS', cycles.map((c) => [c.cycle, c.rssMiB])],
    ['main heap', cycles.map((c) => [c.cycle, c.mainHeapMiB])],
  ]);
  cycles[0]?.workerHeapMiB.forEach((_, i) => series.set(`worker ${i} heap`, cycles.map((c) => [c.cycle, c.workerHeapMiB[i]!])));
  writeLineChart({ title: `churn: MiB after each cycle of ${participants} participants`, xLabel: 'cycle', series, xStep: 5 }, file);
}
