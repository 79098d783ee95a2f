// The commands the main thread sends to a media worker (Piscina tasks, awaited) and the
// events a worker sends back over its MessagePort. One typed source for both sides.
import type { MessagePort } from 'node:worker_threads';

export type SignalTargetName = 'publisher' | 'subscriber';

export interface ParticipantDescriptor {
  roomId: string;
  sid: string;
  identity: string;
  canPublishData: boolean;
  canSubscribe: boolean;
  /** v1 signalling: one PeerConnection, offered by the client, carries both directions. */
  singlePeerConnection: boolean;
  /**
   * No connections at all: an ingress participant, whose tracks arrive through the ring of an
   * ingress worker (`inject`) and who subscribes to nothing.
   */
  headless?: boolean;
}

/** A track announced with AddTrack and waiting for its media section. */
export interface PendingTrack {
  cid: string;
  sid: string;
  kind: 'audio' | 'video';
  /** The codec the client asked to publish with (AddTrackRequest.simulcast_codecs), e.g. "h264". */
  codec?: string;
}

/** A media section of the publisher offer matched to an announced track. */
export interface PublishedSection {
  trackSid: string;
  mid: string;
  mimeType: string;
  /** Simulcast rids, lowest quality first; empty when not simulcast. */
  rids: string[];
}

/** A track published on one worker, as another worker needs it to stand in for it (relay-hub.ts). */
export interface RelayedTrack {
  /** The track's id in the records of the publisher's worker. */
  relayId: number;
  trackSid: string;
  publisherSid: string;
  kind: 'audio' | 'video';
  mimeType: string;
  clockRate: number;
  channels: number | undefined;
  fmtp: string | undefined;
  rids: string[];
  /** The layer relayed (-1: all). */
  layer: number;
}

/** Ring peers above this are egress workers (peer = EGRESS_PEER_BASE + egress slot), not media workers. */
export const EGRESS_PEER_BASE = 1000;
/** Ring peers above this are ingress workers (peer = INGRESS_PEER_BASE + ingress slot). */
export const INGRESS_PEER_BASE = 2000;
/** The ring peer of the node link worker (src/workers/node-link), which carries media to other nodes. */
export const LINK_PEER_BASE = 3000;

/** What one participant may send per second (limit.* in the config; 0: no limit). */
export interface ParticipantLimits {
  dataPacketsPerSecond: number;
  dataBytesPerSecond: number;
  mediaBytesPerSecond: number;
}

export interface WorkerInit {
  slot: number;
  udpPort: number;
  bindAddress: string;
  iceServers: string[];
  events: MessagePort;
  /** Where the worker publishes its media counters (media-counters.ts layout). */
  counters: SharedArrayBuffer;
  /** This worker's doorbell, which other workers ring after writing into its rings. */
  doorbell: SharedArrayBuffer;
  /** Per-participant limits on what it sends (0: none); a second's worth may come at once. */
  limits: ParticipantLimits;
}

export type MediaCommand =
  | ({ op: 'init' } & WorkerInit)
  | { op: 'join'; participant: ParticipantDescriptor }
  | { op: 'publisherOffer'; participantSid: string; sdp: string; pending: PendingTrack[] }
  | { op: 'subscriberAnswer'; participantSid: string; sdp: string }
  | { op: 'remoteCandidate'; participantSid: string; target: SignalTargetName; candidate: string }
  /** `relay`: the track is published on worker `fromSlot` and arrives through its ring. */
  | { op: 'subscribe'; participantSid: string; trackSid: string; relay?: { fromSlot: number; track: RelayedTrack } }
  | { op: 'unsubscribe'; participantSid: string; trackSid: string }
  /** Links two workers: records to `peer` go into `out` (ringing `peerDoorbell`), records from it arrive in `inbound`. */
  | { op: 'attachRing'; peer: number; out: SharedArrayBuffer; peerDoorbell: SharedArrayBuffer; inbound: SharedArrayBuffer }
  /**
   * Publisher side: start / stop writing a track's packets into the ring to `toSlot` (a media
   * worker, or EGRESS_PEER_BASE + an egress worker); `layer` relays that simulcast layer only
   * (-1 or absent: all; "best": the highest one sending now).
   */
  | { op: 'relayStart'; trackSid: string; toSlot: number; layer?: number | 'best' }
  | { op: 'relayStop'; trackSid: string; toSlot: number }
  /** Subscriber side: a relayed track is gone, or unwanted here: drop its stand-in and downtracks. */
  | { op: 'relayEnd'; trackSid: string }
  /** Highest simulcast layer a subscriber wants for a track; -1 pauses it. */
  | { op: 'trackSettings'; participantSid: string; trackSid: string; maxLayer: number; priority: number }
  | { op: 'unpublish'; participantSid: string; trackSid: string }
  /**
   * A track of a headless (ingress) participant: its packets arrive through the ring from
   * `fromSlot` (INGRESS_PEER_BASE + ingress slot) under `track.relayId`, and it is published
   * here like any track (local subscribers, relays to other workers, recordings).
   */
  | { op: 'inject'; participantSid: string; fromSlot: number; track: RelayedTrack }
  /** Permissions the worker enforces itself (data relay), after an admin changed them. */
  | { op: 'updatePermissions'; participantSid: string; canPublishData: boolean; canSubscribe: boolean }
  /** An encoded DataPacket from the server to a room's participants (all when `identities` is empty). */
  | { op: 'sendData'; roomId: string; data: Uint8Array; reliable: boolean; identities: string[] }
  | { op: 'leave'; participantSid: string }
  /** The participant's signal connection is gone: hold its reliable data until it resumes. */
  | { op: 'signalLost'; participantSid: string }
  /** The participant resumed its session (see ResumeResult). */
  | { op: 'resume'; participantSid: string }
  | { op: 'stats' }
  /** Each track published here (connections and injected ones): what the dashboard shows. */
  | { op: 'trackRates' }
  | { op: 'shutdown' }
  /** This thread's V8 heap, after a collection when node runs with --expose-gc (benchmarks). */
  | { op: 'memory' }
  /**
   * Test hook (STRAND_TEST_WORKER_FAULT=1): the worker throws from a timer, outside any task
   * ('throw'), or its thread exits with its connections open ('exit').
   */
  | { op: 'testFault'; mode: 'throw' | 'exit' };

