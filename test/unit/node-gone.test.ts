// A peer node seen gone before its registry entry ages out: a port nobody listens on refuses
// (a listening one does not), and a node marked gone is unavailable until it writes its stats
// again.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:net';
import { test } from 'node:test';
import type { livekit } from '../../src/proto/index.js';
import { NodeRegistry } from '../../src/main/cluster/node-registry.js';
import { portRefuses } from '../../src/main/cluster/port-probe.js';
import type { RedisConnection } from '../../src/main/cluster/redis-client.js';
import { createLogger } from '../../src/main/logger.js';

async function listening(): Promise<{ server: Server; port: number }> {
  const server = createServer((socket) => socket.destroy());
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as { port: number }).port };
}

test('a closed port refuses; a listening one does not', async () => {
  const { server, port } = await listening();
  assert.equal(await portRefuses('127.0.0.1', port, 1000), false);
  server.close();
  await once(server, 'close');
  assert.equal(await portRefuses('127.0.0.1', port, 1000), true);
});

test('a node marked gone is unavailable until a later write of its stats', () => {
  const registry = new NodeRegistry('ND_self', '127.0.0.1', '', {} as RedisConnection, () => {
    throw new Error('not used');
  }, () => {}, createLogger('silent'));
  const nowS = Math.floor(Date.now() / 1000);
  const node = (id: string, updatedAt: number): livekit.INode => ({ id, stats: { updatedAt } });

  assert.equal(registry.isAvailable(node('ND_b', nowS)), true, 'fresh stats: available');
  registry.markGone('ND_b');
  assert.equal(registry.isAvailable(node('ND_b', nowS)), false, 'gone, though its stats are fresh');
  assert.equal(registry.isAvailable(node('ND_b', nowS - 1)), false);
  assert.equal(registry.isAvailable(node('ND_c', nowS)), true, 'other nodes are not affected');
  // Two seconds on: the mark holds the second it was made in, which may be nowS + 1.
  assert.equal(registry.isAvailable(node('ND_b', nowS + 2)), true, 'it wrote again: not gone after all');
  assert.equal(registry.isAvailable(node('ND_b', nowS - 10), nowS), false, 'stale stats still count');

  registry.markGone('ND_self');
  assert.equal(registry.isAvailable(node('ND_self', nowS)), true, 'a node never marks itself gone');
});
