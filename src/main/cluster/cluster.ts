// This node as one of a cluster on Redis (only when the config has `redis`): its entry in the
// node registry, where rooms live, the signal relay and forwarded API calls between nodes, and
// the cluster-wide room list. Without Redis nothing here runs and Strand is one node, as before.
import { livekit } from '../../proto/index.js';
import { BYTES_IN, BYTES_OUT, PACKETS_IN, PACKETS_OUT } from '../../workers/media-counters.js';
import { TwirpError, type TwirpForwarder } from '../api/twirp.js';
import type { StrandConfig } from '../config.js';
import { Cascade, type JoinPlacement } from '../cascade/cascade.js';
import type { Logger } from '../logger.js';
import type { MediaPool } from '../media-pool.js';
import type { Room } from '../rooms/room.js';
import type { RoomManager } from '../rooms/room-manager.js';
import type { SignalGateway } from '../signal/signal-gateway.js';
import { ApiForwarder } from './api-forwarder.js';
import { ClusterBus } from './cluster-bus.js';
import { ClusterState } from './cluster-state.js';
import { NodeRegistry, type NodeLoad } from './node-registry.js';
import { connectRedis, type RedisClients } from './redis-client.js';
import { RoomPlacement } from './room-placement.js';
import { SignalRelay } from './signal-relay.js';

export interface ClusterDeps {
  nodeId: string;
  rooms: RoomManager;
  gateway: SignalGateway;
  /** The media workers: their cumulative counters (the node's stats), and rooms spanning nodes. */
  media: MediaPool;
  /** Runs a Twirp call forwarded from another node (TwirpRouter.callForwarded). */
  runApiCall(path: string, authorization: string, request: Uint8Array): Promise<Uint8Array>;
  log: Logger;
}

export class Cluster {
  readonly registry: NodeRegistry;
  readonly placement: RoomPlacement;
  readonly state: ClusterState;
  readonly relay: SignalRelay;
  /** Rooms that span nodes (set once start() has linked this node to the others). */
  cascade!: Cascade;
  private readonly bus: ClusterBus;
  private readonly forwarder: ApiForwarder;
  private available: ReadonlySet<string> = new Set();
  private closed = false;

  private constructor(private readonly redis: RedisClients, private readonly cfg: StrandConfig, private readonly deps: ClusterDeps) {
    const { nodeId, log } = deps;
    this.bus = new ClusterBus(nodeId, redis.command, redis.subscriber, log);
    this.registry = new NodeRegistry(nodeId, cfg.rtc.nodeIp || cfg.bindAddresses[0] || '', cfg.region, redis.command,
      () => this.load(), (available, recovered) => this.onRefresh(available, recovered), log);
    this.placement = new RoomPlacement(redis.command, this.registry, cfg.nodeSelector);
    this.state = new ClusterState(nodeId, redis.command, this.registry, log);
    this.relay = new SignalRelay(this.bus, cfg.signalRelay, deps.gateway, log);
    this.forwarder = new ApiForwarder(this.bus, deps.runApiCall);
    // Rooms recovered from the store before the cluster started are written at the first resync.
    this.state.markStale();
  }

  /** Connects to Redis (an unreachable Redis is an error here), subscribes and registers this node. */
  static async start(cfg: StrandConfig, deps: ClusterDeps): Promise<Cluster> {
    if (!cfg.redis) throw new Error('no redis configured');
    const redis = await connectRedis(cfg.redis);
    const cluster = new Cluster(redis, cfg, deps);
    try {
      await cluster.bus.start({
        relay: (from, p) => cluster.relay.onPacket(from, p),
        apiCall: (from, c) => cluster.forwarder.onCall(from, c),
        apiResult: (from, r) => cluster.forwarder.onResult(from, r),
      });
      // Linked first: the registry's first refresh links this node to the others.
      cluster.cascade = await Cascade.start({
        nodeId: deps.nodeId, cfg, rooms: deps.rooms, media: deps.media, redis: redis.command,
        registry: cluster.registry, placement: cluster.placement, log: deps.log,
        onPeerDown: (node) => cluster.relay.nodeDown(node),
      });
      cluster.relay.prepareShard = (room, home) => cluster.cascade.openShard(room, home);
      await cluster.registry.start();
    } catch (err) {
      await cluster.cascade?.close().catch(() => undefined);
      await cluster.registry.close().catch(() => undefined);
      await redis.close();
      throw new Error(`cannot join the cluster: ${(err as Error).message}`);
    }
    deps.log.info({ node: deps.nodeId }, 'joined the cluster');
    return cluster;
  }

