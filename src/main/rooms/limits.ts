// LiveKit's limits on names, metadata and attributes (limit.* in the config), checked wherever
// they can be set: the join token, UpdateParticipantMetadata, and the RoomService.
import type { StrandConfig } from '../config.js';

export interface LimitedFields {
  roomName?: string;
  identity?: string;
  name?: string;
  metadata?: string;
  attributes?: Record<string, string>;
}

/** The first limit `f` breaks, as a message for the caller, or null. */
export function limitViolation(limits: StrandConfig['limit'], f: LimitedFields): string | null {
  if (f.roomName !== undefined && f.roomName.length > limits.maxRoomNameLength) return `room name is longer than ${limits.maxRoomNameLength} characters`;
  if (f.identity !== undefined && f.identity.length > limits.maxParticipantIdentityLength) {
    return `identity is longer than ${limits.maxParticipantIdentityLength} characters`;
  }
  if (f.name !== undefined && f.name.length > limits.maxParticipantNameLength) return `name is longer than ${limits.maxParticipantNameLength} characters`;
  if (f.metadata !== undefined && Buffer.byteLength(f.metadata) > limits.maxMetadataSize) return `metadata is larger than ${limits.maxMetadataSize} bytes`;
  if (f.attributes !== undefined) {
    let size = 0;
    for (const [k, v] of Object.entries(f.attributes)) size += Buffer.byteLength(k) + Buffer.byteLength(v);
    if (size > limits.maxAttributesSize) return `attributes are larger than ${limits.maxAttributesSize} bytes`;
  }
  return null;
}
