// A room: its participants and tracks, and the flows between them (join, publish, subscribe,
// mute, leave). Media for the room lives on one media worker (its slot); the room never
// touches RTP, it sends commands to that worker.
import { livekit } from '../../proto/index.js';
import type { MediaEvent, PendingTrack } from '../../workers/protocol.js';
import type { Permissions } from '../auth/grants.js';
import type { Logger } from '../logger.js';
import type { MediaPool } from '../media-pool.js';
import type { StoredRoom } from '../store/store.js';
import { layerForSize } from '../../rtp/layer-selector.js';
import { Dynacast } from './dynacast.js';
import { newId } from './ids.js';
import { QualityUpdates, type QualityReport } from './quality-updates.js';
import { Participant, maySource, mergedAttributes } from './participant.js';
import type { RoomLinks } from './room-links.js';
import type { RoomObservers } from './room-observer.js';

export const PROTOCOL_VERSION = 17;
const PING_INTERVAL_S = 5;
const PING_TIMEOUT_S = 15;

export interface RoomContext {
  pool: MediaPool;
  log: Logger;
  serverInfo: livekit.IServerInfo;
  iceServers: livekit.IICEServer[];
  observers: RoomObservers;
}

/** A room's own settings: config defaults, CreateRoom overrides, or what the store kept. */
export interface RoomSettings {
  emptyTimeout: number;
  departureTimeout: number;
  maxParticipants: number;
  metadata: string;
  /** Made with CreateRoom: kept across restarts. */
  createdByApi: boolean;
  /** Set when restoring a stored room. */
  sid?: string;
  creationTimeMs?: number;
}

/** Video layer qualities LiveKit gives rids q/h/f. */
const RID_QUALITY: Record<string, livekit.VideoQuality> = {
  q: livekit.VideoQuality.LOW,
  h: livekit.VideoQuality.MEDIUM,
  f: livekit.VideoQuality.HIGH,
};

export class Room {
  readonly sid: string;
  readonly createdAtMs: number;
  metadata: string;
  emptyTimeout: number;
  departureTimeout: number;
  maxParticipants: number;
  readonly createdByApi: boolean;
  /** Someone joined at some point: an empty room then closes after the departure timeout. */
  hadParticipants = false;
  readonly participants = new Map<string, Participant>();
  private readonly dynacast = new Dynacast((trackSid, update) => {
    this.publisherOf(trackSid)?.send({ subscribedQualityUpdate: update });
  });
  private readonly quality = new QualityUpdates();
  /** Speaker levels last sent to clients, by participant sid. */
  private readonly speakerLevels = new Map<string, number>();
  /**
   * Each worker's latest speakers of this room (publishers may be on several workers), and
   * each other node's (keyed by its node id) when the room spans nodes.
   */
  private readonly speakersBySlot = new Map<number | string, Array<{ sid: string; level: number }>>();
  /** Workers a track published here is relayed to, by track sid. */
  private readonly relaySlots = new Map<string, Set<number>>();
  private readonly byIdentity = new Map<string, Participant>();
  closed = false;
  /** The loudest speaker last announced to observers (the egress speaker layouts). */
  private lastLoudest = '';
  /** Tracks egresses record, with how many egresses record each. */
  private readonly recordedTracks = new Map<string, number>();
  /** An egress records this room (Room.active_recording; clients show it). */
  activeRecording = false;
  /**
   * The room spans nodes and its home is another node: this is this node's share of it, whose
   * lifecycle (timeouts, webhooks, the API) the home owns.
   */
  shard = false;
  /** Set while the room spans nodes (cascade/room-span.ts). */
  links: RoomLinks | null = null;

  constructor(readonly name: string, readonly slot: number, private readonly ctx: RoomContext, settings: RoomSettings) {
    this.sid = settings.sid ?? newId('RM_');
    this.createdAtMs = settings.creationTimeMs ?? Date.now();
    this.metadata = settings.metadata;
    this.emptyTimeout = settings.emptyTimeout;
    this.departureTimeout = settings.departureTimeout;
    this.maxParticipants = settings.maxParticipants;
    this.createdByApi = settings.createdByApi;
  }

  toProto(): livekit.IRoom {
    let publishers = 0;
    for (const p of this.participants.values()) if (p.tracks.size > 0) publishers++;
    return {
      sid: this.sid,
      name: this.name,
      emptyTimeout: this.emptyTimeout,
      departureTimeout: this.departureTimeout,
      maxParticipants: this.maxParticipants,
      creationTime: Math.floor(this.createdAtMs / 1000),
      creationTimeMs: this.createdAtMs,
      metadata: this.metadata,
      numParticipants: this.participants.size,
      numPublishers: publishers,
      activeRecording: this.activeRecording,
    };
  }

