// All rooms of this node: creation (auto-create on join), placement on media workers,
// routing of worker events to rooms, and closing rooms that emptied.
import { livekit } from '../../proto/index.js';
import type { MediaEvent } from '../../workers/protocol.js';
import type { ClaimGrants } from '../auth/grants.js';
import { permissionsFromGrant } from '../auth/grants.js';
import type { StrandConfig } from '../config.js';
import type { Logger } from '../logger.js';
import type { MediaPool } from '../media-pool.js';
import { newId } from './ids.js';
import { Participant, type SignalSink } from './participant.js';
import { Room, type RoomContext } from './room.js';

export class JoinError extends Error {
  constructor(message: string, readonly status: number) {
    super(message);
  }
}

export interface JoinParams {
  autoSubscribe: boolean;
  clientProtocol: number;
}

export class RoomManager {
  readonly rooms = new Map<string, Room>();
  private readonly roomsBySid = new Map<string, Room>();
  private readonly roomOfParticipant = new Map<string, Room>();
  private readonly cleanupTimers = new Map<string, NodeJS.Timeout>();

  constructor(private readonly cfg: StrandConfig, private readonly pool: MediaPool, private readonly ctx: RoomContext, private readonly log: Logger) {}

  /** Checks, before the WebSocket upgrade, that a join can succeed. */
  precheck(roomName: string): void {
    const room = this.rooms.get(roomName);
    if (!room && !this.cfg.room.autoCreate) throw new JoinError('requested room does not exist', 404);
    if (room?.isFull) throw new JoinError('room is full', 403);
  }

  private getOrCreate(name: string): Room {
    let room = this.rooms.get(name);
    if (room && !room.closed) return room;
    if (!this.cfg.room.autoCreate) throw new JoinError('requested room does not exist', 404);
    const slot = this.pool.placeRoom(name);
    room = new Room(name, slot, this.ctx, this.cfg.room.emptyTimeout, this.cfg.room.departureTimeout, this.cfg.room.maxParticipants);
    this.rooms.set(name, room);
    this.roomsBySid.set(room.sid, room);
    this.log.info({ room: name, sid: room.sid, worker: slot }, 'room created');
    return room;
  }

  async join(claims: ClaimGrants, params: JoinParams, sink: SignalSink): Promise<{ room: Room; participant: Participant }> {
    const roomName = claims.video.room ?? '';
    const room = this.getOrCreate(roomName);
    if (room.isFull) throw new JoinError('room is full', 403);
    this.cancelCleanup(roomName);
    const p = new Participant(
      newId('PA_'), claims.identity, claims.name, claims.metadata, claims.attributes,
      permissionsFromGrant(claims.video), params.autoSubscribe, params.clientProtocol, sink,
    );
    this.roomOfParticipant.set(p.sid, room);
    try {
      await room.join(p);
    } catch (err) {
      this.roomOfParticipant.delete(p.sid);
      this.scheduleCleanupIfEmpty(room);
      throw err;
    }
    this.log.info({ room: roomName, participant: p.sid, identity: p.identity }, 'participant joined');
    return { room, participant: p };
  }

  async leave(room: Room, p: Participant, reason: livekit.DisconnectReason, notify: boolean): Promise<void> {
    await room.leave(p, reason, notify);
    this.roomOfParticipant.delete(p.sid);
    this.log.info({ room: room.name, participant: p.sid, reason: livekit.DisconnectReason[reason] }, 'participant left');
    this.scheduleCleanupIfEmpty(room);
  }

  onMediaEvent(slot: number, e: MediaEvent): void {
    if (e.ev === 'error') {
      this.log.warn({ worker: slot, where: e.where }, `media worker error: ${e.message}`);
      return;
    }
    if (e.ev === 'speakers') {
      this.roomsBySid.get(e.roomId)?.onSpeakers(e.speakers);
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

  private cancelCleanup(name: string): void {
    const t = this.cleanupTimers.get(name);
    if (t) clearTimeout(t);
    this.cleanupTimers.delete(name);
  }

  /** An empty room closes after its departure timeout, unless someone joins first. */
  private scheduleCleanupIfEmpty(room: Room): void {
    if (room.participants.size > 0 || this.cleanupTimers.has(room.name)) return;
    const timer = setTimeout(() => {
      this.cleanupTimers.delete(room.name);
      if (room.participants.size > 0 || this.rooms.get(room.name) !== room) return;
      this.rooms.delete(room.name);
      this.roomsBySid.delete(room.sid);
      this.pool.releaseRoom(room.name);
      room.closed = true;
      this.log.info({ room: room.name }, 'room closed');
    }, room.departureTimeout * 1000);
    timer.unref();
    this.cleanupTimers.set(room.name, timer);
  }

  async closeAll(reason: livekit.DisconnectReason): Promise<void> {
    for (const t of this.cleanupTimers.values()) clearTimeout(t);
    this.cleanupTimers.clear();
    await Promise.allSettled([...this.rooms.values()].map((r) => r.close(reason)));
    this.rooms.clear();
    this.roomsBySid.clear();
  }
}
