// Fuzzing the per-packet parsers (RTP header and extensions, compound RTCP, VP8 descriptor,
// VP8/H.264 keyframe detection) with mutated real packets and random bytes. Besides "never
// throws", each case is parsed twice, with the bytes after the packet set to 0x00 and then to
// 0xff: the results must be equal, so no parser reads past the packet's end.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ExtensionValue, RtpHeader, findExtension, isRtcp, parseRtpHeader } from '../../src/rtp/packet.js';
import { RtcpCursor, ReportBlock, SenderReport, feedbackMediaSsrc, nextRtcp, readNack, readRembBitrate, readReportBlock, readSenderReport, writeNack, writePli, writeRemb, writeSenderReport, writeReceiverReportHeader } from '../../src/rtp/rtcp.js';
import { isH264Keyframe, isVp8Keyframe } from '../../src/rtp/keyframe.js';
import { Vp8Descriptor, parseVp8Descriptor } from '../../src/rtp/vp8.js';
import { fuzz, hex, mutateBytes, type Rng } from '../helpers/fuzz.js';

const fixture = (name: string): Uint8Array[] => readFileSync(fileURLToPath(new URL(`../../../test/fixtures/${name}`, import.meta.url)), 'utf8')
  .split('\n').filter((l) => l && !l.startsWith('#')).map((l) => Uint8Array.from(Buffer.from(l.trim(), 'hex')));

const VP8 = fixture('rtp-vp8.hex');
const H264 = fixture('rtp-h264.hex');

/** Real-shaped RTCP: SR, RR with blocks, PLI, NACK, REMB, and compounds of them. */
function rtcpSeeds(): Uint8Array[] {
  const seeds: Uint8Array[] = [];
  const b = new Uint8Array(256);
  let n = writeSenderReport(b, 0x11223344, 3900000000, 123456, 90000, 10, 12000);
  seeds.push(b.slice(0, n));
  n = writeReceiverReportHeader(b, 0x55667788, 2);
  seeds.push(b.slice(0, n));
  n = writePli(b, 1, 2);
  seeds.push(b.slice(0, n));
  n = writeNack(b, 1, 2, [100, 101, 105, 140, 141], 5);
  seeds.push(b.slice(0, n));
  n = writeRemb(b, 1, 1_500_000, [2, 3], 2);
  seeds.push(b.slice(0, n));
  seeds.push(Uint8Array.from([...seeds[0]!, ...seeds[2]!, ...seeds[3]!, ...seeds[4]!]));
  return seeds;
}
const RTCP = rtcpSeeds();

/** A packet to parse: mostly a mutated seed, sometimes random bytes. */
function packet(rng: Rng, seeds: readonly Uint8Array[]): Uint8Array {
  return rng.chance(0.1) ? rng.bytes(rng.int(64)) : mutateBytes(rng, rng.pick(seeds));
}

/** `p` at offset 5 of a larger buffer whose other bytes are all `fill`. */
function embedded(p: Uint8Array, fill: number): Uint8Array {
  const b = new Uint8Array(p.length + 64).fill(fill);
  b.set(p, 5);
  return b;
}

function readRtp(p: Uint8Array, fill: number): string {
  // parseRtpHeader works on packets at offset 0: the filler goes after the end only.
  const b = new Uint8Array(p.length + 64).fill(fill);
  b.set(p, 0);
  const h = new RtpHeader();
  if (!parseRtpHeader(b, p.length, h)) return 'not rtp';
  assert.ok(h.payloadOffset <= p.length && h.paddingLength <= p.length - h.payloadOffset, 'payload within the packet');
  const ext = new ExtensionValue();
  const found: number[] = [];
  for (let id = 1; id <= 15; id++) {
    if (!findExtension(b, h, id, ext)) continue;
    assert.ok(ext.offset + ext.length <= p.length, `extension ${id} within the packet`);
    found.push(id, ext.offset, ext.length);
  }
  const vp8 = new Vp8Descriptor();
  const end = p.length - h.paddingLength;
  const d = parseVp8Descriptor(b, h.payloadOffset, end, vp8);
  return [h.marker, h.payloadType, h.sequenceNumber, h.timestamp, h.ssrc, h.extensionOffset, h.extensionLength, h.payloadOffset, h.paddingLength,
    found.join('.'), d, vp8.pictureIdOffset, vp8.pictureId, vp8.tl0Offset, vp8.tl0PicIdx, vp8.tid, vp8.frameStart,
    isVp8Keyframe(b, h.payloadOffset, end), isH264Keyframe(b, h.payloadOffset, end)].join(',');
}

function readRtcp(p: Uint8Array, fill: number): string {
  const b = new Uint8Array(p.length + 64).fill(fill);
  b.set(p, 0);
  const out: Array<number | boolean> = [isRtcp(p)];
  const c = new RtcpCursor();
  const nacks = new Uint16Array(64);
  const sr = new SenderReport();
  const block = new ReportBlock();
  let packets = 0;
  while (nextRtcp(b, p.length, c)) {
    assert.ok(c.offset + c.length <= p.length, 'RTCP packet within the datagram');
    assert.ok(++packets <= p.length / 4, 'the cursor advances');
    out.push(c.type, c.count, c.length, feedbackMediaSsrc(b, c), readNack(b, c, nacks), readRembBitrate(b, c.offset, c.length));
    if (readSenderReport(b, c, sr)) out.push(sr.ssrc, sr.ntpSec, sr.rtpTimestamp);
    if (readReportBlock(b, c, 0x55667788, block)) out.push(block.fractionLost, block.jitter, block.lastSr);
  }
  return out.join(',');
}

test('fuzz: RTP header, extensions, VP8 descriptor and keyframes (VP8 and H.264 packets), 120k cases', () => {
  const n = fuzz('rtp', 1601, 120_000, (rng) => {
    const p = packet(rng, rng.chance(0.5) ? VP8 : H264);
    const a = readRtp(p, 0x00);
    const b = readRtp(p, 0xff);
    assert.equal(a, b, `reads past the packet: ${hex(p)}`);
  });
  assert.ok(n >= 1);
});

test('fuzz: payload parsers at an offset inside a buffer never read outside [off, end), 120k cases', () => {
  fuzz('payload', 1602, 120_000, (rng) => {
    const payload = rng.chance(0.5) ? mutateBytes(rng, rng.pick(VP8).subarray(20)) : mutateBytes(rng, rng.pick(H264).subarray(12));
    const results = [0x00, 0xff].map((fill) => {
      const b = embedded(payload, fill);
      const d = new Vp8Descriptor();
      const ok = parseVp8Descriptor(b, 5, 5 + payload.length, d);
      return [ok, d.pictureIdOffset, d.pictureId, d.tl0Offset, d.tl0PicIdx, d.tid, d.frameStart,
        isVp8Keyframe(b, 5, 5 + payload.length), isH264Keyframe(b, 5, 5 + payload.length)].join(',');
    });
    assert.equal(results[0], results[1], `reads outside the payload: ${hex(payload)}`);
  });
});

test('fuzz: compound RTCP (SR, RR, PLI, NACK, REMB), 120k cases', () => {
  fuzz('rtcp', 1603, 120_000, (rng) => {
    const p = packet(rng, RTCP);
    assert.equal(readRtcp(p, 0x00), readRtcp(p, 0xff), `reads past the datagram: ${hex(p)}`);
  });
});
