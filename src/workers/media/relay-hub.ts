// Rooms that span media workers. The worker where a track is published writes each of its
// packets once into the ring of every other worker with subscribers of that track; there a
// RelayedReceiver stands in for the track and feeds the local downtracks as if the publisher
// were local. Keyframe requests go back through the reverse ring to the publisher's worker,
// and data packets of the room cross the same way. Rings are drained from the event loop.
import { RtpHeader, parseRtpHeader, readU32 } from '../../rtp/packet.js';
import { SenderReport } from '../../rtp/rtcp.js';
import type { RelayedTrack } from '../protocol.js';
import { Doorbell, REC_DATA, REC_KEYFRAME, REC_RTP, REC_SENDER_REPORT, type RingWriter } from '../ring-channel.js';
import { RingSet, type PeerRecordHandler } from '../ring-set.js';
import { Receiver, type RtcpSink } from './receiver.js';

/** A relayed track's keyframe requests travel as ring records, never as RTCP from this worker. */
const NO_RTCP: RtcpSink = { rtcpSenderSsrc: 0, sendRtcp: () => undefined };

/** A track published on another worker, as this worker's subscribers see it. */
export class RelayedReceiver extends Receiver {
  constructor(readonly relay: RelayedTrack, readonly fromSlot: number, private readonly upstream: RingWriter) {
    super(relay.trackSid, relay.publisherSid, relay.kind, relay.mimeType, relay.clockRate, relay.channels, relay.fmtp, relay.rids, NO_RTCP);
  }

  /** Asked of the publisher's worker, which throttles and sends the PLI. */
  override requestKeyframe(layer: number): void {
    if (this.kind === 'video') this.upstream.write(REC_KEYFRAME, layer, this.relay.relayId, null, 0);
  }
}

export interface RelayHubEvents {
  /** A data packet for this worker's participants in `roomId`, relayed by another worker. */
  onData(roomId: string, reliable: boolean, packet: Uint8Array): void;
  onError(where: string, err: unknown): void;
}

export class RelayHub implements PeerRecordHandler {
  private readonly rings = new RingSet();
  private readonly writers = this.rings.writers;
  private readonly doorbell: Doorbell;
  private draining = false;
  private closed = false;
  /** Publisher side: tracks relayed from here, by the relay id given to them. */
  private readonly relayed = new Map<number, Receiver>();
  private readonly relayIds = new Map<Receiver, number>();
  private nextRelayId = 1;
  /** Subscriber side: stand-ins for tracks of other workers, by track sid and by (slot, relay id). */
  private readonly mirrors = new Map<string, RelayedReceiver>();
  private readonly mirrorsByRelay = new Map<number, Map<number, RelayedReceiver>>();
  /** The worker whose ring is being drained (records name relay ids of that worker). */
  from = -1;
  private readonly header = new RtpHeader();
  private readonly sr = new SenderReport();
  private readonly dataRecord = Buffer.alloc(64 * 1024);

  constructor(doorbell: SharedArrayBuffer, private readonly events: RelayHubEvents) {
    this.doorbell = new Doorbell(doorbell);
  }

  /** Links this worker with `peer`: records to it go into `out`, records from it come from `inbound`. */
  attach(peer: number, out: SharedArrayBuffer, peerDoorbell: SharedArrayBuffer, inbound: SharedArrayBuffer): void {
    const replaced = this.rings.attach(peer, out, peerDoorbell, inbound);
    if (replaced) this.forgetPeer(peer, replaced);
    if (!this.draining) void this.drainLoop();
  }

  /** `peer`'s worker was replaced: relays into its old ring stop, its old relay ids mean nothing. */
  private forgetPeer(peer: number, old: RingWriter): void {
    for (const receiver of [...this.relayed.values()]) {
      const j = receiver.relays.findIndex((t) => t.writer === old);
      if (j < 0) continue;
      receiver.relays.splice(j, 1);
      if (receiver.relays.length === 0) this.forget(receiver);
    }
    // The stand-ins stay until the main thread ends them (relayEnd), but nothing reaches them:
    // the new worker numbers its relays afresh.
    this.mirrorsByRelay.delete(peer);
  }

  /** Starts forwarding `receiver` to worker `toSlot`; returns what that worker needs to mirror it. */
  startRelay(receiver: Receiver, toSlot: number, layer = -1): RelayedTrack {
    const writer = this.writers.get(toSlot);
    if (!writer) throw new Error(`no ring to media worker ${toSlot}`);
    let relayId = this.relayIds.get(receiver);
    if (relayId === undefined) {
      relayId = this.nextRelayId++;
      this.relayIds.set(receiver, relayId);
      this.relayed.set(relayId, receiver);
    }
    const existing = receiver.relays.find((t) => t.writer === writer);
    if (!existing) receiver.relays.push({ writer, relayId, layer });
    return {
      relayId, trackSid: receiver.trackSid, publisherSid: receiver.publisherSid, kind: receiver.kind, mimeType: receiver.mimeType,
      clockRate: receiver.clockRate, channels: receiver.channels, fmtp: receiver.fmtp, rids: receiver.rids, layer: existing?.layer ?? layer,
    };
  }

  stopRelay(receiver: Receiver, toSlot: number): void {
    const writer = this.writers.get(toSlot);
    const i = receiver.relays.findIndex((t) => t.writer === writer);
    if (i >= 0) receiver.relays.splice(i, 1);
    if (receiver.relays.length === 0) this.forget(receiver);
  }

