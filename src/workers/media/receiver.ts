// One published track on the receive side: its simulcast layers, the SSRCs learned for them,
// and the downtracks it feeds. Packets arrive already demultiplexed by the PublisherPeer.
import { CODEC_VP8, isKeyframe, codecId } from '../../rtp/keyframe.js';
import { Vp8Descriptor, parseVp8Descriptor } from '../../rtp/vp8.js';
import { PacketCache } from '../../rtp/packet-cache.js';
import { AudioLevelObserver } from '../../rtp/audio-level.js';
import { ReceiveStats } from '../../rtp/receive-stats.js';
import { LossTracker } from '../../rtp/loss-tracker.js';
import type { SenderReport } from '../../rtp/rtcp.js';
import { PLI_SIZE, writePli } from '../../rtp/rtcp.js';
import { writeU32 } from '../../rtp/packet.js';
import type { DownTrack, PacketSource } from './down-track.js';
import { PLIS_OUT, mediaCounters } from '../media-counters.js';
import { REC_RTP, REC_SENDER_REPORT, type RingWriter } from '../ring-channel.js';

/** Packets kept per video layer for retransmission (LiveKit: rtc.packet_buffer_size_video). */
export const VIDEO_CACHE_PACKETS = 500;

/** A layer that sent nothing for this long is treated as stopped, ms. */
const LAYER_ACTIVE_MS = 1000;

/** Minimum time between two PLIs for one layer, ms (LiveKit: 500 ms low, 1 s mid/high). */
const PLI_INTERVAL_MS = [500, 1000, 1000];

/** Another media worker this track is forwarded to, through its ring, and the track's id there. */
export interface RelayTarget {
  readonly writer: RingWriter;
  readonly relayId: number;
  /** The only layer written (a recording takes one); -1: every layer (another media worker). */
  readonly layer: number;
}

export interface RtcpSink {
  sendRtcp(buf: Uint8Array): void;
  readonly rtcpSenderSsrc: number;
}

export class Receiver implements PacketSource {
  readonly downTracks: DownTrack[] = [];
  /** SSRC of each layer once learned (0 = not yet). */
  readonly layerSsrcs: number[];
  private readonly layerLastSeenMs: number[];
  private readonly lastPliMs: number[];
  private readonly codec: number;
  private readonly pli = Buffer.alloc(PLI_SIZE);
  private readonly vp8 = new Vp8Descriptor();
  /** Per layer: recent packets, as received, for answering NACKs (video only). */
  readonly caches: PacketCache[] | null;
  /** Upstream sequence gaps per layer, to NACK the publisher (video only). */
  readonly loss: LossTracker[] | null;
  /** Packets the publisher repaired with RTX. */
  repaired = 0;
  /** RFC 3550 receive statistics per layer, for receiver reports and connection quality. */
  readonly stats: ReceiveStats[];
  /** Speech activity from the audio-level extension (audio only). */
  readonly audioLevel: AudioLevelObserver | null;
  packets = 0;
  bytes = 0;
  private lastAudioTs = -1;
  private readonly layerBytes: number[];
  /** Bitrate of each layer over the last rate tick, bit/s. */
  readonly layerBitrates: number[];
  /** Workers with subscribers of this track (rooms spread over several workers). */
  readonly relays: RelayTarget[] = [];
  private readonly srRecord = new Uint8Array(12);

  constructor(
    readonly trackSid: string,
    readonly publisherSid: string,
    readonly kind: 'audio' | 'video',
    readonly mimeType: string,
    readonly clockRate: number,
    readonly channels: number | undefined,
    readonly fmtp: string | undefined,
    /** Simulcast rids, lowest quality first (a single unnamed layer when empty). */
    readonly rids: string[],
    private readonly rtcp: RtcpSink,
  ) {
    const n = Math.max(1, rids.length);
    this.layerSsrcs = new Array<number>(n).fill(0);
    this.layerLastSeenMs = new Array<number>(n).fill(0);
    this.lastPliMs = new Array<number>(n).fill(0);
    this.codec = codecId(mimeType);
    this.caches = kind === 'video' ? Array.from({ length: n }, () => new PacketCache(VIDEO_CACHE_PACKETS)) : null;
    this.audioLevel = kind === 'audio' ? new AudioLevelObserver() : null;
    this.stats = Array.from({ length: n }, () => new ReceiveStats());
    this.layerBytes = new Array<number>(n).fill(0);
    this.layerBitrates = new Array<number>(n).fill(0);
    this.loss = kind === 'video' ? Array.from({ length: n }, () => new LossTracker()) : null;
  }

  get layerCount(): number {
    return this.layerSsrcs.length;
  }

  /** Feeds the audio-level observer; a packet's duration comes from its timestamp step. */
  observeAudioLevel(dbov: number, ts: number, nowMs: number): void {
    if (this.audioLevel === null) return;
    const step = this.lastAudioTs < 0 ? 0 : ((ts - this.lastAudioTs) >>> 0) / (this.clockRate / 1000);
    this.lastAudioTs = ts;
    // 20 ms (Opus' usual frame) when the step is unusable: first packet, reordering, a gap.
    this.audioLevel.observe(dbov, step > 0 && step <= 120 ? step : 20, nowMs);
  }

