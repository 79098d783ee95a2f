// What the benchmarks read about a server process and the tokens they sign with the dev key.
import { readFileSync, readdirSync } from 'node:fs';
import { AccessToken, type VideoGrant } from 'livekit-server-sdk';
import { workerStats } from '../test/helpers/strand-process.js';

export interface ProcStat {
  ppid: number;
  /** utime + stime, seconds: the process (all its threads), or one thread for a task's stat. */
  cpuSeconds: number;
  /** cutime + cstime, seconds: its children that have exited and been waited for. */
  childrenCpuSeconds: number;
}

/** A /proc `stat` file (`/proc/<pid>/stat`, `/proc/thread-self/stat`, …) read. */
export function procStat(path: string): ProcStat {
  const stat = readFileSync(path, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { ppid: Number(f[1]), cpuSeconds: (Number(f[11]) + Number(f[12])) / 100, childrenCpuSeconds: (Number(f[13]) + Number(f[14])) / 100 };
}

/** utime + stime of a process and all its threads, seconds (from /proc). */
export function processCpuSeconds(pid: number): number {
  return procStat(`/proc/${pid}/stat`).cpuSeconds;
}

/**
 * CPU-seconds of process `pid` itself, and of its children (ffmpeg children of egress and
 * ingress): exited ones (reaped) plus those still running.
 */
export function cpuWithChildren(pid: number): { own: number; children: number } {
  const self = procStat(`/proc/${pid}/stat`);
  let live = 0;
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const s = procStat(`/proc/${name}/stat`);
      if (s.ppid === pid) live += s.cpuSeconds + s.childrenCpuSeconds;
    } catch { /* gone */ }
  }
  return { own: self.cpuSeconds, children: self.childrenCpuSeconds + live };
}

/** RTP packets Strand's media workers have taken in (`/debug/stats` of a --dev server). */
export async function mediaPacketsIn(httpUrl: string): Promise<number> {
  return (await workerStats(httpUrl)).reduce((n, s) => n + s.packetsIn, 0);
}

/** Resident set size of a process, MiB. */
export function processRssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}

/** A token signed with `strand --dev`'s key. */
export function devToken(grant: VideoGrant, identity?: string): Promise<string> {
  const at = new AccessToken('devkey', 'secret', { identity, ttl: '2h' });
  at.addGrant(grant);
  return at.toJwt();
}