  participantBySid(sid: string): Participant | undefined {
    return this.participants.get(sid);
  }

  participantByIdentity(identity: string): Participant | undefined {
    return this.byIdentity.get(identity);
  }

  get isFull(): boolean {
    return this.maxParticipants > 0 && this.participants.size >= this.maxParticipants;
  }

  /**
   * The worker for a new participant: the room's own, until it carries `maxPerWorker`
   * subscribers (0: no limit); then the worker with the fewest of this room's subscribers.
   */
  slotForNewParticipant(maxPerWorker: number, workers: number): number {
    if (maxPerWorker <= 0) return this.slot;
    const load = new Array<number>(workers).fill(0);
    for (const p of this.participants.values()) if (p.permissions.canSubscribe) load[p.slot]!++;
    if (load[this.slot]! < maxPerWorker) return this.slot;
    let best = this.slot;
    for (let i = 0; i < workers; i++) if (load[i]! < load[best]!) best = i;
    return best;
  }

  /** The workers this room's participants are on. */
  private slots(): Set<number> {
    const slots = new Set<number>([this.slot]);
    for (const p of this.participants.values()) slots.add(p.slot);
    return slots;
  }

  /**
   * Admits a participant: replaces a session with the same identity, creates its peers on its
   * worker (linked by rings to the room's other workers), and sends JoinResponse (always the
   * first frame) and the first subscriber offer.
   */
  async join(p: Participant): Promise<void> {
    const previous = this.byIdentity.get(p.identity);
    if (previous) await this.leave(previous, livekit.DisconnectReason.DUPLICATE_IDENTITY, true);
    await Promise.all([...this.slots()].map((slot) => this.ctx.pool.link(slot, p.slot)));
    const { subscriberOffer } = await this.ctx.pool.run(p.slot, {
      op: 'join',
      participant: {
        roomId: this.sid, sid: p.sid, identity: p.identity,
        canPublishData: p.permissions.canPublishData, canSubscribe: p.permissions.canSubscribe,
        singlePeerConnection: p.singlePeerConnection, headless: p.headless,
      },
    });
    if (p.closed || this.closed) {
      await this.ctx.pool.run(p.slot, { op: 'leave', participantSid: p.sid });
      return;
    }
    p.state = livekit.ParticipantInfo.State.JOINED;
    p.touch();
    this.participants.set(p.sid, p);
    this.byIdentity.set(p.identity, p);
    this.hadParticipants = true;
    const others = [...this.participants.values()].filter((o) => o !== p && !o.hidden).map((o) => o.toInfo());
    p.send({
      join: {
        room: this.toProto(),
        participant: p.toInfo(),
        otherParticipants: others,
        serverVersion: this.ctx.serverInfo.version ?? '',
        iceServers: this.ctx.iceServers,
        // v1: always false, as LiveKit sends it (the client offers on its one connection).
        subscriberPrimary: !p.singlePeerConnection && p.permissions.canSubscribe,
        pingTimeout: PING_TIMEOUT_S,
        pingInterval: PING_INTERVAL_S,
        serverInfo: this.ctx.serverInfo,
        fastPublish: p.permissions.canPublish,
      },
    });
    if (subscriberOffer) p.send({ offer: { type: 'offer', sdp: subscriberOffer } });
    this.broadcastParticipant(p);
    if (p.autoSubscribe) {
      for (const other of this.participants.values()) {
        if (other === p) continue;
        for (const sid of other.tracks.keys()) await this.subscribe(p, sid, true);
      }
    }
  }

