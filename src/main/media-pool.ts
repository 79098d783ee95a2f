// The pool of media workers (Piscina) and the typed RPC to them. Each room is placed on one
// worker ("slot") and stays there: every command about it is routed to that worker by a
// custom load balancer reading the slot from the task's queue options. A worker thread that
// exits is replaced: Piscina starts a new thread, which is bound to the same slot and set up
// as the old one was (same ICE port and doorbell); commands for the slot wait for it.
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { SlotBalancer } from './slot-balancer.js';
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
  /** Cap on each worker's V8 young generation, MiB (0: V8's default). */
  youngGenerationMb: number;
  limits: WorkerInit['limits'];
}

type Op = MediaCommand['op'];

/** How often, and how far apart, a replacement worker's set-up is tried (its ICE port may still be closing). */
const RESTART_ATTEMPTS = 5;
const RESTART_BACKOFF_MS = 200;

export class MediaPool {
  private pool: Piscina | null = null;
  private readonly ports: Array<MessagePort | null> = [];
  /** Rooms placed on each slot, for placement decisions. */
  private readonly roomsPerSlot: number[];
  private readonly roomSlots = new Map<string, number>();
  /** Each worker's published media counters. */
  private readonly counters: BigInt64Array[] = [];
  /** What the workers a slot had before its current one counted, so totals never go back. */
  private readonly retired: Float64Array[] = [];
  /** Each worker's doorbell, rung by the others after writing into its rings. */
  private readonly doorbells: SharedArrayBuffer[] = [];
  /** Worker pairs linked by a ring in each direction ("a:b", a < b). */
  private readonly links = new Map<string, Promise<void>>();
  private readonly balancer = new SlotBalancer();
  /** A slot's replacement worker being set up; its commands wait for it. */
  private readonly restarting = new Map<number, Promise<void>>();
  private readonly replacedListeners: Array<(slot: number) => void> = [];
  private stopping = false;

  constructor(private readonly opts: MediaPoolOptions, private readonly log: Logger, private readonly onEvent: (slot: number, e: MediaEvent) => void) {
    this.roomsPerSlot = new Array<number>(opts.workers).fill(0);
  }

