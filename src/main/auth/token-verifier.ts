// Access-token verification with LiveKit's rules: HS256 only, iss = a configured API key,
// exp required, one minute of clock leeway.
import { decodeJwt, errors as joseErrors, jwtVerify } from 'jose';
import type { ClaimGrants, VideoGrant } from './grants.js';

export class AuthError extends Error {
  constructor(message: string, readonly status: 401 | 403 = 401) {
    super(message);
  }
}

const LEEWAY_SECONDS = 60;
const encoder = new TextEncoder();

export class TokenVerifier {
  private readonly secrets = new Map<string, Uint8Array>();

  constructor(keys: Record<string, string>) {
    for (const [key, secret] of Object.entries(keys)) this.secrets.set(key, encoder.encode(secret));
  }

  async verify(token: string): Promise<ClaimGrants> {
    let unverified: Record<string, unknown>;
    try {
      unverified = decodeJwt(token);
    } catch {
      throw new AuthError('invalid token: not a JWT');
    }
    const apiKey = typeof unverified.iss === 'string' ? unverified.iss : '';
    const secret = this.secrets.get(apiKey);
    if (!secret) throw new AuthError('invalid API key');
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, secret, {
        algorithms: ['HS256'],
        issuer: apiKey,
        clockTolerance: LEEWAY_SECONDS,
        requiredClaims: ['exp'],
      }));
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired) throw new AuthError('token expired');
      if (err instanceof joseErrors.JWSSignatureVerificationFailed) throw new AuthError('invalid token signature');
      throw new AuthError(`invalid token: ${(err as Error).message}`);
    }
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
