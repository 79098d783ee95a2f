// One ingress running on an ingress worker: an ffmpeg child transcoding its input (FLV from
// the RTMP connection on stdin, or a URL it pulls) into RTP streams, and the outputs that put
// those streams into the media worker's ring. RTMP input is held back until it is known which
// kinds it carries (its metadata says so, or the first tags show it): ffmpeg fails on an
// output without a stream, so only the outputs the input can feed are created.
import { randomInt } from 'node:crypto';
import { FFPROBE, FfmpegProcess, runTool } from '../ffmpeg/ffmpeg-process.js';
import type { RingWriter } from '../ring-channel.js';
import type { IngressEvent, IngressJob, SessionOutcome, StartedTrack } from './ingress-protocol.js';
import { FLV_HEADER, flvTag, metadataKinds, scriptBody, type StreamKinds } from './rtmp/flv.js';
import { MSG_AUDIO, MSG_DATA_AMF0, MSG_VIDEO } from './rtmp/rtmp-chunks.js';
import { RtpOutput } from './rtp-output.js';
import { H264_FMTP, parseInputStreams, transcodeArgs, type RtpTarget, type TranscodeInput } from './transcode-args.js';

/** Without metadata, how long the first media tags are watched for the other kind, ms. */
const SNIFF_MS = 1000;
/** RTMP input held before the transcoder starts, at most (bytes); more is a broken stream. */
const MAX_HELD_BYTES = 4 * 1024 * 1024;
/** Rids by layer count, lowest first, after LiveKit's qualities (two layers: LOW and HIGH). */
const RIDS: Record<number, string[]> = { 1: [], 2: ['q', 'f'], 3: ['q', 'h', 'f'] };

export interface SessionHost {
  writerTo(mediaSlot: number): RingWriter;
  nextRelayId(): number;
  emit(e: IngressEvent): void;
  /** The session has ended and reported it. */
  forget(session: IngressSession): void;
}

export class IngressSession {
  private ffmpeg: FfmpegProcess | null = null;
  private readonly outputs: RtpOutput[] = [];
  private kinds: StreamKinds | null = null;
  private held: Buffer[] = [];
  private heldBytes = 0;
  private seen: StreamKinds = { audio: false, video: false };
  private sniffTimer: NodeJS.Timeout | null = null;
  private ended = false;
  private stopping = false;
  /** Why the session is being ended as failed (its ffmpeg is stopping). */
  private failure: string | null = null;
  private inputDescribed = false;
  /** RTMP: the connection to pause while ffmpeg's stdin is full. */
  flowControl: { pause(): void; resume(): void } | null = null;

  constructor(readonly job: IngressJob, private readonly input: TranscodeInput, private readonly host: SessionHost) {}

  get ingressId(): string {
    return this.job.ingressId;
  }

  get packetsOut(): number {
    let n = 0;
    for (const o of this.outputs) n += o.packets;
    return n;
  }

  /** URL input: what the URL carries, then the transcoder. */
  async startUrl(): Promise<void> {
    if (this.input.kind !== 'url') throw new Error('not a URL ingress');
    let kinds: StreamKinds;
    try {
      const out = await runTool(FFPROBE, ['-v', 'error', '-show_entries', 'stream=codec_type', '-of', 'csv=p=0', this.input.url], 20_000);
      const types = out.split('\n').map((l) => l.trim());
      kinds = { audio: types.includes('audio'), video: types.includes('video') };
    } catch (err) {
      this.end('failed', `cannot read ${this.input.url}: ${(err as Error).message.split('\n').slice(-2).join(' ')}`);
      return;
    }
    if (!kinds.audio && !kinds.video) {
      this.end('failed', `${this.input.url} has no audio or video stream`);
      return;
    }
    await this.startTranscoder(kinds);
  }

  /** RTMP: one media message of the accepted stream. */
  onMedia(type: number, timestamp: number, payload: Buffer): void {
    if (this.ended || this.stopping) return;
    const body = type === MSG_DATA_AMF0 ? scriptBody(payload) : payload;
    const tag = flvTag(type, timestamp, body);
    if (this.kinds === null) {
      this.hold(tag);
      if (type === MSG_DATA_AMF0) {
        const announced = metadataKinds(body);
        if (announced && (announced.audio || announced.video)) void this.startTranscoder(announced);
        return;
      }
      if (type === MSG_AUDIO) this.seen.audio = true;
      if (type === MSG_VIDEO) this.seen.video = true;
      if (this.seen.audio && this.seen.video) void this.startTranscoder(this.seen);
      else this.sniffTimer ??= setTimeout(() => void this.startTranscoder(this.seen), SNIFF_MS);
      return;
    }
    if (this.ffmpeg === null) {
      this.hold(tag);
      return;
    }
    this.writeInput(tag);
  }

  private hold(tag: Buffer): void {
    this.held.push(tag);
    this.heldBytes += tag.length;
    if (this.heldBytes > MAX_HELD_BYTES) void this.fail('the stream sent 4 MiB before its first audio or video could be told apart');
  }

  private writeInput(tag: Buffer): void {
    const stdin = this.ffmpeg?.stdin;
    if (!stdin) return;
    if (!stdin.write(tag) && this.flowControl) {
      const fc = this.flowControl;
      fc.pause();
      stdin.once('drain', () => fc.resume());
    }
  }

