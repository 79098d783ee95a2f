// This node's entry in Redis (`nodes` hash, ND_ id → livekit.Node), written every 2 s, and the
// cluster's view of the others. A node is available while its stats are under 5 s old; it takes
// new rooms only while SERVING. Survivors clean a node that stopped writing, with its rooms
// (LiveKit leaves such entries behind: "stranded" rooms nobody can delete). A node seen gone
// sooner (its link port refuses connections: markGone) is unavailable from then on, until it
// writes its stats again.
import { cpus, freemem, loadavg, totalmem } from 'node:os';
import { livekit } from '../../proto/index.js';
import type { Logger } from '../logger.js';
import type { RedisConnection } from './redis-client.js';

export const NODES_KEY = 'nodes';
export const ROOM_NODE_KEY = 'room_node_map';
export const ROOMS_KEY = 'rooms';
export const participantsKey = (room: string): string => `room_participants:${room}`;

export const STATS_INTERVAL_MS = 2000;
/** Stats older than this: the node is not available (LiveKit: 5 s). */
export const AVAILABLE_WITHIN_S = 5;
/** This node's own stats older than this: GET / answers 406 (LiveKit: 4 s). */
const OWN_STATS_FRESH_MS = 4000;
/** A node silent this long is dead: its entries are removed. */
const DEAD_AFTER_S = 15;
/** Only a node that has itself been writing this long judges others dead (not just after an outage). */
const JUDGE_AFTER_MS = 3 * STATS_INTERVAL_MS;

/** Deletes a dead node, its rooms and their participants, if its entry is still the one read. */
const CLEAN_DEAD_NODE = `
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return -1 end
redis.call('HDEL', KEYS[1], ARGV[1])
local map = redis.call('HGETALL', KEYS[2])
local n = 0
for i = 1, #map, 2 do
  if map[i + 1] == ARGV[1] then
    redis.call('HDEL', KEYS[2], map[i])
    redis.call('HDEL', KEYS[3], map[i])
    redis.call('DEL', 'room_participants:' .. map[i])
    n = n + 1
  end
end
return n`;

export interface NodeLoad {
  rooms: number;
  clients: number;
  tracksIn: number;
  tracksOut: number;
  /** RTP packets and bytes the media workers received and sent since start. */
  packetsIn: number;
  packetsOut: number;
  bytesIn: number;
  bytesOut: number;
}

interface Known {
  node: livekit.Node;
  raw: Buffer;
}

export class NodeRegistry {
  state = livekit.NodeState.STARTING_UP;
  private readonly startedAt = Math.floor(Date.now() / 1000);
  private timer: NodeJS.Timeout | null = null;
  private lastWriteAt = 0;
  /** Since when writes have succeeded without a gap. */
  private writingSince = 0;
  private known = new Map<string, Known>();
  /** Nodes seen gone (markGone) → the second they were; lifted by a later write of theirs. */
  private readonly gone = new Map<string, number>();
  private lastCpu = cpuTimes();
  private cpuLoad = 0;
  private redisDown = false;
  private closed = false;

  constructor(
    readonly nodeId: string,
    private readonly ip: string,
    private readonly region: string,
    private readonly redis: RedisConnection,
    private readonly load: () => NodeLoad,
    /**
     * After each refresh: the ids of the available nodes (this one included when fresh), and
     * whether Redis has just come back (its contents may be gone).
     */
    private readonly onRefresh: (available: ReadonlySet<string>, recovered: boolean) => void,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    this.state = livekit.NodeState.SERVING;
    await this.tick();
    this.timer = setInterval(() => void this.tick(), STATS_INTERVAL_MS);
    this.timer.unref();
  }

  /**
   * This node has written its stats without a gap long enough for every live node to have
   * written too: only then does a missing or stale entry mean that node is gone.
   */
  get settled(): boolean {
    return this.writingSince > 0 && Date.now() - this.writingSince >= JUDGE_AFTER_MS;
  }

  /** This node's stats reached Redis recently (GET / answers 406 otherwise). */
  get fresh(): boolean {
    return Date.now() - this.lastWriteAt < OWN_STATS_FRESH_MS;
  }

  /** No new rooms here from now on; written at once. */
  async drain(): Promise<void> {
    this.state = livekit.NodeState.SHUTTING_DOWN;
    await this.write().catch(() => {});
  }

  /** Reads every node's entry now (placement needs a current view). */
  async nodes(): Promise<livekit.Node[]> {
    await this.refresh();
    return [...this.known.values()].map((k) => k.node);
  }

  isAvailable(node: livekit.INode | undefined, nowS = Date.now() / 1000): boolean {
    if (node === undefined) return false;
    const goneAt = this.gone.get(node.id ?? '');
    if (goneAt !== undefined && updatedAt(node) <= goneAt) return false;
    return nowS - updatedAt(node) <= AVAILABLE_WITHIN_S;
  }

