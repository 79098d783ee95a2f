// The multi-node part of the configuration, with LiveKit's keys: `redis`, `node_selector`,
// `region`, `signal_relay`. No `redis` section means one node, as before.
import { readFileSync } from 'node:fs';
import { ConfigError, bool, isObject, num, str, strList } from '../config-error.js';

export interface RedisTls {
  insecure: boolean;
  serverName: string;
  ca?: string;
  cert?: string;
  key?: string;
}

export interface RedisConfig {
  /** host:port of a single Redis (ignored when sentinel or cluster addresses are given). */
  address: string;
  username: string;
  password: string;
  db: number;
  tls: RedisTls | null;
  sentinelMasterName: string;
  sentinelUsername: string;
  sentinelPassword: string;
  sentinelAddresses: string[];
  clusterAddresses: string[];
  /** Connect timeout, ms (LiveKit: dial_timeout). */
  dialTimeoutMs: number;
  /** How long one command may wait for Redis before it fails, ms (LiveKit: read_timeout). */
  commandTimeoutMs: number;
}

export type SelectorKind = 'any' | 'cpuload' | 'sysload';
export type SortBy = 'random' | 'sysload' | 'cpuload' | 'rooms' | 'clients' | 'tracks';

export interface NodeSelectorConfig {
  kind: SelectorKind;
  sortBy: SortBy;
  cpuLoadLimit: number;
  sysloadLimit: number;
}

export interface SignalRelayConfig {
  /** A relayed message unacknowledged this long ends its session, ms. */
  retryTimeoutMs: number;
  minRetryIntervalMs: number;
  maxRetryIntervalMs: number;
}

export function defaultNodeSelector(): NodeSelectorConfig {
  return { kind: 'any', sortBy: 'random', cpuLoadLimit: 0.9, sysloadLimit: 0.9 };
}

export function defaultSignalRelay(): SignalRelayConfig {
  // LiveKit's defaults, but retries at most 2 s apart (LiveKit: 4 s), so a Redis that is back
  // after 5 s sees a retry well before the 7.5 s give-up.
  return { retryTimeoutMs: 7500, minRetryIntervalMs: 500, maxRetryIntervalMs: 2000 };
}

/** A list, or one comma-separated string (as LiveKit's env values come). */
function addressList(v: unknown, path: string): string[] {
  if (typeof v === 'string') return v.split(',').map((a) => a.trim()).filter(Boolean);
  return strList(v, path);
}

/** A Go-style duration ("500ms", "7.5s", "1m") or a number of `unitMs`, as ms. */
export function durationMs(v: unknown, path: string, unitMs: number): number {
  if (typeof v === 'number') return num(v, path) * unitMs;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(str(v, path).trim());
  if (!m) throw new ConfigError(`${path} must be a duration such as 500ms, 7.5s or 1m`);
  return Number(m[1]) * (m[2] === 'ms' ? 1 : m[2] === 's' ? 1000 : 60_000);
}

