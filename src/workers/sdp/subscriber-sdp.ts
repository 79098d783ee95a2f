// SDP for the subscriber PeerConnection (Strand offers, the client answers).
//
// libdatachannel negotiates once, as offerer, a fixed view: one sendonly transport track and
// the data channel section. Every RTP packet of every downtrack is sent on that one track with
// the downtrack's own SSRC; the client finds the right receiver by the SSRCs Strand declares
// in the real offer, which Strand writes itself. Renegotiation (tracks added or removed) is
// therefore Strand-only: libdatachannel never sees the real offers or answers.
import * as sdpTransform from 'sdp-transform';
import type { MediaDescription, SessionDescription } from 'sdp-transform';
import { SUBSCRIBER_PAYLOAD_TYPES, VIDEO_FEEDBACK } from './codecs.js';
import { SdpError, applyTransportParams, originOf, readTransportParams, type SdpSession, type TransportParams } from './transport-params.js';
import { parseSdp } from './publisher-sdp.js';

/** A media section of the real subscriber offer. */
export interface SubscriberSection {
  mid: string;
  kind: 'audio' | 'video';
  /** Null once the downtrack is gone: the section stays, inactive, so mids never move. */
  downTrack: null | {
    ssrc: number;
    /** RTX SSRC (RFC 4588), paired with `ssrc` in an FID group. */
    rtxSsrc?: number;
    cname: string;
    /** `PA_xxx|TR_yyy` — LiveKit clients split it to find participant and track. */
    streamId: string;
    trackId: string;
    mimeType: string;
    clockRate: number;
    channels?: number;
    fmtp?: string;
  };
}

/** The mid Strand gives the data channel section of the real offer. */
export const DATA_MID = '0';

/**
 * The real subscriber offer. It carries no candidates: they are trickled once the client's
 * answer is applied (see SubscriberPeer), because libdatachannel is the DTLS server here and
 * rejects a handshake that arrives before it knows the client's fingerprint.
 */
export function writeSubscriberOffer(transport: TransportParams, sections: SubscriberSection[], session: SdpSession): string {
  const media: MediaDescription[] = [];
  const app: MediaDescription = {
    type: 'application', port: 9, protocol: 'UDP/DTLS/SCTP', payloads: 'webrtc-datachannel',
    connection: { version: 4, ip: '0.0.0.0' }, mid: DATA_MID, rtp: [], fmtp: [],
    sctpPort: transport.sctpPort ?? 5000, maxMessageSize: transport.maxMessageSize ?? 262144,
  };
  applyTransportParams(app, transport, false);
  media.push(app);
  for (const s of sections) media.push(mediaSection(s, transport));
  const offer: SessionDescription = {
    version: 0,
    origin: originOf(session),
    name: '-',
    timing: { start: 0, stop: 0 },
    groups: [{ type: 'BUNDLE', mids: media.map((m) => String(m.mid)).join(' ') }],
    msidSemantic: { semantic: 'WMS', token: '*' },
    media,
  };
  return sdpTransform.write(offer);
}

function mediaSection(s: SubscriberSection, transport: TransportParams): MediaDescription {
  const dt = s.downTrack;
  const mime = dt?.mimeType ?? (s.kind === 'audio' ? 'audio/opus' : 'video/VP8');
  const pts = SUBSCRIBER_PAYLOAD_TYPES[mime];
  if (!pts) throw new SdpError(`no subscriber payload type for ${mime}`);
  const codecName = mime.split('/')[1]!;
  const clockRate = dt?.clockRate ?? (s.kind === 'audio' ? 48000 : 90000);
  const m: MediaDescription = {
    type: s.kind,
    port: 9,
    protocol: 'UDP/TLS/RTP/SAVPF',
    payloads: [pts.pt, ...(pts.rtx !== undefined ? [pts.rtx] : [])].join(' '),
    connection: { version: 4, ip: '0.0.0.0' },
    mid: s.mid,
    direction: dt ? 'sendonly' : 'inactive',
    rtcpMux: 'rtcp-mux',
    rtcpRsize: 'rtcp-rsize',
    rtp: [{ payload: pts.pt, codec: codecName, rate: clockRate, encoding: s.kind === 'audio' ? (dt?.channels ?? 2) : undefined }],
    fmtp: [],
  };
  const fmtp = dt?.fmtp ?? (s.kind === 'audio' ? 'minptime=10;useinbandfec=1' : undefined);
  if (fmtp) m.fmtp!.push({ payload: pts.pt, config: fmtp });
  if (s.kind === 'video') {
    m.rtcpFb = VIDEO_FEEDBACK.map((f) => ({ payload: pts.pt, type: f.type, subtype: f.subtype }));
    if (pts.rtx !== undefined) {
      m.rtp!.push({ payload: pts.rtx, codec: 'rtx', rate: clockRate });
      m.fmtp!.push({ payload: pts.rtx, config: `apt=${pts.pt}` });
    }
  }
  if (dt) {
    m.msid = [{ id: dt.streamId, appdata: dt.trackId }];
    m.ssrcs = [];
    for (const ssrc of dt.rtxSsrc !== undefined ? [dt.ssrc, dt.rtxSsrc] : [dt.ssrc]) {
      m.ssrcs.push({ id: ssrc, attribute: 'cname', value: dt.cname }, { id: ssrc, attribute: 'msid', value: `${dt.streamId} ${dt.trackId}` });
    }
    if (dt.rtxSsrc !== undefined) m.ssrcGroups = [{ semantics: 'FID', ssrcs: `${dt.ssrc} ${dt.rtxSsrc}` }];
  }
  applyTransportParams(m, transport, false);
  return m;
}

/**
 * The client's answer reduced to what libdatachannel negotiated: its own offer, answered with the
 * client's ICE/DTLS/SCTP parameters and directions flipped.
 */
export function subscriberViewAnswer(nativeOffer: string, clientAnswer: string): string {
  const lib = parseSdp(nativeOffer);
  const client = parseSdp(clientAnswer);
  const t = readTransportParams(client);
  if (t.setup === 'actpass') throw new SdpError('answer must not use setup:actpass');
  const media = lib.media.map((m): MediaDescription => {
    const copy: MediaDescription = { ...m, mid: String(m.mid), candidates: undefined, endOfCandidates: undefined };
    if (m.type === 'application') {
      copy.sctpPort = t.sctpPort ?? 5000;
      copy.maxMessageSize = t.maxMessageSize ?? 262144;
    } else {
      copy.direction = m.direction === 'sendonly' ? 'recvonly' : m.direction === 'recvonly' ? 'sendonly' : m.direction;
    }
    applyTransportParams(copy, t, true, false);
    return copy;
  });
  return sdpTransform.write({ ...lib, groups: lib.groups, media });
}

export { readTransportParams };

/** Strand's candidates from libdatachannel's offer, as RTCIceCandidateInit JSON for trickling. */
export function candidateInits(nativeOffer: string): string[] {
  return nativeOffer.split(/\r?\n/)
    .filter((l) => l.startsWith('a=candidate:'))
    .map((l) => JSON.stringify({ candidate: l.slice(2).trim(), sdpMid: DATA_MID, sdpMLineIndex: 0 }));
}
