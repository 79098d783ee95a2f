// Rooms that span nodes (cascading), on top of the cluster. A room keeps one home node (LiveKit's
// room_node_map), which owns its lifecycle; when the home is full (rtc.max_subscribers_per_node)
// a participant is served by another node, which opens its share of the room (a shard) and
// joins the room's node set. The nodes of a room exchange their participants over the control
// links and their media over the UDP links (node-mesh.ts); each room's share is a RoomSpan.
import { livekit, strand } from '../../proto/index.js';
import type { LinkWorkerStats } from '../../workers/node-link/link-protocol.js';
import type { NodeRegistry } from '../cluster/node-registry.js';
import type { RedisConnection } from '../cluster/redis-client.js';
import type { RoomPlacement } from '../cluster/room-placement.js';
import type { StrandConfig } from '../config.js';
import type { Logger } from '../logger.js';
import type { MediaPool } from '../media-pool.js';
import type { Participant } from '../rooms/participant.js';
import type { RoomObserver } from '../rooms/room-observer.js';
import type { Room } from '../rooms/room.js';
import type { RoomManager } from '../rooms/room-manager.js';
import { LinkPool } from './link-pool.js';
import { NodeMesh, type MeshHandler } from './node-mesh.js';
import { RoomSeats } from './room-seats.js';
import { RoomSpan, type SpanContext } from './room-span.js';

/** How long the home has to answer a node that opens its share of a room. */
const JOIN_TIMEOUT_MS = 3000;
/** A share whose last participant left waits this long for a rejoin before it closes. */
const SHARD_LINGER_MS = 5000;

export interface CascadeDeps {
  nodeId: string;
  cfg: StrandConfig;
  rooms: RoomManager;
  media: MediaPool;
  redis: RedisConnection;
  registry: NodeRegistry;
  placement: RoomPlacement;
  log: Logger;
  /** The control link to a node closed: signal sessions relayed to it end now (see SignalRelay.nodeDown). */
  onPeerDown?(node: string): void;
}

/** Where a join is served: `node`, in the room whose home is `home`. */
export interface JoinPlacement {
  node: string;
  home: string;
}

interface Opening {
  home: string;
  /** Messages for the room that came before the home's answer. */
  early: Array<[string, strand.CascadeMessage]>;
  answered: (state: strand.ICascadeState | null) => void;
}

export class Cascade implements RoomObserver, MeshHandler {
  private readonly spans = new Map<string, RoomSpan>();
  private readonly opening = new Map<string, Opening>();
  private readonly openPromises = new Map<string, Promise<void>>();
  private available: ReadonlySet<string> = new Set();
  private relayIds = 1;
  private readonly ctx: SpanContext;
  private closed = false;

  private constructor(private readonly deps: CascadeDeps, private readonly links: LinkPool, private readonly mesh: NodeMesh, private readonly seats: RoomSeats) {
    this.ctx = {
      nodeId: deps.nodeId, rooms: deps.rooms, media: deps.media, links, mesh,
      nextRelayId: () => this.relayIds++,
      spanClosed: (span, reason) => this.spanClosed(span, reason),
      log: deps.log,
    };
  }

  static async start(deps: CascadeDeps): Promise<Cascade> {
    const { cfg, log } = deps;
    let mesh: NodeMesh | null = null;
    let cascade: Cascade | null = null;
    const links = new LinkPool(cfg.rtc.ringBufferSize, deps.media, log, (_slot, e) => {
      if (e.ev === 'stalled') mesh?.onLinkStalled(e.peer, e.stalled);
      else log.warn({ where: e.where }, `node link error: ${e.message}`);
    });
    await links.start();
    const seats = new RoomSeats(deps.redis);
    // The mesh hands messages over as soon as it listens; the cascade exists right after.
    const handler: MeshHandler = {
      onMessage: (from, msg) => cascade?.onMessage(from, msg),
      onStalled: (node, stalled) => cascade?.onStalled(node, stalled),
      onPeerDown: (node) => deps.onPeerDown?.(node),
      onPeerGone: (node) => deps.registry.markGone(node),
    };
    try {
      // Every media worker gets a ring to the link worker: data packets of a room cross there.
      await Promise.all(Array.from({ length: deps.media.size }, (_, slot) => links.link(slot, 0)));
      const host = cfg.rtc.nodeIp || cfg.bindAddresses[0] || '127.0.0.1';
      mesh = await NodeMesh.start({
        nodeId: deps.nodeId, secret: Object.values(cfg.keys).sort()[0] ?? '', bind: cfg.cascade.bind || host, host,
        udpPort: cfg.cascade.udpPort, tcpPort: cfg.cascade.tcpPort, encrypt: cfg.cascade.encrypt,
      }, links, seats, handler, log);
    } catch (err) {
      await links.stop();
      throw err;
    }
    cascade = new Cascade(deps, links, mesh, seats);
    return cascade;
  }

