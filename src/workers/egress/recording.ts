// One running egress in an egress worker: its tracks, arriving from media workers' rings, and
// its outputs, each an ffmpeg child fed over loopback RTP. A video output starts on a keyframe
// (asked for until one comes), so every file and stream begins with a decodable picture.
import type { Socket } from 'node:dgram';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { CODEC_H264, CODEC_VP8, codecId, isKeyframe } from '../../rtp/keyframe.js';
import { RtpHeader, parseRtpHeader } from '../../rtp/packet.js';
import { FfmpegProcess, probeDuration, type FfmpegExit } from '../ffmpeg/ffmpeg-process.js';
import { freeRtpPort, rtpEncodingName, rtpInputSdp, waitUntilBound, type RtpStream } from '../ffmpeg/rtp-input.js';
import type { EgressEvent, EgressInput, EgressJob, EgressOutput, OutputResult } from './egress-protocol.js';
import { compositeArgs, copyArgs, hasSpeakerSwitch, inputLayout, speakerCommand } from './ffmpeg-args.js';
import { InputTail } from './input-tail.js';

/** Payload types the SDPs given to ffmpeg use (the publisher's own are rewritten to these). */
const VIDEO_PT = 96;
const AUDIO_PT = 111;
/** While stopping: an input quiet for this long gets a nudge packet, this often, ms. */
const NUDGE_INTERVAL_MS = 100;
/** A composite input quiet for this long is kept alive with nudge packets, ms. */
const COMPOSITE_QUIET_MS = 500;
/** How long an ffmpeg child may take to bind its input ports, ms. */
const FFMPEG_START_MS = 5000;
/** How often a keyframe is asked for while an output waits for one, ms. */
const KEYFRAME_RETRY_MS = 500;

/** One output: its ffmpeg child and where each input's packets go. */
class Sink {
  /** UDP port per input index (inputs this output does not use have none). */
  readonly ports = new Map<number, number>();
  /** Per input index: still waiting for the first keyframe. */
  readonly waiting = new Set<number>();
  /** Per input index: where the stream sent to this ffmpeg ended. */
  readonly tails = new Map<number, InputTail>();
  proc: FfmpegProcess | null = null;
  startedAtMs = 0;
  sdpPath = '';
  /** Removed by UpdateStream or stopped with the egress: its exit is not a failure. */
  retired = false;
  /** ffmpeg has bound its ports: packets may go. */
  ready = false;

  constructor(readonly output: EgressOutput) {}
}

export interface RecordingHost {
  readonly socket: Socket;
  requestKeyframe(input: EgressInput): void;
  emit(e: EgressEvent): void;
}

export class Recording {
  private readonly sinks: Sink[] = [];
  private readonly codecs: number[];
  private readonly lastKeyframeAskMs: number[];
  /** When each input's last packet came. */
  private readonly lastPacketMs: number[];
  private readonly header = new RtpHeader();
  private readonly workDir: string;
  private active = false;
  private keepalive: NodeJS.Timeout | null = null;
  /** The video shown large by the speaker layouts (index among the job's videos). */
  private speakerIndex = -1;
  private ending = false;
  private ended = false;
  packetsBeforeKeyframe = 0;
  packetsIn = 0;

  constructor(readonly job: EgressJob, private readonly host: RecordingHost) {
    this.codecs = job.inputs.map((i) => (i.kind === 'video' ? codecId(i.mimeType) : 0));
    this.lastKeyframeAskMs = job.inputs.map(() => 0);
    this.lastPacketMs = job.inputs.map(() => 0);
    this.workDir = join(tmpdir(), 'strand-egress', job.egressId);
    if (hasSpeakerSwitch(job)) {
      this.speakerIndex = Math.max(0, inputLayout(job).videos.findIndex((i) => job.inputs[i]!.participantIdentity === job.speakerIdentity));
    }
  }

  get childCount(): number {
    return this.sinks.filter((s) => s.proc?.running).length;
  }

  /** Starts one ffmpeg child per output; resolves once all are running. */
  async start(): Promise<void> {
    mkdirSync(this.workDir, { recursive: true });
    for (const output of this.job.outputs) await this.startSink(output);
    // A composite waits for a frame of every input: one whose track went quiet (a publisher
    // muted or left) is kept alive with its last picture and silence, so the others go on.
    if (this.job.mode === 'composite') this.keepalive = setInterval(() => this.nudgeQuietInputs(COMPOSITE_QUIET_MS), NUDGE_INTERVAL_MS);
  }

