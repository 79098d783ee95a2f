// Admission of signal connections, whether the WebSocket reached this node or another node
// relays it here: the token, the join request, the room's rules; then the session that serves
// it. One place, so a relayed client is admitted exactly as a direct one.
import type { ClaimGrants } from '../auth/grants.js';
import { AuthError, type TokenVerifier } from '../auth/token-verifier.js';
import type { StrandConfig } from '../config.js';
import type { Logger } from '../logger.js';
import { limitViolation } from '../rooms/limits.js';
import { JoinError, type RoomManager } from '../rooms/room-manager.js';
import { ConnectRequestError, v0ConnectRequest, v1ConnectRequest, type ConnectRequest } from './connect-request.js';
import { SignalSession, type SignalCounters, type SignalSocket } from './signal-session.js';

export class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/** A connection that may be upgraded. */
export interface Admitted {
  claims: ClaimGrants;
  connect: ConnectRequest;
}

export const SIGNAL_PATHS = ['/rtc', '/rtc/v1'] as const;
export type SignalPath = typeof SIGNAL_PATHS[number];

export function isSignalPath(path: string): path is SignalPath {
  return (SIGNAL_PATHS as readonly string[]).includes(path);
}

export class SignalGateway {
  constructor(
    private readonly cfg: StrandConfig,
    private readonly verifier: TokenVerifier,
    private readonly rooms: RoomManager,
    private readonly log: Logger,
    private readonly counters: SignalCounters,
  ) {}

  /** A token that may join: valid, with a roomJoin grant, an identity and a room. */
  authenticate(token: string): ClaimGrants {
    if (!token) throw new HttpError(401, 'no access token');
    let claims: ClaimGrants;
    try {
      claims = this.verifier.verify(token);
    } catch (err) {
      if (err instanceof AuthError) throw new HttpError(err.status, err.message);
      throw err;
    }
    if (!claims.video.roomJoin) throw new HttpError(401, 'token has no roomJoin grant');
    if (!claims.identity) throw new HttpError(400, 'token has no identity');
    if (!claims.video.room) throw new HttpError(401, 'token names no room');
    const violation = limitViolation(this.cfg.limit, {
      roomName: claims.video.room, identity: claims.identity, name: claims.name, metadata: claims.metadata, attributes: claims.attributes,
    });
    if (violation) throw new HttpError(400, violation);
    return claims;
  }

  /** The token, and whether the room (on this node) admits it. */
  authorizeJoin(token: string): ClaimGrants {
    const claims = this.authenticate(token);
    try {
      this.rooms.precheck(claims);
    } catch (err) {
      if (err instanceof JoinError) throw new HttpError(err.status, err.message);
      throw err;
    }
    return claims;
  }

  /** The parsed request of a signal URL; throws HttpError (400 for a bad join request). */
  connectRequest(path: SignalPath, query: URLSearchParams): ConnectRequest {
    try {
      return path === '/rtc' ? v0ConnectRequest(query) : v1ConnectRequest(query);
    } catch (err) {
      if (err instanceof ConnectRequestError) throw new HttpError(400, err.message);
      throw err;
    }
  }

  /**
   * Everything checked before the upgrade, for a room on this node. A resume joins nothing
   * new: the room's admission rules were checked at the join.
   */
  admit(path: SignalPath, query: URLSearchParams, token: string): Admitted {
    const connect = this.connectRequest(path, query);
    const claims = connect.reconnect ? this.authenticate(token) : this.authorizeJoin(token);
    return { claims, connect };
  }

  /** Serves an admitted connection on `socket`: the join (or resume) starts at once. */
  open(socket: SignalSocket, admitted: Admitted): SignalSession {
    const session = new SignalSession(socket, this.rooms, this.log, this.counters, this.cfg.limit.signalMessagesPerSecond);
    if (admitted.connect.reconnect) session.resume(admitted.claims, admitted.connect.participantSid);
    else session.start(admitted.claims, admitted.connect.params, admitted.connect.offer);
    return session;
  }
}
