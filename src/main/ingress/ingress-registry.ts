// The ingress endpoints as LiveKit's IngressService manages them, apart from any media: IN_
// ids, stream keys, the URL handed to encoders, and the checks Create/Update/Delete make. The
// IngressManager runs the sessions and owns the state transitions; this is its table.
import { livekit } from '../../proto/index.js';
import { TwirpError } from '../api/twirp.js';
import { newId, randomBase57 } from '../rooms/ids.js';

/** A stream key: 12 base57 characters, as LiveKit's. */
export function newStreamKey(): string {
  return randomBase57(12);
}

export interface IngressUrls {
  /** e.g. rtmp://host:1935/live */
  rtmpBaseUrl: string;
  /** e.g. http://host:7880/w */
  whipBaseUrl: string;
}

export class IngressRegistry {
  private readonly byId = new Map<string, livekit.IIngressInfo>();
  private readonly byKey = new Map<string, string>();

  /** The URLs are read when an endpoint is made: the listeners' ports are known only once bound. */
  constructor(private readonly urls: () => IngressUrls) {}

  /** An endpoint kept by the store: its URL is the current one for its input. */
  adopt(info: livekit.IIngressInfo): void {
    if (!info.ingressId) return;
    if (info.inputType !== livekit.IngressInput.URL_INPUT) info.url = this.baseUrl(info.inputType ?? livekit.IngressInput.RTMP_INPUT);
    this.byId.set(info.ingressId, info);
    if (info.streamKey) this.byKey.set(info.streamKey, info.ingressId);
  }

  private baseUrl(input: livekit.IngressInput): string {
    return input === livekit.IngressInput.WHIP_INPUT ? this.urls().whipBaseUrl : this.urls().rtmpBaseUrl;
  }

  create(req: livekit.ICreateIngressRequest): livekit.IIngressInfo {
    const input = req.inputType ?? livekit.IngressInput.RTMP_INPUT;
    if (!(input in livekit.IngressInput)) throw new TwirpError('invalid_argument', `unknown input_type ${input}`);
    if (!req.roomName) throw new TwirpError('invalid_argument', 'room_name is required');
    if (!req.participantIdentity) throw new TwirpError('invalid_argument', 'participant_identity is required');
    const transcoding = req.enableTranscoding ?? (req.bypassTranscoding ? false : input !== livekit.IngressInput.WHIP_INPUT);
    if (!transcoding && input !== livekit.IngressInput.WHIP_INPUT) throw new TwirpError('invalid_argument', 'only WHIP input may skip transcoding');
    if (transcoding && input === livekit.IngressInput.WHIP_INPUT) {
      throw new TwirpError('unimplemented', 'Strand passes WHIP through without transcoding; enable_transcoding is not supported for WHIP');
    }
    if (input === livekit.IngressInput.URL_INPUT && !/^(https?|srt):\/\//.test(req.url ?? '')) {
      throw new TwirpError('invalid_argument', 'URL input needs an http(s):// or srt:// url');
    }
    const ingressId = newId('IN_');
    const reusable = input !== livekit.IngressInput.URL_INPUT;
    const streamKey = reusable ? newStreamKey() : '';
    const url = input === livekit.IngressInput.URL_INPUT ? req.url ?? '' : this.baseUrl(input);
    const info: livekit.IIngressInfo = {
      ingressId, name: req.name ?? '', streamKey, url, inputType: input, enableTranscoding: transcoding, audio: req.audio, video: req.video,
      roomName: req.roomName, participantIdentity: req.participantIdentity, participantName: req.participantName ?? '',
      participantMetadata: req.participantMetadata ?? '', reusable, enabled: req.enabled ?? true,
      state: { status: livekit.IngressState.Status.ENDPOINT_INACTIVE, updatedAt: Date.now() * 1_000_000 },
    };
    this.byId.set(ingressId, info);
    if (streamKey) this.byKey.set(streamKey, ingressId);
    return info;
  }

  has(ingressId: string): boolean {
    return this.byId.has(ingressId);
  }

  get(ingressId: string): livekit.IIngressInfo {
    const info = this.byId.get(ingressId);
    if (!info) throw new TwirpError('not_found', `ingress "${ingressId}" does not exist`);
    return info;
  }

  /** The endpoint an encoder's stream key names (enabled or not). */
  byStreamKey(key: string): livekit.IIngressInfo | null {
    const id = this.byKey.get(key);
    return (id && this.byId.get(id)) || null;
  }

  update(req: livekit.IUpdateIngressRequest): livekit.IIngressInfo {
    const info = this.get(req.ingressId ?? '');
    if (!info.reusable) throw new TwirpError('failed_precondition', 'a URL ingress cannot be updated');
    if (req.name) info.name = req.name;
    if (req.roomName) info.roomName = req.roomName;
    if (req.participantIdentity) info.participantIdentity = req.participantIdentity;
    if (req.participantName) info.participantName = req.participantName;
    if (req.participantMetadata) info.participantMetadata = req.participantMetadata;
    if (req.enableTranscoding !== undefined && req.enableTranscoding !== null) {
      const whip = info.inputType === livekit.IngressInput.WHIP_INPUT;
      if (whip && req.enableTranscoding) throw new TwirpError('unimplemented', 'Strand passes WHIP through without transcoding');
      if (!whip && !req.enableTranscoding) throw new TwirpError('invalid_argument', 'only WHIP input may skip transcoding');
      info.enableTranscoding = req.enableTranscoding;
    }
    if (req.enabled !== undefined && req.enabled !== null) info.enabled = req.enabled;
    if (req.audio) info.audio = req.audio;
    if (req.video) info.video = req.video;
    // An update resets an error (LiveKit): the endpoint waits for its encoder again.
    if (info.state?.status === livekit.IngressState.Status.ENDPOINT_ERROR) info.state = { status: livekit.IngressState.Status.ENDPOINT_INACTIVE, updatedAt: Date.now() * 1_000_000 };
    return info;
  }

  list(filter: { roomName: string; ingressId: string }): livekit.IIngressInfo[] {
    return [...this.byId.values()].filter((i) => (!filter.roomName || i.roomName === filter.roomName) && (!filter.ingressId || i.ingressId === filter.ingressId));
  }

  delete(ingressId: string): livekit.IIngressInfo {
    const info = this.get(ingressId);
    this.byId.delete(ingressId);
    if (info.streamKey) this.byKey.delete(info.streamKey);
    return info;
  }
}
