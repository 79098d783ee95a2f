// A worker thread that drains one ring as an egress worker does while it records (the reader
// side of the tap: it polls, so the writer never pays for a wake-up), and reports how many
// records it read and the CPU time of its own thread. It keeps no packet (no copy, no garbage):
// V8 collects garbage on threads the whole process shares, and the reader's garbage would be
// billed to the forwarding path the benchmark measures.
import { parentPort, workerData } from 'node:worker_threads';
import { RingReader, type RecordHandler } from '../src/workers/ring-channel.js';
import { EGRESS_POLL_MS } from '../src/workers/egress/egress-worker.js';
import { procStat } from './measure.js';

const { ring } = workerData as { ring: SharedArrayBuffer };
const reader = new RingReader(ring, false);
let stop = false;
const handler: RecordHandler = { onRecord: () => undefined };

/** This thread's utime + stime, seconds (Linux: /proc/thread-self). */
const threadCpuSeconds = (): number => procStat('/proc/thread-self/stat').cpuSeconds;

parentPort!.on('message', (m: string) => {
  if (m === 'stop') stop = true;
});
const cpu0 = threadCpuSeconds();
while (!stop) {
  reader.drain(handler);
  await new Promise((r) => setTimeout(r, EGRESS_POLL_MS));
}
reader.drain(handler);
parentPort!.postMessage({ records: reader.read, cpuSeconds: threadCpuSeconds() - cpu0 });
