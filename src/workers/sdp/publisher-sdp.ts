// SDP for the publisher PeerConnection (the client offers, Strand answers).
//
// libdatachannel is given a "transport view" of the first offer: the client's data channel
// section plus one synthetic audio section pinned for the life of the connection, so that
// exactly one native Track receives every RTP/RTCP packet (libdatachannel drops rid-simulcast
// packets when a connection has several media tracks). Strand demultiplexes in JS and writes
// the real answer for every offer itself; re-offers never reach libdatachannel.
import * as sdpTransform from 'sdp-transform';
import type { MediaDescription, SessionDescription } from 'sdp-transform';
import {
  AUDIO_EXTENSIONS, EXT_MID, EXT_REPAIRED_RID, EXT_RID, PUBLISH_PREFERENCE, VIDEO_EXTENSIONS, VIDEO_FEEDBACK,
  type NegotiatedCodec,
} from './codecs.js';
import { SdpError, applyTransportParams, originOf, readTransportParams, type SdpSession, type TransportParams } from './transport-params.js';

/** The mid of the synthetic section libdatachannel sees; never appears in the client's SDP. */
export const TRANSPORT_MID = 'strand-transport';

/** One media section of a client offer, as Strand understands it. */
export interface OfferedSection {
  index: number;
  mid: string;
  kind: string;
  rejected: boolean;
  /** The client sends media on this section. */
  sending: boolean;
  /** The client can receive on this section (v1: Strand may bind a subscribed track to it). */
  receiving: boolean;
  /** MediaStreamTrack id from `a=msid` (LiveKit clients use it as the AddTrack cid). */
  trackId?: string;
  codec?: NegotiatedCodec;
  /** Extension URI → id, for the extensions Strand accepts. */
  extensions: Map<string, number>;
  /** Simulcast rids in the offer's order, `~` (paused) markers removed. */
  rids: string[];
  /** SSRCs the offer declares (non-simulcast clients), with their role. */
  ssrcs: Array<{ ssrc: number; rtx: boolean }>;
  rtcpRsize: boolean;
}

export interface ParsedOffer {
  sdp: SessionDescription;
  sections: OfferedSection[];
}

export function parseSdp(text: string): SessionDescription {
  if (typeof text !== 'string' || !text.startsWith('v=')) throw new SdpError('not an SDP (must start with "v=")');
  let sdp: SessionDescription;
  try {
    sdp = sdpTransform.parse(text);
  } catch (err) {
    throw new SdpError(`unparsable SDP: ${(err as Error).message}`);
  }
  if (!Array.isArray(sdp.media) || sdp.media.length === 0) throw new SdpError('SDP has no media sections');
  for (const m of sdp.media) {
    if (m.mid === undefined || m.mid === null || String(m.mid) === '') throw new SdpError('SDP media section without a=mid');
    normalizeSection(m);
  }
  return sdp;
}

/**
 * sdp-transform turns every value that looks like an integer into a number, so a codec name,
 * an ssrc-group list or a simulcast list of digits arrives as a number (found by fuzzing:
 * `a=ssrc-group:FID 1` made `ssrcs.split` throw). The text fields Strand reads are made strings again.
 */
function normalizeSection(m: MediaDescription): void {
  for (const r of m.rtp ?? []) r.codec = String(r.codec);
  for (const g of m.ssrcGroups ?? []) g.ssrcs = String(g.ssrcs);
  for (const x of m.ssrcs ?? []) {
    x.attribute = String(x.attribute);
    if (x.value !== undefined) x.value = String(x.value);
  }
  for (const e of m.ext ?? []) e.uri = String(e.uri);
  if (m.simulcast) {
    m.simulcast.list1 = String(m.simulcast.list1);
    if (m.simulcast.list2 !== undefined) m.simulcast.list2 = String(m.simulcast.list2);
  }
  for (const f of m.fmtp ?? []) f.config = String(f.config);
}

