// The PeerConnection the client offers on: on v0 the one a participant publishes on, on v1 its
// only one. Owns the native transport track, answers every offer with Strand's own SDP and
// demultiplexes incoming RTP by SSRC, learning new SSRCs from the mid / rid / repaired-rid
// header extensions of their first packets. On v1 it also carries the participant's
// downstream: subscribed tracks go out on the client's spare receive sections.
//
// ICE restart: libdatachannel cannot restart ICE on a connection, so an offer with new ICE
// credentials gets a new native connection behind the same peer. Receivers, downtracks and
// the client's data channels (recreated as negotiated channels with the same ids) move to it.
import { EXT_AUDIO_LEVEL, EXT_MID, EXT_REPAIRED_RID, EXT_RID } from '../sdp/codecs.js';
import {
  TRANSPORT_MID, offerIceUfrag, offeredCodec, parseOffer, publisherTransportView, writePublisherAnswer,
  type BoundTrack, type OfferedSection, type ParsedOffer,
} from '../sdp/publisher-sdp.js';
import { SectionBinder, type MediaKind } from '../sdp/section-binder.js';
import { SdpError, newSdpSession, readTransportParams, type TransportParams } from '../sdp/transport-params.js';
import { parseSdp } from '../sdp/publisher-sdp.js';
import { ExtensionValue, RtpHeader, extensionString, findExtension, isRtcp, parseRtpHeader } from '../../rtp/packet.js';
import { RTCP_SR, RtcpCursor, SenderReport, nextRtcp, readSenderReport, writeNack, writeReceiverReportHeader, writeRemb } from '../../rtp/rtcp.js';
import { MAX_PACKET_SIZE } from '../../rtp/packet-cache.js';
import { REPORT_BLOCK_SIZE } from '../../rtp/receive-stats.js';
import { guard, holdUntilClosed, type DataChannel, type Native, type RtcConfig, type Track } from '../native.js';
import type { PendingTrack, PublishedSection } from '../protocol.js';
import { Handover, NativeConnection, gatheringComplete, randomSsrc } from './peer-util.js';
import { Receiver, type RtcpSink } from './receiver.js';
import type { Downstream } from './downstream.js';
import { BYTES_IN, MEDIA_DROPPED, NACKS_OUT, PACKETS_IN, mediaCounters } from '../media-counters.js';
import { TokenBucket } from '../../limits/token-bucket.js';

/** Where packets of one SSRC go. `receiver === null` means: known, and dropped. */
interface SsrcRoute {
  receiver: Receiver | null;
  layer: number;
  /** An RTX stream repairing `layer` (RFC 4588). */
  rtx: boolean;
  /** The track's media payload type (what unwrapped RTX packets get), -1 when dropped. */
  payloadType: number;
}

const DROP: SsrcRoute = { receiver: null, layer: 0, rtx: false, payloadType: -1 };

/** A media section of the negotiated offer, with the receiver of its track. */
interface MidState {
  section: OfferedSection;
  receiver: Receiver | null;
}

/** Bitrate Strand asks publishers to use until bandwidth estimation lands, bit/s. */
const REMB_BITRATE = 5_000_000;
const REMB_INTERVAL_MS = 500;
const NACK_INTERVAL_MS = 50;

/** Test hook: STRAND_TEST_UPSTREAM_LOSS="<rate>" drops that fraction of incoming video packets. */
function upstreamTestLossRate(): number {
  const rate = Number(process.env.STRAND_TEST_UPSTREAM_LOSS ?? 0);
  return rate > 0 && rate < 1 ? rate : 0;
}

export interface PublisherPeerEvents {
  onStateChange(state: string): void;
  onDataMessage(label: string, msg: Buffer): void;
  /** The client's reliable data channel is open (again, after an ICE restart). */
  onReliableOpen(): void;
  /** A track's layer SSRC became known (for TrackInfo). */
  onLayerSsrc(trackSid: string, layer: number, ssrc: number): void;
  /** v1: the client should offer again, adding this many receive sections (MediaSectionsRequirement). */
  onMediaSections(audios: number, videos: number): void;
  onError(where: string, err: unknown): void;
}

