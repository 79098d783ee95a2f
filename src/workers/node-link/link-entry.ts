// Piscina task handler for the node link worker: one LinkWorker per thread. Errors become
// rejected tasks, never uncaught exceptions.
import type { LinkCommand } from './link-protocol.js';
import { LinkWorker } from './link-worker.js';

const worker = new LinkWorker();

export default function handle(cmd: LinkCommand): Promise<unknown> {
  return worker.handle(cmd);
}