/** The offered payload type of codec `name` (e.g. VP8, opus) on a section, with its rtx. */
export function offeredCodec(m: MediaDescription, name: string): NegotiatedCodec | undefined {
  const kind = m.type === 'audio' ? 'audio' : m.type === 'video' ? 'video' : undefined;
  if (!kind) return undefined;
  const fmtpOf = (pt: number) => m.fmtp?.find((f) => f.payload === pt)?.config;
  let candidates = (m.rtp ?? []).filter((r) => r.codec.toLowerCase() === name.toLowerCase());
  if (name.toUpperCase() === 'H264') {
    // Browsers decode constrained baseline with packetization-mode=1 everywhere.
    const score = (pt: number) => {
      const f = fmtpOf(pt) ?? '';
      return (f.includes('packetization-mode=1') ? 2 : 0) + (/profile-level-id=42e0/i.test(f) ? 1 : 0);
    };
    candidates = [...candidates].sort((a, b) => score(b.payload) - score(a.payload));
  }
  const chosen = candidates[0];
  if (!chosen) return undefined;
  const rtx = (m.rtp ?? []).find((r) => r.codec.toLowerCase() === 'rtx' && fmtpOf(r.payload) === `apt=${chosen.payload}`);
  return {
    mimeType: `${kind}/${chosen.codec.toLowerCase() === 'opus' ? 'opus' : chosen.codec.toUpperCase()}`,
    payloadType: chosen.payload,
    clockRate: chosen.rate ?? (kind === 'audio' ? 48000 : 90000),
    channels: chosen.encoding ? Number(chosen.encoding) : undefined,
    fmtp: fmtpOf(chosen.payload),
    rtxPayloadType: kind === 'video' ? rtx?.payload : undefined,
  };
}

function pickCodec(m: MediaDescription): NegotiatedCodec | undefined {
  const kind = m.type === 'audio' ? 'audio' : m.type === 'video' ? 'video' : undefined;
  if (!kind) return undefined;
  for (const name of PUBLISH_PREFERENCE[kind]) {
    const codec = offeredCodec(m, name);
    if (codec) return codec;
  }
  return undefined;
}

function simulcastRids(m: MediaDescription): string[] {
  const sendRids = (m.rids ?? []).filter((r) => r.direction === 'send').map((r) => String(r.id));
  if (sendRids.length === 0) return [];
  const list = m.simulcast?.dir1 === 'send' ? m.simulcast.list1 : m.simulcast?.dir2 === 'send' ? m.simulcast.list2 : undefined;
  if (!list) return sendRids;
  // "q;h;f" or "q,x;h;~f": take the first alternative of each stream, drop pause markers.
  return list.split(';').map((s) => (s.split(',')[0] ?? '').replace(/^~/, '')).filter((r) => sendRids.includes(r));
}

/**
 * The track id of an `a=msid:` line sdp-transform could not read. Its grammar takes only word
 * characters and dashes, and Firefox writes ids in braces (`a=msid:{stream} {track}`), which it
 * leaves among the section's `invalid` lines.
 */
function unparsedMsidTrack(m: MediaDescription): string | undefined {
  const line = (m as { invalid?: Array<{ value: string }> }).invalid?.find((l) => l.value.startsWith('msid:'))?.value;
  return line?.slice('msid:'.length).split(' ')[1];
}

export function parseOffer(text: string): ParsedOffer {
  const sdp = parseSdp(text);
  const sections = sdp.media.map((m, index): OfferedSection => {
    const accepted = m.type === 'audio' ? AUDIO_EXTENSIONS : m.type === 'video' ? VIDEO_EXTENSIONS : [];
    const extensions = new Map<string, number>();
    for (const e of m.ext ?? []) if (accepted.includes(e.uri) && !extensions.has(e.uri)) extensions.set(e.uri, e.value);
    const direction = m.direction ?? 'sendrecv';
    const fid = (m.ssrcGroups ?? []).filter((g) => g.semantics === 'FID').map((g) => g.ssrcs.split(' ').map(Number));
    const rtxSsrcs = new Set(fid.map((g) => g[1]).filter((s): s is number => s !== undefined));
    const ssrcs = [...new Set((m.ssrcs ?? []).map((s) => Number(s.id)))].map((ssrc) => ({ ssrc, rtx: rtxSsrcs.has(ssrc) }));
    const msidAttr = m.msid?.[0]?.appdata ?? unparsedMsidTrack(m);
    const ssrcMsid = m.ssrcs?.find((s) => s.attribute === 'msid')?.value?.split(' ')[1];
    return {
      index,
      mid: String(m.mid),
      kind: m.type,
      rejected: m.port === 0,
      sending: direction === 'sendonly' || direction === 'sendrecv',
      receiving: direction === 'recvonly' || direction === 'sendrecv',
      trackId: msidAttr ?? ssrcMsid,
      codec: pickCodec(m),
      extensions,
      rids: simulcastRids(m),
      ssrcs,
      rtcpRsize: m.rtcpRsize !== undefined,
    };
  });
  return { sdp, sections };
}

