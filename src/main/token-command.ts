// `strand token create`: prints an access token, like `lk token create`.
import { parseArgs } from 'node:util';
import type { VideoGrant } from './auth/grants.js';
import { parseDuration, signToken } from './auth/token-signer.js';
import { ConfigError, parseKeys } from './config.js';

export const TOKEN_USAGE = `usage: strand token create [--room R] [--identity I] [--name N] [--metadata M]
              [--join] [--admin] [--create] [--list] [--record] [--grant <names|JSON>] [--valid-for 6h]
              [--api-key K --api-secret S | --dev]

  --join, --admin, --create, --list, --record
                  roomJoin, roomAdmin, roomCreate, roomList, roomRecord (default: --join)
  --grant         more grants: comma-separated names (canPublish=false, hidden, roomAdmin, …)
                  or a JSON VideoGrant object
  --valid-for     lifetime: 90s, 30m, 6h, 2d (default 6h)
  --api-key/--api-secret
                  signing key (also LIVEKIT_API_KEY / LIVEKIT_API_SECRET, or the first of LIVEKIT_KEYS);
                  --dev signs with "devkey: secret"`;

const BOOLEAN_GRANTS = new Set([
  'roomCreate', 'roomList', 'roomRecord', 'roomAdmin', 'roomJoin', 'canPublish', 'canSubscribe', 'canPublishData',
  'canUpdateOwnMetadata', 'ingressAdmin', 'hidden', 'recorder', 'agent',
]);

/** Parses `--grant`: a JSON VideoGrant, or names with optional `=true|false`. */
export function parseGrant(text: string): VideoGrant {
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) {
    let value: unknown;
    try {
      value = JSON.parse(trimmed);
    } catch (err) {
      throw new ConfigError(`--grant is not valid JSON: ${(err as Error).message}`);
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new ConfigError('--grant JSON must be an object');
    return value as VideoGrant;
  }
  const grant: Record<string, boolean> = {};
  for (const part of trimmed.split(',')) {
    const [name = '', raw] = part.split('=').map((s) => s.trim());
    if (!name) continue;
    if (!BOOLEAN_GRANTS.has(name)) throw new ConfigError(`unknown grant "${name}"; known: ${[...BOOLEAN_GRANTS].join(', ')}`);
    if (raw !== undefined && raw !== 'true' && raw !== 'false') throw new ConfigError(`grant ${name} must be true or false`);
    grant[name] = raw !== 'false';
  }
  return grant as VideoGrant;
}

function signingKey(values: { 'api-key'?: string; 'api-secret'?: string; dev?: boolean }, env: NodeJS.ProcessEnv): [string, string] {
  const key = values['api-key'] ?? env.LIVEKIT_API_KEY;
  const secret = values['api-secret'] ?? env.LIVEKIT_API_SECRET;
  if (key && secret) return [key, secret];
  if (key || secret) throw new ConfigError('give both --api-key and --api-secret');
  if (env.LIVEKIT_KEYS) {
    const first = Object.entries(parseKeys(env.LIVEKIT_KEYS))[0];
    if (first) return first;
  }
  if (values.dev) return ['devkey', 'secret'];
  throw new ConfigError('no signing key: use --api-key and --api-secret, LIVEKIT_API_KEY/LIVEKIT_API_SECRET, LIVEKIT_KEYS, or --dev');
}

/** Runs `strand token <sub-command>`; returns what to print (the token, or the usage for --help). */
export function tokenCommand(argv: string[], env: NodeJS.ProcessEnv): string {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '--help' || sub === '-h' || rest.includes('--help') || rest.includes('-h')) return TOKEN_USAGE;
  if (sub !== 'create') throw new ConfigError(`unknown token command "${sub ?? ''}"\n\n${TOKEN_USAGE}`);
  const { values } = parseArgs({
    args: rest,
    options: {
      room: { type: 'string' }, identity: { type: 'string' }, name: { type: 'string' }, metadata: { type: 'string' },
      join: { type: 'boolean' }, admin: { type: 'boolean' }, create: { type: 'boolean' }, list: { type: 'boolean' },
      record: { type: 'boolean' }, grant: { type: 'string', multiple: true }, 'valid-for': { type: 'string' },
      'api-key': { type: 'string' }, 'api-secret': { type: 'string' }, dev: { type: 'boolean' },
    },
    strict: true,
  });
  const video: VideoGrant = {};
  if (values.join) video.roomJoin = true;
  if (values.admin) video.roomAdmin = true;
  if (values.create) video.roomCreate = true;
  if (values.list) video.roomList = true;
  if (values.record) video.roomRecord = true;
  for (const g of values.grant ?? []) Object.assign(video, parseGrant(g));
  const named = ['roomJoin', 'roomAdmin', 'roomCreate', 'roomList', 'roomRecord', 'ingressAdmin'] as const;
  if (!named.some((n) => video[n])) video.roomJoin = true;
  if (values.room) video.room = values.room;
  if ((video.roomJoin || video.roomAdmin) && !video.room) throw new ConfigError('--room is required for join and admin tokens');
  if (video.roomJoin && !values.identity) throw new ConfigError('--identity is required for join tokens');
  let validFor: number;
  try {
    validFor = parseDuration(values['valid-for'] ?? '6h');
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
  const [apiKey, secret] = signingKey(values, env);
  return signToken(apiKey, secret, { identity: values.identity, name: values.name, metadata: values.metadata, video }, validFor);
}
