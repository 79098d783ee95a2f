// One participant on a media worker: its connections (v0: a publisher and a subscriber
// PeerConnection; v1: one), its downstream, and its data while its signal connection is away.
import { TokenBucket } from '../../limits/token-bucket.js';
import type { DataRecipient, DataSender } from './data-relay.js';
import { Downstream, type DownstreamEvents } from './downstream.js';
import type { PublisherPeer } from './publisher-peer.js';
import type { Receiver } from './receiver.js';
import type { RelayedReceiver } from './relay-hub.js';
import type { SubscriberPeer } from './subscriber-peer.js';
import type { ParticipantDescriptor, ParticipantLimits, ResumeResult } from '../protocol.js';

/** Reliable data held for a participant whose signal is away, at most (bytes); more is dropped. */
const MAX_HELD_BYTES = 1024 * 1024;
/**
 * v1: held data goes out once the ICE restart that follows a resume has reopened the reliable
 * channel; if the client never restarts, on whatever is open after this long, ms.
 */
const FLUSH_FALLBACK_MS = 10_000;

/** A participant without limits (tests, and a worker before its init). */
export const NO_LIMITS: ParticipantLimits = { dataPacketsPerSecond: 0, dataBytesPerSecond: 0, mediaBytesPerSecond: 0 };

export class ParticipantPeers implements DataRecipient, DataSender {
  publisher: PublisherPeer | null = null;
  /** v0 only. */
  subscriber: SubscriberPeer | null = null;
  /** A headless (ingress) participant's tracks, fed through an ingress worker's ring, by track sid. */
  readonly injected = new Map<string, RelayedReceiver>();
  readonly downstream: Downstream;
  lastReliableSeq = 0;
  /** limit.data_packets_per_second and limit.data_bytes_per_second for what this participant sends. */
  private readonly dataPackets: TokenBucket;
  private readonly dataBytes: TokenBucket;
  /** limit.media_bytes_per_second: what its publisher connection may bring in (PublisherPeer takes from it). */
  readonly mediaBudget: TokenBucket;
  /** Reliable packets for this participant while its signal is away, in order; null when delivering. */
  private held: Uint8Array[] | null = null;
  private heldBytes = 0;
  /** Reliable packets dropped while away because the held data was over MAX_HELD_BYTES. */
  heldDropped = 0;
  private flushOnReliableOpen = false;
  private flushTimer: NodeJS.Timeout | null = null;

  constructor(public info: ParticipantDescriptor, events: DownstreamEvents, limits: ParticipantLimits = NO_LIMITS) {
    this.downstream = new Downstream(events);
    this.dataPackets = new TokenBucket(limits.dataPacketsPerSecond, limits.dataPacketsPerSecond);
    this.dataBytes = new TokenBucket(limits.dataBytesPerSecond, limits.dataBytesPerSecond);
    this.mediaBudget = new TokenBucket(limits.mediaBytesPerSecond, limits.mediaBytesPerSecond);
  }

  /** Whether a data packet of `bytes` from this participant is within its limits (a second's worth may come at once). */
  admitData(bytes: number): boolean {
    return this.dataPackets.take(1) && this.dataBytes.take(bytes);
  }

  get sid(): string {
    return this.info.sid;
  }

  get identity(): string {
    return this.info.identity;
  }

  get canPublishData(): boolean {
    return this.info.canPublishData;
  }

  get single(): boolean {
    return this.info.singlePeerConnection;
  }

  get publisherState(): string {
    return this.publisher?.state ?? 'new';
  }

  get subscriberState(): string {
    return this.single ? this.publisherState : this.subscriber?.state ?? 'new';
  }

  /** Every track this participant publishes here: on its connection, or injected. */
  *published(): Iterable<Receiver> {
    if (this.publisher) yield* this.publisher.receivers;
    yield* this.injected.values();
  }

  publishedReceiver(trackSid: string): Receiver | undefined {
    return this.publisher?.receiver(trackSid) ?? this.injected.get(trackSid);
  }

  /** A new downtrack for `receiver`; false when already subscribed. */
  subscribe(receiver: Receiver): boolean {
    const sub = this.downstream.add(receiver, !this.single);
    if (!sub) return false;
    if (this.single) this.publisher?.subscriptionsChanged();
    else this.subscriber?.addSection(sub);
    return true;
  }

  unsubscribe(trackSid: string): void {
    if (!this.downstream.remove(trackSid)) return;
    if (this.single) this.publisher?.subscriptionsChanged();
    else this.subscriber?.removeSection(trackSid);
  }

  sendData(reliable: boolean, buf: Uint8Array): void {
    if (this.held === null) {
      this.deliver(reliable, buf);
      return;
    }
    // Lossy data is worthless later; reliable data waits for the participant, in order.
    if (!reliable) return;
    if (this.heldBytes + buf.length > MAX_HELD_BYTES) {
      this.heldDropped++;
      return;
    }
    this.held.push(buf);
    this.heldBytes += buf.length;
  }

  private deliver(reliable: boolean, buf: Uint8Array): void {
    if (this.single) this.publisher?.sendData(reliable, buf);
    else this.subscriber?.sendData(reliable, buf);
  }

  /** The signal connection is gone: reliable data waits from now on. */
  hold(): void {
    this.held ??= [];
  }

  /**
   * The participant resumed. v1: the client restarts ICE next, on a new native connection, and
   * held data goes out once the reliable channel is open there; whatever is sent until then
   * waits too. v0: Strand's subscriber offer again (restarting the connection if it is down);
   * held data goes out at once on a connection that stayed up.
   */
  async resume(): Promise<ResumeResult> {
    this.hold();
    if (this.single) {
      this.flushWhenReliableOpens();
      return { lastMessageSeq: this.lastReliableSeq, subscriberOffer: null, usable: this.publisher !== null };
    }
    const resumed = this.subscriber ? await this.subscriber.resumeOffer() : null;
    if (resumed?.restarted) this.flushWhenReliableOpens();
    else this.flush();
    return { lastMessageSeq: this.lastReliableSeq, subscriberOffer: resumed?.offer ?? null, usable: resumed !== null };
  }

  private flushWhenReliableOpens(): void {
    this.flushOnReliableOpen = true;
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = setTimeout(() => this.flush(), FLUSH_FALLBACK_MS);
    this.flushTimer.unref();
  }

  /** The reliable channel data goes out on (v1: the client's; v0: Strand's subscriber one) (re)opened. */
  onReliableOpen(): void {
    if (this.flushOnReliableOpen) this.flush();
  }

  private flush(): void {
    this.flushOnReliableOpen = false;
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    const held = this.held;
    this.held = null;
    this.heldBytes = 0;
    for (const buf of held ?? []) this.deliver(true, buf);
  }

  /** Closes every connection; resolves when libdatachannel has finished closing them. */
  close(): Promise<void> {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.held = null;
    this.publisher?.close();
    this.subscriber?.close();
    for (const r of this.injected.values()) r.close();
    this.injected.clear();
    this.downstream.close();
    return Promise.all([this.publisher?.whenClosed, this.subscriber?.whenClosed]).then(() => undefined);
  }
}
