// VP8 payload descriptor (RFC 7741 §4.2): where the picture id and TL0PICIDX sit, and the
// munger that keeps them continuous across simulcast switches. A decoder that sees picture
// ids jump or go backwards after a switch may wait for a keyframe that never comes.

/** Parsed fields of one packet's descriptor; reused packet after packet. */
export class Vp8Descriptor {
  /** Offset of the picture id (first byte), or -1 when absent. */
  pictureIdOffset = -1;
  /** 15-bit (M bit set) or 7-bit picture id. */
  pictureIdLong = false;
  pictureId = 0;
  /** Offset of TL0PICIDX, or -1 when absent. */
  tl0Offset = -1;
  tl0PicIdx = 0;
  /** Temporal layer id (0 when absent). */
  tid = 0;
  /** First packet of a frame (S=1 and partition 0). */
  frameStart = false;
}

/** Parses the descriptor at [off, end). Returns false when it is truncated. */
export function parseVp8Descriptor(buf: Uint8Array, off: number, end: number, d: Vp8Descriptor): boolean {
  d.pictureIdOffset = -1;
  d.tl0Offset = -1;
  d.tid = 0;
  if (off >= end) return false;
  const b0 = buf[off]!;
  d.frameStart = (b0 & 0x10) !== 0 && (b0 & 0x07) === 0;
  let p = off + 1;
  if ((b0 & 0x80) === 0) return true;
  if (p >= end) return false;
  const x = buf[p++]!;
  if (x & 0x80) {
    if (p >= end) return false;
    d.pictureIdOffset = p;
    if (buf[p]! & 0x80) {
      if (p + 1 >= end) return false;
      d.pictureIdLong = true;
      d.pictureId = ((buf[p]! & 0x7f) << 8) | buf[p + 1]!;
      p += 2;
    } else {
      d.pictureIdLong = false;
      d.pictureId = buf[p]! & 0x7f;
      p += 1;
    }
  }
  if (x & 0x40) {
    if (p >= end) return false;
    d.tl0Offset = p;
    d.tl0PicIdx = buf[p]!;
    p++;
  }
  if (x & 0x30) {
    if (p >= end) return false;
    d.tid = (x & 0x20) ? buf[p]! >> 6 : 0;
  }
  return true;
}

/**
 * Maps picture ids and TL0PICIDX of the forwarded source into one continuous sequence,
 * re-based at every switch. Writes into the packet, from the original values in `d`.
 */
export class Vp8Munger {
  private pictureIdOffset = 0;
  private tl0Offset = 0;
  /** Values written into the last packet rewritten (-1 when it had none). */
  lastPictureId = -1;
  lastTl0 = -1;

  /** Re-bases so that the frame in `d` continues right after the last one forwarded. */
  switchSource(d: Vp8Descriptor): void {
    if (d.pictureIdOffset >= 0) {
      const mask = d.pictureIdLong ? 0x7fff : 0x7f;
      this.pictureIdOffset = this.lastPictureId < 0 ? 0 : (this.lastPictureId + 1 - d.pictureId) & mask;
    }
    if (d.tl0Offset >= 0) this.tl0Offset = this.lastTl0 < 0 ? 0 : (this.lastTl0 + 1 - d.tl0PicIdx) & 0xff;
  }

  /** The output picture id for a source one, under the current mapping. */
  mapPictureId(id: number, long: boolean): number {
    return (id + this.pictureIdOffset) & (long ? 0x7fff : 0x7f);
  }

  mapTl0(tl0: number): number {
    return (tl0 + this.tl0Offset) & 0xff;
  }

  /** Rewrites picture id and TL0PICIDX in place. */
  rewrite(buf: Uint8Array, d: Vp8Descriptor): void {
    if (d.pictureIdOffset >= 0) {
      const p = d.pictureIdOffset;
      if (d.pictureIdLong) {
        const id = (d.pictureId + this.pictureIdOffset) & 0x7fff;
        buf[p] = 0x80 | (id >> 8);
        buf[p + 1] = id & 0xff;
        this.lastPictureId = id;
      } else {
        const id = (d.pictureId + this.pictureIdOffset) & 0x7f;
        buf[p] = id;
        this.lastPictureId = id;
      }
    }
    if (d.tl0Offset >= 0) {
      const t = (d.tl0PicIdx + this.tl0Offset) & 0xff;
      buf[d.tl0Offset] = t;
      this.lastTl0 = t;
    }
  }
}

/** Writes a picture id and TL0PICIDX into the descriptor `d` describes (for retransmissions). */
export function writeVp8Ids(buf: Uint8Array, d: Vp8Descriptor, pictureId: number, tl0: number): void {
  if (d.pictureIdOffset >= 0 && pictureId >= 0) {
    if (d.pictureIdLong) {
      buf[d.pictureIdOffset] = 0x80 | ((pictureId >> 8) & 0x7f);
      buf[d.pictureIdOffset + 1] = pictureId & 0xff;
    } else {
      buf[d.pictureIdOffset] = pictureId & 0x7f;
    }
  }
  if (d.tl0Offset >= 0 && tl0 >= 0) buf[d.tl0Offset] = tl0;
}
