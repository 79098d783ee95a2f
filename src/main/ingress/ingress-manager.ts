// LiveKit's ingress, run by Strand: the endpoints (IngressRegistry, kept in the store), the
// sessions publishing through them, and their state machine, webhooks and participants.
//
//   created ─► INACTIVE ─(encoder connects)─► BUFFERING ─(first track)─► PUBLISHING
//                 ▲                               │                          │
//                 └──── encoder leaves / Delete ──┴──────────────────────────┤
//                                                  ERROR (ffmpeg's reason) ◄─┤
//                                        URL input: COMPLETE at its end ◄────┘
//
// RTMP and URL sessions run on an ingress worker: its transcoder's RTP is injected into the
// media worker of a headless participant of kind INGRESS. WHIP sessions are ordinary
// publishers on a media worker (passthrough), whose participant is also of kind INGRESS.
import { livekit } from '../../proto/index.js';
import { INGRESS_PEER_BASE, type RelayedTrack } from '../../workers/protocol.js';
import type { IngressEvent, InputDescription, SessionOutcome, StartedTrack } from '../../workers/ingress/ingress-protocol.js';
import { TwirpError } from '../api/twirp.js';
import type { ClaimGrants } from '../auth/grants.js';
import type { Logger } from '../logger.js';
import type { MediaPool } from '../media-pool.js';
import { newId } from '../rooms/ids.js';
import type { Participant, SignalSink } from '../rooms/participant.js';
import type { Room } from '../rooms/room.js';
import type { RoomManager } from '../rooms/room-manager.js';
import type { RoomObserver } from '../rooms/room-observer.js';
import type { Store } from '../store/store.js';
import type { WebhookNotifier } from '../webhook/webhook-notifier.js';
import { transcodeSpec } from './encoding-presets.js';
import type { IngressPool } from './ingress-pool.js';
import { IngressRegistry, type IngressUrls } from './ingress-registry.js';
import { offeredTracks } from './whip-offer.js';

const Status = livekit.IngressState.Status;
type Input = 'rtmp' | 'whip' | 'url';

/** A refusal of an encoder (RTMP publish, WHIP POST), with the HTTP status WHIP answers. */
export class IngressRefusal extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/** One ingress publishing now. */
interface Session {
  info: livekit.IIngressInfo;
  input: Input;
  resourceId: string;
  /** The ingress worker running it (RTMP, URL), or -1 (WHIP). */
  workerSlot: number;
  room: Room | null;
  participant: Participant | null;
  /** Strand is stopping it (Delete, participant removed, shutdown). */
  stopping: boolean;
  /** It is being finished: its participant leaves, its state is final. */
  ending: boolean;
}

export interface IngressManagerOptions {
  maxConcurrent: number;
  x264Preset: string;
  urls: () => IngressUrls;
  /**
   * In a cluster: makes sure the room lives on this node, where the ingress media arrives;
   * throws when it lives on another.
   */
  claimRoom?: (room: string) => Promise<void>;
}

function nowNs(): number {
  return Date.now() * 1_000_000;
}

/** The sink of an ingress participant: nothing to send to, but the room closing it ends the session. */
class IngressSink implements SignalSink {
  constructor(private readonly onClosed: (reason: string) => void) {}

  send(): void {
    // no signal connection
  }

  close(_code: number, reason: string): void {
    this.onClosed(reason);
  }
}

export class IngressManager implements RoomObserver {
  readonly registry: IngressRegistry;
  private readonly sessions = new Map<string, Session>();
  /** Sessions by their participant's sid (observers see participants). */
  private readonly byParticipant = new Map<string, Session>();
  private readonly byResource = new Map<string, Session>();
  readonly endedByStatus = new Map<string, number>();

  constructor(
    private readonly opts: IngressManagerOptions,
    private readonly rooms: RoomManager,
    private readonly pool: IngressPool,
    private readonly media: MediaPool,
    private readonly store: Store,
    private readonly notifier: WebhookNotifier,
    private readonly log: Logger,
  ) {
    this.registry = new IngressRegistry(opts.urls);
  }

