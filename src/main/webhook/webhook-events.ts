// Which webhook LiveKit sends for which room lifecycle step, and what each carries.
import { livekit } from '../../proto/index.js';
import type { Participant } from '../rooms/participant.js';
import type { Room } from '../rooms/room.js';
import type { RoomObserver } from '../rooms/room-observer.js';
import type { WebhookNotifier } from './webhook-notifier.js';

export class WebhookEvents implements RoomObserver {
  constructor(private readonly notifier: WebhookNotifier) {}

  roomStarted(room: Room): void {
    this.notifier.notify({ event: 'room_started', room: room.toProto() });
  }

  roomFinished(room: Room, reason: livekit.RoomEndReason): void {
    this.finished(room.toProto(), reason);
  }

  participantActive(room: Room, p: Participant): void {
    this.notifier.notify({ event: 'participant_joined', room: room.toProto(), participant: p.toInfo() });
  }

  participantLeft(room: Room, p: Participant): void {
    this.gone(room.toProto(), p.toInfo(), p.wasActive);
  }

  trackPublished(room: Room, p: Participant, track: livekit.ITrackInfo): void {
    this.notifier.notify({ event: 'track_published', room: room.toProto(), participant: p.toInfo(), track });
  }

  trackUnpublished(room: Room, p: Participant, track: livekit.ITrackInfo): void {
    this.unpublished(room.toProto(), p.toInfo(), track);
  }

  /** participant_left, or participant_connection_aborted for one whose connection never came up. */
  gone(room: livekit.IRoom, participant: livekit.IParticipantInfo, wasActive: boolean): void {
    this.notifier.notify({ event: wasActive ? 'participant_left' : 'participant_connection_aborted', room, participant });
  }

  unpublished(room: livekit.IRoom, participant: livekit.IParticipantInfo, track: livekit.ITrackInfo): void {
    this.notifier.notify({ event: 'track_unpublished', room, participant, track });
  }

  finished(room: livekit.IRoom, reason: livekit.RoomEndReason): void {
    this.notifier.notify({ event: 'room_finished', room, roomEndReason: reason });
  }
}
