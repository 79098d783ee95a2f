// The JSON types of an access token's claims, checked as LiveKit's server checks them: it
// decodes the payload into typed Go structs (auth.ClaimGrants, auth.VideoGrant, jwt.Claims),
// so a value of the wrong type fails the whole token. Without this, `"roomAdmin": "false"`
// would be a truthy admin grant here and a `room` array would fail somewhere inside a join.
// As in Go, `null` is the same as an absent claim, and claims nobody knows are ignored.
import { AuthError } from './auth-error.js';

type ClaimType = 'string' | 'boolean' | 'number' | 'object' | 'string[]' | 'string map' | 'audience';

/** Top-level claims: the registered JWT ones and LiveKit's. */
const TOP_LEVEL: Record<string, ClaimType> = {
  iss: 'string', sub: 'string', jti: 'string', aud: 'audience', exp: 'number', nbf: 'number', iat: 'number',
  name: 'string', metadata: 'string', kind: 'string', sha256: 'string', roomPreset: 'string',
  attributes: 'string map', video: 'object', sip: 'object', agent: 'object', roomConfig: 'object', inference: 'object', observability: 'object',
};

/** auth.VideoGrant. */
const VIDEO: Record<string, ClaimType> = {
  roomCreate: 'boolean', roomList: 'boolean', roomRecord: 'boolean', roomAdmin: 'boolean', roomJoin: 'boolean',
  room: 'string', destinationRoom: 'string',
  canPublish: 'boolean', canSubscribe: 'boolean', canPublishData: 'boolean', canPublishSources: 'string[]',
  canUpdateOwnMetadata: 'boolean', ingressAdmin: 'boolean', hidden: 'boolean', recorder: 'boolean', agent: 'boolean',
  canSubscribeMetrics: 'boolean', canManageAgentSession: 'boolean',
};

function describe(v: unknown): string {
  if (Array.isArray(v)) return 'an array';
  if (v === null) return 'null';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function matches(v: unknown, type: ClaimType): boolean {
  switch (type) {
    case 'string':
    case 'boolean':
    case 'number':
      return typeof v === type && (type !== 'number' || Number.isFinite(v));
    case 'object':
      return isObject(v);
    case 'string[]':
      return Array.isArray(v) && v.every((x) => typeof x === 'string');
    case 'string map':
      return isObject(v) && Object.values(v).every((x) => typeof x === 'string');
    case 'audience': // RFC 7519: one string or an array of them
      return typeof v === 'string' || (Array.isArray(v) && v.every((x) => typeof x === 'string'));
  }
}

const WANTED: Record<ClaimType, string> = {
  string: 'a string', boolean: 'a boolean (true or false, not a string)', number: 'a number', object: 'an object',
  'string[]': 'an array of strings', 'string map': 'an object of string values', audience: 'a string or an array of strings',
};

function checkAll(obj: Record<string, unknown>, types: Record<string, ClaimType>, prefix: string): void {
  for (const [key, type] of Object.entries(types)) {
    const v = obj[key];
    if (v === undefined || v === null) continue;
    if (!matches(v, type)) throw new AuthError(`invalid token: claim "${prefix}${key}" must be ${WANTED[type]}, not ${describe(v)}`);
  }
}

/** Throws AuthError (401) naming the first claim whose JSON type is not LiveKit's. */
export function checkClaimTypes(payload: Record<string, unknown>): void {
  checkAll(payload, TOP_LEVEL, '');
  if (isObject(payload.video)) checkAll(payload.video, VIDEO, 'video.');
}
