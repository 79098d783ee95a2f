// The node link worker: this node's end of the media links to the other nodes of its rooms.
// It is a ring peer of the media workers, like an egress worker, and owns the UDP link:
//
//   origin node:  publisher's media worker ─ring─► link worker ─UDP, once per remote node─►
//   remote node:  ─► link worker ─ring─► media worker of the stand-in publisher ─► downtracks
//
// Keyframe requests go the other way, hop by hop, under the ids each side knows. Data packets
// of a room cross too: a media worker writes them into every ring it has, and the link worker
// sends them to the room's other nodes (cut into parts when larger than a datagram).
import type { MessagePort } from 'node:worker_threads';
import { Doorbell, REC_DATA, REC_KEYFRAME, REC_RTP, REC_SENDER_REPORT } from '../ring-channel.js';
import { RingSet, type PeerRecordHandler } from '../ring-set.js';
import { threadId } from '../thread-id.js';
import { RECORD_HEADER } from '../ring-channel.js';
import { LINK_MAX_BODY } from './link-datagram.js';
import type { LinkCommand, LinkEvent, LinkPeerStats, LinkResults, LinkWorkerStats } from './link-protocol.js';
import { NodeLink, type NodeLinkHandler } from './node-link.js';

/** One part of a data packet too large for a datagram: id = message, layer = part index. */
const REC_DATA_PART = 0x20;
/** A part's payload: the number of parts (u8), then its bytes. */
const PART_BYTES = LINK_MAX_BODY - RECORD_HEADER - 1;
/** Data packets being put together per peer; older ones are given up. */
const MAX_PARTIAL = 32;

/** A track forwarded from here: one relay of one media worker, to some peers. */
interface Outbound {
  mediaSlot: number;
  relayId: number;
  linkId: number;
  peers: number[];
}

/** A track arriving here: records `linkId` from `peer` into media worker `mediaSlot` as `relayId`. */
interface Inbound {
  peer: number;
  peerIndex: number;
  linkId: number;
  mediaSlot: number;
  relayId: number;
}

interface PeerCounters {
  /** A small number for the peer (its link id is a u32: too large to key with). */
  index: number;
  mediaSent: number;
  mediaReceived: number;
  dataSent: number;
  dataReceived: number;
  partial: Map<number, { count: number; got: number; parts: Array<Buffer | undefined> }>;
  nextMessage: number;
}

/** One number for two: `a` small (a media slot, a peer's index), `b` a u32; exact below 2^53. */
const key = (a: number, b: number) => a * 0x1_0000_0000 + b;

export class LinkWorker implements PeerRecordHandler {
  private events: MessagePort | null = null;
  private doorbell: Doorbell | null = null;
  private link: NodeLink | null = null;
  private readonly rings = new RingSet();
  private readonly writers = this.rings.writers;
  /** Origin side, by (media slot, relay id) and by link id. */
  private readonly outbound = new Map<number, Outbound>();
  private readonly outboundByLink = new Map<number, Outbound>();
  /** Receiving side, by (peer, link id) and by (media slot, relay id). */
  private readonly inbound = new Map<number, Inbound>();
  private readonly inboundByLocal = new Map<number, Inbound>();
  private readonly roomPeers = new Map<string, number[]>();
  private readonly counters = new Map<number, PeerCounters>();
  private readonly part = Buffer.alloc(LINK_MAX_BODY);
  /** What the UDP link hands over: records from other nodes, and their stalls. */
  private readonly peerHandler: NodeLinkHandler = {
    onRecord: (peer, kind, layer, id, data, offset, length) => this.fromPeer(peer, kind, layer, id, data, offset, length),
    onPeerStalled: (peer, stalled) => this.emit({ ev: 'stalled', peer, stalled }),
  };
  from = -1;
  private nextPeerIndex = 1;
  private unrouted = 0;
  private draining = false;
  private closed = false;

