// All rooms of this node: creation (auto-create on join, or CreateRoom), placement on media
// workers, routing of worker events to rooms, closing rooms that stay empty, and picking up
// what the store kept after a restart.
import { livekit } from '../../proto/index.js';
import type { MediaEvent } from '../../workers/protocol.js';
import type { ClaimGrants } from '../auth/grants.js';
import { permissionsFromGrant } from '../auth/grants.js';
import type { StrandConfig } from '../config.js';
import type { Logger } from '../logger.js';
import type { MediaPool } from '../media-pool.js';
import { newId } from './ids.js';
import { Participant, kindFromClaim, type SignalSink } from './participant.js';
import { Room, type RoomContext, type RoomSettings } from './room.js';
import { keepWhileAway, resumeSession } from './session-resume.js';

export class JoinError extends Error {
  constructor(message: string, readonly status: number) {
    super(message);
  }
}

export interface JoinParams {
  autoSubscribe: boolean;
  clientProtocol: number;
  /** v1 signalling (/rtc/v1): one PeerConnection, offered by the client. */
  singlePeerConnection: boolean;
  /** No connections: the participant's tracks are injected (RTMP and URL ingress). */
  headless?: boolean;
}

/** A resume that cannot be honoured: the client must join again (leave RECONNECT). */
export class ResumeError extends Error {}

/**
 * How long a participant whose signal connection dropped stays in the room, waiting for it to
 * resume, ms. LiveKit keeps it while its PeerConnection lives, about 20 s for a vanished client.
 */
export const RESUME_GRACE_MS = 20_000;

/** CreateRoom's settings; zero means "the configured default", as in LiveKit. */
export interface CreateRoomOptions {
  emptyTimeout?: number;
  departureTimeout?: number;
  maxParticipants?: number;
  metadata?: string;
}

export class RoomManager {
  readonly rooms = new Map<string, Room>();
  /** Draining (SIGTERM, `strand drain`): no new rooms; the existing ones go on until they empty. */
  draining = false;
  private readonly roomsBySid = new Map<string, Room>();
  private readonly roomOfParticipant = new Map<string, Room>();
  private readonly closeTimers = new Map<Room, NodeJS.Timeout>();
  /** Participants whose signal is away, and when their grace period ends. */
  private readonly graceTimers = new Map<Participant, NodeJS.Timeout>();
  /** RemoveParticipant's revoke_token_ts: tokens issued (nbf) before it may not rejoin. */
  private readonly revokedBefore = new Map<string, number>();

  constructor(private readonly cfg: StrandConfig, private readonly pool: MediaPool, private readonly ctx: RoomContext, private readonly log: Logger) {}

  get limits(): StrandConfig['limit'] {
    return this.cfg.limit;
  }

  /** Checks, before the WebSocket upgrade, that a join can succeed. */
  precheck(claims: ClaimGrants): void {
    const roomName = claims.video.room ?? '';
    const room = this.rooms.get(roomName);
    if (!room && this.draining) throw new JoinError('this server is draining: it takes no new rooms', 503);
    if (!room && !this.cfg.room.autoCreate) throw new JoinError('requested room does not exist', 404);
    if (room?.isFull) throw new JoinError('room is full', 403);
    const revoked = this.revokedBefore.get(`${roomName}\n${claims.identity}`);
    if (revoked !== undefined && (claims.notBefore ?? 0) < revoked) throw new JoinError('token was revoked', 401);
  }

  /** A room the store kept across a restart (store/recovery.ts): no room_started again. */
  adopt(stored: RoomSettings & { name: string }): Room {
    return this.create(stored.name, stored, false);
  }

  /**
   * This node's share of a room whose home is another node (cascading): the home's sid and
   * settings; no room_started here (observers see only the home's).
   */
  openShard(name: string, settings: RoomSettings): Room {
    const existing = this.rooms.get(name);
    if (existing && !existing.closed) return existing;
    return this.create(name, settings, false, true);
  }

  /**
   * This node's share of a room becomes its home (the home died): the room's lifecycle is this
   * node's now, and observers see the room from here on.
   */
  promoteShard(room: Room): void {
    if (!room.shard) return;
    room.shard = false;
    this.ctx.observers.emit('roomUpdated', room);
    this.scheduleCloseIfEmpty(room);
  }