  /**
   * Removes a participant; `notify` sends it a LeaveRequest with `reason` and `action`
   * (RECONNECT: the client joins again at once) before closing.
   */
  async leave(p: Participant, reason: livekit.DisconnectReason, notify: boolean,
    action: livekit.LeaveRequest.Action = livekit.LeaveRequest.Action.DISCONNECT): Promise<void> {
    if (p.closed) return;
    p.closed = true;
    if (notify) {
      p.sink.send({ leave: { reason, action, canReconnect: action !== livekit.LeaveRequest.Action.DISCONNECT } });
      p.sink.close(1000, 'leave');
    }
    if (this.participants.get(p.sid) !== p) return;
    this.participants.delete(p.sid);
    this.quality.forget(p.sid);
    if (this.byIdentity.get(p.identity) === p) this.byIdentity.delete(p.identity);
    for (const other of this.participants.values()) for (const sid of p.tracks.keys()) other.subscriptions.delete(sid);
    for (const sid of p.tracks.keys()) this.dynacast.remove(sid);
    for (const sid of p.subscriptions) {
      this.updateDynacast(sid);
      const publisher = this.publisherOf(sid);
      if (publisher) this.releaseRemote(publisher, sid);
    }
    p.state = livekit.ParticipantInfo.State.DISCONNECTED;
    p.disconnectReason = reason;
    p.touch();
    if (!p.hidden) {
      const info = p.toInfo();
      for (const other of this.participants.values()) other.send({ update: { participants: [info] } });
    }
    for (const track of p.tracks.values()) this.ctx.observers.emit('trackUnpublished', this, p, track);
    this.ctx.observers.emit('participantLeft', this, p);
    try {
      await this.ctx.pool.run(p.slot, { op: 'leave', participantSid: p.sid });
      for (const sid of p.tracks.keys()) await this.endRelays(sid);
      for (const sid of p.subscriptions) await this.releaseRelay(sid, p.slot);
    } catch (err) {
      this.ctx.log.warn({ err, participant: p.sid }, 'media leave failed');
    }
  }

  /** Sends a participant's current info to everyone in the room (hidden ones only to themselves). */
  broadcastParticipant(p: Participant): void {
    this.ctx.observers.emit('participantUpdated', this, p);
    const msg: livekit.ISignalResponse = { update: { participants: [p.toInfo()] } };
    if (p.hidden) {
      p.send(msg);
      return;
    }
    for (const other of this.participants.values()) other.send(msg);
  }

  addTrack(p: Participant, req: livekit.IAddTrackRequest): void {
    const cid = req.cid ?? '';
    const source = req.source ?? livekit.TrackSource.UNKNOWN;
    const type = req.type ?? livekit.TrackType.AUDIO;
    if (!p.permissions.canPublish || !maySource(p.permissions, source) || type === livekit.TrackType.DATA) {
      p.send({
        requestResponse: {
          reason: livekit.RequestResponse.Reason.NOT_ALLOWED,
          message: type === livekit.TrackType.DATA ? 'data tracks are not supported' : 'participant may not publish this track',
          addTrack: req,
        },
      });
      return;
    }
    if (!cid) {
      p.send({ requestResponse: { reason: livekit.RequestResponse.Reason.INVALID_REQUEST, message: 'AddTrack needs a cid', addTrack: req } });
      return;
    }
    const existing = p.pending.get(cid);
    if (existing) {
      p.send({ trackPublished: { cid, track: existing.info } });
      return;
    }
    // Field by field: decoded protobufjs messages keep default values (quality LOW = 0) on
    // the prototype, where a spread would not see them.
    const layers: livekit.IVideoLayer[] = (req.layers ?? []).map((l) => ({
      quality: l.quality ?? livekit.VideoQuality.LOW, width: l.width ?? 0, height: l.height ?? 0, bitrate: l.bitrate ?? 0,
    }));
    const info: livekit.ITrackInfo = {
      sid: newId('TR_'),
      type,
      name: req.name ?? '',
      muted: req.muted ?? false,
      width: req.width ?? 0,
      height: req.height ?? 0,
      simulcast: layers.length > 1,
      disableDtx: req.disableDtx ?? false,
      source,
      layers,
      disableRed: req.disableRed ?? false,
      stereo: req.stereo ?? false,
      encryption: req.encryption ?? livekit.Encryption.Type.NONE,
      stream: req.stream ?? '',
      audioFeatures: req.audioFeatures ?? [],
      backupCodecPolicy: req.backupCodecPolicy ?? livekit.BackupCodecPolicy.PREFER_REGRESSION,
    };
    p.pending.set(cid, { cid, info, codec: req.simulcastCodecs?.[0]?.codec || undefined });
    p.send({ trackPublished: { cid, track: info } });
  }

