// Piscina task handler for a media worker: one MediaWorker per thread, commands dispatched in
// arrival order. Errors of a task become rejected tasks. An exception outside any task (a timer,
// a callback) would end the thread and, with it, every connection it owns: it is caught here
// instead, and the worker drops its participants, who reconnect (MediaWorker.fault). A thread
// that exits anyway (process.exit() here) first releases its connections (MediaWorker.abandon),
// and the main thread puts a new worker in its place (MediaPool).
import type { MediaCommand } from '../protocol.js';
import { MediaWorker } from './media-worker.js';

const worker = new MediaWorker();

process.on('uncaughtException', (err) => worker.fault(err));
process.on('unhandledRejection', (err) => worker.fault(err));
process.on('exit', () => worker.abandon());

export default function handle(cmd: MediaCommand): Promise<unknown> {
  return worker.handle(cmd);
}