  async handle(cmd: LinkCommand): Promise<LinkResults[LinkCommand['op']]> {
    switch (cmd.op) {
      case 'init':
        this.events = cmd.events;
        this.doorbell = new Doorbell(cmd.doorbell);
        return { slot: cmd.slot };
      case 'attachRing':
        if (this.rings.attach(cmd.mediaSlot, cmd.out, cmd.mediaDoorbell, cmd.inbound, false)) this.forgetMediaWorker(cmd.mediaSlot);
        if (!this.draining) void this.drainLoop();
        return null;
      case 'open':
        if (!this.link) this.link = await NodeLink.open(cmd.options, this.peerHandler);
        return { port: this.link.port };
      case 'addPeer':
        this.requireLink().addPeer(cmd.peer, cmd.host, cmd.port);
        if (!this.counters.has(cmd.peer)) {
          this.counters.set(cmd.peer, {
            index: this.nextPeerIndex++, mediaSent: 0, mediaReceived: 0, dataSent: 0, dataReceived: 0, partial: new Map(), nextMessage: 1,
          });
        }
        return null;
      case 'removePeer':
        this.link?.removePeer(cmd.peer);
        for (const o of [...this.outbound.values()]) this.removeDestination(o, cmd.peer);
        for (const i of [...this.inbound.values()]) if (i.peer === cmd.peer) this.dropInbound(i);
        this.counters.delete(cmd.peer);
        return null;
      case 'sendTrack': {
        let o = this.outboundByLink.get(cmd.linkId);
        if (!o) {
          o = { mediaSlot: cmd.mediaSlot, relayId: cmd.relayId, linkId: cmd.linkId, peers: [] };
          this.outbound.set(key(cmd.mediaSlot, cmd.relayId), o);
          this.outboundByLink.set(cmd.linkId, o);
        }
        if (!o.peers.includes(cmd.peer)) o.peers.push(cmd.peer);
        return null;
      }
      case 'stopTrack': {
        const o = this.outboundByLink.get(cmd.linkId);
        if (o) this.removeDestination(o, cmd.peer);
        return null;
      }
      case 'receiveTrack': {
        const c = this.counters.get(cmd.peer);
        if (!c) throw new Error(`no link to peer ${cmd.peer}`);
        const existing = this.inbound.get(key(c.index, cmd.linkId));
        if (existing) this.dropInbound(existing);
        const i: Inbound = { peer: cmd.peer, peerIndex: c.index, linkId: cmd.linkId, mediaSlot: cmd.mediaSlot, relayId: cmd.relayId };
        this.inbound.set(key(c.index, cmd.linkId), i);
        this.inboundByLocal.set(key(cmd.mediaSlot, cmd.relayId), i);
        return null;
      }
      case 'dropTrack': {
        const c = this.counters.get(cmd.peer);
        const i = c ? this.inbound.get(key(c.index, cmd.linkId)) : undefined;
        if (i) this.dropInbound(i);
        return null;
      }
      case 'roomPeers':
        if (cmd.peers.length > 0) this.roomPeers.set(cmd.roomSid, cmd.peers);
        else this.roomPeers.delete(cmd.roomSid);
        return null;
      case 'stats': return this.stats();
      case 'shutdown':
        this.closed = true;
        this.doorbell?.ring();
        await this.link?.close();
        this.link = null;
        return null;
    }
  }

  private requireLink(): NodeLink {
    if (!this.link) throw new Error('the node link is not open');
    return this.link;
  }

  private removeDestination(o: Outbound, peer: number): void {
    const i = o.peers.indexOf(peer);
    if (i >= 0) o.peers.splice(i, 1);
    if (o.peers.length > 0) return;
    this.outbound.delete(key(o.mediaSlot, o.relayId));
    this.outboundByLink.delete(o.linkId);
  }

  /** Media worker `slot` was replaced: the relay ids its predecessor gave tracks mean nothing now. */
  private forgetMediaWorker(slot: number): void {
    for (const o of [...this.outbound.values()]) {
      if (o.mediaSlot !== slot) continue;
      this.outbound.delete(key(o.mediaSlot, o.relayId));
      this.outboundByLink.delete(o.linkId);
    }
    for (const i of [...this.inbound.values()]) if (i.mediaSlot === slot) this.dropInbound(i);
  }

  private dropInbound(i: Inbound): void {
    this.inbound.delete(key(i.peerIndex, i.linkId));
    if (this.inboundByLocal.get(key(i.mediaSlot, i.relayId)) === i) this.inboundByLocal.delete(key(i.mediaSlot, i.relayId));
  }

  /** A record from a media worker's ring (`this.from`). */
  onRecord(kind: number, layer: number, id: number, payload: Buffer, len: number): void {
    const link = this.link;
    if (!link) return;
    switch (kind) {
      case REC_RTP:
      case REC_SENDER_REPORT: {
        const o = this.outbound.get(key(this.from, id));
        if (!o) {
          this.unrouted++;
          return;
        }
        for (let i = 0; i < o.peers.length; i++) {
          const peer = o.peers[i]!;
          if (link.send(peer, kind, layer, o.linkId, payload, len)) this.counters.get(peer)!.mediaSent++;
        }
        return;
      }
      case REC_KEYFRAME: {
        // From a stand-in publisher's receiver here: asked of the track's origin.
        const i = this.inboundByLocal.get(key(this.from, id));
        if (i) link.send(i.peer, REC_KEYFRAME, layer, i.linkId, null, 0);
        return;
      }
      case REC_DATA: {
        if (len < 2) return;
        const idLen = payload[1]!;
        const peers = this.roomPeers.get(payload.toString('latin1', 2, 2 + idLen));
        if (!peers) return;
        for (const peer of peers) this.sendData(link, peer, payload, len);
        return;
      }
    }
  }

