// One published track as sent to one subscriber: picks the source layer, rewrites SSRC,
// payload type, sequence numbers, timestamps and VP8 picture ids, sends on the subscriber's
// transport, and answers the subscriber's NACKs with RTX from the receiver's packet cache.
import { RTP_HEADER_SIZE, RtpHeader, parseRtpHeader, writeU16, writeU32 } from '../../rtp/packet.js';
import { RtpMunger } from '../../rtp/munger.js';
import { desiredLayer, type LayerMask } from '../../rtp/layer-selector.js';
import { MAX_PACKET_SIZE, type PacketCache } from '../../rtp/packet-cache.js';
import { Sequencer } from '../../rtp/sequencer.js';
import { SR_SIZE, writeSenderReport, type SenderReport } from '../../rtp/rtcp.js';
import { Vp8Descriptor, Vp8Munger, parseVp8Descriptor, writeVp8Ids } from '../../rtp/vp8.js';
import type { Track } from '../native.js';
import { BYTES_OUT, NACKS_IN, PACKETS_OUT, RTX_BYTES_OUT, RTX_PACKETS_OUT, mediaCounters } from '../media-counters.js';

/** What a DownTrack needs from the publisher side (implemented by Receiver). */
export interface PacketSource {
  requestKeyframe(layer: number): void;
  /** Per layer packet caches (video), or null when the source keeps none. */
  readonly caches: PacketCache[] | null;
}

/** RTX parameters of a downtrack (RFC 4588), when the subscriber offer declares them. */
export interface RtxParams {
  ssrc: number;
  /** Mutable: on a v1 connection the client's offer decides it (see section-binder.ts). */
  payloadType: number;
}

export class DownTrack {
  readonly munger = new RtpMunger();
  private readonly vp8 = new Vp8Munger();
  private readonly sequencer: Sequencer | null;
  /** Layer currently forwarded, -1 before the first keyframe. */
  currentLayer = -1;
  /**
   * Highest layer the subscriber wants (from its track settings: size, quality); -1 pauses the
   * track. Starts at "as high as there is", like LiveKit before the first settings arrive.
   */
  maxLayer = 31;
  /** Highest layer the subscriber's bandwidth allows (stream allocator); -1 pauses. */
  bandwidthCap = 31;
  /** UpdateTrackSettings.priority, for the stream allocator. */
  priority = 0;
  /**
   * Test hook: fraction of first transmissions dropped on purpose, to exercise loss recovery
   * (set from STRAND_TEST_DOWNTRACK_LOSS; 0 in production).
   */
  lossRate = 0;
  packetsSent = 0;
  bytesSent = 0;
  sendErrors = 0;
  nacksReceived = 0;
  retransmits = 0;
  retransmitMisses = 0;
  /** Upstream repairs sent on without waiting for a NACK. */
  repairsForwarded = 0;
  testDrops = 0;
  /** What the subscriber last reported for this downtrack: loss 0–1, jitter and RTT in ms. */
  reportedLoss = 0;
  reportedJitterMs = 0;
  rttMs = 0;
  /** The last SR sent: its NTP middle bits (the publisher's clock) and when it went out. */
  private lastSrNtpMid = -1;
  private lastSrSentMs = 0;
  private closed = false;
  private readonly srBuf = Buffer.alloc(SR_SIZE);
  private lastSendMs = 0;
  private rtxSeq = Math.floor(Math.random() * 0x8000);
  private rtxBuf: Buffer | null = null;
  private readonly rtxHeader = new RtpHeader();
  private readonly rtxVp8 = new Vp8Descriptor();

  /**
   * Where packets go: the subscriber's native transport track. Null until the downtrack's
   * media section is negotiated (v1: bound to one of the client's receive sections), and
   * replaced when an ICE restart moves the participant to a new native connection.
   */
  private transport: Track | null = null;

  constructor(
    readonly trackSid: string,
    readonly ssrc: number,
    /** Mutable: on a v1 connection the client's offer decides it (see section-binder.ts). */
    public payloadType: number,
    readonly isVideo: boolean,
    readonly clockRate: number,
    private readonly source: PacketSource,
    readonly rtx: RtxParams | null,
  ) {
    this.sequencer = rtx && source.caches ? new Sequencer(512) : null;
  }

  setTransport(transport: Track | null): void {
    this.transport = transport;
  }

