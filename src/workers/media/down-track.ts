// One published track as sent to one subscriber: picks the source layer, rewrites SSRC,
// payload type, sequence numbers and timestamps, and sends on the subscriber's transport.
import { writeU16, writeU32 } from '../../rtp/packet.js';
import { RtpMunger } from '../../rtp/munger.js';
import type { Track } from '../native.js';

/** What a DownTrack needs from the publisher side (implemented by Receiver). */
export interface KeyframeSource {
  requestKeyframe(layer: number): void;
}

/** How long a layer may be silent before a downtrack gives up on it, ms. */
const LAYER_SILENCE_MS = 1500;

export class DownTrack {
  readonly munger = new RtpMunger();
  /** Layer currently forwarded, -1 before the first keyframe. */
  currentLayer = -1;
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
   * Offers a packet of `layer`. Audio and single-layer video go straight through; for
   * simulcast the downtrack stays on its layer and moves up (or away from a silent layer)
   * only at a keyframe, so the decoder never sees a frame that references a missing one.
   */
  write(pkt: Uint8Array, len: number, seq: number, ts: number, layer: number, keyframe: boolean,
    bestLayer: number, currentLayerSilentMs: number, nowMs: number): void {
    if (this.closed) return;
    if (layer !== this.currentLayer) {
      const wantSwitch = this.currentLayer < 0 || layer > this.currentLayer
        ? layer === bestLayer || this.currentLayer < 0
        : currentLayerSilentMs > LAYER_SILENCE_MS;
      if (!wantSwitch) return;
      if (this.isVideo && !keyframe) {
        if (layer === bestLayer) this.source.requestKeyframe(layer);
        return;
      }
      const elapsedMs = this.lastSendMs > 0 ? nowMs - this.lastSendMs : 0;
      this.munger.switchSource(seq, ts, this.munger.hasStarted ? Math.round((elapsedMs * this.clockRate) / 1000) : 1);
      this.currentLayer = layer;
    }
    if (!this.munger.map(seq, ts)) return;
    this.lastSendMs = nowMs;
    pkt[1] = (pkt[1]! & 0x80) | this.payloadType;
    writeU16(pkt, 2, this.munger.seq);
    writeU32(pkt, 4, this.munger.ts);
    writeU32(pkt, 8, this.ssrc);
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
