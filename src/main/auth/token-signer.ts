// HS256 access tokens in LiveKit's shape: iss = API key, sub = identity, nbf/exp, and the custom
// claims (video grant, name, metadata, attributes, sha256). Used by `strand token create` and
// to sign webhook deliveries; TokenVerifier reads what this writes.
import { createHmac } from 'node:crypto';
import type { VideoGrant } from './grants.js';

export interface TokenClaims {
  identity?: string;
  name?: string;
  metadata?: string;
  attributes?: Record<string, string>;
  video?: VideoGrant;
  /** Base64 SHA-256 of a webhook body. */
  sha256?: string;
}

const HEADER = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url');

export function signToken(apiKey: string, secret: string, claims: TokenClaims, validForSeconds: number, nowSeconds = Math.floor(Date.now() / 1000)): string {
  const payload: Record<string, unknown> = { iss: apiKey, nbf: nowSeconds, exp: nowSeconds + validForSeconds };
  if (claims.identity) payload.sub = claims.identity;
  if (claims.name) payload.name = claims.name;
  if (claims.metadata) payload.metadata = claims.metadata;
  if (claims.attributes && Object.keys(claims.attributes).length > 0) payload.attributes = claims.attributes;
  if (claims.video) payload.video = claims.video;
  if (claims.sha256) payload.sha256 = claims.sha256;
  const body = `${HEADER}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`;
  return `${body}.${createHmac('sha256', secret).update(body).digest('base64url')}`;
}

/** "6h", "30m", "90s", "2d" or plain seconds → seconds (like `lk token create --valid-for`). */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/.exec(text.trim());
  if (!m) throw new Error(`invalid duration "${text}": use e.g. 90s, 30m, 6h or 2d`);
  const n = Number(m[1]);
  const unit = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 }[m[2] ?? 's']!;
  const seconds = Math.round(n * unit);
  if (seconds <= 0) throw new Error(`invalid duration "${text}": must be positive`);
  return seconds;
}
