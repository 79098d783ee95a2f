// This thread's Linux thread id, for matching a worker to its row in top/perf and /proc.
import { readlinkSync } from 'node:fs';

/** /proc/thread-self → "<pid>/task/<tid>"; 0 where there is none. */
export function threadId(): number {
  try {
    return Number(readlinkSync('/proc/thread-self').split('/').pop()) || 0;
  } catch {
    return 0;
  }
}
