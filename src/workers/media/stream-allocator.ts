// Allocates a subscriber's downlink across its video tracks under congestion: by priority,
// each track first gets its lowest layer (or is paused when even that does not fit), then
// tracks move up, highest priority first, while the budget allows. Without congestion no cap
// is applied: REMB follows what arrives, so as a hard cap it could never allow an upgrade
// without probing (which Strand does not do yet).

export interface AllocationTrack {
  id: string;
  /** UpdateTrackSettings.priority; higher first. */
  priority: number;
  /** Highest layer the subscriber asked for (-1: disabled). */
  maxLayer: number;
  /** Measured bitrate of each layer, bit/s (0: not sending). */
  layerBitrates: number[];
}

/** Layer cap per track id: -1 means paused for lack of bandwidth. */
export function allocate(tracks: AllocationTrack[], budget: number): Map<string, number> {
  const caps = new Map<string, number>();
  const order = [...tracks].sort((a, b) => b.priority - a.priority);
  let left = budget;
  for (const t of order) {
    if (t.maxLayer < 0) {
      caps.set(t.id, -1);
      continue;
    }
    const lowest = t.layerBitrates[0] ?? 0;
    if (lowest <= left) {
      caps.set(t.id, 0);
      left -= lowest;
    } else {
      caps.set(t.id, -1);
    }
  }
  for (const t of order) {
    let cap = caps.get(t.id)!;
    if (cap < 0) continue;
    const top = Math.min(t.maxLayer, t.layerBitrates.length - 1);
    while (cap < top) {
      const step = (t.layerBitrates[cap + 1] ?? 0) - (t.layerBitrates[cap] ?? 0);
      if (step > left) break;
      left -= step;
      cap++;
    }
    caps.set(t.id, cap);
  }
  return caps;
}

/** Reported loss above which the downlink is treated as congested. */
export const CONGESTION_LOSS = 0.1;
/** REMB below this share of what is being sent is congestion too. */
export const CONGESTION_ESTIMATE_SHARE = 0.5;
/** Uncongested seconds before caps are lifted (one step per second). */
export const RECOVERY_TICKS = 5;
