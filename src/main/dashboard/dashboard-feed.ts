// What /dashboard shows, once a second while someone watches: rooms, participants and their
// tracks (bitrate, loss, quality, speaking), the media workers (CPU, packets/s, ring drops) and
// egress/ingress counts. Worker totals come from the shared counters /metrics reads; per-track
// rates from one `trackRates` call per worker per second; CPU from /proc. Nothing per packet.
import { readFileSync } from 'node:fs';
import { livekit } from '../../proto/index.js';
import { PACKETS_IN, PACKETS_OUT } from '../../workers/media-counters.js';
import type { TrackRate } from '../../workers/protocol.js';
import type { MediaPool } from '../media-pool.js';
import type { RoomManager } from '../rooms/room-manager.js';

export interface DashboardTrack {
  sid: string;
  kind: 'audio' | 'video';
  source: string;
  muted: boolean;
  bitrate: number;
  lossPercent: number;
}

export interface DashboardParticipant {
  sid: string;
  identity: string;
  state: string;
  /** 'here', or the node that serves it (a room spanning nodes). */
  node: string;
  quality: string;
  speaking: number;
  tracks: DashboardTrack[];
}

export interface DashboardSnapshot {
  time: number;
  rooms: Array<{ name: string; sid: string; participants: DashboardParticipant[] }>;
  workers: Array<{ slot: number; cpuPercent: number; packetsInPerSecond: number; packetsOutPerSecond: number; ringDrops: number; participants: number }>;
  egress: Record<string, number> | null;
  ingress: Record<string, number> | null;
}

export interface DashboardSources {
  rooms: RoomManager;
  pool: MediaPool;
  egressActive?(): Record<string, number>;
  ingressActive?(): Record<string, number>;
}


/** CPU-seconds of one thread of this process so far (Linux), or 0. */
function threadCpuSeconds(tid: number): number {
  try {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return 0;
  }
}

export class DashboardFeed {
  private last: { at: number; packets: Array<[number, number]>; cpu: number[] } | null = null;

  constructor(private readonly src: DashboardSources) {}

  async snapshot(): Promise<DashboardSnapshot> {
    const { pool, rooms } = this.src;
    const now = performance.now();
    const [stats, rates] = await Promise.all([
      Promise.all(Array.from({ length: pool.size }, (_, slot) => pool.run(slot, { op: 'stats' }))),
      Promise.all(Array.from({ length: pool.size }, (_, slot) => pool.run(slot, { op: 'trackRates' }))),
    ]);
    const packets = stats.map((s) => {
      const c = pool.countersOf(s.slot);
      return [c[PACKETS_IN]!, c[PACKETS_OUT]!] as [number, number];
    });
    const cpu = stats.map((s) => threadCpuSeconds(s.tid));
    const prev = this.last;
    const seconds = prev ? (now - prev.at) / 1000 : 0;
    this.last = { at: now, packets, cpu };
    const perSecond = (v: number, p: number | undefined) => (prev && seconds > 0 && p !== undefined ? Math.max(0, (v - p) / seconds) : 0);
    const workers = stats.map((s, i) => ({
      slot: s.slot,
      cpuPercent: perSecond(cpu[i]!, prev?.cpu[i]) * 100,
      packetsInPerSecond: perSecond(packets[i]![0], prev?.packets[i]?.[0]),
      packetsOutPerSecond: perSecond(packets[i]![1], prev?.packets[i]?.[1]),
      ringDrops: s.ringDrops,
      participants: s.participants,
    }));
    const byTrack = new Map<string, TrackRate>();
    for (const list of rates) for (const r of list) byTrack.set(r.trackSid, r);
    return {
      time: Date.now(),
      rooms: [...rooms.rooms.values()].map((room) => ({
        name: room.name,
        sid: room.sid,
        participants: [...room.participants.values()].filter((p) => !p.hidden).map((p) => ({
          sid: p.sid,
          identity: p.identity,
          state: livekit.ParticipantInfo.State[p.state] ?? String(p.state),
          node: p.remoteNode ?? 'here',
          quality: livekit.ConnectionQuality[room.qualityOf(p.sid) ?? -1]?.toLowerCase() ?? '',
          speaking: room.speakingLevel(p.sid),
          tracks: [...p.tracks.values()].map((t) => {
            const r = byTrack.get(t.sid ?? '');
            return {
              sid: t.sid ?? '', kind: t.type === livekit.TrackType.VIDEO ? 'video' as const : 'audio' as const,
              source: livekit.TrackSource[t.source ?? 0]?.toLowerCase() ?? '', muted: t.muted ?? false,
              bitrate: r?.bitrate ?? 0, lossPercent: r?.lossPercent ?? 0,
            };
          }),
        })),
      })),
      workers,
      egress: this.src.egressActive?.() ?? null,
      ingress: this.src.ingressActive?.() ?? null,
    };
  }
}