/** The reliability LiveKit clients give their channels, for recreating them after an ICE restart. */
function channelInit(label: string, id: number): { negotiated: true; id: number; unordered?: boolean; maxRetransmits?: number } {
  return label === '_reliable' ? { negotiated: true, id } : { negotiated: true, id, unordered: true, maxRetransmits: 0 };
}

export interface OfferResult {
  answer: string;
  published: PublishedSection[];
  /** v1: mid → track sid of every section Strand sends a subscribed track on. */
  midToTrackId: Record<string, string>;
}

/** A bucket that never runs out (rate 0), for publishers without a media limit. */
const UNLIMITED = new TokenBucket(0, 0);

export class PublisherPeer implements RtcpSink {
  private conn: NativeConnection;
  /** The connection an ICE restart replaces, until the new one is connected, and the track in use. */
  private readonly handover = new Handover();
  private connecting: Promise<void> | null = null;
  /** The client's ICE ufrag the current native connection was set up with. */
  private iceUfrag = '';
  /** ICE restarts answered with a new native connection. */
  restarts = 0;
  private readonly binder = new SectionBinder();
  private offersSeen = 0;
  private answering = false;
  private recheckSections = false;
  private sectionsQueued = false;
  private readonly cname = `strand-${randomSsrc().toString(36)}`;
  private readonly channels: DataChannel[] = [];
  private readonly session = newSdpSession();
  private transport: TransportParams | null = null;
  private readonly mids = new Map<string, MidState>();
  private readonly ssrcRoutes = new Map<number, SsrcRoute>();
  private readonly receiversBySid = new Map<string, Receiver>();
  private extMid = 0;
  private extRid = 0;
  private extRepairedRid = 0;
  private extAudioLevel = 0;
  private readonly header = new RtpHeader();
  private readonly ext = new ExtensionValue();
  private readonly rembBuf = Buffer.alloc(20 + 4 * 64);
  private readonly rembSsrcs: number[] = [];
  private rembTimer: NodeJS.Timeout | null = null;
  private reportTicks = 0;
  private readonly rrBuf = Buffer.alloc(8 + 31 * REPORT_BLOCK_SIZE);
  private readonly cursor = new RtcpCursor();
  private readonly sr = new SenderReport();
  private readonly repairBuf = Buffer.alloc(MAX_PACKET_SIZE);
  private readonly nackBuf = Buffer.alloc(12 + 4 * 64);
  private readonly nackSeqs = new Uint16Array(64);
  private nackTimer: NodeJS.Timeout | null = null;
  /** Test hook (STRAND_TEST_UPSTREAM_LOSS): fraction of incoming video packets dropped. */
  private readonly testLossRate = upstreamTestLossRate();
  nacksSent = 0;
  testDrops = 0;
  readonly rtcpSenderSsrc = randomSsrc();
  packetsIn = 0;
  packetsUnrouted = 0;
  private closed = false;

  constructor(
    private readonly native: Native,
    private readonly sid: string,
    private readonly config: RtcConfig,
    private readonly events: PublisherPeerEvents,
    /** v1: the participant's downstream, sent on this connection. */
    private readonly downstream: Downstream | null = null,
    /** The participant's limit.media_bytes_per_second; none when absent. */
    private readonly mediaBudget: TokenBucket = UNLIMITED,
  ) {
    this.conn = new NativeConnection('publisher', events.onError);
  }

  /** The current connection as libdatachannel last reported it. */
  get state(): string {
    return this.conn.state;
  }

  get receivers(): Iterable<Receiver> {
    return this.receiversBySid.values();
  }

  receiver(trackSid: string): Receiver | undefined {
    return this.receiversBySid.get(trackSid);
  }

