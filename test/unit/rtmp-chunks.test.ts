// The RTMP pieces an encoder's bytes go through: AMF0 values, the chunk stream (interleaved
// chunk streams, compressed headers, extended timestamps, chunk size changes), FLV tags, and
// the refusal of what cannot be RTMP.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { Amf0Error, Amf0Reader, encodeAmf0 } from '../../src/workers/ingress/rtmp/amf0.js';
import { FLV_HEADER, flvTag, metadataKinds, scriptBody } from '../../src/workers/ingress/rtmp/flv.js';
import { ChunkReader, MAX_MESSAGE_BYTES, RtmpProtocolError, writeMessage, type RtmpMessage } from '../../src/workers/ingress/rtmp/rtmp-chunks.js';

test('AMF0: a command round-trips; truncated or unknown values throw Amf0Error', () => {
  const payload = encodeAmf0('connect', 1, { app: 'live', tcUrl: 'rtmp://h/live', fpad: false, n: [1, 'x', null] }, null, undefined);
  assert.deepEqual(new Amf0Reader(payload).readAll(), ['connect', 1, { app: 'live', tcUrl: 'rtmp://h/live', fpad: false, n: [1, 'x', null] }, null, undefined]);
  assert.throws(() => new Amf0Reader(payload.subarray(0, payload.length - 5)).readAll(), Amf0Error);
  assert.throws(() => new Amf0Reader(Buffer.from([0x42])).read(), Amf0Error);
  // A strict array claiming more items than bytes, and deep nesting, are refused without work.
  assert.throws(() => new Amf0Reader(Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff])).read(), Amf0Error);
  const deep = Buffer.concat([...Array.from({ length: 40 }, () => Buffer.from([0x03, 0x00, 0x01, 0x61])), Buffer.from([0x05])]);
  assert.throws(() => new Amf0Reader(deep).read(), Amf0Error);
});

function collect(): { reader: ChunkReader; messages: RtmpMessage[] } {
  const messages: RtmpMessage[] = [];
  return { reader: new ChunkReader((m) => messages.push(m)), messages };
}

test('chunks: a message cut into chunks is reassembled, byte by byte as well as at once', () => {
  const payload = randomBytes(1000);
  const wire = writeMessage(6, { type: 9, streamId: 1, timestamp: 4242, payload }, 128);
  for (const step of [wire.length, 1, 7]) {
    const { reader, messages } = collect();
    for (let i = 0; i < wire.length; i += step) reader.push(wire.subarray(i, i + step));
    assert.equal(messages.length, 1);
    assert.deepEqual(messages[0], { type: 9, streamId: 1, timestamp: 4242, payload });
  }
});

test('chunks: compressed headers (types 1, 2, 3) reuse and add to what came before; extended timestamps', () => {
  const { reader, messages } = collect();
  const fmt0 = Buffer.from([0x04, 0xff, 0xff, 0xff, 0, 0, 2, 8, 1, 0, 0, 0, 0x01, 0x00, 0x00, 0x00, 0xaa, 0xbb]);
  const fmt1 = Buffer.from([0x44, 0, 0, 20, 0, 0, 1, 8, 0xcc]); // delta 20, length 1, audio
  const fmt2 = Buffer.from([0x84, 0, 0, 30, 0xdd]); // delta 30, same length and type
  const fmt3 = Buffer.from([0xc4, 0xee]); // same delta again
  reader.push(Buffer.concat([fmt0, fmt1, fmt2, fmt3]));
  assert.deepEqual(messages.map((m) => [m.timestamp, m.type, m.payload.toString('hex')]), [
    [0x01000000, 8, 'aabb'], [0x01000014, 8, 'cc'], [0x01000032, 8, 'dd'], [0x01000050, 8, 'ee'],
  ]);
});

test('chunks: interleaved chunk streams and a larger chunk size', () => {
  const { reader, messages } = collect();
  const a = writeMessage(4, { type: 9, streamId: 1, timestamp: 0, payload: Buffer.alloc(300, 1) }, 128);
  const b = writeMessage(5, { type: 8, streamId: 1, timestamp: 0, payload: Buffer.alloc(200, 2) }, 128);
  // a: 12+128, 1+128, 1+44; b: 12+128, 1+72. Interleave a1 b1 a2 b2 a3.
  const parts = [a.subarray(0, 140), b.subarray(0, 140), a.subarray(140, 269), b.subarray(140), a.subarray(269)];
  reader.push(Buffer.concat(parts));
  assert.deepEqual(messages.map((m) => [m.type, m.payload.length, m.payload[0]]), [[8, 200, 2], [9, 300, 1]]);
  reader.setChunkSize(4096);
  reader.push(writeMessage(4, { type: 9, streamId: 1, timestamp: 40, payload: Buffer.alloc(3000, 3) }, 4096));
  assert.equal(messages[2]!.payload.length, 3000);
});

test('chunks: what cannot be RTMP is refused (no first full header, oversized message, bad chunk size)', () => {
  assert.throws(() => collect().reader.push(Buffer.from([0xc3, 1, 2, 3])), RtmpProtocolError);
  const big = Buffer.from([0x04, 0, 0, 0, 0, 0, 0, 9, 1, 0, 0, 0]);
  big.writeUIntBE(MAX_MESSAGE_BYTES + 1, 4, 3);
  assert.throws(() => collect().reader.push(big), RtmpProtocolError);
  assert.throws(() => collect().reader.setChunkSize(0), RtmpProtocolError);
  // Garbage either throws RtmpProtocolError or waits for more bytes; it never throws anything else.
  for (let i = 0; i < 200; i++) {
    try {
      collect().reader.push(randomBytes(64 + (i % 300)));
    } catch (err) {
      assert.ok(err instanceof RtmpProtocolError, String(err));
    }
  }
});

test('FLV: header, tags with 32-bit timestamps, and the metadata an encoder sends', () => {
  assert.equal(FLV_HEADER.subarray(0, 3).toString(), 'FLV');
  const tag = flvTag(9, 0x12345678, Buffer.from([1, 2, 3]));
  assert.deepEqual([...tag], [9, 0, 0, 3, 0x34, 0x56, 0x78, 0x12, 0, 0, 0, 1, 2, 3, 0, 0, 0, 14]);
  const meta = encodeAmf0('@setDataFrame', 'onMetaData', { width: 640, videocodecid: 7, audiocodecid: 10 });
  const body = scriptBody(meta);
  assert.equal(new Amf0Reader(body).read(), 'onMetaData');
  assert.deepEqual(metadataKinds(body), { audio: true, video: true });
  assert.deepEqual(metadataKinds(scriptBody(encodeAmf0('@setDataFrame', 'onMetaData', { videocodecid: 7 }))), { audio: false, video: true });
  assert.equal(metadataKinds(Buffer.from([0xff])), null);
});
