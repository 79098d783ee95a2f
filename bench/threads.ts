// Where a server's CPU goes, thread by thread (/proc/<pid>/task/*/stat): each thread's user +
// system time between two samples, grouped under a label: Strand's own threads by what they
// are (the main thread, media worker i, from the tids its workers report), native and Node
// threads by their name (libdatachannel's "RTC", "SCTP", libjuice's "juice…"), Janus's by theirs.
import { readFileSync, readdirSync } from 'node:fs';

export interface ThreadSample {
  /** tid → name and CPU-seconds so far. */
  threads: Map<number, { name: string; cpuSeconds: number }>;
}

export interface ThreadShare {
  name: string;
  threads: number;
  cpuSeconds: number;
}

/** Every thread of `pid`, now. */
export function sampleThreads(pid: number): ThreadSample {
  const threads = new Map<number, { name: string; cpuSeconds: number }>();
  let tids: string[] = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return { threads };
  }
  for (const t of tids) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${t}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      threads.set(Number(t), { name, cpuSeconds: (Number(f[11]) + Number(f[12])) / 100 });
    } catch { /* the thread ended */ }
  }
  return { threads };
}

/**
 * CPU per label between two samples, largest first. `labels` names known threads (tid → label);
 * the others go under their own name. Threads that ended in between are not counted.
 */
export function threadShares(before: ThreadSample, after: ThreadSample, labels: Map<number, string>): ThreadShare[] {
  const out = new Map<string, ThreadShare>();
  for (const [tid, t] of after.threads) {
    const used = t.cpuSeconds - (before.threads.get(tid)?.cpuSeconds ?? 0);
    // Janus numbers its loops ("hloop 260035655"): one group for them.
    const name = labels.get(tid) ?? t.name.replace(/\s+\d+$/, '');
    const share = out.get(name) ?? { name, threads: 0, cpuSeconds: 0 };
    share.threads++;
    share.cpuSeconds += used;
    out.set(name, share);
  }
  return [...out.values()].sort((a, b) => b.cpuSeconds - a.cpuSeconds);
}

/** "main 0.31 s, media worker 0 0.52 s, RTC×6 0.10 s, …" */
export function formatShares(shares: ThreadShare[], seconds: number): string {
  return shares.filter((s) => s.cpuSeconds > 0).map((s) => `${s.name}${s.threads > 1 ? `×${s.threads}` : ''} ${(100 * s.cpuSeconds / seconds).toFixed(1)}%`).join(', ');
}
