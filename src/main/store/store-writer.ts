// Writes room and participant state through to the store as it changes, so that a restart
// (even after kill -9) knows which rooms were made with CreateRoom and who was connected.
import { livekit } from '../../proto/index.js';
import type { Participant } from '../rooms/participant.js';
import type { Room } from '../rooms/room.js';
import type { RoomObserver } from '../rooms/room-observer.js';
import type { Store } from './store.js';

export class StoreWriter implements RoomObserver {
  constructor(private readonly store: Store) {}

  roomStarted(room: Room): void {
    this.store.putRoom(room.toStored());
  }

  roomUpdated(room: Room): void {
    this.store.putRoom(room.toStored());
  }

  roomFinished(room: Room): void {
    this.store.deleteRoom(room.name);
  }

  participantUpdated(room: Room, p: Participant): void {
    if (p.closed) return;
    this.store.putParticipant({
      roomName: room.name, identity: p.identity, info: livekit.ParticipantInfo.encode(p.toInfo()).finish(), wasActive: p.wasActive,
    });
  }

  participantLeft(room: Room, p: Participant): void {
    // A newer session with the same identity may have replaced this one in the store already.
    if (room.participantByIdentity(p.identity) === undefined) this.store.deleteParticipant(room.name, p.identity);
  }
}
