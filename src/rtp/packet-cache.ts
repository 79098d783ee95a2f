// The last N packets of one RTP stream, kept so that NACKed packets can be sent again.
// One preallocated buffer; a packet lives in slot seq % N until a newer one takes the slot.

export const MAX_PACKET_SIZE = 1500;

export class PacketCache {
  private readonly data: Uint8Array;
  private readonly seqs: Int32Array;
  private readonly lengths: Uint16Array;

  constructor(readonly capacity: number, private readonly slotSize = MAX_PACKET_SIZE) {
    this.data = new Uint8Array(capacity * slotSize);
    this.seqs = new Int32Array(capacity).fill(-1);
    this.lengths = new Uint16Array(capacity);
  }

  /** Stores a copy of the packet; packets larger than a slot are not kept. */
  put(seq: number, buf: Uint8Array, len: number): void {
    if (len > this.slotSize) return;
    const slot = seq % this.capacity;
    this.data.set(buf.subarray(0, len), slot * this.slotSize);
    this.seqs[slot] = seq;
    this.lengths[slot] = len;
  }

  /** Offset of the cached packet with this sequence number in `buffer`, or -1 if gone. */
  find(seq: number): number {
    const slot = seq % this.capacity;
    return this.seqs[slot] === seq ? slot * this.slotSize : -1;
  }

  lengthAt(offset: number): number {
    return this.lengths[offset / this.slotSize]!;
  }

  get buffer(): Uint8Array {
    return this.data;
  }
}
