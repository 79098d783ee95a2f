// Every kind of egress request (the five older Start* calls and the unified StartEgress) read
// into one plan: what to record, how to encode it, where it goes. Only the checks that need no
// room state happen here; the tracks are found when the egress starts (egress-manager.ts).
import { livekit } from '../../proto/index.js';
import type { AudioEncoding, Layout, VideoEncoding } from '../../workers/egress/egress-protocol.js';
import { isLayout } from '../../workers/egress/layout.js';
import { TwirpError } from '../api/twirp.js';

/** What is recorded. */
export type EgressSource =
  /** Track egress: one track, its packets copied into a container. */
  | { kind: 'track'; trackSid: string }
  /** Every track of the room, laid out and mixed. */
  | { kind: 'room'; layout: Layout; audioOnly: boolean; videoOnly: boolean }
  /** One participant's camera and microphone (or screen share and its audio). */
  | { kind: 'participant'; identity: string; screenShare: boolean }
  /** Chosen tracks (track composite, StartEgress media source). */
  | { kind: 'tracks'; videoTrackSid: string; audioTrackSids: string[]; audioIdentities: string[]; audioAll: boolean };

export type PlannedOutput =
  | { kind: 'file'; filepath: string; fileType: livekit.EncodedFileType; disableManifest: boolean }
  | { kind: 'stream'; urls: string[] }
  | { kind: 'segments'; prefix: string; playlistName: string; livePlaylistName: string; segmentSeconds: number; timestampSuffix: boolean; disableManifest: boolean }
  | { kind: 'images'; prefix: string; intervalSeconds: number; width: number; height: number; disableManifest: boolean };

export interface EgressWebhook {
  url: string;
  /** The API key whose secret signs deliveries (WebhookConfig.signing_key). */
  signingKey: string;
}

export interface EgressPlan {
  roomName: string;
  source: EgressSource;
  /** null: passthrough (no transcoding, one track). */
  encoding: { video: VideoEncoding; audio: AudioEncoding } | null;
  outputs: PlannedOutput[];
  webhooks: EgressWebhook[];
  /** The request as EgressInfo echoes it (one member of its `request` oneof). */
  echo: Pick<livekit.IEgressInfo, 'roomComposite' | 'trackComposite' | 'track' | 'participant' | 'egress' | 'web'>;
  sourceType: livekit.EgressSourceType;
}

interface Preset { width: number; height: number; framerate: number; bitrateKbps: number }

/** LiveKit's presets: H.264 main, Opus (AAC where the container wants it). */
const PRESETS: Record<number, Preset> = {
  [livekit.EncodingOptionsPreset.H264_720P_30]: { width: 1280, height: 720, framerate: 30, bitrateKbps: 3000 },
  [livekit.EncodingOptionsPreset.H264_720P_60]: { width: 1280, height: 720, framerate: 60, bitrateKbps: 4500 },
  [livekit.EncodingOptionsPreset.H264_1080P_30]: { width: 1920, height: 1080, framerate: 30, bitrateKbps: 4500 },
  [livekit.EncodingOptionsPreset.H264_1080P_60]: { width: 1920, height: 1080, framerate: 60, bitrateKbps: 6000 },
  [livekit.EncodingOptionsPreset.PORTRAIT_H264_720P_30]: { width: 720, height: 1280, framerate: 30, bitrateKbps: 3000 },
  [livekit.EncodingOptionsPreset.PORTRAIT_H264_720P_60]: { width: 720, height: 1280, framerate: 60, bitrateKbps: 4500 },
  [livekit.EncodingOptionsPreset.PORTRAIT_H264_1080P_30]: { width: 1080, height: 1920, framerate: 30, bitrateKbps: 4500 },
  [livekit.EncodingOptionsPreset.PORTRAIT_H264_1080P_60]: { width: 1080, height: 1920, framerate: 60, bitrateKbps: 6000 },
};

