// The commands the main thread sends to an egress worker (Piscina tasks, awaited) and the events
// it sends back. An egress arrives fully resolved: which tracks (and where their packets come
// from), how to encode, and the absolute paths or URLs to write to.
import type { MessagePort } from 'node:worker_threads';

/** A recorded track: its codec and the ring records (media worker, relay id) carrying it. */
export interface EgressInput {
  trackSid: string;
  participantIdentity: string;
  kind: 'audio' | 'video';
  mimeType: string;
  clockRate: number;
  channels?: number;
  fmtp?: string;
  fromSlot: number;
  relayId: number;
  /** The simulcast layer relayed (its keyframe requests name it). */
  layer: number;
}

export interface VideoEncoding {
  width: number;
  height: number;
  framerate: number;
  bitrateKbps: number;
  /** Seconds between keyframes. */
  keyFrameInterval: number;
  codec: 'h264-baseline' | 'h264-main' | 'h264-high' | 'vp8';
}

export interface AudioEncoding {
  codec: 'aac' | 'opus' | 'mp3';
  bitrateKbps: number;
  frequency: number;
}

export type Layout = 'grid' | 'speaker' | 'single-speaker';

export type EgressOutput =
  /**
   * `path` is absolute; `container` follows the codecs or the requested file type. `muxAs`
   * nut: one part of a composite file (encoded for `container`, joined when it ends).
   */
  | { kind: 'file'; path: string; container: 'mp4' | 'webm' | 'ogg' | 'mp3'; muxAs?: 'nut' }
  | { kind: 'stream'; url: string }
  /** `startNumber` > 0: the playlist goes on from an earlier part of the same egress. */
  | { kind: 'segments'; playlistPath: string; livePlaylistPath: string; segmentPattern: string; segmentSeconds: number; timestampSuffix: boolean; startNumber?: number }
  | { kind: 'images'; pattern: string; prefix: string; intervalSeconds: number; width: number; height: number; startNumber?: number };

export interface EgressJob {
  egressId: string;
  /** copy: one track written as it arrives (track egress); composite: decoded, laid out, encoded. */
  mode: 'copy' | 'composite';
  layout: Layout;
  audioOnly: boolean;
  videoOnly: boolean;
  inputs: EgressInput[];
  /** Composite only: the participant shown large by the speaker layouts, when known. */
  speakerIdentity: string;
  video: VideoEncoding;
  audio: AudioEncoding;
  outputs: EgressOutput[];
  /** libx264 speed preset for composites (ultrafast … medium). */
  x264Preset: string;
}

export interface EgressWorkerInit {
  slot: number;
  events: MessagePort;
  /** This worker's doorbell, rung by media workers after writing into its rings. */
  doorbell: SharedArrayBuffer;
}

export type EgressCommand =
  | ({ op: 'init' } & EgressWorkerInit)
  /** Records from media worker `mediaSlot` arrive in `inbound`; keyframe requests to it go into `out`. */
  | { op: 'attachRing'; mediaSlot: number; out: SharedArrayBuffer; mediaDoorbell: SharedArrayBuffer; inbound: SharedArrayBuffer }
  | { op: 'start'; job: EgressJob }
  /** UpdateStream: another stream URL of a running egress, or one fewer. */
  | { op: 'addStream'; egressId: string; url: string }
  | { op: 'removeStream'; egressId: string; url: string }
  /** The room's active speaker changed: the speaker layouts show `identity` large. */
  | { op: 'speaker'; egressId: string; identity: string }
  /** UpdateLayout: a room composite goes on with another layout. */
  | { op: 'layout'; egressId: string; layout: Layout }
  /** A composite's track set changed (a track was published or went away). */
  | { op: 'addInput'; egressId: string; input: EgressInput }
  | { op: 'removeInput'; egressId: string; trackSid: string }
  | { op: 'stop'; egressId: string }
  | { op: 'stats' }
  | { op: 'shutdown' };

export type OutputResult =
  | { kind: 'file'; path: string; size: number; durationSeconds: number; startedAtMs: number; endedAtMs: number }
  | { kind: 'stream'; url: string; startedAtMs: number; endedAtMs: number; error: string }
  | { kind: 'segments'; playlistPath: string; livePlaylistPath: string; count: number; size: number; durationSeconds: number; startedAtMs: number; endedAtMs: number }
  | { kind: 'images'; prefix: string; count: number; startedAtMs: number; endedAtMs: number };

export interface EgressWorkerStats {
  slot: number;
  egresses: number;
  ffmpegChildren: number;
  packetsIn: number;
  /** Packets dropped while waiting for a keyframe (the start of a video output). */
  packetsBeforeKeyframe: number;
  ringRecordsIn: number;
}

export interface EgressResults {
  init: { slot: number };
  attachRing: null;
  /** The ffmpeg children started. */
  start: null;
  addStream: null;
  removeStream: null;
  speaker: null;
  layout: null;
  addInput: null;
  removeInput: null;
  /** Resolves once every output is finished. */
  stop: null;
  stats: EgressWorkerStats;
  shutdown: null;
}

export type EgressEvent =
  /** Media reached every output: the egress is ACTIVE. */
  | { ev: 'active'; egressId: string; atMs: number }
  /** A stream output ended by itself (its receiver went away, or never answered). */
  | { ev: 'streamFailed'; egressId: string; url: string; error: string }
  /** The egress is over: by stop (complete), or because an output failed. */
  | { ev: 'ended'; egressId: string; ok: boolean; error: string; results: OutputResult[]; ffmpegLog: string[] }
  | { ev: 'error'; where: string; message: string };
