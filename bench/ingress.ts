// What ingress costs, and how late it is. Strand in its own process with an `ingress` section:
// 1. RTMP (transcoded): N ffmpeg encoders on this machine push a 640×360 30 fps test pattern
//    with a tone; Strand transcodes each into VP8 (640×360 + 320×180) and Opus. CPU of Strand
//    and of its ffmpeg transcoders per ingress-second (the encoders are not Strand's and are
//    not counted).
// 2. WHIP (passthrough): N Chromium pages post their fake camera and microphone; Strand's CPU
//    per ingress-second (Chromium's encoding is the client's, not counted).
// 3. Latency: each RTMP encoder burns its wall clock (ms, 24 bits as black and white blocks)
//    into the top of every frame; an @livekit/rtc-node subscriber decodes the ingress video and
//    reads it back: the time from the encoder's frame to the subscriber's decoded frame.
import { spawn, type ChildProcess } from 'node:child_process';
import { Room, RoomEvent, TrackKind, VideoBufferType, VideoStream, type RemoteTrack } from '@livekit/rtc-node';
import { IngressClient, IngressInput, type IngressInfo } from 'livekit-server-sdk';
import { launchBrowser } from '../test/helpers/browser.js';
import { startStrand, type StrandProcess } from '../test/helpers/strand-process.js';
import { DEV_KEY, DEV_SECRET, joinToken } from '../test/helpers/tokens.js';
import { whipPublish } from '../test/helpers/whip.js';
import { cpuWithChildren, mediaPacketsIn } from './measure.js';

/** Bits of the burned-in clock, and the width of one block at 640 px. */
const CLOCK_BITS = 24;
const BLOCK_PX = 16;

export interface IngressCost {
  input: 'rtmp (transcoded)' | 'whip (passthrough)';
  ingresses: number;
  seconds: number;
  strandCpuSeconds: number;
  transcoderCpuSeconds: number;
  /** RTP packets the media worker took in per second (the ingress tracks). */
  packetsInPerSecond: number;
  /** (Strand + transcoders) CPU-seconds per ingress-second. */
  cpuPerIngressSecond: number;
}

export interface IngressLatency {
  /** From the first encoder's start to the subscriber's first decoded frame, ms. */
  firstFrameMs: number;
  samples: number;
  p50Ms: number;
  p90Ms: number;
  maxMs: number;
}


/**
 * An encoder pushing a test pattern with its wall clock burned into the top row of blocks. The
 * frame's time is set from the wall clock (RTCTIME, ms mod 2^24) as it leaves the paced source;
 * geq draws it into a strip that replaces the top 16 rows (vstack: overlay's frame sync lost
 * the per-frame time here), then the timestamps are made regular again for the encoder.
 */
function clockPusher(url: string, seconds: number): ChildProcess {
  const strip = CLOCK_BITS * BLOCK_PX;
  const code = `geq=lum='255*mod(floor(T*1000/pow(2\\,floor(X/${BLOCK_PX})))\\,2)':cb=128:cr=128`;
  const graph = `[0:v]settb=1/1000,setpts=mod(floor(RTCTIME/1000)\\,${2 ** CLOCK_BITS}),split[m][c];`
    + `[c]crop=${strip}:${BLOCK_PX}:0:0,${code},pad=640:${BLOCK_PX}[clock];[m]crop=640:${360 - BLOCK_PX}:0:${BLOCK_PX}[rest];`
    + '[clock][rest]vstack,setpts=N/(30*TB)[v]';
  return spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-nostdin', '-re', '-f', 'lavfi', '-i', 'testsrc=size=640x360:rate=30',
    '-f', 'lavfi', '-i', 'sine=sample_rate=48000:frequency=440', '-t', String(seconds), '-filter_complex', graph, '-map', '[v]', '-map', '1:a',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-pix_fmt', 'yuv420p', '-g', '30', '-c:a', 'aac', '-f', 'flv', url], { stdio: 'ignore' });
}

/** The clock a decoded I420 frame carries (ms mod 2^24), read at the centre of each block. */
export function readClock(luma: Uint8Array, width: number): number {
  const scale = width / 640;
  const y = Math.floor((BLOCK_PX / 2) * scale);
  let v = 0;
  for (let bit = 0; bit < CLOCK_BITS; bit++) {
    const x = Math.floor((bit * BLOCK_PX + BLOCK_PX / 2) * scale);
    if (luma[y * width + x]! > 128) v += 2 ** bit;
  }
  return v;
}

function quantile(sorted: number[], q: number): number {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}


async function measure(strand: StrandProcess, seconds: number): Promise<{ own: number; children: number; seconds: number; packetsPerSecond: number }> {
  const pid = strand.child.pid!;
  const c0 = cpuWithChildren(pid);
  const p0 = await mediaPacketsIn(strand.httpUrl);
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const c1 = cpuWithChildren(pid);
  const p1 = await mediaPacketsIn(strand.httpUrl);
  const elapsed = (performance.now() - t0) / 1000;
  return { own: c1.own - c0.own, children: c1.children - c0.children, seconds: elapsed, packetsPerSecond: (p1 - p0) / elapsed };
}