  /** A participant of another node stands in here (cascade/remote-participant.ts). */
  async joinRemote(room: Room, p: Participant): Promise<void> {
    this.cancelClose(room);
    await this.place(room, p);
  }

  /** Puts `p` on a worker of `room` and into it; undone if the join fails. */
  private async place(room: Room, p: Participant): Promise<void> {
    p.slot = room.slotForNewParticipant(this.cfg.rtc.maxSubscribersPerWorker, this.pool.size);
    this.roomOfParticipant.set(p.sid, room);
    try {
      await room.join(p);
    } catch (err) {
      this.roomOfParticipant.delete(p.sid);
      this.scheduleCloseIfEmpty(room);
      throw err;
    }
  }

  private create(name: string, settings: RoomSettings, announce = true, shard = false): Room {
    const slot = this.pool.placeRoom(name);
    const room = new Room(name, slot, this.ctx, settings);
    room.shard = shard;
    this.rooms.set(name, room);
    this.roomsBySid.set(room.sid, room);
    this.log.info({ room: name, sid: room.sid, worker: slot, api: settings.createdByApi }, 'room created');
    if (announce) this.ctx.observers.emit('roomStarted', room);
    this.scheduleCloseIfEmpty(room);
    return room;
  }

  private defaults(): RoomSettings {
    const r = this.cfg.room;
    return { emptyTimeout: r.emptyTimeout, departureTimeout: r.departureTimeout, maxParticipants: r.maxParticipants, metadata: '', createdByApi: false };
  }

  /** CreateRoom: the room as asked, or the existing room of that name unchanged. */
  createRoom(name: string, opts: CreateRoomOptions): Room {
    const existing = this.rooms.get(name);
    if (existing && !existing.closed) return existing;
    const d = this.defaults();
    return this.create(name, {
      emptyTimeout: opts.emptyTimeout || d.emptyTimeout,
      departureTimeout: opts.departureTimeout || d.departureTimeout,
      maxParticipants: opts.maxParticipants || d.maxParticipants,
      metadata: opts.metadata ?? '',
      createdByApi: true,
    });
  }

  private getOrCreate(name: string): Room {
    const room = this.rooms.get(name);
    if (room && !room.closed) return room;
    if (this.draining) throw new JoinError('this server is draining: it takes no new rooms', 503);
    if (!this.cfg.room.autoCreate) throw new JoinError('requested room does not exist', 404);
    return this.create(name, this.defaults());
  }

  async join(claims: ClaimGrants, params: JoinParams, sink: SignalSink): Promise<{ room: Room; participant: Participant }> {
    const roomName = claims.video.room ?? '';
    const room = this.getOrCreate(roomName);
    if (room.isFull) throw new JoinError('room is full', 403);
    this.cancelClose(room);
    const p = new Participant(
      newId('PA_'), claims.identity, claims.name, claims.metadata, claims.attributes,
      permissionsFromGrant(claims.video), params.autoSubscribe, params.clientProtocol, sink, params.singlePeerConnection,
    );
    p.kind = kindFromClaim(claims.kind);
    p.headless = params.headless ?? false;
    await this.place(room, p);
    this.log.info({ room: roomName, participant: p.sid, identity: p.identity }, 'participant joined');
    return { room, participant: p };
  }

  async leave(room: Room, p: Participant, reason: livekit.DisconnectReason, notify: boolean,
    action?: livekit.LeaveRequest.Action): Promise<void> {
    this.cancelGrace(p);
    await room.leave(p, reason, notify, action);
    this.roomOfParticipant.delete(p.sid);
    this.log.info({ room: room.name, participant: p.sid, reason: livekit.DisconnectReason[reason] }, 'participant left');
    this.scheduleCloseIfEmpty(room);
  }

