// One direction-pair of a relayed signal session over Redis pub/sub, which delivers at most
// once (a subscriber that reconnects misses what was published meanwhile). Each side numbers
// what it sends; the other delivers in order, once, and acknowledges the highest number it has
// delivered. What is not acknowledged is sent again, 500 ms after, then doubling up to the
// configured ceiling; a message unacknowledged for retry_timeout ends the session.
import { strand } from '../../proto/index.js';
import type { SignalRelayConfig } from './cluster-config.js';

/** A packet's body: exactly one of these. */
export type RelayBody = Pick<strand.IRelayPacket, 'open' | 'accept' | 'refuse' | 'frame' | 'close'>;

/** Out-of-order packets held for a gap at most; a longer gap ends the session. */
const MAX_HELD = 1024;

interface Pending {
  seq: number;
  body: RelayBody;
  bytes: number;
  firstSentAt: number;
}

export class RelayStream {
  private nextSeq = 1;
  /** Highest sequence number delivered from the other side. */
  private delivered = 0;
  private readonly unacked: Pending[] = [];
  private readonly held = new Map<number, strand.RelayPacket>();
  private retryTimer: NodeJS.Timeout | null = null;
  private retryInterval: number;
  private ackScheduled = false;
  private pendingBytes = 0;
  private ended = false;

  constructor(
    readonly session: string,
    private readonly cfg: SignalRelayConfig,
    /** Publishes a packet to the other side; failures are retried by this stream. */
    private readonly transmit: (packet: strand.IRelayPacket) => void,
    /** Each sequenced packet of the other side, once, in order. */
    private readonly deliver: (packet: strand.RelayPacket) => void,
    /** The other side stopped acknowledging: the session is over. */
    private readonly onTimeout: () => void,
    private readonly now: () => number = Date.now,
  ) {
    this.retryInterval = cfg.minRetryIntervalMs;
  }

  /** Bytes sent and not yet acknowledged (the relayed socket's "buffered amount"). */
  get bufferedBytes(): number {
    return this.pendingBytes;
  }

  /** Everything sent has been acknowledged. */
  get idle(): boolean {
    return this.unacked.length === 0;
  }

  get closed(): boolean {
    return this.ended;
  }

  send(body: RelayBody): void {
    if (this.ended) return;
    const bytes = body.frame?.data?.length ?? 0;
    const p: Pending = { seq: this.nextSeq++, body, bytes, firstSentAt: this.now() };
    this.unacked.push(p);
    this.pendingBytes += bytes;
    this.ackScheduled = false; // the ack rides along
    this.transmit({ session: this.session, seq: p.seq, ack: this.delivered, ...body });
    this.armRetry();
  }

  receive(packet: strand.RelayPacket): void {
    if (this.ended) return;
    this.acknowledge(packet.ack);
    const seq = packet.seq;
    if (seq === 0) return; // an ack alone
    if (seq <= this.delivered || this.held.has(seq)) {
      this.scheduleAck(); // a retransmission: our ack was lost
      return;
    }
    if (seq !== this.delivered + 1) {
      if (this.held.size >= MAX_HELD) {
        this.fail();
        return;
      }
      this.held.set(seq, packet);
      this.scheduleAck();
      return;
    }
    // The ack is due before delivery: a delivery that closes the stream still sends it.
    this.scheduleAck();
    this.delivered = seq;
    this.deliver(packet);
    for (let next = this.held.get(this.delivered + 1); next && !this.ended; next = this.held.get(this.delivered + 1)) {
      this.held.delete(next.seq);
      this.delivered = next.seq;
      this.deliver(next);
    }
  }

  /** Stops retrying and timing; what is unacknowledged is dropped. */
  close(): void {
    if (this.ended) return;
    this.ended = true;
    if (this.ackScheduled) this.transmit({ session: this.session, seq: 0, ack: this.delivered });
    this.ackScheduled = false;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.unacked.length = 0;
    this.held.clear();
    this.pendingBytes = 0;
  }

  private acknowledge(ack: number): void {
    let progressed = false;
    while (this.unacked.length > 0 && this.unacked[0]!.seq <= ack) {
      this.pendingBytes -= this.unacked.shift()!.bytes;
      progressed = true;
    }
    if (!progressed) return;
    this.retryInterval = this.cfg.minRetryIntervalMs;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.armRetry();
  }

  private scheduleAck(): void {
    if (this.ackScheduled) return;
    this.ackScheduled = true;
    // Acks for a burst of packets go out as one, unless a send carries it first.
    setImmediate(() => {
      if (!this.ackScheduled || this.ended) return;
      this.ackScheduled = false;
      this.transmit({ session: this.session, seq: 0, ack: this.delivered });
    });
  }

  private armRetry(): void {
    if (this.retryTimer || this.unacked.length === 0 || this.ended) return;
    this.retryTimer = setTimeout(() => this.retry(), this.retryInterval);
    this.retryTimer.unref();
  }

  private retry(): void {
    this.retryTimer = null;
    if (this.ended || this.unacked.length === 0) return;
    if (this.now() - this.unacked[0]!.firstSentAt >= this.cfg.retryTimeoutMs) {
      this.fail();
      return;
    }
    for (const p of this.unacked) this.transmit({ session: this.session, seq: p.seq, ack: this.delivered, ...p.body });
    this.ackScheduled = false;
    this.retryInterval = Math.min(this.retryInterval * 2, this.cfg.maxRetryIntervalMs);
    this.armRetry();
  }

  private fail(): void {
    this.close();
    this.onTimeout();
  }
}
