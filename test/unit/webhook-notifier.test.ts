import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { WebhookReceiver } from 'livekit-server-sdk';
import { pino } from 'pino';
import { LmdbStore } from '../../src/main/store/lmdb-store.js';
import { WebhookNotifier, bodyHash, webhookBody } from '../../src/main/webhook/webhook-notifier.js';
import { waitFor } from '../helpers/wait.js';

const log = pino({ level: 'silent' });
const tempStore = () => new LmdbStore(mkdtempSync(join(tmpdir(), 'strand-unit-')));

/** An HTTP receiver; `answer` decides each response's status from the verified event. */
async function receiver(answer: (event: string, room: string) => number) {
  const verify = new WebhookReceiver('devkey', 'secret');
  const got: string[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (c: Buffer) => { body += c.toString(); });
    req.on('end', () => {
      verify.receive(body, req.headers.authorization).then((e) => {
        const status = answer(e.event, e.room?.name ?? '');
        if (status === 200) got.push(`${e.room?.name}:${e.event}`);
        res.writeHead(status).end();
      }, () => res.writeHead(401).end());
    });
  }).listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { got, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, close: () => { server.closeAllConnections(); server.close(); } };
}

test('the body is protojson and its hash is what receivers check', () => {
  const body = webhookBody({ event: 'room_started', room: { name: 'r', creationTime: 1700000000 }, id: 'EV_x', createdAt: 1700000001 });
  assert.deepEqual(JSON.parse(body), { event: 'room_started', room: { name: 'r', creationTime: '1700000000' }, id: 'EV_x', createdAt: '1700000001' });
  assert.match(bodyHash(body), /^[A-Za-z0-9+/]{43}=$/);
});

test('events of one room stay in order through retries; other rooms are not held up', async () => {
  let failuresLeft = 3;
  const rx = await receiver((_event, room) => (room === 'slow' && failuresLeft-- > 0 ? 503 : 200));
  const store = tempStore();
  const n = new WebhookNotifier(store, { urls: [rx.url], apiKey: 'devkey', keys: { devkey: 'secret' }, maxAgeSeconds: 60, requestTimeoutMs: 2000 }, log);
  try {
    n.start();
    for (const event of ['room_started', 'participant_joined', 'room_finished']) n.notify({ event, room: { name: 'slow' } });
    n.notify({ event: 'room_started', room: { name: 'fast' } });
    await waitFor(() => rx.got.length === 4, 10_000, 'all four deliveries');
    assert.equal(rx.got[0], 'fast:room_started', 'the healthy room went first while the other retried');
    assert.deepEqual(rx.got.filter((g) => g.startsWith('slow:')), ['slow:room_started', 'slow:participant_joined', 'slow:room_finished']);
    await store.flushed();
    assert.deepEqual(store.pendingWebhooks(), [], 'delivered events leave the queue');
  } finally {
    n.close();
    rx.close();
    await store.close();
  }
});

test('undelivered events survive a restart of the notifier, and expire after max_age', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'strand-unit-'));
  const down = 'http://127.0.0.1:9/unreachable';
  let store = new LmdbStore(dir);
  let n = new WebhookNotifier(store, { urls: [down], apiKey: 'devkey', keys: { devkey: 'secret' }, maxAgeSeconds: 60, requestTimeoutMs: 500 }, log);
  n.start();
  n.notify({ event: 'room_started', room: { name: 'a' } });
  n.notify({ event: 'room_finished', room: { name: 'a' } });
  n.close();
  await store.close();

  store = new LmdbStore(dir);
  const pending = store.pendingWebhooks();
  assert.equal(pending.length, 2);
  assert.ok(pending[0]!.seq < pending[1]!.seq);
  assert.deepEqual(pending.map((p) => (JSON.parse(p.body) as { event: string }).event), ['room_started', 'room_finished']);
  const rx = await receiver(() => 200);
  // The stored deliveries still name the unreachable URL: with a short max_age they expire
  // instead of being retried for ever, while new events reach the live receiver.
  n = new WebhookNotifier(store, { urls: [rx.url], apiKey: 'devkey', keys: { devkey: 'secret' }, maxAgeSeconds: 0.3, requestTimeoutMs: 200 }, log);
  try {
    n.start();
    await waitFor(() => n.dropped === 2, 5000, 'the unreachable deliveries to expire');
    await store.flushed();
    assert.deepEqual(store.pendingWebhooks(), []);
    n.notify({ event: 'room_started', room: { name: 'b' } });
    await waitFor(() => rx.got.length === 1, 5000, 'a fresh event to arrive');
    assert.deepEqual(rx.got, ['b:room_started']);
  } finally {
    n.close();
    rx.close();
    await store.close();
  }
});

test('the store keeps rooms and participants, and sequence numbers keep rising across reopen', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'strand-unit-'));
  let store = new LmdbStore(dir);
  store.putRoom({ sid: 'RM_1', name: 'r', metadata: 'm', emptyTimeout: 1, departureTimeout: 2, maxParticipants: 3, creationTimeMs: 4, createdByApi: true });
  store.putParticipant({ roomName: 'r', identity: 'a', info: new Uint8Array([1, 2]), wasActive: true });
  store.putParticipant({ roomName: 'r', identity: 'b', info: new Uint8Array([3]), wasActive: false });
  store.deleteParticipant('r', 'b');
  const [first] = store.enqueueWebhooks([{ url: 'u', room: 'r', body: '{}', createdAtMs: 1 }]);
  await store.close();
  store = new LmdbStore(dir);
  try {
    assert.deepEqual(store.rooms().map((r) => [r.name, r.metadata, r.createdByApi]), [['r', 'm', true]]);
    assert.deepEqual(store.participants().map((p) => [p.identity, [...p.info], p.wasActive]), [['a', [1, 2], true]]);
    const [second] = store.enqueueWebhooks([{ url: 'u', room: 'r', body: '{}', createdAtMs: 2 }]);
    assert.ok(second!.seq > first!.seq);
    store.deleteRoom('r');
    await store.flushed();
    assert.deepEqual(store.rooms(), []);
  } finally {
    await store.close();
  }
});
