// Prometheus metrics under LiveKit's names and labels, so that LiveKit's Grafana dashboard works
// against Strand. Room and participant gauges are read from the rooms at scrape time; media
// counters from the workers' shared memory (media-counters.ts); the rest is counted as it happens.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { livekit } from '../../proto/index.js';
import * as C from '../../workers/media-counters.js';
import type { Cascade } from '../cascade/cascade.js';
import type { EgressManager } from '../egress/egress-manager.js';
import type { IngressManager } from '../ingress/ingress-manager.js';
import type { MediaPool } from '../media-pool.js';
import type { Participant } from '../rooms/participant.js';
import type { Room } from '../rooms/room.js';
import type { RoomObserver } from '../rooms/room-observer.js';

export type MessageDirection = 'incoming' | 'outgoing';

export class Metrics implements RoomObserver {
  readonly registry = new Registry();
  private readonly nodeMessages: Counter<'type' | 'status' | 'direction'>;
  private readonly twirpStatus: Counter<'service' | 'method' | 'status' | 'code'>;
  private readonly workerFaults: Counter<'worker'>;
  private readonly workerRestarts: Counter<'worker'>;
  private readonly signalDrops: Counter;
  private readonly joinLatency: Histogram<'protocol_version'>;
  private readonly roomDuration: Histogram;

