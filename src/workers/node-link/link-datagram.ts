// One UDP datagram of the link between two nodes: a header, then the same framed records as the
// worker rings (u16 length, kind, layer, u32 id, payload), then a 16-byte tag (AES-256-GCM, or a
// truncated HMAC when the link is not encrypted). The header numbers datagrams per sender and
// epoch (a random value each start), which makes every GCM nonce unique and lets the receiver
// drop replays and ask for what it missed.
//
//   0  'S' 'L'  version  flags
//   4  sender id (u32)
//   8  epoch (u32)
//  12  sequence (u64, high then low word)
//  20  records …
//  end tag (16)
import { RECORD_HEADER } from '../ring-channel.js';

export const LINK_MAGIC_0 = 0x53;
export const LINK_MAGIC_1 = 0x4c;
export const LINK_VERSION = 1;
export const LINK_HEADER = 20;
export const LINK_TAG = 16;
/** Loopback and data-centre links: stay below a 1500-byte MTU with IP and UDP headers. */
export const LINK_MTU = 1400;
/** The most a datagram's records may take. */
export const LINK_MAX_BODY = LINK_MTU - LINK_HEADER - LINK_TAG;

/** Flag: the records are encrypted (AES-256-GCM); otherwise they are only authenticated. */
export const FLAG_ENCRYPTED = 1;

// Link-level record kinds, next to the ring's (1–4).
/** The receiver missed these sequence numbers (payload: u32 high, then u32 low words). */
export const REC_LINK_NACK = 0x40;
/** Nothing to send: keeps the link's liveness visible (no payload). */
export const REC_LINK_KEEPALIVE = 0x41;
/** The sender's clock (f64, ms since the epoch), for the one-way delay of the link. */
export const REC_LINK_PROBE = 0x42;

export interface DatagramHeader {
  flags: number;
  sender: number;
  epoch: number;
  seq: number;
}

/** Fills one datagram in a buffer of its own, reused for every datagram (no allocation). */
export class DatagramWriter {
  readonly buf = Buffer.alloc(LINK_MTU);
  private len = LINK_HEADER;
  private count = 0;

  /** Records in the datagram being filled. */
  get records(): number {
    return this.count;
  }

  get bodyLength(): number {
    return this.len - LINK_HEADER;
  }

  /** Whether a record with `payloadLen` bytes still fits. */
  fits(payloadLen: number): boolean {
    return this.len + RECORD_HEADER + payloadLen <= LINK_MTU - LINK_TAG;
  }

  /** Starts a datagram. */
  begin(flags: number, sender: number, epoch: number, seq: number): void {
    const b = this.buf;
    b[0] = LINK_MAGIC_0;
    b[1] = LINK_MAGIC_1;
    b[2] = LINK_VERSION;
    b[3] = flags;
    b.writeUInt32BE(sender >>> 0, 4);
    b.writeUInt32BE(epoch >>> 0, 8);
    b.writeUInt32BE(Math.floor(seq / 0x1_0000_0000), 12);
    b.writeUInt32BE(seq >>> 0, 16);
    this.len = LINK_HEADER;
    this.count = 0;
  }

  /**
   * Appends a record whose payload is `payload[offset, offset + payloadLen)`; false when it does
   * not fit (the caller sends and begins another).
   */
  add(kind: number, layer: number, id: number, payload: Uint8Array | null, payloadLen: number, offset = 0): boolean {
    if (!this.fits(payloadLen)) return false;
    const b = this.buf;
    const o = this.len;
    const total = RECORD_HEADER + payloadLen;
    b[o] = total >>> 8;
    b[o + 1] = total & 0xff;
    b[o + 2] = kind;
    b[o + 3] = layer;
    b.writeUInt32BE(id >>> 0, o + 4);
    if (payload && payloadLen > 0) {
      // Buffer.copy takes a range without making a view of it (no allocation per packet).
      if (Buffer.isBuffer(payload)) payload.copy(b, o + RECORD_HEADER, offset, offset + payloadLen);
      else b.set(payload.subarray(offset, offset + payloadLen), o + RECORD_HEADER);
    }
    this.len = o + total;
    this.count++;
    return true;
  }
}

/** The header of a datagram, or null when it is not one of ours (wrong magic, version, size). */
export function readHeader(buf: Buffer, len: number, into: DatagramHeader): DatagramHeader | null {
  if (len < LINK_HEADER + LINK_TAG || buf[0] !== LINK_MAGIC_0 || buf[1] !== LINK_MAGIC_1 || buf[2] !== LINK_VERSION) return null;
  into.flags = buf[3]!;
  into.sender = buf.readUInt32BE(4);
  into.epoch = buf.readUInt32BE(8);
  into.seq = buf.readUInt32BE(12) * 0x1_0000_0000 + buf.readUInt32BE(16);
  return into;
}

export interface LinkRecordHandler {
  onLinkRecord(kind: number, layer: number, id: number, data: Buffer, offset: number, length: number): void;
}

/**
 * Calls `handler` for each record of a verified body (`buf[LINK_HEADER, LINK_HEADER + bodyLen)`);
 * false when the records do not add up (the datagram is dropped whole, before any is handled).
 */
export function readRecords(buf: Buffer, bodyLen: number, handler: LinkRecordHandler): boolean {
  const end = LINK_HEADER + bodyLen;
  // First pass: the framing must be sound before anything is delivered.
  for (let o = LINK_HEADER; o < end;) {
    if (o + RECORD_HEADER > end) return false;
    const total = (buf[o]! << 8) | buf[o + 1]!;
    if (total < RECORD_HEADER || o + total > end) return false;
    o += total;
  }
  for (let o = LINK_HEADER; o < end;) {
    const total = (buf[o]! << 8) | buf[o + 1]!;
    handler.onLinkRecord(buf[o + 2]!, buf[o + 3]!, buf.readUInt32BE(o + 4), buf, o + RECORD_HEADER, total - RECORD_HEADER);
    o += total;
  }
  return true;
}