  /** Endpoints of an earlier run: kept; sessions did not survive it, so live ones end now. */
  recover(): void {
    for (const stored of this.store.ingresses()) {
      let info: livekit.IIngressInfo;
      try {
        info = livekit.IngressInfo.toObject(livekit.IngressInfo.decode(stored.info), { defaults: true, longs: Number }) as livekit.IIngressInfo;
      } catch (err) {
        this.log.warn({ err, ingressId: stored.ingressId }, 'unreadable stored ingress dropped');
        this.store.deleteIngress(stored.ingressId);
        continue;
      }
      this.registry.adopt(info);
      const status = info.state?.status ?? Status.ENDPOINT_INACTIVE;
      if (status === Status.ENDPOINT_BUFFERING || status === Status.ENDPOINT_PUBLISHING) {
        const url = info.inputType === livekit.IngressInput.URL_INPUT;
        this.setState(info, url ? Status.ENDPOINT_ERROR : Status.ENDPOINT_INACTIVE, url ? 'the server restarted during the ingress' : '');
      }
    }
  }

  /** Ingresses publishing now, by input kind (metrics). */
  activeByInput(): Record<Input, number> {
    const out: Record<Input, number> = { rtmp: 0, whip: 0, url: 0 };
    for (const s of this.sessions.values()) out[s.input]++;
    return out;
  }

  // ── API ────────────────────────────────────────────────────────────────────────────

  async create(req: livekit.ICreateIngressRequest): Promise<livekit.IIngressInfo> {
    const info = this.registry.create(req);
    try {
      if (info.enableTranscoding) transcodeSpec(info, this.opts.x264Preset);
      const full = info.inputType === livekit.IngressInput.URL_INPUT ? this.overCapacity() : null;
      if (full) throw new TwirpError('resource_exhausted', full);
    } catch (err) {
      this.registry.delete(info.ingressId!);
      throw err;
    }
    this.save(info);
    if (info.inputType === livekit.IngressInput.URL_INPUT) await this.startUrl(info);
    return info;
  }

  update(req: livekit.IUpdateIngressRequest): livekit.IIngressInfo {
    const info = this.registry.get(req.ingressId ?? '');
    const before = { ...info };
    const updated = this.registry.update(req);
    try {
      if (updated.enableTranscoding) transcodeSpec(updated, this.opts.x264Preset);
    } catch (err) {
      Object.assign(info, before);
      throw err;
    }
    this.save(updated);
    // A live session keeps what it started with, as the encoder's next connection will not.
    return updated;
  }

  list(filter: { roomName: string; ingressId: string }): livekit.IIngressInfo[] {
    return this.registry.list(filter);
  }

  async delete(ingressId: string): Promise<livekit.IIngressInfo> {
    const info = this.registry.get(ingressId);
    const session = this.sessions.get(ingressId);
    if (session) await this.stopSession(session, 'stopped', '');
    this.registry.delete(ingressId);
    this.store.deleteIngress(ingressId);
    return info;
  }

  /** Why another session may not start now (ingress.max_concurrent), or null. */
  private overCapacity(): string | null {
    return this.sessions.size >= this.opts.maxConcurrent ? `this node runs ${this.opts.maxConcurrent} ingresses already (ingress.max_concurrent)` : null;
  }

  // ── Sessions ───────────────────────────────────────────────────────────────────────

  private startSession(info: livekit.IIngressInfo, input: Input, workerSlot: number): Session {
    const prefix = input === 'rtmp' ? 'RT_' : input === 'whip' ? 'WH_' : 'UR_';
    const session: Session = { info, input, resourceId: newId(prefix), workerSlot, room: null, participant: null, stopping: false, ending: false };
    this.sessions.set(info.ingressId!, session);
    this.byResource.set(session.resourceId, session);
    info.state = { status: Status.ENDPOINT_BUFFERING, startedAt: nowNs(), updatedAt: nowNs(), resourceId: session.resourceId, tracks: [] };
    this.save(info);
    return session;
  }

  /** The ingress participant joins its room (kind INGRESS, publish only). */
  private async joinRoom(session: Session, headless: boolean): Promise<Participant> {
    const { info } = session;
    const claims: ClaimGrants = {
      apiKey: '', identity: info.participantIdentity ?? '', name: info.participantName ?? '', metadata: info.participantMetadata ?? '',
      attributes: { 'lk.ingress.id': info.ingressId ?? '' }, kind: 'ingress',
      video: { roomJoin: true, room: info.roomName ?? '', canPublish: true, canSubscribe: false, canPublishData: false, canUpdateOwnMetadata: true },
    };
    const sink = new IngressSink((reason) => void this.stopSession(session, 'stopped', '', `participant removed: ${reason}`));
    let joined: { room: Room; participant: Participant };
    try {
      await this.opts.claimRoom?.(info.roomName ?? '');
    } catch (err) {
      throw new IngressRefusal(409, (err as Error).message);
    }
    try {
      joined = await this.rooms.join(claims, { autoSubscribe: false, clientProtocol: 0, singlePeerConnection: !headless, headless }, sink);
    } catch (err) {
      throw new IngressRefusal(404, `cannot join room "${info.roomName}": ${(err as Error).message}`);
    }
    session.room = joined.room;
    session.participant = joined.participant;
    this.byParticipant.set(joined.participant.sid, session);
    if (info.state) info.state.roomId = joined.room.sid;
    return joined.participant;
  }

