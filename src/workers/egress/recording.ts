// One running egress in an egress worker: its tracks, arriving from media workers' rings, and
// its outputs, each written by an ffmpeg child fed over loopback RTP. A video output starts on
// a keyframe (asked for until one comes), so every file and stream begins with a decodable
// picture.
//
// A composite's tracks may change while it runs (someone publishes, or leaves), and so may its
// layout (UpdateLayout). ffmpeg's graph is fixed, so each output then goes on in a new ffmpeg
// child with the new track set or layout: a file
// is written in NUT parts joined into the requested container at the end, a playlist is
// appended to, images keep their numbering, a stream reconnects.
import type { Socket } from 'node:dgram';
import { mkdirSync, readdirSync, readFileSync, writeFileSync, rmSync, appendFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { CODEC_H264, CODEC_VP8, codecId, isKeyframe } from '../../rtp/keyframe.js';
import { RtpHeader, parseRtpHeader } from '../../rtp/packet.js';
import { FfmpegProcess, joinFiles, probeDuration, type FfmpegExit } from '../ffmpeg/ffmpeg-process.js';
import { freeRtpPort, rtpEncodingName, rtpInputSdp, waitUntilBound, type RtpStream } from '../ffmpeg/rtp-input.js';
import type { EgressEvent, EgressInput, EgressJob, EgressOutput, Layout, OutputResult } from './egress-protocol.js';
import { compositeArgs, copyArgs, hasSpeakerSwitch, inputLayout, speakerCommand } from './ffmpeg-args.js';
import { egressWorkDir, fileSize, partPath } from './egress-files.js';
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
/** Track changes closer together than this make one new part, ms. */
const REGROUP_DELAY_MS = 1000;

/** One ffmpeg child: where each input's packets go, and what it writes. */
class Sink {
  /** UDP port per input index (inputs this child does not use have none). */
  readonly ports = new Map<number, number>();
  /** Per input index: still waiting for the first keyframe. */
  readonly waiting = new Set<number>();
  /** Per input index: where the stream sent to this ffmpeg ended. */
  readonly tails = new Map<number, InputTail>();
  proc: FfmpegProcess | null = null;
  /** ffmpeg has bound its ports: packets may go. */
  ready = false;
  /** Replaced or removed: its exit is not a failure. */
  retired = false;

  /** `output` is what this child writes (a part of `dest`'s file, for a composite). */
  constructor(readonly dest: Destination, readonly output: EgressOutput) {}
}

/** One output of the egress as requested, across the ffmpeg children that write it. */
class Destination {
  sink: Sink | null = null;
  /** NUT parts of a composite file, in order (NUT carries any codec, and ffmpeg's concat joins them). */
  readonly parts: string[] = [];
  /** Segments or images written by earlier children (where the next one starts numbering). */
  written = 0;
  readonly startedAtMs = Date.now();
  /** Removed by UpdateStream, or failed (a stream). */
  closed = false;

  constructor(readonly spec: EgressOutput, readonly index: number) {}
}

export interface RecordingHost {
  readonly socket: Socket;
  requestKeyframe(input: EgressInput): void;
  emit(e: EgressEvent): void;
}

export class Recording {
  private readonly dests: Destination[] = [];
  /** Every child started (current and retired ones): packets go to those still running. */
  private readonly sinks: Sink[] = [];
  private readonly codecs: number[];
  private readonly lastKeyframeAskMs: number[];
  /** When each input's last packet came. */
  private readonly lastPacketMs: number[];
  /** Inputs no longer in the composite (their track went away). */
  private readonly gone = new Set<number>();
  private readonly header = new RtpHeader();
  private readonly workDir: string;
  private active = false;
  private keepalive: NodeJS.Timeout | null = null;
  private regroupTimer: NodeJS.Timeout | null = null;
  /** A regroup in progress (new children for the new track set). */
  private regrouping: Promise<void> | null = null;
  /** Who the speaker layouts show large. */
  private speaker: string;
  private ending = false;
  private ended = false;
  packetsBeforeKeyframe = 0;
  packetsIn = 0;

  constructor(readonly job: EgressJob, private readonly host: RecordingHost) {
    this.codecs = job.inputs.map((i) => (i.kind === 'video' ? codecId(i.mimeType) : 0));
    this.lastKeyframeAskMs = job.inputs.map(() => 0);
    this.lastPacketMs = job.inputs.map(() => 0);
    this.workDir = egressWorkDir(job.egressId);
    this.speaker = job.speakerIdentity;
  }

  get childCount(): number {
    return this.sinks.filter((s) => s.proc?.running).length;
  }

  /** Starts one ffmpeg child per output; resolves once all are running. */
  async start(): Promise<void> {
    mkdirSync(this.workDir, { recursive: true });
    for (const spec of this.job.outputs) await this.startSink(this.addDestination(spec));
    // A composite is ACTIVE once its outputs run (it may have no track yet: an empty room).
    if (this.job.mode === 'composite') this.markActive();
    // A composite waits for a frame of every input: one whose track went quiet (a publisher
    // muted or left) is kept alive with its last picture and silence, so the others go on.
    if (this.job.mode === 'composite') this.keepalive = setInterval(() => this.nudgeQuietInputs(COMPOSITE_QUIET_MS), NUDGE_INTERVAL_MS);
  }

  private addDestination(spec: EgressOutput): Destination {
    const d = new Destination(spec, this.dests.length);
    this.dests.push(d);
    return d;
  }

  /** The job as the next child sees it: the inputs still in it, the current speaker. */
  private view(): { job: EgressJob; members: number[] } {
    const members = this.job.inputs.map((_, i) => i).filter((i) => !this.gone.has(i));
    return { job: { ...this.job, inputs: members.map((i) => this.job.inputs[i]!), speakerIdentity: this.speaker }, members };
  }

  /** What the next child of `d` writes. */
  private childOutput(d: Destination): EgressOutput {
    const spec = d.spec;
    if (this.job.mode === 'copy') return spec;
    switch (spec.kind) {
      case 'file': {
        const part = partPath(this.workDir, d.index, d.parts.length);
        d.parts.push(part);
        return { ...spec, path: part, muxAs: 'nut' };
      }
      case 'segments': return { ...spec, startNumber: d.written };
      case 'images': return { ...spec, startNumber: d.written };
      case 'stream': return spec;
    }
  }

  private async startSink(d: Destination): Promise<void> {
    const output = this.childOutput(d);
    const sink = new Sink(d, output);
    const { job, members } = this.view();
    const layout = this.job.mode === 'copy' ? { videos: [0], audios: [] as number[] } : inputLayout(job);
    const used = (this.job.mode === 'copy' ? [0] : [...layout.videos, ...layout.audios]).map((v) => members[v]!);
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
    const sdpPath = join(this.workDir, `input-${this.sinks.length}.sdp`);
    writeFileSync(sdpPath, rtpInputSdp(streams));
    for (const dir of [...outputDirs(output), ...outputDirs(d.spec)]) mkdirSync(dir, { recursive: true });
    // A composite child's timeline starts when it does (a stream added later starts at 0 too).
    const args = this.job.mode === 'copy' ? copyArgs(sdpPath, output) : compositeArgs(sdpPath, job, output, Date.now() / 1000);
    const proc = new FfmpegProcess(args);
    sink.proc = proc;
    d.sink = sink;
    this.sinks.push(sink);
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
    // Packets keep flowing while outputs stop: ffmpeg reads its `q` between packets.
    if (this.ended || this.gone.has(index)) return;
    this.packetsIn++;
    this.lastPacketMs[index] = Date.now();
    const input = this.job.inputs[index]!;
    let keyframe: boolean | null = null;
    pkt[1] = (pkt[1]! & 0x80) | (input.kind === 'video' ? VIDEO_PT : AUDIO_PT);
    for (const sink of this.sinks) {
      const port = sink.ports.get(index);
      if (port === undefined || !sink.ready || !sink.proc?.running) continue;
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
      if (!this.active) this.markActive();
    }
  }

  /** Media reaches the outputs (track egress: its first packet; composite: its children run). */
  private markActive(): void {
    if (this.active) return;
    this.active = true;
    this.host.emit({ ev: 'active', egressId: this.job.egressId, atMs: Date.now() });
  }

  private askKeyframe(index: number, force: boolean): void {
    const now = Date.now();
    if (!force && now - this.lastKeyframeAskMs[index]! < KEYFRAME_RETRY_MS) return;
    this.lastKeyframeAskMs[index] = now;
    this.host.requestKeyframe(this.job.inputs[index]!);
  }

  /** A composite gains a track; returns its input index (the worker routes its records here). */
  addInput(input: EgressInput): number {
    this.job.inputs.push(input);
    this.codecs.push(input.kind === 'video' ? codecId(input.mimeType) : 0);
    this.lastKeyframeAskMs.push(0);
    this.lastPacketMs.push(0);
    this.scheduleRegroup();
    return this.job.inputs.length - 1;
  }

  /** A composite loses a track. */
  removeInput(trackSid: string): void {
    const i = this.job.inputs.findIndex((x, k) => x.trackSid === trackSid && !this.gone.has(k));
    if (i < 0) return;
    this.gone.add(i);
    this.scheduleRegroup();
  }

  /** UpdateLayout: the outputs go on in new children with `layout`. */
  setLayout(layout: Layout): void {
    if (this.job.mode !== 'composite' || layout === this.job.layout) return;
    this.job.layout = layout;
    this.scheduleRegroup();
  }

  private scheduleRegroup(): void {
    if (this.job.mode !== 'composite' || this.ending || this.regroupTimer) return;
    this.regroupTimer = setTimeout(() => {
      this.regroupTimer = null;
      this.regrouping = this.regroup().catch((err: unknown) => this.finish(false, `could not follow the room's tracks: ${(err as Error).message}`)).finally(() => {
        this.regrouping = null;
      });
    }, REGROUP_DELAY_MS);
  }

  /** Every output goes on in a new child with the current tracks. */
  private async regroup(): Promise<void> {
    if (this.regrouping) await this.regrouping;
    await Promise.all(this.dests.filter((d) => !d.closed && d.sink).map(async (d) => {
      const old = d.sink!;
      old.retired = true;
      await old.proc?.stop();
      d.written += countWritten(old.output, d);
      if (this.ending || this.ended) return;
      await this.startSink(d);
    }));
  }

  /** The speaker layouts: show `identity`'s video large (if it has one here). */
  setSpeaker(identity: string): void {
    if (identity === this.speaker) return;
    this.speaker = identity;
    const { job } = this.view();
    if (!hasSpeakerSwitch(job)) return;
    const k = inputLayout(job).videos.findIndex((i) => job.inputs[i]!.participantIdentity === identity);
    if (k < 0) return;
    for (const d of this.dests) if (!d.closed) d.sink?.proc?.command(speakerCommand(k));
  }

  async addStream(url: string): Promise<void> {
    if (this.dests.some((d) => !d.closed && d.spec.kind === 'stream' && d.spec.url === url)) return;
    await this.startSink(this.addDestination({ kind: 'stream', url }));
  }

  async removeStream(url: string): Promise<void> {
    const d = this.dests.find((x) => !x.closed && x.spec.kind === 'stream' && x.spec.url === url);
    if (!d) return;
    d.closed = true;
    if (d.sink) d.sink.retired = true;
    await d.sink?.proc?.stop();
  }

  private onSinkExit(sink: Sink, exit: FfmpegExit): void {
    if (this.ending || this.ended || sink.retired || exit.stopped) return;
    const error = `ffmpeg exited (${exit.signal ?? exit.code}): ${sink.proc?.errorSummary() || 'no output'}`;
    const d = sink.dest;
    if (d.spec.kind === 'stream') {
      d.closed = true;
      sink.retired = true;
      this.host.emit({ ev: 'streamFailed', egressId: this.job.egressId, url: d.spec.url, error });
      // An egress whose every output has failed is over.
      if (this.dests.every((x) => x.closed)) void this.finish(false, error);
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
    if (this.regroupTimer) clearTimeout(this.regroupTimer);
    if (this.regrouping) await this.regrouping.catch(() => undefined);
    // Tracks that went quiet get nudge packets until their ffmpeg has read its `q`.
    if (this.keepalive) clearInterval(this.keepalive);
    const nudging = setInterval(() => this.nudgeQuietInputs(NUDGE_INTERVAL_MS), NUDGE_INTERVAL_MS);
    await Promise.all(this.sinks.map((s) => s.proc?.stop()));
    clearInterval(nudging);
    const results: OutputResult[] = [];
    for (const d of this.dests) {
      try {
        results.push(await this.resultOf(d, Date.now()));
      } catch (err) {
        ok = false;
        error ||= (err as Error).message;
      }
    }
    this.ended = true;
    const ffmpegLog = this.sinks.map((s) => s.proc?.errorSummary(8) ?? '');
    rmSync(this.workDir, { recursive: true, force: true });
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

  /** What an output came to; a composite file's parts are joined into it first. */
  private async resultOf(d: Destination, endedAtMs: number): Promise<OutputResult> {
    const o = d.spec;
    const startedAtMs = d.startedAtMs;
    switch (o.kind) {
      case 'file': {
        if (this.job.mode === 'composite') await joinFiles(d.parts.filter((p) => fileSize(p) > 0), o.path);
        const size = fileSize(o.path);
        const durationSeconds = size > 0 ? await probeDuration(o.path).catch(() => 0) : 0;
        return { kind: 'file', path: o.path, size, durationSeconds, startedAtMs, endedAtMs };
      }
      case 'stream':
        return { kind: 'stream', url: o.url, startedAtMs, endedAtMs, error: '' };
      case 'segments': {
        finishPlaylist(o.playlistPath);
        const { count, size, durationSeconds } = playlistStats(o.playlistPath);
        return { kind: 'segments', playlistPath: o.playlistPath, livePlaylistPath: o.livePlaylistPath, count, size, durationSeconds, startedAtMs, endedAtMs };
      }
      case 'images':
        return { kind: 'images', prefix: o.prefix, count: imagesOf(o), startedAtMs, endedAtMs };
    }
  }

  /** Ends every child at once (the worker is going away). */
  kill(): void {
    this.ended = true;
    if (this.keepalive) clearInterval(this.keepalive);
    if (this.regroupTimer) clearTimeout(this.regroupTimer);
    for (const s of this.sinks) s.proc?.kill();
  }
}

/** Segments or images a finished child wrote (where the next one starts numbering). */
function countWritten(o: EgressOutput, d: Destination): number {
  if (o.kind === 'segments') return playlistStats(o.playlistPath).count - d.written;
  if (o.kind === 'images') return imagesOf(o) - d.written;
  return 0;
}

function finishPlaylist(path: string): void {
  try {
    if (!readFileSync(path, 'utf8').includes('#EXT-X-ENDLIST')) appendFileSync(path, '#EXT-X-ENDLIST\n');
  } catch { /* no playlist: no segments */ }
}

function playlistStats(path: string): { count: number; size: number; durationSeconds: number } {
  let count = 0;
  let size = 0;
  let durationSeconds = 0;
  try {
    for (const line of readFileSync(path, 'utf8').split('\n')) {
      const m = /^#EXTINF:([\d.]+)/.exec(line);
      if (m) { count++; durationSeconds += Number(m[1]); continue; }
      const name = line.trim();
      if (name && !name.startsWith('#')) size += fileSize(join(dirname(path), name));
    }
  } catch { /* no playlist yet */ }
  return { count, size, durationSeconds };
}

function imagesOf(o: Extract<EgressOutput, { kind: 'images' }>): number {
  try {
    const prefix = basename(o.prefix);
    return readdirSync(dirname(o.pattern)).filter((f) => f.startsWith(prefix) && f.endsWith('.jpeg')).length;
  } catch {
    return 0;
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
