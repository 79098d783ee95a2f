// The control link between two nodes (issue 14's design: one TCP connection per node pair,
// next to the UDP media link). Frames are a u32 length and a strand.ControlFrame. Both ends
// prove they hold the cluster's secret before anything else is accepted: the dialer says hello
// with a nonce, the acceptor answers with its own nonce and an HMAC over both, the dialer
// proves itself the same way. Then pings every second; a link silent for 2 s is reported
// stalled, and a dialer whose link drops dials again.
import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { strand } from '../../proto/index.js';

/** Largest control frame; a peer that sends more is cut off. */
export const MAX_CONTROL_FRAME = 1024 * 1024;
const PING_MS = 1000;
export const CONTROL_STALL_MS = 2000;
const HANDSHAKE_MS = 3000;
const REDIAL_MIN_MS = 200;
const REDIAL_MAX_MS = 5000;

function controlKey(secret: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, 'strand node link v1', 'control', 32));
}

function proof(key: Buffer, role: 'acceptor' | 'dialer', dialer: string, acceptor: string, dialerNonce: Uint8Array, acceptorNonce: Uint8Array): Buffer {
  return createHmac('sha256', key).update(`${role}\n${dialer}\n${acceptor}\n`).update(dialerNonce).update(acceptorNonce).digest();
}

