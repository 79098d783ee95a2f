// Everything one media worker owns: the peers of the participants placed on it, grouped by
// room, and the commands the main thread sends. A room may span workers: relay-hub.ts carries
// its tracks, keyframe requests and data between them through rings.
import { getHeapStatistics } from 'node:v8';
import type { MessagePort } from 'node:worker_threads';
import type { MediaCommand, MediaEvent, MediaResults, ParticipantDescriptor, ParticipantLimits, RelayedTrack, TrackRate, WorkerStats } from '../protocol.js';
import { guard, heldNativeCount, loadNative, setNativeErrorReporter, type Native, type RtcConfig } from '../native.js';
import { DATA_DROPPED, mediaCounters, publishCounters } from '../media-counters.js';
import { connectionQuality } from './connection-quality.js';
import { deliverRelayed, relayDataPacket } from './data-relay.js';
import { NO_LIMITS, ParticipantPeers } from './participant-peers.js';
import { IcePortHold } from './ice-port-hold.js';
import { RelayHub } from './relay-hub.js';
import type { Receiver } from './receiver.js';
import { PublisherPeer } from './publisher-peer.js';
import { SubscriberPeer } from './subscriber-peer.js';
import { threadId } from '../thread-id.js';

/**
 * Test hook: STRAND_TEST_DOWNTRACK_LOSS="<identity substring>:<rate>" drops that fraction of
 * the first transmissions to matching subscribers, to exercise NACK/RTX on a clean loopback.
 */
function testLossRate(identity: string): number {
  const spec = process.env.STRAND_TEST_DOWNTRACK_LOSS;
  if (!spec) return 0;
  const i = spec.lastIndexOf(':');
  const rate = Number(spec.slice(i + 1));
  return i > 0 && identity.includes(spec.slice(0, i)) && rate > 0 && rate < 1 ? rate : 0;
}

/** How long shutdown waits for closing connections before releasing the addon anyway, ms. */
const CLOSE_WAIT_MS = 1500;

class RoomRouter {
  readonly participants = new Map<string, ParticipantPeers>();
  /** Speakers last reported to the main thread, "sid:level" joined, to send changes only. */
  lastSpeakers = '';

  /** Participants whose audio is speaking now, loudest first. */
  speakers(nowMs: number): Array<{ sid: string; level: number }> {
    const out: Array<{ sid: string; level: number }> = [];
    for (const p of this.participants.values()) {
      let level = 0;
      for (const r of p.published()) {
        if (r.audioLevel?.speaking(nowMs)) level = Math.max(level, r.audioLevel.level(nowMs));
      }
      if (level > 0) out.push({ sid: p.info.sid, level: Math.round(level * 100) / 100 });
    }
    return out.sort((a, b) => b.level - a.level);
  }
}

/** The highest simulcast layer sending now (the top one if none is known yet). */
function bestLayer(r: Receiver): number {
  if (r.kind !== 'video' || r.layerCount === 1) return -1;
  const active = r.activeLayers(performance.now());
  for (let l = r.layerCount - 1; l >= 0; l--) if (active & (1 << l)) return l;
  return r.layerCount - 1;
}

/** LiveKit's audio.update_interval: how often speakers are re-evaluated, ms. */
const SPEAKER_INTERVAL_MS = 400;
/** How often connection quality is reported, ms (LiveKit: 5 s). */
const QUALITY_INTERVAL_MS = 5000;

const DOWN_STATES = new Set(['disconnected', 'failed']);
/** How often the media counters are published for /metrics, ms. */
const COUNTERS_INTERVAL_MS = 250;
/** How often layer bitrates are measured and subscriber bandwidth reallocated, ms. */
const ALLOCATION_INTERVAL_MS = 1000;

