// A Piscina load balancer for pools whose workers own state (peer connections, recordings):
// every task names a slot in its queue options, and a slot is bound to one worker on first
// use, so all commands about what a worker owns reach that worker.
import { Piscina } from 'piscina';

export type PiscinaLoadBalancer = NonNullable<NonNullable<ConstructorParameters<typeof Piscina>[0]>['loadBalancer']>;

export class SlotBalancer {
  /** Slot → the thread id of the worker bound to it. */
  private readonly bound = new Map<number, number>();

  readonly balance: PiscinaLoadBalancer = (task, workers) => {
    const opts = (task as unknown as Record<symbol, unknown>)[Piscina.queueOptionsSymbol] as { slot?: number } | null;
    const slot = opts?.slot ?? 0;
    const id = this.bound.get(slot);
    if (id !== undefined) return workers.find((w) => w.id === id && !w.terminating) ?? null;
    const taken = new Set(this.bound.values());
    // A thread that exited reports id -1 while Piscina is still removing it.
    const free = workers.find((w) => w.id >= 0 && !taken.has(w.id) && !w.terminating);
    if (!free) return null;
    this.bound.set(slot, free.id);
    return free;
  };

  /**
   * Frees the slots whose worker is not among `liveThreadIds` (a thread that exited reports
   * thread id -1, so it is found by absence): the next task for such a slot binds the worker
   * Piscina started in its place. Returns the freed slots.
   */
  releaseGone(liveThreadIds: ReadonlySet<number>): number[] {
    const freed: number[] = [];
    for (const [slot, id] of this.bound) {
      if (liveThreadIds.has(id)) continue;
      this.bound.delete(slot);
      freed.push(slot);
    }
    return freed;
  }
}
