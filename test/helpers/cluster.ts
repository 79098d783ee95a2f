// A Strand cluster for a test: a redis-server of its own and N `strand` processes on loopback,
// each with its own HTTP, ICE and store, joined through Redis.
import { Redis } from 'ioredis';
import { RoomServiceClient } from 'livekit-server-sdk';
import { RedisServer } from './redis-server.js';
import { startStrand, type StrandProcess } from './strand-process.js';
import { DEV_KEY, DEV_SECRET } from './tokens.js';

export interface TestCluster {
  redis: RedisServer;
  nodes: StrandProcess[];
  /** Each node's ND_ id, from its start-up line. */
  nodeIds: string[];
  /** RoomService through node `i`. */
  roomService(i: number): RoomServiceClient;
  /** Runs `fn` on a connection of its own to the cluster's Redis (to look at its keys). */
  withRedis<T>(fn: (redis: Redis) => Promise<T>): Promise<T>;
  stop(): Promise<Array<number | null>>;
}

export async function startCluster(count: number, opts: { args?: string[]; config?: (node: number) => string; workers?: number; env?: (node: number) => NodeJS.ProcessEnv } = {}): Promise<TestCluster> {
  const redis = await RedisServer.start();
  const nodes: StrandProcess[] = [];
  try {
    for (let i = 0; i < count; i++) {
      nodes.push(await startStrand({
        workers: opts.workers ?? 1,
        env: opts.env?.(i),
        args: ['--redis-host', redis.address, ...(opts.config ? ['--config-body', opts.config(i)] : []), ...(opts.args ?? [])],
      }));
    }
  } catch (err) {
    await Promise.all(nodes.map((n) => n.stop('SIGKILL')));
    await redis.stop();
    throw err;
  }
  const nodeIds = nodes.map((n) => /"node":"(ND_[^"]+)","msg":"joined the cluster"/.exec(n.stdout())?.[1] ?? '');
  return {
    redis, nodes, nodeIds,
    roomService: (i) => new RoomServiceClient(nodes[i]!.httpUrl, DEV_KEY, DEV_SECRET),
    async withRedis(fn) {
      const client = new Redis({ port: redis.port });
      try {
        return await fn(client);
      } finally {
        client.disconnect();
      }
    },
    async stop() {
      const codes = await Promise.all(nodes.map((n) => n.stop()));
      await redis.stop();
      return codes;
    },
  };
}
