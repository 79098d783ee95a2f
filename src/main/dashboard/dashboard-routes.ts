// /dashboard (the page) and /dashboard/stream (server-sent events, a snapshot a second), on the
// main app. Open in --dev; otherwise the request needs `?token=` with an admin grant (roomList,
// as for ListRooms, or roomAdmin). One ticker serves every viewer, and stops when none is left.
import type * as UWS from 'uWebSockets.js';
import type { TokenVerifier } from '../auth/token-verifier.js';
import { getAndHead, reply } from '../http.js';
import type { Logger } from '../logger.js';
import { DASHBOARD_HTML } from './dashboard-page.js';
import type { DashboardFeed } from './dashboard-feed.js';

const TICK_MS = 1000;

export function attachDashboard(app: UWS.TemplatedApp, feed: DashboardFeed, verifier: TokenVerifier, development: boolean, log: Logger): () => void {
  const viewers = new Set<UWS.HttpResponse>();
  let timer: NodeJS.Timeout | null = null;

  /** Null when allowed, else the refusal's status and reason. */
  const refusal = (req: UWS.HttpRequest): [number, string] | null => {
    if (development) return null;
    const token = new URLSearchParams(req.getQuery() ?? '').get('token') ?? '';
    if (!token) return [401, 'the dashboard needs ?token= with an admin grant (roomList or roomAdmin)'];
    try {
      const claims = verifier.verify(token);
      if (!claims.video.roomList && !claims.video.roomAdmin) return [403, 'the token lacks the roomList or roomAdmin grant'];
      return null;
    } catch (err) {
      return [401, (err as Error).message];
    }
  };

  const tick = () => {
    feed.snapshot().then((s) => {
      const frame = `data: ${JSON.stringify(s)}\n\n`;
      for (const res of viewers) res.cork(() => res.write(frame));
    }, (err: unknown) => log.warn({ err: (err as Error).message }, 'dashboard snapshot failed'));
  };

  getAndHead(app, '/dashboard', (res, req) => {
    const refused = refusal(req);
    if (refused) reply(res, refused[0], refused[1]);
    else reply(res, 200, DASHBOARD_HTML, 'text/html; charset=utf-8');
  });

  app.get('/dashboard/stream', (res, req) => {
    const refused = refusal(req);
    if (refused) {
      reply(res, refused[0], refused[1]);
      return;
    }
    res.cork(() => {
      res.writeStatus('200 OK').writeHeader('Content-Type', 'text/event-stream').writeHeader('Cache-Control', 'no-store');
      res.write(': strand dashboard\n\n');
    });
    viewers.add(res);
    res.onAborted(() => {
      viewers.delete(res);
      if (viewers.size === 0 && timer) {
        clearInterval(timer);
        timer = null;
      }
    });
    if (!timer) {
      timer = setInterval(tick, TICK_MS);
      timer.unref();
    }
    tick();
  });

  return () => {
    if (timer) clearInterval(timer);
    timer = null;
    for (const res of viewers) {
      try {
        res.cork(() => res.end());
      } catch {
        // already gone
      }
    }
    viewers.clear();
  };
}
