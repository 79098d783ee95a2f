// `npm run bench -- <scenario> [options]`: runs a benchmark, prints a table, writes JSON
// under bench/results/.
import { mkdirSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import nodeDataChannel from 'node-datachannel';
import { runApi } from './api.js';
import { runForwarding } from './forwarding.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    fanout: { type: 'string', default: '10' },
    packets: { type: 'string', default: '20000' },
    rate: { type: 'string', default: '4000' },
    rooms: { type: 'string', default: '20' },
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '20' },
  },
});
const scenario = positionals[0] ?? 'forwarding';

function writeResults(data: object): void {
  const dir = fileURLToPath(new URL('../../bench/results/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  const file = `${dir}${scenario}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`;
  writeFileSync(file, `${JSON.stringify({ scenario, ...data }, null, 2)}\n`);
  console.log(`results: ${file}`);
}

/** `forwarding [--fanout 10] [--packets 20000] [--rate 4000]`: forwarding cost, SFU path vs plain relay. */
async function forwarding(): Promise<void> {
  const fanout = Number(values.fanout);
  const packets = Number(values.packets);
  const rate = Number(values.rate);
  console.log(`forwarding: fan-out ${fanout}, ${packets} packets in at ${rate}/s, 1.2 kB VP8 RTP, SRTP to node-datachannel receivers in another process`);
  const results = await runForwarding(fanout, packets, rate);
  console.table(results.map((r) => ({
    mode: r.mode, 'forwarded pkts': r.packetsForwarded, 'delivered': r.delivered, 'cpu s': r.cpuSeconds.toFixed(2),
    'wall s': r.wallSeconds.toFixed(2), 'pkts / cpu-s': Math.round(r.packetsPerCpuSecond),
  })));
  const [relay, sfu] = results;
  if (relay && sfu) console.log(`SFU logic costs ${(100 * (relay.packetsPerCpuSecond / sfu.packetsPerCpuSecond - 1)).toFixed(1)}% more CPU per forwarded packet than the plain relay`);
  writeResults({ fanout, packets, rate, results });
  nodeDataChannel.cleanup();
}

/** `api [--rooms 20] [--duration 10] [--connections 20]`: Twirp ListRooms and /rtc/validate under autocannon. */
async function api(): Promise<void> {
  const rooms = Number(values.rooms);
  const duration = Number(values.duration);
  const connections = Number(values.connections);
  console.log(`api: ${rooms} rooms, ${connections} connections, ${duration} s per endpoint, Strand in its own process`);
  const results = await runApi(rooms, duration, connections, (line) => console.log(line));
  console.table(results.map((r) => ({
    target: r.target, 'req/s': Math.round(r.requestsPerSecond), 'p50 ms': r.latencyP50Ms, 'p99 ms': r.latencyP99Ms,
    errors: r.errors, non2xx: r.non2xx, 'server cpu s': r.serverCpuSeconds.toFixed(2), 'req / server cpu-s': Math.round(r.requestsPerServerCpuSecond),
  })));
  writeResults({ rooms, duration, connections, results });
}

const SCENARIOS: Record<string, () => Promise<void>> = { forwarding, api };
const run = SCENARIOS[scenario];
if (!run) {
  console.error(`unknown scenario "${scenario}"; available: ${Object.keys(SCENARIOS).join(', ')}`);
  process.exit(2);
}
await run();
