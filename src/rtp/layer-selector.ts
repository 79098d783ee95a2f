// Which simulcast layer a subscriber should get, and which layer a requested size needs.

/** Bit i set: layer i sent a packet recently. */
export type LayerMask = number;

/**
 * The layer to forward: the highest active layer at or below `maxLayer`; if none is active
 * there, the lowest active layer above it (something rather than nothing); -1 when nothing
 * is active or the subscriber paused the track (maxLayer < 0).
 */
export function desiredLayer(maxLayer: number, active: LayerMask): number {
  if (maxLayer < 0 || active === 0) return -1;
  for (let l = maxLayer; l >= 0; l--) if (active & (1 << l)) return l;
  for (let l = maxLayer + 1; l < 31; l++) if (active & (1 << l)) return l;
  return -1;
}

export interface LayerSize {
  width: number;
  height: number;
}

/**
 * The smallest layer that covers a `width`×`height` viewport (10% slack, as browsers round
 * element sizes), or the largest layer when none does. Layers are ordered lowest first; a
 * zero size means "not told", which gets the largest layer.
 */
export function layerForSize(layers: LayerSize[], width: number, height: number): number {
  if (layers.length === 0) return 0;
  if (width <= 0 && height <= 0) return layers.length - 1;
  for (let i = 0; i < layers.length; i++) {
    const l = layers[i]!;
    if (l.width === 0 && l.height === 0) continue;
    if (l.width >= width * 0.9 && l.height >= height * 0.9) return i;
  }
  return layers.length - 1;
}
