// RFC 3550 receive statistics of one RTP stream (appendix A.1, A.3, A.8): extended highest
// sequence number, expected and lost packets, interarrival jitter; and the report block
// (RR/SR) that carries them back to the sender.
import { writeU32 } from './packet.js';

export const REPORT_BLOCK_SIZE = 24;

export class ReceiveStats {
  private started = false;
  private baseSeq = 0;
  private maxSeq = 0;
  private cycles = 0;
  received = 0;
  private expectedPrior = 0;
  private receivedPrior = 0;
  /** Interarrival jitter, in timestamp units (×16 internally per RFC 3550 A.8). */
  private jitter16 = 0;
  private lastTransit = 0;
  /** Middle 32 bits of the NTP time of the last sender report, and when it arrived (ms). */
  private lastSrNtpMid = 0;
  private lastSrAtMs = -1;
  /** Loss fraction of the last report interval, 0–1. */
  lastFractionLost = 0;

  /** Per packet: `arrival` is the arrival time in the stream's timestamp units. */
  update(seq: number, ts: number, arrival: number): void {
    this.received++;
    if (!this.started) {
      this.started = true;
      this.baseSeq = seq;
      this.maxSeq = seq;
      this.lastTransit = (arrival - ts) | 0;
      return;
    }
    const delta = (seq - this.maxSeq) & 0xffff;
    if (delta > 0 && delta < 0x8000) {
      if (seq < this.maxSeq) this.cycles += 0x10000;
      this.maxSeq = seq;
    }
    const transit = (arrival - ts) | 0;
    const d = Math.abs(transit - this.lastTransit);
    this.lastTransit = transit;
    this.jitter16 += d - ((this.jitter16 + 8) >> 4);
  }

  onSenderReport(ntpSec: number, ntpFrac: number, nowMs: number): void {
    this.lastSrNtpMid = (((ntpSec & 0xffff) << 16) | (ntpFrac >>> 16)) >>> 0;
    this.lastSrAtMs = nowMs;
  }

  get extendedHighestSeq(): number {
    return this.cycles + this.maxSeq;
  }

  get expected(): number {
    return this.started ? this.extendedHighestSeq - this.baseSeq + 1 : 0;
  }

  get jitter(): number {
    return this.jitter16 >> 4;
  }

  /** Writes a report block for `ssrc` at `off` and starts the next interval. */
  writeReportBlock(buf: Uint8Array, off: number, ssrc: number, nowMs: number): number {
    const expected = this.expected;
    const lost = Math.max(0, Math.min(0x7fffff, expected - this.received));
    const expectedInterval = expected - this.expectedPrior;
    const receivedInterval = this.received - this.receivedPrior;
    this.expectedPrior = expected;
    this.receivedPrior = this.received;
    const lostInterval = expectedInterval - receivedInterval;
    const fraction = expectedInterval <= 0 || lostInterval <= 0 ? 0 : Math.min(255, Math.floor((lostInterval * 256) / expectedInterval));
    this.lastFractionLost = fraction / 256;
    writeU32(buf, off, ssrc);
    buf[off + 4] = fraction;
    buf[off + 5] = (lost >> 16) & 0xff;
    buf[off + 6] = (lost >> 8) & 0xff;
    buf[off + 7] = lost & 0xff;
    writeU32(buf, off + 8, this.extendedHighestSeq >>> 0);
    writeU32(buf, off + 12, this.jitter >>> 0);
    writeU32(buf, off + 16, this.lastSrAtMs < 0 ? 0 : this.lastSrNtpMid);
    // Delay since the last SR, in 1/65536 s.
    writeU32(buf, off + 20, this.lastSrAtMs < 0 ? 0 : Math.floor(((nowMs - this.lastSrAtMs) * 65536) / 1000) >>> 0);
    return REPORT_BLOCK_SIZE;
  }
}
