// A token bucket: `rate` tokens a second, at most `burst` saved up. Used for per-participant
// limits (data packets and bytes in a media worker, signal messages on the main thread); it
// allocates nothing, so it can sit on the data path.
export class TokenBucket {
  private tokens: number;
  private lastMs: number;

  /** `rate` ≤ 0 means no limit. */
  constructor(private readonly rate: number, private readonly burst: number, nowMs = performance.now()) {
    this.tokens = burst;
    this.lastMs = nowMs;
  }

  /** Takes `n` tokens if there are that many; false (nothing taken) otherwise. */
  take(n = 1, nowMs = performance.now()): boolean {
    if (this.rate <= 0) return true;
    const elapsed = nowMs - this.lastMs;
    if (elapsed > 0) {
      this.tokens = Math.min(this.burst, this.tokens + (elapsed * this.rate) / 1000);
      this.lastMs = nowMs;
    }
    if (this.tokens < n) return false;
    this.tokens -= n;
    return true;
  }
}