const VIDEO_CODECS: Record<number, VideoEncoding['codec']> = {
  [livekit.VideoCodec.H264_BASELINE]: 'h264-baseline',
  [livekit.VideoCodec.H264_MAIN]: 'h264-main',
  [livekit.VideoCodec.H264_HIGH]: 'h264-high',
  [livekit.VideoCodec.VP8]: 'vp8',
};

/** The encoding a request asks for: a preset (default H264_720P_30) or advanced options over it. */
export function encodingOf(preset: livekit.EncodingOptionsPreset | null | undefined, advanced: livekit.IEncodingOptions | null | undefined): EgressPlan['encoding'] {
  if (preset === livekit.EncodingOptionsPreset.PASSTHROUGH) return null;
  const base = PRESETS[preset ?? 0] ?? PRESETS[0]!;
  const video: VideoEncoding = { ...base, keyFrameInterval: 0, codec: 'h264-main' };
  const audio: AudioEncoding = { codec: 'aac', bitrateKbps: 128, frequency: 44100 };
  if (advanced) {
    const a = advanced;
    if (a.width && a.width > 0) video.width = a.width;
    if (a.height && a.height > 0) video.height = a.height;
    if (a.framerate && a.framerate > 0) video.framerate = a.framerate;
    if (a.videoBitrate && a.videoBitrate > 0) video.bitrateKbps = a.videoBitrate;
    if (a.keyFrameInterval && a.keyFrameInterval > 0) video.keyFrameInterval = a.keyFrameInterval;
    if (a.videoCodec) video.codec = VIDEO_CODECS[a.videoCodec] ?? 'h264-main';
    if (a.audioCodec === livekit.AudioCodec.OPUS) audio.codec = 'opus';
    if (a.audioCodec === livekit.AudioCodec.AC_MP3) audio.codec = 'mp3';
    if (a.audioBitrate && a.audioBitrate > 0) audio.bitrateKbps = a.audioBitrate;
    if (a.audioFrequency && a.audioFrequency > 0) audio.frequency = a.audioFrequency;
    if (video.width > 7680 || video.height > 4320 || video.framerate > 120) throw new TwirpError('invalid_argument', 'encoding options are out of range (at most 7680×4320 at 120 fps)');
    video.width -= video.width % 2;
    video.height -= video.height % 2;
  }
  return { video, audio };
}

/** The encoding of something that is always transcoded (a composite): PASSTHROUGH means the default preset. */
export function transcodedEncoding(preset: livekit.EncodingOptionsPreset | null | undefined, advanced: livekit.IEncodingOptions | null | undefined): NonNullable<EgressPlan['encoding']> {
  return encodingOf(preset, advanced) ?? encodingOf(livekit.EncodingOptionsPreset.H264_720P_30, null)!;
}

type StorageHolder = { s3?: unknown; gcp?: unknown; azure?: unknown; aliOSS?: unknown } | null | undefined;

function refuseCloudStorage(o: StorageHolder): void {
  if (o && (o.s3 || o.gcp || o.azure || o.aliOSS)) {
    throw new TwirpError('unimplemented', 'cloud storage (S3, GCP, Azure, AliOSS) is not supported by Strand yet: leave it out to write files under egress.output_dir');
  }
}

function fileOutput(o: livekit.IEncodedFileOutput | livekit.IFileOutput): PlannedOutput {
  refuseCloudStorage(o as StorageHolder);
  return { kind: 'file', filepath: o.filepath ?? '', fileType: o.fileType ?? livekit.EncodedFileType.DEFAULT_FILETYPE, disableManifest: o.disableManifest ?? false };
}

function streamOutput(o: livekit.IStreamOutput): PlannedOutput {
  const urls = (o.urls ?? []).filter((u) => u.length > 0);
  if (urls.length === 0) throw new TwirpError('invalid_argument', 'a stream output needs at least one URL');
  for (const url of urls) checkStreamUrl(url);
  return { kind: 'stream', urls };
}

