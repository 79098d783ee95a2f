// The commands the main thread sends to an ingress worker and the events it sends back. An
// ingress worker runs the RTMP listener (the first worker only) and the ffmpeg children that
// transcode RTMP and URL input, and writes their RTP into the ring of the media worker that
// hosts the ingress participant, where the tracks are published like any other.
import type { MessagePort } from 'node:worker_threads';

/** One simulcast layer an ingress sends, lowest first. */
export interface LayerSpec {
  width: number;
  height: number;
  /** bit/s */
  bitrate: number;
}

/** What the transcoder makes of the input (LiveKit's IngressAudio/VideoOptions, resolved). */
export interface TranscodeSpec {
  video: { codec: 'vp8' | 'h264'; frameRate: number; layers: LayerSpec[]; x264Preset: string };
  audio: { bitrate: number; channels: 1 | 2; dtx: boolean };
}

export interface IngressJob {
  ingressId: string;
  /** The media worker hosting the ingress participant, which the RTP goes to. */
  mediaSlot: number;
  transcode: TranscodeSpec;
}

/** A track the transcoder started sending, as the media worker must know it (RelayedTrack). */
export interface StartedTrack {
  kind: 'audio' | 'video';
  /** The id its packets carry in the ring to the media worker. */
  relayId: number;
  mimeType: string;
  clockRate: number;
  channels: number | undefined;
  fmtp: string | undefined;
  /** Simulcast layers, lowest first (video), with their rids; one entry for audio. */
  layers: LayerSpec[];
  rids: string[];
}

/** What the input carries, as ffmpeg reported it (IngressState.video / audio). */
export interface InputDescription {
  video?: { codec: string; width: number; height: number; frameRate: number };
  audio?: { codec: string; sampleRate: number; channels: number };
}

/** How a session ended: the input's end (URL: complete), the encoder left, a failure, or a stop. */
export type SessionOutcome = 'eof' | 'disconnected' | 'failed' | 'stopped';

export interface IngressWorkerStats {
  slot: number;
  sessions: number;
  rtmpConnections: number;
  packetsOut: number;
  ringDrops: number;
}

export type IngressCommand =
  | { op: 'init'; slot: number; events: MessagePort; doorbell: SharedArrayBuffer }
  | { op: 'attachRing'; mediaSlot: number; out: SharedArrayBuffer; mediaDoorbell: SharedArrayBuffer; inbound: SharedArrayBuffer }
  /** Opens the RTMP listener here; resolves with the port bound. */
  | { op: 'listenRtmp'; host: string; port: number }
  /** The stream key of connection `connId` is good: start transcoding it. */
  | { op: 'acceptRtmp'; connId: number; job: IngressJob }
  | { op: 'rejectRtmp'; connId: number; reason: string }
  /** URL input: pull `url` and publish it until its end. */
  | { op: 'startUrl'; url: string; job: IngressJob }
  | { op: 'stop'; ingressId: string }
  | { op: 'stats' }
  | { op: 'shutdown' };

export interface IngressResults {
  init: { slot: number };
  attachRing: null;
  listenRtmp: { port: number };
  acceptRtmp: null;
  rejectRtmp: null;
  startUrl: null;
  stop: null;
  stats: IngressWorkerStats;
  shutdown: null;
}

export type IngressEvent =
  /** An encoder asks to publish with this stream key (the last path segment of its URL). */
  | { ev: 'publish'; connId: number; app: string; streamKey: string; remote: string }
  /** An RTMP connection whose publish was accepted, or never decided, is gone. */
  | { ev: 'connectionClosed'; connId: number; reason: string }
  | { ev: 'input'; ingressId: string; input: InputDescription }
  | { ev: 'track'; ingressId: string; track: StartedTrack }
  | { ev: 'ended'; ingressId: string; outcome: SessionOutcome; error: string }
  | { ev: 'error'; where: string; message: string };