export class MediaWorker {
  private native: Native | null = null;
  private slot = -1;
  private tid = 0;
  private events: MessagePort | null = null;
  private rtcConfig: RtcConfig = { iceServers: [] };
  private readonly rooms = new Map<string, RoomRouter>();
  private readonly participants = new Map<string, ParticipantPeers>();
  /** Connections still closing; shutdown waits for them before cleanup(). */
  private readonly closing = new Set<Promise<void>>();
  private speakerTimer: NodeJS.Timeout | null = null;
  private qualityTimer: NodeJS.Timeout | null = null;
  private allocationTimer: NodeJS.Timeout | null = null;
  private countersTimer: NodeJS.Timeout | null = null;
  /** Links to the other workers, for rooms that span workers. */
  private hub: RelayHub | null = null;
  private limits: ParticipantLimits = NO_LIMITS;
  /** Keeps this worker's ICE port bound while nobody is connected. */
  private portHold: IcePortHold | null = null;
  /** libdatachannel was released (shutdown or abandon): nothing native is left to close. */
  private released = false;

  async handle(cmd: MediaCommand): Promise<MediaResults[MediaCommand['op']]> {
    switch (cmd.op) {
      case 'init': return this.init(cmd);
      case 'join': return this.join(cmd.participant);
      case 'publisherOffer': {
        const p = this.participant(cmd.participantSid);
        p.publisher ??= this.createPublisher(p);
        return p.publisher.handleOffer(cmd.sdp, cmd.pending);
      }
      case 'subscriberAnswer':
        this.participant(cmd.participantSid).subscriber?.handleAnswer(cmd.sdp);
        return null;
      case 'remoteCandidate': {
        const p = this.participants.get(cmd.participantSid);
        if (!p) return null;
        if (cmd.target === 'subscriber' && !p.single) p.subscriber?.addRemoteCandidate(cmd.candidate);
        else {
          p.publisher ??= this.createPublisher(p);
          p.publisher.addRemoteCandidate(cmd.candidate);
        }
        return null;
      }
      case 'subscribe': return this.subscribe(cmd.participantSid, cmd.trackSid, cmd.relay);
      case 'unsubscribe':
        this.participants.get(cmd.participantSid)?.unsubscribe(cmd.trackSid);
        return null;
      case 'attachRing':
        this.relayHub().attach(cmd.peer, cmd.out, cmd.peerDoorbell, cmd.inbound);
        return null;
      case 'relayStart': {
        const receiver = this.publishedReceiver(cmd.trackSid);
        if (!receiver) return null;
        const layer = cmd.layer === 'best' ? bestLayer(receiver) : cmd.layer ?? -1;
        return this.relayHub().startRelay(receiver, cmd.toSlot, layer);
      }
      case 'relayStop': {
        const receiver = this.publishedReceiver(cmd.trackSid);
        if (receiver) this.relayHub().stopRelay(receiver, cmd.toSlot);
        return null;
      }
      case 'relayEnd': this.endRelay(cmd.trackSid); return null;
      case 'trackSettings': {
        const downstream = this.participants.get(cmd.participantSid)?.downstream;
        downstream?.setMaxLayer(cmd.trackSid, cmd.maxLayer);
        downstream?.setPriority(cmd.trackSid, cmd.priority);
        return null;
      }
      case 'unpublish': this.unpublish(cmd.participantSid, cmd.trackSid); return null;
      case 'inject': this.inject(cmd.participantSid, cmd.fromSlot, cmd.track); return null;
      case 'updatePermissions': {
        const p = this.participants.get(cmd.participantSid);
        if (p) p.info = { ...p.info, canPublishData: cmd.canPublishData, canSubscribe: cmd.canSubscribe };
        return null;
      }
      case 'sendData': return this.sendData(cmd.roomId, cmd.data, cmd.reliable, cmd.identities);
      case 'leave': this.leave(cmd.participantSid); return null;
      case 'signalLost':
        this.participants.get(cmd.participantSid)?.hold();
        return null;
      case 'resume': return this.participant(cmd.participantSid).resume();
      case 'stats': return this.stats();
      case 'trackRates': return this.trackRates();
      case 'shutdown': await this.shutdown(); return null;
      case 'memory': return this.memory();
      case 'testFault':
        if (process.env.STRAND_TEST_WORKER_FAULT !== '1') throw new Error('testFault needs STRAND_TEST_WORKER_FAULT=1');
        if (cmd.mode === 'exit') setTimeout(() => process.exit(70), 0); // 70: EX_SOFTWARE
        else setTimeout(() => { throw new Error(`test fault in media worker ${this.slot}`); }, 0);
        return null;
    }
  }

