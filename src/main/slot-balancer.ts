// A Piscina load balancer for pools whose workers own state (peer connections, recordings):
// every task names a slot in its queue options, and a slot is bound to one worker on first
// use, so all commands about what a worker owns reach that worker.
import { Piscina } from 'piscina';

export type PiscinaLoadBalancer = NonNullable<NonNullable<ConstructorParameters<typeof Piscina>[0]>['loadBalancer']>;

export function slotBalancer(): PiscinaLoadBalancer {
  const bound = new Map<number, number>();
  return (task, workers) => {
    const opts = (task as unknown as Record<symbol, unknown>)[Piscina.queueOptionsSymbol] as { slot?: number } | null;
    const slot = opts?.slot ?? 0;
    const id = bound.get(slot);
    if (id !== undefined) return workers.find((w) => w.id === id && !w.terminating) ?? null;
    const taken = new Set(bound.values());
    const free = workers.find((w) => !taken.has(w.id) && !w.terminating);
    if (!free) return null;
    bound.set(slot, free.id);
    return free;
  };
}