  private async startSink(output: EgressOutput): Promise<void> {
    const sink = new Sink(output);
    const { videos, audios } = this.job.mode === 'copy' ? { videos: [0], audios: [] as number[] } : inputLayout(this.job);
    const used = this.job.mode === 'copy' ? [0] : [...videos, ...audios];
    const streams: RtpStream[] = [];
    for (const i of used) {
      const input = this.job.inputs[i]!;
      const port = await freeRtpPort();
      sink.ports.set(i, port);
      sink.tails.set(i, new InputTail(input.kind === 'audio', input.clockRate));
      if (input.kind === 'video' && (this.codecs[i] === CODEC_VP8 || this.codecs[i] === CODEC_H264)) sink.waiting.add(i);
      streams.push({
        kind: input.kind, port, payloadType: input.kind === 'video' ? VIDEO_PT : AUDIO_PT, encoding: rtpEncodingName(input.mimeType),
        clockRate: input.clockRate, channels: input.kind === 'audio' ? input.channels ?? 2 : undefined, fmtp: input.fmtp || undefined,
      });
    }
    sink.sdpPath = join(this.workDir, `input-${this.sinks.length}-${Date.now()}.sdp`);
    writeFileSync(sink.sdpPath, rtpInputSdp(streams));
    for (const dir of outputDirs(output)) mkdirSync(dir, { recursive: true });
    // A composite output's timeline starts when it does (a stream added later starts at 0 too).
    const args = this.job.mode === 'copy' ? copyArgs(sink.sdpPath, output) : compositeArgs(sink.sdpPath, this.job, output, Date.now() / 1000);
    sink.proc = new FfmpegProcess(args);
    sink.startedAtMs = Date.now();
    this.sinks.push(sink);
    const proc = sink.proc;
    void proc.exited.then((exit) => this.onSinkExit(sink, exit));
    if (!await waitUntilBound([...sink.ports.values()], FFMPEG_START_MS, () => proc.running)) {
      proc.kill();
      throw new Error(`ffmpeg did not start: ${proc.errorSummary() || 'its input ports were never bound'}`);
    }
    sink.ready = true;
    for (const i of sink.waiting) this.askKeyframe(i, true);
  }

  /** An RTP packet of input `index` (the buffer is this record's own). */
  onRtp(index: number, pkt: Buffer, len: number): void {
    // Packets keep flowing while the outputs stop: ffmpeg reads its `q` between packets.
    if (this.ended) return;
    this.packetsIn++;
    this.lastPacketMs[index] = Date.now();
    const input = this.job.inputs[index]!;
    let keyframe: boolean | null = null;
    pkt[1] = (pkt[1]! & 0x80) | (input.kind === 'video' ? VIDEO_PT : AUDIO_PT);
    for (const sink of this.sinks) {
      const port = sink.ports.get(index);
      if (port === undefined || sink.retired || !sink.ready) continue;
      if (keyframe === null && input.kind === 'video' && this.codecs[index] !== 0) {
        keyframe = parseRtpHeader(pkt, len, this.header) && isKeyframe(this.codecs[index]!, pkt, this.header.payloadOffset, len - this.header.paddingLength);
      }
      if (sink.waiting.has(index)) {
        if (!keyframe) {
          this.packetsBeforeKeyframe++;
          this.askKeyframe(index, false);
          continue;
        }
        sink.waiting.delete(index);
      }
      sink.tails.get(index)!.onPacket(pkt, len, keyframe);
      this.host.socket.send(pkt, 0, len, port, '127.0.0.1');
      if (!this.active) {
        this.active = true;
        this.host.emit({ ev: 'active', egressId: this.job.egressId, atMs: Date.now() });
      }
    }
  }

  private askKeyframe(index: number, force: boolean): void {
    const now = Date.now();
    if (!force && now - this.lastKeyframeAskMs[index]! < KEYFRAME_RETRY_MS) return;
    this.lastKeyframeAskMs[index] = now;
    this.host.requestKeyframe(this.job.inputs[index]!);
  }

  /** The speaker layouts: show `identity`'s video large (if it has one here). */
  setSpeaker(identity: string): void {
    if (!hasSpeakerSwitch(this.job)) return;
    const k = inputLayout(this.job).videos.findIndex((i) => this.job.inputs[i]!.participantIdentity === identity);
    if (k < 0 || k === this.speakerIndex) return;
    this.speakerIndex = k;
    for (const sink of this.sinks) if (!sink.retired) sink.proc?.command(speakerCommand(k));
  }

  async addStream(url: string): Promise<void> {
    if (this.sinks.some((s) => !s.retired && s.output.kind === 'stream' && s.output.url === url)) return;
    await this.startSink({ kind: 'stream', url });
    // A new output's graph starts on the job's first speaker: bring it to the current one.
    const sink = this.sinks[this.sinks.length - 1];
    if (sink && this.speakerIndex >= 0 && hasSpeakerSwitch(this.job)) sink.proc?.command(speakerCommand(this.speakerIndex));
  }

