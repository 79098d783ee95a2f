// Signal sessions whose WebSocket is on one node (the edge, wherever the load balancer sent the
// client) and whose room is on another (the home). The edge passes WebSocket messages through
// untouched; the home runs an ordinary SignalSession on a RelayedSocket. The client cannot tell:
// the edge upgrades only once the home has admitted the join, with the home's HTTP status
// otherwise.
import { randomBytes } from 'node:crypto';
import type { strand } from '../../proto/index.js';
import type { Logger } from '../logger.js';
import { HttpError, type SignalGateway, type SignalPath, isSignalPath } from '../signal/signal-gateway.js';
import type { SignalSession, SignalSocket } from '../signal/signal-session.js';
import type { ClusterBus } from './cluster-bus.js';
import type { SignalRelayConfig } from './cluster-config.js';
import { RelayStream } from './relay-stream.js';

/** How long the edge waits for the home to admit or refuse a join (LiveKit: 3 s). */
const ADMISSION_TIMEOUT_MS = 3000;
/** WebSocket close code the edge uses when its home stops answering. */
const CLOSE_HOME_LOST = 1011;

/** The client's WebSocket, as the edge holds it. */
export interface ClientSocket {
  send(data: Uint8Array | string, isBinary: boolean): number;
  end(code: number, reason: string): void;
}

export type Admission = { ok: true } | { ok: false; status: number; reason: string };

/** The edge's half: a client's WebSocket here, its session on `home`. */
export class EdgeSession {
  private socket: ClientSocket | null = null;
  private early: Array<[Uint8Array, boolean]> = [];
  private settle: ((a: Admission) => void) | null = null;
  readonly admission: Promise<Admission>;
  ended = false;

  constructor(readonly home: string, readonly stream: RelayStream, private readonly release: () => void) {
    this.admission = new Promise((resolve) => { this.settle = resolve; });
    setTimeout(() => this.admitted({ ok: false, status: 503, reason: 'the room\'s node did not answer' }), ADMISSION_TIMEOUT_MS).unref();
  }

  /** The upgrade happened: frames the home sent meanwhile go out first. */
  attach(socket: ClientSocket): void {
    if (this.ended) {
      socket.end(CLOSE_HOME_LOST, 'signal relay ended');
      return;
    }
    this.socket = socket;
    for (const [data, binary] of this.early) socket.send(data, binary);
    this.early = [];
  }

  fromClient(data: ArrayBuffer, isBinary: boolean): void {
    // uWebSockets.js reuses `data` after the callback: copy.
    this.stream.send({ frame: { data: new Uint8Array(data.slice(0)), binary: isBinary } });
  }

  /** The client's socket closed (or the upgrade never happened). */
  clientClosed(code: number): void {
    if (this.ended) return;
    this.ended = true;
    this.stream.send({ close: { code, reason: 'client closed' } });
    this.release();
  }

  /** The home is gone or stopped answering: the client reconnects. */
  homeLost(reason: string): void {
    this.admitted({ ok: false, status: 503, reason });
    if (this.ended) return;
    this.ended = true;
    this.stream.close();
    this.release();
    try {
      this.socket?.end(CLOSE_HOME_LOST, reason);
    } catch {
      // already closed
    }
  }

  deliver(p: strand.RelayPacket): void {
    // After the client's socket closed, what the home still sends has nowhere to go.
    if (this.ended) return;
    if (p.accept) this.admitted({ ok: true });
    else if (p.refuse) {
      this.admitted({ ok: false, status: p.refuse.status || 500, reason: p.refuse.reason ?? '' });
      this.ended = true;
      this.release();
    } else if (p.frame) {
      const data = p.frame.data ?? new Uint8Array();
      const binary = p.frame.binary ?? false;
      if (this.socket) this.socket.send(data, binary);
      else this.early.push([data, binary]);
    } else if (p.close) {
      this.ended = true;
      this.release();
      try {
        this.socket?.end(p.close.code || 1000, p.close.reason ?? '');
      } catch {
        // already closed
      }
    }
  }

