// Egress on the main thread: the EgressInfo state machine (STARTING → ACTIVE → ENDING →
// COMPLETE, or FAILED / ABORTED), its store and webhooks, and the glue to the egress workers:
// which tracks a request records, the taps that bring them from their media workers, and the
// room's recording flag. It never touches a packet.
import { writeFileSync } from 'node:fs';
import { livekit } from '../../proto/index.js';
import { EGRESS_PEER_BASE } from '../../workers/protocol.js';
import type { EgressEvent, EgressInput, EgressJob, EgressOutput, OutputResult } from '../../workers/egress/egress-protocol.js';
import { fileSize, leftoverParts } from '../../workers/egress/egress-files.js';
import { FFMPEG, joinFiles, probeDuration, repairFile, runTool } from '../../workers/ffmpeg/ffmpeg-process.js';
import { TwirpError } from '../api/twirp.js';
import type { Logger } from '../logger.js';
import type { MediaPool } from '../media-pool.js';
import { newId } from '../rooms/ids.js';
import type { Participant } from '../rooms/participant.js';
import type { Room } from '../rooms/room.js';
import type { RoomManager } from '../rooms/room-manager.js';
import type { RoomObserver } from '../rooms/room-observer.js';
import type { Store } from '../store/store.js';
import type { WebhookNotifier } from '../webhook/webhook-notifier.js';
import type { EgressPool } from './egress-pool.js';
import { checkStreamUrl, layoutOf, transcodedEncoding, planRoomComposite, type EgressPlan, type EgressWebhook, type PlannedOutput } from './egress-plan.js';
import { resolveOutputPath, trackContainer, insideBase, expandTemplate, type TemplateValues } from './output-paths.js';

const S = livekit.EgressStatus;
/** The speaker layouts switch speaker at most this often, ms. */
const SPEAKER_SWITCH_MS = 2000;
/** Ended egresses stay listed this long (LiveKit sweeps them after 24 h). */
const KEEP_ENDED_MS = 24 * 3600 * 1000;

export interface EgressSettings {
  /** Files are written under this directory (egress.output_dir). */
  outputDir: string;
  /** Egresses running at once on this node (egress.max_concurrent). */
  maxConcurrent: number;
  x264Preset: string;
}

/** Unix nanoseconds, as EgressInfo's times are (a double: exact to a few hundred ns, plenty here). */
const ns = (ms: number): number => Math.round(ms) * 1_000_000;
const isActive = (status: livekit.EgressStatus | null | undefined): boolean => (status ?? S.EGRESS_STARTING) < S.EGRESS_COMPLETE;

/** A track an egress records, and the participant publishing it. */
interface RecordedTrack {
  publisher: Participant;
  track: livekit.ITrackInfo;
}

class Egress {
  slot = -1;
  /** Media workers tapped for this egress, with the track each relays. */
  readonly taps: Array<{ mediaSlot: number; trackSid: string }> = [];
  launched = false;
  stopRequested = false;
  slotReleased = false;
  /** Output manifests to write beside the files when the egress ends. */
  manifests: string[] = [];
  /** Set once the egress ended: when it may be swept. */
  endedAtMs = 0;
  /** The speaker layouts: the speaker to switch to, the pending switch, and the last one. */
  speaker = '';
  speakerTimer: NodeJS.Timeout | null = null;
  lastSpeakerSwitchMs = 0;

  constructor(
    readonly info: livekit.IEgressInfo,
    readonly webhooks: EgressWebhook[],
    readonly plan: EgressPlan | null,
    readonly room: Room | null,
  ) {}

  get id(): string {
    return this.info.egressId!;
  }
}

export class EgressManager implements RoomObserver {
  private readonly egresses = new Map<string, Egress>();
  /** CreateRoom's auto egress, by room name. */
  private readonly auto = new Map<string, livekit.IRoomEgress>();
  /** Egresses that ended, by final status name (metrics). */
  readonly endedByStatus = new Map<string, number>();
  /** Why ffmpeg cannot run here ('' once it answered `ffmpeg -version`; checked at start). */
  private ffmpegMissing = '';

  constructor(
    private readonly settings: EgressSettings,
    private readonly rooms: RoomManager,
    private readonly pool: EgressPool,
    private readonly media: MediaPool,
    private readonly store: Store,
    private readonly notifier: WebhookNotifier,
    private readonly log: Logger,
  ) {}

  /** Running egresses (not yet ended). */
  get activeCount(): number {
    let n = 0;
    for (const e of this.egresses.values()) if (isActive(e.info.status)) n++;
    return n;
  }