  private async init(cmd: Extract<MediaCommand, { op: 'init' }>): Promise<MediaResults['init']> {
    this.slot = cmd.slot;
    this.tid = threadId();
    this.limits = cmd.limits;
    this.events = cmd.events;
    setNativeErrorReporter((where, err) => this.emit({ ev: 'error', where, message: String((err as Error)?.message ?? err) }));
    this.native = loadNative();
    // No preload(): libdatachannel starts its globals (thread pool, usrsctp, TLS) with this
    // worker's first connection, about 2 ms. Started, usrsctp's timer thread ticks every 10 ms
    // (0.4 % of a core) and stays until shutdown, so a worker that hosts nobody costs nothing.
    // STRAND_NATIVE_LOG=Verbose|Debug|Info|Warning|Error forwards libdatachannel's own log.
    const nativeLog = process.env.STRAND_NATIVE_LOG;
    if (nativeLog) {
      this.native.initLogger(nativeLog as Parameters<Native['initLogger']>[0], guard('initLogger', (level: string, message: string) => {
        process.stdout.write(`[libdatachannel ${this.slot} ${level}] ${message}\n`);
      }));
    }
    this.rtcConfig = {
      iceServers: cmd.iceServers,
      enableIceUdpMux: true,
      portRangeBegin: cmd.udpPort,
      portRangeEnd: cmd.udpPort,
      ...(cmd.bindAddress ? { bindAddress: cmd.bindAddress } : {}),
      disableAutoNegotiation: true,
      forceMediaTransport: true,
    };
    this.portHold = await IcePortHold.open(this.native, this.rtcConfig, cmd.bindAddress || '0.0.0.0', cmd.udpPort, `media worker ${cmd.slot}`);
    this.speakerTimer = setInterval(() => this.updateSpeakers(), SPEAKER_INTERVAL_MS);
    this.qualityTimer = setInterval(() => this.updateQuality(), QUALITY_INTERVAL_MS);
    this.allocationTimer = setInterval(() => this.allocate(), ALLOCATION_INTERVAL_MS);
    this.hub = new RelayHub(cmd.doorbell, {
      onData: (roomId, reliable, packet) => deliverRelayed(packet, reliable, this.rooms.get(roomId)?.participants.values() ?? []),
      onError: (where, err) => this.onError(where, err),
    });
    const shared = new BigInt64Array(cmd.counters);
    this.countersTimer = setInterval(() => publishCounters(shared), COUNTERS_INTERVAL_MS);
    return { slot: this.slot };
  }

  private updateSpeakers(): void {
    const nowMs = performance.now();
    for (const [roomId, room] of this.rooms) {
      const speakers = room.speakers(nowMs);
      const key = speakers.map((s) => `${s.sid}:${s.level}`).join(',');
      if (key === room.lastSpeakers) continue;
      room.lastSpeakers = key;
      this.emit({ ev: 'speakers', roomId, speakers });
    }
  }

  private allocate(): void {
    for (const p of this.participants.values()) for (const r of p.published()) r.tickRates(ALLOCATION_INTERVAL_MS / 1000);
    this.hub?.tickRates(ALLOCATION_INTERVAL_MS / 1000);
    for (const p of this.participants.values()) p.downstream.allocateBandwidth();
  }

  private updateQuality(): void {
    for (const [roomId, room] of this.rooms) {
      const updates = [...room.participants.values()].map((p) => {
        const loss = Math.max(p.publisher?.receiveLoss ?? 0, p.downstream.sendLoss);
        const delays = p.downstream.linkDelays;
        const jitterMs = Math.max(delays.jitterMs, p.publisher?.receiveJitterMs ?? 0);
        const connected = !DOWN_STATES.has(p.subscriberState) && !DOWN_STATES.has(p.publisherState);
        return { sid: p.info.sid, ...connectionQuality({ loss, jitterMs, rttMs: delays.rttMs }, connected) };
      });
      if (updates.length > 0) this.emit({ ev: 'quality', roomId, updates });
    }
  }

  private emit(e: MediaEvent): void {
    this.events?.postMessage(e);
  }

  private participant(sid: string): ParticipantPeers {
    const p = this.participants.get(sid);
    if (!p) throw new Error(`participant ${sid} is not on media worker ${this.slot}`);
    return p;
  }

  private onError(where: string, err: unknown): void {
    this.emit({ ev: 'error', where, message: String((err as Error)?.message ?? err) });
  }

