// Piscina task handler for a media worker: one MediaWorker per thread, commands dispatched in
// arrival order. Errors become rejected tasks, never uncaught exceptions.
import type { MediaCommand } from '../protocol.js';
import { MediaWorker } from './media-worker.js';

const worker = new MediaWorker();

export default function handle(cmd: MediaCommand): Promise<unknown> {
  return worker.handle(cmd);
}