  /**
   * Answers a client offer. The first offer sets up the native connection through the
   * transport view, an offer with new ICE credentials replaces it (restart); other offers only
   * change Strand's own state. Sections are matched to announced tracks by msid track id =
   * cid, then by kind; on v1, subscribed tracks are bound to the client's receive sections.
   */
  async handleOffer(sdp: string, pending: PendingTrack[]): Promise<OfferResult> {
    if (this.closed) throw new SdpError('publisher connection is closed');
    const offer = parseOffer(sdp);
    const ufrag = offerIceUfrag(offer);
    this.answering = true;
    try {
      if (this.connecting === null) {
        this.iceUfrag = ufrag;
        this.connecting = this.openConnection(offer, []);
      } else if (ufrag !== this.iceUfrag) {
        await this.connecting;
        this.iceUfrag = ufrag;
        this.connecting = this.restart(offer);
      }
      await this.connecting;
      if (this.closed) throw new SdpError('publisher connection is closed');
      this.applyExtensionIds(offer);
      const published = this.matchSections(offer, pending);
      const { bound, midToTrackId, missing } = this.bindSubscriptions(offer);
      this.offersSeen++;
      this.session.version++;
      const answer = writePublisherAnswer(offer, this.transport!, this.session, bound);
      if (missing.audio > 0 || missing.video > 0 || this.recheckSections) this.queueSectionsRequest();
      return { answer, published, midToTrackId };
    } finally {
      this.answering = false;
      this.recheckSections = false;
    }
  }

  /** A native connection for `offer`, with the client's data channels recreated as negotiated ones. */
  private async openConnection(offer: ParsedOffer, channels: Array<{ label: string; id: number }>): Promise<void> {
    const conn = new NativeConnection('publisher', this.events.onError);
    this.conn = conn;
    const view = publisherTransportView(offer);
    const pc = conn.open(this.native, `pub-${this.sid}-${this.restarts}`, this.config, (state) => {
      if (conn !== this.conn) return; // a replaced connection
      this.events.onStateChange(state);
      if (state === 'connected') this.onConnected();
    });
    pc.onTrack(guard('publisher.onTrack', (track: Track) => this.attachTrack(track)));
    pc.onDataChannel(guard('publisher.onDataChannel', (dc: DataChannel) => this.attachDataChannel(dc)));
    pc.setRemoteDescription(view, 'offer');
    for (const c of channels) this.attachDataChannel(pc.createDataChannel(c.label, channelInit(c.label, c.id)));
    conn.candidates.flush();
    pc.setLocalDescription('answer');
    await gatheringComplete(pc);
    const local = pc.localDescription();
    if (!local) throw new SdpError('libdatachannel produced no answer');
    this.transport = readTransportParams(parseSdp(local.sdp));
  }

  /**
   * ICE restart: a new connection answers the offer with new ICE and DTLS parameters. Chromium
   * keeps its RTCPeerConnection, its SCTP streams and its senders; SSRCs, sequence numbers and
   * timestamps continue on both sides. Until the new connection is connected, media and RTCP
   * keep using the old one (the client does too, until its restart completes).
   */
  private async restart(offer: ParsedOffer): Promise<void> {
    const channels: Array<{ label: string; id: number }> = [];
    for (const dc of this.channels) {
      try {
        channels.push({ label: dc.getLabel(), id: dc.getId() });
      } catch (err) {
        this.events.onError('publisher.restart.channel', err);
      }
    }
    this.handover.begin(this.conn, this.channels);
    this.channels.length = 0;
    this.restarts++;
    await this.openConnection(offer, channels);
  }

  /** The current connection is up: after a restart, it takes over and the old one goes soon. */
  private onConnected(): void {
    this.startRemb();
    const switched = this.handover.connected();
    if (switched !== null && this.downstream !== null) {
      this.downstream.setTransport(switched);
      // Decoders downstream may have lost frames during the switch.
      this.downstream.requestKeyframes();
    }
  }

  /**
   * v1: binds subscribed tracks to the offer's receive sections, with the offer's payload
   * types. Tracks that found no section are counted in `missing` (the client is asked for more).
   */
  private bindSubscriptions(offer: ParsedOffer): { bound: Map<string, BoundTrack>; midToTrackId: Record<string, string>; missing: Record<MediaKind, number> } {
    const bound = new Map<string, BoundTrack>();
    const midToTrackId: Record<string, string> = {};
    const ds = this.downstream;
    if (ds === null) return { bound, midToTrackId, missing: { audio: 0, video: 0 } };
    const receive = offer.sections
      .filter((s) => s.receiving && !s.sending && !s.rejected && (s.kind === 'audio' || s.kind === 'video'))
      .map((s) => ({ mid: s.mid, kind: s.kind as MediaKind }));
    const { bindings, missing } = this.binder.bind(receive, this.wantedTracks());
    for (const [mid, trackSid] of bindings) {
      const sub = ds.get(trackSid);
      const section = offer.sections.find((s) => s.mid === mid);
      if (!sub || !section) continue;
      const codec = offeredCodec(offer.sdp.media[section.index]!, sub.receiver.mimeType.split('/')[1]!);
      if (!codec) continue;
      const dt = sub.downTrack;
      dt.payloadType = codec.payloadType;
      if (dt.rtx && codec.rtxPayloadType !== undefined) dt.rtx.payloadType = codec.rtxPayloadType;
      bound.set(mid, {
        codec, ssrc: dt.ssrc, rtxSsrc: dt.rtx && codec.rtxPayloadType !== undefined ? dt.rtx.ssrc : undefined, cname: this.cname,
        streamId: `${sub.receiver.publisherSid}|${trackSid}`, trackId: trackSid,
      });
      midToTrackId[mid] = trackSid;
      if (!sub.bound) ds.bind(sub);
    }
    return { bound, midToTrackId, missing };
  }