  private async join(info: ParticipantDescriptor): Promise<MediaResults['join']> {
    if (!this.native) throw new Error('media worker not initialised');
    this.leave(info.sid);
    const p = new ParticipantPeers(info, {
      onStreamState: (publisherSid, trackSid, paused) => this.emit({ ev: 'streamState', participantSid: info.sid, publisherSid, trackSid, paused }),
    }, this.limits);
    p.downstream.testLossRate = testLossRate(info.identity);
    let room = this.rooms.get(info.roomId);
    if (!room) {
      room = new RoomRouter();
      this.rooms.set(info.roomId, room);
    }
    room.participants.set(info.sid, p);
    this.participants.set(info.sid, p);
    // An ingress participant: its media comes from an ingress worker (`inject`), it receives none.
    if (info.headless) return { subscriberOffer: '' };
    if (info.singlePeerConnection) {
      // v1: the client offers; the one connection is set up by its first offer.
      p.publisher = this.createPublisher(p);
      return { subscriberOffer: '' };
    }
    p.subscriber = new SubscriberPeer(this.native, info.sid, this.rtcConfig, p.downstream, {
      onStateChange: (state) => this.emit({ ev: 'pcState', participantSid: info.sid, target: 'subscriber', state }),
      onOffer: (sdp) => this.emit({ ev: 'offer', participantSid: info.sid, sdp }),
      onCandidate: (candidateInit) => this.emit({ ev: 'candidate', participantSid: info.sid, target: 'subscriber', candidateInit }),
      onReliableOpen: () => p.onReliableOpen(),
      onError: (where, err) => this.onError(where, err),
    });
    const subscriberOffer = await p.subscriber.start();
    return { subscriberOffer };
  }

  private createPublisher(p: ParticipantPeers): PublisherPeer {
    const room = this.rooms.get(p.info.roomId);
    return new PublisherPeer(this.native!, p.info.sid, this.rtcConfig, {
      onStateChange: (state) => this.emit({ ev: 'pcState', participantSid: p.info.sid, target: 'publisher', state }),
      onLayerSsrc: (trackSid, layer, ssrc) => this.emit({ ev: 'layerSsrc', participantSid: p.info.sid, trackSid, layer, ssrc }),
      onDataMessage: (label, msg) => {
        // Over its limits, a participant's packets are dropped (and counted) before any decoding.
        if (!p.admitData(msg.length)) {
          mediaCounters[DATA_DROPPED]!++;
          return;
        }
        if (room) relayDataPacket(p, label, msg, room.participants.values(), (reliable, packet) => this.hub?.broadcastData(p.info.roomId, reliable, packet));
      },
      // v1: downstream data goes out on the client's own channels.
      onReliableOpen: () => {
        if (p.single) p.onReliableOpen();
      },
      onMediaSections: (audios, videos) => this.emit({ ev: 'mediaSections', participantSid: p.info.sid, audios, videos }),
      onError: (where, err) => this.onError(where, err),
    }, p.single ? p.downstream : null, p.mediaBudget);
  }

  private relayHub(): RelayHub {
    if (!this.hub) throw new Error('media worker not initialised');
    return this.hub;
  }

  /** A track published by a participant of this worker. */
  private publishedReceiver(trackSid: string): Receiver | undefined {
    for (const p of this.participants.values()) {
      const r = p.publishedReceiver(trackSid);
      if (r) return r;
    }
    return undefined;
  }

  private inject(participantSid: string, fromSlot: number, track: RelayedTrack): void {
    const p = this.participant(participantSid);
    if (!p.info.headless) throw new Error(`participant ${participantSid} has connections of its own`);
    if (p.injected.has(track.trackSid)) return;
    p.injected.set(track.trackSid, this.relayHub().inject(fromSlot, track));
  }

  private subscribe(subscriberSid: string, trackSid: string, relay?: { fromSlot: number; track: RelayedTrack }): MediaResults['subscribe'] {
    const p = this.participant(subscriberSid);
    if (!p.subscriber && !p.single) return { ok: false, reason: 'no subscriber connection' };
    const receiver = relay ? this.relayHub().mirror(relay.fromSlot, relay.track) : this.publishedReceiver(trackSid);
    if (!receiver) return { ok: false, reason: 'track not found on this worker' };
    p.subscribe(receiver);
    return { ok: true };
  }