  constructor(nodeId: string, rooms: () => Iterable<Room>, pool: MediaPool) {
    const registers = [this.registry];
    this.registry.setDefaultLabels({ node_id: nodeId, node_type: 'SERVER' });
    // Node's default metrics. Their event-loop-lag histogram samples on a timer, every 10 ms by
    // default: 100 wake-ups a second of an otherwise idle main thread. It samples once a second
    // here, and the figures drawn from it (min … p99, which include the sampling interval) are
    // left out; nodejs_eventloop_lag_seconds, measured at each scrape, stays.
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 1000 });
    for (const stat of ['min', 'max', 'mean', 'stddev', 'p50', 'p90', 'p99']) this.registry.removeSingleMetric(`nodejs_eventloop_lag_${stat}_seconds`);

    new Gauge({
      name: 'livekit_room_total', help: 'Rooms on this node', registers,
      collect() {
        let n = 0;
        for (const _ of rooms()) n++;
        this.set(n);
      },
    });
    new Gauge({
      name: 'livekit_participant_total', help: 'Participants connected to this node', registers,
      collect() {
        let n = 0;
        for (const r of rooms()) n += r.participants.size;
        this.set(n);
      },
    });
    new Gauge<'kind'>({
      name: 'livekit_track_published_total', help: 'Tracks published on this node', labelNames: ['kind'], registers,
      collect() {
        const counts = { audio: 0, video: 0 };
        for (const r of rooms()) {
          for (const p of r.participants.values()) for (const t of p.tracks.values()) counts[kindOf(t)]++;
        }
        for (const [kind, n] of Object.entries(counts)) this.set({ kind }, n);
      },
    });
    new Gauge<'kind'>({
      name: 'livekit_track_subscribed_total', help: 'Track subscriptions on this node', labelNames: ['kind'], registers,
      collect() {
        const counts = { audio: 0, video: 0 };
        for (const r of rooms()) {
          const kinds = new Map<string, 'audio' | 'video'>();
          for (const p of r.participants.values()) for (const [sid, t] of p.tracks) kinds.set(sid, kindOf(t));
          for (const p of r.participants.values()) {
            for (const sid of p.subscriptions) {
              const kind = kinds.get(sid);
              if (kind) counts[kind]++;
            }
          }
        }
        for (const [kind, n] of Object.entries(counts)) this.set({ kind }, n);
      },
    });

    // Media counters: totals from shared memory, re-set at every scrape.
    const byTransmission = (name: string, help: string, incoming: number, outgoing: number, retransmitted: number) =>
      new Counter<'direction' | 'transmission'>({
        name, help, labelNames: ['direction', 'transmission'], registers,
        collect() {
          const totals = pool.counterTotals();
          this.reset();
          this.inc({ direction: 'incoming', transmission: 'initial' }, totals[incoming]!);
          this.inc({ direction: 'outgoing', transmission: 'initial' }, totals[outgoing]! - totals[retransmitted]!);
          this.inc({ direction: 'outgoing', transmission: 'retransmit' }, totals[retransmitted]!);
        },
      });
    byTransmission('livekit_packet_total', 'RTP packets', C.PACKETS_IN, C.PACKETS_OUT, C.RTX_PACKETS_OUT);
    byTransmission('livekit_packet_bytes', 'RTP bytes', C.BYTES_IN, C.BYTES_OUT, C.RTX_BYTES_OUT);
    const byDirection = (name: string, help: string, incoming: number, outgoing: number) => new Counter<'direction'>({
      name, help, labelNames: ['direction'], registers,
      collect() {
        const totals = pool.counterTotals();
        this.reset();
        this.inc({ direction: 'incoming' }, totals[incoming]!);
        if (outgoing >= 0) this.inc({ direction: 'outgoing' }, totals[outgoing]!);
      },
    });
    byDirection('livekit_nack_total', 'NACKed sequence numbers (incoming: from subscribers; outgoing: to publishers)', C.NACKS_IN, C.NACKS_OUT);
    byDirection('livekit_pli_total', 'Picture loss indications (incoming: from subscribers; outgoing: to publishers)', C.PLIS_IN, C.PLIS_OUT);
    byDirection('livekit_fir_total', 'Full intra requests from subscribers', C.FIRS_IN, -1);

    this.nodeMessages = new Counter({
      name: 'livekit_node_messages', help: 'Signal messages', labelNames: ['type', 'status', 'direction'], registers,
    });
    this.twirpStatus = new Counter({
      name: 'livekit_node_twirp_request_status', help: 'Twirp requests by outcome', labelNames: ['service', 'method', 'status', 'code'], registers,
    });
    this.signalDrops = new Counter({
      name: 'strand_signal_messages_dropped_total', help: 'Signal messages dropped for going over limit.signal_messages_per_second', registers,
    });
    new Counter({
      name: 'strand_data_packets_dropped_total', help: 'Data packets dropped for going over limit.data_packets_per_second or limit.data_bytes_per_second', registers,
      collect() {
        this.reset();
        this.inc(pool.counterTotals()[C.DATA_DROPPED]!);
      },
    });
    new Counter({
      name: 'strand_media_packets_dropped_total', help: 'RTP packets from publishers dropped for going over limit.media_bytes_per_second', registers,
      collect() {
        this.reset();
        this.inc(pool.counterTotals()[C.MEDIA_DROPPED]!);
      },
    });
    this.workerFaults = new Counter({
      name: 'strand_media_worker_faults_total', help: 'Exceptions that escaped a media worker; each made it drop and reconnect its participants',
      labelNames: ['worker'], registers,
    });
    this.workerRestarts = new Counter({
      name: 'strand_media_worker_restarts_total', help: 'Media worker threads that exited and were replaced by a new one; their participants reconnect',
      labelNames: ['worker'], registers,
    });
    this.joinLatency = new Histogram({
      name: 'livekit_session_join_latency_ms', help: 'From the signal connection to the participant\'s media connection being up, ms',
      labelNames: ['protocol_version'], buckets: [100, 200, 300, 500, 750, 1000, 1500, 2000, 3000, 5000, 10000], registers,
    });
    this.roomDuration = new Histogram({
      name: 'livekit_room_duration_seconds', help: 'How long rooms lived, s',
      buckets: [10, 60, 300, 600, 1800, 3600, 7200, 14400, 28800, 86400], registers,
    });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /**
   * Egress gauges (LiveKit's server has none of its own; its egress service counts requests):
   * running egresses by kind, and ended ones by final status.
   */
  observeEgress(egress: EgressManager): void {
    const registers = [this.registry];
    new Gauge<'type'>({
      name: 'livekit_egress_active', help: 'Egresses running on this node, by request kind', labelNames: ['type'], registers,
      collect() {
        this.reset();
        for (const [type, n] of Object.entries(egress.activeByKind())) this.set({ type }, n);
      },
    });
    new Counter<'status'>({
      name: 'livekit_egress_ended_total', help: 'Egresses ended since start, by final status', labelNames: ['status'], registers,
      collect() {
        // Counted by the EgressManager; copied here at scrape time.
        this.reset();
        for (const [status, n] of egress.endedByStatus) this.inc({ status }, n);
      },
    });
  }

  /** Ingress gauges, after the egress ones: sessions publishing by input, ended ones by final state. */
  observeIngress(ingress: IngressManager): void {
    const registers = [this.registry];
    new Gauge<'input'>({
      name: 'livekit_ingress_active', help: 'Ingresses publishing on this node, by input', labelNames: ['input'], registers,
      collect() {
        this.reset();
        for (const [input, n] of Object.entries(ingress.activeByInput())) this.set({ input }, n);
      },
    });
    new Counter<'status'>({
      name: 'livekit_ingress_ended_total', help: 'Ingress sessions ended since start, by final state', labelNames: ['status'], registers,
      collect() {
        this.reset();
        for (const [status, n] of ingress.endedByStatus) this.inc({ status }, n);
      },
    });
  }

  /**
   * Node link metrics (Strand's own: LiveKit's open-source server has no links between nodes),
   * read from the link worker at each scrape: media records and data packets per peer node and
   * direction, the link's one-way delay, datagrams, retransmissions and losses.
   */
  observeCascade(cascade: Cascade): void {
    const registers = [this.registry];
    const perPeer = (name: string, help: string, sent: 'mediaSent' | 'dataSent', received: 'mediaReceived' | 'dataReceived') =>
      new Counter<'peer' | 'direction'>({
        name, help, labelNames: ['peer', 'direction'], registers,
        async collect() {
          const stats = await cascade.linkStats().catch(() => null);
          this.reset();
          for (const p of stats?.peers ?? []) {
            const peer = cascade.nodeOfLink(p.peer) ?? String(p.peer);
            this.inc({ peer, direction: 'outgoing' }, p[sent]);
            this.inc({ peer, direction: 'incoming' }, p[received]);
          }
        },
      });
    perPeer('strand_node_link_media_records_total', 'RTP packets and sender reports on the node link, by peer node (one copy per track per node)', 'mediaSent', 'mediaReceived');
    perPeer('strand_node_link_data_packets_total', 'Data packets on the node link, by peer node', 'dataSent', 'dataReceived');
    new Gauge<'peer' | 'quantile'>({
      name: 'strand_node_link_delay_ms', help: 'One-way delay of the node link from a peer node, over its last probes, ms',
      labelNames: ['peer', 'quantile'], registers,
      async collect() {
        const stats = await cascade.linkStats().catch(() => null);
        this.reset();
        for (const p of stats?.peers ?? []) {
          if (Number.isNaN(p.delayP50Ms)) continue;
          const peer = cascade.nodeOfLink(p.peer) ?? String(p.peer);
          this.set({ peer, quantile: '0.5' }, p.delayP50Ms);
          this.set({ peer, quantile: '0.99' }, p.delayP99Ms);
        }
      },
    });
    new Counter<'kind'>({
      name: 'strand_node_link_datagrams_total', help: 'Node link datagrams: sent, received, retransmitted, lost (given up), rejected',
      labelNames: ['kind'], registers,
      async collect() {
        const s = await cascade.linkStats().catch(() => null);
        this.reset();
        if (!s) return;
        this.inc({ kind: 'sent' }, s.datagramsSent);
        this.inc({ kind: 'received' }, s.datagramsReceived);
        this.inc({ kind: 'retransmitted' }, s.retransmitted);
        this.inc({ kind: 'lost' }, s.lost);
        this.inc({ kind: 'rejected' }, s.rejected);
      },
    });
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  signalMessage(direction: MessageDirection, ok: boolean): void {
    this.nodeMessages.inc({ type: 'signal', status: ok ? 'success' : 'failure', direction });
  }

  signalDropped(): void {
    this.signalDrops.inc();
  }

  mediaWorkerFault(slot: number): void {
    this.workerFaults.inc({ worker: String(slot) });
  }

  mediaWorkerRestart(slot: number): void {
    this.workerRestarts.inc({ worker: String(slot) });
  }

  twirpResult(service: string, method: string, status: number, code: string): void {
    this.twirpStatus.inc({ service, method, status: String(status), code });
  }

  participantActive(_room: Room, p: Participant): void {
    this.joinLatency.observe({ protocol_version: String(p.clientProtocol) }, Date.now() - p.joinedAtMs);
  }

  roomFinished(room: Room): void {
    this.roomDuration.observe((Date.now() - room.createdAtMs) / 1000);
  }
}

function kindOf(t: livekit.ITrackInfo): 'audio' | 'video' {
  return t.type === livekit.TrackType.VIDEO ? 'video' : 'audio';
}
