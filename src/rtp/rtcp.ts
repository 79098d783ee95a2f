// RTCP packets Strand builds itself (RFC 4585 PLI, draft-alvestrand REMB), written into
// caller-owned buffers, and a walker over compound packets for the ones it reads.
import { readU32, writeU32 } from './packet.js';
import { REPORT_BLOCK_SIZE } from './receive-stats.js';

export const RTCP_SR = 200;
export const RTCP_RR = 201;
export const RTCP_SDES = 202;
export const RTCP_BYE = 203;
export const RTCP_RTPFB = 205;
export const RTCP_PSFB = 206;

export const PLI_SIZE = 12;

/** The common header: V=2, no padding, `countOrFmt` (RC or FMT), packet type, length. */
function writeHeader(buf: Uint8Array, countOrFmt: number, type: number, length: number): void {
  buf[0] = 0x80 | countOrFmt;
  buf[1] = type;
  buf[2] = 0;
  buf[3] = length / 4 - 1; // in 32-bit words minus one
}

/** Picture Loss Indication: PSFB, FMT 1. */
export function writePli(buf: Uint8Array, senderSsrc: number, mediaSsrc: number): number {
  writeHeader(buf, 1, RTCP_PSFB, PLI_SIZE);
  writeU32(buf, 4, senderSsrc);
  writeU32(buf, 8, mediaSsrc);
  return PLI_SIZE;
}

/** Receiver Estimated Max Bitrate for the given SSRCs. Returns the packet length. */
export function writeRemb(buf: Uint8Array, senderSsrc: number, bitrate: number, ssrcs: ArrayLike<number>, count: number): number {
  const n = Math.min(count, 255);
  const len = 20 + 4 * n;
  writeHeader(buf, 15, RTCP_PSFB, len);
  writeU32(buf, 4, senderSsrc);
  writeU32(buf, 8, 0);
  buf[12] = 0x52; buf[13] = 0x45; buf[14] = 0x4d; buf[15] = 0x42; // "REMB"
  let exp = 0;
  let mantissa = Math.max(0, Math.floor(bitrate));
  while (mantissa > 0x3ffff) { mantissa = Math.floor(mantissa / 2); exp++; }
  buf[16] = n;
  buf[17] = (exp << 2) | (mantissa >>> 16);
  buf[18] = (mantissa >>> 8) & 0xff;
  buf[19] = mantissa & 0xff;
  for (let i = 0; i < n; i++) writeU32(buf, 20 + 4 * i, ssrcs[i]!);
  return len;
}

/** Reads the bitrate of a REMB packet at `off`, or -1 when it is not a REMB. */
export function readRembBitrate(buf: Uint8Array, off: number, len: number): number {
  if (len < 20 || buf[off + 12] !== 0x52 || buf[off + 13] !== 0x45 || buf[off + 14] !== 0x4d || buf[off + 15] !== 0x42) return -1;
  const exp = buf[off + 17]! >> 2;
  const mantissa = ((buf[off + 17]! & 0x03) << 16) | (buf[off + 18]! << 8) | buf[off + 19]!;
  return mantissa * 2 ** exp;
}

/** One packet inside a compound RTCP datagram. */
export class RtcpCursor {
  offset = 0;
  length = 0;
  type = 0;
  /** FMT / RC field (low 5 bits of byte 0). */
  count = 0;
}

/**
 * Advances `c` to the next packet of a compound RTCP datagram. Start with `c.offset = 0,
 * c.length = 0`. Returns false at the end or on a malformed length.
 */
export function nextRtcp(buf: Uint8Array, len: number, c: RtcpCursor): boolean {
  const off = c.offset + c.length;
  if (off + 4 > len) return false;
  if (buf[off]! >> 6 !== 2) return false;
  const plen = (((buf[off + 2]! << 8) | buf[off + 3]!) + 1) * 4;
  if (off + plen > len) return false;
  c.offset = off;
  c.length = plen;
  c.type = buf[off + 1]!;
  c.count = buf[off]! & 0x1f;
  return true;
}

/** Media SSRC of a feedback packet (RTPFB/PSFB) at the cursor. */
export function feedbackMediaSsrc(buf: Uint8Array, c: RtcpCursor): number {
  return c.length >= 12 ? readU32(buf, c.offset + 8) : 0;
}

/**
 * Reads the lost sequence numbers of a generic NACK (RTPFB FMT 1) at the cursor into `out`.
 * Returns how many were written (bounded by out.length).
 */
