// Piscina task handler for an egress worker: one EgressWorker per thread. Errors become rejected
// tasks, never uncaught exceptions.
import type { EgressCommand } from './egress-protocol.js';
import { EgressWorker } from './egress-worker.js';

const worker = new EgressWorker();

export default function handle(cmd: EgressCommand): Promise<unknown> {
  return worker.handle(cmd);
}
