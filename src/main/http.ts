// Small helpers for answering plain HTTP requests on uWebSockets.js.
import type * as UWS from 'uWebSockets.js';

const STATUS_TEXT: Record<number, string> = {
  200: '200 OK', 204: '204 No Content', 400: '400 Bad Request', 401: '401 Unauthorized', 403: '403 Forbidden',
  404: '404 Not Found', 405: '405 Method Not Allowed', 406: '406 Not Acceptable', 408: '408 Request Timeout',
  409: '409 Conflict', 412: '412 Precondition Failed', 413: '413 Payload Too Large', 429: '429 Too Many Requests',
  500: '500 Internal Server Error', 501: '501 Not Implemented', 503: '503 Service Unavailable',
};

export function statusLine(status: number): string {
  return STATUS_TEXT[status] ?? `${status} Error`;
}

/** Writes a whole response (CORS open, like LiveKit's) in one corked batch. */
export function reply(
  res: UWS.HttpResponse, status: number, body: string | Uint8Array, contentType = 'text/plain', closeConnection = false,
): void {
  res.cork(() => {
    res.writeStatus(statusLine(status))
      .writeHeader('Content-Type', contentType)
      .writeHeader('Access-Control-Allow-Origin', '*')
      .end(body, closeConnection);
  });
}