/** The first offer as libdatachannel should see it: data channel section + the pinned transport section. */
export function publisherTransportView(offer: ParsedOffer): string {
  const t = readTransportParams(offer.sdp);
  const transport: MediaDescription = {
    type: 'audio',
    port: 9,
    protocol: 'UDP/TLS/RTP/SAVPF',
    payloads: '111',
    connection: { version: 4, ip: '0.0.0.0' },
    mid: TRANSPORT_MID,
    direction: 'sendrecv',
    rtcpMux: 'rtcp-mux',
    rtp: [{ payload: 111, codec: 'opus', rate: 48000, encoding: 2 }],
    fmtp: [],
  };
  applyTransportParams(transport, t, true, false);
  const media: MediaDescription[] = [transport];
  const app = offer.sdp.media.find((m) => m.type === 'application' && m.port !== 0);
  if (app) {
    const copy = { ...app, mid: String(app.mid), endOfCandidates: undefined };
    applyTransportParams(copy, t, false);
    media.push(copy);
  }
  const view: SessionDescription = {
    version: 0,
    origin: offer.sdp.origin,
    name: '-',
    timing: { start: 0, stop: 0 },
    groups: [{ type: 'BUNDLE', mids: media.map((m) => String(m.mid)).join(' ') }],
    media,
  };
  return sdpTransform.write(view);
}

/** A subscribed track Strand sends on one of the client's receive sections (v1). */
export interface BoundTrack {
  codec: NegotiatedCodec;
  ssrc: number;
  rtxSsrc?: number;
  cname: string;
  /** `PA_xxx|TR_yyy`: LiveKit clients split it to find participant and track. */
  streamId: string;
  trackId: string;
}

/**
 * Strand's answer to a client offer: every offered mid, bundled, one codec per section (+rtx).
 * Sections the client sends on are received (simulcast rids flipped to `recv`); receive
 * sections with a track in `bound` are sent on (v1), with the offer's payload types; the rest
 * are inactive.
 */
export function writePublisherAnswer(offer: ParsedOffer, transport: TransportParams, session: SdpSession,
  bound: ReadonlyMap<string, BoundTrack> = new Map()): string {
  const media: MediaDescription[] = [];
  const bundle: string[] = [];
  let candidatesWritten = false;
  for (const [i, om] of offer.sdp.media.entries()) {
    const s = offer.sections[i]!;
    if (om.type === 'application') {
      if (s.rejected) {
        media.push({ type: 'application', port: 0, protocol: om.protocol, payloads: String(om.payloads ?? ''), mid: s.mid, rtp: [], fmtp: [] });
        continue;
      }
      const m: MediaDescription = {
        type: 'application', port: 9, protocol: om.protocol, payloads: String(om.payloads ?? 'webrtc-datachannel'),
        connection: { version: 4, ip: '0.0.0.0' }, mid: s.mid, rtp: [], fmtp: [],
        sctpPort: transport.sctpPort ?? 5000, maxMessageSize: transport.maxMessageSize ?? 262144,
      };
      applyTransportParams(m, transport, !candidatesWritten);
      candidatesWritten = true;
      media.push(m);
      bundle.push(s.mid);
      continue;
    }
    const track = s.sending ? undefined : bound.get(s.mid);
    if (track && !s.rejected) {
      const m = boundSection(om, s, track);
      applyTransportParams(m, transport, !candidatesWritten);
      candidatesWritten = true;
      media.push(m);
      bundle.push(s.mid);
      continue;
    }
    const codec = s.codec;
    if (s.rejected || !codec || (om.type !== 'audio' && om.type !== 'video')) {
      // sdp-transform gives a lone payload type as a number.
      const pt = String(om.payloads ?? '0').split(' ')[0] ?? '0';
      media.push({ type: om.type, port: 0, protocol: om.protocol, payloads: pt, mid: s.mid, direction: 'inactive', rtp: [], fmtp: [] });
      continue;
    }
    const pts = [codec.payloadType, ...(codec.rtxPayloadType !== undefined ? [codec.rtxPayloadType] : [])];
    const m: MediaDescription = {
      type: om.type, port: 9, protocol: om.protocol, payloads: pts.join(' '),
      connection: { version: 4, ip: '0.0.0.0' }, mid: s.mid,
      direction: s.sending ? 'recvonly' : 'inactive',
      rtcpMux: 'rtcp-mux',
      rtp: [{ payload: codec.payloadType, codec: codec.mimeType.split('/')[1]!, rate: codec.clockRate, encoding: codec.channels }],
      fmtp: codec.fmtp ? [{ payload: codec.payloadType, config: codec.fmtp }] : [],
    };
    if (s.rtcpRsize) m.rtcpRsize = 'rtcp-rsize';
    if (om.type === 'video') {
      m.rtcpFb = VIDEO_FEEDBACK.map((f) => ({ payload: codec.payloadType, type: f.type, subtype: f.subtype }));
      if (codec.rtxPayloadType !== undefined) {
        m.rtp!.push({ payload: codec.rtxPayloadType, codec: 'rtx', rate: codec.clockRate });
        m.fmtp!.push({ payload: codec.rtxPayloadType, config: `apt=${codec.payloadType}` });
      }
      if (s.rids.length > 0 && s.sending) {
        m.rids = s.rids.map((id) => ({ id, direction: 'recv' }));
        m.simulcast = { dir1: 'recv', list1: s.rids.join(';') };
      }
    }
    m.ext = answeredExtensions(s);
    applyTransportParams(m, transport, !candidatesWritten);
    candidatesWritten = true;
    media.push(m);
    bundle.push(s.mid);
  }
  const answer: SessionDescription = {
    version: 0,
    origin: originOf(session),
    name: '-',
    timing: { start: 0, stop: 0 },
    groups: bundle.length ? [{ type: 'BUNDLE', mids: bundle.join(' ') }] : [],
    msidSemantic: { semantic: 'WMS', token: '*' },
    media,
  };
  return sdpTransform.write(answer);
}

