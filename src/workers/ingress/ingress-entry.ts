// Piscina task handler for an ingress worker: one IngressWorker per thread. Errors become
// rejected tasks, never uncaught exceptions.
import type { IngressCommand } from './ingress-protocol.js';
import { IngressWorker } from './ingress-worker.js';

const worker = new IngressWorker();

export default function handle(cmd: IngressCommand): Promise<unknown> {
  return worker.handle(cmd);
}
