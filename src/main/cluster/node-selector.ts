// Which node takes a new room: LiveKit's selectors. `any` takes every available node;
// `cpuload` and `sysload` drop nodes over their limit, and fall back to all available nodes when
// every one is over it (LiveKit does the same: a busy cluster still takes rooms). Then `sort_by`
// picks the lowest, or a random one.
import type { livekit } from '../../proto/index.js';
import type { NodeSelectorConfig } from './cluster-config.js';

const sysload = (n: livekit.INode) => (n.stats?.loadAvgLast1min ?? 0) / Math.max(1, n.stats?.numCpus || n.numCpus || 1);

const SORT_KEYS: Record<Exclude<NodeSelectorConfig['sortBy'], 'random'>, (n: livekit.INode) => number> = {
  sysload,
  cpuload: (n) => n.stats?.cpuLoad ?? 0,
  rooms: (n) => n.stats?.numRooms ?? 0,
  clients: (n) => n.stats?.numClients ?? 0,
  tracks: (n) => (n.stats?.numTracksIn ?? 0) + (n.stats?.numTracksOut ?? 0),
};

export function selectNode(candidates: livekit.INode[], cfg: NodeSelectorConfig, random: () => number = Math.random): livekit.INode | null {
  if (candidates.length === 0) return null;
  let pool = candidates;
  if (cfg.kind === 'cpuload') pool = candidates.filter((n) => (n.stats?.cpuLoad ?? 0) < cfg.cpuLoadLimit);
  else if (cfg.kind === 'sysload') pool = candidates.filter((n) => sysload(n) < cfg.sysloadLimit);
  if (pool.length === 0) pool = candidates;
  if (cfg.sortBy === 'random') return pool[Math.floor(random() * pool.length)] ?? pool[0]!;
  const key = SORT_KEYS[cfg.sortBy];
  // Ties go to a random one of the lowest, so equal nodes share new rooms.
  const lowest = Math.min(...pool.map(key));
  const best = pool.filter((n) => key(n) === lowest);
  return best[Math.floor(random() * best.length)] ?? best[0]!;
}
