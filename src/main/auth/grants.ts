// LiveKit's access-token claims (auth/grants.go) as Strand reads them.
import { livekit } from '../../proto/index.js';

export interface VideoGrant {
  roomCreate?: boolean;
  roomList?: boolean;
  roomRecord?: boolean;
  roomAdmin?: boolean;
  roomJoin?: boolean;
  room?: string;
  canPublish?: boolean;
  canSubscribe?: boolean;
  canPublishData?: boolean;
  canPublishSources?: string[];
  canUpdateOwnMetadata?: boolean;
  ingressAdmin?: boolean;
  hidden?: boolean;
  recorder?: boolean;
  agent?: boolean;
}

export interface ClaimGrants {
  /** API key that signed the token (`iss`). */
  apiKey: string;
  /** Participant identity (`sub`, falling back to `jti`). */
  identity: string;
  name: string;
  metadata: string;
  attributes: Record<string, string>;
  kind: string;
  video: VideoGrant;
  /** Webhook body hash (`sha256`), when present. */
  sha256?: string;
  notBefore?: number;
}

/** What a participant may do in a room, with LiveKit's defaults for absent claims. */
export interface Permissions {
  canPublish: boolean;
  canSubscribe: boolean;
  canPublishData: boolean;
  canPublishSources: string[];
  canUpdateMetadata: boolean;
  hidden: boolean;
}

export function permissionsFromGrant(video: VideoGrant): Permissions {
  return {
    canPublish: video.canPublish ?? true,
    canSubscribe: video.canSubscribe ?? true,
    canPublishData: video.canPublishData ?? true,
    canPublishSources: video.canPublishSources ?? [],
    canUpdateMetadata: video.canUpdateOwnMetadata ?? false,
    hidden: video.hidden ?? false,
  };
}

const SOURCE_NAMES: Record<number, string> = {
  [livekit.TrackSource.CAMERA]: 'camera',
  [livekit.TrackSource.MICROPHONE]: 'microphone',
  [livekit.TrackSource.SCREEN_SHARE]: 'screen_share',
  [livekit.TrackSource.SCREEN_SHARE_AUDIO]: 'screen_share_audio',
};

/** A ParticipantPermission (UpdateParticipant, ParticipantInfo) as Strand keeps permissions. */
export function permissionsFromProto(p: livekit.IParticipantPermission): Permissions {
  return {
    canSubscribe: p.canSubscribe ?? false,
    canPublish: p.canPublish ?? false,
    canPublishData: p.canPublishData ?? false,
    canPublishSources: (p.canPublishSources ?? []).map((s) => SOURCE_NAMES[s]).filter((s): s is string => s !== undefined),
    canUpdateMetadata: p.canUpdateMetadata ?? false,
    hidden: p.hidden ?? false,
  };
}
