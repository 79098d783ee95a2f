// One direction of the link between two media workers: a single-producer single-consumer ring
// (ringbuf.js over a SharedArrayBuffer) carrying framed records, and the reader's doorbell.
//
// A record is an 8-byte header — total length (u16), kind (u8), layer (u8), id (u32) — and a
// payload; it is pushed in one piece, so the reader sees whole records only. A full ring drops
// the record and counts it: the producer (a worker forwarding media) never blocks. The reader
// never blocks either: it waits on its doorbell with Atomics.waitAsync, from the event loop.
import { RingBuffer } from 'ringbuf.js';

export const RECORD_HEADER = 8;
/** Largest payload: an RTP packet Strand forwards, or a data packet. */
export const MAX_RECORD_PAYLOAD = 64 * 1024 - RECORD_HEADER - 1;

/** Record kinds. */
export const REC_RTP = 1;
/** Subscriber feedback: a keyframe request for `layer` of relay `id`. */
export const REC_KEYFRAME = 2;
/** A publisher sender report for `layer` of relay `id`: ntpSec, ntpFrac, rtpTimestamp. */
export const REC_SENDER_REPORT = 3;
/** A data packet for a room: reliable flag (u8), room id length (u8), room id, DataPacket. */
export const REC_DATA = 4;

/** The ring's storage as its write callback sees it. */
type TypedArrayLike = { [index: number]: number };

/** Atomics.waitAsync (ES2024; in Node since 16), typed here for the ES2022 lib. */
const waitAsync = (Atomics as unknown as {
  waitAsync(ta: Int32Array, index: number, value: number): { async: false; value: string } | { async: true; value: Promise<string> };
}).waitAsync;

const DOORBELL_SEQ = 0;
const DOORBELL_SLEEPING = 1;

export function createRing(capacityBytes: number): SharedArrayBuffer {
  return RingBuffer.getStorageForCapacity(capacityBytes, Uint8Array);
}

/** The reader's doorbell: a sequence number producers bump, and whether the reader sleeps. */
export function createDoorbell(): SharedArrayBuffer {
  return new SharedArrayBuffer(2 * Int32Array.BYTES_PER_ELEMENT);
}

export class RingWriter {
  private readonly ring: RingBuffer;
  private readonly bell: Int32Array;
  private readonly head = new Uint8Array(RECORD_HEADER);
  /** The record being written, for `fill` (set just before the ring calls it). */
  private payload: Uint8Array | null = null;
  private payloadOffset = 0;
  private payloadLen = 0;
  written = 0;
  /** Records dropped because the ring was full. */
  dropped = 0;

  constructor(ring: SharedArrayBuffer, readerDoorbell: SharedArrayBuffer) {
    this.ring = new RingBuffer(ring, Uint8Array);
    this.bell = new Int32Array(readerDoorbell);
  }

  /** Writes one record; false (and counted) when the ring has no room for it. */
  write(kind: number, layer: number, id: number, payload: Uint8Array | null, payloadLen: number): boolean {
    return this.writeFrom(kind, layer, id, payload, 0, payloadLen);
  }

  /** Writes one record whose payload is `payload[offset, offset + payloadLen)` (no view made of it). */
  writeFrom(kind: number, layer: number, id: number, payload: Uint8Array | null, offset: number, payloadLen: number): boolean {
    const total = RECORD_HEADER + payloadLen;
    if (payloadLen > MAX_RECORD_PAYLOAD || this.ring.available_write() < total) {
      this.dropped++;
      return false;
    }
    const h = this.head;
    h[0] = total >>> 8;
    h[1] = total & 0xff;
    h[2] = kind;
    h[3] = layer;
    h[4] = id >>> 24;
    h[5] = (id >>> 16) & 0xff;
    h[6] = (id >>> 8) & 0xff;
    h[7] = id & 0xff;
    this.payload = payload;
    this.payloadOffset = offset;
    this.payloadLen = payloadLen;
    // Straight into the shared storage, published once: no intermediate copy (ringbuf.js's
    // push copies byte by byte unless it is given a whole array).
    this.ring.writeCallbackWithOffset(total, this.fill);
    this.payload = null;
    this.written++;
    this.ringBell();
    return true;
  }

