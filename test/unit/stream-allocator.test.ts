import assert from 'node:assert/strict';
import { test } from 'node:test';
import { allocate } from '../../src/workers/media/stream-allocator.js';

const sim = (id: string, priority: number, maxLayer = 2) => ({ id, priority, maxLayer, layerBitrates: [150_000, 450_000, 1_700_000] });

test('everything fits: each track up to what it asked for', () => {
  const caps = allocate([sim('a', 1), sim('b', 1, 1)], 5_000_000);
  assert.equal(caps.get('a'), 2);
  assert.equal(caps.get('b'), 1);
});

test('tight budget: lowest layers first, then upgrades by priority', () => {
  const caps = allocate([sim('low', 0), sim('high', 5)], 800_000);
  // 150k + 150k = 300k; high priority moves up to h (+300k) = 600k; f (+1.25M) does not fit;
  // low moves to h? +300k = 900k > 800k: stays at q.
  assert.equal(caps.get('high'), 1);
  assert.equal(caps.get('low'), 0);
});

test('a track whose lowest layer does not fit is paused; disabled tracks stay paused', () => {
  const caps = allocate([sim('a', 2), sim('b', 1), sim('off', 9, -1)], 200_000);
  assert.equal(caps.get('a'), 0);
  assert.equal(caps.get('b'), -1);
  assert.equal(caps.get('off'), -1);
});
