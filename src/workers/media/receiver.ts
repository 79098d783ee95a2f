// One published track on the receive side: its simulcast layers, the SSRCs learned for them,
// and the downtracks it feeds. Packets arrive already demultiplexed by the PublisherPeer.
import { isKeyframe, codecId } from '../../rtp/keyframe.js';
import { PLI_SIZE, writePli } from '../../rtp/rtcp.js';
import type { DownTrack, KeyframeSource } from './down-track.js';

/** Minimum time between two PLIs for one layer, ms (LiveKit: 500 ms low, 1 s mid/high). */
const PLI_INTERVAL_MS = [500, 1000, 1000];

export interface RtcpSink {
  sendRtcp(buf: Uint8Array): void;
  readonly rtcpSenderSsrc: number;
}

export class Receiver implements KeyframeSource {
  readonly downTracks: DownTrack[] = [];
  /** SSRC of each layer once learned (0 = not yet). */
  readonly layerSsrcs: number[];
  private readonly layerLastSeenMs: number[];
  private readonly lastPliMs: number[];
  private readonly codec: number;
  private readonly pli = Buffer.alloc(PLI_SIZE);
  packets = 0;
  bytes = 0;

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
  }

  get layerCount(): number {
    return this.layerSsrcs.length;
  }

  /** The highest layer that has sent within the last second. */
  private bestLayer(nowMs: number): number {
    for (let l = this.layerSsrcs.length - 1; l > 0; l--) if (nowMs - this.layerLastSeenMs[l]! < 1000) return l;
    return 0;
  }

  onPacket(pkt: Uint8Array, len: number, payloadOffset: number, payloadEnd: number, seq: number, ts: number, layer: number, nowMs: number): void {
    this.packets++;
    this.bytes += len;
    this.layerLastSeenMs[layer] = nowMs;
    const dts = this.downTracks;
    if (dts.length === 0) return;
    const keyframe = this.kind === 'video' && isKeyframe(this.codec, pkt, payloadOffset, payloadEnd);
    const best = this.bestLayer(nowMs);
    for (let i = 0; i < dts.length; i++) {
      const dt = dts[i]!;
      const cur = dt.currentLayer;
      const silent = cur >= 0 ? nowMs - this.layerLastSeenMs[cur]! : Infinity;
      dt.write(pkt, len, seq, ts, layer, keyframe, best, silent, nowMs);
    }
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
  }

  close(): void {
    for (const dt of this.downTracks) dt.close();
    this.downTracks.length = 0;
  }
}
