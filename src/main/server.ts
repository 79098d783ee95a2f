// The main thread's uWebSockets.js app: routes only, delegating to signal sessions, rooms and
// (later) the Twirp API. It never touches RTP.
import { createRequire } from 'node:module';
import type * as UWS from 'uWebSockets.js';
import { livekit } from '../proto/index.js';
import { permissionsFromGrant, type ClaimGrants } from './auth/grants.js';
import { TokenVerifier } from './auth/token-verifier.js';
import type { JoinPlacement } from './cascade/cascade.js';
import { Cluster } from './cluster/cluster.js';
import { NoNodeError } from './cluster/room-placement.js';
import type { EdgeSession } from './cluster/signal-relay.js';
import type { StrandConfig } from './config.js';
import type { Logger } from './logger.js';
import { registerEgressService } from './api/egress-service.js';
import { registerIngressService } from './api/ingress-service.js';
import { registerRoomService } from './api/room-service.js';
import { EgressManager } from './egress/egress-manager.js';
import { EgressPool } from './egress/egress-pool.js';
import { IngressManager } from './ingress/ingress-manager.js';
import { IngressPool } from './ingress/ingress-pool.js';
import { attachWhip } from './ingress/whip-endpoint.js';
import { TwirpRouter } from './api/twirp.js';
import { anyMethod, getAndHead, jsonAnswer, oversizedRequest, reply, replyWhenSettled, setRequestHeadersLimit } from './http.js';
import { MediaPool } from './media-pool.js';
import { DashboardFeed } from './dashboard/dashboard-feed.js';
import { attachDashboard } from './dashboard/dashboard-routes.js';
import { Metrics } from './metrics/metrics.js';
import { newId } from './rooms/ids.js';
import { PROTOCOL_VERSION } from './rooms/room.js';
import { RoomManager } from './rooms/room-manager.js';
import { RoomObservers } from './rooms/room-observer.js';
import { LmdbStore } from './store/lmdb-store.js';
import { recoverState } from './store/recovery.js';
import { StoreWriter } from './store/store-writer.js';
import { WebhookEvents } from './webhook/webhook-events.js';
import { WebhookNotifier } from './webhook/webhook-notifier.js';
import { HttpError, SignalGateway, type Admitted, type SignalPath } from './signal/signal-gateway.js';
import type { SignalSession } from './signal/signal-session.js';
import { loadUws } from './uws-loader.js';

const require = createRequire(import.meta.url);
const { version: STRAND_VERSION } = require('../../../package.json') as { version: string };

/** A signal socket served here (`admitted`), or relayed to the room's node (`edge`). */
interface SocketData {
  admitted?: Admitted;
  session?: SignalSession;
  edge?: EdgeSession;
}

export interface RunningServer {
  port: number;
  /** Where /metrics is also served (prometheus.port), or 0. */
  prometheusPort: number;
  rooms: RoomManager;
  pool: MediaPool;
  /** Null on a single node. */
  cluster: Cluster | null;
  /**
   * Stops taking new rooms (GET / answers 503 from now on) and resolves once this node's
   * rooms are empty, or after shutdown_timeout; with `shutdown.drain`, participants are told to
   * reconnect first. close() afterwards finishes the stop.
   */
  drain(): Promise<void>;
  close(): Promise<void>;
}

export interface ServerHooks {
  /** An admin asked this node to drain (POST /drain, `strand drain`): the process stops as on SIGTERM. */
  drainRequested?(): void;
}

function bearerToken(req: UWS.HttpRequest, query: URLSearchParams): string {
  const header = req.getHeader('authorization');
  if (header.toLowerCase().startsWith('bearer ')) return header.slice(7).trim();
  return query.get('access_token') ?? '';
}