  /**
   * `sink` (a signal connection) closed without a leave. A participant whose connection never
   * came up leaves at once (LiveKit: SIGNAL_CLOSE); any other may resume within RESUME_GRACE_MS.
   */
  async signalLost(room: Room, p: Participant, sink: SignalSink): Promise<void> {
    if (p.closed || p.sink !== sink) return; // replaced by a resume or a newer session
    if (!p.wasActive) {
      await this.leave(room, p, livekit.DisconnectReason.SIGNAL_CLOSE, false);
      return;
    }
    this.log.info({ room: room.name, participant: p.sid }, 'signal lost, waiting for a resume');
    this.cancelGrace(p);
    const timer = setTimeout(() => {
      this.graceTimers.delete(p);
      void this.leave(room, p, livekit.DisconnectReason.CONNECTION_TIMEOUT, false);
    }, RESUME_GRACE_MS);
    timer.unref();
    this.graceTimers.set(p, timer);
    await keepWhileAway(this.ctx, p);
  }

  /**
   * A resume of the session in the token's room and identity, on a new signal connection.
   * Throws ResumeError when there is nothing to resume (unknown or closed participant, another
   * sid, connections gone); the participant is then removed and the client joins again.
   */
  async resume(claims: ClaimGrants, participantSid: string, sink: SignalSink): Promise<{ room: Room; participant: Participant }> {
    const room = this.rooms.get(claims.video.room ?? '');
    const p = room?.participantByIdentity(claims.identity);
    if (!room || !p || p.closed || (participantSid !== '' && p.sid !== participantSid)) {
      throw new ResumeError(`no session ${participantSid || claims.identity} to resume`);
    }
    this.cancelGrace(p);
    if (!(await resumeSession(this.ctx, room, p, sink))) {
      await this.leave(room, p, livekit.DisconnectReason.STATE_MISMATCH, false);
      throw new ResumeError(`session ${p.sid} lost its connections`);
    }
    this.log.info({ room: room.name, participant: p.sid }, 'participant resumed');
    return { room, participant: p };
  }

  private cancelGrace(p: Participant): void {
    const t = this.graceTimers.get(p);
    if (t) clearTimeout(t);
    this.graceTimers.delete(p);
  }

  /** RemoveParticipant: the participant gets a leave with PARTICIPANT_REMOVED. */
  async removeParticipant(room: Room, p: Participant, revokeTokensBefore: number): Promise<void> {
    if (p.remoteNode !== null) {
      room.links?.callRemote(p, { remove: true });
      return;
    }
    if (revokeTokensBefore > 0) this.revokedBefore.set(`${room.name}\n${p.identity}`, revokeTokensBefore);
    await this.leave(room, p, livekit.DisconnectReason.PARTICIPANT_REMOVED, true);
  }

  /** Closes a room now: participants get a leave with `reason`, observers see it finish. */
  async closeRoom(room: Room, reason: livekit.DisconnectReason, endReason: livekit.RoomEndReason,
    action = livekit.LeaveRequest.Action.DISCONNECT): Promise<void> {
    if (this.rooms.get(room.name) !== room) return;
    this.cancelClose(room);
    this.rooms.delete(room.name);
    this.roomsBySid.delete(room.sid);
    for (const p of room.participants.values()) this.roomOfParticipant.delete(p.sid);
    await room.close(reason, action);
    this.pool.releaseRoom(room.name);
    this.log.info({ room: room.name, reason: livekit.RoomEndReason[endReason] }, 'room closed');
    this.ctx.observers.emit('roomFinished', room, endReason);
  }

  onMediaEvent(slot: number, e: MediaEvent): void {
    if (e.ev === 'error') {
      this.log.warn({ worker: slot, where: e.where }, `media worker error: ${e.message}`);
      return;
    }
    if (e.ev === 'fault') {
      this.onWorkerFault(slot, e.message, e.participantSids);
      return;
    }
    if (e.ev === 'speakers') {
      this.roomsBySid.get(e.roomId)?.onSpeakers(slot, e.speakers);
      return;
    }
    if (e.ev === 'quality') {
      this.roomsBySid.get(e.roomId)?.onQuality(e.updates);
      return;
    }
    if (e.ev === 'pcState') this.log.debug({ participant: e.participantSid, target: e.target, state: e.state }, 'peer connection state');
    const room = this.roomOfParticipant.get(e.participantSid);
    const p = room?.participantBySid(e.participantSid);
    if (room && p) room.onMediaEvent(p, e);
  }

