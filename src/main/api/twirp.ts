// A Twirp server on uWebSockets.js: POST /twirp/<package.Service>/<Method> with a protobuf or JSON
// body, answered in the same encoding; errors as Twirp JSON `{code, msg, meta}` with the HTTP
// status Twirp assigns to the code. Services register typed methods; this file knows nothing of
// rooms.
import type * as UWS from 'uWebSockets.js';
import type protobuf from 'protobufjs/minimal.js';
import { JSON_OPTIONS } from '../../proto/index.js';
import { readProtoJson } from '../../proto/protojson.js';
import type { ClaimGrants } from '../auth/grants.js';
import { AuthError, type TokenVerifier } from '../auth/token-verifier.js';
import { BodyTooLarge, noteHead, oversizedRequest, readBody, reply, statusLine } from '../http.js';
import type { Logger } from '../logger.js';

export type TwirpCode =
  | 'canceled' | 'invalid_argument' | 'malformed' | 'deadline_exceeded' | 'not_found' | 'bad_route' | 'already_exists'
  | 'permission_denied' | 'unauthenticated' | 'resource_exhausted' | 'failed_precondition' | 'aborted' | 'out_of_range'
  | 'unimplemented' | 'internal' | 'unavailable' | 'dataloss';

const CODE_STATUS: Record<TwirpCode, number> = {
  canceled: 408, invalid_argument: 400, malformed: 400, deadline_exceeded: 408, not_found: 404, bad_route: 404,
  already_exists: 409, permission_denied: 403, unauthenticated: 401, resource_exhausted: 429, failed_precondition: 412,
  aborted: 409, out_of_range: 400, unimplemented: 501, internal: 500, unavailable: 503, dataloss: 500,
};

export class TwirpError extends Error {
  constructor(readonly code: TwirpCode, message: string, readonly meta: Record<string, string> = {}) {
    super(message);
  }

  get status(): number {
    return CODE_STATUS[this.code];
  }
}

/** What Twirp needs of a protobufjs static message class. */
export interface MessageType<T, I> {
  decode(data: Uint8Array): T;
  fromObject(object: Record<string, unknown>): T;
  encode(message: I): protobuf.Writer;
  toObject(message: T, options?: protobuf.IConversionOptions): Record<string, unknown>;
  /** "<prefix>/livekit.Name": gives the type's full name. */
  getTypeUrl(prefix?: string): string;
}

export interface TwirpMethod<Req, ReqI, Res, ResI> {
  request: MessageType<Req, ReqI>;
  response: MessageType<Res, ResI>;
  handle(req: Req, claims: ClaimGrants): ResI | Promise<ResI>;
  /**
   * The room the call acts on. With a cluster, the call runs on that room's node, wherever it
   * arrived; `place` also gives a room without a node one (CreateRoom).
   */
  room?(req: Req): string;
  place?: boolean;
  /** The node the caller asks a new room to go to (CreateRoom's node_id), if any. */
  node?(req: Req): string;
  /**
   * In a cluster, for a call that names no room (an egress by id, every egress): 'first' runs
   * here and, while the answer is not_found, on each other node in turn; a function merges
   * every node's answer.
   */
  everyNode?: 'first' | ((answers: Res[]) => ResI);
}

/** `everyNode` for a List call: every node's items, one list. */
export function mergeItems<T>(answers: Array<{ items: T[] }>): { items: T[] } {
  return { items: answers.flatMap((a) => a.items) };
}

/** Runs calls on the node that owns their room (src/main/cluster). */
export interface TwirpForwarder {
  /** The node that must run a call for `room`, or null to run it here. */
  nodeFor(room: string, place: boolean, wantedNode: string): Promise<string | null>;
  /** Runs `path` on `node`; throws TwirpError with the remote error, or `unavailable`. */
  forward(node: string, path: string, authorization: string, request: Uint8Array): Promise<Uint8Array>;
  /** The other available nodes. */
  otherNodes(): Promise<string[]>;
}

type AnyMethod = TwirpMethod<unknown, unknown, unknown, unknown>;

