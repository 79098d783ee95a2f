// Seats of a room spanning nodes, in a real Redis: joins racing through different nodes never
// overfill a node, a participant coming back keeps its seat, a node that is gone loses its
// seats, and a participant who only publishes stays with the room's home.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import { RoomSeats } from '../../src/main/cascade/room-seats.js';
import type { RedisConnection } from '../../src/main/cluster/redis-client.js';
import { RedisServer } from '../helpers/redis-server.js';

let server: RedisServer;
let redis: Redis;

before(async () => {
  server = await RedisServer.start();
  redis = new Redis({ port: server.port });
});

after(async () => {
  redis?.disconnect();
  await server?.stop();
});

test('racing joins fill the nodes in order, up to the cap; rejoins keep their seat; gone nodes free theirs', async () => {
  // Three "nodes" each with their own connection, as three Strand processes would have.
  const conns = [0, 1, 2].map(() => new Redis({ port: server.port }));
  try {
    const seats = conns.map((c) => new RoomSeats(c as unknown as RedisConnection));
    const candidates = ['ND_home', 'ND_b', 'ND_c', 'ND_d'];
    const picks = await Promise.all(Array.from({ length: 10 }, (_, i) => seats[i % 3]!.take('r', `sub-${i}`, true, 3, candidates)));
    const count = (node: string) => picks.filter((p) => p === node).length;
    assert.deepEqual(candidates.map(count), [3, 3, 3, 1], picks.join(' '));

    assert.equal(await seats[1]!.take('r', 'pub', false, 3, candidates), 'ND_home', 'a publisher that does not subscribe goes home, uncounted');
    const mine = picks[4]!;
    assert.equal(await seats[2]!.take('r', 'sub-4', true, 3, candidates), mine, 'a rejoin keeps its seat');
    assert.equal(await seats[0]!.seatOf('r', 'sub-4'), mine);

    // ND_b is gone: its participants find seats elsewhere (D has room for two more).
    await seats[0]!.freeGone('r', ['ND_home', 'ND_c', 'ND_d']);
    const survivors = candidates.filter((n) => n !== 'ND_b');
    const moved = await Promise.all(picks.map((p, i) => (p === 'ND_b' ? seats[0]!.take('r', `sub-${i}`, true, 3, survivors) : null)));
    // D fills to the cap; with every node full, the least loaded (the first of them) takes one more.
    assert.deepEqual(moved.filter(Boolean).sort(), ['ND_d', 'ND_d', 'ND_home']);

    // A seat freed by another node stays: only its own node frees it. (sub-0's seat is read
    // back: the race decides whether it was on ND_b and has just moved.)
    const seat0 = await seats[0]!.seatOf('r', 'sub-0');
    assert.notEqual(seat0, null);
    await seats[0]!.free('r', 'sub-0', 'ND_other');
    assert.equal(await seats[0]!.seatOf('r', 'sub-0'), seat0);
    await seats[0]!.free('r', 'sub-0', seat0!);
    assert.equal(await seats[0]!.seatOf('r', 'sub-0'), null);
  } finally {
    for (const c of conns) c.disconnect();
  }
});

test('the room\'s node set keeps the order nodes joined it; links are advertised and read back', async () => {
  const seats = new RoomSeats(redis as unknown as RedisConnection);
  await seats.addMember('s', 'ND_home');
  await new Promise((r) => setTimeout(r, 5));
  await seats.addMember('s', 'ND_x');
  await seats.addMember('s', 'ND_home');
  assert.deepEqual(await seats.members('s'), ['ND_home', 'ND_x']);
  await seats.removeMember('s', 'ND_x');
  assert.deepEqual(await seats.members('s'), ['ND_home']);
  await seats.advertise('ND_home', { host: '127.0.0.1', udpPort: 4000, tcpPort: 4001, linkId: 123 });
  await redis.hset('cascade_links', 'ND_bad', 'garbage');
  assert.deepEqual([...await seats.addresses()], [['ND_home', { host: '127.0.0.1', udpPort: 4000, tcpPort: 4001, linkId: 123 }]]);
  await seats.clear('s');
  assert.deepEqual(await seats.members('s'), []);
});
