// RTP header parsing (RFC 3550) and header-extension lookup (RFC 8285), without allocation:
// results go into a caller-owned RtpHeader that is reused packet after packet.

export const RTP_HEADER_SIZE = 12;

/** True when the packet on a muxed RTP/RTCP port is RTCP (RFC 5761: PT 192–223 in byte 1). */
export function isRtcp(buf: Uint8Array): boolean {
  const pt = buf[1]!;
  return buf.length >= 4 && pt >= 192 && pt <= 223;
}

export class RtpHeader {
  marker = false;
  payloadType = 0;
  sequenceNumber = 0;
  timestamp = 0;
  ssrc = 0;
  csrcCount = 0;
  /** Offset of the extension block (its 4-byte profile/length header), or -1. */
  extensionOffset = -1;
  /** Length of the extension data after its 4-byte header, bytes. */
  extensionLength = 0;
  /** 0xBEDE (one-byte) or 0x1000-0x100F (two-byte) profile. */
  extensionProfile = 0;
  payloadOffset = 0;
  /** Bytes of padding at the end (P bit), included in the packet length. */
  paddingLength = 0;
}

/**
 * Parses `buf` into `h`. Returns false for anything that is not a well-formed RTP packet
 * (wrong version, truncated header, extension or padding beyond the end).
 */
export function parseRtpHeader(buf: Uint8Array, len: number, h: RtpHeader): boolean {
  if (len < RTP_HEADER_SIZE) return false;
  const b0 = buf[0]!;
  if (b0 >> 6 !== 2) return false;
  const b1 = buf[1]!;
  h.marker = (b1 & 0x80) !== 0;
  h.payloadType = b1 & 0x7f;
  h.sequenceNumber = (buf[2]! << 8) | buf[3]!;
  h.timestamp = ((buf[4]! << 24) | (buf[5]! << 16) | (buf[6]! << 8) | buf[7]!) >>> 0;
  h.ssrc = ((buf[8]! << 24) | (buf[9]! << 16) | (buf[10]! << 8) | buf[11]!) >>> 0;
  h.csrcCount = b0 & 0x0f;
  let off = RTP_HEADER_SIZE + h.csrcCount * 4;
  h.extensionOffset = -1;
  h.extensionLength = 0;
  h.extensionProfile = 0;
  if (b0 & 0x10) {
    if (off + 4 > len) return false;
    h.extensionOffset = off;
    h.extensionProfile = (buf[off]! << 8) | buf[off + 1]!;
    h.extensionLength = ((buf[off + 2]! << 8) | buf[off + 3]!) * 4;
    off += 4 + h.extensionLength;
  }
  if (off > len) return false;
  h.payloadOffset = off;
  h.paddingLength = 0;
  if (b0 & 0x20) {
    const pad = buf[len - 1]!;
    if (pad === 0 || off + pad > len) return false;
    h.paddingLength = pad;
  }
  return true;
}

/** Location of one extension element's value inside a packet. */
export class ExtensionValue {
  offset = 0;
  length = 0;
}

/**
 * Finds extension `id` in the packet's extension block. Returns false when absent.
 * Handles both the one-byte (0xBEDE) and the two-byte (0x100X) forms.
 */
export function findExtension(buf: Uint8Array, h: RtpHeader, id: number, out: ExtensionValue): boolean {
  if (h.extensionOffset < 0 || id <= 0) return false;
  let off = h.extensionOffset + 4;
  const end = off + h.extensionLength;
  if (h.extensionProfile === 0xbede) {
    while (off < end) {
      const b = buf[off]!;
      if (b === 0) { off++; continue; } // padding
      const eid = b >> 4;
      if (eid === 15) return false; // reserved: stop parsing
      const elen = (b & 0x0f) + 1;
      if (off + 1 + elen > end) return false;
      if (eid === id) { out.offset = off + 1; out.length = elen; return true; }
      off += 1 + elen;
    }
    return false;
  }
  if ((h.extensionProfile & 0xfff0) === 0x1000) {
    while (off + 1 < end) {
      const eid = buf[off]!;
      if (eid === 0) { off++; continue; }
      const elen = buf[off + 1]!;
      if (off + 2 + elen > end) return false;
      if (eid === id) { out.offset = off + 2; out.length = elen; return true; }
      off += 2 + elen;
    }
  }
  return false;
}

/** Compares an extension value with an ASCII string without allocating. */
export function extensionEquals(buf: Uint8Array, v: ExtensionValue, s: string): boolean {
  if (v.length !== s.length) return false;
  for (let i = 0; i < v.length; i++) if (buf[v.offset + i] !== s.charCodeAt(i)) return false;
  return true;
}

/** Decodes an extension value as ASCII (used only when learning a new SSRC, not per packet). */
export function extensionString(buf: Uint8Array, v: ExtensionValue): string {
  let s = '';
  for (let i = 0; i < v.length; i++) s += String.fromCharCode(buf[v.offset + i]!);
  return s;
}

export function writeU16(buf: Uint8Array, off: number, v: number): void {
  buf[off] = (v >>> 8) & 0xff;
  buf[off + 1] = v & 0xff;
}

export function writeU32(buf: Uint8Array, off: number, v: number): void {
  buf[off] = (v >>> 24) & 0xff;
  buf[off + 1] = (v >>> 16) & 0xff;
  buf[off + 2] = (v >>> 8) & 0xff;
  buf[off + 3] = v & 0xff;
}

export function readU32(buf: Uint8Array, off: number): number {
  return ((buf[off]! << 24) | (buf[off + 1]! << 16) | (buf[off + 2]! << 8) | buf[off + 3]!) >>> 0;
}

/** True when sequence number a is newer than b, modulo 2^16 (RFC 1982 style). */
export function seqNewer(a: number, b: number): boolean {
  return a !== b && ((a - b) & 0xffff) < 0x8000;
}