/** RTMP(S) and SRT are streamed by ffmpeg; WebSocket output is not supported. */
export function checkStreamUrl(url: string): void {
  let scheme = '';
  try {
    scheme = new URL(url).protocol.replace(':', '').toLowerCase();
  } catch {
    throw new TwirpError('invalid_argument', `"${url}" is not a URL`);
  }
  if (scheme === 'rtmp' || scheme === 'rtmps' || scheme === 'srt') return;
  if (scheme === 'ws' || scheme === 'wss') throw new TwirpError('unimplemented', 'WebSocket stream output is not supported by Strand yet');
  throw new TwirpError('invalid_argument', `unsupported stream URL scheme "${scheme}" (use rtmp://, rtmps:// or srt://)`);
}

function segmentOutput(o: livekit.ISegmentedFileOutput): PlannedOutput {
  refuseCloudStorage(o as StorageHolder);
  const seconds = o.segmentDuration && o.segmentDuration > 0 ? o.segmentDuration : 4;
  return {
    kind: 'segments', prefix: o.filenamePrefix ?? '', playlistName: o.playlistName ?? '', livePlaylistName: o.livePlaylistName ?? '',
    segmentSeconds: seconds, timestampSuffix: o.filenameSuffix === livekit.SegmentedFileSuffix.TIMESTAMP, disableManifest: o.disableManifest ?? false,
  };
}

function imageOutput(o: livekit.IImageOutput): PlannedOutput {
  refuseCloudStorage(o as StorageHolder);
  if (!o.captureInterval || o.captureInterval <= 0) throw new TwirpError('invalid_argument', 'an image output needs capture_interval (seconds)');
  return {
    kind: 'images', prefix: o.filenamePrefix ?? '', intervalSeconds: o.captureInterval, width: Math.max(0, o.width ?? 0), height: Math.max(0, o.height ?? 0),
    disableManifest: o.disableManifest ?? false,
  };
}

interface OlderOutputs {
  file?: livekit.IEncodedFileOutput | null;
  stream?: livekit.IStreamOutput | null;
  segments?: livekit.ISegmentedFileOutput | null;
  fileOutputs?: livekit.IEncodedFileOutput[] | null;
  streamOutputs?: livekit.IStreamOutput[] | null;
  segmentOutputs?: livekit.ISegmentedFileOutput[] | null;
  imageOutputs?: livekit.IImageOutput[] | null;
}

/**
 * The outputs of an older request. The SDK sends a single output both in the deprecated field
 * and in the list: the list wins, the deprecated field counts only when its list is empty.
 */
export function olderOutputs(r: OlderOutputs): PlannedOutput[] {
  const files = r.fileOutputs?.length ? r.fileOutputs : r.file ? [r.file] : [];
  const streams = r.streamOutputs?.length ? r.streamOutputs : r.stream ? [r.stream] : [];
  const segments = r.segmentOutputs?.length ? r.segmentOutputs : r.segments ? [r.segments] : [];
  if (files.length > 1 || streams.length > 1 || segments.length > 1) {
    throw new TwirpError('invalid_argument', 'at most one file, one stream and one segmented output (images may repeat)');
  }
  return [...files.map(fileOutput), ...streams.map(streamOutput), ...segments.map(segmentOutput), ...(r.imageOutputs ?? []).map(imageOutput)];
}

function webhooksOf(list: livekit.IWebhookConfig[] | null | undefined): EgressWebhook[] {
  return (list ?? []).filter((w) => w.url).map((w) => ({ url: w.url!, signingKey: w.signingKey ?? '' }));
}

function requireRoom(name: string | null | undefined): string {
  if (!name) throw new TwirpError('invalid_argument', 'room_name is required');
  return name;
}

function requireOutputs(outputs: PlannedOutput[]): PlannedOutput[] {
  if (outputs.length === 0) throw new TwirpError('invalid_argument', 'the request has no output');
  return outputs;
}