/** A published track's receive side, as measured now. */
export interface TrackRate {
  trackSid: string;
  participantSid: string;
  kind: 'audio' | 'video';
  /** bit/s over the last measurement (all layers). */
  bitrate: number;
  /** Packets lost upstream since the track began, percent. */
  lossPercent: number;
}

export interface WorkerStats {
  slot: number;
  /** The worker thread's Linux thread id (0 elsewhere), for per-thread CPU in benchmarks. */
  tid: number;
  participants: number;
  publishedTracks: number;
  downTracks: number;
  packetsIn: number;
  packetsOut: number;
  packetsDropped: number;
  /** Sequence numbers subscribers NACKed, RTX packets sent for them, and NACKs not in the cache. */
  nacks: number;
  retransmits: number;
  retransmitMisses: number;
  /** Packets dropped by the STRAND_TEST_DOWNTRACK_LOSS / STRAND_TEST_UPSTREAM_LOSS hooks. */
  testDrops: number;
  /** Upstream: packets found missing, sequence numbers NACKed to publishers, packets repaired by RTX. */
  upstreamLost: number;
  upstreamNacks: number;
  upstreamRepaired: number;
  /** Repairs sent on to subscribers without waiting for their NACKs. */
  repairsForwarded: number;
  /** Records written to other workers' rings, dropped because a ring was full, and read from rings. */
  ringRecordsOut: number;
  ringDrops: number;
  ringRecordsIn: number;
  /** Reliable data for participants whose signal was away, dropped over the 1 MiB they may hold. */
  heldDataDropped: number;
  /** ICE restarts answered with a new native connection (current participants). */
  iceRestarts: number;
  /** Lowest and highest subscriber bandwidth estimate (REMB) reported, bit/s (0: none). */
  subscriberEstimateMin: number;
  subscriberEstimateMax: number;
}

/** What a resumed session needs from the worker. */
export interface ResumeResult {
  /** Highest reliable data sequence received from the participant (ReconnectResponse.last_message_seq). */
  lastMessageSeq: number;
  /** v0: the subscriber offer again (restarting ICE on a new native connection if it was down); null on v1. */
  subscriberOffer: string | null;
  /** The participant's connections are still usable (if not: full reconnect). */
  usable: boolean;
}

/** The value each command resolves to. */
export interface MediaResults {
  init: { slot: number };
  /** v0: the first subscriber offer; v1: '' (the client offers). */
  join: { subscriberOffer: string };
  /** `midToTrackId` (v1): the client's sections Strand sends subscribed tracks on. */
  publisherOffer: { answer: string; published: PublishedSection[]; midToTrackId: Record<string, string> };
  subscriberAnswer: null;
  remoteCandidate: null;
  subscribe: { ok: boolean; reason?: string };
  unsubscribe: null;
  attachRing: null;
  relayStart: RelayedTrack | null;
  relayStop: null;
  relayEnd: null;
  trackSettings: null;
  unpublish: null;
  inject: null;
  updatePermissions: null;
  sendData: { recipients: number };
  leave: null;
  signalLost: null;
  resume: ResumeResult;
  stats: WorkerStats;
  trackRates: TrackRate[];
  shutdown: null;
  testFault: null;
  memory: ThreadMemory;
}

export interface ThreadMemory {
  heapUsedBytes: number;
  /** Participants, rooms and connections still closing that the worker holds. */
  participants: number;
  rooms: number;
  nativeHeld: number;
}

export type MediaEvent =
  | { ev: 'offer'; participantSid: string; sdp: string }
  /** A Strand ICE candidate to trickle to the client (RTCIceCandidateInit as JSON). */
  | { ev: 'candidate'; participantSid: string; target: SignalTargetName; candidateInit: string }
  | { ev: 'pcState'; participantSid: string; target: SignalTargetName; state: string }
  /** A room's current speakers (loudest first), sent when they change. */
  | { ev: 'speakers'; roomId: string; speakers: Array<{ sid: string; level: number }> }
  /** The SSRC of a published track's layer, once learned from its first packets. */
  | { ev: 'layerSsrc'; participantSid: string; trackSid: string; layer: number; ssrc: number }
  /** A subscriber's track paused or resumed for lack of bandwidth. */
  | { ev: 'streamState'; participantSid: string; publisherSid: string; trackSid: string; paused: boolean }
  /** Every participant's connection quality in a room, every 5 s. */
  | { ev: 'quality'; roomId: string; updates: Array<{ sid: string; quality: number; score: number }> }
  /** v1: ask the client to offer again with this many more receive sections (MediaSectionsRequirement). */
  | { ev: 'mediaSections'; participantSid: string; audios: number; videos: number }
  | { ev: 'error'; where: string; message: string }
  /**
   * An exception escaped the worker's JavaScript (a timer or callback, outside any task). The
   * worker has dropped every participant it held, whose state it can no longer trust, and goes
   * on empty; the main thread tells those participants to reconnect.
   */
  | { ev: 'fault'; message: string; participantSids: string[] };
