// Nudge packets continue a recorded stream where it stopped: the next sequence numbers and
// timestamps, Opus silence for audio, the last whole keyframe again for video.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InputTail } from '../../src/workers/egress/input-tail.js';

function rtp(seq: number, ts: number, marker: boolean, payload: number[], pt = 96): Buffer {
  const b = Buffer.alloc(12 + payload.length);
  b[0] = 0x80;
  b[1] = (marker ? 0x80 : 0) | pt;
  b.writeUInt16BE(seq, 2);
  b.writeUInt32BE(ts, 4);
  b.writeUInt32BE(0xabcd, 8);
  b.set(payload, 12);
  return b;
}

test('audio: silence frames that continue the sequence and the timestamp by 20 ms', () => {
  const tail = new InputTail(true, 48000);
  assert.deepEqual(tail.nudge(), [], 'nothing before the first packet');
  tail.onPacket(rtp(65535, 1000, true, [1, 2, 3], 111), 15, null);
  const [a] = tail.nudge();
  assert.equal(a!.readUInt16BE(2), 0, 'sequence wraps');
  assert.equal(a!.readUInt32BE(4), 1960);
  assert.equal(a![1]! & 0x7f, 111);
  assert.equal(a!.readUInt32BE(8), 0xabcd);
  assert.deepEqual([...a!.subarray(12)], [0xf8, 0xff, 0xfe]);
  assert.equal(tail.nudge()[0]!.readUInt32BE(4), 2920);
});

test('video: the last complete keyframe again, renumbered, one frame later', () => {
  const tail = new InputTail(false, 90000);
  tail.onPacket(rtp(10, 9000, false, [1]), 13, false);
  assert.deepEqual(tail.nudge(), [], 'no keyframe seen yet');
  tail.onPacket(rtp(11, 12000, false, [0xa]), 13, true);
  tail.onPacket(rtp(12, 12000, true, [0xb]), 13, false);
  tail.onPacket(rtp(13, 15000, true, [0xc]), 13, false);
  const frame = tail.nudge();
  assert.deepEqual(frame.map((p) => p[12]), [0xa, 0xb]);
  assert.deepEqual(frame.map((p) => p.readUInt16BE(2)), [14, 15]);
  assert.deepEqual(frame.map((p) => p.readUInt32BE(4)), [18000, 18000]);
  assert.equal(frame[1]![1]! & 0x80, 0x80, 'the frame ends with the marker');
});
