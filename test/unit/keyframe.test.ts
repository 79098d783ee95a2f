// VP8 (RFC 7741) and H264 (RFC 6184) keyframe detection on payloads shaped like Chromium's.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CODEC_H264, CODEC_VP8, codecId, isH264Keyframe, isKeyframe, isVp8Keyframe } from '../../src/rtp/keyframe.js';

const u8 = (...b: number[]) => new Uint8Array(b);

test('VP8: Chromium descriptors (X, I with 15-bit picture id, L, T/K) on a keyframe start', () => {
  // X=1 S=1 PID=0 | I=1 L=1 T=1 K=0 | M=1 pictureId 0x1234 | TL0PICIDX | TID | VP8 header P=0
  const key = u8(0x90, 0xe0, 0x92, 0x34, 0x05, 0x20, 0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a);
  assert.ok(isVp8Keyframe(key, 0, key.length));
  const delta = u8(0x90, 0xe0, 0x92, 0x35, 0x05, 0x20, 0x11, 0x02, 0x00);
  assert.ok(!isVp8Keyframe(delta, 0, delta.length), 'P bit set: interframe');
  const middle = u8(0x80, 0xe0, 0x92, 0x34, 0x05, 0x20, 0x10, 0x02, 0x00);
  assert.ok(!isVp8Keyframe(middle, 0, middle.length), 'S=0: not the first packet of the frame');
  const partition1 = u8(0x91, 0xe0, 0x92, 0x34, 0x05, 0x20, 0x10);
  assert.ok(!isVp8Keyframe(partition1, 0, partition1.length), 'PID=1');
  const short = u8(0x10, 0x11);
  assert.ok(!isVp8Keyframe(short, 0, short.length), 'no X: descriptor byte then P=1');
  assert.ok(isVp8Keyframe(u8(0x10, 0x00), 0, 2));
  assert.ok(!isVp8Keyframe(u8(0x90, 0x80), 0, 2), 'truncated descriptor');
  assert.ok(!isVp8Keyframe(u8(), 0, 0));
});

test('VP8: respects the payload offset', () => {
  const pkt = u8(0xff, 0xff, 0xff, 0x10, 0x00);
  assert.ok(isVp8Keyframe(pkt, 3, pkt.length));
});

test('H264: IDR and SPS single NAL units, STAP-A and FU-A', () => {
  assert.ok(isH264Keyframe(u8(0x65, 0x88), 0, 2), 'IDR slice');
  assert.ok(isH264Keyframe(u8(0x67, 0x42), 0, 2), 'SPS');
  assert.ok(!isH264Keyframe(u8(0x41, 0x9a), 0, 2), 'non-IDR slice');
  // STAP-A with SPS (len 3) and PPS (len 2)
  assert.ok(isH264Keyframe(u8(0x78, 0x00, 0x03, 0x67, 0x42, 0xc0, 0x00, 0x02, 0x68, 0xce), 0, 10));
  assert.ok(!isH264Keyframe(u8(0x78, 0x00, 0x02, 0x06, 0x05), 0, 5), 'STAP-A with SEI only');
  assert.ok(isH264Keyframe(u8(0x7c, 0x85, 0x88), 0, 3), 'FU-A start of IDR');
  assert.ok(!isH264Keyframe(u8(0x7c, 0x05, 0x88), 0, 3), 'FU-A continuation');
  assert.ok(!isH264Keyframe(u8(0x7c, 0x81), 0, 2), 'FU-A start of non-IDR');
});

test('codec ids dispatch detection by mime type', () => {
  assert.equal(codecId('video/VP8'), CODEC_VP8);
  assert.equal(codecId('video/h264'), CODEC_H264);
  assert.ok(isKeyframe(CODEC_H264, u8(0x65), 0, 1));
  assert.ok(!isKeyframe(codecId('audio/opus'), u8(0x65), 0, 1));
});
