// What the benchmarks read about a server process and the tokens they sign with the dev key.
import { readFileSync } from 'node:fs';
import { AccessToken, type VideoGrant } from 'livekit-server-sdk';

/** utime + stime of a process and all its threads, seconds (from /proc). */
export function processCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
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