  /** A relayed track is gone, or no local subscriber wants it any more: drop its stand-in. */
  private endRelay(trackSid: string): void {
    const mirror = this.hub?.mirrorOf(trackSid);
    if (!mirror) return;
    for (const p of this.participants.values()) p.unsubscribe(trackSid);
    this.hub!.dropMirror(mirror);
  }

  private sendData(roomId: string, data: Uint8Array, reliable: boolean, identities: string[]): MediaResults['sendData'] {
    let recipients = 0;
    for (const p of this.rooms.get(roomId)?.participants.values() ?? []) {
      if (identities.length > 0 && !identities.includes(p.identity)) continue;
      p.sendData(reliable, data);
      recipients++;
    }
    return { recipients };
  }

  private unpublish(publisherSid: string, trackSid: string): void {
    const p = this.participants.get(publisherSid);
    const room = p && this.rooms.get(p.info.roomId);
    if (!p || !room) return;
    for (const other of room.participants.values()) other.unsubscribe(trackSid);
    const receiver = p.publisher?.receiver(trackSid);
    if (receiver) this.hub?.forget(receiver);
    p.publisher?.unpublish(trackSid);
    const injected = p.injected.get(trackSid);
    if (injected) {
      p.injected.delete(trackSid);
      this.hub?.dropInjected(injected);
      injected.close();
    }
  }

  private leave(sid: string): void {
    const p = this.participants.get(sid);
    if (!p) return;
    const room = this.rooms.get(p.info.roomId);
    if (room) {
      for (const r of [...p.published()]) {
        for (const other of room.participants.values()) other.unsubscribe(r.trackSid);
        this.hub?.forget(r);
      }
    }
    for (const r of p.injected.values()) this.hub?.dropInjected(r);
    const closed = p.close();
    this.closing.add(closed);
    void closed.then(() => this.closing.delete(closed));
    this.participants.delete(sid);
    room?.participants.delete(sid);
    if (room && room.participants.size === 0) this.rooms.delete(p.info.roomId);
  }

  /**
   * An exception escaped this worker's JavaScript (worker-entry.ts catches it). Whatever it
   * interrupted may have left a participant's state half-changed, so every participant here is
   * dropped, through the same path as a leave, and the main thread tells them to reconnect;
   * they come back onto this worker, empty and in a known state, or another. Other workers'
   * rooms see these participants leave and come back, as after any reconnect.
   */
  fault(err: unknown): void {
    const sids = this.dropEveryone('fault.leave');
    this.rooms.clear();
    this.emit({ ev: 'fault', message: String((err as Error)?.stack ?? err), participantSids: sids });
  }

  /**
   * Every participant leaves, through the same path as a leave; one whose leave throws is
   * forgotten anyway, so one broken participant cannot keep the others. Returns their sids.
   */
  private dropEveryone(where: string): string[] {
    const sids = [...this.participants.keys()];
    for (const sid of sids) {
      try {
        this.leave(sid);
      } catch (err) {
        this.onError(where, err);
        this.participants.delete(sid);
      }
    }
    return sids;
  }

  private memory(): MediaResults['memory'] {
    (globalThis as { gc?: () => void }).gc?.();
    return { heapUsedBytes: getHeapStatistics().used_heap_size, participants: this.participants.size, rooms: this.rooms.size, nativeHeld: heldNativeCount() };
  }

  private trackRates(): TrackRate[] {
    const out: TrackRate[] = [];
    for (const p of this.participants.values()) {
      for (const r of p.published()) {
        let expected = 0;
        let received = 0;
        for (const st of r.stats) {
          expected += st.expected;
          received += st.received;
        }
        out.push({
          trackSid: r.trackSid, participantSid: p.info.sid, kind: r.kind, bitrate: r.layerBitrates.reduce((a, b) => a + b, 0),
          lossPercent: expected > 0 ? Math.max(0, (100 * (expected - received)) / expected) : 0,
        });
      }
    }
    return out;
  }

