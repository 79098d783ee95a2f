// One room's share on this node while the room spans nodes. This node speaks for its own
// participants (announces them to the other nodes, forwards their tracks to the nodes that
// subscribe, does what the API asks of them) and holds the others' participants as stand-ins
// (RemoteParticipant), whose media it fetches when someone here subscribes:
//
//   origin (publisher's node)                      remote node
//   relayStart(track → link worker) ◄─subscribe── fetchTrack (first subscriber here)
//   link worker: sendTrack(peer)     ─subscribed─► link worker: receiveTrack; inject on the
//                                                  stand-in's worker; local subscribers attach
//   dynacast counts the node's demand ◄─demand──── the layer this node's subscribers need
//   relayStop when no node is left   ◄unsubscribe─ releaseTrack (last subscriber here)
//
// Messages about the room are handled one after another (`serial`), in the order each node
// sent them.
import { livekit, strand } from '../../proto/index.js';
import { LINK_PEER_BASE, type RelayedTrack } from '../../workers/protocol.js';
import { permissionsFromProto } from '../auth/grants.js';
import type { Logger } from '../logger.js';
import type { MediaPool } from '../media-pool.js';
import type { Participant } from '../rooms/participant.js';
import type { RemoteCall, RoomLinks } from '../rooms/room-links.js';
import type { Room } from '../rooms/room.js';
import type { RoomManager } from '../rooms/room-manager.js';
import type { LinkPool } from './link-pool.js';
import type { NodeMesh } from './node-mesh.js';
import { RemoteParticipant } from './remote-participant.js';

const SUBSCRIBE_TIMEOUT_MS = 5000;
/** Until a subscribing node says otherwise, it wants every layer. */
const ALL_LAYERS = 99;

/** A track published here that other nodes receive. */
interface Forwarded {
  mediaSlot: number;
  relayId: number;
  linkId: number;
  nodes: Set<string>;
  /** The highest layer each node wants. */
  demand: Map<string, number>;
}

/** A remote track arriving here (or being asked for). */
interface Fetched {
  node: string;
  publisher: RemoteParticipant;
  ready: Promise<boolean>;
  linkId: number;
  relayId: number;
  /** The layer demand last sent for it. */
  demand: number;
}

export interface SpanContext {
  nodeId: string;
  rooms: RoomManager;
  media: MediaPool;
  links: LinkPool;
  mesh: NodeMesh;
  /** A relay id for a track injected from the link, unique on this node. */
  nextRelayId(): number;
  /** The room closed here: the cascade lets go of the span. */
  spanClosed(span: RoomSpan, reason: livekit.DisconnectReason): void;
  log: Logger;
}

export class RoomSpan implements RoomLinks {
  /** The other nodes of the room's node set. */
  readonly members = new Set<string>();
  private readonly proxies = new Map<string, RemoteParticipant>();
  private readonly forwarded = new Map<string, Forwarded>();
  private readonly fetched = new Map<string, Fetched>();
  /** What the publisher's worker said of each forwarded track (its codec, layers). */
  private readonly trackDescriptions = new Map<string, RelayedTrack>();
  private readonly pending = new Map<number, (reply: strand.ICascadeSubscribed) => void>();
  private nextRequest = 1;
  private serial: Promise<void> = Promise.resolve();
  /** Nodes whose media link is silent now. */
  private readonly stalled = new Set<string>();
  closed = false;

  /** The room's home node, as this node last knew it. */
  home: string;

  constructor(readonly room: Room, private readonly ctx: SpanContext, home: string) {
    this.home = home;
  }

  get name(): string {
    return this.room.name;
  }

  /** This node's own participants in the room. */
  localParticipants(): Participant[] {
    return [...this.room.participants.values()].filter((p) => p.remoteNode === null);
  }

  /** Runs `fn` after everything before it for this room. */
  queue(fn: () => Promise<void> | void): Promise<void> {
    const next = this.serial.then(fn).catch((err: unknown) => this.ctx.log.warn({ err, room: this.name }, 'cascade message failed'));
    this.serial = next;
    return next;
  }

  private send(node: string, body: Omit<strand.ICascadeMessage, 'room'>): void {
    this.ctx.mesh.send(node, { room: this.name, ...body });
  }

  private broadcast(body: Omit<strand.ICascadeMessage, 'room'>): void {
    for (const node of this.members) this.send(node, body);
  }

