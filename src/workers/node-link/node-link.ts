// A node's end of its media links to other nodes: one UDP socket (port OS-chosen unless
// configured), datagrams of framed records to and from each peer node. Records to a peer are
// packed into datagrams up to the MTU and sent at the end of the turn; each datagram is sealed
// with the sender's key and kept for a moment, so a peer that misses one asks for it (NACK by
// link sequence) and gets the same bytes again. A peer silent for 2 s is reported stalled;
// every link sends a probe twice a second (its clock, for the one-way delay), so that silence
// means trouble.
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import {
  DatagramWriter, FLAG_ENCRYPTED, REC_LINK_KEEPALIVE, REC_LINK_NACK, REC_LINK_PROBE, readHeader, readRecords,
  type DatagramHeader, type LinkRecordHandler,
} from './link-datagram.js';
import { LinkCipher, deriveLinkKey } from './link-crypto.js';
import { ReceiveWindow } from './receive-window.js';
import { SendHistory } from './send-history.js';

export interface NodeLinkOptions {
  /** This node's link id (a peer knows it from the cluster registry). */
  localId: number;
  /** The cluster's API secret: every link key derives from it. */
  secret: string;
  /** AES-256-GCM on the records; otherwise authenticated only. */
  encrypt: boolean;
  bind: string;
  /** 0: any free port (advertised to the other nodes). */
  port: number;
}

export interface NodeLinkHandler {
  /** A record from `peer`; `data[offset, offset + length)` is valid during the call only. */
  onRecord(peer: number, kind: number, layer: number, id: number, data: Buffer, offset: number, length: number): void;
  /** Nothing heard from `peer` for STALL_MS (or heard again: `stalled` false). */
  onPeerStalled?(peer: number, stalled: boolean): void;
}

export interface NodeLinkStats {
  datagramsSent: number;
  datagramsReceived: number;
  recordsSent: number;
  recordsReceived: number;
  retransmitted: number;
  nacksSent: number;
  /** Datagrams dropped: not ours, unknown sender, failed tag, bad framing. */
  rejected: number;
  duplicates: number;
  /** Datagrams given up on after NACKs. */
  lost: number;
}

export const STALL_MS = 2000;
/**
 * The link's housekeeping runs this often (probes, stalls); while a datagram is missing, every
 * NACK_TICK_MS instead, so that it is asked for soon. An idle link then wakes 10 times a second.
 */
const TICK_MS = 100;
const NACK_TICK_MS = 10;
const MAX_NACKS_PER_DATAGRAM = 100;
/** Probes also keep the link's liveness visible when it carries nothing else. */
const PROBE_MS = 500;
/** One-way delays kept per peer (the last ones), for percentiles. */
const DELAY_SAMPLES = 256;

/** Wall-clock milliseconds with sub-millisecond precision (performance.now on the epoch). */
function clockMs(): number {
  return performance.timeOrigin + performance.now();
}

class Peer {
  nextSeq = 0;
  readonly writer = new DatagramWriter();
  pending = false;
  lastHeardAt: number;
  stalled = false;
  readonly history = new SendHistory();
  /** What has been received from its current epoch. */
  window = new ReceiveWindow();
  epoch = -1;
  lastProbeAt = 0;
  /** One-way delays of the peer's probes, ms (a ring of the last DELAY_SAMPLES). */
  readonly delays = new Float64Array(DELAY_SAMPLES);
  delayCount = 0;

  constructor(readonly id: number, readonly host: string, readonly port: number, readonly inbound: LinkCipher) {
    this.lastHeardAt = Date.now();
  }
}

export class NodeLink implements LinkRecordHandler {
  readonly stats: NodeLinkStats = {
    datagramsSent: 0, datagramsReceived: 0, recordsSent: 0, recordsReceived: 0, retransmitted: 0, nacksSent: 0, rejected: 0, duplicates: 0, lost: 0,
  };
  private readonly peers = new Map<number, Peer>();
  private readonly outbound: LinkCipher;
  private readonly epoch = randomBytes(4).readUInt32BE(0);
  private readonly header: DatagramHeader = { flags: 0, sender: 0, epoch: 0, seq: 0 };
  private readonly due: number[] = [];
  private readonly nackPayload = Buffer.alloc(MAX_NACKS_PER_DATAGRAM * 8);
  private readonly probePayload = Buffer.alloc(8);
  private readonly tick: NodeJS.Timeout;
  /** A sooner tick, while some datagram is missing. */
  private nackTimer: NodeJS.Timeout | null = null;
  private flushScheduled = false;
  /** The peer whose datagram is being read (for onLinkRecord). */
  private current: Peer | null = null;
  private closed = false;

