// Keyframe detection on real RTP captured from Chromium (scripts/capture-rtp-fixtures.ts):
// the first frame of a stream is a keyframe, the frames after it are not.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CODEC_H264, CODEC_VP8, isKeyframe } from '../../src/rtp/keyframe.js';
import { RtpHeader, parseRtpHeader } from '../../src/rtp/packet.js';
import { Vp8Descriptor, parseVp8Descriptor } from '../../src/rtp/vp8.js';

/**
 * The captured media packets. Padded packets are left out: Chromium sends padding-only probes
 * on the media SSRC, and as the captures are cut to 200 bytes their padding count is gone.
 */
function load(name: string): Buffer[] {
  const text = readFileSync(fileURLToPath(new URL(`../../../test/fixtures/${name}`, import.meta.url)), 'utf8');
  return text.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => Buffer.from(l, 'hex')).filter((p) => (p[0]! & 0x20) === 0);
}

/** Frames (by RTP timestamp) of the media packets, each marked key when any packet says so. */
function frames(packets: Buffer[], codec: number): Array<{ ts: number; key: boolean; packets: number }> {
  const h = new RtpHeader();
  const out: Array<{ ts: number; key: boolean; packets: number }> = [];
  const mediaPt = packets.map((p) => p[1]! & 0x7f)[0];
  for (const p of packets) {
    assert.ok(parseRtpHeader(p, p.length, h));
    if (h.payloadType !== mediaPt) continue; // rtx or padding-only streams
    let f = out[out.length - 1];
    if (!f || f.ts !== h.timestamp) out.push(f = { ts: h.timestamp, key: false, packets: 0 });
    f.packets++;
    // The captures are cut to 200 bytes: detection must only need the start of the payload.
    if (isKeyframe(codec, p, h.payloadOffset, p.length)) f.key = true;
  }
  return out;
}

test('VP8 from Chromium: the first frame is a keyframe, the following frames are not', () => {
  const packets = load('rtp-vp8.hex');
  const f = frames(packets, CODEC_VP8);
  assert.ok(f.length > 20, `${f.length} frames`);
  assert.ok(f[0]!.key, 'first frame');
  assert.ok(f[0]!.packets > 1, 'a keyframe spans several packets');
  assert.equal(f.slice(1).filter((x) => x.key).length, 0, 'no delta frame taken for a keyframe');
  // Chromium always sends 15-bit picture ids and TL0PICIDX: the munger relies on it.
  const h = new RtpHeader();
  const d = new Vp8Descriptor();
  for (const p of packets) {
    parseRtpHeader(p, p.length, h);
    if ((p[1]! & 0x7f) !== (packets[0]![1]! & 0x7f)) continue;
    assert.ok(parseVp8Descriptor(p, h.payloadOffset, p.length, d));
    assert.ok(d.pictureIdOffset > 0 && d.pictureIdLong);
  }
});

test('H.264 from Chromium: the first frame (SPS/PPS/IDR) is a keyframe, the following frames are not', () => {
  const f = frames(load('rtp-h264.hex'), CODEC_H264);
  assert.ok(f.length > 20, `${f.length} frames`);
  assert.ok(f[0]!.key, 'first frame');
  assert.equal(f.slice(1).filter((x) => x.key).length, 0);
});
