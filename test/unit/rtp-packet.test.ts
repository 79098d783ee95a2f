import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ExtensionValue, RtpHeader, extensionEquals, extensionString, findExtension, isRtcp, parseRtpHeader, seqNewer } from '../../src/rtp/packet.js';

/** Builds an RTP packet: header, optional CSRCs, optional extension block, payload, padding. */
function rtp(opts: { seq?: number; ts?: number; ssrc?: number; pt?: number; marker?: boolean; csrcs?: number[]; ext?: { profile: number; data: number[] }; payload?: number[]; padding?: number }): Uint8Array {
  const csrcs = opts.csrcs ?? [];
  const extLen = opts.ext ? 4 + opts.ext.data.length : 0;
  const payload = opts.payload ?? [0xaa, 0xbb];
  const pad = opts.padding ?? 0;
  const buf = new Uint8Array(12 + csrcs.length * 4 + extLen + payload.length + pad);
  const dv = new DataView(buf.buffer);
  buf[0] = 0x80 | (opts.ext ? 0x10 : 0) | (pad ? 0x20 : 0) | csrcs.length;
  buf[1] = (opts.marker ? 0x80 : 0) | (opts.pt ?? 96);
  dv.setUint16(2, opts.seq ?? 1);
  dv.setUint32(4, opts.ts ?? 1000);
  dv.setUint32(8, opts.ssrc ?? 0xdeadbeef);
  let off = 12;
  for (const c of csrcs) { dv.setUint32(off, c); off += 4; }
  if (opts.ext) {
    assert.equal(opts.ext.data.length % 4, 0);
    dv.setUint16(off, opts.ext.profile);
    dv.setUint16(off + 2, opts.ext.data.length / 4);
    buf.set(opts.ext.data, off + 4);
    off += extLen;
  }
  buf.set(payload, off);
  if (pad) buf[buf.length - 1] = pad;
  return buf;
}

test('parses the fixed header, CSRCs, marker and padding', () => {
  const p = rtp({ seq: 65535, ts: 0xfffffff0, ssrc: 0x01020304, pt: 111, marker: true, csrcs: [7, 8], padding: 4 });
  const h = new RtpHeader();
  assert.ok(parseRtpHeader(p, p.length, h));
  assert.equal(h.sequenceNumber, 65535);
  assert.equal(h.timestamp, 0xfffffff0);
  assert.equal(h.ssrc, 0x01020304);
  assert.equal(h.payloadType, 111);
  assert.equal(h.marker, true);
  assert.equal(h.csrcCount, 2);
  assert.equal(h.payloadOffset, 20);
  assert.equal(h.paddingLength, 4);
  assert.equal(h.extensionOffset, -1);
});

test('finds one-byte (0xBEDE) extensions, skipping padding bytes', () => {
  // id 4 (mid) "1", padding byte, id 10 (rid) "f", id 1 (audio level) one byte, padding to 12
  const data = [0x40, 0x31, 0x00, 0xa0, 0x66, 0x10, 0x7f, 0, 0, 0, 0, 0];
  const p = rtp({ ext: { profile: 0xbede, data } });
  const h = new RtpHeader();
  assert.ok(parseRtpHeader(p, p.length, h));
  const v = new ExtensionValue();
  assert.ok(findExtension(p, h, 4, v));
  assert.equal(extensionString(p, v), '1');
  assert.ok(findExtension(p, h, 10, v));
  assert.ok(extensionEquals(p, v, 'f'));
  assert.ok(!extensionEquals(p, v, 'h'));
  assert.ok(findExtension(p, h, 1, v));
  assert.equal(p[v.offset], 0x7f);
  assert.ok(!findExtension(p, h, 3, v));
  assert.equal(h.payloadOffset, 12 + 4 + 12);
});

test('finds two-byte (0x100X) extensions', () => {
  const data = [4, 2, 0x31, 0x32, 10, 1, 0x71, 0];
  const p = rtp({ ext: { profile: 0x1000, data } });
  const h = new RtpHeader();
  assert.ok(parseRtpHeader(p, p.length, h));
  const v = new ExtensionValue();
  assert.ok(findExtension(p, h, 4, v));
  assert.equal(extensionString(p, v), '12');
  assert.ok(findExtension(p, h, 10, v));
  assert.equal(extensionString(p, v), 'q');
});

test('rejects malformed packets instead of reading past the end', () => {
  const h = new RtpHeader();
  assert.ok(!parseRtpHeader(new Uint8Array(11), 11, h), 'too short');
  const v1 = rtp({});
  v1[0] = 0x40;
  assert.ok(!parseRtpHeader(v1, v1.length, h), 'version 1');
  const csrc = rtp({});
  csrc[0] = 0x8f; // 15 CSRCs claimed, none present
  assert.ok(!parseRtpHeader(csrc, csrc.length, h));
  const ext = rtp({ ext: { profile: 0xbede, data: [0x40, 0x31, 0, 0] } });
  ext[15] = 50; // extension length far beyond the packet
  assert.ok(!parseRtpHeader(ext, ext.length, h));
  const pad = rtp({ padding: 2 });
  pad[pad.length - 1] = 200;
  assert.ok(!parseRtpHeader(pad, pad.length, h));
  // A one-byte element whose length runs past the block is not returned.
  const bad = rtp({ ext: { profile: 0xbede, data: [0x4f, 0x31, 0, 0] } });
  assert.ok(parseRtpHeader(bad, bad.length, h));
  assert.ok(!findExtension(bad, h, 4, new ExtensionValue()));
});

test('tells RTCP from RTP on a muxed port', () => {
  assert.ok(isRtcp(new Uint8Array([0x81, 206, 0, 2])));
  assert.ok(isRtcp(new Uint8Array([0x80, 200, 0, 6])));
  assert.ok(!isRtcp(new Uint8Array([0x80, 96, 0, 1])));
  assert.ok(!isRtcp(new Uint8Array([0x80, 0xe0, 0, 1])), 'marker + PT 96 is RTP');
});

test('sequence comparison wraps at 2^16', () => {
  assert.ok(seqNewer(1, 65535));
  assert.ok(seqNewer(100, 50));
  assert.ok(!seqNewer(50, 100));
  assert.ok(!seqNewer(65535, 1));
  assert.ok(!seqNewer(5, 5));
});