  /** Answers a publisher offer and publishes the tracks its sections carry; returns the answer. */
  async publisherOffer(p: Participant, desc: livekit.ISessionDescription): Promise<string> {
    const pending: PendingTrack[] = [...p.pending.values()].map(({ cid, info, codec }) => ({
      cid, sid: info.sid!, kind: info.type === livekit.TrackType.VIDEO ? 'video' : 'audio', codec,
    }));
    const result = await this.ctx.pool.run(p.slot, {
      op: 'publisherOffer', participantSid: p.sid, sdp: desc.sdp ?? '', pending,
    });
    const { answer, published } = result;
    if (p.closed) return answer;
    const { midToTrackId } = result;
    p.send({ answer: { type: 'answer', sdp: answer, id: desc.id ?? 0, midToTrackId } });
    if (published.length === 0) return answer;
    const newTracks: livekit.ITrackInfo[] = [];
    for (const section of published) {
      const entry = [...p.pending.values()].find((e) => e.info.sid === section.trackSid);
      if (!entry) continue;
      p.pending.delete(entry.cid);
      const info = entry.info;
      info.mid = section.mid;
      info.mimeType = section.mimeType;
      if (section.rids.length > 0) {
        const declared = info.layers ?? [];
        info.layers = section.rids.map((rid, i) => {
          const quality = RID_QUALITY[rid] ?? i;
          const d = declared.find((l) => l.quality === quality);
          return { quality, width: d?.width ?? 0, height: d?.height ?? 0, bitrate: d?.bitrate ?? 0, rid, ssrc: 0 };
        });
      }
      info.codecs = [{ mimeType: section.mimeType, mid: section.mid, cid: entry.cid, layers: info.layers ?? [] }];
      newTracks.push(info);
    }
    await this.publishTracks(p, newTracks);
    return answer;
  }

  /**
   * Tracks of `p` that are now published (its offer carried them, or an ingress worker sends
   * them): everyone learns of them, auto-subscribers subscribe, dynacast starts.
   */
  async publishTracks(p: Participant, tracks: livekit.ITrackInfo[]): Promise<void> {
    if (tracks.length === 0 || p.closed) return;
    for (const info of tracks) p.tracks.set(info.sid!, info);
    p.touch();
    this.broadcastParticipant(p);
    for (const info of tracks) this.ctx.observers.emit('trackPublished', this, p, info);
    for (const other of this.participants.values()) {
      if (other === p || !other.autoSubscribe) continue;
      for (const info of tracks) await this.subscribe(other, info.sid!, true);
    }
    for (const info of tracks) this.updateDynacast(info.sid!);
  }

  async subscriberAnswer(p: Participant, sdp: string): Promise<void> {
    await this.ctx.pool.run(p.slot, { op: 'subscriberAnswer', participantSid: p.sid, sdp });
  }

  async remoteCandidate(p: Participant, target: 'publisher' | 'subscriber', candidate: string): Promise<void> {
    await this.ctx.pool.run(p.slot, { op: 'remoteCandidate', participantSid: p.sid, target, candidate });
  }

  setMuted(p: Participant, trackSid: string, muted: boolean): void {
    const track = p.tracks.get(trackSid) ?? [...p.pending.values()].find((e) => e.info.sid === trackSid)?.info;
    if (!track || track.muted === muted) return;
    track.muted = muted;
    p.touch();
    this.broadcastParticipant(p);
  }

  /** Subscribes `p` to a track; `auto` subscriptions skip what `p` may not receive without error. */
  async subscribe(p: Participant, trackSid: string, auto = false): Promise<void> {
    if (p.closed || p.subscriptions.has(trackSid)) return;
    const publisher = this.publisherOf(trackSid);
    if (!p.permissions.canSubscribe || !publisher || publisher === p) {
      if (!auto) p.send({ subscriptionResponse: { trackSid, err: livekit.SubscriptionError.SE_TRACK_NOTFOUND } });
      return;
    }
    p.subscriptions.add(trackSid);
    if (publisher.remoteNode !== null && !(await this.links?.fetchTrack(publisher, trackSid))) {
      p.subscriptions.delete(trackSid);
      this.releaseRemote(publisher, trackSid);
      if (!auto) p.send({ subscriptionResponse: { trackSid, err: livekit.SubscriptionError.SE_TRACK_NOTFOUND } });
      return;
    }
    const result = await this.subscribeOnWorker(p, publisher, trackSid);
    if (!result.ok) {
      p.subscriptions.delete(trackSid);
      this.releaseRemote(publisher, trackSid);
      this.ctx.log.warn({ participant: p.sid, trackSid, reason: result.reason }, 'subscribe failed');
      if (!auto) p.send({ subscriptionResponse: { trackSid, err: livekit.SubscriptionError.SE_TRACK_NOTFOUND } });
      return;
    }
    const settings = p.trackSettings.get(trackSid);
    if (settings) await this.ctx.pool.run(p.slot, { op: 'trackSettings', participantSid: p.sid, trackSid, ...settings });
    this.updateDynacast(trackSid);
    const firstSubscriber = [...this.participants.values()].filter((o) => o.subscriptions.has(trackSid)).length === 1;
    if (firstSubscriber) publisher.send({ trackSubscribed: { trackSid } });
  }

