// Synthetic RTP as a browser would send it to a LiveKit server: Opus-sized audio every 20 ms and
// VP8 video (keyframes every 2 s and on request), each packet carrying the mid header extension
// (and audio level on audio) and, in its payload, the time it was sent, for one-way latency.

export const AUDIO_PT = 111;
export const VIDEO_PT = 96;
/** One-byte header extension ids the bot offers. */
export const EXT_MID_ID = 1;
export const EXT_AUDIO_LEVEL_ID = 2;
export const EXT_MID_URI = 'urn:ietf:params:rtp-hdrext:sdes:mid';
export const EXT_AUDIO_LEVEL_URI = 'urn:ietf:params:rtp-hdrext:ssrc-audio-level';

/** Where the send time (float64, ms since the epoch) sits, from the start of the payload. */
export const AUDIO_STAMP_OFFSET = 0;
/** VP8 payload descriptor (6 bytes) and a 1-byte VP8 header come first. */
export const VIDEO_STAMP_OFFSET = 7;

export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

export class SyntheticStream {
  private seq = Math.floor(Math.random() * 0xffff);
  private ts = Math.floor(Math.random() * 0xffffffff);
  private pictureId = Math.floor(Math.random() * 0x7fff);
  private tl0 = 0;
  private lastKeyMs = 0;
  private keyRequested = true;
  packets = 0;
  bytes = 0;
  keyframes = 0;

  constructor(readonly kind: 'audio' | 'video', readonly ssrc: number, private readonly mid: string, private readonly payloadSize: number) {}

  /** The next keyframe goes out at once (the SFU asked with a PLI). */
  requestKeyframe(): void {
    this.keyRequested = true;
  }

  /** One audio packet (20 ms of audio). */
  audioPacket(): Buffer {
    const pkt = this.header(AUDIO_PT, true);
    this.ts = (this.ts + 960) >>> 0;
    return pkt;
  }

  /** The packets of one video frame (the last one has the marker bit). */
  videoFrame(packetsPerFrame: number, frameMs: number): Buffer[] {
    const now = nowMs();
    const key = this.keyRequested || now - this.lastKeyMs > 2000;
    if (key) {
      this.keyRequested = false;
      this.lastKeyMs = now;
      this.keyframes++;
      this.tl0 = (this.tl0 + 1) & 0xff;
    }
    const out: Buffer[] = [];
    for (let i = 0; i < packetsPerFrame; i++) {
      const pkt = this.header(VIDEO_PT, i === packetsPerFrame - 1);
      const d = this.payloadStart(pkt);
      // VP8 descriptor: X, S on the first packet; I (15-bit picture id) and L (TL0PICIDX).
      pkt[d] = 0x80 | (i === 0 ? 0x10 : 0);
      pkt[d + 1] = 0xc0;
      pkt[d + 2] = 0x80 | ((this.pictureId >> 8) & 0x7f);
      pkt[d + 3] = this.pictureId & 0xff;
      pkt[d + 4] = this.tl0;
      pkt[d + 5] = 0;
      pkt[d + 6] = key ? 0x00 : 0x01; // VP8 header: P bit clear on keyframes
      out.push(pkt);
    }
    this.pictureId = (this.pictureId + 1) & 0x7fff;
    this.ts = (this.ts + Math.round(90 * frameMs)) >>> 0;
    return out;
  }

  private payloadStart(pkt: Buffer): number {
    return 12 + 4 + 4 * ((pkt[14]! << 8) | pkt[15]!);
  }

  /** RTP header with the one-byte extensions, and a payload stamped with the send time. */
  private header(pt: number, marker: boolean): Buffer {
    const ext: number[] = [(EXT_MID_ID << 4) | (this.mid.length - 1), ...Buffer.from(this.mid)];
    if (this.kind === 'audio') ext.push((EXT_AUDIO_LEVEL_ID << 4) | 0, 0x80 | 30); // voice, -30 dBov
    while (ext.length % 4 !== 0) ext.push(0);
    const pkt = Buffer.alloc(12 + 4 + ext.length + this.payloadSize);
    pkt[0] = 0x90;
    pkt[1] = (marker ? 0x80 : 0) | pt;
    pkt.writeUInt16BE(this.seq, 2);
    pkt.writeUInt32BE(this.ts, 4);
    pkt.writeUInt32BE(this.ssrc, 8);
    pkt.writeUInt16BE(0xbede, 12);
    pkt.writeUInt16BE(ext.length / 4, 14);
    pkt.set(ext, 16);
    const payload = 16 + ext.length;
    pkt.writeDoubleBE(nowMs(), payload + (this.kind === 'audio' ? AUDIO_STAMP_OFFSET : VIDEO_STAMP_OFFSET));
    this.seq = (this.seq + 1) & 0xffff;
    this.packets++;
    this.bytes += pkt.length;
    return pkt;
  }
}
