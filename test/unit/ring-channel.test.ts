import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import {
  Doorbell, RECORD_HEADER, REC_KEYFRAME, REC_RTP, RingReader, RingWriter, createDoorbell, createRing, type RecordHandler,
} from '../../src/workers/ring-channel.js';

class Collect implements RecordHandler {
  readonly got: Array<{ kind: number; layer: number; id: number; bytes: number[] }> = [];
  onRecord(kind: number, layer: number, id: number, payload: Buffer, len: number): void {
    this.got.push({ kind, layer, id, bytes: [...payload.subarray(0, len)] });
  }
}

test('records arrive whole and in order', () => {
  const ring = createRing(4096);
  const w = new RingWriter(ring, createDoorbell());
  const r = new RingReader(ring);
  assert.equal(w.write(REC_RTP, 2, 0xdeadbeef, Uint8Array.from([1, 2, 3]), 3), true);
  assert.equal(w.write(REC_KEYFRAME, 1, 7, null, 0), true);
  assert.equal(w.write(REC_RTP, 0, 8, Uint8Array.from([9, 9, 9, 9, 5]), 4), true, 'a payload longer than its length is cut');
  const c = new Collect();
  assert.equal(r.drain(c), 3);
  assert.deepEqual(c.got, [
    { kind: REC_RTP, layer: 2, id: 0xdeadbeef, bytes: [1, 2, 3] },
    { kind: REC_KEYFRAME, layer: 1, id: 7, bytes: [] },
    { kind: REC_RTP, layer: 0, id: 8, bytes: [9, 9, 9, 9] },
  ]);
  assert.equal(r.drain(c), 0);
});

test('a full ring drops and counts instead of blocking the producer', () => {
  const ring = createRing(10_000);
  const w = new RingWriter(ring, createDoorbell());
  const packet = new Uint8Array(1200).fill(7);
  const started = performance.now();
  let accepted = 0;
  for (let i = 0; i < 100; i++) if (w.write(REC_RTP, 0, i, packet, packet.length)) accepted++;
  const elapsed = performance.now() - started;
  assert.equal(accepted, Math.floor(10_000 / (RECORD_HEADER + 1200)), 'only what fits is written');
  assert.equal(w.dropped, 100 - accepted);
  assert.equal(w.written, accepted);
  assert.ok(elapsed < 1000, 'writes return at once');
  // Once the reader catches up there is room again.
  const c = new Collect();
  assert.equal(new RingReader(ring).drain(c), accepted);
  assert.deepEqual(c.got.map((g) => g.id), Array.from({ length: accepted }, (_, i) => i));
  assert.equal(w.write(REC_RTP, 0, 100, packet, packet.length), true);
});

test('the doorbell wakes a reader on another thread without it blocking', async () => {
  const ring = createRing(1 << 16);
  const bell = createDoorbell();
  const reader = new RingReader(ring);
  const doorbell = new Doorbell(bell);
  const c = new Collect();
  // The producer is a real second thread, as in Strand: it writes 50 records, 2 ms apart.
  const worker = new Worker(`
    const { workerData } = require('node:worker_threads');
    import(workerData.module).then(async ({ RingWriter, REC_RTP }) => {
      const w = new RingWriter(workerData.ring, workerData.bell);
      for (let i = 0; i < 50; i++) {
        w.write(REC_RTP, 0, i, new Uint8Array([i]), 1);
        await new Promise((r) => setTimeout(r, 2));
      }
    });`, { eval: true, workerData: { ring, bell, module: new URL('../../src/workers/ring-channel.js', import.meta.url).href } });
  let ticks = 0;
  const ticker = setInterval(() => ticks++, 1);
  const deadline = Date.now() + 5000;
  for (;;) {
    reader.drain(c);
    if (c.got.length >= 50 || Date.now() > deadline) break;
    await doorbell.wait(() => !reader.readable);
  }
  clearInterval(ticker);
  await worker.terminate();
  assert.deepEqual(c.got.map((g) => g.id), Array.from({ length: 50 }, (_, i) => i));
  assert.ok(ticks > 10, 'the event loop kept running while the reader waited');
});
