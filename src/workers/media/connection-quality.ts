// Connection quality from what the RTCP reports say about loss: a MOS-like score 1–5 and
// LiveKit's buckets. A participant whose connection dropped is LOST.
import { livekit } from '../../proto/index.js';

export interface QualityScore {
  quality: livekit.ConnectionQuality;
  score: number;
}

/** `loss` is the worse of the loss Strand sees from the participant and the loss it reports. */
export function connectionQuality(loss: number, connected: boolean): QualityScore {
  if (!connected) return { quality: livekit.ConnectionQuality.LOST, score: 0 };
  const score = Math.round(Math.max(1, Math.min(5, 5 - loss * 25)) * 10) / 10;
  const quality = score >= 4.5 ? livekit.ConnectionQuality.EXCELLENT : score >= 3 ? livekit.ConnectionQuality.GOOD : livekit.ConnectionQuality.POOR;
  return { quality, score };
}
