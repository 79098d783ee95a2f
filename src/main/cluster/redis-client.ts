// Connections to the cluster's Redis: one for commands, one for subscriptions (a subscribed
// connection can run nothing else). Single server, Sentinel or Cluster, as LiveKit chooses:
// sentinel addresses first, then cluster addresses, then the one address.
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { RedisConfig } from './cluster-config.js';

export type RedisConnection = Redis | Cluster;

function hostPort(address: string): { host: string; port: number } {
  const idx = address.lastIndexOf(':');
  return { host: address.slice(0, idx).replace(/^\[|\]$/g, ''), port: Number(address.slice(idx + 1)) };
}

/** Where a config points, for messages. */
export function describeRedis(cfg: RedisConfig): string {
  if (cfg.sentinelAddresses.length) return `sentinel ${cfg.sentinelMasterName} at ${cfg.sentinelAddresses.join(',')}`;
  if (cfg.clusterAddresses.length) return `cluster at ${cfg.clusterAddresses.join(',')}`;
  return cfg.address;
}

function connection(cfg: RedisConfig, commandTimeout: number | undefined): RedisConnection {
  const common: RedisOptions = {
    username: cfg.username || undefined,
    password: cfg.password || undefined,
    connectTimeout: cfg.dialTimeoutMs,
    commandTimeout,
    lazyConnect: true,
    // Reconnect forever, at most 1 s apart: an outage must end by itself.
    retryStrategy: (times) => Math.min(100 * times, 1000),
    // A command issued while Redis is away waits in the queue until commandTimeout fails it.
    maxRetriesPerRequest: null,
    tls: cfg.tls ? { rejectUnauthorized: !cfg.tls.insecure, servername: cfg.tls.serverName || undefined, ca: cfg.tls.ca, cert: cfg.tls.cert, key: cfg.tls.key } : undefined,
  };
  if (cfg.sentinelAddresses.length) {
    return new Redis({
      ...common, db: cfg.db, name: cfg.sentinelMasterName, sentinels: cfg.sentinelAddresses.map(hostPort),
      sentinelUsername: cfg.sentinelUsername || undefined, sentinelPassword: cfg.sentinelPassword || undefined,
    });
  }
  if (cfg.clusterAddresses.length) {
    // A cluster has no databases: `db` is ignored, as in LiveKit.
    const options: ClusterOptions = { redisOptions: common, lazyConnect: true, clusterRetryStrategy: (times) => Math.min(100 * times, 1000) };
    return new Cluster(cfg.clusterAddresses.map(hostPort), options);
  }
  return new Redis({ ...common, ...hostPort(cfg.address), db: cfg.db });
}

export interface RedisClients {
  command: RedisConnection;
  subscriber: RedisConnection;
  close(): Promise<void>;
}

/** Connects both and checks Redis answers; a Redis that cannot be reached is a start-up error. */
export async function connectRedis(cfg: RedisConfig): Promise<RedisClients> {
  const command = connection(cfg, cfg.commandTimeoutMs);
  const subscriber = connection(cfg, undefined);
  // ioredis reports every failed reconnect as an 'error' event: the cluster logs outages itself.
  command.on('error', () => {});
  subscriber.on('error', () => {});
  const close = async () => {
    command.disconnect();
    subscriber.disconnect();
  };
  try {
    const deadline = new Promise<never>((_, reject) => {
      setTimeout(() => reject(new Error(`no answer within ${cfg.dialTimeoutMs} ms`)), cfg.dialTimeoutMs).unref();
    });
    await Promise.race([Promise.all([command.connect(), subscriber.connect()]).then(() => command.ping()), deadline]);
  } catch (err) {
    await close();
    throw new Error(`cannot reach Redis (${describeRedis(cfg)}): ${(err as Error).message}`);
  }
  return { command, subscriber, close };
}