  private async startTranscoder(kinds: StreamKinds): Promise<void> {
    if (this.kinds !== null || this.ended) return;
    this.kinds = { ...kinds };
    if (this.sniffTimer) clearTimeout(this.sniffTimer);
    const { job } = this;
    const writer = this.host.writerTo(job.mediaSlot);
    let audioTarget: RtpTarget | null = null;
    let videoTargets: RtpTarget[] = [];
    try {
      if (kinds.video) {
        const spec = job.transcode.video;
        const h264 = spec.codec === 'h264';
        videoTargets = await this.openTrack(writer, {
          kind: 'video', relayId: this.host.nextRelayId(), mimeType: h264 ? 'video/H264' : 'video/VP8', clockRate: 90_000, channels: undefined,
          fmtp: h264 ? H264_FMTP : undefined, layers: spec.layers, rids: RIDS[spec.layers.length] ?? [],
        });
      }
      if (kinds.audio) {
        const spec = job.transcode.audio;
        [audioTarget] = await this.openTrack(writer, {
          kind: 'audio', relayId: this.host.nextRelayId(), mimeType: 'audio/opus', clockRate: 48_000, channels: 2,
          fmtp: `minptime=10;useinbandfec=1${spec.channels === 2 ? ';stereo=1;sprop-stereo=1' : ''}`,
          layers: [{ width: 0, height: 0, bitrate: spec.bitrate }], rids: [],
        });
      }
    } catch (err) {
      this.end('failed', `cannot open the transcoder's RTP sockets: ${(err as Error).message}`);
      return;
    }
    if (this.ended || this.stopping) {
      for (const o of this.outputs) o.close(); // some opened after a stop ended the session
      this.end(this.failure !== null ? 'failed' : 'stopped', this.failure ?? '');
      return;
    }
    const args = transcodeArgs(this.input, kinds, job.transcode, { audio: audioTarget, video: videoTargets });
    const ffmpeg = new FfmpegProcess(args);
    this.ffmpeg = ffmpeg;
    if (this.input.kind === 'pipe') {
      ffmpeg.stdin?.write(FLV_HEADER);
      for (const tag of this.held) this.writeInput(tag);
    }
    this.held = [];
    this.heldBytes = 0;
    void ffmpeg.exited.then((exit) => {
      if (this.failure !== null) this.end('failed', this.failure);
      else if (exit.stopped || this.stopping) this.end('stopped', '');
      else if (exit.code === 0) this.end(this.input.kind === 'url' ? 'eof' : 'disconnected', '');
      else this.end('failed', `ffmpeg exited ${exit.code ?? exit.signal}: ${ffmpeg.errorSummary()}`);
    });
  }

  /** One output per layer of `track`, bound; the track is announced at its first packet. */
  private async openTrack(writer: RingWriter, track: StartedTrack): Promise<RtpTarget[]> {
    let announced = false;
    const announce = () => {
      if (announced || this.ended) return;
      announced = true;
      this.host.emit({ ev: 'track', ingressId: this.ingressId, track });
      this.describeInput();
    };
    const onError = (err: Error) => this.host.emit({ ev: 'error', where: `ingress.udp ${this.ingressId}`, message: err.message });
    const targets: RtpTarget[] = [];
    for (let layer = 0; layer < track.layers.length; layer++) {
      const out = new RtpOutput(writer, track.relayId, layer, randomInt(1, 2 ** 31), announce, onError);
      this.outputs.push(out); // closed by end(), also if it fails to open
      targets.push(await out.open());
    }
    return targets;
  }

  private describeInput(): void {
    if (this.inputDescribed || !this.ffmpeg) return;
    this.inputDescribed = true;
    this.host.emit({ ev: 'input', ingressId: this.ingressId, input: parseInputStreams(this.ffmpeg.stderr) });
  }

  /** RTMP: the encoder is gone (or stopped publishing): ffmpeg finishes what it was given. */
  inputEnded(): void {
    if (this.ended) return;
    if (this.ffmpeg === null) {
      this.end('disconnected', '');
      return;
    }
    this.ffmpeg.stdin?.end();
  }

  private async fail(reason: string): Promise<void> {
    if (this.ended || this.failure !== null) return;
    this.failure = reason;
    this.stopping = true;
    if (this.ffmpeg) await this.ffmpeg.stop(1000, 3000, this.input.kind === 'pipe');
    // Not started yet: end now. Starting (sockets opening): startTranscoder ends it after.
    else if (this.kinds === null) this.end('failed', reason);
  }

  /** DeleteIngress, shutdown: ends the session now. */
  async stop(): Promise<void> {
    if (this.ended) return;
    this.stopping = true;
    if (this.ffmpeg) await this.ffmpeg.stop(1000, 3000, this.input.kind === 'pipe');
    this.end('stopped', '');
  }

  private end(outcome: SessionOutcome, error: string): void {
    if (this.ended) return;
    this.ended = true;
    if (this.sniffTimer) clearTimeout(this.sniffTimer);
    for (const o of this.outputs) o.close();
    this.ffmpeg?.kill();
    this.host.emit({ ev: 'ended', ingressId: this.ingressId, outcome, error });
    this.host.forget(this);
  }
}
