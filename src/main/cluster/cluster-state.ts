// This node's rooms as the cluster sees them: each room (`rooms`, room → livekit.Room) and its
// participants (`room_participants:<room>`, identity → ParticipantInfo), written by the room's
// node as they change, batched per turn of the event loop. ListRooms reads them back for the
// whole cluster, leaving out rooms whose node is not available (no stranded copies).
import { livekit } from '../../proto/index.js';
import { TwirpError } from '../api/twirp.js';
import type { Logger } from '../logger.js';
import type { Participant } from '../rooms/participant.js';
import type { Room } from '../rooms/room.js';
import type { RoomObserver } from '../rooms/room-observer.js';
import { ROOM_NODE_KEY, ROOMS_KEY, participantsKey, type NodeRegistry } from './node-registry.js';
import type { RedisConnection } from './redis-client.js';

/** Removes a finished room, if this node is still its home. */
const RELEASE_ROOM = `
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('DEL', KEYS[3])
return 1`;

const bytes = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength);

export class ClusterState implements RoomObserver {
  private readonly dirtyRooms = new Set<Room>();
  private readonly dirtyParticipants = new Map<Room, Set<Participant>>();
  private readonly goneParticipants = new Map<Room, Set<string>>();
  /** Rooms this node has written as its own, until they finish. */
  private readonly owned = new Set<string>();
  private flushing = false;
  /** A write failed (Redis away): the next resync writes every local room again. */
  private stale = false;

  constructor(
    private readonly nodeId: string,
    private readonly redis: RedisConnection,
    private readonly registry: NodeRegistry,
    private readonly log: Logger,
  ) {}

  roomStarted(room: Room): void {
    // A room placed here again after its old node died: that node's participants are gone.
    this.redis.del(participantsKey(room.name)).catch(() => { this.stale = true; });
    this.markRoom(room);
  }

  roomUpdated(room: Room): void {
    this.markRoom(room);
  }

  roomFinished(room: Room): void {
    this.owned.delete(room.name);
    this.dirtyRooms.delete(room);
    this.dirtyParticipants.delete(room);
    this.goneParticipants.delete(room);
    this.redis.eval(RELEASE_ROOM, 3, ROOM_NODE_KEY, ROOMS_KEY, participantsKey(room.name), room.name, this.nodeId).catch((err: unknown) => {
      this.log.warn({ room: room.name, err: (err as Error).message }, 'finished room not removed from Redis');
    });
  }

  participantUpdated(room: Room, p: Participant): void {
    if (p.closed) return;
    let set = this.dirtyParticipants.get(room);
    if (!set) this.dirtyParticipants.set(room, (set = new Set()));
    set.add(p);
    this.goneParticipants.get(room)?.delete(p.identity);
    this.markRoom(room);
  }

  participantLeft(room: Room, p: Participant): void {
    this.dirtyParticipants.get(room)?.delete(p);
    // A newer session with the same identity may have replaced this one.
    if (room.participantByIdentity(p.identity) === undefined) {
      let set = this.goneParticipants.get(room);
      if (!set) this.goneParticipants.set(room, (set = new Set()));
      set.add(p.identity);
    }
    this.markRoom(room);
  }

  /**
   * Every stats interval: each local room is claimed again (it may have been cleaned while
   * Redis could not hear this node), and after a failed write everything is written again.
   * Returns the rooms another node has taken meanwhile.
   */
  async resync(rooms: Iterable<Room>, claim: (room: string) => Promise<boolean>): Promise<Room[]> {
    const rewrite = this.stale;
    this.stale = false;
    const open = [...rooms].filter((r) => !r.closed);
    // All at once: ioredis pipelines them on the one connection.
    const claims = await Promise.allSettled(open.map((r) => claim(r.name)));
    const lost: Room[] = [];
    for (const [i, room] of open.entries()) {
      const c = claims[i]!;
      if (c.status === 'rejected') {
        this.stale = true;
        continue;
      }
      if (!c.value) {
        lost.push(room);
        continue;
      }
      if (rewrite) {
        this.markRoom(room);
        for (const p of room.participants.values()) this.participantUpdated(room, p);
      }
    }
    return lost;
  }

  /** The next resync writes every room and participant again (Redis lost them). */
  markStale(): void {
    this.stale = true;
  }

  /**
   * This node leaves the cluster: its rooms are no longer anywhere (those kept for the next
   * start included: that start claims them again).
   */
  async releaseAll(): Promise<void> {
    await Promise.allSettled([...this.owned].map((name) =>
      this.redis.eval(RELEASE_ROOM, 3, ROOM_NODE_KEY, ROOMS_KEY, participantsKey(name), name, this.nodeId)));
    this.owned.clear();
  }

  /** Rooms of every available node (ListRooms), optionally only those named. */
  async listRooms(names: string[]): Promise<livekit.Room[]> {
    try {
      return await this.readRooms(names);
    } catch (err) {
      throw new TwirpError('unavailable', `cluster state unavailable: ${(err as Error).message}`);
    }
  }

  private async readRooms(names: string[]): Promise<livekit.Room[]> {
    const [rooms, homes, nodes] = await Promise.all([
      names.length ? this.redis.hmgetBuffer(ROOMS_KEY, ...names).then((list) => list.map((raw, i) => [names[i]!, raw] as const))
        : this.redis.hgetallBuffer(ROOMS_KEY).then((all) => Object.entries(all)),
      this.redis.hgetall(ROOM_NODE_KEY),
      this.registry.available(),
    ]);
    const available = new Set(nodes.map((n) => n.id));
    const out: livekit.Room[] = [];
    for (const [name, raw] of rooms) {
      const home = homes[name];
      if (!raw || !home || !available.has(home)) continue;
      try {
        out.push(livekit.Room.decode(raw));
      } catch {
        this.log.warn({ room: name }, 'undecodable room entry ignored');
      }
    }
    return out;
  }

  private markRoom(room: Room): void {
    if (!room.closed) this.owned.add(room.name);
    this.dirtyRooms.add(room);
    if (this.flushing) return;
    this.flushing = true;
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.flushing = false;
    const batch = this.redis.pipeline();
    for (const room of this.dirtyRooms) {
      if (!room.closed) batch.hset(ROOMS_KEY, room.name, bytes(livekit.Room.encode(room.toProto()).finish()));
    }
    for (const [room, set] of this.dirtyParticipants) {
      if (room.closed) continue;
      for (const p of set) {
        if (!p.closed) batch.hset(participantsKey(room.name), p.identity, bytes(livekit.ParticipantInfo.encode(p.toInfo()).finish()));
      }
    }
    for (const [room, identities] of this.goneParticipants) {
      if (identities.size) batch.hdel(participantsKey(room.name), ...identities);
    }
    this.dirtyRooms.clear();
    this.dirtyParticipants.clear();
    this.goneParticipants.clear();
    batch.exec().then((results) => {
      if (results?.some(([err]) => err)) this.stale = true;
    }, () => { this.stale = true; });
  }
}