  private constructor(private readonly socket: Socket, private readonly opts: NodeLinkOptions, private readonly handler: NodeLinkHandler) {
    this.outbound = new LinkCipher(deriveLinkKey(opts.secret, opts.localId), opts.encrypt);
    socket.on('message', (msg) => this.onDatagram(msg));
    // A malformed datagram or an unreachable peer must not end the link.
    socket.on('error', () => {});
    this.tick = setInterval(() => this.onTick(), TICK_MS);
    this.tick.unref();
  }

  static async open(opts: NodeLinkOptions, handler: NodeLinkHandler): Promise<NodeLink> {
    const socket = createSocket({ type: opts.bind.includes(':') ? 'udp6' : 'udp4', recvBufferSize: 4 * 1024 * 1024, sendBufferSize: 4 * 1024 * 1024 });
    socket.bind(opts.port, opts.bind);
    await once(socket, 'listening');
    return new NodeLink(socket, opts, handler);
  }

  /** The UDP port, as the other nodes must be told. */
  get port(): number {
    return this.socket.address().port;
  }

  addPeer(id: number, host: string, port: number): void {
    this.peers.set(id, new Peer(id, host, port, new LinkCipher(deriveLinkKey(this.opts.secret, id), this.opts.encrypt)));
  }

  removePeer(id: number): void {
    this.peers.delete(id);
  }

  /**
   * Queues a record for `peer` (payload: `payload[offset, offset + payloadLen)`); false when there
   * is no such peer. Sent at the end of the turn.
   */
  send(peerId: number, kind: number, layer: number, id: number, payload: Uint8Array | null, payloadLen: number, offset = 0): boolean {
    const peer = this.peers.get(peerId);
    if (!peer || this.closed) return false;
    if (!peer.pending) this.begin(peer);
    if (!peer.writer.add(kind, layer, id, payload, payloadLen, offset)) {
      this.transmit(peer);
      this.begin(peer);
      if (!peer.writer.add(kind, layer, id, payload, payloadLen, offset)) return false; // larger than a datagram
    }
    if (kind < REC_LINK_NACK) this.stats.recordsSent++;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
    return true;
  }

  /** Sends every peer's partly filled datagram now. */
  flush(): void {
    this.flushScheduled = false;
    for (const peer of this.peers.values()) if (peer.pending) this.transmit(peer);
  }

  /**
   * The one-way delay of the link from `peerId`, ms, over its last probes: p50 and p99 (NaN
   * before any). Both clocks are read as wall time: exact on one host, offset by the clocks'
   * difference between hosts.
   */
  delayFrom(peerId: number): { p50: number; p99: number; samples: number } {
    const peer = this.peers.get(peerId);
    const n = peer ? Math.min(peer.delayCount, DELAY_SAMPLES) : 0;
    if (!peer || n === 0) return { p50: NaN, p99: NaN, samples: 0 };
    const sorted = Array.from(peer.delays.subarray(0, n)).sort((a, b) => a - b);
    return { p50: sorted[Math.floor((n - 1) * 0.5)]!, p99: sorted[Math.floor((n - 1) * 0.99)]!, samples: peer.delayCount };
  }