/**
 * The header extensions Strand accepts on a section: those it knows, as offered. Chromium
 * rejects rid without mid, so rid goes when mid is missing.
 */
function answeredExtensions(s: OfferedSection): NonNullable<MediaDescription['ext']> {
  const ext = [...s.extensions].map(([uri, value]) => ({ value, uri }));
  if (s.extensions.has(EXT_MID)) return ext;
  return ext.filter((e) => e.uri !== EXT_RID && e.uri !== EXT_REPAIRED_RID);
}

/** A client receive section carrying a subscribed track: Strand sends, declaring its SSRCs. */
function boundSection(om: MediaDescription, s: OfferedSection, t: BoundTrack): MediaDescription {
  const { codec } = t;
  const rtx = codec.rtxPayloadType !== undefined && t.rtxSsrc !== undefined ? codec.rtxPayloadType : undefined;
  const m: MediaDescription = {
    type: om.type, port: 9, protocol: om.protocol, payloads: [codec.payloadType, ...(rtx !== undefined ? [rtx] : [])].join(' '),
    connection: { version: 4, ip: '0.0.0.0' }, mid: s.mid,
    direction: 'sendonly',
    rtcpMux: 'rtcp-mux',
    rtp: [{ payload: codec.payloadType, codec: codec.mimeType.split('/')[1]!, rate: codec.clockRate, encoding: codec.channels }],
    fmtp: codec.fmtp ? [{ payload: codec.payloadType, config: codec.fmtp }] : [],
    // The same extensions as every other section: Chromium keeps offering, on any section of
    // the bundle, only extensions an earlier answer accepted (a simulcast camera added later
    // needs rid). Strand sends none: forwarded packets have the publisher's neutralised (see
    // DownTrack.write).
    ext: answeredExtensions(s),
    msid: [{ id: t.streamId, appdata: t.trackId }],
    ssrcs: [],
  };
  if (s.rtcpRsize) m.rtcpRsize = 'rtcp-rsize';
  if (om.type === 'video') {
    m.rtcpFb = VIDEO_FEEDBACK.map((f) => ({ payload: codec.payloadType, type: f.type, subtype: f.subtype }));
    if (rtx !== undefined) {
      m.rtp!.push({ payload: rtx, codec: 'rtx', rate: codec.clockRate });
      m.fmtp!.push({ payload: rtx, config: `apt=${codec.payloadType}` });
    }
  }
  for (const ssrc of rtx !== undefined ? [t.ssrc, t.rtxSsrc!] : [t.ssrc]) {
    m.ssrcs!.push({ id: ssrc, attribute: 'cname', value: t.cname }, { id: ssrc, attribute: 'msid', value: `${t.streamId} ${t.trackId}` });
  }
  if (rtx !== undefined) m.ssrcGroups = [{ semantics: 'FID', ssrcs: `${t.ssrc} ${t.rtxSsrc}` }];
  return m;
}

/** The ICE username fragment of an offer (a new one means the client restarts ICE). */
export function offerIceUfrag(offer: ParsedOffer): string {
  return readTransportParams(offer.sdp).iceUfrag;
}

export { readTransportParams };