  /** Counts of running egresses by request kind (metrics). */
  activeByKind(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const e of this.egresses.values()) {
      if (!isActive(e.info.status)) continue;
      const kind = e.plan?.source.kind ?? 'unknown';
      out[kind] = (out[kind] ?? 0) + 1;
    }
    return out;
  }

  // --- start ---

  /** Starts an egress; answers at once with STARTING, as LiveKit does. */
  start(plan: EgressPlan): livekit.IEgressInfo {
    if (this.ffmpegMissing) throw new TwirpError('unavailable', `egress needs ffmpeg, which this node cannot run (${this.ffmpegMissing}): install Debian's ffmpeg`);
    const room = this.rooms.rooms.get(plan.roomName);
    if (!room || room.closed) throw new TwirpError('not_found', `room "${plan.roomName}" does not exist`);
    if (this.activeCount >= this.settings.maxConcurrent) {
      throw new TwirpError('resource_exhausted', `this node already runs ${this.settings.maxConcurrent} egresses (egress.max_concurrent)`);
    }
    const tracks = this.tracksOf(room, plan);
    const now = Date.now();
    const egressId = newId('EG_');
    const values = this.templateValues(room, plan, tracks, new Date(now));
    const outputs = this.resolveOutputs(plan, tracks, values);
    const info: livekit.IEgressInfo = {
      egressId, roomId: room.sid, roomName: room.name, sourceType: plan.sourceType, status: S.EGRESS_STARTING,
      updatedAt: ns(now), ...plan.echo, ...initialResults(outputs),
    };
    setLegacyResult(info);
    const egress = new Egress(info, plan.webhooks, plan, room);
    egress.manifests = plan.outputs.flatMap((o, i) => (o.kind !== 'stream' && !o.disableManifest ? [manifestPath(outputs[i]!)] : []));
    this.egresses.set(egressId, egress);
    this.save(egress);
    this.notify(egress, 'egress_started');
    void this.launch(egress, tracks, outputs).catch((err: unknown) => {
      if (isActive(egress.info.status)) this.fail(egress, `egress could not start: ${(err as Error).message}`);
      else this.release(egress);
    });
    return info;
  }

  /** The tracks a plan records, from the room as it is now. */
  private tracksOf(room: Room, plan: EgressPlan): RecordedTrack[] {
    const all: RecordedTrack[] = [];
    for (const p of room.participants.values()) for (const track of p.tracks.values()) all.push({ publisher: p, track });
    const bySid = (sid: string): RecordedTrack => {
      const t = all.find((x) => x.track.sid === sid);
      if (!t) throw new TwirpError('not_found', `track "${sid}" is not published in room "${room.name}"`);
      return t;
    };
    const src = plan.source;
    switch (src.kind) {
      case 'track': {
        const t = bySid(src.trackSid);
        if (!trackContainer(t.track.mimeType ?? '')) throw new TwirpError('invalid_argument', `track egress cannot write ${t.track.mimeType} (Opus, VP8, VP9, AV1 and H.264 only)`);
        return [t];
      }
      case 'room':
        return all.filter((t) => !t.publisher.hidden);
      case 'participant': {
        const p = room.participantByIdentity(src.identity);
        if (!p) throw new TwirpError('not_found', `participant "${src.identity}" is not in room "${room.name}"`);
        const want = src.screenShare
          ? [livekit.TrackSource.SCREEN_SHARE, livekit.TrackSource.SCREEN_SHARE_AUDIO]
          : [livekit.TrackSource.CAMERA, livekit.TrackSource.MICROPHONE];
        const mine = all.filter((t) => t.publisher === p);
        const chosen = mine.filter((t) => want.includes(t.track.source ?? livekit.TrackSource.UNKNOWN));
        if (mine.length === 0) throw new TwirpError('failed_precondition', `participant "${src.identity}" has no published track to record yet`);
        return chosen.length > 0 ? chosen : mine;
      }
      case 'tracks': {
        const out: RecordedTrack[] = [];
        if (src.videoTrackSid) out.push(bySid(src.videoTrackSid));
        for (const sid of src.audioTrackSids) out.push(bySid(sid));
        for (const t of all) {
          if (t.track.type !== livekit.TrackType.AUDIO || out.includes(t)) continue;
          if (src.audioAll || src.audioIdentities.includes(t.publisher.identity)) out.push(t);
        }
        if (out.length === 0) throw new TwirpError('not_found', 'no published track matches the media source');
        return out;
      }
    }
  }

  private templateValues(room: Room, plan: EgressPlan, tracks: RecordedTrack[], now: Date): TemplateValues {
    const first = tracks[0];
    const identity = plan.source.kind === 'participant' ? plan.source.identity : first?.publisher.identity ?? '';
    return {
      roomName: room.name, roomId: room.sid, identity, now,
      trackId: plan.source.kind === 'track' ? first?.track.sid ?? '' : '',
      trackType: first ? livekit.TrackType[first.track.type ?? 0] ?? '' : '',
      trackSource: first ? livekit.TrackSource[first.track.source ?? 0] ?? '' : '',
    };
  }

  /** Each planned output made concrete: container, absolute paths, URLs. */
  private resolveOutputs(plan: EgressPlan, tracks: RecordedTrack[], v: TemplateValues): EgressOutput[] {
    const base = this.settings.outputDir;
    const src = plan.source;
    const stem = src.kind === 'track' ? v.trackId : src.kind === 'participant' ? src.identity : v.roomName;
    const audioOnly = src.kind === 'room' ? src.audioOnly || !tracks.some((t) => t.track.type === livekit.TrackType.VIDEO)
      : !tracks.some((t) => t.track.type === livekit.TrackType.VIDEO);
    return plan.outputs.map((o: PlannedOutput): EgressOutput => {
      switch (o.kind) {
        case 'file': {
          let container: 'mp4' | 'webm' | 'ogg' | 'mp3';
          if (plan.encoding === null) container = trackContainer(tracks[0]!.track.mimeType ?? '') ?? 'webm';
          else if (o.fileType === livekit.EncodedFileType.OGG) container = 'ogg';
          else if (o.fileType === livekit.EncodedFileType.MP3) container = 'mp3';
          else if (o.fileType === livekit.EncodedFileType.MP4) container = 'mp4';
          else container = audioOnly ? 'ogg' : 'mp4';
          return { kind: 'file', container, path: resolveOutputPath(base, o.filepath, stem, `.${container}`, v) };
        }
        case 'stream':
          return { kind: 'stream', url: o.urls[0]! };
        case 'segments': {
          const prefix = expandTemplate(o.prefix || `${stem}-{time}`, v);
          const playlist = o.playlistName ? expandTemplate(o.playlistName, v) : `${prefix}.m3u8`;
          const dir = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/') + 1) : '';
          const playlistPath = resolveOutputPath(base, playlist.includes('/') ? playlist : dir + playlist, stem, '.m3u8', v);
          const suffix = o.timestampSuffix ? '_%Y%m%d%H%M%S.ts' : '_%05d.ts';
          return {
            kind: 'segments', playlistPath, segmentPattern: insideBase(base, `${prefix}${suffix}`),
            livePlaylistPath: o.livePlaylistName ? resolveOutputPath(base, expandTemplate(o.livePlaylistName, v), stem, '.m3u8', v) : '',
            segmentSeconds: o.segmentSeconds, timestampSuffix: o.timestampSuffix,
          };
        }
        case 'images': {
          if (audioOnly) throw new TwirpError('invalid_argument', 'an image output needs video');
          const prefix = expandTemplate(o.prefix || `${stem}-{time}`, v);
          return {
            kind: 'images', prefix: insideBase(base, prefix), pattern: insideBase(base, `${prefix}_%05d.jpeg`),
            intervalSeconds: o.intervalSeconds, width: o.width, height: o.height,
          };
        }
      }
    }).flatMap((o, i) => {
      // A stream output with several URLs is one output per URL (each its own ffmpeg child).
      const planned = plan.outputs[i]!;
      if (o.kind !== 'stream' || planned.kind !== 'stream') return [o];
      return planned.urls.map((url) => ({ kind: 'stream' as const, url }));
    });
  }

  /** Taps every track into the egress worker, then starts its outputs there. */
  private async launch(egress: Egress, tracks: RecordedTrack[], outputs: EgressOutput[]): Promise<void> {
    const plan = egress.plan!;
    const room = egress.room!;
    egress.slot = this.pool.place();
    const inputs: EgressInput[] = [];
    for (const { publisher, track } of tracks) {
      inputs.push(await this.tap(egress, publisher, track));
      if (egress.stopRequested) throw new Error('stopped before it started');
    }
    const src = plan.source;
    // A track egress copies and never encodes; its job still carries (unused) encoder settings.
    const encoding = plan.encoding ?? transcodedEncoding(null, null);
    const job: EgressJob = {
      egressId: egress.id,
      mode: plan.encoding === null ? 'copy' : 'composite',
      layout: src.kind === 'room' ? src.layout : 'single-speaker',
      audioOnly: src.kind === 'room' ? src.audioOnly : false,
      videoOnly: src.kind === 'room' ? src.videoOnly : false,
      inputs,
      // The speaker layouts put whoever speaks now large (they do not follow later changes).
      speakerIdentity: room.loudestSpeaker(),
      video: encoding.video,
      audio: encoding.audio,
      outputs,
      x264Preset: this.settings.x264Preset,
    };
    if (egress.stopRequested) throw new Error('stopped before it started');
    await this.pool.run(egress.slot, { op: 'start', job });
    egress.launched = true;
    this.updateRecordingFlag(room);
    // A StopEgress that came while the outputs were starting.
    if (egress.stopRequested) void this.pool.run(egress.slot, { op: 'stop', egressId: egress.id }).catch(() => undefined);
  }

  /** Has the publisher's media worker write a track into the egress worker's ring. */
  private async tap(egress: Egress, publisher: Participant, track: livekit.ITrackInfo): Promise<EgressInput> {
    await this.pool.link(publisher.slot, egress.slot);
    const video = track.type === livekit.TrackType.VIDEO;
    const relayed = await this.media.run(publisher.slot, {
      op: 'relayStart', trackSid: track.sid!, toSlot: EGRESS_PEER_BASE + egress.slot, layer: video ? 'best' : -1,
    });
    if (!relayed) throw new Error(`track ${track.sid} is no longer published`);
    egress.taps.push({ mediaSlot: publisher.slot, trackSid: track.sid! });
    egress.room?.setTrackRecorded(track.sid!, true);
    return {
      trackSid: track.sid!, participantIdentity: publisher.identity, kind: relayed.kind, mimeType: relayed.mimeType,
      clockRate: relayed.clockRate, channels: relayed.channels, fmtp: relayed.fmtp, fromSlot: publisher.slot, relayId: relayed.relayId,
      layer: relayed.layer,
    };
  }

  /** Stops a tap, unless another egress on the same egress worker still uses it. */
  private stopTap(egress: Egress, tap: { mediaSlot: number; trackSid: string }): void {
    const shared = [...this.egresses.values()].some((o) => o !== egress && o.slot === egress.slot
      && o.taps.some((t) => t.trackSid === tap.trackSid && t.mediaSlot === tap.mediaSlot));
    if (!shared) void this.media.run(tap.mediaSlot, { op: 'relayStop', trackSid: tap.trackSid, toSlot: EGRESS_PEER_BASE + egress.slot }).catch(() => undefined);
  }

  // --- what the egress workers report ---

  onWorkerEvent(slot: number, e: EgressEvent): void {
    if (e.ev === 'error') {
      this.log.warn({ egressWorker: slot, where: e.where }, `egress worker error: ${e.message}`);
      return;
    }
    const egress = this.egresses.get(e.egressId);
    if (!egress) return;
    if (!isActive(egress.info.status)) {
      // Aborted or failed already; its outputs are done now, and so are its taps.
      if (e.ev === 'ended') this.release(egress);
      return;
    }
    const info = egress.info;
    switch (e.ev) {
      case 'active':
        if (info.status !== S.EGRESS_STARTING) return;
        info.status = S.EGRESS_ACTIVE;
        info.startedAt = ns(e.atMs);
        for (const f of info.fileResults ?? []) f.startedAt = ns(e.atMs);
        for (const s of info.streamResults ?? []) s.startedAt = ns(e.atMs);
        for (const s of info.segmentResults ?? []) s.startedAt = ns(e.atMs);
        for (const s of info.imageResults ?? []) s.startedAt = ns(e.atMs);
        this.touch(egress, 'egress_updated');
        return;
      case 'streamFailed': {
        const s = info.streamResults?.find((x) => x.url === e.url && x.status === livekit.StreamInfo.Status.ACTIVE);
        if (s) {
          s.status = livekit.StreamInfo.Status.FAILED;
          s.error = e.error;
          s.endedAt = ns(Date.now());
        }
        this.touch(egress, 'egress_updated');
        return;
      }
      case 'ended':
        this.log.debug({ egressId: egress.id, ffmpeg: e.ffmpegLog }, 'egress outputs finished');
        this.finish(egress, e.ok, e.error, e.results);
        return;
    }
  }

  /** The outputs are done: final results, status, manifests, webhooks; the taps are released. */
  private finish(egress: Egress, ok: boolean, error: string, results: OutputResult[]): void {
    const info = egress.info;
    const now = Date.now();
    for (const r of results) applyResult(info, r);
    if (!info.startedAt && ok) info.startedAt = ns(now);
    info.endedAt = ns(now);
    if (ok) {
      info.status = S.EGRESS_COMPLETE;
      info.details = 'End reason: StopEgress';
    } else {
      info.status = S.EGRESS_FAILED;
      info.error = error;
      info.errorCode = 500;
      info.details = `End reason: ${error}`;
    }
    setLegacyResult(info);
    this.release(egress);
    this.writeManifests(egress);
    this.ended(egress);
  }

  private fail(egress: Egress, error: string): void {
    if (!isActive(egress.info.status)) return;
    this.log.warn({ egressId: egress.id, error }, 'egress failed');
    if (egress.launched) void this.pool.run(egress.slot, { op: 'stop', egressId: egress.id }).catch(() => undefined);
    const info = egress.info;
    info.status = S.EGRESS_FAILED;
    info.error = error;
    info.errorCode = 500;
    info.details = `End reason: ${error}`;
    info.endedAt = ns(Date.now());
    this.release(egress);
    this.ended(egress);
  }

  private ended(egress: Egress): void {
    egress.endedAtMs = Date.now();
    const status = livekit.EgressStatus[egress.info.status ?? 0] ?? 'UNKNOWN';
    this.endedByStatus.set(status, (this.endedByStatus.get(status) ?? 0) + 1);
    this.touch(egress, 'egress_ended');
    this.log.info({ egressId: egress.id, room: egress.info.roomName, status }, 'egress ended');
  }

  /**
   * Stops the taps and gives the egress worker its place back. Safe to call again: a launch
   * that was overtaken by StopEgress calls it once more for the taps it set up meanwhile.
   */
  private release(egress: Egress): void {
    const room = egress.room;
    const taps = egress.taps.splice(0);
    for (const tap of taps) {
      room?.setTrackRecorded(tap.trackSid, false);
      this.stopTap(egress, tap);
    }
    if (egress.speakerTimer) clearTimeout(egress.speakerTimer);
    egress.speakerTimer = null;
    if (egress.slot >= 0 && !egress.slotReleased) {
      egress.slotReleased = true;
      this.pool.release(egress.slot);
    }
    if (room) this.updateRecordingFlag(room);
  }

  private updateRecordingFlag(room: Room): void {
    let on = false;
    for (const e of this.egresses.values()) if (e.room === room && e.launched && isActive(e.info.status)) on = true;
    if (!room.closed) room.setRecording(on);
  }

  private writeManifests(egress: Egress): void {
    const info = livekit.EgressInfo.toObject(livekit.EgressInfo.fromObject(egress.info as Record<string, unknown>), { enums: String, longs: String, defaults: false });
    for (const path of egress.manifests) {
      try {
        writeFileSync(path, `${JSON.stringify(info, null, 2)}\n`);
      } catch (err) {
        this.log.warn({ egressId: egress.id, path, err }, 'egress manifest not written');
      }
    }
  }

  // --- API ---

  get(egressId: string): Egress {
    const e = this.egresses.get(egressId);
    if (!e) throw new TwirpError('not_found', `egress "${egressId}" does not exist`);
    return e;
  }

  stop(egressId: string): livekit.IEgressInfo {
    const egress = this.get(egressId);
    const info = egress.info;
    if (!isActive(info.status)) throw new TwirpError('failed_precondition', `egress ${egressId} has already ended (${livekit.EgressStatus[info.status ?? 0]})`);
    if (info.status === S.EGRESS_ENDING) return info;
    egress.stopRequested = true;
    if (!egress.launched) {
      // Stopped before its outputs ran: nothing was recorded.
      info.status = S.EGRESS_ABORTED;
      info.error = 'Start signal not received';
      info.errorCode = 412;
      info.details = 'End reason: StopEgress before the egress started';
      info.endedAt = ns(Date.now());
      this.release(egress);
      this.ended(egress);
      return info;
    }
    info.status = S.EGRESS_ENDING;
    this.touch(egress, 'egress_updated');
    void this.pool.run(egress.slot, { op: 'stop', egressId }).catch((err: unknown) => this.fail(egress, `egress did not stop cleanly: ${(err as Error).message}`));
    return info;
  }

  async updateStream(egressId: string, add: string[], remove: string[]): Promise<livekit.IEgressInfo> {
    const egress = this.get(egressId);
    const info = egress.info;
    if (!isActive(info.status) || info.status === S.EGRESS_ENDING) throw new TwirpError('failed_precondition', `egress ${egressId} has ended`);
    if (egress.plan?.encoding === null) throw new TwirpError('invalid_argument', 'a track egress writes a file and cannot stream');
    for (const url of add) checkStreamUrl(url);
    if (!egress.launched) throw new TwirpError('unavailable', `egress ${egressId} is still starting: try again in a moment`);
    const now = ns(Date.now());
    info.streamResults ??= [];
    for (const url of add) {
      if (info.streamResults.some((s) => s.url === url && s.status === livekit.StreamInfo.Status.ACTIVE)) continue;
      await this.pool.run(egress.slot, { op: 'addStream', egressId, url });
      info.streamResults.push({ url, startedAt: now, status: livekit.StreamInfo.Status.ACTIVE });
    }
    for (const url of remove) {
      const s = info.streamResults.find((x) => x.url === url && x.status === livekit.StreamInfo.Status.ACTIVE);
      if (!s) throw new TwirpError('invalid_argument', `egress ${egressId} does not stream to ${url}`);
      await this.pool.run(egress.slot, { op: 'removeStream', egressId, url });
      s.status = livekit.StreamInfo.Status.FINISHED;
      s.endedAt = ns(Date.now());
    }
    setLegacyResult(info);
    this.touch(egress, 'egress_updated');
    return info;
  }

  /**
   * A room composite's layout, changed while it runs: its outputs go on in new ffmpeg children
   * with the new layout (as when its tracks change), about a second missing at the switch.
   */
  async updateLayout(egressId: string, layout: string): Promise<livekit.IEgressInfo> {
    const egress = this.get(egressId);
    const info = egress.info;
    const src = egress.plan?.source;
    if (!isActive(info.status) || info.status === S.EGRESS_ENDING) throw new TwirpError('failed_precondition', `egress ${egressId} has ended`);
    if (src?.kind !== 'room') throw new TwirpError('invalid_argument', 'only a room composite has a layout');
    if (src.audioOnly) throw new TwirpError('invalid_argument', 'an audio-only composite has no layout');
    const next = layoutOf(layout);
    if (!egress.launched) throw new TwirpError('unavailable', `egress ${egressId} is still starting: try again in a moment`);
    if (next !== src.layout) {
      src.layout = next;
      await this.pool.run(egress.slot, { op: 'layout', egressId, layout: next });
    }
    if (info.roomComposite) info.roomComposite.layout = next;
    if (info.egress?.template) info.egress.template.layout = next;
    this.touch(egress, 'egress_updated');
    return info;
  }

  list(filter: { roomName: string; egressId: string; active: boolean }): livekit.IEgressInfo[] {
    this.sweep();
    const out: livekit.IEgressInfo[] = [];
    for (const e of this.egresses.values()) {
      if (filter.roomName && e.info.roomName !== filter.roomName) continue;
      if (filter.egressId && e.id !== filter.egressId) continue;
      if (filter.active && !isActive(e.info.status)) continue;
      out.push(e.info);
    }
    return out;
  }

  private sweep(): void {
    const cutoff = Date.now() - KEEP_ENDED_MS;
    for (const e of [...this.egresses.values()]) {
      if (!isActive(e.info.status) && e.endedAtMs > 0 && e.endedAtMs < cutoff) {
        this.egresses.delete(e.id);
        this.store.deleteEgress(e.id);
      }
    }
  }

  // --- room lifecycle ---

  /** CreateRoom's `egress`: what to start for the room, its participants and its tracks. */
  setAutoEgress(room: Room, config: livekit.IRoomEgress | null | undefined): void {
    if (!config || (!config.room && !config.participant && !config.tracks) || this.auto.has(room.name)) return;
    this.auto.set(room.name, config);
    if (config.room) this.autoStart(room, () => planRoomComposite({ ...config.room, roomName: room.name }));
  }

  private autoStart(room: Room, plan: () => EgressPlan): void {
    try {
      this.start(plan());
    } catch (err) {
      // LiveKit sends only egress_ended (FAILED) for an auto egress that cannot launch.
      const error = (err as Error).message;
      this.log.warn({ room: room.name, error }, 'auto egress could not start');
      const now = ns(Date.now());
      const info: livekit.IEgressInfo = {
        egressId: newId('EG_'), roomId: room.sid, roomName: room.name, status: S.EGRESS_FAILED, error, errorCode: 500,
        updatedAt: now, endedAt: now, details: `End reason: ${error}`,
      };
      const egress = new Egress(info, [], null, room);
      this.egresses.set(egress.id, egress);
      this.ended(egress);
    }
  }

  participantActive(room: Room, p: Participant): void {
    const auto = this.auto.get(room.name)?.participant;
    if (!auto || p.hidden) return;
    this.autoStart(room, () => ({
      roomName: room.name, source: { kind: 'participant', identity: p.identity, screenShare: false },
      encoding: transcodedEncoding(auto.preset, auto.advanced),
      outputs: [
        ...(auto.fileOutputs ?? []).map((o): PlannedOutput => ({ kind: 'file', filepath: o.filepath ?? '', fileType: o.fileType ?? 0, disableManifest: o.disableManifest ?? false })),
        ...(auto.segmentOutputs ?? []).map((o): PlannedOutput => ({
          kind: 'segments', prefix: o.filenamePrefix ?? '', playlistName: o.playlistName ?? '', livePlaylistName: o.livePlaylistName ?? '',
          segmentSeconds: o.segmentDuration || 4, timestampSuffix: o.filenameSuffix === livekit.SegmentedFileSuffix.TIMESTAMP, disableManifest: o.disableManifest ?? false,
        })),
      ],
      webhooks: [], echo: { participant: { roomName: room.name, identity: p.identity } }, sourceType: livekit.EgressSourceType.EGRESS_SOURCE_TYPE_SDK,
    }));
  }

  trackPublished(room: Room, p: Participant, track: livekit.ITrackInfo): void {
    // Running composites of the room (or of this participant) take the new track.
    for (const e of this.egresses.values()) {
      const src = e.plan?.source;
      if (e.room !== room || !e.launched || !isActive(e.info.status) || !src) continue;
      if ((src.kind === 'room' && !p.hidden) || (src.kind === 'participant' && src.identity === p.identity)) {
        void this.addTrack(e, p, track).catch((err: unknown) => this.log.warn({ egressId: e.id, track: track.sid, err }, 'track not added to the composite'));
      }
    }
    const auto = this.auto.get(room.name)?.tracks;
    if (!auto || !track.sid) return;
    const filepath = auto.filepath || '{track_id}-{time}';
    this.autoStart(room, () => ({
      roomName: room.name, source: { kind: 'track', trackSid: track.sid! }, encoding: null,
      outputs: [{ kind: 'file', filepath, fileType: 0, disableManifest: auto.disableManifest ?? false }],
      webhooks: [], echo: { track: { roomName: room.name, trackId: track.sid, file: { filepath } } }, sourceType: livekit.EgressSourceType.EGRESS_SOURCE_TYPE_SDK,
    }));
  }

  /**
   * A recorded track went away: a room or participant composite goes on without it; a track or
   * track-composite egress of it ends.
   */
  trackUnpublished(room: Room, _p: Participant, track: livekit.ITrackInfo): void {
    for (const e of this.egresses.values()) {
      if (e.room !== room || !isActive(e.info.status) || !e.taps.some((t) => t.trackSid === track.sid)) continue;
      const kind = e.plan?.source.kind;
      if (kind === 'room' || kind === 'participant') this.dropTrack(e, track.sid!);
      else this.stopQuietly(e);
    }
  }

  /** Taps a track into a running composite. */
  private async addTrack(e: Egress, publisher: Participant, track: livekit.ITrackInfo): Promise<void> {
    const src = e.plan!.source;
    const video = track.type === livekit.TrackType.VIDEO;
    if (src.kind === 'room' && ((src.audioOnly && video) || (src.videoOnly && !video))) return;
    const input = await this.tap(e, publisher, track);
    if (!isActive(e.info.status)) return this.release(e);
    await this.pool.run(e.slot, { op: 'addInput', egressId: e.id, input });
  }

  private dropTrack(e: Egress, trackSid: string): void {
    const i = e.taps.findIndex((t) => t.trackSid === trackSid);
    if (i < 0) return;
    const [tap] = e.taps.splice(i, 1);
    e.room?.setTrackRecorded(trackSid, false);
    void this.pool.run(e.slot, { op: 'removeInput', egressId: e.id, trackSid }).catch(() => undefined);
    this.stopTap(e, tap!);
  }

  participantLeft(room: Room, p: Participant): void {
    for (const e of this.egresses.values()) {
      const src = e.plan?.source;
      if (e.room === room && isActive(e.info.status) && src?.kind === 'participant' && src.identity === p.identity) this.stopQuietly(e);
    }
  }

  /**
   * The speaker layouts follow the room's loudest speaker, switching at most every
   * SPEAKER_SWITCH_MS so that a quick exchange does not make the picture flicker.
   */
  loudestSpeakerChanged(room: Room, identity: string): void {
    for (const e of this.egresses.values()) {
      const src = e.plan?.source;
      if (e.room !== room || !e.launched || !isActive(e.info.status) || src?.kind !== 'room' || src.layout === 'grid') continue;
      e.speaker = identity;
      if (e.speakerTimer) continue;
      const wait = Math.max(0, e.lastSpeakerSwitchMs + SPEAKER_SWITCH_MS - Date.now());
      e.speakerTimer = setTimeout(() => {
        e.speakerTimer = null;
        e.lastSpeakerSwitchMs = Date.now();
        if (isActive(e.info.status)) void this.pool.run(e.slot, { op: 'speaker', egressId: e.id, identity: e.speaker }).catch(() => undefined);
      }, wait);
      e.speakerTimer.unref();
    }
  }

  roomFinished(room: Room): void {
    this.auto.delete(room.name);
    for (const e of this.egresses.values()) if (e.room === room && isActive(e.info.status)) this.stopQuietly(e);
  }

  private stopQuietly(e: Egress): void {
    if (e.info.status === S.EGRESS_ENDING) return;
    try {
      this.stop(e.id);
    } catch (err) {
      this.log.warn({ egressId: e.id, err }, 'egress did not stop');
    }
  }

  // --- state ---

  /**
   * A start after a stop or a crash: every egress the store still has as running is FAILED,
   * with an egress_ended; its files (cut short when their ffmpeg died with Strand) are kept and
   * rewritten with a proper ending where the container allows. Ended ones are listed again.
   */
  /** Checks once that ffmpeg runs: without it every egress would fail, so Start* says so instead. */
  async checkFfmpeg(): Promise<void> {
    try {
      await runTool(FFMPEG, ['-hide_banner', '-version'], 10_000);
      this.ffmpegMissing = '';
    } catch (err) {
      this.ffmpegMissing = (err as Error).message.split('\n')[0] ?? 'not found';
      this.log.warn({ ffmpeg: FFMPEG, error: this.ffmpegMissing }, 'ffmpeg is not available: egress requests will be refused');
    }
  }

  recover(): void {
    const now = Date.now();
    const failed: Egress[] = [];
    for (const stored of this.store.egresses()) {
      let info: livekit.IEgressInfo;
      try {
        info = livekit.EgressInfo.toObject(livekit.EgressInfo.decode(stored.info), { longs: Number }) as livekit.IEgressInfo;
      } catch (err) {
        this.log.warn({ egressId: stored.egressId, err }, 'unreadable stored egress dropped');
        this.store.deleteEgress(stored.egressId);
        continue;
      }
      const egress = new Egress(info, stored.webhooks, null, null);
      this.egresses.set(egress.id, egress);
      if (!isActive(info.status)) {
        egress.endedAtMs = Number(info.endedAt ?? 0) / 1_000_000 || now;
        continue;
      }
      info.status = S.EGRESS_FAILED;
      info.error = 'Strand stopped while this egress was running; what it wrote until then is kept';
      info.errorCode = 500;
      info.details = 'End reason: server restart';
      info.endedAt = ns(now);
      this.save(egress);
      failed.push(egress);
    }
    if (failed.length > 0) this.log.warn({ count: failed.length }, 'egresses that were running when Strand stopped are marked FAILED');
    void this.repairAndAnnounce(failed, now);
  }

  /** The files of egresses that died with Strand are repaired, then their egress_ended goes out. */
  private async repairAndAnnounce(failed: Egress[], now: number): Promise<void> {
    for (const egress of failed) {
      const files = egress.info.fileResults ?? [];
      // A composite's file is joined from its parts when it ends: join what there is.
      const parts = leftoverParts(egress.id);
      if (files.length === 1 && files[0]!.location && parts.length > 0 && fileSize(files[0]!.location) === 0) {
        await joinFiles(parts, files[0]!.location).catch((err: unknown) => this.log.warn({ egressId: egress.id, err }, 'composite parts not joined'));
      }
      for (const f of files) {
        if (!f.location) continue;
        // Its ffmpeg died with Strand: the file has what was recorded, without an ending.
        if (fileSize(f.location) > 0 && !await repairFile(f.location)) this.log.warn({ egressId: egress.id, file: f.location }, 'partial recording kept as it is (could not be repaired)');
        f.size = fileSize(f.location);
        const seconds = f.size > 0 ? await probeDuration(f.location).catch(() => 0) : 0;
        f.duration = ns(seconds * 1000);
        f.endedAt = ns(now);
      }
      setLegacyResult(egress.info);
      this.ended(egress);
    }
  }

  private touch(egress: Egress, event: 'egress_started' | 'egress_updated' | 'egress_ended'): void {
    egress.info.updatedAt = ns(Date.now());
    this.save(egress);
    this.notify(egress, event);
  }

  private save(egress: Egress): void {
    const bytes = livekit.EgressInfo.encode(livekit.EgressInfo.fromObject(egress.info as Record<string, unknown>)).finish();
    this.store.putEgress({ egressId: egress.id, roomName: egress.info.roomName ?? '', info: bytes, webhooks: egress.webhooks });
  }

  private notify(egress: Egress, event: string): void {
    const room = egress.room;
    this.notifier.notify({
      event, room: { sid: room?.sid ?? egress.info.roomId ?? '', name: egress.info.roomName ?? '' }, egressInfo: egress.info,
    }, egress.webhooks);
  }

  /**
   * Shutdown: every egress finishes its outputs (files complete, egress_ended queued) before
   * the workers stop; one that takes longer than `timeoutMs` is cut off with its worker.
   */
  async stopAll(timeoutMs = 20_000): Promise<void> {
    for (const e of this.egresses.values()) if (isActive(e.info.status)) this.stopQuietly(e);
    const deadline = Date.now() + timeoutMs;
    while (this.activeCount > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await this.pool.stop();
  }
}

