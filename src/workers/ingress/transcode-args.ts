// The ffmpeg command line of an ingress transcoder: RTMP (FLV on stdin) or a URL in; Opus and
// VP8 or H.264 simulcast layers out, each as RTP to its own loopback port (RTP carries one
// stream per session), with the SSRC and payload type Strand chose.
import type { TranscodeSpec } from './ingress-protocol.js';
import type { StreamKinds } from './rtmp/flv.js';

export const AUDIO_PAYLOAD_TYPE = 111;
export const VIDEO_PAYLOAD_TYPE = 96;
/** What browsers negotiate for H.264 baseline; ffmpeg's RTP packetizer uses FU-A (mode 1). */
export const H264_FMTP = 'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f';
/** RTP packets under the usual path MTU after SRTP and the tunnel overheads. */
const RTP_PACKET_SIZE = 1200;
/** Seconds between keyframes: ffmpeg's encoders cannot answer a PLI, so they come on a clock. */
export const KEYFRAME_INTERVAL_S = 2;

export type TranscodeInput = { kind: 'pipe' } | { kind: 'url'; url: string };

/** Where one RTP stream goes: its RTP and RTCP ports on 127.0.0.1, and its SSRC. */
export interface RtpTarget {
  rtpPort: number;
  rtcpPort: number;
  ssrc: number;
}

export interface TranscodeTargets {
  audio: RtpTarget | null;
  /** One per layer of the spec, lowest first (empty: no video). */
  video: RtpTarget[];
}

function rtpUrl(t: RtpTarget): string {
  return `rtp://127.0.0.1:${t.rtpPort}?rtcpport=${t.rtcpPort}&pkt_size=${RTP_PACKET_SIZE}`;
}

function inputArgs(input: TranscodeInput): string[] {
  if (input.kind === 'pipe') return ['-analyzeduration', '1000000', '-f', 'flv', '-i', 'pipe:0'];
  // -re: a file is published at its own pace, as a live source would send it.
  return ['-re', '-i', input.url];
}

function videoEncoder(spec: TranscodeSpec['video'], bitrate: number): string[] {
  const gop = String(Math.max(1, Math.round(spec.frameRate * KEYFRAME_INTERVAL_S)));
  const rate = String(bitrate);
  if (spec.codec === 'h264') {
    return ['-c:v', 'libx264', '-preset', spec.x264Preset, '-tune', 'zerolatency', '-profile:v', 'baseline', '-level:v', '3.1',
      '-b:v', rate, '-maxrate', rate, '-bufsize', rate, '-g', gop, '-keyint_min', gop, '-sc_threshold', '0', '-bf', '0', '-threads', '1'];
  }
  return ['-c:v', 'libvpx', '-deadline', 'realtime', '-cpu-used', '8', '-b:v', rate, '-maxrate', rate, '-bufsize', rate,
    '-g', gop, '-keyint_min', gop, '-auto-alt-ref', '0', '-lag-in-frames', '0', '-error-resilient', '1', '-threads', '1'];
}

export function transcodeArgs(input: TranscodeInput, kinds: StreamKinds, spec: TranscodeSpec, targets: TranscodeTargets): string[] {
  const args = ['-hide_banner', '-nostats', '-loglevel', 'info', ...inputArgs(input)];
  const layers = spec.video.layers;
  if (kinds.video && targets.video.length === layers.length && layers.length > 0) {
    const n = layers.length;
    const split = n > 1 ? `,split=${n}${layers.map((_, i) => `[s${i}]`).join('')}` : '[s0]';
    const scales = layers.map((l, i) =>
      `[s${i}]scale=${l.width}:${l.height}:force_original_aspect_ratio=decrease:force_divisible_by=2,format=yuv420p[v${i}]`);
    args.push('-filter_complex', `[0:v:0]fps=${spec.video.frameRate}${split};${scales.join(';')}`);
    layers.forEach((l, i) => {
      const t = targets.video[i]!;
      args.push('-map', `[v${i}]`, ...videoEncoder(spec.video, l.bitrate),
        '-payload_type', String(VIDEO_PAYLOAD_TYPE), '-ssrc', String(t.ssrc), '-f', 'rtp', rtpUrl(t));
    });
  }
  if (kinds.audio && targets.audio) {
    const t = targets.audio;
    args.push('-map', '0:a:0', '-c:a', 'libopus', '-b:a', String(spec.audio.bitrate), '-ac', String(spec.audio.channels), '-ar', '48000',
      '-frame_duration', '20', '-application', 'audio',
      '-payload_type', String(AUDIO_PAYLOAD_TYPE), '-ssrc', String(t.ssrc), '-f', 'rtp', rtpUrl(t));
  }
  return args;
}

/** What ffmpeg's stderr says about the first input's streams ("Stream #0:0: Video: h264 …, 640x360, … 30 fps"). */
export function parseInputStreams(stderr: string): { video?: { codec: string; width: number; height: number; frameRate: number }; audio?: { codec: string; sampleRate: number; channels: number } } {
  const out: ReturnType<typeof parseInputStreams> = {};
  const inputPart = stderr.split(/\nOutput #0/)[0] ?? '';
  const line = /Stream #0:\d+[^:]*: Video: [^\n]*/.exec(inputPart)?.[0] ?? '';
  const v = /Video: (\w+).*?, (\d{2,5})x(\d{2,5})/.exec(line);
  const fps = /, ([\d.]+) (?:fps|tbr)/.exec(line);
  if (v) out.video = { codec: v[1]!, width: Number(v[2]), height: Number(v[3]), frameRate: Number(fps?.[1] ?? 0) };
  const a = /Stream #0:\d+[^:]*: Audio: (\w+)[^\n]*?, (\d+) Hz, (mono|stereo|[\d.]+ channels|5\.1)/.exec(inputPart);
  if (a) out.audio = { codec: a[1]!, sampleRate: Number(a[2]), channels: a[3] === 'mono' ? 1 : a[3] === 'stereo' ? 2 : a[3] === '5.1' ? 6 : parseInt(a[3]!, 10) };
  return out;
}