  /** Data packets of the room now go to these nodes too. */
  private async updatePeers(): Promise<void> {
    const peers = [...this.members].map((n) => this.ctx.mesh.linkId(n)).filter((id): id is number => id !== undefined);
    await this.ctx.links.run(0, { op: 'roomPeers', roomSid: this.room.sid, peers: this.closed ? [] : peers });
  }

  /** `node` is in the room's node set now; it learns of this node's participants. */
  async addMember(node: string, answerJoin: boolean): Promise<void> {
    const added = !this.members.has(node);
    this.members.add(node);
    if (added) await this.updatePeers();
    if (answerJoin) {
      this.send(node, {
        state: {
          room: this.room.shard ? null : this.room.toProto(),
          participants: this.localParticipants().map((p) => p.toInfo()),
          home: !this.room.shard,
        },
      });
      this.send(node, { speakers: { speakers: this.room.localSpeakers().map((s) => ({ sid: s.sid, level: s.level, active: true })) } });
    }
  }

  /** `node` left the room's node set (or died): its participants go, its subscriptions end. */
  async removeMember(node: string, reason = livekit.DisconnectReason.CLIENT_INITIATED): Promise<void> {
    if (!this.members.delete(node)) return;
    this.stalled.delete(node);
    this.room.onSpeakers(node, []);
    await this.updatePeers();
    for (const p of [...this.proxies.values()]) if (p.remoteNode === node) await this.removeProxy(p, reason);
    for (const [trackSid, f] of this.forwarded) if (f.nodes.has(node)) await this.unforward(trackSid, node);
  }

  // --- this node's participants, as the others learn of them ---

  participantChanged(p: Participant): void {
    if (p.closed) return;
    this.broadcast({ participant: p.toInfo() });
  }

  participantGone(p: Participant): void {
    this.broadcast({ participantGone: p.sid });
  }

  /** A track published here is gone: the nodes receiving it stop (their stand-ins learn from the update). */
  async localTrackGone(trackSid: string): Promise<void> {
    const f = this.forwarded.get(trackSid);
    if (!f) return;
    this.forwarded.delete(trackSid);
    await Promise.all([...f.nodes].map((node) => this.ctx.links.run(0, { op: 'stopTrack', linkId: f.linkId, peer: this.ctx.mesh.linkId(node) ?? 0 })));
  }

  // --- messages from the other nodes ---

  async onMessage(from: string, msg: strand.CascadeMessage): Promise<void> {
    switch (msg.body) {
      case 'join': await this.addMember(from, true); return;
      case 'state': await this.applyState(from, msg.state!); return;
      case 'leave': await this.removeMember(from); return;
      case 'participant': await this.upsert(from, msg.participant!); return;
      case 'participantGone': {
        const p = this.proxies.get(msg.participantGone ?? '');
        if (p && p.remoteNode === from) await this.removeProxy(p, livekit.DisconnectReason.CLIENT_INITIATED);
        return;
      }
      case 'subscribe': await this.onSubscribe(from, msg.subscribe!); return;
      case 'subscribed': this.pending.get(msg.subscribed!.request ?? 0)?.(msg.subscribed!); return;
      case 'unsubscribe': await this.unforward(msg.unsubscribe ?? '', from); return;
      case 'demand': {
        const f = this.forwarded.get(msg.demand!.trackSid ?? '');
        if (!f || !f.nodes.has(from)) return;
        f.demand.set(from, msg.demand!.maxLayer ?? -1);
        this.room.updateDynacast(msg.demand!.trackSid ?? '');
        return;
      }
      case 'data': {
        const d = msg.data!;
        await this.room.sendData(d.packet ?? new Uint8Array(), d.reliable ?? true, d.identities ?? [], true);
        return;
      }
      case 'call': await this.onCall(msg.call!); return;
      case 'close':
        await this.ctx.rooms.closeRoom(this.room, msg.close!.reason ?? livekit.DisconnectReason.ROOM_DELETED, livekit.RoomEndReason.ROOM_END_API_DELETE);
        return;
      case 'roomInfo': this.applyRoomInfo(msg.roomInfo!); return;
      case 'quality':
        this.room.onQuality((msg.quality!.updates ?? []).map((u) => ({ sid: u.participantSid ?? '', quality: u.quality ?? 0, score: u.score ?? 0 })), true);
        return;
      case 'speakers':
        this.room.onSpeakers(from, (msg.speakers!.speakers ?? []).map((s) => ({ sid: s.sid ?? '', level: s.level ?? 0 })));
        return;
    }
  }