/** Subscribes to `room` with rtc-node and collects clock latencies from its video frames. */
async function latencySubscriber(strand: StrandProcess, room: string, latencies: number[], firstFrame: { at: number }): Promise<Room> {
  const sub = new Room();
  sub.on(RoomEvent.TrackSubscribed, (track: RemoteTrack) => {
    if (track.kind !== TrackKind.KIND_VIDEO) return;
    void (async () => {
      for await (const { frame } of new VideoStream(track)) {
        if (firstFrame.at === 0) firstFrame.at = performance.now();
        const f = frame.type === VideoBufferType.I420 ? frame : frame.convert(VideoBufferType.I420);
        const sent = readClock(f.data, f.width);
        const lag = (Date.now() % 2 ** CLOCK_BITS - sent + 2 ** CLOCK_BITS) % 2 ** CLOCK_BITS;
        if (lag < 10_000) latencies.push(lag);
      }
    })().catch(() => undefined);
  });
  await sub.connect(strand.url, await joinToken(room, 'latency-probe'), { autoSubscribe: true, dynacast: false });
  return sub;
}

export async function runIngressBench(opts: { ingresses: number; seconds: number; onProgress: (line: string) => void }): Promise<{ costs: IngressCost[]; latency: IngressLatency }> {
  const strand = await startStrand({ workers: 1, args: ['--config-body', 'ingress: { rtmp_base_url: "rtmp://127.0.0.1:0/live", max_concurrent: 64 }'] });
  const client = new IngressClient(strand.httpUrl, DEV_KEY, DEV_SECRET);
  const costs: IngressCost[] = [];
  const latencies: number[] = [];
  const room = `bench-ingress-${Date.now()}`;
  const pushers: ChildProcess[] = [];
  let sub: Room | null = null;
  try {
    const idle = await measure(strand, 3);
    const idleRate = (idle.own + idle.children) / idle.seconds;
    opts.onProgress(`idle: ${idleRate.toFixed(3)} CPU-s/s`);

    // 1. RTMP, transcoded.
    const infos: IngressInfo[] = [];
    for (let i = 0; i < opts.ingresses; i++) {
      infos.push(await client.createIngress(IngressInput.RTMP_INPUT, {
        roomName: room, participantIdentity: `encoder-${i}`,
        video: { encodingOptions: { case: 'options', value: { videoCodec: 4, frameRate: 30, layers: [
          { width: 640, height: 360, bitrate: 700_000 }, { width: 320, height: 180, bitrate: 200_000 },
        ] } } } as never,
      }));
    }
    const firstFrame = { at: 0 };
    sub = await latencySubscriber(strand, room, latencies, firstFrame);
    const pushedAt = performance.now();
    for (const info of infos) pushers.push(clockPusher(`${info.url}/${info.streamKey}`, opts.seconds + 15));
    await new Promise((r) => setTimeout(r, 6000)); // transcoders up, subscriber receiving
    latencies.length = 0;
    const rtmp = await measure(strand, opts.seconds);
    costs.push({
      input: 'rtmp (transcoded)', ingresses: opts.ingresses, seconds: rtmp.seconds, strandCpuSeconds: rtmp.own, transcoderCpuSeconds: rtmp.children, packetsInPerSecond: rtmp.packetsPerSecond,
      cpuPerIngressSecond: (rtmp.own + rtmp.children - idleRate * rtmp.seconds) / (opts.ingresses * rtmp.seconds),
    });
    opts.onProgress(`rtmp: Strand ${rtmp.own.toFixed(2)} CPU-s, transcoders ${rtmp.children.toFixed(2)} CPU-s over ${rtmp.seconds.toFixed(1)} s; ${latencies.length} latency samples`);
    const samples = [...latencies].sort((a, b) => a - b);
    // The subscriber stays: the WHIP phase forwards to it as well.
    for (const p of pushers) p.kill('SIGKILL');
    for (const info of infos) await client.deleteIngress(info.ingressId);

    // 2. WHIP, passthrough, from Chromium.
    const browser = await launchBrowser();
    try {
      for (let i = 0; i < opts.ingresses; i++) {
        const info = await client.createIngress(IngressInput.WHIP_INPUT, { roomName: room, participantIdentity: `whip-${i}` });
        const page = await browser.newPage();
        const { status } = await whipPublish(page, info.url, info.streamKey);
        if (status !== 201) throw new Error(`WHIP publish answered ${status}`);
      }
      await new Promise((r) => setTimeout(r, 5000));
      const whip = await measure(strand, opts.seconds);
      costs.push({
        input: 'whip (passthrough)', ingresses: opts.ingresses, seconds: whip.seconds, strandCpuSeconds: whip.own, transcoderCpuSeconds: whip.children, packetsInPerSecond: whip.packetsPerSecond,
        cpuPerIngressSecond: (whip.own + whip.children - idleRate * whip.seconds) / (opts.ingresses * whip.seconds),
      });
      opts.onProgress(`whip: Strand ${whip.own.toFixed(2)} CPU-s over ${whip.seconds.toFixed(1)} s`);
    } finally {
      await browser.close();
    }
    return { costs, latency: { firstFrameMs: firstFrame.at > 0 ? Math.round(firstFrame.at - pushedAt) : -1, samples: samples.length, p50Ms: quantile(samples, 0.5), p90Ms: quantile(samples, 0.9), maxMs: samples[samples.length - 1] ?? 0 } };
  } finally {
    for (const p of pushers) p.kill('SIGKILL');
    await sub?.disconnect();
    await strand.stop();
  }
}