  /** The receiver is gone (unpublished, or its publisher left). */
  forget(receiver: Receiver): void {
    const id = this.relayIds.get(receiver);
    if (id === undefined) return;
    receiver.relays.length = 0;
    this.relayIds.delete(receiver);
    this.relayed.delete(id);
  }

  /** The stand-in for a track of worker `fromSlot`, created on first use. */
  mirror(fromSlot: number, track: RelayedTrack): RelayedReceiver {
    const existing = this.mirrors.get(track.trackSid);
    if (existing) return existing;
    const upstream = this.writers.get(fromSlot);
    if (!upstream) throw new Error(`no ring to media worker ${fromSlot}`);
    const m = new RelayedReceiver(track, fromSlot, upstream);
    this.mirrors.set(track.trackSid, m);
    this.relayedFrom(fromSlot).set(track.relayId, m);
    return m;
  }

  /**
   * A track of a headless participant here, fed through the ring of ingress worker `fromSlot`:
   * reached by its relay id like a stand-in, but published on this worker (not in `mirrors`,
   * which are other workers' tracks), so the participant owns it.
   */
  inject(fromSlot: number, track: RelayedTrack): RelayedReceiver {
    const upstream = this.writers.get(fromSlot);
    if (!upstream) throw new Error(`no ring to ingress peer ${fromSlot}`);
    const r = new RelayedReceiver(track, fromSlot, upstream);
    this.relayedFrom(fromSlot).set(track.relayId, r);
    return r;
  }

  /** The receivers fed by `fromSlot`'s ring, by relay id (created on first use). */
  private relayedFrom(fromSlot: number): Map<number, RelayedReceiver> {
    let bySlot = this.mirrorsByRelay.get(fromSlot);
    if (!bySlot) {
      bySlot = new Map();
      this.mirrorsByRelay.set(fromSlot, bySlot);
    }
    return bySlot;
  }

  /** An injected track is gone. */
  dropInjected(r: RelayedReceiver): void {
    const bySlot = this.mirrorsByRelay.get(r.fromSlot);
    if (bySlot?.get(r.relay.relayId) === r) bySlot.delete(r.relay.relayId);
    this.forget(r);
  }

  /** Measures the stand-ins' layer bitrates, as the local receivers' are (stream allocation). */
  tickRates(seconds: number): void {
    for (const m of this.mirrors.values()) m.tickRates(seconds);
  }

  mirrorOf(trackSid: string): RelayedReceiver | undefined {
    return this.mirrors.get(trackSid);
  }

  /** Drops a stand-in (whose downtracks the caller has removed). */
  dropMirror(m: RelayedReceiver): void {
    if (this.mirrors.get(m.trackSid) === m) this.mirrors.delete(m.trackSid);
    const bySlot = this.mirrorsByRelay.get(m.fromSlot);
    if (bySlot?.get(m.relay.relayId) === m) bySlot.delete(m.relay.relayId);
  }

  /** Sends a room's data packet to every linked worker (those without the room ignore it). */
  broadcastData(roomId: string, reliable: boolean, packet: Uint8Array): void {
    const r = this.dataRecord;
    const idLen = r.write(roomId, 2, 'latin1');
    const total = 2 + idLen + packet.length;
    if (total > r.length) return;
    r[0] = reliable ? 1 : 0;
    r[1] = idLen;
    r.set(packet, 2 + idLen);
    for (const w of this.writers.values()) w.write(REC_DATA, 0, 0, r, total);
  }

  onRecord(kind: number, layer: number, id: number, payload: Buffer, len: number): void {
    switch (kind) {
      case REC_RTP: {
        const m = this.mirrorsByRelay.get(this.from)?.get(id);
        const h = this.header;
        if (!m || layer >= m.layerCount || !parseRtpHeader(payload, len, h)) return;
        if (m.layerSsrcs[layer] === 0) m.layerSsrcs[layer] = h.ssrc;
        m.onPacket(payload, len, h.payloadOffset, len - h.paddingLength, h.sequenceNumber, h.timestamp, layer, performance.now());
        return;
      }
      case REC_SENDER_REPORT: {
        const m = this.mirrorsByRelay.get(this.from)?.get(id);
        if (!m || len < 12) return;
        this.sr.ssrc = m.layerSsrcs[layer] ?? 0;
        this.sr.ntpSec = readU32(payload, 0);
        this.sr.ntpFrac = readU32(payload, 4);
        this.sr.rtpTimestamp = readU32(payload, 8);
        m.onSenderReport(layer, this.sr, performance.now());
        return;
      }
      case REC_KEYFRAME:
        this.relayed.get(id)?.requestKeyframe(layer);
        return;
      case REC_DATA: {
        if (len < 2) return;
        const idLen = payload[1]!;
        this.events.onData(payload.toString('latin1', 2, 2 + idLen), payload[0] === 1, payload.subarray(2 + idLen, len));
        return;
      }
    }
  }

  private readonly onDrainError = (err: unknown): void => this.events.onError('relay.drain', err);

  private async drainLoop(): Promise<void> {
    this.draining = true;
    while (!this.closed) {
      this.rings.drain(this, this.onDrainError);
      await this.doorbell.wait(this.rings.allEmpty);
    }
    this.draining = false;
  }

  stats(): { ringDrops: number; ringRecordsOut: number; ringRecordsIn: number } {
    return { ringDrops: this.rings.dropped, ringRecordsOut: this.rings.recordsOut, ringRecordsIn: this.rings.recordsIn };
  }

  close(): void {
    this.closed = true;
    this.doorbell.ring();
  }
}