  /** A node's answer to this node's join: its participants (and the room, from the home). */
  async applyState(from: string, state: strand.ICascadeState): Promise<void> {
    for (const info of state.participants ?? []) await this.upsert(from, info);
    if (state.home && state.room) this.applyRoomInfo(state.room);
  }

  private applyRoomInfo(info: livekit.IRoom): void {
    if (!this.room.shard) return;
    if ((info.metadata ?? '') !== this.room.metadata) this.room.setMetadata(info.metadata ?? '');
  }

  /** A participant of `node`'s, new or changed. */
  private async upsert(node: string, info: livekit.IParticipantInfo): Promise<void> {
    const sid = info.sid ?? '';
    if (!sid || this.closed) return;
    let p = this.proxies.get(sid);
    if (info.state === livekit.ParticipantInfo.State.DISCONNECTED) {
      if (p) await this.removeProxy(p, info.disconnectReason ?? livekit.DisconnectReason.CLIENT_INITIATED);
      return;
    }
    if (!p) {
      if (this.room.participantBySid(sid)) return; // one of this node's own
      p = new RemoteParticipant(info, node);
      this.proxies.set(sid, p);
      try {
        await this.ctx.rooms.joinRemote(this.room, p);
      } catch (err) {
        this.proxies.delete(sid);
        this.ctx.log.warn({ err, participant: sid }, 'remote participant not added');
        return;
      }
      p.state = info.state ?? livekit.ParticipantInfo.State.JOINED;
    } else if (!p.update(info)) {
      return;
    }
    await this.syncTracks(p);
  }

  /** Makes the stand-in's tracks what its node announced: new ones published, gone ones unpublished. */
  private async syncTracks(p: RemoteParticipant): Promise<void> {
    const announced = new Map(p.announcedTracks().map((t) => [t.sid ?? '', t]));
    const added: livekit.ITrackInfo[] = [];
    for (const [sid, t] of announced) {
      if (p.tracks.has(sid)) p.tracks.set(sid, t);
      else added.push(t);
    }
    for (const sid of [...p.tracks.keys()]) {
      if (announced.has(sid)) continue;
      this.dropFetched(sid);
      await this.room.unpublish(p, sid);
    }
    if (added.length > 0) await this.room.publishTracks(p, added);
    else this.room.broadcastParticipant(p);
  }

  private async removeProxy(p: RemoteParticipant, reason: livekit.DisconnectReason): Promise<void> {
    if (this.proxies.get(p.sid) !== p) return;
    this.proxies.delete(p.sid);
    for (const sid of p.tracks.keys()) this.dropFetched(sid);
    await this.ctx.rooms.leave(this.room, p, reason, false);
  }

  /** The route of a remote track that is gone (its publisher unpublished or left). */
  private dropFetched(trackSid: string): void {
    const f = this.fetched.get(trackSid);
    if (!f) return;
    this.fetched.delete(trackSid);
    void this.ctx.links.run(0, { op: 'dropTrack', peer: this.ctx.mesh.linkId(f.node) ?? 0, linkId: f.linkId }).catch(() => undefined);
  }

  /** Another node has subscribers of a track published here. */
  private async onSubscribe(from: string, req: strand.ICascadeSubscribe): Promise<void> {
    const trackSid = req.trackSid ?? '';
    const reply = (r: Omit<strand.ICascadeSubscribed, 'request' | 'trackSid'>) => this.send(from, { subscribed: { request: req.request, trackSid, ...r } });
    const publisher = [...this.room.participants.values()].find((p) => p.remoteNode === null && p.tracks.has(trackSid));
    const peer = this.ctx.mesh.linkId(from);
    if (!publisher || peer === undefined || !this.members.has(from)) {
      reply({ error: 'track not found' });
      return;
    }
    let f = this.forwarded.get(trackSid);
    if (!f) {
      await this.ctx.links.link(publisher.slot, 0);
      const track = await this.ctx.media.run(publisher.slot, { op: 'relayStart', trackSid, toSlot: LINK_PEER_BASE, layer: -1 });
      if (!track) {
        reply({ error: 'track not found on its worker' });
        return;
      }
      f = {
        mediaSlot: publisher.slot, relayId: track.relayId, linkId: (publisher.slot * 0x10_0000 + track.relayId) >>> 0,
        nodes: new Set(), demand: new Map(),
      };
      this.forwarded.set(trackSid, f);
      this.trackDescriptions.set(trackSid, track);
    }
    if (!f.nodes.has(from)) {
      await this.ctx.links.run(0, { op: 'sendTrack', mediaSlot: f.mediaSlot, relayId: f.relayId, linkId: f.linkId, peer });
      f.nodes.add(from);
      f.demand.set(from, ALL_LAYERS);
      this.room.updateDynacast(trackSid);
    }
    const t = this.trackDescriptions.get(trackSid)!;
    reply({
      linkId: f.linkId, mimeType: t.mimeType, clockRate: t.clockRate, channels: t.channels ?? 0, fmtp: t.fmtp ?? '',
      rids: t.rids, video: t.kind === 'video',
    });
  }

