// A participant connected to another node of a room that spans nodes, as this node's room
// holds it: a headless participant on a media worker (its tracks are injected from the node
// link when someone here subscribes), whose info is whatever its own node last announced.
import { livekit } from '../../proto/index.js';
import { permissionsFromProto } from '../auth/grants.js';
import { Participant, type SignalSink } from '../rooms/participant.js';

/** Nothing reaches a remote participant through this node: its own node signals it. */
const NO_SIGNAL: SignalSink = { send: () => undefined, close: () => undefined };

export class RemoteParticipant extends Participant {
  private info: livekit.IParticipantInfo;

  constructor(info: livekit.IParticipantInfo, node: string) {
    super(info.sid ?? '', info.identity ?? '', info.name ?? '', info.metadata ?? '', { ...(info.attributes ?? {}) },
      permissionsFromProto(info.permission ?? {}), false, info.clientProtocol ?? 0, NO_SIGNAL);
    this.remoteNode = node;
    this.headless = true;
    this.kind = info.kind ?? livekit.ParticipantInfo.Kind.STANDARD;
    this.info = info;
  }

  /** Takes its node's newer info; false when `info` is older than what it has. */
  update(info: livekit.IParticipantInfo): boolean {
    if (Number(info.version ?? 0) < Number(this.info.version ?? 0)) return false;
    this.info = info;
    this.name = info.name ?? '';
    this.metadata = info.metadata ?? '';
    this.attributes = { ...(info.attributes ?? {}) };
    this.permissions = permissionsFromProto(info.permission ?? {});
    return true;
  }

  /** Its tracks as its node announced them. */
  announcedTracks(): livekit.ITrackInfo[] {
    return this.info.tracks ?? [];
  }

  /** Its node's info (versions are its node's), with the tracks published here so far. */
  override toInfo(): livekit.IParticipantInfo {
    return {
      ...this.info,
      tracks: [...this.tracks.values()],
      state: this.closed ? livekit.ParticipantInfo.State.DISCONNECTED : this.info.state,
    };
  }
}