  async removeStream(url: string): Promise<void> {
    const sink = this.sinks.find((s) => !s.retired && s.output.kind === 'stream' && s.output.url === url);
    if (!sink) return;
    sink.retired = true;
    await sink.proc?.stop();
  }

  private onSinkExit(sink: Sink, exit: FfmpegExit): void {
    if (this.ending || this.ended || sink.retired || exit.stopped) return;
    const error = `ffmpeg exited (${exit.signal ?? exit.code}): ${sink.proc?.errorSummary() || 'no output'}`;
    if (sink.output.kind === 'stream') {
      sink.retired = true;
      this.host.emit({ ev: 'streamFailed', egressId: this.job.egressId, url: sink.output.url, error });
      // An egress whose every output has failed is over.
      if (this.sinks.every((s) => s.retired)) void this.finish(false, error);
      return;
    }
    void this.finish(false, error);
  }

  /** StopEgress: every output finished (`q`), then the results. */
  stop(): Promise<void> {
    return this.finish(true, '');
  }

  private async finish(ok: boolean, error: string): Promise<void> {
    if (this.ending || this.ended) return;
    this.ending = true;
    // Tracks that went quiet get nudge packets until their ffmpeg has read its `q`.
    if (this.keepalive) clearInterval(this.keepalive);
    const nudging = setInterval(() => this.nudgeQuietInputs(NUDGE_INTERVAL_MS), NUDGE_INTERVAL_MS);
    await Promise.all(this.sinks.map((s) => s.proc?.stop()));
    clearInterval(nudging);
    const results: OutputResult[] = [];
    for (const sink of this.sinks) results.push(await resultOf(sink, Date.now()));
    this.ended = true;
    rmSync(this.workDir, { recursive: true, force: true });
    const ffmpegLog = this.sinks.map((s) => s.proc?.errorSummary(8) ?? '');
    this.host.emit({ ev: 'ended', egressId: this.job.egressId, ok, error, results, ffmpegLog });
  }

  private nudgeQuietInputs(quietMs: number): void {
    const now = Date.now();
    for (const sink of this.sinks) {
      if (!sink.ready || !sink.proc?.running) continue;
      for (const [index, tail] of sink.tails) {
        if (now - this.lastPacketMs[index]! < quietMs) continue;
        for (const p of tail.nudge()) this.host.socket.send(p, sink.ports.get(index)!, '127.0.0.1');
      }
    }
  }

  /** Ends every child at once (the worker is going away). */
  kill(): void {
    this.ended = true;
    if (this.keepalive) clearInterval(this.keepalive);
    for (const s of this.sinks) s.proc?.kill();
  }
}

function outputDirs(o: EgressOutput): string[] {
  switch (o.kind) {
    case 'file': return [dirname(o.path)];
    case 'segments': return [dirname(o.playlistPath), dirname(o.segmentPattern)];
    case 'images': return [dirname(o.pattern)];
    case 'stream': return [];
  }
}

function sizeOf(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

async function resultOf(sink: Sink, endedAtMs: number): Promise<OutputResult> {
  const o = sink.output;
  const startedAtMs = sink.startedAtMs;
  switch (o.kind) {
    case 'file': {
      const size = sizeOf(o.path);
      const durationSeconds = size > 0 ? await probeDuration(o.path).catch(() => 0) : 0;
      return { kind: 'file', path: o.path, size, durationSeconds, startedAtMs, endedAtMs };
    }
    case 'stream':
      return { kind: 'stream', url: o.url, startedAtMs, endedAtMs, error: '' };
    case 'segments': {
      let count = 0;
      let size = 0;
      let durationSeconds = 0;
      try {
        const playlist = readFileSync(o.playlistPath, 'utf8');
        for (const line of playlist.split('\n')) {
          const m = /^#EXTINF:([\d.]+)/.exec(line);
          if (m) { count++; durationSeconds += Number(m[1]); continue; }
          const name = line.trim();
          if (name && !name.startsWith('#')) size += sizeOf(join(dirname(o.playlistPath), name));
        }
      } catch { /* no playlist: no segments */ }
      return { kind: 'segments', playlistPath: o.playlistPath, livePlaylistPath: o.livePlaylistPath, count, size, durationSeconds, startedAtMs, endedAtMs };
    }
    case 'images': {
      let count = 0;
      try {
        const prefix = basename(o.prefix);
        count = readdirSync(dirname(o.pattern)).filter((f) => f.startsWith(prefix)).length;
      } catch { /* none written */ }
      return { kind: 'images', prefix: o.prefix, count, startedAtMs, endedAtMs };
    }
  }
}
