// The pool of media workers (Piscina) and the typed RPC to them. Each room is placed on one
// worker ("slot") and stays there: every command about it is routed to that worker by a
// custom load balancer reading the slot from the task's queue options.
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { slotBalancer } from './slot-balancer.js';
import { COUNTER_SLOTS, addPublishedCounters, createSharedCounters } from '../workers/media-counters.js';
import { createDoorbell, createRing } from '../workers/ring-channel.js';
import type { MediaCommand, MediaEvent, MediaResults, WorkerInit } from '../workers/protocol.js';
import type { Logger } from './logger.js';

export interface MediaPoolOptions {
  workers: number;
  udpPort: number;
  bindAddress: string;
  iceServers: string[];
  /** Capacity of each ring between two workers, bytes. */
  ringBytes: number;
  dataLimits: WorkerInit['dataLimits'];
}

type Op = MediaCommand['op'];

export class MediaPool {
  private pool: Piscina | null = null;
  private readonly ports: MessagePort[] = [];
  /** Rooms placed on each slot, for placement decisions. */
  private readonly roomsPerSlot: number[];
  private readonly roomSlots = new Map<string, number>();
  /** Each worker's published media counters. */
  private readonly counters: BigInt64Array[] = [];
  /** Each worker's doorbell, rung by the others after writing into its rings. */
  private readonly doorbells: SharedArrayBuffer[] = [];
  /** Worker pairs linked by a ring in each direction ("a:b", a < b). */
  private readonly links = new Map<string, Promise<void>>();

  constructor(private readonly opts: MediaPoolOptions, private readonly log: Logger, private readonly onEvent: (slot: number, e: MediaEvent) => void) {
    this.roomsPerSlot = new Array<number>(opts.workers).fill(0);
  }

  get size(): number {
    return this.opts.workers;
  }

  async start(): Promise<void> {
    const n = this.opts.workers;
    this.pool = new Piscina({
      filename: new URL('../workers/media/worker-entry.js', import.meta.url).href,
      minThreads: n,
      maxThreads: n,
      idleTimeout: Infinity,
      // Workers own peer connections: they must never park in Atomics.wait between tasks.
      atomics: 'disabled',
      concurrentTasksPerWorker: 1_000_000,
      loadBalancer: slotBalancer(),
    });
    await Promise.all(Array.from({ length: n }, (_, slot) => {
      const { port1, port2 } = new MessageChannel();
      port1.on('message', (e: MediaEvent) => this.onEvent(slot, e));
      this.ports.push(port1);
      const counters = createSharedCounters();
      this.counters.push(new BigInt64Array(counters));
      const doorbell = createDoorbell();
      this.doorbells.push(doorbell);
      return this.runOn(slot, {
        op: 'init', slot, udpPort: this.opts.udpPort + slot, bindAddress: this.opts.bindAddress,
        iceServers: this.opts.iceServers, events: port2, counters, doorbell, dataLimits: this.opts.dataLimits,
      }, [port2]);
    }));
    this.log.info({ workers: n, udpPorts: `${this.opts.udpPort}-${this.opts.udpPort + n - 1}` }, 'media workers started');
  }

  /** Media counters summed over every worker (media-counters.ts slots), read from shared memory. */
  counterTotals(): Float64Array {
    const totals = new Float64Array(COUNTER_SLOTS);
    for (const c of this.counters) addPublishedCounters(c, totals);
    return totals;
  }

  /** One worker's cumulative media counters (media-counters.ts slots), from shared memory. */
  countersOf(slot: number): Float64Array {
    const totals = new Float64Array(COUNTER_SLOTS);
    const c = this.counters[slot];
    if (c) addPublishedCounters(c, totals);
    return totals;
  }

  /**
   * Links workers `a` and `b` with a ring in each direction, once: rooms that span them relay
   * media, feedback and data through these.
   */
  link(a: number, b: number): Promise<void> {
    if (a === b) return Promise.resolve();
    const key = a < b ? `${a}:${b}` : `${b}:${a}`;
    let linked = this.links.get(key);
    if (!linked) {
      const ab = createRing(this.opts.ringBytes);
      const ba = createRing(this.opts.ringBytes);
      linked = Promise.all([
        this.run(a, { op: 'attachRing', peer: b, out: ab, peerDoorbell: this.doorbells[b]!, inbound: ba }),
        this.run(b, { op: 'attachRing', peer: a, out: ba, peerDoorbell: this.doorbells[a]!, inbound: ab }),
      ]).then(() => undefined);
      this.links.set(key, linked);
    }
    return linked;
  }

  /** Worker `slot`'s doorbell, for a ring another pool (egress) writes into it. */
  doorbellOf(slot: number): SharedArrayBuffer {
    const d = this.doorbells[slot];
    if (!d) throw new Error(`no media worker ${slot}`);
    return d;
  }

  /** The slot of a room, placing it on the least loaded worker the first time. */
  placeRoom(roomId: string, forcedSlot?: number): number {
    const existing = this.roomSlots.get(roomId);
    if (existing !== undefined) return existing;
    let slot = forcedSlot !== undefined && forcedSlot >= 0 && forcedSlot < this.size ? forcedSlot : 0;
    if (forcedSlot === undefined) {
      for (let i = 1; i < this.roomsPerSlot.length; i++) if (this.roomsPerSlot[i]! < this.roomsPerSlot[slot]!) slot = i;
    }
    this.roomSlots.set(roomId, slot);
    this.roomsPerSlot[slot]!++;
    return slot;
  }

  releaseRoom(roomId: string): void {
    const slot = this.roomSlots.get(roomId);
    if (slot === undefined) return;
    this.roomSlots.delete(roomId);
    this.roomsPerSlot[slot]!--;
  }

  run<K extends Op>(slot: number, cmd: Extract<MediaCommand, { op: K }>): Promise<MediaResults[K]> {
    return this.runOn(slot, cmd, []);
  }

  private runOn<K extends Op>(slot: number, cmd: Extract<MediaCommand, { op: K }>, transferList: MessagePort[]): Promise<MediaResults[K]> {
    if (!this.pool) return Promise.reject(new Error('media pool is not running'));
    const task = { ...cmd, [Piscina.queueOptionsSymbol]: { slot } };
    return this.pool.run(task, { transferList }) as Promise<MediaResults[K]>;
  }

  /** Closes every peer connection, calls libdatachannel's cleanup in each worker, stops the pool. */
  async stop(): Promise<void> {
    const pool = this.pool;
    if (!pool) return;
    await Promise.allSettled(Array.from({ length: this.size }, (_, slot) => this.run(slot, { op: 'shutdown' })));
    this.log.debug('media workers released their connections');
    for (const p of this.ports) p.close();
    this.pool = null;
    await pool.destroy();
    this.log.debug('media workers stopped');
  }
}
