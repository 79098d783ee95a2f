// `npm run bench -- <scenario> [options]`: runs a benchmark, prints a table, writes JSON
// under bench/results/.
import { mkdirSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import nodeDataChannel from 'node-datachannel';
import { runForwarding } from './forwarding.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    fanout: { type: 'string', default: '10' },
    packets: { type: 'string', default: '20000' },
    rate: { type: 'string', default: '4000' },
  },
});
const scenario = positionals[0] ?? 'forwarding';

if (scenario !== 'forwarding') {
  console.error(`unknown scenario "${scenario}"; available: forwarding`);
  process.exit(2);
}

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
const dir = fileURLToPath(new URL('../../bench/results/', import.meta.url));
mkdirSync(dir, { recursive: true });
const file = `${dir}forwarding-${new Date().toISOString().replace(/[:.]/g, '-')}.json`;
writeFileSync(file, `${JSON.stringify({ scenario, fanout, packets, rate, results }, null, 2)}\n`);
console.log(`results: ${file}`);
nodeDataChannel.cleanup();
