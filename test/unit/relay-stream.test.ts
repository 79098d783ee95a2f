// The signal relay's stream: in order and once over a bus that drops, duplicates and reorders;
// retries until acknowledged; gives up after retry_timeout.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { strand } from '../../src/proto/index.js';
import { RelayStream } from '../../src/main/cluster/relay-stream.js';

const CFG = { retryTimeoutMs: 400, minRetryIntervalMs: 10, maxRetryIntervalMs: 40 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const wire = (p: strand.IRelayPacket) => strand.RelayPacket.decode(strand.RelayPacket.encode(p).finish());

test('delivers every frame once and in order over a lossy, duplicating, reordering bus', async () => {
  let seed = 7;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const got: string[] = [];
  let a!: RelayStream;
  let b!: RelayStream;
  const bus = (to: () => RelayStream) => (p: strand.IRelayPacket) => {
    const r = random();
    if (r < 0.3) return; // lost
    const copies = r > 0.9 ? 2 : 1;
    for (let i = 0; i < copies; i++) setTimeout(() => to().receive(wire(p)), Math.floor(random() * 5));
  };
  a = new RelayStream('s', CFG, bus(() => b), () => {}, () => assert.fail('a timed out'));
  b = new RelayStream('s', CFG, bus(() => a), (p) => got.push(new TextDecoder().decode(p.frame!.data!)), () => assert.fail('b timed out'));
  const sent = Array.from({ length: 100 }, (_, i) => `m${i}`);
  for (const m of sent) a.send({ frame: { data: new TextEncoder().encode(m), binary: true } });
  for (let i = 0; i < 100 && !(a.idle && got.length === sent.length); i++) await sleep(10);
  assert.deepEqual(got, sent);
  assert.ok(a.idle, 'everything acknowledged');
  assert.equal(a.bufferedBytes, 0);
  a.close();
  b.close();
});

test('gives up when nothing is acknowledged for retry_timeout', async () => {
  let sends = 0;
  let timedOut = false;
  const s = new RelayStream('s', CFG, () => { sends++; }, () => {}, () => { timedOut = true; });
  s.send({ frame: { data: new Uint8Array(10), binary: true } });
  assert.equal(s.bufferedBytes, 10);
  await sleep(600);
  assert.ok(timedOut, 'timed out');
  assert.ok(sends >= 4 && sends <= 20, `retried with backoff (${sends} sends)`);
  assert.ok(s.closed);
});
