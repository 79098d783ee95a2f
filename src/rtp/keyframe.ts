// Keyframe detection on the first packet of a frame, for VP8 (RFC 7741) and H264 (RFC 6184).

/** True when the VP8 payload starts a keyframe (S=1, PID=0 and the VP8 header's P bit clear). */
export function isVp8Keyframe(buf: Uint8Array, off: number, end: number): boolean {
  if (off >= end) return false;
  const b0 = buf[off]!;
  if ((b0 & 0x10) === 0 || (b0 & 0x07) !== 0) return false; // S bit, partition index 0
  let p = off + 1;
  if (b0 & 0x80) {
    if (p >= end) return false;
    const x = buf[p++]!;
    if (x & 0x80) { // I: picture id, 7 or 15 bits
      if (p >= end) return false;
      p += buf[p]! & 0x80 ? 2 : 1;
    }
    if (x & 0x40) p++; // L: TL0PICIDX
    if (x & 0x30) p++; // T or K: TID/KEYIDX byte
  }
  if (p >= end) return false;
  return (buf[p]! & 0x01) === 0;
}

/** True when the H264 payload carries an IDR slice or an SPS (the start of a keyframe). */
export function isH264Keyframe(buf: Uint8Array, off: number, end: number): boolean {
  if (off >= end) return false;
  const nalType = buf[off]! & 0x1f;
  if (nalType === 5 || nalType === 7) return true;
  if (nalType === 24) { // STAP-A: 16-bit size + NAL, repeated
    let p = off + 1;
    while (p + 2 < end) {
      const size = (buf[p]! << 8) | buf[p + 1]!;
      const t = buf[p + 2]! & 0x1f;
      if (t === 5 || t === 7) return true;
      p += 2 + size;
    }
    return false;
  }
  if (nalType === 28 && off + 1 < end) { // FU-A: start bit and the fragmented NAL's type
    const fu = buf[off + 1]!;
    return (fu & 0x80) !== 0 && (fu & 0x1f) === 5;
  }
  return false;
}

export const CODEC_VP8 = 1;
export const CODEC_H264 = 2;
export const CODEC_OTHER = 0;

export function codecId(mimeType: string): number {
  const m = mimeType.toLowerCase();
  if (m === 'video/vp8') return CODEC_VP8;
  if (m === 'video/h264') return CODEC_H264;
  return CODEC_OTHER;
}

export function isKeyframe(codec: number, buf: Uint8Array, off: number, end: number): boolean {
  if (codec === CODEC_VP8) return isVp8Keyframe(buf, off, end);
  if (codec === CODEC_H264) return isH264Keyframe(buf, off, end);
  return false;
}
