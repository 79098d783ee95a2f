import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LossTracker } from '../../src/rtp/loss-tracker.js';
import { RtpMunger } from '../../src/rtp/munger.js';

test('gaps become missing packets, due for NACK now and again after 100 ms, at most 3 times', () => {
  const t = new LossTracker();
  const out = new Uint16Array(16);
  for (const seq of [65533, 65534, 1, 2]) t.onPacket(seq, 0); // 65535 and 0 lost across the wrap
  assert.equal(t.lost, 2);
  assert.ok(t.isMissing(65535) && t.isMissing(0));
  assert.deepEqual([...out.subarray(0, t.due(10, out))], [65535, 0]);
  assert.equal(t.due(50, out), 0, 'not again before 100 ms');
  t.onPacket(0, 60); // repaired
  assert.ok(!t.isMissing(0));
  assert.deepEqual([...out.subarray(0, t.due(120, out))], [65535]);
  assert.equal(t.due(230, out), 1);
  assert.equal(t.due(340, out), 0, 'given up after 3 tries');
  assert.equal(t.pending, 0);
});

test('late packets are not losses; huge jumps are bounded', () => {
  const t = new LossTracker();
  t.onPacket(100, 0);
  t.onPacket(99, 0);
  assert.equal(t.lost, 0);
  t.onPacket(5000, 0);
  assert.equal(t.lost, 100);
});

test('munger maps passed input sequence numbers both ways within the current source only', () => {
  const m = new RtpMunger(1000, 0);
  m.switchSource(50, 0, 1);
  m.map(50, 0);
  m.map(53, 0); // 51, 52 lost upstream: output 1001, 1002 skipped
  assert.equal(m.unmapSeq(1001), 51);
  assert.equal(m.mapPassedSeq(52), 1002);
  assert.equal(m.mapPassedSeq(54), -1, 'not passed yet');
  m.switchSource(900, 0, 1);
  m.map(900, 0);
  assert.equal(m.mapPassedSeq(52), -1, 'belongs to the previous source');
  assert.equal(m.unmapSeq(1001), -1);
});