  /**
   * Media worker `slot` dropped its participants after an exception (MediaWorker.fault): each is
   * told to reconnect (LiveKit's full reconnect: a new join, tracks published again), as for a
   * failed media connection. Their rooms and everyone on other workers stay.
   */
  private onWorkerFault(slot: number, message: string, sids: string[]): void {
    this.log.error({ worker: slot, participants: sids.length, err: message }, 'media worker fault: its participants reconnect');
    for (const sid of sids) {
      const room = this.roomOfParticipant.get(sid);
      const p = room?.participantBySid(sid);
      if (room && p) this.reconnectAfterMediaFailure(room, p);
    }
  }

  /**
   * Media worker `slot`'s thread exited and a new one is taking its place (MediaPool): the
   * participants it hosted lost their connections with it and are told to reconnect, as after
   * a fault. Their leaves reach the new worker, which knows nobody and ignores them.
   */
  onWorkerReplaced(slot: number): void {
    for (const room of this.rooms.values()) {
      for (const p of [...room.participants.values()]) {
        if (p.slot === slot && p.remoteNode === null) this.reconnectAfterMediaFailure(room, p);
      }
    }
  }

  private reconnectAfterMediaFailure(room: Room, p: Participant): void {
    void this.leave(room, p, livekit.DisconnectReason.MEDIA_FAILURE, true, livekit.LeaveRequest.Action.RECONNECT);
  }

  private cancelClose(room: Room): void {
    const t = this.closeTimers.get(room);
    if (t) clearTimeout(t);
    this.closeTimers.delete(room);
  }

  /**
   * An empty room closes after its departure timeout once someone has left it, or after its
   * empty timeout when nobody has joined yet; a join in the meantime keeps it.
   */
  private scheduleCloseIfEmpty(room: Room): void {
    if (room.participants.size > 0 || room.closed || this.closeTimers.has(room)) return;
    const seconds = room.hadParticipants ? room.departureTimeout : room.emptyTimeout;
    const timer = setTimeout(() => {
      this.closeTimers.delete(room);
      if (room.participants.size > 0) return;
      void this.closeRoom(room, livekit.DisconnectReason.ROOM_CLOSED, livekit.RoomEndReason.ROOM_END_IDLE_TIMEOUT);
    }, seconds * 1000);
    timer.unref();
    this.closeTimers.set(room, timer);
  }

  /** This node's own participants, in every room (remote participants of rooms spanning nodes are not counted). */
  get localParticipants(): number {
    let n = 0;
    for (const room of this.rooms.values()) for (const p of room.participants.values()) if (p.remoteNode === null) n++;
    return n;
  }

  /** Draining with `shutdown.drain`: every participant here is told to reconnect (elsewhere) and leaves. */
  async askEveryoneToReconnect(): Promise<void> {
    await Promise.allSettled([...this.rooms.values()].flatMap((room) => [...room.participants.values()]
      .filter((p) => p.remoteNode === null)
      .map((p) => this.leave(room, p, livekit.DisconnectReason.SERVER_SHUTDOWN, true, livekit.LeaveRequest.Action.RECONNECT))));
  }

  /**
   * Shutdown: everyone leaves. Rooms made with CreateRoom stay in the store for the next start;
   * rooms made by joins finish.
   */
  async closeAll(reason: livekit.DisconnectReason, action = livekit.LeaveRequest.Action.DISCONNECT): Promise<void> {
    for (const t of this.closeTimers.values()) clearTimeout(t);
    this.closeTimers.clear();
    for (const t of this.graceTimers.values()) clearTimeout(t);
    this.graceTimers.clear();
    await Promise.allSettled([...this.rooms.values()].map(async (room) => {
      if (!room.createdByApi) return this.closeRoom(room, reason, livekit.RoomEndReason.ROOM_END_SERVER_SHUTDOWN, action);
      await room.close(reason, action);
    }));
    this.rooms.clear();
    this.roomsBySid.clear();
  }
}
