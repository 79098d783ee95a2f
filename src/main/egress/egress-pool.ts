// The pool of egress workers (Piscina, separate from the media workers) and the typed RPC to
// them. A media worker and an egress worker are linked, on first use, by a ring in each
// direction: RTP of recorded tracks one way, keyframe requests the other.
import { MessageChannel } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { slotBalancer } from '../slot-balancer.js';
import { createDoorbell, createRing } from '../../workers/ring-channel.js';
import { EGRESS_PEER_BASE } from '../../workers/protocol.js';
import type { EgressCommand, EgressEvent, EgressResults } from '../../workers/egress/egress-protocol.js';
import type { Logger } from '../logger.js';
import type { MediaPool } from '../media-pool.js';

type Op = EgressCommand['op'];

export class EgressPool {
  private pool: Piscina | null = null;
  private readonly doorbells: SharedArrayBuffer[] = [];
  private readonly links = new Map<string, Promise<void>>();
  /** Egresses running on each slot, for placement. */
  private readonly load: number[];

  constructor(
    private readonly workers: number,
    private readonly ringBytes: number,
    private readonly media: MediaPool,
    private readonly log: Logger,
    private readonly onEvent: (slot: number, e: EgressEvent) => void,
  ) {
    this.load = new Array<number>(workers).fill(0);
  }

  async start(): Promise<void> {
    this.pool = new Piscina({
      filename: new URL('../../workers/egress/egress-entry.js', import.meta.url).href,
      minThreads: this.workers,
      maxThreads: this.workers,
      idleTimeout: Infinity,
      atomics: 'disabled',
      concurrentTasksPerWorker: 1_000_000,
      loadBalancer: slotBalancer(),
    });
    await Promise.all(Array.from({ length: this.workers }, (_, slot) => {
      const { port1, port2 } = new MessageChannel();
      port1.on('message', (e: EgressEvent) => this.onEvent(slot, e));
      port1.unref();
      const doorbell = createDoorbell();
      this.doorbells.push(doorbell);
      return this.runOn(slot, { op: 'init', slot, events: port2, doorbell }, [port2]);
    }));
    this.log.info({ workers: this.workers }, 'egress workers started');
  }

  /** The least loaded egress worker, counted as taking one more egress. */
  place(): number {
    let best = 0;
    for (let i = 1; i < this.load.length; i++) if (this.load[i]! < this.load[best]!) best = i;
    this.load[best]!++;
    return best;
  }

  release(slot: number): void {
    if (this.load[slot]! > 0) this.load[slot]!--;
  }

  /** Links media worker `mediaSlot` with egress worker `egressSlot`, once. */
  link(mediaSlot: number, egressSlot: number): Promise<void> {
    const key = `${mediaSlot}:${egressSlot}`;
    let linked = this.links.get(key);
    if (!linked) {
      const toEgress = createRing(this.ringBytes);
      const toMedia = createRing(this.ringBytes);
      linked = Promise.all([
        this.media.run(mediaSlot, {
          op: 'attachRing', peer: EGRESS_PEER_BASE + egressSlot, out: toEgress, peerDoorbell: this.doorbells[egressSlot]!, inbound: toMedia,
        }),
        this.run(egressSlot, { op: 'attachRing', mediaSlot, out: toMedia, mediaDoorbell: this.media.doorbellOf(mediaSlot), inbound: toEgress }),
      ]).then(() => undefined);
      this.links.set(key, linked);
    }
    return linked;
  }

  run<K extends Op>(slot: number, cmd: Extract<EgressCommand, { op: K }>): Promise<EgressResults[K]> {
    return this.runOn(slot, cmd, []);
  }

  private runOn<K extends Op>(slot: number, cmd: Extract<EgressCommand, { op: K }>, transferList: MessageChannel['port2'][]): Promise<EgressResults[K]> {
    if (!this.pool) return Promise.reject(new Error('egress pool is not running'));
    const task = { ...cmd, [Piscina.queueOptionsSymbol]: { slot } };
    return this.pool.run(task, { transferList }) as Promise<EgressResults[K]>;
  }

  /** Finishes every running egress (their files complete), then stops the pool. */
  async stop(): Promise<void> {
    const pool = this.pool;
    if (!pool) return;
    await Promise.allSettled(Array.from({ length: this.workers }, (_, slot) => this.run(slot, { op: 'shutdown' })));
    this.pool = null;
    await pool.destroy();
  }
}