export async function startServer(cfg: StrandConfig, log: Logger, hooks: ServerHooks = {}): Promise<RunningServer> {
  const verifier = new TokenVerifier(cfg.keys);
  const nodeId = newId('ND_');
  let store: LmdbStore;
  try {
    store = new LmdbStore(cfg.storePath);
  } catch (err) {
    throw new Error(`cannot open the store at ${cfg.storePath}: ${(err as Error).message}`);
  }
  let rooms!: RoomManager;
  const pool = new MediaPool(
    {
      workers: cfg.rtc.workers, udpPort: cfg.rtc.udpPort, bindAddress: cfg.rtc.nodeIp,
      iceServers: [...cfg.rtc.stunServers.map((s) => `stun:${s}`)], ringBytes: cfg.rtc.ringBufferSize,
      youngGenerationMb: cfg.rtc.workerYoungGenerationSize,
      limits: {
        dataPacketsPerSecond: cfg.limit.dataPacketsPerSecond, dataBytesPerSecond: cfg.limit.dataBytesPerSecond, mediaBytesPerSecond: cfg.limit.mediaBytesPerSecond,
      },
    },
    log,
    (slot, e) => {
      if (e.ev === 'fault') metrics.mediaWorkerFault(slot);
      rooms?.onMediaEvent(slot, e);
    },
  );
  pool.onWorkerReplaced((slot) => {
    metrics.mediaWorkerRestart(slot);
    rooms?.onWorkerReplaced(slot);
  });
  try {
    await pool.start();
  } catch (err) {
    await store.close();
    throw err;
  }
  let egress!: EgressManager;
  const egressPool = new EgressPool(cfg.egress.workers, cfg.rtc.ringBufferSize, pool, log, (slot, e) => egress?.onWorkerEvent(slot, e));
  try {
    await egressPool.start();
  } catch (err) {
    await pool.stop();
    await store.close();
    throw err;
  }
  let ingress: IngressManager | null = null;
  const ingressPool = cfg.ingress ? new IngressPool(cfg.ingress.workers, cfg.rtc.ringBufferSize, pool, log, (slot, e) => ingress?.onWorkerEvent(slot, e)) : null;
  /** The URLs IngressInfo hands out, known once the listeners are bound. */
  const ingressUrls = { rtmpBaseUrl: '', whipBaseUrl: '' };
  if (ingressPool && cfg.ingress) {
    try {
      await ingressPool.start();
      const rtmp = new URL(cfg.ingress.rtmpBaseUrl);
      const { port: rtmpPort } = await ingressPool.run(0, { op: 'listenRtmp', host: rtmp.hostname, port: Number(rtmp.port || 1935) });
      ingressUrls.rtmpBaseUrl = `rtmp://${rtmp.hostname}:${rtmpPort}${rtmp.pathname === '/' ? '' : rtmp.pathname}`;
      log.info({ url: ingressUrls.rtmpBaseUrl }, 'RTMP ingress listening');
    } catch (err) {
      await ingressPool.stop();
      await egressPool.stop();
      await pool.stop();
      await store.close();
      throw err;
    }
  }
  const iceServers: livekit.IICEServer[] = [
    ...(cfg.rtc.stunServers.length ? [{ urls: cfg.rtc.stunServers.map((s) => `stun:${s}`) }] : []),
    ...cfg.rtc.turnServers.map((t) => ({ urls: t.urls, username: t.username ?? '', credential: t.credential ?? '' })),
  ];
  const observers = new RoomObservers();
  rooms = new RoomManager(cfg, pool, {
    pool, log, iceServers, observers,
    serverInfo: { edition: livekit.ServerInfo.Edition.Standard, version: STRAND_VERSION, protocol: PROTOCOL_VERSION, nodeId },
  }, log);
  const metrics = new Metrics(nodeId, () => rooms.rooms.values(), pool);
  const notifier = new WebhookNotifier(store, {
    urls: cfg.webhook.urls, apiKey: cfg.webhook.apiKey, keys: cfg.keys,
    maxAgeSeconds: cfg.webhook.maxAgeSeconds, requestTimeoutMs: cfg.webhook.requestTimeoutMs,
  }, log);
  const webhooks = new WebhookEvents(notifier);
  egress = new EgressManager({
    outputDir: cfg.egress.fileOutputDir, maxConcurrent: cfg.egress.maxConcurrent, x264Preset: cfg.egress.x264Preset,
  }, rooms, egressPool, pool, store, notifier, log);
  metrics.observeEgress(egress);
  if (ingressPool && cfg.ingress) {
    ingress = new IngressManager({
      maxConcurrent: cfg.ingress.maxConcurrent, x264Preset: cfg.ingress.x264Preset, urls: () => ingressUrls,
      // The cluster starts below; sessions come only once the server listens.
      claimRoom: cfg.redis ? (room) => cluster!.claimRoom(room) : undefined,
    },
      rooms, ingressPool, pool, store, notifier, log);
    metrics.observeIngress(ingress);
  }
  observers.add(new StoreWriter(store));
  observers.add(webhooks);
  observers.add(metrics);
  observers.add(egress);
  if (ingress) observers.add(ingress);
  // Undelivered events of an earlier run first, then what recovery itself reports.
  notifier.start();
  recoverState(store, rooms, webhooks, log);
  egress.recover();
  ingress?.recover();
  // In the background: it need not hold up the start (a missing binary answers at once).
  void egress.checkFfmpeg();

  /** A start that fails past this point gives back what it had started. */
  const releaseStarted = async () => {
    notifier.close();
    await ingressPool?.stop();
    await egressPool.stop();
    await pool.stop();
    await store.close();
  };
  const gateway = new SignalGateway(cfg, verifier, rooms, log, metrics);
  let twirp!: TwirpRouter;
  let cluster: Cluster | null = null;
  if (cfg.redis) {
    try {
      cluster = await Cluster.start(cfg, {
        nodeId, rooms, gateway, log, media: pool,
        runApiCall: (path, authorization, request) => twirp.callForwarded(path, authorization, request),
      });
    } catch (err) {
      await releaseStarted();
      throw err;
    }
    observers.add(cluster.state);
    observers.add(cluster.cascade);
    metrics.observeCascade(cluster.cascade);
  }

  setRequestHeadersLimit(cfg.limit.maxRequestHeadersSize);
  const uws = loadUws(2 * cfg.limit.maxRequestHeadersSize);
  const app = uws.App();

  /** A signal WebSocket route: v0 (/rtc) and v1 (/rtc/v1) differ only in how the join is asked for. */
  const signalRoute = (path: SignalPath) => app.ws<SocketData>(path, {
    compression: uws.DISABLED,
    maxPayloadLength: cfg.limit.signalMessageSizeLimit,
    // Clients ping every 5 s; a socket silent for longer than the ping timeout is dead.
    idleTimeout: 20,
    maxBackpressure: 16 * 1024 * 1024,
    upgrade: (res, req, context) => {
      const oversized = oversizedRequest(req);
      if (oversized) {
        reply(res, 431, oversized, 'text/plain', true);
        return;
      }
      const rawQuery = req.getQuery() ?? '';
      const query = new URLSearchParams(rawQuery);
      const token = bearerToken(req, query);
      const headers = [req.getHeader('sec-websocket-key'), req.getHeader('sec-websocket-protocol'), req.getHeader('sec-websocket-extensions')] as const;
      const refuse = (err: unknown) => {
        const status = err instanceof HttpError ? err.status : 500;
        log.info({ status, reason: (err as Error).message, path }, 'signal connection refused');
        reply(res, status, (err as Error).message);
      };
      /**
       * The room is on this node: admitted and upgraded here, or refused.
       *
       * Never inside res.cork, not even after an await (where uWebSockets.js asks for it and
       * prints a warning without it): with this build, an upgrade made inside cork now and
       * then left a later WebSocket of the node closed (1006) a few ms after its own upgrade
       * (test/integration/cluster-signal.test.ts failed about 1 run in 5; uncorked, 0 in 34),
       * and in the synchronous handler, which is corked already, it delayed resumes by 3 s.
       */
      const serveHere = () => {
        let admitted: Admitted;
        try {
          admitted = gateway.admit(path, query, token);
        } catch (err) {
          refuse(err);
          return;
        }
        res.upgrade<SocketData>({ admitted }, ...headers, context);
      };
      if (!cluster) {
        serveHere();
        return;
      }
      // In a cluster, the request and token are checked here; the room's node, wherever it
      // is, admits the join itself.
      let claims: ClaimGrants;
      try {
        gateway.connectRequest(path, query);
        claims = gateway.authenticate(token);
      } catch (err) {
        refuse(err);
        return;
      }
      const room = claims.video.room ?? '';
      let aborted = false;
      res.onAborted(() => { aborted = true; });
      const c = cluster;
      void (async () => {
        let placed: JoinPlacement;
        try {
          placed = await c.placeJoin(room, claims.identity, permissionsFromGrant(claims.video).canSubscribe);
          // This node serves the client in a room whose home is elsewhere: its share opens first.
          if (placed.node === nodeId) await c.cascade.openShard(room, placed.home);
        } catch (err) {
          if (!aborted) refuse(new HttpError(503, err instanceof NoNodeError ? err.message : `cluster state unavailable: ${(err as Error).message}`));
          return;
        }
        if (aborted) return;
        if (placed.node === nodeId) {
          serveHere();
          return;
        }
        const edge = c.relay.openEdge(placed.node, path, rawQuery, token, placed.home === placed.node ? '' : placed.home);
        const admission = await edge.admission;
        if (aborted) {
          edge.clientClosed(1006);
          return;
        }
        if (!admission.ok) {
          edge.clientClosed(1006); // a late admission on the home ends there too
          refuse(new HttpError(admission.status, admission.reason));
          return;
        }
        res.upgrade<SocketData>({ edge }, ...headers, context); // uncorked: see serveHere
      })();
    },
    open: (ws) => {
      const data = ws.getUserData();
      if (data.edge) data.edge.attach(ws);
      else if (data.admitted) data.session = gateway.open(ws, data.admitted);
    },
    message: (ws, message, isBinary) => {
      const data = ws.getUserData();
      if (data.edge) data.edge.fromClient(message, isBinary);
      else data.session?.onFrame(message, isBinary);
    },
    close: (ws, code, message) => {
      log.debug({ code, reason: Buffer.from(message).toString() }, 'signal socket closed');
      const data = ws.getUserData();
      data.edge?.clientClosed(code);
      data.session?.onClose();
    },
  });
  signalRoute('/rtc');
  signalRoute('/rtc/v1');

  /** /rtc/validate and /rtc/v1/validate: why a signal connection would be refused, as LiveKit's. */
  const validate = (res: UWS.HttpResponse, req: UWS.HttpRequest) => {
    try {
      // In a cluster the room may be elsewhere: only the token is checked here.
      const token = bearerToken(req, new URLSearchParams(req.getQuery() ?? ''));
      if (cluster) gateway.authenticate(token);
      else gateway.authorizeJoin(token);
      reply(res, 200, 'success');
    } catch (err) {
      reply(res, err instanceof HttpError ? err.status : 500, (err as Error).message);
    }
  };
  getAndHead(app, '/rtc/validate', validate);
  getAndHead(app, '/rtc/v1/validate', validate);

  // Health, and livekit-client's reconnect-when-back-online check (HEAD, needs a 2xx). In a
  // cluster, 406 while this node's stats do not reach Redis (LiveKit's rule).
  let draining: Promise<void> | null = null;
  app.any('/', anyMethod((res) => {
    // A draining node answers 503, so that load balancers stop sending it clients.
    if (draining) reply(res, 503, 'Draining');
    else if (cluster && !cluster.registry.fresh) reply(res, 406, 'Not Ready');
    else reply(res, 200, 'OK');
  }));
  // `strand drain`: an admin's token (roomCreate, as for DeleteRoom) makes this node drain and stop.
  app.post('/drain', (res, req) => {
    try {
      const claims = verifier.verify(bearerToken(req, new URLSearchParams(req.getQuery() ?? '')));
      if (!claims.video.roomCreate) throw new HttpError(403, 'the token lacks the roomCreate grant');
    } catch (err) {
      reply(res, err instanceof HttpError ? err.status : (err as { status?: number }).status ?? 401, (err as Error).message);
      return;
    }
    reply(res, 202, 'draining');
    log.info('drain requested through the API');
    setImmediate(() => hooks.drainRequested?.());
  });

  twirp = new TwirpRouter({
    verifier, maxBodyBytes: cfg.limit.maxApiRequestBodySize, log, forwarder: cluster?.twirp,
    onResult: (service, method, status, code) => metrics.twirpResult(service, method, status, code),
  });
  registerRoomService(twirp, rooms, cfg, egress, cluster?.state ?? null);
  registerEgressService(twirp, egress);
  registerIngressService(twirp, ingress);
  twirp.attach(app);

  // WHIP ingress: on the main port under /w, or where ingress.whip_base_url points.
  const whip = cfg.ingress?.whipBaseUrl ? new URL(cfg.ingress.whipBaseUrl) : null;
  const whipPath = (whip?.pathname ?? '/w').replace(/\/+$/, '') || '/w';
  let whipApp: UWS.TemplatedApp | null = null;
  if (ingress) {
    const ownPort = whip !== null && Number(whip.port || (whip.protocol === 'https:' ? 443 : 80)) !== cfg.port;
    whipApp = ownPort ? uws.App() : app;
    attachWhip(whipApp, whipPath, ingress, log);
    if (ownPort) whipApp.any('/*', anyMethod((res) => reply(res, 404, 'not found')));
  }

  const serveMetrics = (res: UWS.HttpResponse) => {
    replyWhenSettled(res, metrics.text().then((body) => ({ status: 200, body, contentType: metrics.contentType })));
  };
  getAndHead(app, '/metrics', serveMetrics);
  let metricsApp: UWS.TemplatedApp | null = null;
  if (cfg.prometheusPort > 0) {
    metricsApp = uws.App();
    getAndHead(metricsApp, '/metrics', serveMetrics);
    metricsApp.any('/*', anyMethod((res) => reply(res, 404, 'not found')));
  }

  if (cfg.development) {
    app.get('/debug/rooms', (res) => {
      const body = [...rooms.rooms.values()].map((r) => ({
        name: r.name, sid: r.sid, worker: r.slot,
        participants: [...r.participants.values()].map((p) => ({ sid: p.sid, identity: p.identity, worker: p.slot, tracks: [...p.tracks.keys()] })),
      }));
      reply(res, 200, JSON.stringify(body), 'application/json');
    });
  }

  if (cfg.development) {
    // Counters of every media worker (current downtracks only); metrics get their own endpoint.
    app.get('/debug/stats', (res) => {
      replyWhenSettled(res, Promise.all(Array.from({ length: pool.size }, (_, slot) => pool.run(slot, { op: 'stats' }))).then(jsonAnswer));
    });
    // Memory of the process and of each thread (the churn benchmark; collected first when node
    // runs with --expose-gc).
    app.get('/debug/memory', (res) => {
      (globalThis as { gc?: () => void }).gc?.();
      const main = process.memoryUsage();
      replyWhenSettled(res, Promise.all(Array.from({ length: pool.size }, (_, slot) => pool.run(slot, { op: 'memory' }))).then((workers) => jsonAnswer({
        rssBytes: process.memoryUsage.rss(), mainHeapUsedBytes: main.heapUsed, externalBytes: main.external, arrayBuffersBytes: main.arrayBuffers, rooms: rooms.rooms.size, workers,
      })));
    });
    // Test hook: media worker N throws from a timer, or exits with ?mode=exit (the worker itself
    // also needs the variable).
    if (process.env.STRAND_TEST_WORKER_FAULT === '1') {
      app.post('/debug/worker-fault', (res, req) => {
        const query = new URLSearchParams(req.getQuery() ?? '');
        const slot = Number(query.get('worker') ?? 0);
        const mode = query.get('mode') === 'exit' ? 'exit' : 'throw';
        replyWhenSettled(res, pool.run(slot, { op: 'testFault', mode }).then(() => ({ status: 202, body: 'fault scheduled' })));
      });
    }
    // The node link worker's counters and thread id (benchmarks of rooms spanning nodes).
    app.get('/debug/link', (res) => {
      if (!cluster) {
        reply(res, 404, 'not a cluster node');
        return;
      }
      replyWhenSettled(res, cluster.cascade.linkStats().then(jsonAnswer));
    });
  }

  const closeDashboard = attachDashboard(app, new DashboardFeed({
    rooms, pool, egressActive: () => egress.activeByKind(), ingressActive: ingress ? () => ingress!.activeByInput() : undefined,
  }), verifier, cfg.development, log);

  app.any('/*', anyMethod((res) => reply(res, 404, 'not found')));

  const listenSockets: UWS.us_listen_socket[] = [];
  /** ListenOptions.LIBUS_LISTEN_EXCLUSIVE_PORT (a declared enum: not in the module at run time under that name). */
  const LISTEN_EXCLUSIVE_PORT = 1;
  /**
   * Listens with the port to itself. uWebSockets.js otherwise sets SO_REUSEPORT, and a second
   * process on the same port would start silently and take half of the connections.
   */
  const listen = async (target: UWS.TemplatedApp, what: string, host: string, wanted: number): Promise<number> => {
    const socket = await new Promise<UWS.us_listen_socket | false>((resolve) => {
      // The typings lack the (host, port, options, callback) form, which the binding has.
      (target.listen as unknown as (h: string, p: number, o: number, cb: (s: UWS.us_listen_socket | false) => void) => void)(
        host, wanted, LISTEN_EXCLUSIVE_PORT, resolve);
    });
    if (!socket) {
      for (const s of listenSockets) uws.us_listen_socket_close(s);
      await cluster?.close();
      await releaseStarted();
      throw new Error(`cannot listen for ${what} on ${host}:${wanted}: the port is in use by another process, or the address is not this host's`);
    }
    listenSockets.push(socket);
    return uws.us_socket_local_port(socket);
  };
  let port = cfg.port;
  for (const host of cfg.bindAddresses) port = await listen(app, 'HTTP', host, port);
  let prometheusPort = cfg.prometheusPort;
  if (metricsApp) for (const host of cfg.bindAddresses) prometheusPort = await listen(metricsApp, 'Prometheus', host, prometheusPort);
  if (ingress && whip && whipApp && whipApp !== app) {
    const whipPort = await listen(whipApp, 'WHIP', whip.hostname, Number(whip.port || 80));
    ingressUrls.whipBaseUrl = `${whip.protocol}//${whip.hostname}:${whipPort}${whipPath}`;
  } else if (ingress) {
    ingressUrls.whipBaseUrl = whip ? `${whip.protocol}//${whip.host}${whipPath}` : `http://${cfg.rtc.nodeIp || cfg.bindAddresses[0] || '127.0.0.1'}:${port}${whipPath}`;
  }

  let closing: Promise<void> | null = null;
  return {
    port,
    prometheusPort: metricsApp ? prometheusPort : 0,
    rooms,
    pool,
    cluster,
    drain(): Promise<void> {
      draining ??= (async () => {
        rooms.draining = true;
        await cluster?.drain();
        // A cluster node's participants always reconnect: another node takes them.
        if (cfg.shutdown.drain || cluster) await rooms.askEveryoneToReconnect();
        const deadline = Date.now() + cfg.shutdownTimeoutMs;
        log.info({ participants: rooms.localParticipants, timeoutMs: cfg.shutdownTimeoutMs }, 'draining: waiting for the rooms to empty');
        while (rooms.localParticipants > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
        log.info({ participants: rooms.localParticipants }, rooms.localParticipants > 0 ? 'drain timed out' : 'drained');
      })();
      return draining;
    },
    close(): Promise<void> {
      closing ??= (async () => {
        // A cluster node drains: no new rooms here, and its participants are told to join
        // again, which the load balancer sends to another node.
        await cluster?.drain();
        for (const s of listenSockets) uws.us_listen_socket_close(s);
        closeDashboard();
        // Ingress first (their participants leave), then recordings: their files are finished
        // while the tracks still flow.
        await ingress?.stopAll();
        await egress.stopAll();
        await rooms.closeAll(livekit.DisconnectReason.SERVER_SHUTDOWN,
          cluster ? livekit.LeaveRequest.Action.RECONNECT : livekit.LeaveRequest.Action.DISCONNECT);
        // Leaves to clients relayed through other nodes go out before this node leaves.
        await cluster?.relay.flushed(2000);
        await cluster?.close();
        // What is still undelivered stays queued in the store for the next start.
        notifier.close();
        await pool.stop();
        await store.close();
        app.close();
        metricsApp?.close();
        if (whipApp !== app) whipApp?.close();
      })();
      return closing;
    },
  };
}
