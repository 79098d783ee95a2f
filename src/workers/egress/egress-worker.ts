// Everything one egress worker owns: the rings from the media workers (RTP of recorded tracks
// in, keyframe requests out), and the recordings running here. It runs in its own Piscina
// pool, so encoding and muxing never take time from forwarding.
import { createSocket, type Socket } from 'node:dgram';
import type { MessagePort } from 'node:worker_threads';
import { Doorbell, REC_KEYFRAME, REC_RTP } from '../ring-channel.js';
import { RingSet, type PeerRecordHandler } from '../ring-set.js';
import type { EgressCommand, EgressEvent, EgressInput, EgressResults, EgressWorkerStats } from './egress-protocol.js';
import { Recording, type RecordingHost } from './recording.js';

/**
 * While it records, the worker polls its rings this often instead of sleeping on its doorbell:
 * a media worker then never pays for waking it (a futex wake per packet cost the forwarding
 * path about 5 %), and a recording does not mind 2 ms.
 */
export const EGRESS_POLL_MS = 2;

interface Target {
  recording: Recording;
  index: number;
}

export class EgressWorker implements PeerRecordHandler, RecordingHost {
  private slot = -1;
  private events: MessagePort | null = null;
  private doorbell: Doorbell | null = null;
  private readonly rings = new RingSet();
  private readonly recordings = new Map<string, Recording>();
  /** Per media worker, per relay id: the recordings (and their input index) fed by it. */
  private readonly targets = new Map<number, Map<number, Target[]>>();
  from = -1;
  private draining = false;
  private closed = false;
  private _socket: Socket | null = null;
  private finishedPackets = 0;
  private finishedBeforeKeyframe = 0;

  get socket(): Socket {
    if (!this._socket) {
      this._socket = createSocket('udp4');
      this._socket.on('error', (err) => this.emit({ ev: 'error', where: 'egress.udp', message: err.message }));
      this._socket.unref();
    }
    return this._socket;
  }

  async handle(cmd: EgressCommand): Promise<EgressResults[EgressCommand['op']]> {
    switch (cmd.op) {
      case 'init':
        this.slot = cmd.slot;
        this.events = cmd.events;
        this.doorbell = new Doorbell(cmd.doorbell);
        return { slot: cmd.slot };
      case 'attachRing':
        // A media worker replaced: its new relay ids must not reach recordings of the old ones.
        if (this.rings.attach(cmd.mediaSlot, cmd.out, cmd.mediaDoorbell, cmd.inbound)) this.targets.delete(cmd.mediaSlot);
        if (!this.draining) void this.drainLoop();
        return null;
      case 'start': {
        const { job } = cmd;
        if (this.recordings.has(job.egressId)) throw new Error(`egress ${job.egressId} is already running`);
        const rec = new Recording(job, this);
        this.recordings.set(job.egressId, rec);
        job.inputs.forEach((input, index) => this.targetsOf(input).push({ recording: rec, index }));
        try {
          await rec.start();
        } catch (err) {
          rec.kill();
          this.forget(rec);
          throw err;
        }
        return null;
      }
      case 'addStream': await this.recording(cmd.egressId).addStream(cmd.url); return null;
      case 'removeStream': await this.recording(cmd.egressId).removeStream(cmd.url); return null;
      case 'speaker': this.recordings.get(cmd.egressId)?.setSpeaker(cmd.identity); return null;
      case 'addInput': {
        const rec = this.recording(cmd.egressId);
        this.targetsOf(cmd.input).push({ recording: rec, index: rec.addInput(cmd.input) });
        return null;
      }
      case 'removeInput': this.recordings.get(cmd.egressId)?.removeInput(cmd.trackSid); return null;
      case 'layout': this.recording(cmd.egressId).setLayout(cmd.layout); return null;
      case 'stop': {
        const rec = this.recordings.get(cmd.egressId);
        if (rec) await rec.stop();
        return null;
      }
      case 'stats': return this.stats();
      case 'shutdown':
        for (const rec of [...this.recordings.values()]) await rec.stop();
        this.closed = true;
        this.doorbell?.ring();
        this._socket?.close();
        return null;
    }
  }

  private recording(egressId: string): Recording {
    const rec = this.recordings.get(egressId);
    if (!rec) throw new Error(`egress ${egressId} is not running here`);
    return rec;
  }

  private targetsOf(input: EgressInput): Target[] {
    let bySlot = this.targets.get(input.fromSlot);
    if (!bySlot) {
      bySlot = new Map();
      this.targets.set(input.fromSlot, bySlot);
    }
    let list = bySlot.get(input.relayId);
    if (!list) {
      list = [];
      bySlot.set(input.relayId, list);
    }
    return list;
  }

  private forget(rec: Recording): void {
    this.finishedPackets += rec.packetsIn;
    this.finishedBeforeKeyframe += rec.packetsBeforeKeyframe;
    this.recordings.delete(rec.job.egressId);
    for (const input of rec.job.inputs) {
      const bySlot = this.targets.get(input.fromSlot);
      const list = bySlot?.get(input.relayId);
      if (!list) continue;
      const kept = list.filter((t) => t.recording !== rec);
      if (kept.length > 0) bySlot!.set(input.relayId, kept);
      else bySlot!.delete(input.relayId);
    }
  }

  requestKeyframe(input: EgressInput): void {
    this.rings.writers.get(input.fromSlot)?.write(REC_KEYFRAME, Math.max(0, input.layer), input.relayId, null, 0);
  }

  emit(e: EgressEvent): void {
    if (e.ev === 'ended') {
      const rec = this.recordings.get(e.egressId);
      if (rec) this.forget(rec);
    }
    this.events?.postMessage(e);
  }

  onRecord(kind: number, _layer: number, id: number, payload: Buffer, len: number): void {
    if (kind !== REC_RTP) return;
    const list = this.targets.get(this.from)?.get(id);
    if (!list) return;
    for (let i = 0; i < list.length; i++) list[i]!.recording.onRtp(list[i]!.index, payload, len);
  }

  private readonly onDrainError = (err: unknown): void => this.emit({ ev: 'error', where: 'egress.drain', message: (err as Error).message });

  private async drainLoop(): Promise<void> {
    this.draining = true;
    while (!this.closed && this.doorbell) {
      this.rings.drain(this, this.onDrainError);
      if (this.recordings.size > 0) await new Promise((r) => setTimeout(r, EGRESS_POLL_MS));
      else await this.doorbell.wait(this.rings.allEmpty);
    }
    this.draining = false;
  }

  private stats(): EgressWorkerStats {
    let packetsIn = this.finishedPackets;
    let before = this.finishedBeforeKeyframe;
    let children = 0;
    for (const r of this.recordings.values()) {
      packetsIn += r.packetsIn;
      before += r.packetsBeforeKeyframe;
      children += r.childCount;
    }
    return { slot: this.slot, egresses: this.recordings.size, ffmpegChildren: children, packetsIn, packetsBeforeKeyframe: before, ringRecordsIn: this.rings.recordsIn };
  }
}
