// WHIP (RFC 9725) ingress endpoints, as LiveKit's ingress service serves them: POST an SDP
// offer to the WHIP URL with `Authorization: Bearer <stream key>` (or to <url>/<stream key>),
// get 201 Created with the answer and the session's Location; DELETE on the Location ends it.
// Media goes through the ordinary publisher path (passthrough). No trickle: the offer carries
// its candidates and the answer Strand's, so PATCH answers 405.
import type * as UWS from 'uWebSockets.js';
import { BodyTooLarge, readBody, reply, replyWhenSettled, replyWith } from '../http.js';
import type { Logger } from '../logger.js';
import { IngressRefusal, type IngressManager } from './ingress-manager.js';

const MAX_OFFER_BYTES = 64 * 1024;

function bearer(header: string): string {
  const h = header.trim();
  // LiveKit's ingress takes the key with or without the "Bearer " prefix.
  return h.toLowerCase().startsWith('bearer ') ? h.slice(7).trim() : h;
}

/** Serves WHIP under `path` (e.g. "/w") on `app`. */
export function attachWhip(app: UWS.TemplatedApp, path: string, ingress: IngressManager, log: Logger): void {
  const cors = (res: UWS.HttpResponse) => {
    res.cork(() => {
      res.writeStatus('204 No Content')
        .writeHeader('Access-Control-Allow-Origin', '*')
        .writeHeader('Access-Control-Allow-Methods', 'OPTIONS, POST, DELETE, PATCH')
        .writeHeader('Access-Control-Allow-Headers', 'Authorization, Content-Type, If-Match')
        .writeHeader('Access-Control-Expose-Headers', 'Location, ETag, Link')
        .writeHeader('Access-Control-Max-Age', '86400')
        .end();
    });
  };
  app.options(path, cors);
  app.options(`${path}/*`, cors);

  const publish = (res: UWS.HttpResponse, req: UWS.HttpRequest, keyFromPath: string) => {
    const key = keyFromPath || bearer(req.getHeader('authorization'));
    const contentType = req.getHeader('content-type').split(';')[0]!.trim().toLowerCase();
    let aborted = false;
    res.onAborted(() => { aborted = true; });
    void (async () => {
      try {
        const body = await readBody(res, MAX_OFFER_BYTES);
        if (contentType !== 'application/sdp') throw new IngressRefusal(415, 'a WHIP offer must be sent as application/sdp');
        if (!key) throw new IngressRefusal(401, 'no stream key: use Authorization: Bearer <stream key>');
        const { answer, resourceId, ingressId } = await ingress.whipPublish(key, body.toString('utf8'));
        log.info({ ingressId, resourceId }, 'WHIP ingress connected');
        if (!aborted) replyWith(res, 201, answer, 'application/sdp', {
          Location: `${path}/${key}/${resourceId}`, ETag: `"${resourceId}"`, 'Access-Control-Expose-Headers': 'Location, ETag',
        });
        else await ingress.whipDelete(resourceId);
      } catch (err) {
        if (aborted) return;
        const status = err instanceof IngressRefusal ? err.status : err instanceof BodyTooLarge ? 413 : 500;
        if (status === 500) log.warn({ err }, 'WHIP publish failed');
        reply(res, status, (err as Error).message);
      }
    })();
  };
  app.post(path, (res, req) => publish(res, req, ''));
  app.post(`${path}/:key`, (res, req) => publish(res, req, req.getParameter(0) ?? ''));

  app.del(`${path}/:key/:resource`, (res, req) => {
    const resourceId = req.getParameter(1) ?? '';
    replyWhenSettled(res, ingress.whipDelete(resourceId).then((found) => (found ? { status: 200, body: '' } : { status: 404, body: 'no such WHIP session' })));
  });
  app.patch(`${path}/:key/:resource`, (res) => reply(res, 405, 'Strand does not take trickled candidates or ICE restarts over WHIP'));
}
