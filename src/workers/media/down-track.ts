// One published track as sent to one subscriber: picks the source layer, rewrites SSRC,
// payload type, sequence numbers, timestamps and VP8 picture ids, and sends on the
// subscriber's transport.
import { writeU16, writeU32 } from '../../rtp/packet.js';
import { RtpMunger } from '../../rtp/munger.js';
import { desiredLayer, type LayerMask } from '../../rtp/layer-selector.js';
import { Vp8Munger, type Vp8Descriptor } from '../../rtp/vp8.js';
import type { Track } from '../native.js';

/** What a DownTrack needs from the publisher side (implemented by Receiver). */
export interface KeyframeSource {
  requestKeyframe(layer: number): void;
}

export class DownTrack {
  readonly munger = new RtpMunger();
  private readonly vp8 = new Vp8Munger();
  /** Layer currently forwarded, -1 before the first keyframe. */
  currentLayer = -1;
  /**
   * Highest layer the subscriber wants (from its track settings: size, quality); -1 pauses the
   * track. Starts at "as high as there is", like LiveKit before the first settings arrive.
   */
  maxLayer = 31;
  packetsSent = 0;
  bytesSent = 0;
  sendErrors = 0;
  private closed = false;
  private lastSendMs = 0;

  constructor(
    readonly trackSid: string,
    readonly ssrc: number,
    readonly payloadType: number,
    readonly isVideo: boolean,
    readonly clockRate: number,
    private readonly transport: Track,
    private readonly source: KeyframeSource,
  ) {}

  /**
   * Offers a packet of `layer`. The downtrack stays on its layer and moves to the layer it
   * wants (see desiredLayer) only at a keyframe of that layer, so the decoder never gets a
   * frame that references one it did not see; meanwhile it asks the publisher for one.
   */
  write(pkt: Uint8Array, len: number, seq: number, ts: number, layer: number, keyframe: boolean,
    active: LayerMask, vp8: Vp8Descriptor | null, nowMs: number): void {
    if (this.closed || this.maxLayer < 0) return;
    if (layer !== this.currentLayer) {
      if (this.isVideo) {
        if (layer !== desiredLayer(this.maxLayer, active)) return;
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
      const want = desiredLayer(this.maxLayer, active);
      if (want >= 0 && want !== layer) this.source.requestKeyframe(want);
    }
    if (!this.munger.map(seq, ts)) return;
    this.lastSendMs = nowMs;
    pkt[1] = (pkt[1]! & 0x80) | this.payloadType;
    writeU16(pkt, 2, this.munger.seq);
    writeU32(pkt, 4, this.munger.ts);
    writeU32(pkt, 8, this.ssrc);
    if (vp8 !== null) this.vp8.rewrite(pkt, vp8);
    try {
      if (this.transport.sendMessageBinary(pkt as Buffer)) {
        this.packetsSent++;
        this.bytesSent += len;
      } else {
        this.sendErrors++;
      }
    } catch {
      this.sendErrors++;
    }
  }

  close(): void {
    this.closed = true;
  }
}