  /** A subscription on the subscriber's worker; from another worker, the track comes through its ring. */
  private async subscribeOnWorker(p: Participant, publisher: Participant, trackSid: string): Promise<{ ok: boolean; reason?: string }> {
    if (publisher.slot === p.slot) return this.ctx.pool.run(p.slot, { op: 'subscribe', participantSid: p.sid, trackSid });
    await this.ctx.pool.link(publisher.slot, p.slot);
    const track = await this.ctx.pool.run(publisher.slot, { op: 'relayStart', trackSid, toSlot: p.slot });
    if (!track) return { ok: false, reason: 'track not found on the publisher\'s worker' };
    let slots = this.relaySlots.get(trackSid);
    if (!slots) {
      slots = new Set();
      this.relaySlots.set(trackSid, slots);
    }
    slots.add(p.slot);
    const result = await this.ctx.pool.run(p.slot, { op: 'subscribe', participantSid: p.sid, trackSid, relay: { fromSlot: publisher.slot, track } });
    if (!result.ok) await this.releaseRelay(trackSid, p.slot);
    return result;
  }

  /** Stops relaying a track to `slot` once no participant there subscribes to it. */
  private async releaseRelay(trackSid: string, slot: number): Promise<void> {
    const slots = this.relaySlots.get(trackSid);
    if (!slots?.has(slot)) return;
    for (const o of this.participants.values()) if (o.slot === slot && o.subscriptions.has(trackSid)) return;
    slots.delete(slot);
    if (slots.size === 0) this.relaySlots.delete(trackSid);
    const publisher = this.publisherOf(trackSid);
    await Promise.all([
      this.ctx.pool.run(slot, { op: 'relayEnd', trackSid }),
      publisher ? this.ctx.pool.run(publisher.slot, { op: 'relayStop', trackSid, toSlot: slot }) : undefined,
    ]);
  }

  /** A relayed track is gone: the workers it was relayed to drop it. */
  private async endRelays(trackSid: string): Promise<void> {
    const slots = this.relaySlots.get(trackSid);
    if (!slots) return;
    this.relaySlots.delete(trackSid);
    await Promise.all([...slots].map((slot) => this.ctx.pool.run(slot, { op: 'relayEnd', trackSid })));
  }

  async unsubscribe(p: Participant, trackSid: string): Promise<void> {
    if (!p.subscriptions.delete(trackSid)) return;
    this.updateDynacast(trackSid);
    await this.ctx.pool.run(p.slot, { op: 'unsubscribe', participantSid: p.sid, trackSid });
    await this.releaseRelay(trackSid, p.slot);
    const publisher = this.publisherOf(trackSid);
    if (publisher) this.releaseRemote(publisher, trackSid);
  }

  /** A remote participant's track nobody here subscribes to any more stops coming. */
  private releaseRemote(publisher: Participant, trackSid: string): void {
    if (publisher.remoteNode === null || !this.links) return;
    for (const o of this.participants.values()) if (o.subscriptions.has(trackSid)) return;
    this.links.releaseTrack(publisher, trackSid);
  }

  /**
   * A subscriber's UpdateTrackSettings (adaptive stream, setVideoQuality, disable): turned into
   * the highest simulcast layer it needs, using the layer sizes the publisher announced.
   */
  async trackSettings(p: Participant, settings: livekit.IUpdateTrackSettings): Promise<void> {
    for (const trackSid of settings.trackSids ?? []) {
      const track = this.trackInfo(trackSid);
      if (!track) continue;
      const maxLayer = maxLayerFor(track, settings);
      this.ctx.log.debug({ participant: p.sid, trackSid, width: settings.width, height: settings.height, disabled: settings.disabled, maxLayer }, 'track settings');
      const priority = settings.priority ?? 0;
      p.trackSettings.set(trackSid, { maxLayer, priority });
      if (p.subscriptions.has(trackSid)) {
        await this.ctx.pool.run(p.slot, { op: 'trackSettings', participantSid: p.sid, trackSid, maxLayer, priority });
        this.updateDynacast(trackSid);
      }
    }
  }

  private trackInfo(trackSid: string): livekit.ITrackInfo | undefined {
    return this.publisherOf(trackSid)?.tracks.get(trackSid);
  }

  private publisherOf(trackSid: string): Participant | undefined {
    for (const o of this.participants.values()) if (o.tracks.has(trackSid)) return o;
    return undefined;
  }