  /** An encoder asks to publish on the RTMP listener. */
  private async onRtmpPublish(slot: number, connId: number, streamKey: string, remote: string): Promise<void> {
    let session: Session | null = null;
    try {
      const info = this.admit(streamKey, livekit.IngressInput.RTMP_INPUT);
      session = this.startSession(info, 'rtmp', slot);
      this.pool.take(slot);
      const spec = transcodeSpec(info, this.opts.x264Preset);
      const p = await this.joinRoom(session, true);
      await this.pool.link(p.slot, slot);
      if (session.stopping) throw new IngressRefusal(409, 'the ingress was stopped');
      await this.pool.run(slot, { op: 'acceptRtmp', connId, job: { ingressId: info.ingressId!, mediaSlot: p.slot, transcode: spec } });
      this.log.info({ ingressId: info.ingressId, remote, room: info.roomName }, 'RTMP ingress connected');
    } catch (err) {
      const reason = (err as Error).message;
      this.log.info({ remote, reason }, 'RTMP publish refused');
      await this.pool.run(slot, { op: 'rejectRtmp', connId, reason }).catch(() => undefined);
      if (session) await this.finish(session, 'failed', reason);
    }
  }

  /** The endpoint `streamKey` names, if an encoder may publish on it now. */
  private admit(streamKey: string, input: livekit.IngressInput): livekit.IIngressInfo {
    const info = streamKey ? this.registry.byStreamKey(streamKey) : null;
    if (!info) throw new IngressRefusal(401, 'unknown stream key');
    if (info.inputType !== input) throw new IngressRefusal(400, `this stream key is for ${livekit.IngressInput[info.inputType ?? 0]}`);
    if (info.enabled === false) throw new IngressRefusal(403, 'the ingress is disabled');
    if (this.sessions.has(info.ingressId!)) throw new IngressRefusal(409, 'the ingress is already publishing');
    const full = this.overCapacity();
    if (full) throw new IngressRefusal(503, full);
    return info;
  }

  private async startUrl(info: livekit.IIngressInfo): Promise<void> {
    const session = this.startSession(info, 'url', this.pool.place());
    const slot = session.workerSlot;
    try {
      const spec = transcodeSpec(info, this.opts.x264Preset);
      const p = await this.joinRoom(session, true);
      await this.pool.link(p.slot, slot);
      await this.pool.run(slot, { op: 'startUrl', url: info.url ?? '', job: { ingressId: info.ingressId!, mediaSlot: p.slot, transcode: spec } });
    } catch (err) {
      await this.finish(session, 'failed', (err as Error).message);
    }
  }

  /** A WHIP offer with `streamKey`: the answer, and the session's resource id (its Location). */
  async whipPublish(streamKey: string, sdp: string): Promise<{ answer: string; resourceId: string; ingressId: string }> {
    const info = this.admit(streamKey, livekit.IngressInput.WHIP_INPUT);
    const tracks = offeredTracks(sdp);
    if (tracks.length === 0) throw new IngressRefusal(400, 'the offer sends no audio or video');
    const session = this.startSession(info, 'whip', -1);
    try {
      const p = await this.joinRoom(session, false);
      const room = session.room!;
      for (const t of tracks) {
        const opts = t.kind === 'video' ? info.video : info.audio;
        room.addTrack(p, {
          cid: t.cid, type: t.kind === 'video' ? livekit.TrackType.VIDEO : livekit.TrackType.AUDIO, name: opts?.name || t.kind,
          source: opts?.source || (t.kind === 'video' ? livekit.TrackSource.CAMERA : livekit.TrackSource.MICROPHONE),
          layers: t.rids.map((_, i) => ({ quality: i })),
          stereo: t.kind === 'audio' && t.stereo,
        });
      }
      const answer = await room.publisherOffer(p, { type: 'offer', sdp });
      if (p.tracks.size === 0) throw new IngressRefusal(400, 'no track of the offer could be published');
      return { answer, resourceId: session.resourceId, ingressId: info.ingressId! };
    } catch (err) {
      await this.finish(session, 'failed', (err as Error).message);
      if (err instanceof IngressRefusal) throw err;
      throw new IngressRefusal(400, `the offer cannot be answered: ${(err as Error).message}`);
    }
  }

