import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PacketCache } from '../../src/rtp/packet-cache.js';
import { RtcpCursor, nextRtcp, readNack, writeNack } from '../../src/rtp/rtcp.js';
import { Sequencer } from '../../src/rtp/sequencer.js';

test('packet cache: hits for recent packets, misses once a slot is reused or never filled', () => {
  const cache = new PacketCache(4, 16);
  for (let seq = 65534; seq !== 3; seq = (seq + 1) & 0xffff) cache.put(seq, new Uint8Array([seq & 0xff, 1, 2]), 3);
  // 65534, 65535, 0, 1, 2 were stored in 4 slots: 65534 (slot 2) was replaced by 2.
  assert.equal(cache.find(65534), -1, 'overwritten');
  for (const seq of [65535, 0, 1, 2]) {
    const off = cache.find(seq);
    assert.ok(off >= 0, `hit ${seq}`);
    assert.equal(cache.lengthAt(off), 3);
    assert.equal(cache.buffer[off], seq & 0xff);
  }
  assert.equal(cache.find(3), -1, 'never stored');
  cache.put(9, new Uint8Array(17), 17);
  assert.equal(cache.find(9), -1, 'larger than a slot: not kept');
});

test('sequencer maps outgoing sequence numbers back to what was sent', () => {
  const s = new Sequencer(500);
  s.push(65535, 100, 2, 12345, 300, 7);
  s.push(0, 101, 2, 12345, 300, 7);
  assert.ok(s.lookup(65535));
  assert.deepEqual([s.inSeq, s.layer, s.timestamp, s.pictureId, s.tl0], [100, 2, 12345, 300, 7]);
  assert.ok(s.lookup(0));
  assert.equal(s.inSeq, 101);
  assert.ok(!s.lookup(1));
  s.push(512, 999, 0, 1, -1, -1); // same ring slot as 0 (capacity rounds up to 512)
  assert.ok(!s.lookup(0), 'overwritten');
});

test('NACK: written and read back, across a wrap and with the bitmask', () => {
  const seqs = [65530, 65531, 65535, 0, 3, 40];
  const buf = new Uint8Array(64);
  const n = writeNack(buf, 1, 2, seqs, seqs.length);
  assert.equal(n, 12 + 8, 'two FCI entries: 65530 (+1,+5,+6,+9) and 40');
  const c = new RtcpCursor();
  assert.ok(nextRtcp(buf, n, c));
  const out = new Uint16Array(32);
  const count = readNack(buf, c, out);
  assert.deepEqual([...out.subarray(0, count)], seqs);
  const tiny = new Uint16Array(2);
  assert.equal(readNack(buf, c, tiny), 2, 'bounded by the output array');
});