  /** Recomputes the highest layer any subscriber (here or, through the links, elsewhere) needs for a simulcast video track. */
  updateDynacast(trackSid: string): void {
    const track = this.trackInfo(trackSid);
    const layers = track?.layers ?? [];
    if (!track || track.type !== livekit.TrackType.VIDEO || layers.length < 2) return;
    // A recording takes the top layer: the publisher must keep sending it.
    let needed = this.recordedTracks.has(trackSid) ? layers.length - 1 : -1;
    for (const o of this.participants.values()) {
      if (o.subscriptions.has(trackSid)) needed = Math.max(needed, Math.min(o.trackSettings.get(trackSid)?.maxLayer ?? layers.length - 1, layers.length - 1));
    }
    const publisher = this.publisherOf(trackSid)!;
    // A remote publisher's node runs its dynacast: it hears what this node needs.
    if (publisher.remoteNode !== null) {
      this.links?.demandLayer(publisher, trackSid, needed);
      return;
    }
    if (this.links) needed = Math.max(needed, Math.min(this.links.remoteDemand(trackSid), layers.length - 1));
    this.dynacast.update(trackSid, layers, track.mimeType ?? 'video/VP8', needed);
  }

  /**
   * A worker's current speakers → SpeakersChanged deltas (protocol > 2): participants whose
   * level changed, and `active: false` for those who stopped speaking.
   */
  onSpeakers(slot: number | string, speakers: Array<{ sid: string; level: number }>): void {
    this.speakersBySlot.set(slot, speakers);
    // This node's speakers, for the room's other nodes (each measures its own publishers).
    if (typeof slot === 'number' && this.links) this.links.speakersChanged(this.localSpeakers());
    const changed: livekit.ISpeakerInfo[] = [];
    const now = new Map([...this.speakersBySlot.values()].flat().filter((s) => {
      const p = this.participants.get(s.sid);
      return p !== undefined && !p.hidden;
    }).map((s) => [s.sid, s.level]));
    for (const [sid, level] of now) {
      if (this.speakerLevels.get(sid) !== level) changed.push({ sid, level, active: true });
    }
    for (const sid of this.speakerLevels.keys()) if (!now.has(sid)) changed.push({ sid, level: 0, active: false });
    this.speakerLevels.clear();
    for (const [sid, level] of now) this.speakerLevels.set(sid, level);
    const loudest = this.loudestSpeaker();
    if (loudest && loudest !== this.lastLoudest) {
      this.lastLoudest = loudest;
      this.ctx.observers.emit('loudestSpeakerChanged', this, loudest);
    }
    if (changed.length === 0) return;
    for (const p of this.participants.values()) p.send({ speakersChanged: { speakers: changed } });
  }

  /** A participant's speaking level now (0: silent), as last announced. */
  speakingLevel(sid: string): number {
    return this.speakerLevels.get(sid) ?? 0;
  }

  /** A participant's connection quality level as last announced (undefined: none yet). */
  qualityOf(sid: string): number | undefined {
    return this.quality.levelOf(sid);
  }

  /** The participants of this node speaking now, loudest first (as its workers last said). */
  localSpeakers(): Array<{ sid: string; level: number }> {
    const local: Array<{ sid: string; level: number }> = [];
    for (const [k, list] of this.speakersBySlot) if (typeof k === 'number') local.push(...list);
    return local.sort((a, b) => b.level - a.level);
  }

  /**
   * A worker's connection quality of its participants (every 5 s), or another node's of its own
   * participants: when a level changed, everyone gets the levels of everyone they can see
   * (quality-updates.ts).
   */
  onQuality(reports: QualityReport[], fromOtherNode = false): void {
    if (!fromOtherNode && this.links) {
      // A remote participant's quality is its own node's to measure: its stand-in here has no connection.
      reports = reports.filter((r) => this.participants.get(r.sid)?.remoteNode === null);
      this.links.qualityChanged(reports);
    }
    const updates = this.quality.report(reports, (sid) => {
      const p = this.participants.get(sid);
      return p !== undefined && !p.hidden;
    });
    if (updates === null || updates.length === 0) return;
    for (const p of this.participants.values()) p.send({ connectionQuality: { updates } });
  }