  /** Turns the bytes counted since the last call into per-layer bitrates. */
  tickRates(seconds: number): void {
    for (let l = 0; l < this.layerBytes.length; l++) {
      this.layerBitrates[l] = (this.layerBytes[l]! * 8) / seconds;
      this.layerBytes[l] = 0;
    }
  }

  /** Bit i set: layer i sent a packet within LAYER_ACTIVE_MS. */
  activeLayers(nowMs: number): number {
    let mask = 0;
    const seen = this.layerLastSeenMs;
    for (let l = 0; l < seen.length; l++) if (seen[l]! > 0 && nowMs - seen[l]! < LAYER_ACTIVE_MS) mask |= 1 << l;
    return mask;
  }

  onPacket(pkt: Uint8Array, len: number, payloadOffset: number, payloadEnd: number, seq: number, ts: number, layer: number, nowMs: number): void {
    this.packets++;
    this.bytes += len;
    this.layerLastSeenMs[layer] = nowMs;
    this.layerBytes[layer] += len;
    this.stats[layer]!.update(seq, ts, Math.floor((nowMs * this.clockRate) / 1000));
    if (this.loss !== null) this.loss[layer]!.onPacket(seq, nowMs);
    // Cached and relayed before the downtracks rewrite the shared buffer in place.
    if (this.caches !== null) this.caches[layer]!.put(seq, pkt, len);
    const relays = this.relays;
    for (let i = 0; i < relays.length; i++) {
      const t = relays[i]!;
      if (t.layer < 0 || t.layer === layer) t.writer.write(REC_RTP, layer, t.relayId, pkt, len);
    }
    const dts = this.downTracks;
    if (dts.length === 0) return;
    const keyframe = this.kind === 'video' && isKeyframe(this.codec, pkt, payloadOffset, payloadEnd);
    const vp8 = this.codec === CODEC_VP8 && parseVp8Descriptor(pkt, payloadOffset, payloadEnd, this.vp8) ? this.vp8 : null;
    const active = this.activeLayers(nowMs);
    for (let i = 0; i < dts.length; i++) dts[i]!.write(pkt, len, seq, ts, layer, keyframe, active, vp8, nowMs);
  }

  /**
   * A packet the publisher sent again (RTX, unwrapped): into the cache, and, when it really
   * was lost, on to the downtracks as RTX of their own (never on the media SSRC: a downtrack
   * never sends a sequence number twice or out of order, SRTP replay protection).
   */
  onRepaired(layer: number, pkt: Uint8Array, len: number, seq: number, nowMs: number): void {
    if (this.caches === null || this.loss === null) return;
    // Chromium also sends RTX as bandwidth probes (copies of packets that were not lost).
    const wasLost = this.loss[layer]!.isMissing(seq);
    this.caches[layer]!.put(seq, pkt, len);
    this.loss[layer]!.onPacket(seq, nowMs);
    if (!wasLost) return;
    this.repaired++;
    for (const dt of this.downTracks) dt.forwardRepair(layer, seq);
  }

  /**
   * A publisher SR for `layer`: kept for the RR's LSR/DLSR, and passed on to the downtracks
   * forwarding that layer, which send it on with their own timestamps (lip sync downstream).
   */
  onSenderReport(layer: number, sr: SenderReport, nowMs: number): void {
    this.stats[layer]?.onSenderReport(sr.ntpSec, sr.ntpFrac, nowMs);
    for (const dt of this.downTracks) if (dt.currentLayer === layer) dt.sendSenderReport(sr);
    if (this.relays.length === 0) return;
    const r = this.srRecord;
    writeU32(r, 0, sr.ntpSec);
    writeU32(r, 4, sr.ntpFrac);
    writeU32(r, 8, sr.rtpTimestamp);
    for (const relay of this.relays) if (relay.layer < 0 || relay.layer === layer) relay.writer.write(REC_SENDER_REPORT, layer, relay.relayId, r, r.length);
  }

  addDownTrack(dt: DownTrack): void {
    this.downTracks.push(dt);
    if (this.kind === 'video') this.requestKeyframe(this.layerSsrcs.length - 1);
  }

  removeDownTrack(dt: DownTrack): void {
    const i = this.downTracks.indexOf(dt);
    if (i >= 0) this.downTracks.splice(i, 1);
    dt.close();
  }

  /** Sends a PLI for `layer` upstream, throttled per layer. */
  requestKeyframe(layer: number): void {
    if (this.kind !== 'video') return;
    const ssrc = this.layerSsrcs[layer] || this.layerSsrcs.find((s) => s !== 0) || 0;
    if (ssrc === 0) return;
    const now = performance.now();
    const interval = PLI_INTERVAL_MS[Math.min(layer, PLI_INTERVAL_MS.length - 1)]!;
    if (now - this.lastPliMs[layer]! < interval) return;
    this.lastPliMs[layer] = now;
    writePli(this.pli, this.rtcp.rtcpSenderSsrc, ssrc);
    this.rtcp.sendRtcp(this.pli);
    mediaCounters[PLIS_OUT]++;
  }

  close(): void {
    for (const dt of this.downTracks) dt.close();
    this.downTracks.length = 0;
  }
}