  private wantedTracks(): Array<{ trackSid: string; kind: MediaKind }> {
    return [...this.downstream?.all ?? []].map((sub) => ({ trackSid: sub.receiver.trackSid, kind: sub.receiver.kind }));
  }

  /**
   * v1: subscriptions changed. The next answer must carry them, and only an offer gets an
   * answer: ask the client for one (with more receive sections if needed). Before the first
   * offer there is nothing to ask; it is on its way with the join.
   */
  subscriptionsChanged(): void {
    if (this.downstream === null || this.offersSeen === 0) return;
    if (this.answering) {
      this.recheckSections = true;
      return;
    }
    this.queueSectionsRequest();
  }

  /** One request per turn of the event loop, however many subscriptions changed in it. */
  private queueSectionsRequest(): void {
    if (this.sectionsQueued) return;
    this.sectionsQueued = true;
    setImmediate(() => {
      this.sectionsQueued = false;
      if (this.closed || this.answering) return;
      const need = this.binder.shortfall(this.wantedTracks());
      this.events.onMediaSections(need.audio, need.video);
    });
  }

  private attachTrack(track: Track): void {
    if (track.mid() !== TRANSPORT_MID) return;
    // Kept referenced: a collected Track closes and media stops silently.
    holdUntilClosed(track, 'publisher.track.onClosed');
    track.onMessage(guard('publisher.onMessage', (buf: Buffer) => this.onMedia(buf)));
    if (this.handover.attachTrack(track)) this.downstream?.setTransport(track);
  }

  private attachDataChannel(dc: DataChannel): void {
    this.channels.push(dc);
    const label = dc.getLabel();
    if (label === '_reliable') {
      if (dc.isOpen()) this.events.onReliableOpen();
      else dc.onOpen(guard('publisher.dc.onOpen', () => this.events.onReliableOpen()));
    }
    dc.onMessage(guard('publisher.dc.onMessage', (msg: string | Buffer | ArrayBuffer) => {
      if (typeof msg === 'string') return; // LiveKit data packets are binary protobuf
      this.events.onDataMessage(label, Buffer.isBuffer(msg) ? msg : Buffer.from(msg));
    }));
    holdUntilClosed(dc, 'publisher.dc.onClosed', () => {
      const i = this.channels.indexOf(dc);
      if (i >= 0) this.channels.splice(i, 1);
    });
  }

  private applyExtensionIds(offer: ParsedOffer): void {
    for (const s of offer.sections) {
      this.extMid ||= s.extensions.get(EXT_MID) ?? 0;
      this.extRid ||= s.extensions.get(EXT_RID) ?? 0;
      this.extRepairedRid ||= s.extensions.get(EXT_REPAIRED_RID) ?? 0;
      this.extAudioLevel ||= s.extensions.get(EXT_AUDIO_LEVEL) ?? 0;
    }
  }

