// Speech activity from the RFC 6464 audio-level header extension, following LiveKit's
// pkg/sfu/audio: per observe window (400 ms), a track is active when its loud packets
// (≤ activeLevel dBov) cover at least minPercentile % of the window; the loudest level,
// weighted by how much of the window was active, is smoothed with an EMA, and the track
// counts as speaking while the smoothed level is at or above the active level.

export interface AudioLevelParams {
  /** Packets at or below this many dBov below full scale count as active (LiveKit: 35). */
  activeLevel: number;
  /** Share of the window that must be active, percent (LiveKit: 40). */
  minPercentile: number;
  /** Window length, ms (LiveKit: audio.update_interval, 400). */
  observeDurationMs: number;
  /** EMA span in windows (LiveKit: 2). */
  smoothIntervals: number;
}

export const DEFAULT_AUDIO_LEVEL_PARAMS: AudioLevelParams = { activeLevel: 35, minPercentile: 40, observeDurationMs: 400, smoothIntervals: 2 };

/** dBov (0 loudest … 127 silent) to linear amplitude. */
export function audioLevelToLinear(dbov: number): number {
  return 10 ** (-dbov / 20);
}

export class AudioLevelObserver {
  private readonly minActiveMs: number;
  private readonly smoothFactor: number;
  private readonly activeThreshold: number;
  private smoothed = 0;
  private loudest = 127;
  private activeMs = 0;
  private observedMs = 0;
  private lastObservedAt = 0;

  constructor(private readonly params: AudioLevelParams = DEFAULT_AUDIO_LEVEL_PARAMS) {
    this.minActiveMs = (params.minPercentile * params.observeDurationMs) / 100;
    this.smoothFactor = params.smoothIntervals > 0 ? 2 / (params.smoothIntervals + 1) : 1;
    this.activeThreshold = audioLevelToLinear(params.activeLevel);
  }

  /** Per packet: its level (0–127 dBov, lower is louder) and how much audio it carries. */
  observe(dbov: number, durationMs: number, nowMs: number): void {
    this.lastObservedAt = nowMs;
    this.observedMs += durationMs;
    if (dbov <= this.params.activeLevel) {
      this.activeMs += durationMs;
      if (dbov < this.loudest) this.loudest = dbov;
    }
    if (this.observedMs < this.params.observeDurationMs) return;
    let level = 0;
    if (this.activeMs >= this.minActiveMs) {
      // 0 dB when active the whole window, negative (quieter) when active for part of it.
      const activityWeight = 20 * Math.log10(this.activeMs / this.params.observeDurationMs);
      const linear = audioLevelToLinear(this.loudest - activityWeight);
      level = this.smoothed + (linear - this.smoothed) * this.smoothFactor;
    }
    this.reset(level);
  }

  /** The smoothed level, 0 when the track went quiet or stopped sending. */
  level(nowMs: number): number {
    if (nowMs - this.lastObservedAt >= 2 * this.params.observeDurationMs) this.reset(0);
    return this.smoothed;
  }

  speaking(nowMs: number): boolean {
    return this.level(nowMs) >= this.activeThreshold;
  }

  private reset(smoothed: number): void {
    this.smoothed = smoothed;
    this.loudest = 127;
    this.activeMs = 0;
    this.observedMs = 0;
  }
}