/** Helps TypeScript infer a method's types from its message classes. */
export function method<Req, ReqI, Res, ResI>(m: TwirpMethod<Req, ReqI, Res, ResI>): AnyMethod {
  return m as unknown as AnyMethod;
}

export interface TwirpOptions {
  verifier: TokenVerifier;
  maxBodyBytes: number;
  log: Logger;
  /** Called once per request, for metrics. */
  onResult?(service: string, method: string, status: number, code: string): void;
  forwarder?: TwirpForwarder;
}

type Encoding = 'json' | 'protobuf';

function encodingOf(contentType: string): Encoding | null {
  const mime = contentType.split(';')[0]!.trim().toLowerCase();
  if (mime === 'application/json') return 'json';
  if (mime === 'application/protobuf' || mime === 'application/x-protobuf') return 'protobuf';
  return null;
}

export class TwirpRouter {
  private readonly methods = new Map<string, AnyMethod>();

  constructor(private readonly opts: TwirpOptions) {}

  /** `service` is the fully qualified name, e.g. "livekit.RoomService". */
  register(service: string, methods: Record<string, AnyMethod>): void {
    for (const [name, m] of Object.entries(methods)) this.methods.set(`${service}/${name}`, m);
  }

  attach(app: UWS.TemplatedApp, prefix = '/twirp'): void {
    app.options(`${prefix}/*`, (res) => {
      res.cork(() => {
        res.writeStatus(statusLine(204))
          .writeHeader('Access-Control-Allow-Origin', '*')
          .writeHeader('Access-Control-Allow-Methods', 'OPTIONS, HEAD, GET, POST, PATCH, DELETE')
          .writeHeader('Access-Control-Allow-Headers', '*')
          .writeHeader('Access-Control-Max-Age', '86400')
          .end();
      });
    });
    app.any(`${prefix}/*`, (res, req) => this.onRequest(res, req, prefix));
  }

  private onRequest(res: UWS.HttpResponse, req: UWS.HttpRequest, prefix: string): void {
    // Everything needed from `req` is read now: uWS invalidates it when this handler returns.
    noteHead(res, req);
    const route = req.getUrl().slice(prefix.length + 1);
    const slash = route.indexOf('/');
    const service = slash > 0 ? route.slice(0, slash) : route;
    const name = slash > 0 ? route.slice(slash + 1) : '';
    const httpMethod = req.getMethod().toUpperCase();
    const authorization = req.getHeader('authorization');
    const encoding = encodingOf(req.getHeader('content-type'));
    const declaredLength = Number(req.getHeader('content-length') || 0);

    let done = false;
    res.onAborted(() => { done = true; });
    const finish = (status: number, code: string, body: string | Uint8Array, contentType: string, close = false) => {
      if (done) return;
      done = true;
      reply(res, status, body, contentType, close);
      this.opts.onResult?.(service, name, status, code);
    };
    const fail = (err: TwirpError, close = false) => {
      finish(err.status, err.code, JSON.stringify({ code: err.code, msg: err.message, meta: err.meta }), 'application/json', close);
    };

    const oversized = oversizedRequest(req);
    const m = this.methods.get(`${service}/${name}`);
    if (oversized) return fail(new TwirpError('malformed', oversized), true);
    if (httpMethod !== 'POST') return fail(new TwirpError('bad_route', `unsupported method ${httpMethod} (only POST is allowed)`));
    if (!m) return fail(new TwirpError('bad_route', `no handler for path ${req.getUrl()}`));
    if (!encoding) return fail(new TwirpError('bad_route', 'unexpected Content-Type: use application/json or application/protobuf'));
    if (declaredLength > this.opts.maxBodyBytes) {
      return fail(new TwirpError('malformed', `request body is larger than ${this.opts.maxBodyBytes} bytes`), true);
    }

    readBody(res, this.opts.maxBodyBytes).then((body) => this.call(m, `${service}/${name}`, body, encoding, authorization)).then(
      (body) => finish(200, 'ok', body, encoding === 'json' ? 'application/json' : 'application/protobuf'),
      (err: unknown) => {
        if (err instanceof BodyTooLarge) return fail(new TwirpError('malformed', err.message), true);
        if (err instanceof TwirpError) return fail(err);
        this.opts.log.error({ err, service, method: name }, 'twirp handler failed');
        fail(new TwirpError('internal', 'internal error'));
      },
    );
  }

