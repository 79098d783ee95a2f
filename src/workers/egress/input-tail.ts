// The end of one recorded track as ffmpeg last saw it: sequence number, timestamp, SSRC, and
// (video) the packets of its latest keyframe. It makes "nudge" packets that continue the stream:
// ffmpeg reads its `q` only between packets, so an output whose track has gone quiet (the
// publisher left, or muted) is sent these while it stops. Audio gets Opus silence (20 ms),
// video its last keyframe again (the last picture, repeated): both decode cleanly.
import { readU32, writeU16, writeU32 } from '../../rtp/packet.js';

/** An Opus packet of one 20 ms frame of silence (TOC 0xf8: CELT FB 20 ms, mono). */
const OPUS_SILENCE = [0xf8, 0xff, 0xfe];
/** A keyframe larger than this is not kept (a nudge is one picture, not a burst). */
const MAX_KEYFRAME_PACKETS = 200;

export class InputTail {
  private seq = -1;
  private ts = 0;
  private ssrc = 0;
  private pt = 0;
  /** Packets of the keyframe being received, and of the last complete one. */
  private building: Buffer[] = [];
  private keyframe: Buffer[] = [];

  constructor(private readonly audio: boolean, private readonly clockRate: number) {}

  /** A packet sent on to ffmpeg (`keyframe`: it starts a keyframe; null: not looked at). */
  onPacket(pkt: Buffer, len: number, keyframe: boolean | null): void {
    this.seq = (pkt[2]! << 8) | pkt[3]!;
    this.ts = readU32(pkt, 4);
    this.ssrc = readU32(pkt, 8);
    this.pt = pkt[1]! & 0x7f;
    if (this.audio) return;
    if (keyframe) this.building = [];
    if (keyframe || (this.building.length > 0 && this.building.length < MAX_KEYFRAME_PACKETS)) {
      this.building.push(Buffer.from(pkt.subarray(0, len)));
      if ((pkt[1]! & 0x80) !== 0) {
        this.keyframe = this.building;
        this.building = [];
      }
    }
  }

  /** Packets continuing the stream by one frame; empty when nothing was seen yet (video: no keyframe). */
  nudge(): Buffer[] {
    if (this.seq < 0) return [];
    if (this.audio) {
      this.ts = (this.ts + Math.round(this.clockRate / 50)) >>> 0;
      return [this.header(Buffer.alloc(12 + OPUS_SILENCE.length), true, OPUS_SILENCE)];
    }
    if (this.keyframe.length === 0) return [];
    this.ts = (this.ts + Math.round(this.clockRate / 30)) >>> 0;
    return this.keyframe.map((p) => {
      const copy = Buffer.from(p);
      this.seq = (this.seq + 1) & 0xffff;
      writeU16(copy, 2, this.seq);
      writeU32(copy, 4, this.ts);
      return copy;
    });
  }

  private header(buf: Buffer, marker: boolean, payload: number[]): Buffer {
    this.seq = (this.seq + 1) & 0xffff;
    buf[0] = 0x80;
    buf[1] = (marker ? 0x80 : 0) | this.pt;
    writeU16(buf, 2, this.seq);
    writeU32(buf, 4, this.ts);
    writeU32(buf, 8, this.ssrc);
    buf.set(payload, 12);
    return buf;
  }
}