  private matchSections(offer: ParsedOffer, pending: PendingTrack[]): PublishedSection[] {
    const published: PublishedSection[] = [];
    const unclaimed = [...pending];
    for (const s of offer.sections) {
      if (s.kind !== 'audio' && s.kind !== 'video') continue;
      const state = this.mids.get(s.mid);
      if (state) {
        state.section = s;
        if (s.rejected || !s.sending) this.dropMid(s.mid);
        continue;
      }
      if (s.rejected || !s.sending || !s.codec) continue;
      let idx = unclaimed.findIndex((p) => p.cid === s.trackId && p.kind === s.kind);
      if (idx < 0) idx = unclaimed.findIndex((p) => p.kind === s.kind);
      if (idx < 0) {
        this.mids.set(s.mid, { section: s, receiver: null });
        continue;
      }
      const p = unclaimed.splice(idx, 1)[0]!;
      // The codec the client asked for at AddTrack, as LiveKit picks it, when the section offers it.
      const asked = p.codec ? offeredCodec(offer.sdp.media[s.index]!, p.codec) : undefined;
      if (asked) s.codec = asked;
      const receiver = new Receiver(p.sid, this.sid, s.kind, s.codec.mimeType, s.codec.clockRate, s.codec.channels,
        s.codec.fmtp, s.rids, this);
      this.mids.set(s.mid, { section: s, receiver });
      this.receiversBySid.set(p.sid, receiver);
      for (const { ssrc, rtx } of s.ssrcs) {
        this.ssrcRoutes.set(ssrc, { receiver, layer: 0, rtx, payloadType: s.codec.payloadType });
        if (!rtx) receiver.layerSsrcs[0] = ssrc;
      }
      published.push({ trackSid: p.sid, mid: s.mid, mimeType: s.codec.mimeType, rids: s.rids });
    }
    return published;
  }

  private dropMid(mid: string): void {
    const state = this.mids.get(mid);
    if (!state?.receiver) return;
    this.removeReceiver(state.receiver);
    state.receiver = null;
  }

  /** Stops receiving a track (unpublish); its SSRCs are then dropped. */
  unpublish(trackSid: string): Receiver | undefined {
    const r = this.receiversBySid.get(trackSid);
    if (!r) return undefined;
    for (const state of this.mids.values()) if (state.receiver === r) state.receiver = null;
    this.removeReceiver(r);
    return r;
  }

  private removeReceiver(r: Receiver): void {
    this.receiversBySid.delete(r.trackSid);
    for (const [ssrc, route] of this.ssrcRoutes) if (route.receiver === r) this.ssrcRoutes.set(ssrc, DROP);
    r.close();
  }

  addRemoteCandidate(candidate: string): void {
    this.conn.candidates.add(candidate, TRANSPORT_MID);
  }

  /** v1: a data packet to the client, on its own channel of that kind. Returns false if none is open. */
  sendData(reliable: boolean, buf: Uint8Array): boolean {
    const label = reliable ? '_reliable' : '_lossy';
    const dc = this.channels.find((c) => c.getLabel() === label);
    try {
      if (!dc?.isOpen()) return false;
      dc.sendMessageBinary(buf);
      return true;
    } catch (err) {
      this.events.onError('publisher.sendData', err);
      return false;
    }
  }


  /** Per packet: the media path. No allocation except the native Buffer we are handed. */
  private onMedia(buf: Buffer): void {
    const len = buf.length;
    if (len < 4) return;
    if (isRtcp(buf)) {
      this.onRtcp(buf, len);
      return;
    }
    const h = this.header;
    if (!parseRtpHeader(buf, len, h)) return;
    this.packetsIn++;
    mediaCounters[PACKETS_IN]++;
    mediaCounters[BYTES_IN] += len;
    const nowMs = performance.now();
    // Over its limit, a publisher's packets stop here, before they cost a fan-out (the
    // receiver sees a gap and asks for what it missed, within the same budget).
    if (!this.mediaBudget.take(len, nowMs)) {
      mediaCounters[MEDIA_DROPPED]++;
      return;
    }
    let route = this.ssrcRoutes.get(h.ssrc);
    if (route === undefined) {
      route = this.learnSsrc(buf, h);
      if (route === undefined) {
        this.packetsUnrouted++;
        return;
      }
    }
    const r = route.receiver;
    if (r === null) return;
    if (route.rtx) {
      this.onRtx(buf, len, h, r, route.layer, route.payloadType, nowMs);
      return;
    }
    if (this.testLossRate > 0 && r.kind === 'video' && Math.random() < this.testLossRate) {
      this.testDrops++;
      return;
    }
    if (r.audioLevel !== null && findExtension(buf, h, this.extAudioLevel, this.ext)) {
      r.observeAudioLevel(buf[this.ext.offset]! & 0x7f, h.timestamp, nowMs);
    }
    r.onPacket(buf, len, h.payloadOffset, len - h.paddingLength, h.sequenceNumber, h.timestamp, route.layer, nowMs);
  }

