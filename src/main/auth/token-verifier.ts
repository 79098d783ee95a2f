// Access-token verification with LiveKit's rules: HS256 only, iss = a configured API key,
// exp required, one minute of clock leeway.
//
// Synchronous on purpose (node:crypto HMAC): the WebSocket upgrade must happen inside uWS's
// upgrade handler. Upgrading later from an async continuation needs res.cork(), and with
// uWS v20.57 a cork around an upgrade intermittently closed the new socket.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { AuthError } from './auth-error.js';
import { checkClaimTypes } from './claim-types.js';
import type { ClaimGrants, VideoGrant } from './grants.js';

export { AuthError };

const LEEWAY_SECONDS = 60;

function decodeSegment(segment: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
  } catch {
    throw new AuthError(`invalid token: ${what} is not base64url JSON`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new AuthError(`invalid token: ${what} is not an object`);
  return value as Record<string, unknown>;
}

export class TokenVerifier {
  private readonly secrets = new Map<string, string>();

  constructor(keys: Record<string, string>) {
    for (const [key, secret] of Object.entries(keys)) this.secrets.set(key, secret);
  }

  verify(token: string, nowSeconds = Date.now() / 1000): ClaimGrants {
    const parts = token.split('.');
    if (parts.length !== 3 || parts.some((p) => p === '')) throw new AuthError('invalid token: not a JWT');
    const [headerB64, payloadB64, signatureB64] = parts as [string, string, string];
    const header = decodeSegment(headerB64, 'header');
    if (header.alg !== 'HS256') throw new AuthError(`invalid token: algorithm ${String(header.alg)} is not HS256`);
    const payload = decodeSegment(payloadB64, 'payload');
    const apiKey = typeof payload.iss === 'string' ? payload.iss : '';
    const secret = this.secrets.get(apiKey);
    if (!secret) throw new AuthError('invalid API key');
    const expected = createHmac('sha256', secret).update(`${headerB64}.${payloadB64}`).digest();
    const actual = Buffer.from(signatureB64, 'base64url');
    if (actual.length !== expected.length || !timingSafeEqual(actual, expected)) throw new AuthError('invalid token signature');
    checkClaimTypes(payload);
    if (typeof payload.exp !== 'number') throw new AuthError('invalid token: exp is required');
    if (nowSeconds > payload.exp + LEEWAY_SECONDS) throw new AuthError('token expired');
    if (typeof payload.nbf === 'number' && nowSeconds < payload.nbf - LEEWAY_SECONDS) throw new AuthError('token not valid yet');
    return claimsFrom(apiKey, payload);
  }
}

function asString(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

function claimsFrom(apiKey: string, p: Record<string, unknown>): ClaimGrants {
  const video = (p.video !== null && typeof p.video === 'object' ? p.video : {}) as VideoGrant;
  const attributes: Record<string, string> = {};
  if (p.attributes !== null && typeof p.attributes === 'object') {
    for (const [k, v] of Object.entries(p.attributes as Record<string, unknown>)) if (typeof v === 'string') attributes[k] = v;
  }
  return {
    apiKey,
    identity: asString(p.sub) || asString(p.jti),
    name: asString(p.name),
    metadata: asString(p.metadata),
    attributes,
    kind: asString(p.kind),
    video,
    sha256: typeof p.sha256 === 'string' ? p.sha256 : undefined,
    notBefore: typeof p.nbf === 'number' ? p.nbf : undefined,
  };
}