  /** WHIP DELETE on a session's resource. */
  async whipDelete(resourceId: string): Promise<boolean> {
    const session = this.byResource.get(resourceId);
    if (!session || session.input !== 'whip') return false;
    await this.stopSession(session, 'disconnected', '');
    return true;
  }

  /** Ends a session from Strand's side (DeleteIngress, participant removed, shutdown). */
  private async stopSession(session: Session, outcome: SessionOutcome, error: string, why = ''): Promise<void> {
    if (session.stopping || session.ending) return;
    session.stopping = true;
    if (why) this.log.info({ ingressId: session.info.ingressId, why }, 'ingress stopped');
    // The worker reports `ended` too; whichever comes first finishes the session.
    if (session.workerSlot >= 0) await this.pool.run(session.workerSlot, { op: 'stop', ingressId: session.info.ingressId! }).catch(() => undefined);
    await this.finish(session, outcome, error);
  }

  private async finish(session: Session, outcome: SessionOutcome, error: string): Promise<void> {
    const { info } = session;
    if (this.sessions.get(info.ingressId!) !== session) return;
    session.ending = true;
    this.sessions.delete(info.ingressId!);
    this.byResource.delete(session.resourceId);
    if (session.workerSlot >= 0) this.pool.release(session.workerSlot);
    const p = session.participant;
    if (p) this.byParticipant.delete(p.sid);
    if (p && session.room && !p.closed) {
      await this.rooms.leave(session.room, p, livekit.DisconnectReason.CLIENT_INITIATED, false).catch((err: unknown) => {
        this.log.warn({ err, ingressId: info.ingressId }, 'ingress participant leave failed');
      });
    }
    const status = outcome === 'failed' ? Status.ENDPOINT_ERROR
      : outcome === 'eof' || info.inputType === livekit.IngressInput.URL_INPUT ? Status.ENDPOINT_COMPLETE : Status.ENDPOINT_INACTIVE;
    // A deleted endpoint still announces its end, but is not stored again.
    this.setState(info, status, error);
    this.log.info({ ingressId: info.ingressId, outcome, error: error || undefined }, 'ingress ended');
  }

  // ── Worker events ──────────────────────────────────────────────────────────────────

  onWorkerEvent(slot: number, e: IngressEvent): void {
    switch (e.ev) {
      case 'publish': void this.onRtmpPublish(slot, e.connId, e.streamKey, e.remote); return;
      case 'connectionClosed': return; // a session on it reports `ended`
      case 'input': this.onInput(e.ingressId, e.input); return;
      case 'track': void this.onTrack(slot, e.ingressId, e.track); return;
      case 'ended': {
        const session = this.sessions.get(e.ingressId);
        if (session && session.workerSlot === slot) void this.finish(session, e.outcome, e.error);
        return;
      }
      case 'error': this.log.warn({ worker: slot, where: e.where }, `ingress worker error: ${e.message}`);
    }
  }

  private onInput(ingressId: string, input: InputDescription): void {
    const state = this.sessions.get(ingressId)?.info.state;
    if (!state) return;
    if (input.video) state.video = { mimeType: `video/${input.video.codec}`, width: input.video.width, height: input.video.height, framerate: input.video.frameRate };
    if (input.audio) state.audio = { mimeType: `audio/${input.audio.codec}`, sampleRate: input.audio.sampleRate, channels: input.audio.channels };
  }

