// Twirp calls that arrived on this node for a room on another: sent to the room's node over the
// bus and answered from there, so RoomService and Egress work from any node. At most once: a
// call lost with Redis is answered `unavailable` after the timeout, never run twice.
import { randomBytes } from 'node:crypto';
import type { strand } from '../../proto/index.js';
import { TwirpError, type TwirpCode } from '../api/twirp.js';
import type { ClusterBus } from './cluster-bus.js';

/** LiveKit's psrpc default timeout is 3 s; a call on the remote node may take a little longer. */
const CALL_TIMEOUT_MS = 5000;

interface Waiting {
  node: string;
  resolve(bytes: Uint8Array): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

export class ApiForwarder {
  private readonly waiting = new Map<string, Waiting>();

  constructor(
    private readonly bus: ClusterBus,
    /** Runs a forwarded call here (TwirpRouter.callForwarded). */
    private readonly runHere: (path: string, authorization: string, request: Uint8Array) => Promise<Uint8Array>,
  ) {}

  forward(node: string, path: string, authorization: string, request: Uint8Array): Promise<Uint8Array> {
    const id = randomBytes(9).toString('base64url');
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new TwirpError('unavailable', `the room's node ${node} did not answer within ${CALL_TIMEOUT_MS} ms`));
      }, CALL_TIMEOUT_MS);
      timer.unref();
      this.waiting.set(id, { node, resolve, reject, timer });
      this.bus.send(node, { apiCall: { id, path, authorization, request } });
    });
  }

  onCall(from: string, call: strand.ApiCall): void {
    this.runHere(call.path, call.authorization, call.request).then(
      (response) => this.bus.send(from, { apiResult: { id: call.id, response } }),
      (err: unknown) => {
        const e = err instanceof TwirpError ? err : new TwirpError('internal', 'internal error');
        this.bus.send(from, { apiResult: { id: call.id, code: e.code, message: e.message } });
      },
    );
  }

  onResult(from: string, result: strand.ApiResult): void {
    const w = this.waiting.get(result.id);
    if (!w || w.node !== from) return;
    this.waiting.delete(result.id);
    clearTimeout(w.timer);
    if (result.code) w.reject(new TwirpError(result.code as TwirpCode, result.message));
    else w.resolve(result.response);
  }

  /** Calls to `node` fail now rather than at their timeout (it is gone). */
  nodeLost(node: string): void {
    for (const [id, w] of this.waiting) {
      if (w.node !== node) continue;
      this.waiting.delete(id);
      clearTimeout(w.timer);
      w.reject(new TwirpError('unavailable', `the room's node ${node} is unavailable`));
    }
  }

  close(): void {
    for (const w of this.waiting.values()) {
      clearTimeout(w.timer);
      w.reject(new TwirpError('unavailable', 'server shutting down'));
    }
    this.waiting.clear();
  }
}