  /**
   * Offers a packet of `layer`. The downtrack stays on its layer and moves to the layer it
   * wants (see desiredLayer) only at a keyframe of that layer, so the decoder never gets a
   * frame that references one it did not see; meanwhile it asks the publisher for one.
   */
  write(pkt: Uint8Array, len: number, seq: number, ts: number, layer: number, keyframe: boolean,
    active: LayerMask, vp8: Vp8Descriptor | null, nowMs: number): void {
    const max = this.maxLayer < this.bandwidthCap ? this.maxLayer : this.bandwidthCap;
    if (this.closed || max < 0 || this.transport === null) return;
    if (layer !== this.currentLayer) {
      if (this.isVideo) {
        if (layer !== desiredLayer(max, active)) return;
        if (!keyframe) {
          this.source.requestKeyframe(layer);
          return;
        }
      }
      const elapsedMs = this.lastSendMs > 0 ? nowMs - this.lastSendMs : 0;
      this.munger.switchSource(seq, ts, this.munger.hasStarted ? Math.round((elapsedMs * this.clockRate) / 1000) : 1);
      if (vp8 !== null) this.vp8.switchSource(vp8);
      this.currentLayer = layer;
    } else if (this.isVideo) {
      const want = desiredLayer(max, active);
      if (want >= 0 && want !== layer) this.source.requestKeyframe(want);
    }
    if (!this.munger.map(seq, ts)) return;
    this.lastSendMs = nowMs;
    pkt[1] = (pkt[1]! & 0x80) | this.payloadType;
    writeU16(pkt, 2, this.munger.seq);
    writeU32(pkt, 4, this.munger.ts);
    writeU32(pkt, 8, this.ssrc);
    // The publisher's header extensions use the publisher's ids; on a single v1 connection the
    // same ids mean something to the subscriber's other sections (a mid extension saying "1"
    // would route this packet to the client's section 1). An unknown profile makes receivers
    // skip the whole block; none is negotiated for what Strand sends.
    if ((pkt[0]! & 0x10) !== 0) {
      const at = RTP_HEADER_SIZE + (pkt[0]! & 0x0f) * 4;
      pkt[at] = 0;
      pkt[at + 1] = 0;
    }
    if (vp8 !== null) this.vp8.rewrite(pkt, vp8);
    if (this.sequencer !== null) {
      this.sequencer.push(this.munger.seq, seq, layer, this.munger.ts, vp8 !== null ? this.vp8.lastPictureId : -1, vp8 !== null ? this.vp8.lastTl0 : -1);
    }
    if (this.lossRate > 0 && Math.random() < this.lossRate) {
      this.testDrops++;
      return;
    }
    this.send(pkt, len);
  }

  /**
   * Answers a NACK for `outSeq`: the original packet from the cache, rewritten as it was sent,
   * wrapped in RTX (RFC 4588: own SSRC and sequence, original sequence number first).
   * Retransmitting on the media SSRC is not an option: SRTP rejects a reused sequence number.
   */
  retransmit(outSeq: number): void {
    this.nacksReceived++;
    mediaCounters[NACKS_IN]++;
    this.sendRtx(outSeq);
  }

  /**
   * A packet lost upstream and now repaired by the publisher: if this downtrack already
   * passed its sequence number, the subscriber is missing it too, so it goes out as RTX at
   * once instead of waiting for the subscriber's NACK (which may have given up already).
   */
  forwardRepair(layer: number, inSeq: number): void {
    if (this.closed || layer !== this.currentLayer) return;
    const outSeq = this.munger.mapPassedSeq(inSeq);
    if (outSeq >= 0 && this.sendRtx(outSeq)) this.repairsForwarded++;
  }

