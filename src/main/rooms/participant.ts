// A participant as the room sees it: identity, permissions, tracks and its signal sink.
import { livekit } from '../../proto/index.js';
import type { Permissions } from '../auth/grants.js';

/** Where a participant's signal responses go (its WebSocket session). */
export interface SignalSink {
  send(msg: livekit.ISignalResponse): void;
  close(code: number, reason: string): void;
}

/**
 * A participant's sink while its signal connection is away (it may resume): nothing is sent,
 * but who left the room meanwhile is kept, so that the resume can tell the client.
 */
export class AwaySink implements SignalSink {
  readonly departed = new Map<string, livekit.IParticipantInfo>();

  send(msg: livekit.ISignalResponse): void {
    for (const info of msg.update?.participants ?? []) {
      if (info.state === livekit.ParticipantInfo.State.DISCONNECTED && info.sid) this.departed.set(info.sid, info);
    }
  }

  close(): void {
    // no socket to close
  }
}

/** ParticipantInfo.Kind from a token's `kind` claim (LiveKit's names), STANDARD otherwise. */
export function kindFromClaim(kind: string): livekit.ParticipantInfo.Kind {
  switch (kind) {
    case 'ingress': return livekit.ParticipantInfo.Kind.INGRESS;
    case 'egress': return livekit.ParticipantInfo.Kind.EGRESS;
    case 'sip': return livekit.ParticipantInfo.Kind.SIP;
    case 'agent': return livekit.ParticipantInfo.Kind.AGENT;
    default: return livekit.ParticipantInfo.Kind.STANDARD;
  }
}

export interface PendingTrackInfo {
  cid: string;
  info: livekit.ITrackInfo;
  /** The codec the client asked for (AddTrackRequest.simulcast_codecs[0]), honoured when offered. */
  codec?: string;
}

export class Participant {
  state = livekit.ParticipantInfo.State.JOINING;
  kind = livekit.ParticipantInfo.Kind.STANDARD;
  /** No connections: its tracks are injected by an ingress worker (RTMP and URL ingress). */
  headless = false;
  /** The media worker that owns this participant's connections. */
  slot = 0;
  /**
   * Set for a participant connected to another node of a room that spans nodes: the node that
   * speaks for it (cascade/remote-participant.ts). Null for this node's own participants.
   */
  remoteNode: string | null = null;
  /** Reached ACTIVE at some point (its departure is participant_left, not connection_aborted). */
  wasActive = false;
  disconnectReason = livekit.DisconnectReason.UNKNOWN_REASON;
  version = 0;
  readonly joinedAtMs = Date.now();
  /** Published tracks by sid. */
  readonly tracks = new Map<string, livekit.ITrackInfo>();
  /** Tracks announced with AddTrack and not yet seen in an offer, by cid. */
  readonly pending = new Map<string, PendingTrackInfo>();
  /** Track sids this participant is subscribed to. */
  readonly subscriptions = new Set<string>();
  /**
   * Per track sid, from UpdateTrackSettings: the highest layer wanted (-1 = disabled) and the
   * priority the stream allocator uses. Kept so that they apply to later subscriptions too.
   */
  readonly trackSettings = new Map<string, { maxLayer: number; priority: number }>();
  closed = false;
  /** SimulateScenario disconnect_signal_on_resume*: the next resume's signal is closed again. */
  simulateOnResume: 'disconnectSignalOnResume' | 'disconnectSignalOnResumeNoMessages' | null = null;

  constructor(
    readonly sid: string,
    readonly identity: string,
    public name: string,
    public metadata: string,
    public attributes: Record<string, string>,
    public permissions: Permissions,
    readonly autoSubscribe: boolean,
    readonly clientProtocol: number,
    public sink: SignalSink,
    /** v1 signalling: one PeerConnection, offered by the client. */
    readonly singlePeerConnection = false,
  ) {}

  /** The signal connection is gone and the participant may still resume. */
  get away(): boolean {
    return this.sink instanceof AwaySink;
  }

  get hidden(): boolean {
    return this.permissions.hidden;
  }

  touch(): void {
    this.version++;
  }

  send(msg: livekit.ISignalResponse): void {
    if (!this.closed) this.sink.send(msg);
  }

  toInfo(): livekit.IParticipantInfo {
    return {
      sid: this.sid,
      identity: this.identity,
      name: this.name,
      state: this.state,
      tracks: [...this.tracks.values()],
      metadata: this.metadata,
      joinedAt: Math.floor(this.joinedAtMs / 1000),
      joinedAtMs: this.joinedAtMs,
      version: this.version,
      permission: {
        canSubscribe: this.permissions.canSubscribe,
        canPublish: this.permissions.canPublish,
        canPublishData: this.permissions.canPublishData,
        canPublishSources: this.permissions.canPublishSources.map(sourceFromName),
        hidden: this.permissions.hidden,
        canUpdateMetadata: this.permissions.canUpdateMetadata,
      },
      isPublisher: this.tracks.size > 0,
      kind: this.kind,
      attributes: this.attributes,
      clientProtocol: this.clientProtocol,
      disconnectReason: this.disconnectReason,
    };
  }
}

/** Attributes after an update: keys set to a value are set, keys set to '' are removed. */
export function mergedAttributes(current: Record<string, string>, update: Record<string, string> | undefined): Record<string, string> {
  const out = { ...current };
  for (const [k, v] of Object.entries(update ?? {})) {
    if (v === '') delete out[k];
    else out[k] = v;
  }
  return out;
}

const SOURCE_NAMES: Record<string, livekit.TrackSource> = {
  camera: livekit.TrackSource.CAMERA,
  microphone: livekit.TrackSource.MICROPHONE,
  screen_share: livekit.TrackSource.SCREEN_SHARE,
  screen_share_audio: livekit.TrackSource.SCREEN_SHARE_AUDIO,
};

export function sourceFromName(name: string): livekit.TrackSource {
  return SOURCE_NAMES[name.toLowerCase()] ?? livekit.TrackSource.UNKNOWN;
}

/** canPublishSources restricts what may be published; empty means everything. */
export function maySource(perms: Permissions, source: livekit.TrackSource): boolean {
  if (perms.canPublishSources.length === 0) return true;
  return perms.canPublishSources.some((n) => sourceFromName(n) === source);
}
