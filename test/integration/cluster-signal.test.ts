// The cluster's signal path at the protocol level (raw signal clients, no media): the room's
// node's refusals come back through the edge with their HTTP status; a malformed frame through
// the relay ends only that client's session; joins racing into one new room through three
// nodes all land in one room on one node; and joins relayed right after are not dropped.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startCluster, type TestCluster } from '../helpers/cluster.js';
import { RawSignalClient } from '../helpers/signal-client.js';
import { joinToken } from '../helpers/tokens.js';
import { waitFor } from '../helpers/wait.js';

let cluster: TestCluster;
before(async () => {
  cluster = await startCluster(3);
});
after(async () => {
  const codes = await cluster?.stop();
  assert.deepEqual(codes, [0, 0, 0], cluster?.nodes.map((n) => n.stderr()).join('\n'));
});

const api = (i: number) => cluster.roomService(i);

test('the room\'s node refuses through the edge with its own status; a bad token stops at the edge', async () => {
  const room = `full-${Date.now()}`;
  await api(0).createRoom({ name: room, nodeId: cluster.nodeIds[1], maxParticipants: 1 });
  const first = await RawSignalClient.connect(cluster.nodes[1]!.url, await joinToken(room, 'first'));
  try {
    await first.next('join');
    // A and C relay to B, which answers 403 (full); the client gets exactly that.
    for (const i of [0, 2]) {
      await assert.rejects(RawSignalClient.connect(cluster.nodes[i]!.url, await joinToken(room, `late-${i}`)), (err: Error & { status?: number }) => err.status === 403);
    }
    await assert.rejects(RawSignalClient.connect(cluster.nodes[0]!.url, 'not-a-token'), (err: Error & { status?: number }) => err.status === 401);
  } finally {
    first.close();
  }
});

test('a malformed frame through the relay ends only that session', async () => {
  const room = `garbage-${Date.now()}`;
  await api(0).createRoom({ name: room, nodeId: cluster.nodeIds[1] });
  const bad = await RawSignalClient.connect(cluster.nodes[0]!.url, await joinToken(room, 'bad'));
  const good = await RawSignalClient.connect(cluster.nodes[2]!.url, await joinToken(room, 'good'));
  try {
    await bad.next('join');
    await good.next('join');
    bad.sendRaw(Buffer.from([0xff, 0xff, 0xff, 0x01, 0x02]));
    assert.equal(await bad.closed(5000), 1007, 'closed as invalid payload, by the room\'s node, through the edge');
    const before = good.messages.length;
    good.send({ ping: 1 });
    await good.next('pong', 5000, before);
    await waitFor(async () => (await api(0).listParticipants(room)).map((p) => p.identity).join() === 'good', 10_000, 'only "good" left');
  } finally {
    bad.close();
    good.close();
  }
});

test('nine joins racing into one new room through three nodes make one room on one node', { timeout: 60_000 }, async () => {
  const room = `race-${Date.now()}`;
  const clients = await Promise.all(Array.from({ length: 9 }, async (_, i) =>
    RawSignalClient.connect(cluster.nodes[i % 3]!.url, await joinToken(room, `racer-${i}`))));
  try {
    const joins = await Promise.all(clients.map((c) => c.next('join')));
    const sids = new Set(joins.map((j) => j.join!.room!.sid));
    assert.equal(sids.size, 1, `one room instance (${[...sids].join(', ')})`);
    const nodes = new Set(joins.map((j) => j.join!.serverInfo!.nodeId));
    assert.equal(nodes.size, 1, 'served by one node');
    assert.equal(await cluster.withRedis((redis) => redis.hget('room_node_map', room)), [...nodes][0]);
    for (const i of [0, 1, 2]) {
      await waitFor(async () => (await api(i).listRooms([room])).map((r) => r.numParticipants).join() === '9', 10_000, `node ${i} to list the room once with 9 participants`);
    }
  } finally {
    for (const c of clients) c.close();
  }
});

// A relayed upgrade used to be made inside res.cork: now and then a later WebSocket of the edge
// was then closed (1006) a few ms after its own upgrade, before any frame (about 1 run of this
// file in 5). Relayed joins right after the race above, which opened and closed nine sessions.
test('relayed joins right after the race are not dropped', async () => {
  const room = `after-race-${Date.now()}`;
  await api(0).createRoom({ name: room, nodeId: cluster.nodeIds[1] });
  const clients = [
    await RawSignalClient.connect(cluster.nodes[0]!.url, await joinToken(room, 'a')),
    await RawSignalClient.connect(cluster.nodes[2]!.url, await joinToken(room, 'c')),
  ];
  try {
    for (const c of clients) await c.next('join');
  } finally {
    for (const c of clients) c.close();
  }
});