  /** Events from the media worker about this room's participants. */
  onMediaEvent(p: Participant, e: MediaEvent): void {
    switch (e.ev) {
      case 'offer':
        p.send({ offer: { type: 'offer', sdp: e.sdp } });
        break;
      case 'candidate':
        p.send({ trickle: { candidateInit: e.candidateInit, target: e.target === 'publisher' ? livekit.SignalTarget.PUBLISHER : livekit.SignalTarget.SUBSCRIBER } });
        break;
      case 'mediaSections':
        p.send({ mediaSectionsRequirement: { numAudios: e.audios, numVideos: e.videos } });
        break;
      case 'pcState':
        if (e.state === 'failed' && !p.away) this.onConnectionFailed(p);
        if (e.state === 'connected') this.markActive(p);
        break;
      case 'layerSsrc': {
        const track = p.tracks.get(e.trackSid);
        const layer = track?.layers?.[e.layer];
        if (track && layer && layer.ssrc !== e.ssrc) {
          layer.ssrc = e.ssrc;
          p.touch();
          this.broadcastParticipant(p);
        }
        break;
      }
      case 'streamState':
        p.send({ streamStateUpdate: { streamStates: [{
          participantSid: e.publisherSid, trackSid: e.trackSid, state: e.paused ? livekit.StreamState.PAUSED : livekit.StreamState.ACTIVE,
        }] } });
        break;
      case 'error':
        break;
    }
  }

  /** The participant's media is up (its connection, or an ingress's first track): ACTIVE. */
  markActive(p: Participant): void {
    if (p.state === livekit.ParticipantInfo.State.ACTIVE || p.closed) return;
    p.state = livekit.ParticipantInfo.State.ACTIVE;
    p.wasActive = true;
    p.touch();
    this.broadcastParticipant(p);
    // Who speaks now, once the client is up: levels are sent when they change, and a steady
    // speaker's may not change for a while.
    if (this.speakerLevels.size > 0) {
      p.send({ speakersChanged: { speakers: [...this.speakerLevels].map(([sid, level]) => ({ sid, level, active: true })) } });
    }
    this.ctx.observers.emit('participantActive', this, p);
  }

  /**
   * One of Strand's connections to a connected client failed: the client is asked to resume
   * (leave RESUME), and the resume's ICE restarts get new native connections, as LiveKit does.
   */
  private onConnectionFailed(p: Participant): void {
    p.send({ leave: { reason: livekit.DisconnectReason.MEDIA_FAILURE, action: livekit.LeaveRequest.Action.RESUME, canReconnect: true } });
    p.sink.close(1000, 'connection failed, resume');
  }

  /** SimulateScenario speaker_update: `p` is shown speaking for `seconds`, as LiveKit does. */
  simulateSpeaker(p: Participant, seconds: number): void {
    const send = (active: boolean) => {
      for (const o of this.participants.values()) o.send({ speakersChanged: { speakers: [{ sid: p.sid, level: active ? 0.9 : 0, active }] } });
    };
    send(true);
    setTimeout(() => {
      if (!this.closed) send(false);
    }, Math.max(0, seconds) * 1000).unref();
  }

  /** What the store keeps of this room. */
  toStored(): StoredRoom {
    return {
      sid: this.sid, name: this.name, metadata: this.metadata, emptyTimeout: this.emptyTimeout,
      departureTimeout: this.departureTimeout, maxParticipants: this.maxParticipants,
      creationTimeMs: this.createdAtMs, createdByApi: this.createdByApi,
    };
  }

  /** Room metadata (UpdateRoomMetadata): every participant gets a RoomUpdate. */
  setMetadata(metadata: string): void {
    this.metadata = metadata;
    this.ctx.observers.emit('roomUpdated', this);
    const room = this.toProto();
    for (const p of this.participants.values()) p.send({ roomUpdate: { room } });
    if (!this.shard) this.links?.roomUpdated(room);
  }

  /** The identity of the loudest participant speaking now ('' if nobody is). */
  loudestSpeaker(): string {
    let best = '';
    let level = 0;
    for (const [sid, l] of this.speakerLevels) {
      const p = this.participants.get(sid);
      if (p && l > level) {
        level = l;
        best = p.identity;
      }
    }
    return best;
  }

  /** An egress starts (or stops) recording a track: it counts as a subscriber of the top layer. */
  setTrackRecorded(trackSid: string, on: boolean): void {
    const n = (this.recordedTracks.get(trackSid) ?? 0) + (on ? 1 : -1);
    if (n > 0) this.recordedTracks.set(trackSid, n);
    else this.recordedTracks.delete(trackSid);
    this.updateDynacast(trackSid);
  }

  /** An egress of this room started or the last one ended: every participant gets a RoomUpdate. */
  setRecording(on: boolean): void {
    if (this.activeRecording === on) return;
    this.activeRecording = on;
    const room = this.toProto();
    for (const p of this.participants.values()) p.send({ roomUpdate: { room } });
  }