function same(a: Uint8Array, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

export interface ControlChannelEvents {
  /** Authenticated: messages may flow. */
  open: [];
  message: [data: Uint8Array];
  /** Nothing heard for CONTROL_STALL_MS (true), or heard again (false). */
  stalled: [stalled: boolean];
  /** The connection is gone (a dialer dials again unless closed). */
  down: [reason: string];
}

/** One authenticated connection to a peer node. */
export class ControlChannel extends EventEmitter<ControlChannelEvents> {
  private buffered: Buffer = Buffer.alloc(0);
  private done = false;
  private authenticated = false;
  private lastHeard = Date.now();
  private isStalled = false;
  private timer: NodeJS.Timeout;
  private readonly nonce = randomBytes(16);
  private peerNonce: Uint8Array = new Uint8Array();
  peerId = '';

  constructor(
    private readonly socket: Socket,
    private readonly role: 'dialer' | 'acceptor',
    private readonly localId: string,
    private readonly key: Buffer,
    /** The dialer knows whom it dials; the acceptor learns it from the hello. */
    expectedPeer: string,
  ) {
    super();
    this.peerId = expectedPeer;
    socket.setNoDelay(true);
    socket.on('data', (chunk) => this.onData(chunk));
    socket.on('error', () => {});
    socket.on('close', () => this.fail('connection closed'));
    const started = Date.now();
    this.timer = setInterval(() => {
      const now = Date.now();
      if (!this.authenticated) {
        if (now - started > HANDSHAKE_MS) this.fail('handshake timed out');
        return;
      }
      this.write({ ping: now });
      const silent = now - this.lastHeard >= CONTROL_STALL_MS;
      if (silent !== this.isStalled) {
        this.isStalled = silent;
        this.emit('stalled', silent);
      }
    }, PING_MS / 4);
    this.timer.unref();
    if (role === 'dialer') this.write({ hello: { nodeId: localId, nonce: this.nonce } });
  }

  get open(): boolean {
    return this.authenticated && !this.socket.destroyed;
  }

  send(message: Uint8Array): boolean {
    if (!this.open) return false;
    this.write({ message });
    return true;
  }

  close(): void {
    this.fail('closed');
  }

  private write(frame: strand.IControlFrame): void {
    if (this.socket.destroyed) return;
    const body = strand.ControlFrame.encode(frame).finish();
    const head = Buffer.allocUnsafe(4);
    head.writeUInt32BE(body.length, 0);
    this.socket.write(Buffer.concat([head, body]));
  }

  private onData(chunk: Buffer): void {
    this.buffered = this.buffered.length ? Buffer.concat([this.buffered, chunk]) : chunk;
    while (this.buffered.length >= 4) {
      const len = this.buffered.readUInt32BE(0);
      if (len > MAX_CONTROL_FRAME) {
        this.fail(`frame of ${len} bytes is over the limit`);
        return;
      }
      if (this.buffered.length < 4 + len) return;
      const body = this.buffered.subarray(4, 4 + len);
      this.buffered = this.buffered.subarray(4 + len);
      let frame: strand.ControlFrame;
      try {
        frame = strand.ControlFrame.decode(body);
      } catch {
        this.fail('undecodable frame');
        return;
      }
      if (!this.onFrame(frame)) return;
    }
  }

  /** False once the channel has failed. */
  private onFrame(f: strand.ControlFrame): boolean {
    this.lastHeard = Date.now();
    if (this.isStalled) {
      this.isStalled = false;
      this.emit('stalled', false);
    }
    if (!this.authenticated) return this.handshake(f);
    if (f.body === 'ping') this.write({ pong: f.ping });
    else if (f.body === 'message') this.emit('message', f.message ?? new Uint8Array());
    else if (f.body !== 'pong') {
      this.fail(`unexpected ${f.body ?? 'empty'} frame`);
      return false;
    }
    return true;
  }

  private handshake(f: strand.ControlFrame): boolean {
    if (this.role === 'acceptor' && f.body === 'hello' && this.peerId === '') {
      const hello = f.hello!;
      if (!hello.nodeId || (hello.nonce?.length ?? 0) !== 16) return this.failed('bad hello');
      this.peerId = hello.nodeId;
      this.peerNonce = hello.nonce!;
      this.write({ hello: { nodeId: this.localId, nonce: this.nonce, proof: proof(this.key, 'acceptor', this.peerId, this.localId, this.peerNonce, this.nonce) } });
      return true;
    }
    if (this.role === 'acceptor' && f.body === 'proof' && this.peerId !== '') {
      if (!same(f.proof!.proof ?? new Uint8Array(), proof(this.key, 'dialer', this.peerId, this.localId, this.peerNonce, this.nonce))) return this.failed('bad proof');
      return this.authenticate();
    }
    if (this.role === 'dialer' && f.body === 'hello') {
      const hello = f.hello!;
      if (hello.nodeId !== this.peerId || (hello.nonce?.length ?? 0) !== 16) return this.failed('unexpected peer');
      if (!same(hello.proof ?? new Uint8Array(), proof(this.key, 'acceptor', this.localId, this.peerId, this.nonce, hello.nonce!))) return this.failed('bad proof');
      this.write({ proof: { proof: proof(this.key, 'dialer', this.localId, this.peerId, this.nonce, hello.nonce!) } });
      return this.authenticate();
    }
    return this.failed(`unexpected ${f.body ?? 'empty'} frame before authentication`);
  }

  private authenticate(): boolean {
    this.authenticated = true;
    this.emit('open');
    return true;
  }

  private failed(reason: string): boolean {
    this.fail(reason);
    return false;
  }

  private fail(reason: string): void {
    if (this.done) return;
    this.done = true;
    clearInterval(this.timer);
    this.authenticated = false;
    this.socket.destroy();
    this.emit('down', reason);
  }
}

export interface ControlLinkEvents {
  /** An authenticated channel to `peer` is up (dialed or accepted). */
  channel: [peer: string, channel: ControlChannel];
}

/**
 * This node's control links: a listener (port OS-chosen unless configured, advertised in
 * Redis) for the nodes that dial it, and dialers to the nodes it dials. Of two nodes, the one
 * with the lower id dials, so a pair has one connection.
 */
export class ControlLink extends EventEmitter<ControlLinkEvents> {
  private readonly key: Buffer;
  private readonly dialers = new Map<string, { host: string; port: number; timer: NodeJS.Timeout | null; channel: ControlChannel | null; backoff: number }>();
  private readonly accepted = new Set<ControlChannel>();
  private closed = false;

  private constructor(private readonly server: Server, readonly localId: string, secret: string) {
    super();
    this.key = controlKey(secret);
    server.on('connection', (socket) => {
      const channel = new ControlChannel(socket, 'acceptor', localId, this.key, '');
      this.accepted.add(channel);
      channel.once('open', () => this.emit('channel', channel.peerId, channel));
      channel.once('down', () => this.accepted.delete(channel));
    });
  }

  static async listen(localId: string, secret: string, host: string, port: number): Promise<ControlLink> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    return new ControlLink(server, localId, secret);
  }

  get port(): number {
    return (this.server.address() as { port: number }).port;
  }

  /** Whether this node dials `peer` (lower id dials). */
  dials(peer: string): boolean {
    return this.localId < peer;
  }

  /** Keeps a connection to `peer` up, dialing again after each drop. */
  connect(peer: string, host: string, port: number): void {
    if (this.closed || this.dialers.has(peer)) return;
    this.dialers.set(peer, { host, port, timer: null, channel: null, backoff: REDIAL_MIN_MS });
    this.dial(peer);
  }

  disconnect(peer: string): void {
    const d = this.dialers.get(peer);
    if (!d) return;
    this.dialers.delete(peer);
    if (d.timer) clearTimeout(d.timer);
    d.channel?.close();
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const peer of [...this.dialers.keys()]) this.disconnect(peer);
    for (const c of this.accepted) c.close();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private dial(peer: string): void {
    const d = this.dialers.get(peer);
    if (!d || this.closed) return;
    const socket = createConnection({ host: d.host, port: d.port });
    const channel = new ControlChannel(socket, 'dialer', this.localId, this.key, peer);
    d.channel = channel;
    channel.once('open', () => {
      d.backoff = REDIAL_MIN_MS;
      this.emit('channel', peer, channel);
    });
    channel.once('down', () => {
      if (this.dialers.get(peer) !== d) return;
      d.channel = null;
      d.timer = setTimeout(() => {
        d.timer = null;
        this.dial(peer);
      }, d.backoff);
      d.timer.unref();
      d.backoff = Math.min(d.backoff * 2, REDIAL_MAX_MS);
    });
  }
}
