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

/** Fans every notification out to the observers added. */
export class RoomObservers {
  private readonly list: RoomObserver[] = [];

  add(o: RoomObserver): void {
    this.list.push(o);
  }

  emit<K extends Hook>(hook: K, ...args: Args<K>): void {
    for (const o of this.list) {
      const fn = o[hook] as ((...a: Args<K>) => void) | undefined;
      fn?.apply(o, args);
    }
  }
}