function readPem(v: unknown, path: string): string {
  const file = str(v, path);
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read ${path} ${file}: ${(err as Error).message}`);
  }
}

/** A single Redis at `address` (REDIS_HOST, --redis-host), LiveKit's other defaults. */
export function defaultRedis(address: string): RedisConfig {
  return {
    address, username: '', password: '', db: 0, tls: null, sentinelMasterName: '', sentinelUsername: '', sentinelPassword: '',
    sentinelAddresses: [], clusterAddresses: [], dialTimeoutMs: 5000, commandTimeoutMs: 3000,
  };
}

export function parseRedis(value: unknown, warn: (path: string) => void): RedisConfig {
  if (!isObject(value)) throw new ConfigError('redis must be a mapping');
  const r = defaultRedis('');
  for (const [k, v] of Object.entries(value)) {
    const path = `redis.${k}`;
    switch (k) {
      case 'address': r.address = str(v, path); break;
      case 'username': r.username = str(v, path); break;
      case 'password': r.password = str(v, path); break;
      case 'db': r.db = Math.floor(num(v, path)); break;
      case 'use_tls': if (bool(v, path)) r.tls ??= { insecure: false, serverName: '' }; break;
      case 'tls': {
        if (!isObject(v)) throw new ConfigError(`${path} must be a mapping`);
        if (v.enabled === false) break;
        const tls: RedisTls = { insecure: false, serverName: '' };
        for (const [tk, tv] of Object.entries(v)) {
          const tpath = `${path}.${tk}`;
          switch (tk) {
            case 'enabled': bool(tv, tpath); break;
            case 'insecure': tls.insecure = bool(tv, tpath); break;
            case 'server_name': tls.serverName = str(tv, tpath); break;
            case 'ca_cert_file': tls.ca = readPem(tv, tpath); break;
            case 'client_cert_file': tls.cert = readPem(tv, tpath); break;
            case 'client_key_file': tls.key = readPem(tv, tpath); break;
            default: warn(tpath);
          }
        }
        r.tls = tls;
        break;
      }
      case 'sentinel_master_name': r.sentinelMasterName = str(v, path); break;
      case 'sentinel_username': r.sentinelUsername = str(v, path); break;
      case 'sentinel_password': r.sentinelPassword = str(v, path); break;
      case 'sentinel_addresses': r.sentinelAddresses = addressList(v, path); break;
      case 'cluster_addresses': r.clusterAddresses = addressList(v, path); break;
      case 'dial_timeout': r.dialTimeoutMs = durationMs(v, path, 1); break;
      case 'read_timeout': r.commandTimeoutMs = durationMs(v, path, 1); break;
      case 'write_timeout': case 'pool_size': case 'pool_timeout': case 'max_redirects': break;
      default: warn(path);
    }
  }
  return r;
}

/** Checked once every source is applied: REDIS_HOST may give the address the file left out. */
export function checkRedis(r: RedisConfig): void {
  const where = r.sentinelAddresses.length + r.clusterAddresses.length + (r.address ? 1 : 0);
  if (where === 0) throw new ConfigError('redis needs address, sentinel_addresses or cluster_addresses');
  if (r.sentinelAddresses.length && !r.sentinelMasterName) throw new ConfigError('redis.sentinel_addresses needs redis.sentinel_master_name');
  for (const a of [r.address, ...r.sentinelAddresses, ...r.clusterAddresses]) {
    if (a && !/^[^:\s]+:\d+$|^\[[0-9a-fA-F:]+\]:\d+$/.test(a)) throw new ConfigError(`redis address "${a}" must be host:port`);
  }
}

const KINDS: SelectorKind[] = ['any', 'cpuload', 'sysload'];
const SORTS: SortBy[] = ['random', 'sysload', 'cpuload', 'rooms', 'clients', 'tracks'];

export function parseNodeSelector(value: unknown, warn: (path: string) => void): NodeSelectorConfig {
  if (!isObject(value)) throw new ConfigError('node_selector must be a mapping');
  const s = defaultNodeSelector();
  for (const [k, v] of Object.entries(value)) {
    const path = `node_selector.${k}`;
    switch (k) {
      case 'kind': {
        // LiveKit keeps `random` as an alias of `any`.
        const kind = str(v, path) === 'random' ? 'any' : str(v, path);
        if (!KINDS.includes(kind as SelectorKind)) throw new ConfigError(`${path} must be one of ${KINDS.join(', ')}`);
        s.kind = kind as SelectorKind;
        break;
      }
      case 'sort_by': {
        const sort = str(v, path);
        if (!SORTS.includes(sort as SortBy)) throw new ConfigError(`${path} must be one of ${SORTS.join(', ')}`);
        s.sortBy = sort as SortBy;
        break;
      }
      case 'cpu_load_limit': s.cpuLoadLimit = num(v, path); break;
      case 'sysload_limit': s.sysloadLimit = num(v, path); break;
      case 'algorithm': if (str(v, path) !== 'lowest') warn(`${path} (only "lowest")`); break;
      default: warn(path);
    }
  }
  return s;
}

export function parseSignalRelay(value: unknown, into: SignalRelayConfig, warn: (path: string) => void): void {
  if (!isObject(value)) throw new ConfigError('signal_relay must be a mapping');
  for (const [k, v] of Object.entries(value)) {
    const path = `signal_relay.${k}`;
    switch (k) {
      case 'retry_timeout': into.retryTimeoutMs = durationMs(v, path, 1000); break;
      case 'min_retry_interval': into.minRetryIntervalMs = durationMs(v, path, 1000); break;
      case 'max_retry_interval': into.maxRetryIntervalMs = durationMs(v, path, 1000); break;
      case 'stream_buffer_size': case 'connect_attempts': break;
      default: warn(path);
    }
  }
  if (into.minRetryIntervalMs <= 0 || into.maxRetryIntervalMs < into.minRetryIntervalMs) {
    throw new ConfigError('signal_relay: min_retry_interval must be > 0 and at most max_retry_interval');
  }
}
