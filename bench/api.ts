// Control-plane throughput: autocannon against Twirp ListRooms (JSON, with a Bearer token, over a
// set of rooms made with CreateRoom) and against /rtc/validate (token verification and room
// checks), with Strand in its own process. Reports requests/s, latency percentiles, and the
// server's CPU per request from /proc.
import autocannon from 'autocannon';
import { startStrand } from '../test/helpers/strand-process.js';
import { devToken, processCpuSeconds } from './measure.js';

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

function load(opts: autocannon.Options): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    autocannon(opts, (err, result) => (err ? reject(err) : resolve(result)));
  });
}

export async function runApi(rooms: number, seconds: number, connections: number, onProgress: (line: string) => void): Promise<ApiResult[]> {
  const strand = await startStrand({ workers: 1 });
  const pid = strand.child.pid!;
  try {
    const create = await devToken({ roomCreate: true });
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
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${await devToken({ roomList: true })}` },
      }],
      ['/rtc/validate', {
        url: `${strand.httpUrl}/rtc/validate?access_token=${await devToken({ roomJoin: true, room: 'bench-room-0' }, 'bench')}`, method: 'GET',
      }],
    ];
    const results: ApiResult[] = [];
    for (const [target, opts] of targets) {
      onProgress(`${target}: ${connections} connections for ${seconds} s…`);
      const cpu0 = processCpuSeconds(pid);
      const r = await load({ ...opts, connections, duration: seconds });
      const cpu = processCpuSeconds(pid) - cpu0;
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