  /** An RTX packet from the publisher: unwrapped into the original packet for the cache. */
  private onRtx(buf: Buffer, len: number, h: RtpHeader, r: Receiver, layer: number, pt: number, nowMs: number): void {
    const payloadEnd = len - h.paddingLength;
    const ssrc = r.layerSsrcs[layer] ?? 0;
    if (payloadEnd - h.payloadOffset <= 2 || ssrc === 0 || pt < 0) return; // padding-only probe
    const osn = (buf[h.payloadOffset]! << 8) | buf[h.payloadOffset + 1]!;
    const headerLen = 12 + h.csrcCount * 4;
    const out = this.repairBuf;
    const total = headerLen + payloadEnd - h.payloadOffset - 2;
    if (total > out.length) return;
    out.set(buf.subarray(0, headerLen), 0);
    out[0] = 0x80 | h.csrcCount; // extensions and padding dropped
    out[1] = (buf[1]! & 0x80) | pt;
    out[2] = osn >> 8;
    out[3] = osn & 0xff;
    out.writeUInt32BE(ssrc, 8);
    out.set(buf.subarray(h.payloadOffset + 2, payloadEnd), headerLen);
    r.onRepaired(layer, out, total, osn, nowMs);
  }

  /** NACKs upstream gaps (every 50 ms while any are pending). */
  private sendNacks(): void {
    const now = performance.now();
    for (const r of this.receiversBySid.values()) {
      if (r.loss === null) continue;
      for (let layer = 0; layer < r.loss.length; layer++) {
        const tracker = r.loss[layer]!;
        const ssrc = r.layerSsrcs[layer]!;
        if (tracker.pending === 0 || ssrc === 0) continue;
        const n = tracker.due(now, this.nackSeqs);
        if (n === 0) continue;
        this.nacksSent += n;
        mediaCounters[NACKS_OUT] += n;
        this.sendRtcp(this.nackBuf.subarray(0, writeNack(this.nackBuf, this.rtcpSenderSsrc, ssrc, this.nackSeqs, n)));
      }
    }
  }

  /**
   * RTCP from the client: sender reports feed receive statistics and the downstream SRs; on
   * v1 the same packets carry its feedback about what it receives.
   */
  private onRtcp(buf: Buffer, len: number): void {
    if (this.downstream !== null) this.downstream.onFeedback(buf, len);
    const c = this.cursor;
    c.offset = 0;
    c.length = 0;
    while (nextRtcp(buf, len, c)) {
      if (c.type !== RTCP_SR || !readSenderReport(buf, c, this.sr)) continue;
      const route = this.ssrcRoutes.get(this.sr.ssrc);
      if (route?.receiver) route.receiver.onSenderReport(route.layer, this.sr, performance.now());
    }
  }

  /** First packet of an unknown SSRC: find its track and layer from the header extensions. */
  private learnSsrc(buf: Buffer, h: RtpHeader): SsrcRoute | undefined {
    if (!findExtension(buf, h, this.extMid, this.ext)) return undefined;
    const state = this.mids.get(extensionString(buf, this.ext));
    if (!state) return undefined;
    const r = state.receiver;
    let route: SsrcRoute;
    const payloadType = state.section.codec?.payloadType ?? -1;
    const simulcast = state.section.rids.length > 0;
    const isRtx = state.section.codec?.rtxPayloadType !== undefined && h.payloadType === state.section.codec.rtxPayloadType;
    if (r === null) {
      route = DROP;
    } else if (findExtension(buf, h, this.extRepairedRid, this.ext)) {
      const layer = simulcast ? state.section.rids.indexOf(extensionString(buf, this.ext)) : 0;
      if (layer < 0) return undefined;
      route = { receiver: r, layer, rtx: true, payloadType };
    } else if (isRtx) {
      // RTX without repaired-rid can only be matched when there is one layer.
      route = simulcast ? DROP : { receiver: r, layer: 0, rtx: true, payloadType };
    } else if (simulcast) {
      if (!findExtension(buf, h, this.extRid, this.ext)) return undefined;
      const layer = state.section.rids.indexOf(extensionString(buf, this.ext));
      if (layer < 0) return undefined;
      route = { receiver: r, layer, rtx: false, payloadType };
      r.layerSsrcs[layer] = h.ssrc;
      this.events.onLayerSsrc(r.trackSid, layer, h.ssrc);
    } else {
      route = { receiver: r, layer: 0, rtx: false, payloadType };
      r.layerSsrcs[0] = h.ssrc;
      this.events.onLayerSsrc(r.trackSid, 0, h.ssrc);
    }
    this.ssrcRoutes.set(h.ssrc, route);
    if (route.receiver && route.receiver.kind === 'video' && !route.rtx) this.rembSsrcs.push(h.ssrc);
    return route;
  }

