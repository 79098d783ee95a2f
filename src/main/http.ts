// Small helpers for answering plain HTTP requests on uWebSockets.js.
import type * as UWS from 'uWebSockets.js';

const STATUS_TEXT: Record<number, string> = {
  200: '200 OK', 201: '201 Created', 204: '204 No Content', 400: '400 Bad Request', 401: '401 Unauthorized', 403: '403 Forbidden',
  404: '404 Not Found', 405: '405 Method Not Allowed', 406: '406 Not Acceptable', 408: '408 Request Timeout',
  409: '409 Conflict', 412: '412 Precondition Failed', 413: '413 Payload Too Large', 415: '415 Unsupported Media Type',
  429: '429 Too Many Requests',
  500: '500 Internal Server Error', 501: '501 Not Implemented', 503: '503 Service Unavailable',
};

export function statusLine(status: number): string {
  return STATUS_TEXT[status] ?? `${status} Error`;
}

/** Writes a whole response (CORS open, like LiveKit's) in one corked batch. */
export function reply(
  res: UWS.HttpResponse, status: number, body: string | Uint8Array, contentType = 'text/plain', closeConnection = false,
): void {
  replyWith(res, status, body, contentType, {}, closeConnection);
}

/** Like reply(), with extra headers (Location, ETag…). */
export function replyWith(
  res: UWS.HttpResponse, status: number, body: string | Uint8Array, contentType: string, headers: Record<string, string>, closeConnection = false,
): void {
  res.cork(() => {
    res.writeStatus(statusLine(status)).writeHeader('Content-Type', contentType).writeHeader('Access-Control-Allow-Origin', '*');
    for (const [k, v] of Object.entries(headers)) res.writeHeader(k, v);
    res.end(body, closeConnection);
  });
}

export class BodyTooLarge extends Error {}

/**
 * The request body, at most `limit` bytes (BodyTooLarge beyond). uWS hands over chunks that
 * are only valid during the callback: each is copied. A request the client aborts never
 * settles; the caller's own onAborted handler says so.
 */
export function readBody(res: UWS.HttpResponse, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    let done = false;
    res.onData((chunk, isLast) => {
      if (done) return;
      size += chunk.byteLength;
      if (size > limit) {
        done = true;
        reject(new BodyTooLarge(`request body is larger than ${limit} bytes`));
        return;
      }
      parts.push(Buffer.from(chunk.slice(0)));
      if (isLast) {
        done = true;
        resolve(Buffer.concat(parts, size));
      }
    });
  });
}
