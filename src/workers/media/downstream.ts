// Everything a participant receives, independent of the connection it arrives on: one
// DownTrack per subscribed track, the client's RTCP feedback about them (NACK, PLI/FIR,
// receiver reports, REMB), and bandwidth allocation. On v0 the subscriber PeerConnection
// carries it; on v1 the participant's single PeerConnection does. An ICE restart moves it to a
// new native connection with setTransport(), keeping every downtrack's SSRC, sequence numbers
// and timestamps, so the decoders downstream see one continuous stream.
import { SUBSCRIBER_PAYLOAD_TYPES } from '../sdp/codecs.js';
import { SdpError } from '../sdp/transport-params.js';
import { RTCP_PSFB, RTCP_RR, RTCP_RTPFB, RTCP_SR, ReportBlock, RtcpCursor, feedbackMediaSsrc, nextRtcp, readNack, readRembBitrate, readReportBlock } from '../../rtp/rtcp.js';
import type { Track } from '../native.js';
import { DownTrack } from './down-track.js';
import { CONGESTION_ESTIMATE_SHARE, CONGESTION_LOSS, RECOVERY_TICKS, allocate } from './stream-allocator.js';
import { randomSsrc } from './peer-util.js';
import type { Receiver } from './receiver.js';
import { FIRS_IN, PLIS_IN, mediaCounters } from '../media-counters.js';

export interface Subscription {
  readonly downTrack: DownTrack;
  readonly receiver: Receiver;
  /** Negotiated: packets may go out (v0 at once; v1 once bound to one of the client's sections). */
  bound: boolean;
}

export interface DownstreamEvents {
  /** A track was paused (or resumed) for lack of bandwidth: StreamStateUpdate to the client. */
  onStreamState(publisherSid: string, trackSid: string, paused: boolean): void;
}

export class Downstream {
  private transport: Track | null = null;
  private readonly subscriptions = new Map<string, Subscription>();
  private readonly bySsrc = new Map<number, Subscription>();
  private readonly cursor = new RtcpCursor();
  private readonly nackSeqs = new Uint16Array(256);
  private readonly block = new ReportBlock();
  /** The client's receive-side bandwidth estimate (REMB), bit/s; 0 until it sends one. */
  estimate = 0;
  private calmTicks = 0;
  /** Test hook (STRAND_TEST_DOWNTRACK_LOSS): drop rate applied to new downtracks. */
  testLossRate = 0;
  private closed = false;

  constructor(private readonly events: DownstreamEvents) {}

  /** The native track every bound downtrack sends on (null while there is none). */
  setTransport(track: Track | null): void {
    this.transport = track;
    for (const sub of this.subscriptions.values()) if (sub.bound) sub.downTrack.setTransport(track);
  }

  /** A new downtrack for `receiver`; `bound` says whether it may send at once. */
  add(receiver: Receiver, bound: boolean): Subscription | null {
    if (this.closed || this.subscriptions.has(receiver.trackSid)) return null;
    const pts = SUBSCRIBER_PAYLOAD_TYPES[receiver.mimeType];
    if (!pts) throw new SdpError(`codec ${receiver.mimeType} cannot be forwarded`);
    const ssrc = randomSsrc();
    const rtx = receiver.caches !== null && pts.rtx !== undefined ? { ssrc: randomSsrc(), payloadType: pts.rtx } : null;
    const downTrack = new DownTrack(receiver.trackSid, ssrc, pts.pt, receiver.kind === 'video', receiver.clockRate, receiver, rtx);
    downTrack.lossRate = this.testLossRate;
    const sub: Subscription = { downTrack, receiver, bound: false };
    this.subscriptions.set(receiver.trackSid, sub);
    this.bySsrc.set(ssrc, sub);
    if (bound) this.bind(sub);
    receiver.addDownTrack(downTrack);
    return sub;
  }

  /** The subscription's media section is negotiated: its packets may go out. */
  bind(sub: Subscription): void {
    sub.bound = true;
    sub.downTrack.setTransport(this.transport);
  }

  remove(trackSid: string): Subscription | undefined {
    const sub = this.subscriptions.get(trackSid);
    if (!sub) return undefined;
    this.subscriptions.delete(trackSid);
    this.bySsrc.delete(sub.downTrack.ssrc);
    sub.receiver.removeDownTrack(sub.downTrack);
    return sub;
  }

  get(trackSid: string): Subscription | undefined {
    return this.subscriptions.get(trackSid);
  }

  get all(): IterableIterator<Subscription> {
    return this.subscriptions.values();
  }

  get count(): number {
    return this.subscriptions.size;
  }

  get downTracks(): DownTrack[] {
    return [...this.subscriptions.values()].map((s) => s.downTrack);
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

  /** Sets a track's allocation priority (UpdateTrackSettings.priority). */
  setPriority(trackSid: string, priority: number): void {
    const sub = this.subscriptions.get(trackSid);
    if (sub) sub.downTrack.priority = priority;
  }

  /** Asks for a keyframe on every video track (after an ICE restart: decoders may have lost frames). */
  requestKeyframes(): void {
    for (const sub of this.subscriptions.values()) {
      if (sub.receiver.kind === 'video') sub.receiver.requestKeyframe(Math.max(0, sub.downTrack.currentLayer));
    }
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

  /** RTCP from the client (one compound packet): NACKs are answered here, keyframe requests go upstream. */
  onFeedback(buf: Buffer, len: number): void {
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

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const sub of this.subscriptions.values()) sub.receiver.removeDownTrack(sub.downTrack);
    this.subscriptions.clear();
    this.bySsrc.clear();
    this.transport = null;
  }
}
