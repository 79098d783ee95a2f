// What a node has received from one sender (one epoch): duplicates and replays are dropped,
// gaps are reported for retransmission once they have waited a little (reordering is normal),
// and each missing datagram is asked for a bounded number of times.
export const WINDOW = 1024;
/** A gap younger than this may still be reordering, not loss. */
const NACK_AFTER_MS = 10;
/** Each missing datagram is asked for at most this often. */
const NACK_ATTEMPTS = 5;
const NACK_EVERY_MS = 40;

export class ReceiveWindow {
  /** Highest sequence number seen, -1 before the first. */
  highest = -1;
  private readonly seen = new Uint8Array(WINDOW);
  private readonly slotSeq = new Float64Array(WINDOW).fill(-1);
  /** Missing sequence numbers, with when they went missing and how often they were asked for. */
  private readonly missing = new Map<number, { since: number; asked: number; last: number }>();
  duplicates = 0;
  tooOld = 0;
  lost = 0;

  /** Records `seq`; false when it must be dropped (a duplicate, or older than the window). */
  accept(seq: number, now: number): boolean {
    if (this.highest >= 0 && seq <= this.highest - WINDOW) {
      this.tooOld++;
      return false;
    }
    const i = seq % WINDOW;
    if (this.slotSeq[i] === seq && this.seen[i]) {
      this.duplicates++;
      return false;
    }
    if (seq > this.highest) {
      // Everything skipped over is missing, for now.
      const from = this.highest < 0 ? seq : Math.max(this.highest + 1, seq - WINDOW + 1);
      for (let s = from; s < seq; s++) {
        const j = s % WINDOW;
        this.slotSeq[j] = s;
        this.seen[j] = 0;
        this.missing.set(s, { since: now, asked: 0, last: 0 });
      }
      this.highest = seq;
    }
    this.slotSeq[i] = seq;
    this.seen[i] = 1;
    this.missing.delete(seq);
    return true;
  }

  /** Sequence numbers to ask for now (at most `max`); gives up on those asked for enough. */
  due(now: number, max: number, out: number[]): number[] {
    out.length = 0;
    for (const [seq, m] of this.missing) {
      if (seq <= this.highest - WINDOW || m.asked >= NACK_ATTEMPTS) {
        this.missing.delete(seq);
        this.lost++;
        continue;
      }
      if (now - m.since < NACK_AFTER_MS || (m.asked > 0 && now - m.last < NACK_EVERY_MS)) continue;
      m.asked++;
      m.last = now;
      out.push(seq);
      if (out.length >= max) break;
    }
    return out;
  }

  get missingCount(): number {
    return this.missing.size;
  }
}