/** A layout name as LiveKit's (empty: grid); anything else is refused. */
export function layoutOf(name: string | null | undefined): Layout {
  const layout = name || 'grid';
  if (!isLayout(layout)) throw new TwirpError('invalid_argument', `unknown layout "${layout}" (Strand has grid, speaker and single-speaker)`);
  return layout as Layout;
}

const CUSTOM_TEMPLATE_UNSUPPORTED = 'custom layout templates (custom_base_url) need a browser renderer, which Strand does not have';
const WEB_UNSUPPORTED = 'web egress needs a browser renderer, which Strand does not have: use a room composite (grid, speaker or single-speaker layouts)';

export function planRoomComposite(r: livekit.IRoomCompositeEgressRequest): EgressPlan {
  if (r.customBaseUrl) throw new TwirpError('unimplemented', CUSTOM_TEMPLATE_UNSUPPORTED);
  if (r.audioOnly && r.videoOnly) throw new TwirpError('invalid_argument', 'audio_only and video_only exclude each other');
  return {
    roomName: requireRoom(r.roomName),
    source: { kind: 'room', layout: layoutOf(r.layout), audioOnly: r.audioOnly ?? false, videoOnly: r.videoOnly ?? false },
    encoding: transcodedEncoding(r.preset, r.advanced),
    outputs: requireOutputs(olderOutputs(r)),
    webhooks: webhooksOf(r.webhooks),
    echo: { roomComposite: r },
    sourceType: livekit.EgressSourceType.EGRESS_SOURCE_TYPE_WEB,
  };
}

export function planParticipant(r: livekit.IParticipantEgressRequest): EgressPlan {
  if (!r.identity) throw new TwirpError('invalid_argument', 'identity is required');
  return {
    roomName: requireRoom(r.roomName),
    source: { kind: 'participant', identity: r.identity, screenShare: r.screenShare ?? false },
    encoding: transcodedEncoding(r.preset, r.advanced),
    outputs: requireOutputs(olderOutputs(r)),
    webhooks: webhooksOf(r.webhooks),
    echo: { participant: r },
    sourceType: livekit.EgressSourceType.EGRESS_SOURCE_TYPE_SDK,
  };
}

export function planTrackComposite(r: livekit.ITrackCompositeEgressRequest): EgressPlan {
  if (!r.audioTrackId && !r.videoTrackId) throw new TwirpError('invalid_argument', 'audio_track_id or video_track_id is required');
  return {
    roomName: requireRoom(r.roomName),
    source: { kind: 'tracks', videoTrackSid: r.videoTrackId ?? '', audioTrackSids: r.audioTrackId ? [r.audioTrackId] : [], audioIdentities: [], audioAll: false },
    encoding: transcodedEncoding(r.preset, r.advanced),
    outputs: requireOutputs(olderOutputs(r)),
    webhooks: webhooksOf(r.webhooks),
    echo: { trackComposite: r },
    sourceType: livekit.EgressSourceType.EGRESS_SOURCE_TYPE_SDK,
  };
}

export function planTrack(r: livekit.ITrackEgressRequest): EgressPlan {
  if (!r.trackId) throw new TwirpError('invalid_argument', 'track_id is required');
  if (r.websocketUrl) throw new TwirpError('unimplemented', 'track egress to a WebSocket (raw PCM) is not supported by Strand yet: use a file output');
  if (!r.file) throw new TwirpError('invalid_argument', 'the request has no output');
  refuseCloudStorage(r.file as StorageHolder);
  return {
    roomName: requireRoom(r.roomName),
    source: { kind: 'track', trackSid: r.trackId },
    encoding: null,
    outputs: [{ kind: 'file', filepath: r.file.filepath ?? '', fileType: livekit.EncodedFileType.DEFAULT_FILETYPE, disableManifest: r.file.disableManifest ?? false }],
    webhooks: webhooksOf(r.webhooks),
    echo: { track: r },
    sourceType: livekit.EgressSourceType.EGRESS_SOURCE_TYPE_SDK,
  };
}