  /**
   * `nodeId`'s process is gone (its link port refused a connection): it is unavailable now,
   * not once its stats are 5 s old, so joins stop being placed on it at once. A node that was
   * not gone after all is available again with its next write (stats are written every 2 s).
   */
  markGone(nodeId: string): void {
    if (nodeId === this.nodeId) return;
    this.log.info({ node: nodeId }, 'node gone (its link port refuses connections): no more joins placed on it');
    this.gone.set(nodeId, Math.floor(Date.now() / 1000));
  }

  /** The available nodes, read now (this one included while its stats are fresh). */
  async available(): Promise<livekit.Node[]> {
    const nowS = Date.now() / 1000;
    return (await this.nodes()).filter((n) => this.isAvailable(n, nowS));
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.redis.hdel(NODES_KEY, this.nodeId).catch(() => {});
  }

  private async tick(): Promise<void> {
    let recovered = false;
    try {
      await this.write();
      if (this.redisDown) this.log.info('Redis reachable again');
      recovered = this.redisDown;
      this.redisDown = false;
      await this.refresh();
      await this.cleanDead();
    } catch (err) {
      this.writingSince = 0;
      if (!this.redisDown) this.log.warn({ err: (err as Error).message }, 'Redis unreachable: node stats not written, retrying');
      this.redisDown = true;
    }
    const nowS = Date.now() / 1000;
    const available = new Set([...this.known].filter(([, k]) => this.isAvailable(k.node, nowS)).map(([id]) => id));
    if (this.fresh) available.add(this.nodeId);
    this.onRefresh(available, recovered);
  }

  private async write(): Promise<void> {
    // A tick still running when the node leaves must not write its entry back.
    if (this.closed) return;
    const now = cpuTimes();
    const total = now.total - this.lastCpu.total;
    if (total > 0) this.cpuLoad = 1 - (now.idle - this.lastCpu.idle) / total;
    this.lastCpu = now;
    const l = this.load();
    const numCpus = cpus().length;
    const [l1, l5, l15] = loadavg();
    const node: livekit.INode = {
      id: this.nodeId, ip: this.ip, numCpus, type: livekit.NodeType.SERVER, state: this.state, region: this.region,
      stats: {
        startedAt: this.startedAt, updatedAt: Math.floor(Date.now() / 1000), numRooms: l.rooms, numClients: l.clients,
        numTracksIn: l.tracksIn, numTracksOut: l.tracksOut, packetsIn: l.packetsIn, packetsOut: l.packetsOut,
        bytesIn: l.bytesIn, bytesOut: l.bytesOut, numCpus, loadAvgLast1min: l1, loadAvgLast5min: l5, loadAvgLast15min: l15,
        cpuLoad: this.cpuLoad, memoryTotal: totalmem(), memoryUsed: totalmem() - freemem(), memoryLoad: 1 - freemem() / totalmem(),
      },
    };
    await this.redis.hset(NODES_KEY, this.nodeId, Buffer.from(livekit.Node.encode(node).finish()));
    this.lastWriteAt = Date.now();
    this.writingSince ||= this.lastWriteAt;
  }

  private async refresh(): Promise<void> {
    const all = await this.redis.hgetallBuffer(NODES_KEY);
    const known = new Map<string, Known>();
    for (const [id, raw] of Object.entries(all)) {
      try {
        known.set(id, { node: livekit.Node.decode(raw), raw });
      } catch {
        this.log.warn({ node: id }, 'undecodable node entry ignored');
      }
    }
    this.known = known;
    // A mark ends once its node has written again, or once its entry is gone (cleaned as dead).
    for (const [id, goneAt] of this.gone) {
      const k = known.get(id);
      if (!k || updatedAt(k.node) > goneAt) this.gone.delete(id);
    }
  }

  private async cleanDead(): Promise<void> {
    if (!this.settled) return;
    const nowS = Date.now() / 1000;
    for (const [id, k] of this.known) {
      if (id === this.nodeId || nowS - updatedAt(k.node) <= DEAD_AFTER_S) continue;
      const rooms = await this.redis.eval(CLEAN_DEAD_NODE, 3, NODES_KEY, ROOM_NODE_KEY, ROOMS_KEY, id, k.raw) as number;
      if (rooms >= 0) {
        this.known.delete(id);
        this.log.info({ node: id, rooms }, 'removed a dead node and its rooms from the cluster');
      }
    }
  }
}

/** When `node` last wrote its stats, in seconds (0: never). */
function updatedAt(node: livekit.INode): number {
  return Number(node.stats?.updatedAt ?? 0);
}

function cpuTimes(): { idle: number; total: number } {
  let idle = 0;
  let total = 0;
  for (const c of cpus()) {
    idle += c.times.idle;
    total += c.times.idle + c.times.user + c.times.sys + c.times.nice + c.times.irq;
  }
  return { idle, total };
}
