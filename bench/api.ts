// Control-plane throughput: autocannon against Twirp ListRooms (JSON, with a Bearer token, over a
// set of rooms made with CreateRoom) and against /rtc/validate (token verification and room
// checks), with Strand in its own process. Reports requests/s, latency percentiles, and the
// server's CPU per request from /proc.
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';
import { AccessToken } from 'livekit-server-sdk';
import { startStrand } from '../test/helpers/strand-process.js';

export interface ApiResult {
  target: string;
  connections: number;
  seconds: number;
  requests: number;
  requestsPerSecond: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  errors: number;
  non2xx: number;
  serverCpuSeconds: number;
  requestsPerServerCpuSecond: number;
}

/** utime + stime of a process (all its threads), seconds. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function load(opts: autocannon.Options): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    autocannon(opts, (err, result) => (err ? reject(err) : resolve(result)));
  });
}

async function token(grant: Record<string, unknown>, identity?: string): Promise<string> {
  const at = new AccessToken('devkey', 'secret', { identity, ttl: '1h' });
  at.addGrant(grant);
  return at.toJwt();
}

export async function runApi(rooms: number, seconds: number, connections: number, onProgress: (line: string) => void): Promise<ApiResult[]> {
  const strand = await startStrand({ workers: 1 });
  const pid = strand.child.pid!;
  try {
    const create = await token({ roomCreate: true });
    for (let i = 0; i < rooms; i++) {
      const res = await fetch(`${strand.httpUrl}/twirp/livekit.RoomService/CreateRoom`, {
        method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${create}` },
        body: JSON.stringify({ name: `bench-room-${i}`, metadata: `room ${i}` }),
      });
      if (!res.ok) throw new Error(`CreateRoom failed: ${res.status} ${await res.text()}`);
    }
    const targets: Array<[string, autocannon.Options]> = [
      ['Twirp ListRooms', {
        url: `${strand.httpUrl}/twirp/livekit.RoomService/ListRooms`, method: 'POST', body: '{}',
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${await token({ roomList: true })}` },
      }],
      ['/rtc/validate', {
        url: `${strand.httpUrl}/rtc/validate?access_token=${await token({ roomJoin: true, room: 'bench-room-0' }, 'bench')}`, method: 'GET',
      }],
    ];
    const results: ApiResult[] = [];
    for (const [target, opts] of targets) {
      onProgress(`${target}: ${connections} connections for ${seconds} s…`);
      const cpu0 = cpuSeconds(pid);
      const r = await load({ ...opts, connections, duration: seconds });
      const cpu = cpuSeconds(pid) - cpu0;
      results.push({
        target, connections, seconds, requests: r.requests.total, requestsPerSecond: r.requests.average,
        latencyP50Ms: r.latency.p50, latencyP99Ms: r.latency.p99, errors: r.errors, non2xx: r.non2xx,
        serverCpuSeconds: cpu, requestsPerServerCpuSecond: cpu > 0 ? r.requests.total / cpu : 0,
      });
    }
    return results;
  } finally {
    await strand.stop();
  }
}