  /**
   * Calls `listener` when worker `slot`'s thread has exited and a new one is taking its place:
   * everything the old one owned (connections, relays, rings) is gone.
   */
  onWorkerReplaced(listener: (slot: number) => void): void {
    this.replacedListeners.push(listener);
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
      loadBalancer: this.balancer.balance,
      ...(this.opts.youngGenerationMb > 0 ? { resourceLimits: { maxYoungGenerationSizeMb: this.opts.youngGenerationMb } } : {}),
    });
    // Piscina emits this while it removes the worker, before it starts the replacement.
    this.pool.on('workerDestroy', () => setImmediate(() => this.onWorkerGone()));
    this.pool.on('error', (err: Error) => this.log.error({ err: err.message }, 'media pool error'));
    for (let slot = 0; slot < n; slot++) {
      this.ports.push(null);
      this.counters.push(new BigInt64Array(createSharedCounters()));
      this.retired.push(new Float64Array(COUNTER_SLOTS));
      this.doorbells.push(createDoorbell());
    }
    const inits = await Promise.allSettled(Array.from({ length: n }, (_, slot) => this.initSlot(slot)));
    const failed = inits.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      // The workers that did start hold connections (their ICE port holds): they are released
      // before the process exits, which would otherwise abort on their live native callbacks.
      await this.stop();
      throw failed.reason;
    }
    this.log.info({ workers: n, udpPorts: `${this.opts.udpPort}-${this.opts.udpPort + n - 1}` }, 'media workers started');
  }

  /** Sets up the worker bound to `slot`: its events port, fresh counters, its doorbell and ICE port. */
  private initSlot(slot: number): Promise<unknown> {
    const { port1, port2 } = new MessageChannel();
    port1.on('message', (e: MediaEvent) => this.onEvent(slot, e));
    this.ports[slot]?.close();
    this.ports[slot] = port1;
    const counters = createSharedCounters();
    this.counters[slot] = new BigInt64Array(counters);
    return this.send(slot, {
      op: 'init', slot, udpPort: this.opts.udpPort + slot, bindAddress: this.opts.bindAddress,
      iceServers: this.opts.iceServers, events: port2, counters, doorbell: this.doorbells[slot]!, limits: this.opts.limits,
    }, [port2]);
  }

  /**
   * Piscina reports a worker gone. While running, that is a thread that exited: its slot is
   * bound to the thread Piscina starts in its place, which is set up before any other command
   * for the slot runs. Rings to the slot are forgotten, so the next link makes new ones.
   */
  private onWorkerGone(): void {
    if (!this.pool || this.stopping) return;
    const live = new Set(this.pool.threads.map((t) => t.threadId).filter((id) => id >= 0));
    for (const slot of this.balancer.releaseGone(live)) this.replace(slot);
  }

  private replace(slot: number): void {
    this.log.error({ worker: slot }, 'media worker exited: a new one takes its place, its participants reconnect');
    addPublishedCounters(this.counters[slot]!, this.retired[slot]!);
    this.counters[slot] = new BigInt64Array(createSharedCounters());
    for (const key of [...this.links.keys()]) {
      const [a, b] = key.split(':').map(Number);
      if (a === slot || b === slot) this.links.delete(key);
    }
    const restart = this.restart(slot);
    this.restarting.set(slot, restart);
    void restart.then(() => {
      this.log.info({ worker: slot }, 'media worker replaced');
    }, (err: unknown) => {
      this.log.error({ worker: slot, err: (err as Error).message }, 'media worker could not be replaced');
    }).finally(() => {
      if (this.restarting.get(slot) === restart) this.restarting.delete(slot);
    });
    for (const listener of this.replacedListeners) listener(slot);
  }

  private async restart(slot: number): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.initSlot(slot);
        return;
      } catch (err) {
        if (attempt >= RESTART_ATTEMPTS || this.stopping) throw err;
        await new Promise((resolve) => setTimeout(resolve, RESTART_BACKOFF_MS * attempt));
      }
    }
  }

  /** Media counters summed over every worker (media-counters.ts slots), read from shared memory. */
  counterTotals(): Float64Array {
    const totals = new Float64Array(COUNTER_SLOTS);
    for (const c of this.counters) addPublishedCounters(c, totals);
    for (const r of this.retired) for (let i = 0; i < COUNTER_SLOTS; i++) totals[i]! += r[i]!;
    return totals;
  }

  /** One worker's cumulative media counters (media-counters.ts slots), from shared memory. */
  countersOf(slot: number): Float64Array {
    const totals = new Float64Array(COUNTER_SLOTS);
    const c = this.counters[slot];
    if (c) addPublishedCounters(c, totals);
    const r = this.retired[slot];
    if (r) for (let i = 0; i < COUNTER_SLOTS; i++) totals[i]! += r[i]!;
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
    const restarting = this.restarting.get(slot);
    if (restarting) return restarting.then(() => this.send(slot, cmd, transferList));
    return this.send(slot, cmd, transferList);
  }

  /** Posts a command to the worker bound to `slot` (the first free one if none is yet). */
  private send<K extends Op>(slot: number, cmd: Extract<MediaCommand, { op: K }>, transferList: MessagePort[]): Promise<MediaResults[K]> {
    if (!this.pool) return Promise.reject(new Error('media pool is not running'));
    const task = { ...cmd, [Piscina.queueOptionsSymbol]: { slot } };
    return this.pool.run(task, { transferList }) as Promise<MediaResults[K]>;
  }

  /** Closes every peer connection, calls libdatachannel's cleanup in each worker, stops the pool. */
  async stop(): Promise<void> {
    const pool = this.pool;
    if (!pool) return;
    this.stopping = true;
    await Promise.allSettled(Array.from({ length: this.size }, (_, slot) => this.run(slot, { op: 'shutdown' })));
    this.log.debug('media workers released their connections');
    for (const p of this.ports) p?.close();
    this.pool = null;
    await pool.destroy();
    this.log.debug('media workers stopped');
  }
}