export function readNack(buf: Uint8Array, c: RtcpCursor, out: Uint16Array): number {
  let n = 0;
  for (let off = c.offset + 12; off + 4 <= c.offset + c.length; off += 4) {
    const pid = (buf[off]! << 8) | buf[off + 1]!;
    const blp = (buf[off + 2]! << 8) | buf[off + 3]!;
    if (n < out.length) out[n++] = pid;
    for (let b = 0; b < 16; b++) {
      if ((blp & (1 << b)) !== 0 && n < out.length) out[n++] = (pid + b + 1) & 0xffff;
    }
  }
  return n;
}

/** Writes a generic NACK for `count` sequence numbers (ascending, within 16 of the first of each group). */
export function writeNack(buf: Uint8Array, senderSsrc: number, mediaSsrc: number, seqs: ArrayLike<number>, count: number): number {
  let off = 12;
  let i = 0;
  while (i < count && off + 4 <= buf.length) {
    const pid = seqs[i]!;
    let blp = 0;
    i++;
    while (i < count) {
      const d = (seqs[i]! - pid - 1) & 0xffff;
      if (d >= 16) break;
      blp |= 1 << d;
      i++;
    }
    buf[off] = pid >> 8; buf[off + 1] = pid & 0xff; buf[off + 2] = blp >> 8; buf[off + 3] = blp & 0xff;
    off += 4;
  }
  writeHeader(buf, 1, RTCP_RTPFB, off);
  writeU32(buf, 4, senderSsrc);
  writeU32(buf, 8, mediaSsrc);
  return off;
}

export const SR_SIZE = 28;

/** The sender-info part of an SR at the cursor. */
export class SenderReport {
  ssrc = 0;
  ntpSec = 0;
  ntpFrac = 0;
  rtpTimestamp = 0;
}

/** Reads an SR (PT 200) at the cursor. Returns false when it is too short. */
export function readSenderReport(buf: Uint8Array, c: RtcpCursor, out: SenderReport): boolean {
  if (c.type !== RTCP_SR || c.length < SR_SIZE) return false;
  out.ssrc = readU32(buf, c.offset + 4);
  out.ntpSec = readU32(buf, c.offset + 8);
  out.ntpFrac = readU32(buf, c.offset + 12);
  out.rtpTimestamp = readU32(buf, c.offset + 16);
  return true;
}

/** Writes an SR with no report blocks. */
export function writeSenderReport(buf: Uint8Array, ssrc: number, ntpSec: number, ntpFrac: number, rtpTimestamp: number,
  packetCount: number, octetCount: number): number {
  writeHeader(buf, 0, RTCP_SR, SR_SIZE);
  writeU32(buf, 4, ssrc);
  writeU32(buf, 8, ntpSec);
  writeU32(buf, 12, ntpFrac);
  writeU32(buf, 16, rtpTimestamp);
  writeU32(buf, 20, packetCount >>> 0);
  writeU32(buf, 24, octetCount >>> 0);
  return SR_SIZE;
}

/** Writes the header of an RR whose `count` report blocks follow at offset 8. */
export function writeReceiverReportHeader(buf: Uint8Array, senderSsrc: number, count: number): number {
  const len = 8 + count * REPORT_BLOCK_SIZE;
  writeHeader(buf, count, RTCP_RR, len);
  writeU32(buf, 4, senderSsrc);
  return len;
}

/** Fields of a report block (RFC 3550 §6.4.1) about one SSRC. */
export class ReportBlock {
  fractionLost = 0;
  /** Interarrival jitter, timestamp units. */
  jitter = 0;
  /** Middle 32 bits of the NTP time of the last SR, and the delay since, in 1/65536 s. */
  lastSr = 0;
  delaySinceLastSr = 0;
}

/** Reads the report block about `ssrc` from an RR or SR at the cursor; false if it has none. */
export function readReportBlock(buf: Uint8Array, c: RtcpCursor, ssrc: number, out: ReportBlock): boolean {
  const first = c.offset + (c.type === RTCP_SR ? SR_SIZE : 8);
  for (let i = 0; i < c.count; i++) {
    const off = first + i * REPORT_BLOCK_SIZE;
    if (off + REPORT_BLOCK_SIZE > c.offset + c.length) break;
    if (readU32(buf, off) !== ssrc) continue;
    out.fractionLost = buf[off + 4]! / 256;
    out.jitter = readU32(buf, off + 12);
    out.lastSr = readU32(buf, off + 16);
    out.delaySinceLastSr = readU32(buf, off + 20);
    return true;
  }
  return false;
}