  private admitted(a: Admission): void {
    const settle = this.settle;
    this.settle = null;
    settle?.(a);
  }
}

/** The home's half: looks like a WebSocket to the SignalSession that serves the client. */
class RelayedSocket implements SignalSocket {
  session: SignalSession | null = null;
  ended = false;

  constructor(readonly edge: string, readonly stream: RelayStream, private readonly release: () => void) {}

  send(data: Uint8Array | string, isBinary: boolean): number {
    if (this.ended) return 0;
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    this.stream.send({ frame: { data: bytes, binary: isBinary } });
    return 1;
  }

  end(code: number, reason: string): void {
    if (this.ended) return;
    this.ended = true;
    this.stream.send({ close: { code, reason } });
    // Kept until the edge acknowledges the close, or the stream gives up. As with a WebSocket
    // this node closes itself, the session then hears that its socket is closed.
    setImmediate(() => this.session?.onClose());
  }

  getBufferedAmount(): number {
    return this.stream.bufferedBytes;
  }

  /** The client went away (its socket on the edge closed, or the edge itself). */
  lost(): void {
    this.ended = true;
    this.stream.close();
    this.release();
    this.session?.onClose();
  }

  deliver(p: strand.RelayPacket): void {
    if (p.frame) this.session?.onFrame(toArrayBuffer(p.frame.data ?? new Uint8Array()), p.frame.binary ?? false);
    else if (p.close) this.lost();
  }
}

function toArrayBuffer(data: Uint8Array): ArrayBuffer {
  return data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer;
}

export class SignalRelay {
  private readonly edges = new Map<string, EdgeSession>();
  /** Keyed by `<edge node> <session id>`. */
  private readonly homes = new Map<string, RelayedSocket>();
  /** A draining node admits no relayed joins: the edge places the room again. */
  draining = false;
  /**
   * Called before admitting a client this node serves in a room whose home is another node
   * (cascading): opens this node's share of the room.
   */
  prepareShard: ((room: string, home: string) => Promise<void>) | null = null;

  constructor(
    private readonly bus: ClusterBus,
    private readonly cfg: SignalRelayConfig,
    private readonly gateway: SignalGateway,
    private readonly log: Logger,
  ) {}

  /**
   * Asks `home` (the node serving the client) to admit a signal connection that reached this
   * node; await `admission`. `roomHome`: the room's home, when it is not that node.
   */
  openEdge(home: string, path: SignalPath, query: string, token: string, roomHome = ''): EdgeSession {
    const id = `CO_${randomBytes(9).toString('base64url')}`;
    this.log.debug({ home, session: id, path }, 'relaying a signal connection to the room\'s node');
    let edge!: EdgeSession;
    const stream = this.stream(home, id, (p) => edge.deliver(p), () => edge.homeLost('the room\'s node stopped answering'));
    // Ended, the session stays here until its last messages are acknowledged: the home's acks
    // must still reach its stream (else it resends until retry_timeout).
    edge = new EdgeSession(home, stream, () => this.closeWhenIdle(stream, () => this.edges.delete(id)));
    this.edges.set(id, edge);
    stream.send({ open: { path, query, token, home: roomHome } });
    return edge;
  }

  onPacket(from: string, p: strand.RelayPacket): void {
    const edge = this.edges.get(p.session);
    if (edge && edge.home === from) {
      if (p.seq === 0 && p.close) edge.homeLost(p.close.reason || 'relay reset');
      else edge.stream.receive(p);
      return;
    }
    const key = `${from} ${p.session}`;
    const home = this.homes.get(key);
    if (home) {
      if (p.seq === 0 && p.close) home.lost();
      else home.stream.receive(p);
      // The session closed its side and the edge has acknowledged it: nothing is left.
      if (home.ended && home.stream.idle && !home.stream.closed) {
        home.stream.close();
        this.homes.delete(key);
      }
      return;
    }
    if (p.open && p.seq === 1) {
      this.openHome(from, p);
      return;
    }
    if (p.seq > 0) {
      // A session this node no longer knows: a retransmitted close is acknowledged; anything
      // else resets the other side.
      if (p.close) this.bus.send(from, { relay: { session: p.session, seq: 0, ack: p.seq } });
      else this.bus.send(from, { relay: { session: p.session, seq: 0, close: { code: CLOSE_HOME_LOST, reason: 'unknown relay session' } } });
    }
  }