  /**
   * Where a join for `room` is served: the room's home, unless it is full; then a node of the
   * room's node set with room, or a new one (this node first, which spares a relay).
   */
  async place(room: string, identity: string, subscriber: boolean): Promise<JoinPlacement> {
    const home = await this.deps.placement.place(room);
    const max = this.deps.cfg.rtc.maxSubscribersPerNode;
    const self = this.deps.nodeId;
    const region = this.deps.cfg.region;
    const nodes = await this.deps.registry.available();
    // Only nodes this one is linked with: a node that died drops its control link at once,
    // long before its registry entry ages out, and its participants are seated elsewhere.
    const serving = nodes.filter((n) => n.state === livekit.NodeState.SERVING && (n.id === self || this.mesh.connected(n.id ?? '')));
    const homeRegion = nodes.find((n) => n.id === home)?.region ?? '';
    // A client that reached a node of another region than the room's home is served in its own region.
    const ownRegion = region !== '' && homeRegion !== '' && homeRegion !== region && home !== self && serving.some((n) => n.id === self);
    if (max <= 0 && !ownRegion) return { node: home, home };
    const members = await this.seats.members(room);
    const ids = new Set(serving.map((n) => n.id ?? ''));
    const rest = serving.filter((n) => n.id !== self).sort((a, b) => (a.stats?.numClients ?? 0) - (b.stats?.numClients ?? 0)).map((n) => n.id ?? '');
    const order = ownRegion ? [self, home, ...members, ...rest] : [home, ...members, self, ...rest];
    const candidates = [...new Set(order)].filter((n) => n === home || ids.has(n));
    const node = await this.seats.take(room, identity, subscriber, max, candidates);
    return { node, home };
  }

  /** This node serves participants of `room`, whose home is `home`: its share of the room opens. */
  openShard(room: string, home: string): Promise<void> {
    if (home === this.deps.nodeId) return Promise.resolve();
    const existing = this.deps.rooms.rooms.get(room);
    if (existing && !existing.closed) return Promise.resolve();
    let p = this.openPromises.get(room);
    if (!p) {
      p = this.open(room, home).finally(() => this.openPromises.delete(room));
      this.openPromises.set(room, p);
    }
    return p;
  }

  private async open(name: string, home: string): Promise<void> {
    await this.seats.addMember(name, home);
    await this.seats.addMember(name, this.deps.nodeId);
    const members = (await this.seats.members(name)).filter((n) => n !== this.deps.nodeId && (n === home || this.available.has(n)));
    const opening: Opening = { home, early: [], answered: () => undefined };
    const answer = new Promise<strand.ICascadeState | null>((resolve) => {
      opening.answered = resolve;
      setTimeout(() => resolve(null), JOIN_TIMEOUT_MS).unref();
    });
    this.opening.set(name, opening);
    this.mesh.send(home, { room: name, join: {} });
    const state = await answer;
    this.opening.delete(name);
    if (!state?.home || !state.room) throw new Error(`the room's home ${home} did not take this node into room "${name}"`);
    const r = state.room;
    const room = this.deps.rooms.openShard(name, {
      sid: r.sid ?? undefined, creationTimeMs: Number(r.creationTimeMs ?? 0) || undefined, metadata: r.metadata ?? '',
      emptyTimeout: r.emptyTimeout ?? 300, departureTimeout: r.departureTimeout ?? 20, maxParticipants: r.maxParticipants ?? 0, createdByApi: false,
    });
    const span = this.spanFor(room, home);
    void span.queue(() => span.addMember(home, false));
    void span.queue(() => span.applyState(home, state));
    for (const [from, msg] of opening.early) void span.queue(() => span.onMessage(from, msg));
    for (const m of members) {
      if (m === home) continue;
      void span.queue(() => span.addMember(m, false));
      this.mesh.send(m, { room: name, join: {} });
    }
    // The participants already here learn of the others before the new one joins.
    await span.queue(() => undefined);
  }

  private spanFor(room: Room, home: string): RoomSpan {
    let span = this.spans.get(room.name);
    if (span && span.room === room) return span;
    span = new RoomSpan(room, this.ctx, home);
    this.spans.set(room.name, span);
    room.links = span;
    return span;
  }

  private spanClosed(span: RoomSpan, reason: livekit.DisconnectReason): void {
    if (this.spans.get(span.name) === span) this.spans.delete(span.name);
    const room = span.room;
    if (!room.shard && (reason === livekit.DisconnectReason.ROOM_DELETED || reason === livekit.DisconnectReason.ROOM_CLOSED)) {
      span.closeEverywhere(reason);
      void this.seats.clear(room.name).catch(() => undefined);
    } else {
      void this.seats.removeMember(room.name, this.deps.nodeId).catch(() => undefined);
    }
    void span.close();
  }

  // --- MeshHandler ---