  /** Whether nothing has been heard from `peerId` for STALL_MS. */
  isStalled(peerId: number): boolean {
    return this.peers.get(peerId)?.stalled ?? false;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.tick);
    if (this.nackTimer) clearTimeout(this.nackTimer);
    this.flush();
    this.socket.close();
    await once(this.socket, 'close');
  }

  onLinkRecord(kind: number, layer: number, id: number, data: Buffer, offset: number, length: number): void {
    const peer = this.current!;
    if (kind === REC_LINK_KEEPALIVE) return;
    if (kind === REC_LINK_PROBE) {
      if (length >= 8) peer.delays[peer.delayCount++ % DELAY_SAMPLES] = clockMs() - data.readDoubleBE(offset);
      return;
    }
    if (kind === REC_LINK_NACK) {
      for (let o = offset; o + 8 <= offset + length; o += 8) this.resend(peer, data.readUInt32BE(o) * 0x1_0000_0000 + data.readUInt32BE(o + 4));
      return;
    }
    this.stats.recordsReceived++;
    this.handler.onRecord(peer.id, kind, layer, id, data, offset, length);
  }

  private begin(peer: Peer): void {
    peer.writer.begin(this.opts.encrypt ? FLAG_ENCRYPTED : 0, this.opts.localId, this.epoch, peer.nextSeq++);
    peer.pending = true;
  }

  private transmit(peer: Peer): void {
    peer.pending = false;
    const w = peer.writer;
    const len = this.outbound.seal(w.buf, w.bodyLength);
    const seq = peer.nextSeq - 1;
    peer.history.remember(seq, w.buf, len);
    this.stats.datagramsSent++;
    // dgram sends later, from the buffer it is given: send the history's copy, which stays as
    // it is for the next 2048 datagrams, and fill the writer's buffer again at once.
    this.socket.send(peer.history.find(seq)!, peer.port, peer.host);
  }

  private resend(peer: Peer, seq: number): void {
    const d = peer.history.find(seq);
    if (!d) return;
    this.stats.retransmitted++;
    this.socket.send(d, peer.port, peer.host);
  }

  private onDatagram(msg: Buffer): void {
    const h = readHeader(msg, msg.length, this.header);
    const peer = h ? this.peers.get(h.sender) : undefined;
    if (!h || !peer) {
      this.stats.rejected++;
      return;
    }
    const bodyLen = peer.inbound.open(msg, msg.length, (h.flags & FLAG_ENCRYPTED) !== 0);
    if (bodyLen < 0) {
      this.stats.rejected++;
      return;
    }
    const now = Date.now();
    if (h.epoch !== peer.epoch) {
      // The peer started again: its numbering starts again too.
      peer.epoch = h.epoch;
      peer.window = new ReceiveWindow();
    }
    if (!peer.window.accept(h.seq, now)) {
      this.stats.duplicates++;
      return;
    }
    peer.lastHeardAt = now;
    if (peer.stalled) {
      peer.stalled = false;
      this.handler.onPeerStalled?.(peer.id, false);
    }
    this.stats.datagramsReceived++;
    this.current = peer;
    if (!readRecords(msg, bodyLen, this)) this.stats.rejected++;
    this.current = null;
    if (peer.window.missingCount > 0 && this.nackTimer === null && !this.closed) {
      this.nackTimer = setTimeout(() => {
        this.nackTimer = null;
        this.onTick();
      }, NACK_TICK_MS);
    }
  }

  private onTick(): void {
    const now = Date.now();
    for (const peer of this.peers.values()) {
      const due = peer.window.due(now, MAX_NACKS_PER_DATAGRAM, this.due);
      if (due.length > 0) {
        for (const [i, seq] of due.entries()) {
          this.nackPayload.writeUInt32BE(Math.floor(seq / 0x1_0000_0000), i * 8);
          this.nackPayload.writeUInt32BE(seq >>> 0, i * 8 + 4);
        }
        this.stats.nacksSent += due.length;
        this.send(peer.id, REC_LINK_NACK, 0, 0, this.nackPayload, due.length * 8);
      }
      if (now - peer.lastProbeAt >= PROBE_MS) {
        peer.lastProbeAt = now;
        this.probePayload.writeDoubleBE(clockMs(), 0);
        this.send(peer.id, REC_LINK_PROBE, 0, 0, this.probePayload, 8);
      }
      if (!peer.stalled && now - peer.lastHeardAt >= STALL_MS) {
        peer.stalled = true;
        this.handler.onPeerStalled?.(peer.id, true);
      }
    }
    let lost = 0;
    for (const peer of this.peers.values()) lost += peer.window.lost;
    this.stats.lost = lost;
  }
}