  /** `node` has no subscriber of the track left. */
  private async unforward(trackSid: string, node: string): Promise<void> {
    const f = this.forwarded.get(trackSid);
    if (!f || !f.nodes.delete(node)) return;
    f.demand.delete(node);
    await this.ctx.links.run(0, { op: 'stopTrack', linkId: f.linkId, peer: this.ctx.mesh.linkId(node) ?? 0 }).catch(() => undefined);
    if (f.nodes.size === 0) {
      this.forwarded.delete(trackSid);
      this.trackDescriptions.delete(trackSid);
      await this.ctx.media.run(f.mediaSlot, { op: 'relayStop', trackSid, toSlot: LINK_PEER_BASE }).catch(() => undefined);
    }
    this.room.updateDynacast(trackSid);
  }

  private async onCall(call: strand.ICascadeParticipantCall): Promise<void> {
    const p = this.room.participantByIdentity(call.identity ?? '');
    if (!p || p.remoteNode !== null) return;
    if (call.remove) await this.ctx.rooms.removeParticipant(this.room, p, 0);
    else if (call.mute) this.room.mutePublishedTrack(p, call.mute.trackSid ?? '', call.mute.muted ?? false);
    else if (call.update) {
      const u = call.update;
      await this.room.updateParticipant(p, {
        name: u.name ?? undefined, metadata: u.metadata ?? undefined, attributes: u.attributes ?? undefined,
        permission: u.permission ? permissionsFromProto(u.permission) : undefined,
      });
    }
  }

  // --- RoomLinks: what the room asks ---

  fetchTrack(publisher: Participant, trackSid: string): Promise<boolean> {
    const existing = this.fetched.get(trackSid);
    if (existing) return existing.ready;
    const node = publisher.remoteNode;
    if (node === null || !(publisher instanceof RemoteParticipant) || this.closed) return Promise.resolve(false);
    const f: Fetched = { node, publisher, ready: Promise.resolve(false), linkId: 0, relayId: this.ctx.nextRelayId(), demand: ALL_LAYERS };
    f.ready = this.subscribeRemote(f, trackSid);
    this.fetched.set(trackSid, f);
    return f.ready;
  }