  /** After a registry refresh: sessions through nodes that are no longer available end. */
  onAvailable(available: ReadonlySet<string>): void {
    for (const edge of [...this.edges.values()]) {
      if (!edge.ended && !available.has(edge.home)) {
        this.log.info({ home: edge.home }, 'room node unavailable: closing its relayed client');
        edge.homeLost('the room\'s node is unavailable');
      }
    }
    for (const home of [...this.homes.values()]) {
      if (!available.has(home.edge)) home.lost();
    }
  }

  /**
   * The control link to `node` closed (a killed node closes its connections at once): clients
   * relayed to it reconnect now, through a node that is alive, instead of after its registry
   * entry ages out (5 s or more).
   */
  nodeDown(node: string): void {
    for (const edge of [...this.edges.values()]) {
      if (edge.ended || edge.home !== node) continue;
      this.log.info({ home: node }, 'the link to the client\'s node closed: closing its relayed client');
      edge.homeLost('the node serving the client is gone');
    }
  }

  /** Resolves once everything sent home-side is acknowledged (a draining node's last leaves), or after `ms`. */
  async flushed(ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline && [...this.homes.values()].some((h) => !h.stream.idle)) {
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** This node stops: its clients' sockets close, so they resume through another node. */
  close(): void {
    for (const edge of [...this.edges.values()]) {
      edge.homeLost('server shutting down');
      edge.stream.close();
    }
    this.edges.clear();
    for (const home of [...this.homes.values()]) home.lost();
  }

  private openHome(from: string, p: strand.RelayPacket): void {
    const key = `${from} ${p.session}`;
    let socket!: RelayedSocket;
    const stream = this.stream(from, p.session, (q) => {
      if (q.open) void this.admit(socket, q.open);
      else socket.deliver(q);
    }, () => socket.lost());
    socket = new RelayedSocket(from, stream, () => this.homes.delete(key));
    this.homes.set(key, socket);
    stream.receive(p);
  }

  private async admit(socket: RelayedSocket, open: strand.IRelayOpen): Promise<void> {
    const path = open.path ?? '';
    try {
      if (!isSignalPath(path)) throw new HttpError(404, 'not a signal path');
      if (this.draining) throw new HttpError(503, 'the room\'s node is shutting down');
      if (open.home && this.prepareShard) {
        const room = this.gateway.authenticate(open.token ?? '').video.room ?? '';
        await this.prepareShard(room, open.home).catch((err: unknown) => {
          throw new HttpError(503, (err as Error).message);
        });
      }
      const admitted = this.gateway.admit(path, new URLSearchParams(open.query ?? ''), open.token ?? '');
      socket.stream.send({ accept: {} });
      socket.session = this.gateway.open(socket, admitted);
    } catch (err) {
      const status = err instanceof HttpError ? err.status : 500;
      if (status === 500) this.log.error({ err }, 'relayed signal connection failed');
      socket.stream.send({ refuse: { status, reason: (err as Error).message } });
      socket.ended = true;
      this.closeWhenIdle(socket.stream, () => this.homes.delete(`${socket.edge} ${socket.stream.session}`));
    }
  }

  private stream(peer: string, session: string, deliver: (p: strand.RelayPacket) => void, onTimeout: () => void): RelayStream {
    return new RelayStream(session, this.cfg, (packet) => this.bus.send(peer, { relay: packet }), deliver, onTimeout);
  }

  /** Keeps a finished stream until its last messages are acknowledged (retried until then). */
  private closeWhenIdle(stream: RelayStream, then?: () => void): void {
    const started = Date.now();
    const check = () => {
      if (stream.idle || stream.closed || Date.now() - started > this.cfg.retryTimeoutMs) {
        stream.close();
        then?.();
        return;
      }
      setTimeout(check, 100).unref();
    };
    check();
  }
}
