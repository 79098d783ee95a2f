// Small helpers for answering plain HTTP requests on uWebSockets.js.
import type * as UWS from 'uWebSockets.js';

const STATUS_TEXT: Record<number, string> = {
  200: '200 OK', 201: '201 Created', 204: '204 No Content', 400: '400 Bad Request', 401: '401 Unauthorized', 403: '403 Forbidden',
  404: '404 Not Found', 405: '405 Method Not Allowed', 406: '406 Not Acceptable', 408: '408 Request Timeout',
  409: '409 Conflict', 412: '412 Precondition Failed', 413: '413 Payload Too Large', 415: '415 Unsupported Media Type',
  429: '429 Too Many Requests', 431: '431 Request Header Fields Too Large',
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

/**
 * Responses to HEAD requests. uWebSockets.js writes whatever body it is given, HEAD or not, and
 * a body after a HEAD response breaks the client's next response on that connection (Node's
 * parser fails with HPE_INVALID_CONSTANT). reply() answers these with headers only.
 */
const headResponses = new WeakSet<UWS.HttpResponse>();

/** Marks `res` as the answer to a HEAD request if `req` is one (call before `req` is invalid). */
export function noteHead(res: UWS.HttpResponse, req: UWS.HttpRequest): void {
  if (req.getCaseSensitiveMethod() === 'HEAD') headResponses.add(res);
}

type Handler = (res: UWS.HttpResponse, req: UWS.HttpRequest) => void;

/**
 * Strand's own limit on a request's line and headers (limit.max_request_headers_size).
 * uWebSockets.js is given twice as much (uws-loader.ts), so that requests between the two get
 * a proper answer here (a Twirp error on /twirp) instead of uWS's HTML page.
 */
let requestHeadersLimit = 32 * 1024;

export function setRequestHeadersLimit(bytes: number): void {
  requestHeadersLimit = bytes;
}

/** Why `req` is refused for its size, or null. Read while `req` is valid. */
export function oversizedRequest(req: UWS.HttpRequest): string | null {
  let size = req.getCaseSensitiveMethod().length + req.getUrl().length + (req.getQuery()?.length ?? 0) + 12;
  req.forEach((key, value) => { size += key.length + value.length + 4; });
  if (size <= requestHeadersLimit) return null;
  return `the request line and headers are ${size} bytes, more than ${requestHeadersLimit} (limit.max_request_headers_size)`;
}

/** A plain route's checks before its handler: HEAD noted, oversized requests answered with 431. */
function admitPlain(res: UWS.HttpResponse, req: UWS.HttpRequest, handler: Handler): void {
  const oversized = oversizedRequest(req);
  if (oversized) reply(res, 431, oversized, 'text/plain', true);
  else handler(res, req);
}

/** Registers `handler` for GET and for HEAD (the same status and headers, no body); oversized requests get 431. */
export function getAndHead(app: UWS.TemplatedApp, pattern: string, handler: Handler): void {
  app.get(pattern, (res, req) => admitPlain(res, req, handler));
  app.head(pattern, (res, req) => {
    headResponses.add(res);
    admitPlain(res, req, handler);
  });
}

/** Wraps a handler registered with app.any(): HEAD answers carry no body, oversized requests get 431. */
export function anyMethod(handler: Handler): Handler {
  return (res, req) => {
    noteHead(res, req);
    admitPlain(res, req, handler);
  };
}

/** Like reply(), with extra headers (Location, ETag…). */
export function replyWith(
  res: UWS.HttpResponse, status: number, body: string | Uint8Array, contentType: string, headers: Record<string, string>, closeConnection = false,
): void {
  res.cork(() => {
    res.writeStatus(statusLine(status)).writeHeader('Content-Type', contentType).writeHeader('Access-Control-Allow-Origin', '*');
    for (const [k, v] of Object.entries(headers)) res.writeHeader(k, v);
    if (headResponses.has(res)) res.endWithoutBody(typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength, closeConnection);
    else res.end(body, closeConnection);
  });
}

/** What a deferred answer resolves to (replyWhenSettled). */
export interface Answer {
  status: number;
  body: string;
  contentType?: string;
}

/**
 * Answers `res` once `answer` settles: its status and body, or 500 with the error's message.
 * A client that went away meanwhile is not written to (uWS forbids it after onAborted).
 */
export function replyWhenSettled(res: UWS.HttpResponse, answer: Promise<Answer>): void {
  let aborted = false;
  res.onAborted(() => { aborted = true; });
  answer.then((a) => {
    if (!aborted) reply(res, a.status, a.body, a.contentType);
  }, (err: unknown) => {
    if (!aborted) reply(res, 500, String((err as Error).message));
  });
}

/** A JSON answer with status 200. */
export const jsonAnswer = (value: unknown): Answer => ({ status: 200, body: JSON.stringify(value), contentType: 'application/json' });

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