  /** The transcoder sends a track: it is published in the room. */
  private async onTrack(slot: number, ingressId: string, t: StartedTrack): Promise<void> {
    const session = this.sessions.get(ingressId);
    const p = session?.participant;
    const room = session?.room;
    if (!session || !p || !room || p.closed || session.ending) return;
    const { info } = session;
    const video = t.kind === 'video';
    const opts = video ? info.video : info.audio;
    const top = t.layers[t.layers.length - 1]!;
    const n = t.layers.length;
    const layers: livekit.IVideoLayer[] = video
      // LiveKit's qualities: the top layer HIGH, the ones below it LOW, MEDIUM… from the bottom.
      ? t.layers.map((l, i) => ({ quality: i === n - 1 ? livekit.VideoQuality.HIGH : i, width: l.width, height: l.height, bitrate: l.bitrate, ssrc: 0, rid: t.rids[i] ?? '' }))
      : [];
    const track: livekit.ITrackInfo = {
      sid: newId('TR_'), type: video ? livekit.TrackType.VIDEO : livekit.TrackType.AUDIO, name: opts?.name || (video ? 'video' : 'audio'),
      source: opts?.source || (video ? livekit.TrackSource.CAMERA : livekit.TrackSource.MICROPHONE),
      mimeType: t.mimeType, width: video ? top.width : 0, height: video ? top.height : 0, simulcast: n > 1, layers,
      stereo: !video && t.channels === 2, codecs: [{ mimeType: t.mimeType, mid: '', cid: '', layers }],
    };
    const relayed: RelayedTrack = {
      relayId: t.relayId, trackSid: track.sid!, publisherSid: p.sid, kind: t.kind, mimeType: t.mimeType, clockRate: t.clockRate,
      channels: t.channels, fmtp: t.fmtp, rids: t.rids, layer: -1,
    };
    try {
      await this.media.run(p.slot, { op: 'inject', participantSid: p.sid, fromSlot: INGRESS_PEER_BASE + slot, track: relayed });
      await room.publishTracks(p, [track]);
    } catch (err) {
      this.log.warn({ err, ingressId }, 'ingress track could not be published');
      return;
    }
    room.markActive(p);
    this.publishing(session, p);
  }

  /** The session's tracks are in the room: PUBLISHING (ingress_started the first time), with them listed. */
  private publishing(session: Session, p: Participant): void {
    session.info.state!.tracks = [...p.tracks.values()];
    this.setState(session.info, Status.ENDPOINT_PUBLISHING, '');
  }

  // ── Observers ──────────────────────────────────────────────────────────────────────

  participantActive(_room: Room, p: Participant): void {
    const session = this.byParticipant.get(p.sid);
    if (!session || session.input !== 'whip' || session.ending) return;
    this.publishing(session, p);
  }

  participantLeft(_room: Room, p: Participant): void {
    const session = this.byParticipant.get(p.sid);
    if (session && !session.ending) void this.stopSession(session, 'disconnected', '', 'the participant left');
  }

  // ── State ──────────────────────────────────────────────────────────────────────────

  private setState(info: livekit.IIngressInfo, status: livekit.IngressState.Status, error: string): void {
    this.announce(info, status, error);
    this.save(info);
  }

  /** Applies a status; on a change, LiveKit's webhook: started at PUBLISHING, ended at an end state. */
  private announce(info: livekit.IIngressInfo, status: livekit.IngressState.Status, error: string): void {
    const state = info.state ?? {};
    const previous = state.status ?? Status.ENDPOINT_INACTIVE;
    info.state = { ...state, status, error, updatedAt: nowNs() };
    const ended = status === Status.ENDPOINT_INACTIVE || status === Status.ENDPOINT_ERROR || status === Status.ENDPOINT_COMPLETE;
    if (ended) info.state.endedAt = nowNs();
    if (previous === status) return;
    const wasLive = previous === Status.ENDPOINT_BUFFERING || previous === Status.ENDPOINT_PUBLISHING;
    if (status === Status.ENDPOINT_PUBLISHING) this.notify(info, 'ingress_started');
    else if (ended && wasLive) {
      this.notify(info, 'ingress_ended');
      const key = Status[status];
      this.endedByStatus.set(key, (this.endedByStatus.get(key) ?? 0) + 1);
    }
  }

  private notify(info: livekit.IIngressInfo, event: string): void {
    const room = this.sessions.get(info.ingressId!)?.room;
    this.notifier.notify({ event, room: { sid: room?.sid ?? info.state?.roomId ?? '', name: info.roomName ?? '' }, ingressInfo: info });
  }

  private save(info: livekit.IIngressInfo): void {
    if (!this.registry.has(info.ingressId!)) return;
    const bytes = livekit.IngressInfo.encode(livekit.IngressInfo.fromObject(info as Record<string, unknown>)).finish();
    this.store.putIngress({ ingressId: info.ingressId!, info: bytes });
  }

  /** Shutdown: every session ends (participants leave, ingress_ended queued), then the workers stop. */
  async stopAll(): Promise<void> {
    await Promise.allSettled([...this.sessions.values()].map((s) => this.stopSession(s, 'disconnected', '')));
    await this.pool.stop();
  }
}
