// Cumulative media counters of one worker, and how the main thread reads them: the worker counts
// into a plain Float64Array on the packet path (an indexed add, no allocation, no atomics), and
// publishes the totals into a SharedArrayBuffer with Atomics.store a few times a second; the main
// thread reads them with Atomics.load when /metrics is scraped. No message carries them.

/** Slots of the counter arrays; the main thread and the workers share this layout. */
export const PACKETS_IN = 0;
export const BYTES_IN = 1;
/** Everything sent to subscribers, retransmissions included. */
export const PACKETS_OUT = 2;
export const BYTES_OUT = 3;
export const RTX_PACKETS_OUT = 4;
export const RTX_BYTES_OUT = 5;
/** Sequence numbers NACKed by subscribers (in) and NACKed to publishers (out). */
export const NACKS_IN = 6;
export const NACKS_OUT = 7;
/** Keyframe requests from subscribers (in) and sent to publishers (out). */
export const PLIS_IN = 8;
export const PLIS_OUT = 9;
export const FIRS_IN = 10;
/** Data packets from participants dropped for going over limit.data_packets_per_second or limit.data_bytes_per_second. */
export const DATA_DROPPED = 11;
/** RTP packets from publishers dropped for going over limit.media_bytes_per_second. */
export const MEDIA_DROPPED = 12;
export const COUNTER_SLOTS = 13;

/** This worker's running totals (one worker per thread, so one set per module instance). */
export const mediaCounters = new Float64Array(COUNTER_SLOTS);

export function createSharedCounters(): SharedArrayBuffer {
  return new SharedArrayBuffer(COUNTER_SLOTS * BigInt64Array.BYTES_PER_ELEMENT);
}

/** Worker side: copies the running totals into the shared buffer. */
export function publishCounters(shared: BigInt64Array): void {
  for (let i = 0; i < COUNTER_SLOTS; i++) Atomics.store(shared, i, BigInt(mediaCounters[i]!));
}

/** Main side: adds one worker's published totals into `into`. */
export function addPublishedCounters(shared: BigInt64Array, into: Float64Array): void {
  for (let i = 0; i < COUNTER_SLOTS; i++) into[i]! += Number(Atomics.load(shared, i));
}