  onMessage(from: string, msg: strand.CascadeMessage): void {
    const name = msg.room ?? '';
    const span = this.spans.get(name);
    if (span) {
      void span.queue(() => span.onMessage(from, msg));
      return;
    }
    const opening = this.opening.get(name);
    if (opening) {
      if (msg.body === 'state' && from === opening.home) opening.answered(msg.state ?? null);
      else opening.early.push([from, msg]);
      return;
    }
    if (msg.body === 'join') {
      const room = this.deps.rooms.rooms.get(name);
      if (!room || room.closed) {
        this.mesh.send(from, { room: name, state: { home: false } });
        return;
      }
      const s = this.spanFor(room, this.deps.nodeId);
      void s.queue(() => s.onMessage(from, msg));
    }
  }

  onStalled(node: string, stalled: boolean): void {
    if (stalled) this.deps.log.warn({ node }, 'media link stalled');
    else this.deps.log.info({ node }, 'media link recovered');
    for (const span of this.spans.values()) if (span.members.has(node)) span.linkStalled(node, stalled);
  }

  /**
   * After every registry refresh: links to the nodes available now; links to nodes no longer
   * available are dropped only once the registry is `settled` (after a Redis outage every node
   * looks gone until it has written again).
   */
  refreshLinks(available: ReadonlySet<string>, settled: boolean): void {
    if (this.closed) return;
    this.available = available;
    void this.mesh.refresh(available, settled).catch((err: unknown) => this.deps.log.warn({ err: (err as Error).message }, 'node links not refreshed'));
  }

  /** Once the registry is settled: rooms lose the nodes that are gone (their participants rejoin elsewhere). */
  onAvailable(available: ReadonlySet<string>): void {
    if (this.closed) return;
    for (const span of this.spans.values()) {
      for (const node of span.members) {
        if (available.has(node)) continue;
        this.deps.log.warn({ room: span.name, node }, 'a node of the room is gone: its participants leave');
        void span.queue(() => span.removeMember(node, livekit.DisconnectReason.MIGRATION));
      }
      if (span.room.shard && !available.has(span.home)) void this.takeOver(span);
      if (!span.room.shard) void this.seats.freeGone(span.name, [...available]).catch(() => undefined);
    }
  }

  /** The room's home is gone: the first node of its set to say so in Redis is its home now. */
  private async takeOver(span: RoomSpan): Promise<void> {
    const gone = span.home;
    try {
      span.home = await this.deps.placement.takeOver(span.name, gone, this.deps.nodeId);
    } catch (err) {
      this.deps.log.warn({ room: span.name, err: (err as Error).message }, 'could not take over the room');
      return;
    }
    if (span.home !== this.deps.nodeId || span.room.closed) return;
    this.deps.log.warn({ room: span.name, gone }, 'the room\'s home is gone: this node is its home now');
    this.deps.rooms.promoteShard(span.room);
  }

  // --- RoomObserver: this node's own participants (observers never see remote ones) ---

  participantUpdated(room: Room, p: Participant): void {
    this.spans.get(room.name)?.participantChanged(p);
  }

  participantLeft(room: Room, p: Participant): void {
    const span = this.spans.get(room.name);
    span?.participantGone(p);
    if ((span || this.usesSeats) && room.participantByIdentity(p.identity) === undefined) {
      void this.seats.free(room.name, p.identity, this.deps.nodeId).catch(() => undefined);
    }
    if (span && room.shard) this.lingerOrClose(span);
  }

  /** The home's room finished (observers see home rooms only): its seats and node set go. */
  roomFinished(room: Room): void {
    if (this.usesSeats) void this.seats.clear(room.name).catch(() => undefined);
  }

  /** Joins take seats (a cap per node, or regions): leaving frees them. */
  private get usesSeats(): boolean {
    return this.deps.cfg.rtc.maxSubscribersPerNode > 0 || this.deps.cfg.region !== '';
  }

  trackUnpublished(room: Room, _p: Participant, track: livekit.ITrackInfo): void {
    const span = this.spans.get(room.name);
    if (span) void span.queue(() => span.localTrackGone(track.sid ?? ''));
  }

  /** A share with none of this node's participants left closes, unless one comes back soon. */
  private lingerOrClose(span: RoomSpan): void {
    if (span.localParticipants().length > 0) return;
    setTimeout(() => {
      if (span.closed || span.room.closed || span.localParticipants().length > 0) return;
      this.deps.log.info({ room: span.name }, 'no participant of the room is left here: leaving its node set');
      void this.deps.rooms.closeRoom(span.room, livekit.DisconnectReason.ROOM_CLOSED, livekit.RoomEndReason.ROOM_END_IDLE_TIMEOUT);
    }, SHARD_LINGER_MS).unref();
  }

  /** The link worker's counters (metrics, benchmarks). */
  linkStats(): Promise<LinkWorkerStats> {
    return this.links.run(0, { op: 'stats' });
  }

  /** The node id behind a media link id. */
  nodeOfLink(linkId: number): string | undefined {
    return this.mesh.nodeOfLink(linkId);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const span of this.spans.values()) await span.close();
    this.spans.clear();
    await this.mesh?.close();
    await this.links.stop();
  }
}
