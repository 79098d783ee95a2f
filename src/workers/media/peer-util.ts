// Helpers shared by the publisher and subscriber peers around libdatachannel's lifecycle.
import { guard, type PeerConnection } from '../native.js';

/** Resolves once ICE gathering is complete (or after `timeoutMs`, with what was gathered). */
export function gatheringComplete(pc: PeerConnection, timeoutMs = 3000): Promise<void> {
  if (pc.gatheringState() === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, timeoutMs);
    pc.onGatheringStateChange(guard('onGatheringStateChange', (state: string) => {
      if (state === 'complete') {
        clearTimeout(timer);
        resolve();
      }
    }));
  });
}

/** Queues remote candidates until the remote description is set, as libdatachannel requires. */
export class CandidateQueue {
  private queue: Array<{ candidate: string; mid: string }> | null = [];

  constructor(private readonly pc: () => PeerConnection | null, private readonly onError: (err: unknown) => void) {}

  add(candidate: string, mid: string): void {
    if (this.queue) {
      if (this.queue.length < 64) this.queue.push({ candidate, mid });
      return;
    }
    this.apply(candidate, mid);
  }

  /** Called once the remote description is set: applies what was queued. */
  flush(): void {
    const q = this.queue;
    this.queue = null;
    for (const c of q ?? []) this.apply(c.candidate, c.mid);
  }

  private apply(candidate: string, mid: string): void {
    const pc = this.pc();
    if (!pc || !candidate) return;
    try {
      pc.addRemoteCandidate(candidate.startsWith('a=') ? candidate.slice(2) : candidate, mid);
    } catch (err) {
      this.onError(err);
    }
  }
}

export function randomSsrc(): number {
  return (Math.floor(Math.random() * 0xfffffff0) + 1) >>> 0;
}

/**
 * Resolves once libdatachannel reports a PeerConnection `closed`. cleanup() must wait for this:
 * releasing the addon while a closing connection still has callbacks in flight aborts the
 * process (napi_release_threadsafe_function on a released function).
 */
export class ClosedSignal {
  readonly promise: Promise<void>;
  private resolveFn!: () => void;
  private settled = false;

  constructor() {
    this.promise = new Promise((resolve) => { this.resolveFn = resolve; });
  }

  resolve(): void {
    if (this.settled) return;
    this.settled = true;
    this.resolveFn();
  }
}
