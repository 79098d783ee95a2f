// The datagrams a node sent to one peer lately, by sequence number, so that a datagram the
// peer reports missing is sent again exactly as it was (same sequence, same sealed bytes).
// Fixed slots allocated once: remembering a datagram is a copy, never an allocation. 2048
// datagrams are about 0.4 s of a 50 Mbit/s link, longer than a gap is asked for (about 0.2 s).
export class SendHistory {
  private readonly slots: Buffer;
  private readonly lengths: Int32Array;
  private readonly seqs: Float64Array;

  constructor(private readonly capacity = 2048, private readonly slotSize = 1400) {
    this.slots = Buffer.alloc(capacity * slotSize);
    this.lengths = new Int32Array(capacity);
    this.seqs = new Float64Array(capacity).fill(-1);
  }

  remember(seq: number, datagram: Buffer, len: number): void {
    const i = seq % this.capacity;
    datagram.copy(this.slots, i * this.slotSize, 0, Math.min(len, this.slotSize));
    this.lengths[i] = len;
    this.seqs[i] = seq;
  }

  /** The datagram sent as `seq`, or null once it has been overwritten (too old). */
  find(seq: number): Buffer | null {
    const i = seq % this.capacity;
    if (this.seqs[i] !== seq) return null;
    return this.slots.subarray(i * this.slotSize, i * this.slotSize + this.lengths[i]!);
  }
}