  private sendData(link: NodeLink, peer: number, payload: Buffer, len: number): void {
    const c = this.counters.get(peer);
    if (!c) return;
    c.dataSent++;
    if (len + RECORD_HEADER <= LINK_MAX_BODY) {
      link.send(peer, REC_DATA, 0, 0, payload, len);
      return;
    }
    const count = Math.ceil(len / PART_BYTES);
    if (count > 255) return;
    const message = c.nextMessage++ >>> 0;
    for (let i = 0; i < count; i++) {
      const start = i * PART_BYTES;
      const n = Math.min(PART_BYTES, len - start);
      this.part[0] = count;
      payload.copy(this.part, 1, start, start + n);
      link.send(peer, REC_DATA_PART, i, message, this.part, n + 1);
    }
  }

  /** A record from another node. */
  private fromPeer(peer: number, kind: number, layer: number, id: number, data: Buffer, offset: number, length: number): void {
    switch (kind) {
      case REC_RTP:
      case REC_SENDER_REPORT: {
        const c = this.counters.get(peer);
        const i = c ? this.inbound.get(key(c.index, id)) : undefined;
        const w = i ? this.writers.get(i.mediaSlot) : undefined;
        if (!c || !i || !w) {
          this.unrouted++;
          return;
        }
        c.mediaReceived++;
        w.writeFrom(kind, layer, i.relayId, data, offset, length);
        return;
      }
      case REC_KEYFRAME: {
        const o = this.outboundByLink.get(id);
        if (o) this.writers.get(o.mediaSlot)?.write(REC_KEYFRAME, layer, o.relayId, null, 0);
        return;
      }
      case REC_DATA:
        this.deliverData(peer, data, offset, length);
        return;
      case REC_DATA_PART:
        this.onDataPart(peer, layer, id, data, offset, length);
        return;
    }
  }

  /** A room's data packet from another node, to every media worker (those without the room ignore it). */
  private deliverData(peer: number, data: Buffer, offset: number, length: number): void {
    const c = this.counters.get(peer);
    if (c) c.dataReceived++;
    for (const w of this.writers.values()) w.writeFrom(REC_DATA, 0, 0, data, offset, length);
  }

  private onDataPart(peer: number, index: number, message: number, data: Buffer, offset: number, length: number): void {
    const c = this.counters.get(peer);
    if (!c || length < 1) return;
    const count = data[offset]!;
    if (index >= count) return;
    let p = c.partial.get(message);
    if (!p) {
      if (c.partial.size >= MAX_PARTIAL) c.partial.delete(c.partial.keys().next().value!);
      p = { count, got: 0, parts: new Array<Buffer | undefined>(count) };
      c.partial.set(message, p);
    }
    if (p.count !== count || p.parts[index]) return;
    p.parts[index] = Buffer.from(data.subarray(offset + 1, offset + length));
    if (++p.got < count) return;
    c.partial.delete(message);
    const whole = Buffer.concat(p.parts as Buffer[]);
    this.deliverData(peer, whole, 0, whole.length);
  }

  private emit(e: LinkEvent): void {
    this.events?.postMessage(e);
  }

  private readonly onDrainError = (err: unknown): void => this.emit({ ev: 'error', where: 'link.drain', message: (err as Error).message });

  private async drainLoop(): Promise<void> {
    this.draining = true;
    while (!this.closed && this.doorbell) {
      this.rings.drain(this, this.onDrainError);
      // Records read now leave in datagrams at the end of this turn (NodeLink.send).
      await this.doorbell.wait(this.rings.allEmpty);
    }
    this.draining = false;
  }

  private stats(): LinkWorkerStats {
    const s = this.link?.stats;
    const ringDrops = this.rings.dropped;
    const peers: LinkPeerStats[] = [...this.counters].map(([peer, c]) => {
      const d = this.link?.delayFrom(peer) ?? { p50: NaN, p99: NaN };
      return {
        peer, mediaSent: c.mediaSent, mediaReceived: c.mediaReceived, dataSent: c.dataSent, dataReceived: c.dataReceived,
        stalled: this.link?.isStalled(peer) ?? false, delayP50Ms: d.p50, delayP99Ms: d.p99,
      };
    });
    return {
      tid: threadId(), datagramsSent: s?.datagramsSent ?? 0, datagramsReceived: s?.datagramsReceived ?? 0,
      retransmitted: s?.retransmitted ?? 0, nacksSent: s?.nacksSent ?? 0, rejected: s?.rejected ?? 0, lost: s?.lost ?? 0,
      unrouted: this.unrouted, ringDrops, peers,
    };
  }
}