function manifestPath(o: EgressOutput): string {
  switch (o.kind) {
    case 'file': return `${o.path}.json`;
    case 'segments': return `${o.playlistPath}.json`;
    case 'images': return `${o.prefix}.json`;
    case 'stream': return '';
  }
}

/** The results an egress shows from its start: file names and playlists already known. */
function initialResults(outputs: EgressOutput[]): Pick<livekit.IEgressInfo, 'fileResults' | 'streamResults' | 'segmentResults' | 'imageResults'> {
  const r = { fileResults: [] as livekit.IFileInfo[], streamResults: [] as livekit.IStreamInfo[], segmentResults: [] as livekit.ISegmentsInfo[], imageResults: [] as livekit.IImagesInfo[] };
  for (const o of outputs) {
    if (o.kind === 'file') r.fileResults.push({ filename: o.path, location: o.path });
    if (o.kind === 'stream') r.streamResults.push({ url: o.url, status: livekit.StreamInfo.Status.ACTIVE });
    if (o.kind === 'segments') r.segmentResults.push({ playlistName: o.playlistPath, playlistLocation: o.playlistPath, livePlaylistName: o.livePlaylistPath });
    if (o.kind === 'images') r.imageResults.push({ filenamePrefix: o.prefix });
  }
  return r;
}

