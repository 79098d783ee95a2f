import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TokenBucket } from '../../src/limits/token-bucket.js';

test('token bucket: a burst up to its size, then the rate; no limit at rate 0', () => {
  const b = new TokenBucket(10, 5, 0);
  let taken = 0;
  for (let i = 0; i < 20; i++) if (b.take(1, 0)) taken++;
  assert.equal(taken, 5, 'the burst');
  assert.equal(b.take(1, 50), false, 'half a token after 50 ms');
  assert.equal(b.take(1, 100), true, 'one token after 100 ms');
  assert.equal(b.take(3, 400), true, 'three more after 300 ms more');
  assert.equal(b.take(1, 10_000) && b.take(4, 10_000) && !b.take(1, 10_000), true, 'never more than the burst saved up');
  assert.equal(b.take(6, 20_000), false, 'a take larger than the burst never passes');
  const free = new TokenBucket(0, 0, 0);
  for (let i = 0; i < 1000; i++) assert.ok(free.take(1_000_000, 0));
});