  private stats(): WorkerStats {
    let publishedTracks = 0;
    let downTracks = 0;
    let packetsIn = 0;
    let packetsOut = 0;
    let packetsDropped = 0;
    let nacks = 0;
    let retransmits = 0;
    let retransmitMisses = 0;
    let testDrops = 0;
    let upstreamLost = 0;
    let upstreamNacks = 0;
    let upstreamRepaired = 0;
    let repairsForwarded = 0;
    let iceRestarts = 0;
    let heldDataDropped = 0;
    let estimateMin = 0;
    let estimateMax = 0;
    for (const p of this.participants.values()) {
      if (p.publisher) {
        packetsIn += p.publisher.packetsIn;
        iceRestarts += p.publisher.restarts;
        packetsDropped += p.publisher.packetsUnrouted;
        upstreamNacks += p.publisher.nacksSent;
        testDrops += p.publisher.testDrops;
        for (const r of p.publisher.receivers) {
          publishedTracks++;
          upstreamRepaired += r.repaired;
          for (const l of r.loss ?? []) upstreamLost += l.lost;
        }
      }
      for (const r of p.injected.values()) {
        publishedTracks++;
        packetsIn += r.packets;
      }
      iceRestarts += p.subscriber?.restarts ?? 0;
      heldDataDropped += p.heldDropped;
      downTracks += p.downstream.count;
      const e = p.downstream.estimate;
      if (e > 0) {
        estimateMin = estimateMin === 0 ? e : Math.min(estimateMin, e);
        estimateMax = Math.max(estimateMax, e);
      }
      for (const dt of p.downstream.downTracks) {
        packetsOut += dt.packetsSent;
        packetsDropped += dt.sendErrors;
        nacks += dt.nacksReceived;
        retransmits += dt.retransmits;
        retransmitMisses += dt.retransmitMisses;
        testDrops += dt.testDrops;
        repairsForwarded += dt.repairsForwarded;
      }
    }
    return {
      ...(this.hub?.stats() ?? { ringDrops: 0, ringRecordsOut: 0, ringRecordsIn: 0 }),
      slot: this.slot, tid: this.tid, participants: this.participants.size, publishedTracks, downTracks, packetsIn, packetsOut, packetsDropped,
      nacks, retransmits, retransmitMisses, testDrops, upstreamLost, upstreamNacks, upstreamRepaired, repairsForwarded, iceRestarts, heldDataDropped,
      subscriberEstimateMin: estimateMin, subscriberEstimateMax: estimateMax,
    };
  }

  private async shutdown(): Promise<void> {
    this.closeEverything();
    // Wait until every connection, track and data channel has reported closed: releasing the
    // addon (cleanup(), then thread teardown) while their callbacks are live aborts the process.
    const deadline = Date.now() + CLOSE_WAIT_MS;
    await Promise.race([Promise.all(this.closing), new Promise((resolve) => setTimeout(resolve, CLOSE_WAIT_MS).unref())]);
    while (heldNativeCount() > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    if (heldNativeCount() > 0) this.onError('shutdown', new Error(`${heldNativeCount()} native objects did not report closed`));
    this.releaseNative();
    this.events?.close();
  }

  /**
   * This thread is exiting (process.exit() in this worker) with its connections open. They are
   * released now, synchronously, since an 'exit' handler cannot wait: a connection whose
   * callbacks outlive the thread aborts the whole process when libdatachannel drops it later
   * (napi_release_threadsafe_function on the dead thread's mutex). cleanup() closes whatever has
   * not reported closed yet and frees the callbacks while this thread's environment exists, and
   * lets go of the ICE port for the worker that replaces this one.
   */
  abandon(): void {
    if (this.released) return;
    this.closeEverything();
    this.releaseNative();
  }

  private closeEverything(): void {
    if (this.speakerTimer) clearInterval(this.speakerTimer);
    if (this.qualityTimer) clearInterval(this.qualityTimer);
    if (this.allocationTimer) clearInterval(this.allocationTimer);
    if (this.countersTimer) clearInterval(this.countersTimer);
    this.hub?.close();
    this.dropEveryone('close.leave');
    try {
      this.portHold?.close();
    } catch (err) {
      this.onError('portHold.close', err);
    }
  }

  private releaseNative(): void {
    this.released = true;
    try {
      this.native?.cleanup();
    } catch (err) {
      this.onError('cleanup', err);
    }
  }
}


