// The pieces that let a media worker be replaced: the slot balancer frees the slot of a thread
// that exited and binds the next free worker, and a worker's ring set swaps a peer's old rings
// for new ones without losing the totals or reading the old ring again.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Piscina } from 'piscina';
import { SlotBalancer } from '../../src/main/slot-balancer.js';
import { REC_RTP, RingWriter, createDoorbell, createRing } from '../../src/workers/ring-channel.js';
import { RingSet, type PeerRecordHandler } from '../../src/workers/ring-set.js';

type Balance = SlotBalancer['balance'];
type Workers = Parameters<Balance>[1];
type Task = Parameters<Balance>[0];

const taskFor = (slot: number) => ({ [Piscina.queueOptionsSymbol]: { slot } }) as unknown as Task;
const workers = (...ids: number[]) => ids.map((id) => ({ id, terminating: false })) as unknown as Workers;

test('a slot stays on its worker; when that thread is gone, its slot binds the replacement', () => {
  const b = new SlotBalancer();
  assert.equal(b.balance(taskFor(0), workers(11, 12))?.id, 11);
  assert.equal(b.balance(taskFor(1), workers(11, 12))?.id, 12);
  assert.equal(b.balance(taskFor(0), workers(12, 11))?.id, 11, 'slot 0 keeps its worker');
  // Thread 11 exited: while Piscina removes it, it reports id -1, and it is never bound again.
  assert.deepEqual(b.releaseGone(new Set([12])), [0]);
  assert.equal(b.balance(taskFor(0), workers(-1, 12)), null, 'no free live worker yet: the task waits');
  assert.equal(b.balance(taskFor(0), workers(12, 13))?.id, 13, 'the replacement takes slot 0');
  assert.equal(b.balance(taskFor(1), workers(12, 13))?.id, 12, 'slot 1 is untouched');
  assert.deepEqual(b.releaseGone(new Set([12, 13])), [], 'nothing else is freed');
});

class Collect implements PeerRecordHandler {
  from = -1;
  readonly got: Array<{ from: number; id: number }> = [];
  onRecord(_kind: number, _layer: number, id: number): void {
    this.got.push({ from: this.from, id });
  }
}

test('new rings to a peer replace the old ones; the totals keep what the old ones counted', () => {
  const set = new RingSet();
  const doorbell = createDoorbell();
  const oldIn = createRing(4096);
  assert.equal(set.attach(3, createRing(4096), doorbell, oldIn), undefined, 'the first rings replace nothing');
  const oldOut = set.writers.get(3)!;
  oldOut.write(REC_RTP, 0, 1, Uint8Array.from([1]), 1);
  new RingWriter(oldIn, doorbell).write(REC_RTP, 0, 7, Uint8Array.from([1]), 1);
  const c = new Collect();
  set.drain(c, (err) => assert.fail(String(err)));
  assert.deepEqual(c.got, [{ from: 3, id: 7 }]);

  const newIn = createRing(4096);
  assert.equal(set.attach(3, createRing(4096), doorbell, newIn), oldOut, 'the replaced writer is returned');
  assert.notEqual(set.writers.get(3), oldOut);
  assert.equal(set.readers.length, 1, 'one inbound ring per peer');
  // Records a dead worker left in the old ring are never read; the new ring's are.
  new RingWriter(oldIn, doorbell).write(REC_RTP, 0, 8, Uint8Array.from([1]), 1);
  new RingWriter(newIn, doorbell).write(REC_RTP, 0, 9, Uint8Array.from([1]), 1);
  set.drain(c, (err) => assert.fail(String(err)));
  assert.deepEqual(c.got.map((g) => g.id), [7, 9]);
  set.writers.get(3)!.write(REC_RTP, 0, 2, Uint8Array.from([1]), 1);
  assert.equal(set.recordsOut, 2, 'records written before and after the replacement');
  assert.equal(set.recordsIn, 2, 'records read before and after the replacement');
  assert.equal(set.allEmpty(), true);
});
