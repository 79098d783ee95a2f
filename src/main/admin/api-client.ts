// The server API as a remote client calls it: Twirp over HTTP with protobuf bodies, each call
// authorised by a short-lived token with just the grant it needs. It speaks to any
// LiveKit-compatible server (Strand or livekit-server), like `lk`.
import type { VideoGrant } from '../auth/grants.js';
import { signToken } from '../auth/token-signer.js';

/** A protobufjs message type, as the generated code gives it. */
export interface MessageType<T> {
  encode(message: T): { finish(): Uint8Array };
  decode(bytes: Uint8Array): T;
}

export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

export class ApiClient {
  private readonly base: string;

  constructor(url: string, private readonly apiKey: string, private readonly apiSecret: string) {
    // ws(s):// as clients are given it, or http(s)://.
    this.base = url.replace(/^ws(s?):\/\//, 'http$1://').replace(/\/+$/, '');
  }

  /** POST /drain (Strand's): the server drains and stops, as on SIGTERM. */
  async drain(): Promise<void> {
    const token = signToken(this.apiKey, this.apiSecret, { video: { roomCreate: true } }, 600);
    let res: Response;
    try {
      res = await fetch(`${this.base}/drain`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    } catch (err) {
      throw new ApiError(0, 'unavailable', `cannot reach ${this.base}: ${(err as Error).message}`);
    }
    if (res.status !== 202) throw new ApiError(res.status, 'drain', `drain: HTTP ${res.status}: ${await res.text()}`);
  }

  /** Whether the server answers HTTP at all (GET /, any status). */
  async answers(): Promise<boolean> {
    try {
      await fetch(`${this.base}/`, { signal: AbortSignal.timeout(2000) });
      return true;
    } catch {
      return false;
    }
  }

  async call<Req, Res>(service: string, method: string, grant: VideoGrant, request: MessageType<Req>, req: Req, response: MessageType<Res>): Promise<Res> {
    const token = signToken(this.apiKey, this.apiSecret, { video: grant }, 600);
    let res: Response;
    try {
      res = await fetch(`${this.base}/twirp/livekit.${service}/${method}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/protobuf' },
        body: request.encode(req).finish(),
      });
    } catch (err) {
      throw new ApiError(0, 'unavailable', `cannot reach ${this.base}: ${(err as Error).message}`);
    }
    const body = new Uint8Array(await res.arrayBuffer());
    if (!res.ok) {
      let code = 'unknown';
      let msg = new TextDecoder().decode(body);
      try {
        const e = JSON.parse(msg) as { code?: string; msg?: string };
        code = e.code ?? code;
        msg = e.msg ?? msg;
      } catch {
        // not a Twirp error body
      }
      throw new ApiError(res.status, code, `${service}.${method}: ${code}: ${msg}`);
    }
    return response.decode(body);
  }
}
