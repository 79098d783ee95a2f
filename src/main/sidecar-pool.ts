// A pool of workers beside the media workers (Piscina, one pool per job: egress, ingress), and
// the typed RPC to them. A media worker and a sidecar worker are linked, on first use, by a
// ring in each direction; the sidecar is ring peer `peerBase + slot` for the media worker.
// Every task names its worker's slot, as for the media pool (slot-balancer.ts).
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { SlotBalancer } from './slot-balancer.js';
import { createDoorbell, createRing } from '../workers/ring-channel.js';
import type { Logger } from './logger.js';
import type { MediaPool } from './media-pool.js';

/** The commands every sidecar worker understands, with the same shapes. */
export type SidecarBaseCommand =
  | { op: 'init'; slot: number; events: MessagePort; doorbell: SharedArrayBuffer }
  | { op: 'attachRing'; mediaSlot: number; out: SharedArrayBuffer; mediaDoorbell: SharedArrayBuffer; inbound: SharedArrayBuffer }
  | { op: 'shutdown' };

export interface SidecarPoolOptions {
  /** For logs: "egress", "ingress". */
  name: string;
  /** The worker's Piscina entry module. */
  entry: URL;
  workers: number;
  ringBytes: number;
  peerBase: number;
}

export class SidecarPool<C extends { op: string }, R extends { [K in C['op']]: unknown }, E> {
  private pool: Piscina | null = null;
  private readonly doorbells: SharedArrayBuffer[] = [];
  private readonly links = new Map<string, Promise<void>>();
  /** Jobs running on each slot, for placement. */
  private readonly load: number[];

  constructor(
    private readonly opts: SidecarPoolOptions,
    private readonly media: MediaPool,
    private readonly log: Logger,
    private readonly onEvent: (slot: number, e: E) => void,
  ) {
    this.load = new Array<number>(opts.workers).fill(0);
    // A replaced media worker has none of the old rings: the next link to it makes new ones.
    media.onWorkerReplaced((mediaSlot) => {
      for (const key of [...this.links.keys()]) if (key.startsWith(`${mediaSlot}:`)) this.links.delete(key);
    });
  }

  get size(): number {
    return this.opts.workers;
  }

  async start(): Promise<void> {
    this.pool = new Piscina({
      filename: this.opts.entry.href,
      minThreads: this.opts.workers,
      maxThreads: this.opts.workers,
      idleTimeout: Infinity,
      atomics: 'disabled',
      concurrentTasksPerWorker: 1_000_000,
      loadBalancer: new SlotBalancer().balance,
    });
    await Promise.all(Array.from({ length: this.opts.workers }, (_, slot) => {
      const { port1, port2 } = new MessageChannel();
      port1.on('message', (e: E) => this.onEvent(slot, e));
      port1.unref();
      const doorbell = createDoorbell();
      this.doorbells.push(doorbell);
      return this.runBase(slot, { op: 'init', slot, events: port2, doorbell }, [port2]);
    }));
    this.log.info({ workers: this.opts.workers }, `${this.opts.name} workers started`);
  }

  /** The least loaded worker, counted as taking one more job. */
  place(): number {
    let best = 0;
    for (let i = 1; i < this.load.length; i++) if (this.load[i]! < this.load[best]!) best = i;
    this.load[best]!++;
    return best;
  }

  /** Counts `slot` as taking one more job (placed by the caller). */
  take(slot: number): void {
    this.load[slot]!++;
  }

  release(slot: number): void {
    if (this.load[slot]! > 0) this.load[slot]!--;
  }

  /** Links media worker `mediaSlot` with worker `slot` of this pool, once. */
  link(mediaSlot: number, slot: number): Promise<void> {
    const key = `${mediaSlot}:${slot}`;
    let linked = this.links.get(key);
    if (!linked) {
      const toSidecar = createRing(this.opts.ringBytes);
      const toMedia = createRing(this.opts.ringBytes);
      linked = Promise.all([
        this.media.run(mediaSlot, {
          op: 'attachRing', peer: this.opts.peerBase + slot, out: toSidecar, peerDoorbell: this.doorbells[slot]!, inbound: toMedia,
        }),
        this.runBase(slot, { op: 'attachRing', mediaSlot, out: toMedia, mediaDoorbell: this.media.doorbellOf(mediaSlot), inbound: toSidecar }, []),
      ]).then(() => undefined);
      this.links.set(key, linked);
    }
    return linked;
  }

  run<K extends C['op']>(slot: number, cmd: Extract<C, { op: K }>): Promise<R[K]> {
    return this.runOn(slot, cmd, []) as Promise<R[K]>;
  }

  private runBase(slot: number, cmd: SidecarBaseCommand, transferList: MessagePort[]): Promise<unknown> {
    return this.runOn(slot, cmd, transferList);
  }

  private runOn(slot: number, cmd: object, transferList: MessagePort[]): Promise<unknown> {
    if (!this.pool) return Promise.reject(new Error(`${this.opts.name} pool is not running`));
    const task = { ...cmd, [Piscina.queueOptionsSymbol]: { slot } };
    return this.pool.run(task, { transferList }) as Promise<unknown>;
  }

  /** Lets every worker finish what it runs (`shutdown`), then stops the pool. */
  async stop(): Promise<void> {
    const pool = this.pool;
    if (!pool) return;
    await Promise.allSettled(Array.from({ length: this.opts.workers }, (_, slot) => this.runBase(slot, { op: 'shutdown' }, [])));
    this.pool = null;
    await pool.destroy();
  }
}
