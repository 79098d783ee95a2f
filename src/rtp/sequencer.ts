// What a downtrack sent under each outgoing sequence number, so that a NACK for that number
// can be answered from the receiver's packet cache with the same rewriting as the original.

export class Sequencer {
  private readonly outSeqs: Int32Array;
  private readonly inSeqs: Uint16Array;
  private readonly layers: Int8Array;
  private readonly timestamps: Uint32Array;
  private readonly pictureIds: Int32Array;
  private readonly tl0s: Int16Array;
  private readonly mask: number;
  /** Fields of the entry last found by lookup(). */
  inSeq = 0;
  layer = 0;
  timestamp = 0;
  pictureId = -1;
  tl0 = -1;

  /** `capacity` is rounded up to a power of two. */
  constructor(capacity: number) {
    let n = 1;
    while (n < capacity) n <<= 1;
    this.mask = n - 1;
    this.outSeqs = new Int32Array(n).fill(-1);
    this.inSeqs = new Uint16Array(n);
    this.layers = new Int8Array(n);
    this.timestamps = new Uint32Array(n);
    this.pictureIds = new Int32Array(n);
    this.tl0s = new Int16Array(n);
  }

  push(outSeq: number, inSeq: number, layer: number, timestamp: number, pictureId: number, tl0: number): void {
    const i = outSeq & this.mask;
    this.outSeqs[i] = outSeq;
    this.inSeqs[i] = inSeq;
    this.layers[i] = layer;
    this.timestamps[i] = timestamp;
    this.pictureIds[i] = pictureId;
    this.tl0s[i] = tl0;
  }

  /** Loads the entry for `outSeq` into the public fields; false if it was overwritten. */
  lookup(outSeq: number): boolean {
    const i = outSeq & this.mask;
    if (this.outSeqs[i] !== outSeq) return false;
    this.inSeq = this.inSeqs[i]!;
    this.layer = this.layers[i]!;
    this.timestamp = this.timestamps[i]!;
    this.pictureId = this.pictureIds[i]!;
    this.tl0 = this.tl0s[i]!;
    return true;
  }
}
