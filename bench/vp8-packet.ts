// The synthetic VP8 RTP packet the forwarding benchmarks send, shaped like Chromium's.
const PAYLOAD = 1100;

/** A VP8 RTP packet like Chromium's: mid/rid extension, 15-bit picture id, TL0PICIDX. */
export function vp8Packet(seq: number, ts: number, pictureId: number, key: boolean): Buffer {
  const ext = [0x10, 0x30, 0x21, 0x66, 0, 0, 0, 0]; // id 1 "0" (mid), id 2 "f" (rid), padding
  const buf = Buffer.alloc(12 + 4 + ext.length + 6 + PAYLOAD);
  buf[0] = 0x90;
  buf[1] = 96;
  buf.writeUInt16BE(seq & 0xffff, 2);
  buf.writeUInt32BE(ts >>> 0, 4);
  buf.writeUInt32BE(0x11223344, 8);
  buf.writeUInt16BE(0xbede, 12);
  buf.writeUInt16BE(ext.length / 4, 14);
  buf.set(ext, 16);
  const d = 16 + ext.length;
  buf.set([0x90, 0xe0, 0x80 | ((pictureId >> 8) & 0x7f), pictureId & 0xff, pictureId & 0xff, 0x00], d);
  buf[d + 6] = key ? 0x00 : 0x01; // VP8 header P bit
  return buf;
}
