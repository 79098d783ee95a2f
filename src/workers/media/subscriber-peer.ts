// The PeerConnection a participant subscribes on (Strand offers). Owns the native transport
// track every downtrack sends on, the `_reliable`/`_lossy` data channels, and the real SDP.
import { SUBSCRIBER_PAYLOAD_TYPES } from '../sdp/codecs.js';
import { parseSdp } from '../sdp/publisher-sdp.js';
import { candidateInits, subscriberViewAnswer, writeSubscriberOffer, type SubscriberSection } from '../sdp/subscriber-sdp.js';
import { SdpError, newSdpSession, readTransportParams, type TransportParams } from '../sdp/transport-params.js';
import { RTCP_PSFB, RTCP_RR, RTCP_RTPFB, RTCP_SR, ReportBlock, RtcpCursor, feedbackMediaSsrc, nextRtcp, readNack, readRembBitrate, readReportBlock } from '../../rtp/rtcp.js';
import { isRtcp } from '../../rtp/packet.js';
import { guard, holdUntilClosed, type DataChannel, type Native, type RtcConfig, type Track } from '../native.js';
import { DownTrack } from './down-track.js';
import { CONGESTION_ESTIMATE_SHARE, CONGESTION_LOSS, RECOVERY_TICKS, allocate } from './stream-allocator.js';
import { NativeConnection, gatheringComplete, randomSsrc } from './peer-util.js';
import type { Receiver } from './receiver.js';
import { FIRS_IN, PLIS_IN, mediaCounters } from '../media-counters.js';

const TRANSPORT_MID = 't';

export interface SubscriberPeerEvents {
  onStateChange(state: string): void;
  onOffer(sdp: string): void;
  /** A local candidate to trickle to the client. */
  onCandidate(candidateInit: string): void;
  /** A track was paused (or resumed) for lack of bandwidth: StreamStateUpdate to the client. */
  onStreamState(publisherSid: string, trackSid: string, paused: boolean): void;
  onError(where: string, err: unknown): void;
}

interface Subscription {
  downTrack: DownTrack;
  receiver: Receiver;
  section: SubscriberSection;
}

export class SubscriberPeer {
  private readonly conn: NativeConnection;
  private track: Track | null = null;
  private reliable: DataChannel | null = null;
  private lossy: DataChannel | null = null;
  private nativeOffer = '';
  private transport: TransportParams | null = null;
  private readonly session = newSdpSession();
  private readonly sections: SubscriberSection[] = [];
  private readonly subscriptions = new Map<string, Subscription>();
  private readonly bySsrc = new Map<number, Subscription>();
  private offering = false;
  private dirty = false;
  private readonly cursor = new RtcpCursor();
  private readonly nackSeqs = new Uint16Array(256);
  private readonly block = new ReportBlock();
  /** The client's receive-side bandwidth estimate (REMB), bit/s; 0 until it sends one. */
  estimate = 0;
  private calmTicks = 0;
  /** Test hook (STRAND_TEST_DOWNTRACK_LOSS): drop rate applied to this subscriber's downtracks. */
  testLossRate = 0;
  private closed = false;
  private readonly cname = `strand-${randomSsrc().toString(36)}`;

  constructor(
    private readonly native: Native,
    private readonly sid: string,
    private readonly config: RtcConfig,
    private readonly events: SubscriberPeerEvents,
  ) {
    this.conn = new NativeConnection('subscriber', events.onError);
  }

  /** Creates the native connection and returns the first offer (data channels only, or fast start). */
  async start(): Promise<string> {
    const pc = this.conn.open(this.native, `sub-${this.sid}`, this.config, (state) => this.events.onStateChange(state));
    const media = new this.native.Video(TRANSPORT_MID, 'SendOnly');
    media.addVP8Codec(96);
    const track = holdUntilClosed(pc.addTrack(media), 'subscriber.track.onClosed');
    this.track = track;
    track.onMessage(guard('subscriber.onMessage', (buf: Buffer) => this.onFeedback(buf)));
    this.reliable = holdUntilClosed(pc.createDataChannel('_reliable'), 'subscriber.dc.onClosed');
    this.lossy = holdUntilClosed(pc.createDataChannel('_lossy', { unordered: true, maxRetransmits: 0 }), 'subscriber.dc.onClosed');
    for (const dc of [this.reliable, this.lossy]) {
      // Data arriving on the subscriber PC is not expected from LiveKit clients; drain it.
      dc.onMessage(guard('subscriber.dc.onMessage', () => undefined));
    }
    pc.setLocalDescription('offer');
    await gatheringComplete(pc);
    const local = pc.localDescription();
    if (!local) throw new SdpError('libdatachannel produced no offer');
    this.nativeOffer = local.sdp;
    this.transport = readTransportParams(parseSdp(local.sdp));
    this.offering = true;
    return this.writeOffer();
  }