  /**
   * A call another node forwarded here (its room is on this node): run as if it had arrived
   * here, in protobuf. Throws TwirpError.
   */
  async callForwarded(path: string, authorization: string, request: Uint8Array): Promise<Uint8Array> {
    const m = this.methods.get(path);
    if (!m) throw new TwirpError('bad_route', `no handler for ${path}`);
    const claims = this.authenticate(authorization);
    const result = await m.handle(m.request.decode(request), claims);
    return m.response.encode(result).finish();
  }

  private async call(m: AnyMethod, path: string, body: Buffer, encoding: Encoding, authorization: string): Promise<string | Uint8Array> {
    const claims = this.authenticate(authorization);
    let request: unknown;
    try {
      if (encoding === 'protobuf') {
        request = m.request.decode(body);
      } else {
        const parsed: unknown = body.length === 0 ? {} : JSON.parse(body.toString('utf8'));
        request = m.request.fromObject(readProtoJson(m.request.getTypeUrl('').slice(1), parsed));
      }
    } catch (err) {
      throw new TwirpError('malformed', `the request could not be decoded: ${(err as Error).message}`);
    }
    const forwarder = this.opts.forwarder;
    const room = m.room?.(request) ?? '';
    const node = forwarder && room ? await forwarder.nodeFor(room, m.place ?? false, m.node?.(request) ?? '') : null;
    if (forwarder && node !== null) {
      const remote = await forwarder.forward(node, path, authorization, m.request.encode(request).finish());
      if (encoding === 'protobuf') return remote;
      return JSON.stringify(m.response.toObject(m.response.decode(remote), JSON_OPTIONS));
    }
    const result = forwarder && !room && m.everyNode
      ? await this.onEveryNode(m, forwarder, path, authorization, request, claims)
      : await m.handle(request, claims);
    if (encoding === 'protobuf') return m.response.encode(result).finish();
    const message = m.response.fromObject(result as Record<string, unknown>);
    return JSON.stringify(m.response.toObject(message, JSON_OPTIONS));
  }

  private async onEveryNode(m: AnyMethod, forwarder: TwirpForwarder, path: string, authorization: string, request: unknown,
    claims: ClaimGrants): Promise<unknown> {
    const encoded = m.request.encode(request).finish();
    const others = await forwarder.otherNodes();
    const spread = m.everyNode!;
    // not_found: not on that node; unavailable: that node does not run the service.
    const elsewhere = (err: unknown) => err instanceof TwirpError && (err.code === 'not_found' || err.code === 'unavailable');
    const here = async () => m.response.decode(m.response.encode(await m.handle(request, claims)).finish());
    const there = async (node: string) => m.response.decode(await forwarder.forward(node, path, authorization, encoded));
    if (spread === 'first') {
      let first: unknown;
      for (const attempt of [here, ...others.map((node) => () => there(node))]) {
        try {
          return await attempt();
        } catch (err) {
          if (!elsewhere(err)) throw err;
          first ??= err;
        }
      }
      throw first;
    }
    const settled = await Promise.allSettled([here(), ...others.map(there)]);
    const failure = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected' && !elsewhere(r.reason));
    if (failure) throw failure.reason;
    const answers = settled.filter((r): r is PromiseFulfilledResult<unknown> => r.status === 'fulfilled').map((r) => r.value);
    if (answers.length === 0) throw (settled[0] as PromiseRejectedResult).reason;
    return spread(answers);
  }

  private authenticate(authorization: string): ClaimGrants {
    const token = authorization.toLowerCase().startsWith('bearer ') ? authorization.slice(7).trim() : '';
    if (!token) throw new TwirpError('unauthenticated', 'missing Authorization: Bearer token');
    try {
      return this.opts.verifier.verify(token);
    } catch (err) {
      if (err instanceof AuthError) throw new TwirpError('unauthenticated', err.message);
      throw err;
    }
  }
}
