// Room lifecycle as others need to see it: the store writes it through, webhooks announce it,
// metrics time it. Rooms call one RoomObservers; each observer implements what it cares about.
import type { livekit } from '../../proto/index.js';
import type { Participant } from './participant.js';
import type { Room } from './room.js';

export interface RoomObserver {
  roomStarted?(room: Room): void;
  /** Metadata or settings changed. */
  roomUpdated?(room: Room): void;
  roomFinished?(room: Room, reason: livekit.RoomEndReason): void;
  /** Any change to a participant's info (state, tracks, metadata, …). */
  participantUpdated?(room: Room, p: Participant): void;
  /** The participant's connection came up (ParticipantInfo ACTIVE). */
  participantActive?(room: Room, p: Participant): void;
  /** The participant is gone; `p.wasActive` tells a departure from an aborted connection. */
  participantLeft?(room: Room, p: Participant): void;
  trackPublished?(room: Room, p: Participant, track: livekit.ITrackInfo): void;
  trackUnpublished?(room: Room, p: Participant, track: livekit.ITrackInfo): void;
  /** Someone else is now the loudest speaker of the room. */
  loudestSpeakerChanged?(room: Room, identity: string): void;
}

type Hook = keyof RoomObserver;
type Args<K extends Hook> = Parameters<NonNullable<RoomObserver[K]>>;

/** What concerns the room itself, which only its home node announces. */
const ROOM_HOOKS: ReadonlySet<Hook> = new Set<Hook>(['roomStarted', 'roomUpdated', 'roomFinished', 'loudestSpeakerChanged']);

/**
 * Fans every notification out to the observers added. Observers see this node's share of a
 * room that spans nodes: its own participants (a participant of another node is announced by
 * that node), and the room itself only where the room is home.
 */
export class RoomObservers {
  private readonly list: RoomObserver[] = [];

  add(o: RoomObserver): void {
    this.list.push(o);
  }

  emit<K extends Hook>(hook: K, ...args: Args<K>): void {
    const room = args[0] as Room;
    if (room.shard && ROOM_HOOKS.has(hook)) return;
    const p = args[1];
    if (typeof p === 'object' && p !== null && (p as Participant).remoteNode !== null) return;
    for (const o of this.list) {
      const fn = o[hook] as ((...a: Args<K>) => void) | undefined;
      fn?.apply(o, args);
    }
  }
}
