// Everything one ingress worker owns: the RTMP listener (on the worker the main thread asks to
// listen), the encoders' connections, the running sessions and the rings to the media workers
// their RTP goes to. It runs in its own Piscina pool: transcoding happens in ffmpeg children,
// and what is left here (RTMP parsing, moving packets into rings) never takes time from
// forwarding.
import { createServer, type Server, type Socket } from 'node:net';
import type { MessagePort } from 'node:worker_threads';
import type { RingWriter } from '../ring-channel.js';
import { RingSet, type PeerRecordHandler } from '../ring-set.js';
import type { IngressCommand, IngressEvent, IngressResults, IngressWorkerStats } from './ingress-protocol.js';
import { IngressSession, type SessionHost } from './ingress-session.js';
import { RtmpConnection } from './rtmp/rtmp-connection.js';

/** The reverse rings (keyframe requests, room data: nothing an ingress uses) are emptied this often, ms. */
const REVERSE_DRAIN_MS = 500;
const IGNORE: PeerRecordHandler = { from: -1, onRecord: () => undefined };
const IGNORE_ERROR = (): void => undefined;

interface Connection {
  rtmp: RtmpConnection;
  session: IngressSession | null;
}

export class IngressWorker implements SessionHost {
  private slot = -1;
  private events: MessagePort | null = null;
  private readonly rings = new RingSet();
  private readonly writers = this.rings.writers;
  private drainTimer: NodeJS.Timeout | null = null;
  private server: Server | null = null;
  private nextConnId = 1;
  private readonly connections = new Map<number, Connection>();
  private readonly sessions = new Map<string, IngressSession>();
  private relayIds = 1;
  private finishedPackets = 0;

  async handle(cmd: IngressCommand): Promise<IngressResults[IngressCommand['op']]> {
    switch (cmd.op) {
      case 'init':
        this.slot = cmd.slot;
        this.events = cmd.events;
        return { slot: cmd.slot };
      case 'attachRing':
        this.rings.attach(cmd.mediaSlot, cmd.out, cmd.mediaDoorbell, cmd.inbound, false);
        this.drainTimer ??= setInterval(() => this.rings.drain(IGNORE, IGNORE_ERROR), REVERSE_DRAIN_MS);
        return null;
      case 'listenRtmp': return this.listen(cmd.host, cmd.port);
      case 'acceptRtmp': {
        const c = this.connections.get(cmd.connId);
        if (!c) throw new Error(`RTMP connection ${cmd.connId} is gone`);
        if (this.sessions.has(cmd.job.ingressId)) throw new Error(`ingress ${cmd.job.ingressId} is already running`);
        const session = new IngressSession(cmd.job, { kind: 'pipe' }, this);
        session.flowControl = c.rtmp;
        c.session = session;
        this.sessions.set(session.ingressId, session);
        c.rtmp.accept();
        return null;
      }
      case 'rejectRtmp':
        this.connections.get(cmd.connId)?.rtmp.reject(cmd.reason);
        return null;
      case 'startUrl': {
        if (this.sessions.has(cmd.job.ingressId)) throw new Error(`ingress ${cmd.job.ingressId} is already running`);
        const session = new IngressSession(cmd.job, { kind: 'url', url: cmd.url }, this);
        this.sessions.set(session.ingressId, session);
        void session.startUrl();
        return null;
      }
      case 'stop': await this.sessions.get(cmd.ingressId)?.stop(); return null;
      case 'stats': return this.stats();
      case 'shutdown': {
        this.server?.close();
        for (const c of this.connections.values()) c.rtmp.close('the server is shutting down');
        await Promise.allSettled([...this.sessions.values()].map((s) => s.stop()));
        if (this.drainTimer) clearInterval(this.drainTimer);
        return null;
      }
    }
  }

  private listen(host: string, port: number): Promise<{ port: number }> {
    if (this.server) throw new Error('the RTMP listener is already open');
    const server = createServer((socket) => this.accept(socket));
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', (err) => {
        this.server = null;
        reject(new Error(`cannot listen for RTMP on ${host}:${port}: ${err.message}`));
      });
      server.listen(port, host, () => {
        server.on('error', (err) => this.emit({ ev: 'error', where: 'ingress.rtmp', message: err.message }));
        const addr = server.address();
        resolve({ port: typeof addr === 'object' && addr ? addr.port : port });
      });
    });
  }

  private accept(socket: Socket): void {
    const connId = this.nextConnId++;
    const entry: Connection = {
      session: null,
      rtmp: new RtmpConnection(socket, {
        onPublish: (app, streamName) => {
          // The key is the last path segment (OBS: "server" + "stream key"); a query is not part of it.
          const path = `${app}/${streamName}`.split('?')[0]!;
          const streamKey = path.slice(path.lastIndexOf('/') + 1);
          this.emit({ ev: 'publish', connId, app, streamKey, remote: entry.rtmp.remote });
        },
        onMedia: (type, timestamp, payload) => entry.session?.onMedia(type, timestamp, payload),
        onClose: (reason) => {
          this.connections.delete(connId);
          entry.session?.inputEnded();
          this.emit({ ev: 'connectionClosed', connId, reason });
        },
      }),
    };
    this.connections.set(connId, entry);
  }

  writerTo(mediaSlot: number): RingWriter {
    const w = this.writers.get(mediaSlot);
    if (!w) throw new Error(`no ring to media worker ${mediaSlot}`);
    return w;
  }

  nextRelayId(): number {
    return this.relayIds++;
  }

  forget(session: IngressSession): void {
    this.finishedPackets += session.packetsOut;
    if (this.sessions.get(session.ingressId) === session) this.sessions.delete(session.ingressId);
    for (const [id, c] of this.connections) {
      if (c.session === session) {
        c.session = null;
        c.rtmp.close('the ingress ended');
        this.connections.delete(id);
      }
    }
  }

  emit(e: IngressEvent): void {
    this.events?.postMessage(e);
  }

  private stats(): IngressWorkerStats {
    let packetsOut = this.finishedPackets;
    for (const s of this.sessions.values()) packetsOut += s.packetsOut;
    return { slot: this.slot, sessions: this.sessions.size, rtmpConnections: this.connections.size, packetsOut, ringDrops: this.rings.dropped };
  }
}