  sendRtcp(pkt: Uint8Array): void {
    const t = this.handover.track;
    if (!t || this.closed) return;
    try {
      if (t.isOpen()) t.sendMessageBinary(pkt as Buffer);
    } catch (err) {
      this.events.onError('publisher.sendRtcp', err);
    }
  }

  /**
   * Periodic RTCP to the publisher: REMB every 500 ms (Chromium caps itself near 300 kbit/s
   * without it), and a receiver report about every learned stream each second.
   */
  private startRemb(): void {
    if (this.rembTimer) return;
    this.rembTimer = setInterval(guard('publisher.rtcp', () => {
      if (this.rembSsrcs.length > 0) {
        const n = writeRemb(this.rembBuf, this.rtcpSenderSsrc, REMB_BITRATE, this.rembSsrcs, Math.min(this.rembSsrcs.length, 64));
        this.sendRtcp(this.rembBuf.subarray(0, n));
      }
      if (++this.reportTicks % 2 === 0) this.sendReceiverReport();
    }), REMB_INTERVAL_MS);
    this.nackTimer = setInterval(guard('publisher.nack', () => this.sendNacks()), NACK_INTERVAL_MS);
  }

  private sendReceiverReport(): void {
    const now = performance.now();
    let count = 0;
    for (const r of this.receiversBySid.values()) {
      for (let layer = 0; layer < r.layerSsrcs.length && count < 31; layer++) {
        const ssrc = r.layerSsrcs[layer]!;
        if (ssrc === 0) continue;
        r.stats[layer]!.writeReportBlock(this.rrBuf, 8 + count * REPORT_BLOCK_SIZE, ssrc, now);
        count++;
      }
    }
    if (count === 0) return;
    const len = writeReceiverReportHeader(this.rrBuf, this.rtcpSenderSsrc, count);
    this.sendRtcp(this.rrBuf.subarray(0, len));
  }

  /** Highest interarrival jitter of the streams received, ms. */
  get receiveJitterMs(): number {
    let jitter = 0;
    for (const r of this.receiversBySid.values()) {
      for (let layer = 0; layer < r.layerSsrcs.length; layer++) {
        if (r.layerSsrcs[layer] !== 0) jitter = Math.max(jitter, (r.stats[layer]!.jitter * 1000) / r.clockRate);
      }
    }
    return jitter;
  }

  /** Average loss fraction (0–1) of the streams received, over the last report interval. */
  get receiveLoss(): number {
    let sum = 0;
    let n = 0;
    for (const r of this.receiversBySid.values()) {
      for (let layer = 0; layer < r.layerSsrcs.length; layer++) {
        if (r.layerSsrcs[layer] === 0) continue;
        sum += r.stats[layer]!.lastFractionLost;
        n++;
      }
    }
    return n === 0 ? 0 : sum / n;
  }

  /** Resolves when every native connection has finished closing (at once if there is none). */
  get whenClosed(): Promise<void> {
    return Promise.all([this.conn.whenClosed, this.handover.whenClosed]).then(() => undefined);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.rembTimer) clearInterval(this.rembTimer);
    if (this.nackTimer) clearInterval(this.nackTimer);
    for (const r of this.receiversBySid.values()) r.close();
    this.receiversBySid.clear();
    this.downstream?.setTransport(null);
    this.handover.close(this.conn, this.channels);
    this.channels.length = 0;
  }
}