  /** Copies the header and payload into the ring's free space: `n` bytes at `off`, the rest at `offB`. */
  private readonly fill = (storage: TypedArrayLike, off: number, n: number, offB: number): number => {
    const h = this.head;
    for (let i = 0; i < RECORD_HEADER; i++) storage[i < n ? off + i : offB + i - n] = h[i]!;
    const p = this.payload;
    const from = this.payloadOffset;
    const len = this.payloadLen;
    if (p !== null && len > 0) {
      if (RECORD_HEADER + len <= n && from === 0 && p.length === len) {
        (storage as Uint8Array).set(p, off + RECORD_HEADER);
      } else if (RECORD_HEADER + len <= n && Buffer.isBuffer(p)) {
        p.copy(storage as Uint8Array, off + RECORD_HEADER, from, from + len);
      } else {
        for (let i = 0; i < len; i++) {
          const at = RECORD_HEADER + i;
          storage[at < n ? off + at : offB + at - n] = p[from + i]!;
        }
      }
    }
    return RECORD_HEADER + len;
  };

  private ringBell(): void {
    Atomics.add(this.bell, DOORBELL_SEQ, 1);
    if (Atomics.load(this.bell, DOORBELL_SLEEPING) === 1) Atomics.notify(this.bell, DOORBELL_SEQ, 1);
  }
}

/** Receives the records of one ring, in order. */
export interface RecordHandler {
  /** `payload` is valid during the call only, except for RTP records, which get a Buffer of their own. */
  onRecord(kind: number, layer: number, id: number, payload: Buffer, len: number): void;
}

export class RingReader {
  private readonly ring: RingBuffer;
  private readonly head = new Uint8Array(RECORD_HEADER);
  private readonly scratch = Buffer.alloc(MAX_RECORD_PAYLOAD);
  read = 0;

  /**
   * `copyRtp` false: RTP records are handed over in a scratch buffer too, valid during the call
   * only (a reader that looks at packets without keeping them).
   */
  constructor(ring: SharedArrayBuffer, private readonly copyRtp = true) {
    this.ring = new RingBuffer(ring, Uint8Array);
  }

  get readable(): boolean {
    return this.ring.available_read() >= RECORD_HEADER;
  }

  /** Hands every record now in the ring to `handler`; returns how many there were. */
  drain(handler: RecordHandler): number {
    let n = 0;
    const h = this.head;
    while (this.ring.available_read() >= RECORD_HEADER) {
      this.ring.pop(h, RECORD_HEADER, 0);
      const len = ((h[0]! << 8) | h[1]!) - RECORD_HEADER;
      const kind = h[2]!;
      // An RTP packet is forwarded (and rewritten in place) by downtracks that hand it to the
      // native transport whole, so it gets an exact-size Buffer, as native tracks deliver them.
      const payload = kind === REC_RTP && this.copyRtp ? Buffer.allocUnsafe(len) : this.scratch;
      if (len > 0) this.ring.pop(payload, len, 0);
      handler.onRecord(kind, h[3]!, ((h[4]! << 24) | (h[5]! << 16) | (h[6]! << 8) | h[7]!) >>> 0, payload, len);
      n++;
    }
    this.read += n;
    return n;
  }
}

/**
 * The reader side's wait: resolves when a producer rang since `drain` last saw the rings empty.
 * Never blocks the thread (Atomics.waitAsync); yields to the event loop even when records keep
 * coming, so native callbacks and tasks still run.
 */
export class Doorbell {
  private readonly bell: Int32Array;

  constructor(sab: SharedArrayBuffer) {
    this.bell = new Int32Array(sab);
  }

  async wait(stillEmpty: () => boolean): Promise<void> {
    // Flag first, then the sequence, then a last look at the rings: a producer that pushed
    // before the flag was visible has bumped the sequence (the wait returns at once) or left a
    // record the last look sees.
    Atomics.store(this.bell, DOORBELL_SLEEPING, 1);
    const seq = Atomics.load(this.bell, DOORBELL_SEQ);
    if (stillEmpty()) {
      const w = waitAsync(this.bell, DOORBELL_SEQ, seq);
      if (w.async) await w.value;
    }
    Atomics.store(this.bell, DOORBELL_SLEEPING, 0);
    await new Promise<void>((resolve) => setImmediate(resolve));
  }

  /** Wakes the reader (to let it see that it should stop). */
  ring(): void {
    Atomics.add(this.bell, DOORBELL_SEQ, 1);
    Atomics.notify(this.bell, DOORBELL_SEQ);
  }
}