  private writeOffer(): string {
    this.session.version++;
    return writeSubscriberOffer(this.transport!, this.sections, this.session);
  }

  handleAnswer(sdp: string): void {
    if (this.closed) return;
    if (!this.offering) throw new SdpError('answer without an outstanding subscriber offer');
    const view = subscriberViewAnswer(this.nativeOffer, sdp);
    const pc = this.conn.pc;
    // Only the first answer reaches libdatachannel; later ones change Strand's sections only.
    if (pc && pc.remoteDescription() === null) {
      pc.setRemoteDescription(view, 'answer');
      this.conn.candidates.flush();
      // Only now may the client reach us: libdatachannel knows its DTLS fingerprint.
      for (const init of candidateInits(this.nativeOffer)) this.events.onCandidate(init);
    }
    this.offering = false;
    if (this.dirty) this.renegotiate();
  }

  addRemoteCandidate(candidate: string): void {
    this.conn.candidates.add(candidate, TRANSPORT_MID);
  }

  /** Sends a new offer now, or once the outstanding one is answered. */
  private renegotiate(): void {
    if (this.closed || !this.transport) return;
    if (this.offering) {
      this.dirty = true;
      return;
    }
    this.dirty = false;
    this.offering = true;
    this.events.onOffer(this.writeOffer());
  }

  subscribe(receiver: Receiver): void {
    if (this.closed || !this.track || this.subscriptions.has(receiver.trackSid)) return;
    const pts = SUBSCRIBER_PAYLOAD_TYPES[receiver.mimeType];
    if (!pts) throw new SdpError(`codec ${receiver.mimeType} cannot be forwarded`);
    const ssrc = randomSsrc();
    const rtx = receiver.caches !== null && pts.rtx !== undefined ? { ssrc: randomSsrc(), payloadType: pts.rtx } : null;
    const downTrack = new DownTrack(receiver.trackSid, ssrc, pts.pt, receiver.kind === 'video', receiver.clockRate, this.track, receiver, rtx);
    downTrack.lossRate = this.testLossRate;
    const section: SubscriberSection = {
      mid: String(this.sections.length + 1),
      kind: receiver.kind,
      downTrack: {
        ssrc, rtxSsrc: rtx?.ssrc, cname: this.cname,
        streamId: `${receiver.publisherSid}|${receiver.trackSid}`, trackId: receiver.trackSid,
        mimeType: receiver.mimeType, clockRate: receiver.clockRate, channels: receiver.channels, fmtp: receiver.fmtp,
      },
    };
    this.sections.push(section);
    const sub = { downTrack, receiver, section };
    this.subscriptions.set(receiver.trackSid, sub);
    this.bySsrc.set(ssrc, sub);
    receiver.addDownTrack(downTrack);
    this.renegotiate();
  }

  unsubscribe(trackSid: string): void {
    const sub = this.subscriptions.get(trackSid);
    if (!sub) return;
    this.subscriptions.delete(trackSid);
    this.bySsrc.delete(sub.downTrack.ssrc);
    sub.receiver.removeDownTrack(sub.downTrack);
    // The section stays (mids never move); it goes inactive.
    sub.section.downTrack = null;
    this.renegotiate();
  }

  /** Applies a subscriber's track settings: the highest layer it wants, or -1 to pause. */
  setMaxLayer(trackSid: string, maxLayer: number): void {
    const sub = this.subscriptions.get(trackSid);
    if (!sub) return;
    const dt = sub.downTrack;
    const wasPaused = dt.maxLayer < 0;
    dt.maxLayer = maxLayer;
    // Resuming or switching layers needs a keyframe on the layer it will move to.
    if (maxLayer >= 0 && (wasPaused || dt.currentLayer !== maxLayer)) sub.receiver.requestKeyframe(Math.min(maxLayer, sub.receiver.layerCount - 1));
  }

  /**
   * Once a second: under congestion, caps each video downtrack's layer by priority within the
   * client's estimate (pausing what does not fit); after RECOVERY_TICKS calm seconds, lifts
   * the caps one step per second.
   */
  allocateBandwidth(): void {
    const video = [...this.subscriptions.values()].filter((s) => s.receiver.kind === 'video');
    if (video.length === 0) return;
    let sending = 0;
    for (const s of video) {
      const cap = Math.min(s.downTrack.maxLayer, s.downTrack.bandwidthCap);
      if (cap >= 0 && s.downTrack.currentLayer >= 0) sending += s.receiver.layerBitrates[s.downTrack.currentLayer] ?? 0;
    }
    const congested = this.estimate > 0 && (this.sendLoss > CONGESTION_LOSS || this.estimate < CONGESTION_ESTIMATE_SHARE * sending);
    if (congested) {
      this.calmTicks = 0;
      const caps = allocate(video.map((s) => ({
        id: s.receiver.trackSid, priority: s.downTrack.priority, maxLayer: s.downTrack.maxLayer, layerBitrates: s.receiver.layerBitrates,
      })), this.estimate);
      for (const s of video) this.setBandwidthCap(s, caps.get(s.receiver.trackSid) ?? 31);
      return;
    }
    if (++this.calmTicks < RECOVERY_TICKS) return;
    for (const s of video) {
      const cap = s.downTrack.bandwidthCap;
      if (cap < s.receiver.layerCount - 1) this.setBandwidthCap(s, cap + 1 >= s.receiver.layerCount - 1 ? 31 : cap + 1);
    }
  }