  /**
   * An admin's UpdateParticipant: name, metadata and attributes (an empty value deletes an
   * attribute), and permissions. Losing canSubscribe ends the participant's subscriptions;
   * losing canPublish unpublishes its tracks, as LiveKit does.
   */
  async updateParticipant(p: Participant, u: { name?: string; metadata?: string; attributes?: Record<string, string>; permission?: Permissions }): Promise<void> {
    if (p.remoteNode !== null) {
      this.links?.callRemote(p, { update: u });
      return;
    }
    if (u.name) p.name = u.name;
    if (u.metadata) p.metadata = u.metadata;
    p.attributes = mergedAttributes(p.attributes, u.attributes);
    const before = p.permissions;
    if (u.permission) {
      p.permissions = u.permission;
      await this.ctx.pool.run(p.slot, {
        op: 'updatePermissions', participantSid: p.sid, canPublishData: u.permission.canPublishData, canSubscribe: u.permission.canSubscribe,
      });
    }
    p.touch();
    this.broadcastParticipant(p);
    if (before.canSubscribe && !p.permissions.canSubscribe) {
      for (const sid of [...p.subscriptions]) await this.unsubscribe(p, sid);
    }
    if (before.canPublish && !p.permissions.canPublish) {
      for (const sid of [...p.tracks.keys()]) await this.unpublish(p, sid);
    } else if (!before.canSubscribe && p.permissions.canSubscribe && p.autoSubscribe) {
      for (const other of this.participants.values()) {
        if (other === p) continue;
        for (const sid of other.tracks.keys()) await this.subscribe(p, sid, true);
      }
    }
  }

  /**
   * Server-initiated mute (MutePublishedTrack): the publisher is told to mute, and everyone
   * sees the track muted at once. Returns the track, or undefined when it does not exist.
   */
  mutePublishedTrack(p: Participant, trackSid: string, muted: boolean): livekit.ITrackInfo | undefined {
    const track = p.tracks.get(trackSid);
    if (!track) return undefined;
    if (p.remoteNode !== null) {
      this.links?.callRemote(p, { mute: { trackSid, muted } });
      return { ...track, muted };
    }
    p.send({ mute: { sid: trackSid, muted } });
    this.setMuted(p, trackSid, muted);
    return track;
  }

  /** Server-initiated unpublish: subscribers lose the track and the publisher is told. */
  async unpublish(p: Participant, trackSid: string): Promise<void> {
    const track = p.tracks.get(trackSid);
    if (!track) return;
    p.tracks.delete(trackSid);
    for (const other of this.participants.values()) other.subscriptions.delete(trackSid);
    this.dynacast.remove(trackSid);
    await this.ctx.pool.run(p.slot, { op: 'unpublish', participantSid: p.sid, trackSid });
    await this.endRelays(trackSid);
    p.send({ trackUnpublished: { trackSid } });
    p.touch();
    this.broadcastParticipant(p);
    this.ctx.observers.emit('trackUnpublished', this, p, track);
  }

  /**
   * A DataPacket from the server (SendData) to everyone, or to the identities listed;
   * `fromOtherNode`: another node of the room passed it on, for the participants here only.
   */
  async sendData(packet: Uint8Array, reliable: boolean, identities: string[], fromOtherNode = false): Promise<void> {
    if (!fromOtherNode) this.links?.sendData(packet, reliable, identities);
    await Promise.all([...this.slots()].map((slot) => this.ctx.pool.run(slot, { op: 'sendData', roomId: this.sid, data: packet, reliable, identities })));
  }

  /**
   * Closes the room: everyone gets a LeaveRequest with `reason` and `action` (RECONNECT when
   * the room goes on elsewhere: a draining node of a cluster).
   */
  async close(reason: livekit.DisconnectReason, action = livekit.LeaveRequest.Action.DISCONNECT): Promise<void> {
    this.closed = true;
    this.dynacast.close();
    this.links?.roomClosed(reason);
    await Promise.allSettled([...this.participants.values()].map((p) => this.leave(p, reason, true, action)));
  }
}

/** The highest layer index a subscriber needs for `track`, or -1 when it disabled the track. */
export function maxLayerFor(track: livekit.ITrackInfo, s: livekit.IUpdateTrackSettings): number {
  if (s.disabled) return -1;
  const layers = (track.layers ?? []).map((l) => ({ width: l.width ?? 0, height: l.height ?? 0, quality: l.quality ?? 0 }));
  if (layers.length === 0) return 0;
  if ((s.width ?? 0) > 0 || (s.height ?? 0) > 0) return layerForSize(layers, s.width ?? 0, s.height ?? 0);
  // No size: the (deprecated) quality field; the highest layer at or below it.
  const quality = s.quality ?? livekit.VideoQuality.HIGH;
  let best = 0;
  for (const [i, l] of layers.entries()) if (l.quality <= quality) best = i;
  return best;
}
