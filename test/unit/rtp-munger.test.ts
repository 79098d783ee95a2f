import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RtpMunger } from '../../src/rtp/munger.js';

test('keeps one continuous output stream across a source switch', () => {
  const m = new RtpMunger(1000, 50000);
  m.switchSource(30000, 900000, 1);
  const out: Array<[number, number]> = [];
  for (let i = 0; i < 3; i++) {
    assert.ok(m.map(30000 + i, 900000 + i * 3000));
    out.push([m.seq, m.ts]);
  }
  assert.deepEqual(out.map(([s]) => s), [1000, 1001, 1002]);
  assert.equal(out[1]![1] - out[0]![1], 3000);
  // Switch to a source with unrelated numbers: output continues after the last packet sent.
  m.switchSource(7, 123, 3000);
  assert.ok(m.map(7, 123));
  assert.equal(m.seq, 1003);
  assert.equal(m.ts, (out[2]![1] + 3000) >>> 0);
  assert.ok(m.map(8, 3123));
  assert.equal(m.seq, 1004);
});

test('wraps sequence numbers and timestamps without a jump', () => {
  const m = new RtpMunger(65534, 0xfffffc18);
  m.switchSource(10, 10, 1);
  assert.ok(m.map(10, 10));
  assert.equal(m.seq, 65534);
  assert.ok(m.map(11, 1010));
  assert.equal(m.seq, 65535);
  assert.ok(m.map(12, 2010));
  assert.equal(m.seq, 0);
  assert.equal(m.ts, (0xfffffc19 + 2000) >>> 0);
  assert.ok(m.map(13, 3010));
  assert.equal(m.seq, 1);
});

test('keeps gaps from upstream loss and refuses duplicates and late packets (SRTP replay)', () => {
  const m = new RtpMunger(100, 0);
  m.switchSource(500, 0, 1);
  assert.ok(m.map(500, 0));
  assert.ok(m.map(503, 0));
  assert.equal(m.seq, 103, 'a gap stays a gap so the receiver can NACK it');
  assert.ok(!m.map(503, 0), 'duplicate');
  assert.ok(!m.map(501, 0), 'late packet behind the last one sent');
  assert.ok(m.map(504, 0));
  assert.equal(m.seq, 104);
});

test('input wraparound maps to consecutive output', () => {
  const m = new RtpMunger(10, 0);
  m.switchSource(65535, 0, 1);
  assert.ok(m.map(65535, 0));
  assert.ok(m.map(0, 0));
  assert.ok(m.map(1, 0));
  assert.equal(m.seq, 12);
});
