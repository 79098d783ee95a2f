// Connection quality from loss, jitter and round-trip time, scored with the simplified ITU-T
// G.107 E-model (R factor → MOS 1–5) and put into LiveKit's buckets. A participant whose
// connection dropped is LOST.
import { livekit } from '../../proto/index.js';

export interface QualityScore {
  quality: livekit.ConnectionQuality;
  score: number;
}

export interface LinkStats {
  /** Loss fraction 0–1 (the worse direction). */
  loss: number;
  jitterMs: number;
  rttMs: number;
}

/** MOS from the E-model: latency and jitter lower R; loss lowers it further. */
export function meanOpinionScore(s: LinkStats): number {
  const latency = s.rttMs / 2 + 2 * s.jitterMs + 10;
  let r = latency < 160 ? 93.2 - latency / 40 : 93.2 - (latency - 120) / 10;
  r -= 2.5 * (100 * s.loss);
  r = Math.max(0, Math.min(100, r));
  return 1 + 0.035 * r + 7e-6 * r * (r - 60) * (100 - r);
}

export function connectionQuality(s: LinkStats, connected: boolean): QualityScore {
  if (!connected) return { quality: livekit.ConnectionQuality.LOST, score: 0 };
  const score = Math.round(meanOpinionScore(s) * 100) / 100;
  const quality = score > 4.1 ? livekit.ConnectionQuality.EXCELLENT : score >= 3.3 ? livekit.ConnectionQuality.GOOD : livekit.ConnectionQuality.POOR;
  return { quality, score };
}
