// What recording costs. Two parts:
// 1. The tap: Strand's forwarding path (Receiver → DownTracks, fan-out 10, real SRTP sends)
//    with and without each packet also written into an egress ring, packets per CPU-second of
//    the forwarding thread (the ring's reader, the egress worker, is not counted).
// 2. The recordings: Strand in its own process with Chromium publishers (livekit-client, mic +
//    camera each); CPU of Strand and its ffmpeg children with nothing recorded, with a track
//    egress on every track, and with one room composite (H264_720P_30): CPU per recorded
//    track-second, and Strand's own packets in per CPU-second with and without recording.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DirectFileOutput, EgressClient, EgressStatus, EncodedFileOutput, RoomServiceClient } from 'livekit-server-sdk';
import { launchBrowser } from '../test/helpers/browser.js';
import { connectRoom } from '../test/helpers/e2e.js';
import { startStrand } from '../test/helpers/strand-process.js';
import { DEV_KEY, DEV_SECRET, joinToken } from '../test/helpers/tokens.js';
import { runForwarding, type ForwardingResult } from './forwarding.js';
import { cpuWithChildren, mediaPacketsIn } from './measure.js';

const TAP_PAIRS = 4;

/** The median packets per CPU-second of the runs of `mode`. */
export function medianRate(runs: ForwardingResult[], mode: ForwardingResult['mode']): number {
  const v = runs.filter((r) => r.mode === mode).map((r) => r.packetsPerCpuSecond).sort((a, b) => a - b);
  if (v.length === 0) return 0;
  return v.length % 2 ? v[(v.length - 1) / 2]! : (v[v.length / 2 - 1]! + v[v.length / 2]!) / 2;
}

export interface RecordingCost {
  phase: 'idle' | 'track egress' | 'room composite';
  egresses: number;
  recordedTracks: number;
  seconds: number;
  /** Strand (all threads) and its ffmpeg children, CPU-seconds over the phase. */
  strandCpuSeconds: number;
  ffmpegCpuSeconds: number;
  /** RTP packets the media workers received per CPU-second of the Strand process. */
  packetsInPerStrandCpuSecond: number;
  /** (CPU with recording − CPU idle) per recorded track-second. */
  cpuPerTrackSecond: number;
}



export async function runEgressBench(opts: { publishers: number; seconds: number; onProgress: (line: string) => void }): Promise<{ tap: ForwardingResult[]; recordings: RecordingCost[] }> {
  // The difference is a few per cent and one run's noise is more: runs alternate (ABBAAB), each
  // on fresh connections, and the medians are compared.
  opts.onProgress(`tap: fan-out 10, 40000 packets at 4000/s, ${TAP_PAIRS} runs each with and without an egress ring, alternating`);
  const tap: ForwardingResult[] = [];
  for (let i = 0; i < TAP_PAIRS; i++) {
    for (const mode of (i % 2 === 0 ? ['sfu', 'sfu+tap'] : ['sfu+tap', 'sfu']) as Array<ForwardingResult['mode']>) {
      const [r] = await runForwarding(10, 40_000, 4000, [mode]);
      opts.onProgress(`  ${mode}: ${Math.round(r!.packetsPerCpuSecond)} packets per CPU-second`);
      tap.push(r!);
    }
  }

  const outDir = mkdtempSync(join(tmpdir(), 'strand-bench-egress-'));
  const strand = await startStrand({ workers: 1, args: ['--config-body', `egress: { file_output_dir: "${outDir}" }`] });
  const browser = await launchBrowser();
  const pid = strand.child.pid!;
  const recordings: RecordingCost[] = [];
  try {
    const room = `bench-egress-${Date.now()}`;
    for (let i = 0; i < opts.publishers; i++) {
      const page = await browser.newPage();
      await connectRoom(page, strand.url, await joinToken(room, `pub-${i}`));
      await page.evaluate(async () => {
        /* eslint-disable @typescript-eslint/no-explicit-any -- page-side code runs in the browser */
        const p = (globalThis as any).room.localParticipant;
        await p.setMicrophoneEnabled(true);
        await p.setCameraEnabled(true, { resolution: { width: 640, height: 360, frameRate: 30 } }, { simulcast: false });
      });
    }
    const rooms = new RoomServiceClient(strand.httpUrl, DEV_KEY, DEV_SECRET);
    const tracks = (await rooms.listParticipants(room)).flatMap((p) => p.tracks.map((t) => t.sid));
    const egress = new EgressClient(strand.httpUrl, DEV_KEY, DEV_SECRET);
    await new Promise((r) => setTimeout(r, 3000));

    const measure = async (phase: RecordingCost['phase'], egresses: number, recordedTracks: number, idle?: RecordingCost): Promise<RecordingCost> => {
      const c0 = cpuWithChildren(pid);
      const p0 = await mediaPacketsIn(strand.httpUrl);
      const t0 = performance.now();
      await new Promise((r) => setTimeout(r, opts.seconds * 1000));
      const seconds = (performance.now() - t0) / 1000;
      const c1 = cpuWithChildren(pid);
      const p1 = await mediaPacketsIn(strand.httpUrl);
      const strandCpu = c1.own - c0.own;
      const ffmpegCpu = c1.children - c0.children;
      const total = strandCpu + ffmpegCpu;
      const idleRate = idle ? (idle.strandCpuSeconds + idle.ffmpegCpuSeconds) / idle.seconds : 0;
      const r: RecordingCost = {
        phase, egresses, recordedTracks, seconds, strandCpuSeconds: strandCpu, ffmpegCpuSeconds: ffmpegCpu,
        packetsInPerStrandCpuSecond: strandCpu > 0 ? (p1 - p0) / strandCpu : 0,
        cpuPerTrackSecond: recordedTracks > 0 ? (total - idleRate * seconds) / (recordedTracks * seconds) : 0,
      };
      opts.onProgress(`  ${phase}: Strand ${strandCpu.toFixed(2)} CPU-s, ffmpeg ${ffmpegCpu.toFixed(2)} CPU-s over ${seconds.toFixed(1)} s`);
      return r;
    };
    const waitActive = async (ids: string[]) => {
      for (const id of ids) {
        for (let i = 0; i < 100; i++) {
          if ((await egress.listEgress({ egressId: id }))[0]?.status === EgressStatus.EGRESS_ACTIVE) break;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    };
    const stopAll = async (ids: string[]) => {
      for (const id of ids) await egress.stopEgress(id);
      for (let i = 0; i < 200 && (await egress.listEgress({ active: true })).length > 0; i++) await new Promise((r) => setTimeout(r, 100));
    };

    opts.onProgress(`recordings: ${opts.publishers} Chromium publishers (${tracks.length} tracks), ${opts.seconds} s per phase`);
    const idle = await measure('idle', 0, 0);
    recordings.push(idle);
    const trackIds = (await Promise.all(tracks.map((sid) => egress.startTrackEgress(room, new DirectFileOutput({ filepath: 'bench/{track_id}' }), sid)))).map((i) => i.egressId);
    await waitActive(trackIds);
    recordings.push(await measure('track egress', trackIds.length, tracks.length, idle));
    await stopAll(trackIds);
    const composite = await egress.startRoomCompositeEgress(room, { file: new EncodedFileOutput({ filepath: 'bench/composite' }) }, { layout: 'grid' });
    await waitActive([composite.egressId]);
    recordings.push(await measure('room composite', 1, tracks.length, idle));
    await stopAll([composite.egressId]);
  } finally {
    await browser.close();
    await strand.stop();
  }
  return { tap, recordings };
}