  /** Runs Twirp calls on their room's node. */
  readonly twirp: TwirpForwarder = {
    nodeFor: async (room, place, wantedNode) => {
      let node: string | null;
      try {
        node = place ? await this.placement.place(room, wantedNode) : await this.placement.homeOf(room);
      } catch (err) {
        throw new TwirpError('unavailable', `cluster state unavailable: ${(err as Error).message}`);
      }
      return node === null || node === this.deps.nodeId ? null : node;
    },
    forward: (node, path, authorization, request) => this.forwarder.forward(node, path, authorization, request),
    otherNodes: async () => {
      const nodes = await this.registry.available().catch((err: unknown) => {
        throw new TwirpError('unavailable', `cluster state unavailable: ${(err as Error).message}`);
      });
      return nodes.map((n) => n.id).filter((id) => id !== this.deps.nodeId);
    },
  };

  /**
   * The room lives here from now on, or already did (ingress media arrives on this node).
   * Throws when it lives on another node: a room spans one node until rooms across nodes exist.
   */
  async claimRoom(room: string): Promise<void> {
    const home = await this.placement.place(room, this.deps.nodeId);
    if (home !== this.deps.nodeId) throw new Error(`room "${room}" lives on node ${home}; ingress must reach that node`);
  }

  /** Where a join is served: the room's home, or (a room spanning nodes) another node of it. */
  placeJoin(room: string, identity: string, subscriber: boolean): Promise<JoinPlacement> {
    return this.cascade.place(room, identity, subscriber);
  }

  /** Stops taking new rooms; rooms here stay until their participants have moved. */
  async drain(): Promise<void> {
    this.relay.draining = true;
    await this.registry.drain();
    this.deps.log.info('draining: no new rooms on this node');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.relay.close();
    this.forwarder.close();
    await this.cascade?.close();
    await this.bus.close();
    // Rooms kept for the next start (CreateRoom) are released too: this node leaves the cluster.
    await this.state.releaseAll();
    await this.registry.close();
    await this.redis.close();
  }

  private load(): NodeLoad {
    let clients = 0;
    let tracksIn = 0;
    let tracksOut = 0;
    for (const room of this.deps.rooms.rooms.values()) {
      for (const p of room.participants.values()) {
        if (p.remoteNode !== null) continue;
        clients++;
        tracksIn += p.tracks.size;
        tracksOut += p.subscriptions.size;
      }
    }
    const media = this.deps.media.counterTotals();
    return {
      rooms: this.deps.rooms.rooms.size, clients, tracksIn, tracksOut,
      packetsIn: media[PACKETS_IN]!, packetsOut: media[PACKETS_OUT]!, bytesIn: media[BYTES_IN]!, bytesOut: media[BYTES_OUT]!,
    };
  }

  private onRefresh(available: ReadonlySet<string>, recovered: boolean): void {
    if (this.closed) return;
    // A Redis that comes back may have lost everything: this node's rooms are written again.
    if (recovered) this.state.markStale();
    if (!available.has(this.deps.nodeId)) return;
    // A room's share on a node that is not its home is the home's to keep in Redis.
    const homeRooms = [...this.deps.rooms.rooms.values()].filter((r) => !r.shard);
    void this.state.resync(homeRooms, (room) => this.placement.claim(room, this.deps.nodeId)).then((lost) => {
      for (const room of lost) this.lose(room);
    });
    this.cascade?.refreshLinks(available, this.registry.settled);
    // Only once this node has been writing for a while: after an outage, everyone looks gone
    // until they have written again.
    if (!this.registry.settled) return;
    for (const node of this.available) if (!available.has(node)) this.forwarder.nodeLost(node);
    this.available = available;
    this.relay.onAvailable(available);
    this.cascade?.onAvailable(available);
  }

  /** Another node has this room now (this one was taken for dead): its participants rejoin there. */
  private lose(room: Room): void {
    this.deps.log.warn({ room: room.name }, 'room was placed on another node: closing the copy here');
    void this.deps.rooms.closeRoom(room, livekit.DisconnectReason.MIGRATION, livekit.RoomEndReason.ROOM_END_SUPERSEDED, livekit.LeaveRequest.Action.RECONNECT);
  }
}