  private sendRtx(outSeq: number): boolean {
    const caches = this.source.caches;
    if (caches === null || this.rtx === null) {
      this.retransmitMisses++;
      return false;
    }
    // What was sent under outSeq; or, for a packet lost upstream and never sent, what would
    // have been (the current source's mapping) once the publisher's repair is in the cache.
    const seqr = this.sequencer;
    const known = seqr !== null && seqr.lookup(outSeq);
    const inSeq = known ? seqr.inSeq : this.munger.unmapSeq(outSeq);
    const layer = known ? seqr.layer : this.currentLayer;
    const cache = inSeq >= 0 && layer >= 0 ? caches[layer] : undefined;
    const off = cache ? cache.find(inSeq) : -1;
    if (!cache || off < 0) {
      this.retransmitMisses++;
      return false;
    }
    const len = cache.lengthAt(off);
    const src = cache.buffer.subarray(off, off + len);
    const h = this.rtxHeader;
    if (!parseRtpHeader(src, len, h)) {
      this.retransmitMisses++;
      return false;
    }
    const out = (this.rtxBuf ??= Buffer.alloc(MAX_PACKET_SIZE + 2));
    const payloadLen = len - h.payloadOffset - h.paddingLength;
    const headerLen = RTP_HEADER_SIZE + h.csrcCount * 4;
    if (headerLen + 2 + payloadLen > out.length) {
      this.retransmitMisses++;
      return false;
    }
    out[0] = 0x80 | h.csrcCount; // no extension, no padding
    out[1] = (h.marker ? 0x80 : 0) | this.rtx.payloadType;
    writeU16(out, 2, this.rtxSeq);
    this.rtxSeq = (this.rtxSeq + 1) & 0xffff;
    writeU32(out, 4, known ? seqr.timestamp : this.munger.mapTimestamp(h.timestamp));
    writeU32(out, 8, this.rtx.ssrc);
    out.set(src.subarray(RTP_HEADER_SIZE, headerLen), RTP_HEADER_SIZE);
    writeU16(out, headerLen, outSeq);
    const payloadAt = headerLen + 2;
    out.set(src.subarray(h.payloadOffset, h.payloadOffset + payloadLen), payloadAt);
    const d = this.rtxVp8;
    if (parseVp8Descriptor(out, payloadAt, payloadAt + payloadLen, d) && d.pictureIdOffset >= 0) {
      if (known) writeVp8Ids(out, d, seqr.pictureId, seqr.tl0);
      else writeVp8Ids(out, d, this.vp8.mapPictureId(d.pictureId, d.pictureIdLong), d.tl0Offset >= 0 ? this.vp8.mapTl0(d.tl0PicIdx) : -1);
    }
    if (!this.send(out.subarray(0, payloadAt + payloadLen), payloadAt + payloadLen)) return false;
    this.retransmits++;
    mediaCounters[RTX_PACKETS_OUT]++;
    mediaCounters[RTX_BYTES_OUT] += payloadAt + payloadLen;
    return true;
  }

  /**
   * Sends the publisher's sender report on, re-expressed for this downtrack: same NTP time,
   * its RTP timestamp mapped like the packets'. Audio and video of one publisher share the NTP
   * clock, so the subscriber can keep them in sync.
   */
  sendSenderReport(sr: SenderReport): void {
    if (this.closed || !this.munger.hasStarted) return;
    writeSenderReport(this.srBuf, this.ssrc, sr.ntpSec, sr.ntpFrac, this.munger.mapTimestamp(sr.rtpTimestamp), this.packetsSent, this.bytesSent);
    this.lastSrNtpMid = (((sr.ntpSec & 0xffff) << 16) | (sr.ntpFrac >>> 16)) >>> 0;
    this.lastSrSentMs = performance.now();
    if (this.transport === null) return;
    try {
      this.transport.sendMessageBinary(this.srBuf);
    } catch {
      this.sendErrors++;
    }
  }

  /**
   * A report block from the subscriber about this downtrack. The RTT uses Strand's own send
   * time of the SR it refers to: the NTP time inside SRs is the publisher's.
   */
  onReport(fractionLost: number, jitter: number, lastSr: number, delaySinceLastSr: number): void {
    this.reportedLoss = fractionLost;
    this.reportedJitterMs = (jitter * 1000) / this.clockRate;
    if (lastSr !== 0 && lastSr === this.lastSrNtpMid) {
      const rtt = performance.now() - this.lastSrSentMs - (delaySinceLastSr * 1000) / 65536;
      if (rtt >= 0) this.rttMs = rtt;
    }
  }

  private send(pkt: Uint8Array, len: number): boolean {
    if (this.transport === null) return false;
    try {
      if (this.transport.sendMessageBinary(pkt as Buffer)) {
        this.packetsSent++;
        this.bytesSent += len;
        mediaCounters[PACKETS_OUT]++;
        mediaCounters[BYTES_OUT] += len;
        return true;
      }
      this.sendErrors++;
    } catch {
      this.sendErrors++;
    }
    return false;
  }

  close(): void {
    this.closed = true;
  }
}