function applyResult(info: livekit.IEgressInfo, r: OutputResult): void {
  switch (r.kind) {
    case 'file': {
      const f = info.fileResults?.find((x) => x.location === r.path);
      if (f) Object.assign(f, { size: r.size, duration: ns(r.durationSeconds * 1000), endedAt: ns(r.endedAtMs), startedAt: f.startedAt ?? ns(r.startedAtMs) });
      return;
    }
    case 'stream': {
      const s = info.streamResults?.find((x) => x.url === r.url && x.status === livekit.StreamInfo.Status.ACTIVE);
      if (s) Object.assign(s, { status: livekit.StreamInfo.Status.FINISHED, endedAt: ns(r.endedAtMs), duration: ns(r.endedAtMs - r.startedAtMs) });
      return;
    }
    case 'segments': {
      const s = info.segmentResults?.find((x) => x.playlistLocation === r.playlistPath);
      if (s) Object.assign(s, { segmentCount: r.count, size: r.size, duration: ns(r.durationSeconds * 1000), endedAt: ns(r.endedAtMs) });
      return;
    }
    case 'images': {
      const s = info.imageResults?.find((x) => x.filenamePrefix === r.prefix);
      if (s) Object.assign(s, { imageCount: r.count, endedAt: ns(r.endedAtMs) });
    }
  }
}

/** The deprecated single result (file, stream or segments), filled when there is exactly one output. */
function setLegacyResult(info: livekit.IEgressInfo): void {
  const files = info.fileResults ?? [];
  const streams = info.streamResults ?? [];
  const segments = info.segmentResults ?? [];
  info.file = null;
  info.stream = null;
  info.segments = null;
  if (files.length + segments.length + (streams.length > 0 ? 1 : 0) !== 1) return;
  if (files.length === 1) info.file = files[0];
  else if (segments.length === 1) info.segments = segments[0];
  else info.stream = { info: streams };
}
