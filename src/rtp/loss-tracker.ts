// Upstream loss of one RTP stream: sequence gaps noticed as packets arrive, and which of the
// missing packets are due for a (re-)NACK. Repairs and late arrivals clear them.

const MAX_GAP = 100;
const MAX_TRIES = 3;
const GIVE_UP_MS = 1000;
const RETRY_MS = 100;

interface Missing {
  firstSeenMs: number;
  lastNackMs: number;
  tries: number;
}

export class LossTracker {
  private highest = -1;
  private readonly missing = new Map<number, Missing>();
  /** Packets reported missing so far (for stats). */
  lost = 0;

  /** Per packet. Cheap when packets arrive in order. */
  onPacket(seq: number, nowMs: number): void {
    if (this.highest < 0) {
      this.highest = seq;
      return;
    }
    const ahead = (seq - this.highest) & 0xffff;
    if (ahead === 1) {
      this.highest = seq;
    } else if (ahead > 0 && ahead < 0x8000) {
      const gap = Math.min(ahead - 1, MAX_GAP);
      for (let i = gap; i >= 1; i--) this.missing.set((seq - i) & 0xffff, { firstSeenMs: nowMs, lastNackMs: -Infinity, tries: 0 });
      this.lost += gap;
      this.highest = seq;
    } else if (this.missing.size > 0) {
      this.missing.delete(seq); // late or repaired
    }
  }

  /** True while `seq` is known missing (and not given up on). */
  isMissing(seq: number): boolean {
    return this.missing.has(seq);
  }

  get pending(): number {
    return this.missing.size;
  }

  /** Writes the sequence numbers to NACK now into `out`; returns how many. */
  due(nowMs: number, out: Uint16Array): number {
    let n = 0;
    for (const [seq, m] of this.missing) {
      if (m.tries >= MAX_TRIES || nowMs - m.firstSeenMs > GIVE_UP_MS) {
        this.missing.delete(seq);
        continue;
      }
      if (nowMs - m.lastNackMs < RETRY_MS || n >= out.length) continue;
      m.lastNackMs = nowMs;
      m.tries++;
      out[n++] = seq;
    }
    return n;
  }
}
