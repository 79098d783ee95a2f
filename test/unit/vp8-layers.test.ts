import assert from 'node:assert/strict';
import { test } from 'node:test';
import { desiredLayer, layerForSize } from '../../src/rtp/layer-selector.js';
import { Vp8Descriptor, Vp8Munger, parseVp8Descriptor } from '../../src/rtp/vp8.js';
import { maxLayerFor } from '../../src/main/rooms/room.js';
import { livekit } from '../../src/proto/index.js';

/** A Chromium-style descriptor: X, I (15-bit picture id), L, T; then one payload byte. */
function vp8(pictureId: number, tl0: number, start = true): Uint8Array {
  return new Uint8Array([start ? 0x90 : 0x80, 0xe0, 0x80 | (pictureId >> 8), pictureId & 0xff, tl0, 0x40, 0x00]);
}

test('parses picture id, TL0PICIDX and temporal id', () => {
  const d = new Vp8Descriptor();
  assert.ok(parseVp8Descriptor(vp8(0x1234, 7), 0, 7, d));
  assert.equal(d.pictureId, 0x1234);
  assert.ok(d.pictureIdLong);
  assert.equal(d.tl0PicIdx, 7);
  assert.equal(d.tid, 1);
  assert.ok(d.frameStart);
  assert.ok(!parseVp8Descriptor(new Uint8Array([0x90, 0xe0, 0x80]), 0, 3, d), 'truncated');
  const short = new Uint8Array([0x90, 0x80, 0x05, 0x00]);
  assert.ok(parseVp8Descriptor(short, 0, 4, d));
  assert.equal(d.pictureId, 5);
  assert.ok(!d.pictureIdLong);
});

test('munger keeps picture ids and TL0PICIDX continuous across a source switch and wraparound', () => {
  const d = new Vp8Descriptor();
  const m = new Vp8Munger();
  const out: Array<[number, number]> = [];
  const send = (pid: number, tl0: number, switching = false) => {
    const pkt = vp8(pid, tl0);
    parseVp8Descriptor(pkt, 0, pkt.length, d);
    if (switching) m.switchSource(d);
    m.rewrite(pkt, d);
    out.push([((pkt[2]! & 0x7f) << 8) | pkt[3]!, pkt[4]!]);
  };
  send(0x7ffe, 254, true);
  send(0x7fff, 255);
  send(0, 0);
  // Another layer with unrelated numbering takes over.
  send(100, 40, true);
  send(101, 41);
  assert.deepEqual(out, [[0x7ffe, 254], [0x7fff, 255], [0, 0], [1, 1], [2, 2]]);
});

test('desired layer: highest active at or below the limit, else the lowest above it', () => {
  assert.equal(desiredLayer(2, 0b111), 2);
  assert.equal(desiredLayer(1, 0b111), 1);
  assert.equal(desiredLayer(2, 0b011), 1, 'f stopped (bandwidth, dynacast)');
  assert.equal(desiredLayer(0, 0b110), 1, 'q stopped: something rather than nothing');
  assert.equal(desiredLayer(-1, 0b111), -1, 'paused');
  assert.equal(desiredLayer(2, 0), -1);
});

test('layer for a viewport size', () => {
  const layers = [{ width: 320, height: 180 }, { width: 640, height: 360 }, { width: 1280, height: 720 }];
  assert.equal(layerForSize(layers, 320, 180), 0);
  assert.equal(layerForSize(layers, 300, 160), 0);
  assert.equal(layerForSize(layers, 400, 225), 1);
  assert.equal(layerForSize(layers, 1280, 720), 2);
  assert.equal(layerForSize(layers, 1920, 1080), 2);
  assert.equal(layerForSize(layers, 0, 0), 2);
});

test('track settings to a layer limit', () => {
  const track: livekit.ITrackInfo = { layers: [
    { quality: livekit.VideoQuality.LOW, width: 320, height: 180 },
    { quality: livekit.VideoQuality.MEDIUM, width: 640, height: 360 },
    { quality: livekit.VideoQuality.HIGH, width: 1280, height: 720 },
  ] };
  assert.equal(maxLayerFor(track, { disabled: true }), -1);
  assert.equal(maxLayerFor(track, { width: 320, height: 180 }), 0);
  assert.equal(maxLayerFor(track, { width: 640, height: 360 }), 1);
  assert.equal(maxLayerFor(track, { quality: livekit.VideoQuality.MEDIUM }), 1);
  assert.equal(maxLayerFor(track, {}), 2);
  assert.equal(maxLayerFor({ layers: [] }, { width: 10, height: 10 }), 0);
});
