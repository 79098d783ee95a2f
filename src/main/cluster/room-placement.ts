// Which node a room lives on (`room_node_map`, room → node id, LiveKit's key). A room has one
// home: the first node to claim it in Redis wins, atomically, so two nodes cannot both start
// it. A home that is unavailable (stats stale) or draining loses its rooms to the next join.
import { livekit } from '../../proto/index.js';
import type { NodeSelectorConfig } from './cluster-config.js';
import { ROOM_NODE_KEY, type NodeRegistry } from './node-registry.js';
import { selectNode } from './node-selector.js';
import type { RedisConnection } from './redis-client.js';

/** Sets the room's node if it is still `expected` ('' = none); returns the node it now has. */
const COMPARE_AND_SET = `
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if (cur or '') == ARGV[2] then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
  return ARGV[3]
end
return cur`;

export class NoNodeError extends Error {}

export class RoomPlacement {
  constructor(
    private readonly redis: RedisConnection,
    private readonly registry: NodeRegistry,
    private readonly selector: NodeSelectorConfig,
  ) {}

  /** The room's node if it has an available one, else null (nothing to route to). */
  async homeOf(room: string): Promise<string | null> {
    const [home, nodes] = await Promise.all([this.redis.hget(ROOM_NODE_KEY, room), this.registry.nodes()]);
    if (!home) return null;
    return this.registry.isAvailable(nodes.find((n) => n.id === home)) ? home : null;
  }

  /**
   * The node for a join or CreateRoom: the room's node while it is available and serving;
   * otherwise one the selector picks among the serving nodes (or `wanted`, when it is one),
   * claimed in one atomic step.
   */
  async place(room: string, wanted = ''): Promise<string> {
    const [current, nodes] = await Promise.all([this.redis.hget(ROOM_NODE_KEY, room), this.registry.nodes()]);
    const nowS = Date.now() / 1000;
    const serving = nodes.filter((n) => this.registry.isAvailable(n, nowS) && n.state === livekit.NodeState.SERVING);
    if (current && serving.some((n) => n.id === current)) return current;
    // Just after a Redis outage a live home may not have written its entry yet: trust the map.
    if (current && !this.registry.settled && !nodes.some((n) => n.id === current)) return current;
    const pick = serving.find((n) => n.id === wanted) ?? selectNode(serving, this.selector);
    if (!pick?.id) throw new NoNodeError('could not find any available nodes');
    const now = await this.redis.eval(COMPARE_AND_SET, 1, ROOM_NODE_KEY, room, current ?? '', pick.id) as string | null;
    return now ?? pick.id;
  }

  /**
   * `to` becomes the room's home if `from` still is (a node of a room spanning nodes takes over
   * from a home that died); returns the room's home now.
   */
  async takeOver(room: string, from: string, to: string): Promise<string> {
    return (await this.redis.eval(COMPARE_AND_SET, 1, ROOM_NODE_KEY, room, from, to) as string | null) ?? to;
  }

  /** This node keeps (or takes back) a room it hosts; false when another node has it now. */
  async claim(room: string, nodeId: string): Promise<boolean> {
    if (await this.redis.hsetnx(ROOM_NODE_KEY, room, nodeId)) return true;
    return (await this.redis.hget(ROOM_NODE_KEY, room)) === nodeId;
  }
}