  private setBandwidthCap(sub: Subscription, cap: number): void {
    const dt = sub.downTrack;
    if (dt.bandwidthCap === cap) return;
    const wasPaused = dt.bandwidthCap < 0;
    dt.bandwidthCap = cap;
    if (cap >= 0) sub.receiver.requestKeyframe(Math.min(cap, sub.receiver.layerCount - 1));
    if (wasPaused !== cap < 0) this.events.onStreamState(sub.receiver.publisherSid, sub.receiver.trackSid, cap < 0);
  }

  /** Sets a track's allocation priority (UpdateTrackSettings.priority). */
  setPriority(trackSid: string, priority: number): void {
    const sub = this.subscriptions.get(trackSid);
    if (sub) sub.downTrack.priority = priority;
  }

  /** Highest loss fraction (0–1) the client reports on any downtrack. */
  get sendLoss(): number {
    let loss = 0;
    for (const sub of this.subscriptions.values()) loss = Math.max(loss, sub.downTrack.reportedLoss);
    return loss;
  }

  /** Worst jitter and round-trip time the client's reports show, ms. */
  get linkDelays(): { jitterMs: number; rttMs: number } {
    let jitterMs = 0;
    let rttMs = 0;
    for (const sub of this.subscriptions.values()) {
      jitterMs = Math.max(jitterMs, sub.downTrack.reportedJitterMs);
      rttMs = Math.max(rttMs, sub.downTrack.rttMs);
    }
    return { jitterMs, rttMs };
  }

  get downTrackCount(): number {
    return this.subscriptions.size;
  }

  get downTracks(): Iterable<DownTrack> {
    return [...this.subscriptions.values()].map((s) => s.downTrack);
  }

  /** Relays a data packet to this participant on the channel matching its kind. */
  sendData(reliable: boolean, buf: Uint8Array): void {
    const dc = reliable ? this.reliable : this.lossy;
    if (!dc) return;
    try {
      if (dc.isOpen()) dc.sendMessageBinary(buf);
    } catch (err) {
      this.events.onError('subscriber.sendData', err);
    }
  }

  /** RTCP from the subscriber: NACKs are answered here, keyframe requests go upstream. */
  private onFeedback(buf: Buffer): void {
    const len = buf.length;
    if (!isRtcp(buf)) return;
    const c = this.cursor;
    c.offset = 0;
    c.length = 0;
    while (nextRtcp(buf, len, c)) {
      if (c.type === RTCP_RR || c.type === RTCP_SR) {
        const b = this.block;
        for (const sub of this.subscriptions.values()) {
          if (readReportBlock(buf, c, sub.downTrack.ssrc, b)) sub.downTrack.onReport(b.fractionLost, b.jitter, b.lastSr, b.delaySinceLastSr);
        }
        continue;
      }
      // Generic NACK (RTPFB FMT 1)
      if (c.type === RTCP_RTPFB && c.count === 1) {
        const sub = this.bySsrc.get(feedbackMediaSsrc(buf, c));
        if (!sub) continue;
        const n = readNack(buf, c, this.nackSeqs);
        for (let i = 0; i < n; i++) sub.downTrack.retransmit(this.nackSeqs[i]!);
        continue;
      }
      if (c.type === RTCP_PSFB && c.count === 15) {
        const bitrate = readRembBitrate(buf, c.offset, c.length);
        if (bitrate >= 0) this.estimate = bitrate;
        continue;
      }
      // PLI (PSFB FMT 1) and FIR (PSFB FMT 4)
      if (c.type === RTCP_PSFB && (c.count === 1 || c.count === 4)) {
        mediaCounters[c.count === 1 ? PLIS_IN : FIRS_IN]++;
        const sub = this.bySsrc.get(c.count === 4 && c.length >= 20 ? buf.readUInt32BE(c.offset + 12) : feedbackMediaSsrc(buf, c));
        if (sub) sub.receiver.requestKeyframe(Math.max(0, sub.downTrack.currentLayer));
      }
    }
  }

  /** Resolves when the native connection has finished closing (at once if there is none). */
  get whenClosed(): Promise<void> {
    return this.conn.whenClosed;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const sub of this.subscriptions.values()) sub.receiver.removeDownTrack(sub.downTrack);
    this.subscriptions.clear();
    this.bySsrc.clear();
    this.conn.close([this.reliable, this.lossy, this.track]);
    this.track = null;
    this.reliable = null;
    this.lossy = null;
  }
}