  private async subscribeRemote(f: Fetched, trackSid: string): Promise<boolean> {
    const request = this.nextRequest++;
    const reply = await new Promise<strand.ICascadeSubscribed | null>((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(request);
        resolve(null);
      }, SUBSCRIBE_TIMEOUT_MS);
      this.pending.set(request, (r) => {
        clearTimeout(timer);
        this.pending.delete(request);
        resolve(r);
      });
      this.send(f.node, { subscribe: { trackSid, request } });
    });
    const peer = this.ctx.mesh.linkId(f.node);
    if (!reply || reply.error || peer === undefined || this.fetched.get(trackSid) !== f) {
      if (this.fetched.get(trackSid) === f) this.fetched.delete(trackSid);
      this.ctx.log.warn({ room: this.name, trackSid, node: f.node, error: reply?.error ?? 'no answer' }, 'remote track not available');
      return false;
    }
    f.linkId = reply.linkId ?? 0;
    const p = f.publisher;
    await this.ctx.links.link(p.slot, 0);
    await this.ctx.links.run(0, { op: 'receiveTrack', peer, linkId: f.linkId, mediaSlot: p.slot, relayId: f.relayId });
    await this.ctx.media.run(p.slot, {
      op: 'inject', participantSid: p.sid, fromSlot: LINK_PEER_BASE,
      track: {
        relayId: f.relayId, trackSid, publisherSid: p.sid, kind: reply.video ? 'video' : 'audio', mimeType: reply.mimeType ?? '',
        clockRate: reply.clockRate ?? 90000, channels: reply.channels || undefined, fmtp: reply.fmtp || undefined, rids: reply.rids ?? [], layer: -1,
      },
    });
    return true;
  }

  releaseTrack(publisher: Participant, trackSid: string): void {
    const f = this.fetched.get(trackSid);
    if (!f) return;
    this.fetched.delete(trackSid);
    void f.ready.then(async (ok) => {
      if (!ok) return;
      this.send(f.node, { unsubscribe: trackSid });
      await this.ctx.links.run(0, { op: 'dropTrack', peer: this.ctx.mesh.linkId(f.node) ?? 0, linkId: f.linkId });
      if (!publisher.closed) await this.ctx.media.run(publisher.slot, { op: 'unpublish', participantSid: publisher.sid, trackSid });
    }).catch(() => undefined);
  }

  demandLayer(publisher: Participant, trackSid: string, maxLayer: number): void {
    const f = this.fetched.get(trackSid);
    if (!f || f.demand === maxLayer || publisher.remoteNode === null) return;
    f.demand = maxLayer;
    this.send(publisher.remoteNode, { demand: { trackSid, maxLayer } });
  }

  remoteDemand(trackSid: string): number {
    const f = this.forwarded.get(trackSid);
    let needed = -1;
    if (f) for (const l of f.demand.values()) needed = Math.max(needed, l);
    return needed;
  }

  sendData(packet: Uint8Array, reliable: boolean, identities: string[]): void {
    this.broadcast({ data: { packet, reliable, identities } });
  }

  callRemote(p: Participant, call: RemoteCall): void {
    if (p.remoteNode === null) return;
    const identity = p.identity;
    if ('remove' in call) this.send(p.remoteNode, { call: { identity, remove: true } });
    else if ('mute' in call) this.send(p.remoteNode, { call: { identity, mute: call.mute } });
    else {
      const u = call.update;
      this.send(p.remoteNode, {
        call: {
          identity,
          update: {
            name: u.name ?? '', metadata: u.metadata ?? '', attributes: u.attributes ?? {},
            permission: u.permission ? {
              canSubscribe: u.permission.canSubscribe, canPublish: u.permission.canPublish, canPublishData: u.permission.canPublishData,
              canUpdateMetadata: u.permission.canUpdateMetadata, hidden: u.permission.hidden,
            } : null,
          },
        },
      });
    }
  }

  roomUpdated(room: livekit.IRoom): void {
    this.broadcast({ roomInfo: room });
  }

  speakersChanged(speakers: Array<{ sid: string; level: number }>): void {
    this.broadcast({ speakers: { speakers: speakers.map((s) => ({ sid: s.sid, level: s.level, active: true })) } });
  }

  qualityChanged(reports: Array<{ sid: string; quality: number; score: number }>): void {
    if (reports.length === 0) return;
    this.broadcast({ quality: { updates: reports.map((r) => ({ participantSid: r.sid, quality: r.quality, score: r.score })) } });
  }

  roomClosed(reason: livekit.DisconnectReason): void {
    this.ctx.spanClosed(this, reason);
  }

  /** The home closes the room for good: every node of the set closes its share. */
  closeEverywhere(reason: livekit.DisconnectReason): void {
    this.broadcast({ close: { reason } });
  }

  /**
   * The media link from `node` stalled (or recovered): this node's subscribers of its tracks
   * are told the streams paused, rather than seeing them freeze.
   */
  linkStalled(node: string, stalled: boolean): void {
    if (stalled === this.stalled.has(node)) return;
    if (stalled) this.stalled.add(node);
    else this.stalled.delete(node);
    let told = 0;
    for (const p of this.localParticipants()) {
      const states: livekit.IStreamStateInfo[] = [];
      for (const trackSid of p.subscriptions) {
        const f = this.fetched.get(trackSid);
        if (f?.node === node) {
          states.push({ participantSid: f.publisher.sid, trackSid, state: stalled ? livekit.StreamState.PAUSED : livekit.StreamState.ACTIVE });
        }
      }
      if (states.length > 0) p.send({ streamStateUpdate: { streamStates: states } });
      told += states.length;
    }
    this.ctx.log.info({ room: this.name, node, stalled, streams: told }, stalled ? 'subscribers told their streams from a stalled node paused' : 'subscribers told their streams are active again');
  }

  /** This node leaves the room's node set (its last participant left, or it stops). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.broadcast({ leave: {} });
    await this.updatePeers().catch(() => undefined);
    for (const trackSid of [...this.forwarded.keys()]) await this.localTrackGone(trackSid);
    for (const trackSid of [...this.fetched.keys()]) this.dropFetched(trackSid);
    for (const resolve of this.pending.values()) resolve({ error: 'the room left this node' });
  }
}
