import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PLI_SIZE, RTCP_PSFB, RTCP_RR, RtcpCursor, feedbackMediaSsrc, nextRtcp, readRembBitrate, writePli, writeRemb } from '../../src/rtp/rtcp.js';

test('PLI: PSFB FMT 1 with sender and media SSRC', () => {
  const b = new Uint8Array(PLI_SIZE);
  assert.equal(writePli(b, 0x11223344, 0xaabbccdd), 12);
  assert.deepEqual([...b], [0x81, 206, 0, 2, 0x11, 0x22, 0x33, 0x44, 0xaa, 0xbb, 0xcc, 0xdd]);
});

test('REMB: bitrate round-trips through mantissa and exponent', () => {
  const b = new Uint8Array(64);
  for (const rate of [0, 1000, 300_000, 5_000_000, 2 ** 31]) {
    const n = writeRemb(b, 1, rate, [10, 20], 2);
    assert.equal(n, 28);
    assert.equal(b[1], RTCP_PSFB);
    assert.equal(b[3], n / 4 - 1);
    const back = readRembBitrate(b, 0, n);
    assert.ok(back <= rate && back >= rate * 0.999, `${rate} → ${back}`);
  }
});

test('walks compound RTCP and stops on a malformed length', () => {
  const rr = [0x80, RTCP_RR, 0, 1, 0, 0, 0, 1];
  const pli = new Uint8Array(PLI_SIZE);
  writePli(pli, 5, 42);
  const compound = new Uint8Array([...rr, ...pli]);
  const c = new RtcpCursor();
  const seen: number[] = [];
  while (nextRtcp(compound, compound.length, c)) {
    seen.push(c.type);
    if (c.type === RTCP_PSFB) assert.equal(feedbackMediaSsrc(compound, c), 42);
  }
  assert.deepEqual(seen, [RTCP_RR, RTCP_PSFB]);
  const broken = new Uint8Array([0x80, RTCP_RR, 0, 9, 0, 0, 0, 1]);
  assert.ok(!nextRtcp(broken, broken.length, new RtcpCursor()));
});
