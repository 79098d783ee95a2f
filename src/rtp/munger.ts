// Rewrites sequence numbers and timestamps so that a subscriber sees one continuous stream
// even when the source changes (a simulcast layer switch) or packets are dropped on purpose.

export class RtpMunger {
  private started = false;
  private seqOffset = 0;
  private tsOffset = 0;
  /** First output sequence number of the current source. */
  private epochStart = 0;
  /** Last sequence number / timestamp sent, in the output space. */
  lastSeq = 0;
  lastTs = 0;
  /** Output values of the packet last passed to map(). */
  seq = 0;
  ts = 0;

  constructor(initialSeq = Math.floor(Math.random() * 0x8000), initialTs = Math.floor(Math.random() * 0x7fffffff)) {
    this.lastSeq = (initialSeq - 1) & 0xffff;
    this.lastTs = initialTs >>> 0;
  }

  /**
   * Re-bases the mapping so that the next packet, with input sequence `inSeq` and timestamp
   * `inTs`, continues right after the last one sent; `tsGap` is how far its timestamp should
   * be from the last one sent (at least 1 so timestamps keep increasing).
   */
  switchSource(inSeq: number, inTs: number, tsGap: number): void {
    this.seqOffset = (this.lastSeq + 1 - inSeq) & 0xffff;
    this.epochStart = (this.lastSeq + 1) & 0xffff;
    const gap = tsGap > 0 ? tsGap : 1;
    this.tsOffset = (this.lastTs + gap - inTs) >>> 0;
    this.started = true;
  }

  get hasStarted(): boolean {
    return this.started;
  }

  /**
   * The input sequence number an output one stands for, when it lies within the current
   * source (since the last switch, up to the last packet sent), else -1. Used for packets
   * that never reached Strand the first time and so were never sent.
   */
  unmapSeq(outSeq: number): number {
    if (!this.started) return -1;
    const pos = (outSeq - this.epochStart) & 0xffff;
    if (pos > ((this.lastSeq - this.epochStart) & 0xffff)) return -1;
    return (outSeq - this.seqOffset) & 0xffff;
  }

  /**
   * The output sequence number an input one maps to within the current source, if that number
   * has already been passed (sent or skipped as lost), else -1.
   */
  mapPassedSeq(inSeq: number): number {
    if (!this.started) return -1;
    const outSeq = (inSeq + this.seqOffset) & 0xffff;
    return this.unmapSeq(outSeq) === inSeq ? outSeq : -1;
  }

  /** Maps a source timestamp (e.g. of a sender report) into the output space. */
  mapTimestamp(inTs: number): number {
    return (inTs + this.tsOffset) >>> 0;
  }

  /**
   * Maps an input packet into the output space and reports whether it may be sent: a packet
   * at or before the last sequence number sent is refused (SRTP would reject it as a replay).
   */
  map(inSeq: number, inTs: number): boolean {
    const seq = (inSeq + this.seqOffset) & 0xffff;
    const diff = (seq - this.lastSeq) & 0xffff;
    if (diff === 0 || diff >= 0x8000) return false;
    this.seq = seq;
    this.ts = (inTs + this.tsOffset) >>> 0;
    this.lastSeq = seq;
    this.lastTs = this.ts;
    return true;
  }
}
