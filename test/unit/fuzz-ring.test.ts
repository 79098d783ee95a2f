// Fuzzing the ring record framing between workers: 100k records of random kinds and sizes
// (empty, small, MTU-sized, too large, and as large as the ring allows) written into a small
// ring so that records wrap around its end and a full ring drops, with drains at random points
// and payloads given as whole arrays, Buffers at an offset and plain subarrays. The reader must
// see exactly the records the writer accepted, in order, byte for byte.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_RECORD_PAYLOAD, REC_DATA, REC_KEYFRAME, REC_RTP, REC_SENDER_REPORT, RingReader, RingWriter, createDoorbell, createRing, type RecordHandler } from '../../src/workers/ring-channel.js';
import { fuzz, type Rng } from '../helpers/fuzz.js';

interface Written { kind: number; layer: number; id: number; payload: Uint8Array }

function payloadSize(rng: Rng, ringBytes: number): number {
  switch (rng.int(6)) {
    case 0: return 0;
    case 1: return rng.int(16);
    case 2: return 1000 + rng.int(300);
    case 3: return rng.int(ringBytes);
    case 4: return rng.chance(0.5) ? MAX_RECORD_PAYLOAD + 1 + rng.int(10) : ringBytes - 8 + rng.int(16) - 8;
    default: return rng.int(200);
  }
}

test('fuzz: ring record framing across wrap-around, full rings and odd payload views, 100k records', () => {
  let accepted = 0;
  let dropped = 0;
  const RUNS = 50;
  const runs = fuzz('ring', 1901, RUNS, (rng) => {
    const ringBytes = 2048 + rng.int(6000);
    const ring = createRing(ringBytes);
    const writer = new RingWriter(ring, createDoorbell());
    const reader = new RingReader(ring);
    const expected: Written[] = [];
    let seen = 0;
    const handler: RecordHandler = {
      onRecord(kind, layer, id, payload, len) {
        const w = expected[seen++];
        assert.ok(w, `a record nobody wrote: kind ${kind} len ${len}`);
        if (kind !== w.kind || layer !== w.layer || id !== w.id || len !== w.payload.length) {
          assert.fail(`record ${seen - 1}: got ${kind}/${layer}/${id}/${len}, wrote ${w.kind}/${w.layer}/${w.id}/${w.payload.length}`);
        }
        assert.ok(Buffer.from(payload.buffer, payload.byteOffset, len).equals(w.payload), `payload of record ${seen - 1}`);
      },
    };
    for (let r = 0; r < 2000; r++) {
      const size = payloadSize(rng, ringBytes);
      const payload = new Uint8Array(Math.min(size, MAX_RECORD_PAYLOAD + 16));
      const salt = rng.u32();
      for (let i = 0; i < payload.length; i++) payload[i] = (salt + i * 167) & 0xff; // cheap, and differs per record
      const kind = rng.pick([REC_RTP, REC_KEYFRAME, REC_SENDER_REPORT, REC_DATA, 0, 255]);
      const layer = rng.int(256);
      const id = rng.u32();
      let ok: boolean;
      switch (rng.int(3)) {
        case 0:
          ok = writer.write(kind, layer, id, payload, payload.length);
          break;
        case 1: { // a Buffer with the payload at an offset
          const backing = Buffer.concat([Buffer.from(rng.bytes(7)), Buffer.from(payload), Buffer.from(rng.bytes(5))]);
          ok = writer.writeFrom(kind, layer, id, backing, 7, payload.length);
          break;
        }
        default: { // a plain Uint8Array with the payload at an offset
          const backing = new Uint8Array(payload.length + 9);
          backing.set(payload, 3);
          ok = writer.writeFrom(kind, layer, id, backing, 3, payload.length);
        }
      }
      if (ok) {
        expected.push({ kind, layer, id, payload });
        accepted++;
      } else {
        dropped++;
      }
      if (rng.chance(0.3)) reader.drain(handler);
    }
    reader.drain(handler);
    assert.equal(seen, expected.length, 'every accepted record was read');
    assert.equal(writer.written, expected.length);
  });
  assert.equal(accepted + dropped, runs * 2000, 'every record was written or dropped');
  assert.ok(accepted > runs * 1000 && dropped > runs * 20, `${accepted} accepted, ${dropped} dropped: both paths ran`);
});