export function planWeb(): never {
  throw new TwirpError('unimplemented', WEB_UNSUPPORTED);
}

/** The unified StartEgress: a template (room composite) or media source, outputs in one list. */
export function planStart(r: livekit.IStartEgressRequest): EgressPlan {
  const roomName = requireRoom(r.roomName);
  refuseCloudStorage(r.storage as StorageHolder);
  const outputs: PlannedOutput[] = [];
  for (const o of r.outputs ?? []) {
    refuseCloudStorage(o.storage as StorageHolder);
    if (o.file) outputs.push(fileOutput(o.file));
    else if (o.stream) outputs.push(streamOutput(o.stream));
    else if (o.segments) outputs.push(segmentOutput(o.segments));
    else if (o.images) outputs.push(imageOutput(o.images));
  }
  requireOutputs(outputs);
  const common = { roomName, outputs, webhooks: webhooksOf(r.webhooks), echo: { egress: r } };
  if (r.web) planWeb();
  if (r.template) {
    const t = r.template;
    if (t.customBaseUrl) throw new TwirpError('unimplemented', CUSTOM_TEMPLATE_UNSUPPORTED);
    return {
      ...common, sourceType: livekit.EgressSourceType.EGRESS_SOURCE_TYPE_WEB,
      source: { kind: 'room', layout: layoutOf(t.layout), audioOnly: t.audioOnly ?? false, videoOnly: t.videoOnly ?? false },
      encoding: transcodedEncoding(r.preset, r.advanced),
    };
  }
  const m = r.media;
  if (!m) throw new TwirpError('invalid_argument', 'the request needs a source (template or media)');
  const routes = m.audio?.routes ?? [];
  const audioTrackSids = routes.map((x) => x.trackId ?? '').filter((x) => x);
  const audioIdentities = routes.map((x) => x.participantIdentity ?? '').filter((x) => x);
  const audioAll = m.audio?.captureAll ?? false;
  const encoding = encodingOf(r.preset, r.advanced);
  if (m.participantVideo) {
    if (!m.participantVideo.identity) throw new TwirpError('invalid_argument', 'participant_video needs an identity');
    if (encoding === null) throw new TwirpError('invalid_argument', 'PASSTHROUGH records one track: name it with video_track_id');
    return {
      ...common, sourceType: livekit.EgressSourceType.EGRESS_SOURCE_TYPE_SDK, encoding,
      source: { kind: 'participant', identity: m.participantVideo.identity, screenShare: m.participantVideo.preferScreenShare ?? false },
    };
  }
  if (encoding === null) {
    const single = m.videoTrackId ? (audioTrackSids.length === 0 && !audioAll ? m.videoTrackId : '') : audioTrackSids.length === 1 && !audioAll ? audioTrackSids[0]! : '';
    if (!single) throw new TwirpError('invalid_argument', 'PASSTHROUGH is valid for a single track only');
    if (outputs.some((o) => o.kind !== 'file')) throw new TwirpError('invalid_argument', 'PASSTHROUGH writes a file only');
    return { ...common, sourceType: livekit.EgressSourceType.EGRESS_SOURCE_TYPE_SDK, encoding: null, source: { kind: 'track', trackSid: single } };
  }
  if (!m.videoTrackId && audioTrackSids.length === 0 && audioIdentities.length === 0 && !audioAll) {
    throw new TwirpError('invalid_argument', 'the media source names no track');
  }
  return {
    ...common, sourceType: livekit.EgressSourceType.EGRESS_SOURCE_TYPE_SDK, encoding,
    source: { kind: 'tracks', videoTrackSid: m.videoTrackId ?? '', audioTrackSids, audioIdentities, audioAll },
  };
}
