// What a room that spans nodes (cascading) asks of the cascade beyond this node. The room keeps
// its rules in one place whatever the node: a participant of another node stands in here as a
// RemoteParticipant (its node speaks for it), and these hooks fetch its media, carry layer
// demand to its node, and pass on what the API asks of it.
import type { livekit } from '../../proto/index.js';
import type { Permissions } from '../auth/grants.js';
import type { Participant } from './participant.js';

export type RemoteCall =
  | { remove: true }
  | { mute: { trackSid: string; muted: boolean } }
  | { update: { name?: string; metadata?: string; attributes?: Record<string, string>; permission?: Permissions } };

export interface RoomLinks {
  /** Makes a track of a remote participant arrive here (on its stand-in's worker); false when it cannot. */
  fetchTrack(publisher: Participant, trackSid: string): Promise<boolean>;
  /** Nobody here subscribes to that remote track any more. */
  releaseTrack(publisher: Participant, trackSid: string): void;
  /** The highest layer this node's subscribers want of a remote track (-1: none). */
  demandLayer(publisher: Participant, trackSid: string, maxLayer: number): void;
  /** The highest layer other nodes want of a track published here (-1: none). */
  remoteDemand(trackSid: string): number;
  /** A server data packet: the room's participants on other nodes get it too. */
  sendData(packet: Uint8Array, reliable: boolean, identities: string[]): void;
  /** Something the API asks of a remote participant: its node does it. */
  callRemote(p: Participant, call: RemoteCall): void;
  /** The room's metadata changed here (the home): the other nodes' copies follow. */
  roomUpdated(room: livekit.IRoom): void;
  /** The participants of this node speaking now, loudest first. */
  speakersChanged(speakers: Array<{ sid: string; level: number }>): void;
  /** The connection quality of this node's participants, as its workers measured it. */
  qualityChanged(reports: Array<{ sid: string; quality: number; score: number }>): void;
  /** The room closed here, for `reason`. */
  roomClosed(reason: livekit.DisconnectReason): void;
}
