// LiveKit's ingress encoding options resolved into what the transcoder makes: a preset (the
// default: H.264 baseline 720p30 in three layers, Opus stereo 96 kbps) or explicit options.
// Lower layers halve the size of the one above, and their bitrate follows LiveKit's rule:
// the top layer's times (area ratio)^0.75.
import { livekit } from '../../proto/index.js';
import { TwirpError } from '../api/twirp.js';
import type { LayerSpec, TranscodeSpec } from '../../workers/ingress/ingress-protocol.js';

const P = livekit.IngressVideoEncodingPreset;
/** Each preset's top layer, frame rate and layer count. */
const VIDEO_PRESETS: Record<number, { width: number; height: number; bitrate: number; fps: number; layers: number }> = {
  [P.H264_720P_30FPS_3_LAYERS]: { width: 1280, height: 720, bitrate: 1_900_000, fps: 30, layers: 3 },
  [P.H264_1080P_30FPS_3_LAYERS]: { width: 1920, height: 1080, bitrate: 3_500_000, fps: 30, layers: 3 },
  [P.H264_540P_25FPS_2_LAYERS]: { width: 960, height: 540, bitrate: 1_000_000, fps: 25, layers: 2 },
  [P.H264_720P_30FPS_1_LAYER]: { width: 1280, height: 720, bitrate: 1_900_000, fps: 30, layers: 1 },
  [P.H264_1080P_30FPS_1_LAYER]: { width: 1920, height: 1080, bitrate: 3_500_000, fps: 30, layers: 1 },
  [P.H264_720P_30FPS_3_LAYERS_HIGH_MOTION]: { width: 1280, height: 720, bitrate: 2_500_000, fps: 30, layers: 3 },
  [P.H264_1080P_30FPS_3_LAYERS_HIGH_MOTION]: { width: 1920, height: 1080, bitrate: 4_500_000, fps: 30, layers: 3 },
  [P.H264_540P_25FPS_2_LAYERS_HIGH_MOTION]: { width: 960, height: 540, bitrate: 1_300_000, fps: 25, layers: 2 },
  [P.H264_720P_30FPS_1_LAYER_HIGH_MOTION]: { width: 1280, height: 720, bitrate: 2_500_000, fps: 30, layers: 1 },
  [P.H264_1080P_30FPS_1_LAYER_HIGH_MOTION]: { width: 1920, height: 1080, bitrate: 4_500_000, fps: 30, layers: 1 },
};

/** The top layer and `count - 1` layers below it, each half the size of the one above; lowest first. */
export function simulcastLayers(top: LayerSpec, count: number): LayerSpec[] {
  const out: LayerSpec[] = [];
  for (let i = count - 1; i >= 0; i--) {
    const width = Math.max(2, (top.width >> i) & ~1);
    const height = Math.max(2, (top.height >> i) & ~1);
    const ratio = ((width * height) / (top.width * top.height)) ** 0.75;
    out.push({ width, height, bitrate: Math.round(top.bitrate * ratio) });
  }
  return out;
}

function videoSpec(opts: livekit.IIngressVideoOptions | null | undefined, x264Preset: string): TranscodeSpec['video'] {
  const options = opts?.options;
  if (options) {
    const codec = options.videoCodec ?? livekit.VideoCodec.DEFAULT_VC;
    if (codec !== livekit.VideoCodec.DEFAULT_VC && codec !== livekit.VideoCodec.H264_BASELINE && codec !== livekit.VideoCodec.VP8) {
      throw new TwirpError('invalid_argument', 'ingress video codec must be H264_BASELINE or VP8');
    }
    const layers = (options.layers ?? []).map((l) => ({ width: l.width ?? 0, height: l.height ?? 0, bitrate: l.bitrate ?? 0 }));
    if (layers.length === 0 || layers.length > 3) throw new TwirpError('invalid_argument', 'ingress video options need 1 to 3 layers');
    for (const l of layers) {
      if (l.width < 16 || l.height < 16 || l.width > 3840 || l.height > 2160 || l.bitrate <= 0) {
        throw new TwirpError('invalid_argument', `ingress video layer ${l.width}x${l.height} at ${l.bitrate} bit/s is out of range`);
      }
    }
    const frameRate = options.frameRate || 30;
    if (frameRate <= 0 || frameRate > 60) throw new TwirpError('invalid_argument', 'ingress video frame_rate must be in (0, 60]');
    layers.sort((a, b) => a.width * a.height - b.width * b.height);
    return { codec: codec === livekit.VideoCodec.VP8 ? 'vp8' : 'h264', frameRate, layers, x264Preset };
  }
  const preset = VIDEO_PRESETS[opts?.preset ?? P.H264_720P_30FPS_3_LAYERS];
  if (!preset) throw new TwirpError('invalid_argument', `unknown ingress video preset ${opts?.preset}`);
  return { codec: 'h264', frameRate: preset.fps, layers: simulcastLayers(preset, preset.layers), x264Preset };
}

function audioSpec(opts: livekit.IIngressAudioOptions | null | undefined): TranscodeSpec['audio'] {
  const options = opts?.options;
  if (options) {
    const codec = options.audioCodec ?? livekit.AudioCodec.DEFAULT_AC;
    if (codec !== livekit.AudioCodec.DEFAULT_AC && codec !== livekit.AudioCodec.OPUS) throw new TwirpError('invalid_argument', 'ingress audio codec must be OPUS');
    const bitrate = options.bitrate || 96_000;
    if (bitrate < 6000 || bitrate > 510_000) throw new TwirpError('invalid_argument', 'ingress audio bitrate must be 6000..510000');
    return { bitrate, channels: options.channels === 1 ? 1 : 2, dtx: !options.disableDtx };
  }
  if ((opts?.preset ?? 0) === livekit.IngressAudioEncodingPreset.OPUS_MONO_64KBS) return { bitrate: 64_000, channels: 1, dtx: true };
  return { bitrate: 96_000, channels: 2, dtx: true };
}

/** What an ingress transcodes to (throws invalid_argument on options it cannot honour). */
export function transcodeSpec(info: livekit.IIngressInfo, x264Preset: string): TranscodeSpec {
  return { video: videoSpec(info.video, x264Preset), audio: audioSpec(info.audio) };
}
