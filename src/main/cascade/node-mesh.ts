// This node's links to the other nodes of the cluster: a control channel per node pair (TCP,
// control-link.ts; the node with the lower id dials) and a peer of the UDP media link (the link
// worker). Addresses come from Redis (`cascade_links`), refreshed with the node registry, so
// every pair of live nodes is linked before a room needs it.
import { createHash } from 'node:crypto';
import { strand } from '../../proto/index.js';
import { ControlLink, type ControlChannel } from '../cluster/control-link.js';
import { portRefuses } from '../cluster/port-probe.js';
import type { Logger } from '../logger.js';
import type { LinkPool } from './link-pool.js';
import type { LinkAddress, RoomSeats } from './room-seats.js';

/** Messages kept for a node whose channel is not up yet; more are dropped. */
const MAX_QUEUED = 1000;
/** How long the look at a peer's link port after its link went down may take. */
const GONE_PROBE_MS = 1000;

export interface MeshHandler {
  onMessage(from: string, msg: strand.CascadeMessage): void;
  /** The media link from `node` went silent for 2 s (or came back). */
  onStalled(node: string, stalled: boolean): void;
  /**
   * The control link to `node` closed (not replaced by a newer one): a node killed outright
   * closes its connections at once, long before its registry entry ages out.
   */
  onPeerDown?(node: string): void;
  /**
   * After a control link went down, `node`'s link port refused a new connection: its process
   * is gone (a live node that lost its link still listens).
   */
  onPeerGone?(node: string): void;
}

export interface MeshOptions {
  nodeId: string;
  secret: string;
  /** Where the links listen. */
  bind: string;
  /** The address the other nodes reach this one at. */
  host: string;
  udpPort: number;
  tcpPort: number;
  encrypt: boolean;
}

/** A node's id on the media link (u32, never 0), from its node id. */
export function linkIdOf(nodeId: string): number {
  return (createHash('sha256').update(nodeId).digest().readUInt32BE(0) | 1) >>> 0;
}

export class NodeMesh {
  private readonly channels = new Map<string, ControlChannel>();
  private readonly queued = new Map<string, Uint8Array[]>();
  private readonly addresses = new Map<string, LinkAddress>();
  private readonly byLinkId = new Map<number, string>();
  private closed = false;

  private constructor(
    private readonly control: ControlLink,
    private readonly links: LinkPool,
    private readonly seats: RoomSeats,
    private readonly handler: MeshHandler,
    private readonly log: Logger,
    readonly nodeId: string,
    readonly address: LinkAddress,
  ) {
    control.on('channel', (peer, channel) => this.onChannel(peer, channel));
  }

  static async start(opts: MeshOptions, links: LinkPool, seats: RoomSeats, handler: MeshHandler, log: Logger): Promise<NodeMesh> {
    const linkId = linkIdOf(opts.nodeId);
    const { port: udpPort } = await links.run(0, {
      op: 'open', options: { localId: linkId, secret: opts.secret, encrypt: opts.encrypt, bind: opts.bind, port: opts.udpPort },
    });
    const control = await ControlLink.listen(opts.nodeId, opts.secret, opts.bind, opts.tcpPort);
    const address = { host: opts.host, udpPort, tcpPort: control.port, linkId };
    const mesh = new NodeMesh(control, links, seats, handler, log, opts.nodeId, address);
    await seats.advertise(opts.nodeId, address);
    log.info({ udp: udpPort, tcp: control.port, linkId }, 'node links listening');
    return mesh;
  }

  /** The media link id of `node`, if it is known. */
  linkId(node: string): number | undefined {
    return this.addresses.get(node)?.linkId;
  }

  nodeOfLink(linkId: number): string | undefined {
    return this.byLinkId.get(linkId);
  }

  /** After a registry refresh: links to the nodes now available; with `forgetGone`, none to those gone. */
  async refresh(available: ReadonlySet<string>, forgetGone: boolean): Promise<void> {
    if (this.closed) return;
    await this.seats.advertise(this.nodeId, this.address);
    const all = await this.seats.addresses();
    for (const [node, a] of all) {
      if (node === this.nodeId || !available.has(node)) continue;
      const known = this.addresses.get(node);
      if (known && known.udpPort === a.udpPort && known.tcpPort === a.tcpPort && known.host === a.host) continue;
      if (known) await this.forget(node);
      this.addresses.set(node, a);
      this.byLinkId.set(a.linkId, node);
      await this.links.run(0, { op: 'addPeer', peer: a.linkId, host: a.host, port: a.udpPort });
      if (this.control.dials(node)) this.control.connect(node, a.host, a.tcpPort);
    }
    if (!forgetGone) return;
    for (const node of [...this.addresses.keys()]) if (!available.has(node)) await this.forget(node);
  }

  private async forget(node: string): Promise<void> {
    const a = this.addresses.get(node);
    if (!a) return;
    this.addresses.delete(node);
    this.byLinkId.delete(a.linkId);
    this.control.disconnect(node);
    this.channels.get(node)?.close();
    this.channels.delete(node);
    this.queued.delete(node);
    await this.links.run(0, { op: 'removePeer', peer: a.linkId }).catch(() => undefined);
  }

  /** Sends a cascade message to `node` (kept until its channel is up). */
  send(node: string, msg: strand.ICascadeMessage): void {
    if (this.closed || node === this.nodeId) return;
    const bytes = strand.CascadeMessage.encode(msg).finish();
    const channel = this.channels.get(node);
    if (channel?.open) {
      channel.send(bytes);
      return;
    }
    let q = this.queued.get(node);
    if (!q) this.queued.set(node, (q = []));
    if (q.length < MAX_QUEUED) q.push(bytes);
  }

  /** Whether a control channel to `node` is up. */
  connected(node: string): boolean {
    return this.channels.get(node)?.open ?? false;
  }

  private onChannel(peer: string, channel: ControlChannel): void {
    // The newer channel first: the old one's close is then not taken for the peer going down.
    const old = this.channels.get(peer);
    this.channels.set(peer, channel);
    old?.close();
    this.log.debug({ peer }, 'control channel up');
    channel.on('message', (data) => {
      let msg: strand.CascadeMessage;
      try {
        msg = strand.CascadeMessage.decode(data);
      } catch {
        this.log.warn({ peer }, 'undecodable cascade message dropped');
        return;
      }
      try {
        this.handler.onMessage(peer, msg);
      } catch (err) {
        this.log.error({ err, peer }, 'cascade message failed');
      }
    });
    channel.once('down', (reason) => {
      this.log.debug({ peer, reason }, 'control channel down');
      if (this.channels.get(peer) !== channel) return;
      this.channels.delete(peer);
      if (this.closed) return;
      this.handler.onPeerDown?.(peer);
      this.probeGone(peer);
    });
    const q = this.queued.get(peer);
    this.queued.delete(peer);
    for (const bytes of q ?? []) channel.send(bytes);
  }

  /** Tells the handler if `peer`'s link port refuses connections (and no new channel came up meanwhile). */
  private probeGone(peer: string): void {
    const a = this.addresses.get(peer);
    if (!a) return;
    void portRefuses(a.host, a.tcpPort, GONE_PROBE_MS).then((refused) => {
      if (refused && !this.closed && !this.channels.has(peer)) this.handler.onPeerGone?.(peer);
    });
  }

  /** A link worker event: the media link from a peer stalled or recovered. */
  onLinkStalled(linkId: number, stalled: boolean): void {
    const node = this.byLinkId.get(linkId);
    if (node) this.handler.onStalled(node, stalled);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.seats.withdraw(this.nodeId).catch(() => undefined);
    await this.control.close();
  }
}
