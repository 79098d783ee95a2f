import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ReceiveStats, REPORT_BLOCK_SIZE } from '../../src/rtp/receive-stats.js';
import {
  RTCP_RR, ReportBlock, RtcpCursor, SenderReport, nextRtcp, readReportBlock, readSenderReport, writeReceiverReportHeader, writeSenderReport,
} from '../../src/rtp/rtcp.js';
import { readU32 } from '../../src/rtp/packet.js';
import { connectionQuality } from '../../src/workers/media/connection-quality.js';
import { livekit } from '../../src/proto/index.js';

test('receive stats: extended sequence across a wrap, cumulative and interval loss', () => {
  const s = new ReceiveStats();
  let seq = 65530;
  for (let i = 0; i < 20; i++, seq = (seq + 1) & 0xffff) {
    if (i === 7 || i === 8) continue; // two lost around the wrap
    s.update(seq, i * 960, i * 960);
  }
  assert.equal(s.extendedHighestSeq, 65536 + 13);
  assert.equal(s.expected, 20);
  const buf = new Uint8Array(REPORT_BLOCK_SIZE);
  s.writeReportBlock(buf, 0, 0xabcdef01, 1000);
  assert.equal(readU32(buf, 0), 0xabcdef01);
  assert.equal(buf[4], Math.floor((2 * 256) / 20), 'fraction lost');
  assert.equal((buf[5]! << 16) | (buf[6]! << 8) | buf[7]!, 2, 'cumulative lost');
  assert.equal(readU32(buf, 8), 65536 + 13);
  assert.equal(readU32(buf, 12), 0, 'no jitter: arrivals match timestamps');
  assert.equal(readU32(buf, 16), 0, 'no SR yet');
  // Next interval without loss.
  for (let i = 0; i < 10; i++, seq = (seq + 1) & 0xffff) s.update(seq, 0, 0);
  s.writeReportBlock(buf, 0, 1, 2000);
  assert.equal(buf[4], 0);
  assert.equal(s.lastFractionLost, 0);
});

test('receive stats: jitter grows with arrival variation; LSR and DLSR follow the last SR', () => {
  const s = new ReceiveStats();
  for (let i = 0; i < 50; i++) s.update(i, i * 3000, i * 3000 + (i % 2 ? 900 : 0));
  assert.ok(s.jitter > 400 && s.jitter < 900, `jitter ${s.jitter}`);
  s.onSenderReport(0x12345678, 0x9abcdef0, 1000);
  const buf = new Uint8Array(REPORT_BLOCK_SIZE);
  s.writeReportBlock(buf, 0, 1, 1500);
  assert.equal(readU32(buf, 16), 0x56789abc);
  assert.equal(readU32(buf, 20), 32768, 'half a second in 1/65536 s');
});

test('sender reports round-trip; RR report blocks are found by SSRC', () => {
  const b = new Uint8Array(64);
  const n = writeSenderReport(b, 42, 100, 200, 300, 4, 5000);
  const c = new RtcpCursor();
  assert.ok(nextRtcp(b, n, c));
  const sr = new SenderReport();
  assert.ok(readSenderReport(b, c, sr));
  assert.deepEqual([sr.ssrc, sr.ntpSec, sr.ntpFrac, sr.rtpTimestamp], [42, 100, 200, 300]);

  const stats = new ReceiveStats();
  for (let i = 0; i < 10; i++) if (i !== 3) stats.update(i, 0, 0);
  const rr = new Uint8Array(8 + 2 * REPORT_BLOCK_SIZE);
  stats.writeReportBlock(rr, 8, 7, 0);
  new ReceiveStats().writeReportBlock(rr, 8 + REPORT_BLOCK_SIZE, 9, 0);
  const len = writeReceiverReportHeader(rr, 1, 2);
  const rc = new RtcpCursor();
  assert.ok(nextRtcp(rr, len, rc));
  assert.equal(rc.type, RTCP_RR);
  const block = new ReportBlock();
  assert.ok(readReportBlock(rr, rc, 7, block));
  assert.equal(block.fractionLost, Math.floor(256 / 10) / 256);
  assert.ok(readReportBlock(rr, rc, 9, block));
  assert.equal(block.fractionLost, 0);
  assert.ok(!readReportBlock(rr, rc, 8, block), 'no block about that SSRC');
});

test('connection quality from loss, jitter and RTT (E-model MOS)', () => {
  const q = (loss: number, jitterMs: number, rttMs: number) => connectionQuality({ loss, jitterMs, rttMs }, true);
  assert.equal(q(0, 1, 1).quality, livekit.ConnectionQuality.EXCELLENT);
  assert.ok(q(0, 1, 1).score > 4.3);
  assert.equal(q(0.05, 10, 50).quality, livekit.ConnectionQuality.GOOD);
  assert.equal(q(0.2, 10, 50).quality, livekit.ConnectionQuality.POOR);
  assert.equal(q(0, 80, 600).quality, livekit.ConnectionQuality.POOR, 'long delays alone degrade it');
  assert.ok(q(0, 30, 300).score < q(0, 1, 20).score);
  assert.equal(connectionQuality({ loss: 0, jitterMs: 0, rttMs: 0 }, false).quality, livekit.ConnectionQuality.LOST);
});
