// The node link worker's routing, with two of them in this process on loopback and rings where
// the media workers would be: a track's records reach the other node once per peer under the
// id the receiving side gave them, keyframe requests go back under the origin's id, a room's
// data packets (large ones in parts) reach the room's other nodes only, and dropped routes stop.
import assert from 'node:assert/strict';
import { MessageChannel } from 'node:worker_threads';
import { test } from 'node:test';
import {
  REC_DATA, REC_KEYFRAME, REC_RTP, RingReader, RingWriter, createDoorbell, createRing,
} from '../../src/workers/ring-channel.js';
import { LinkWorker } from '../../src/workers/node-link/link-worker.js';
import type { LinkWorkerStats } from '../../src/workers/node-link/link-protocol.js';

const SECRET = 'a cluster secret of at least thirty-two characters';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A link worker with one "media worker": the test writes what the media worker would, and reads what it gets. */
async function node(localId: number) {
  const worker = new LinkWorker();
  const { port1 } = new MessageChannel();
  port1.unref();
  const linkBell = createDoorbell();
  await worker.handle({ op: 'init', slot: 0, events: port1, doorbell: linkBell });
  const toLink = createRing(1 << 20);
  const toMedia = createRing(1 << 20);
  await worker.handle({ op: 'attachRing', mediaSlot: 0, out: toMedia, mediaDoorbell: createDoorbell(), inbound: toLink });
  const { port } = await worker.handle({ op: 'open', options: { localId, secret: SECRET, encrypt: true, bind: '127.0.0.1', port: 0 } }) as { port: number };
  const media = { writer: new RingWriter(toLink, linkBell), reader: new RingReader(toMedia) };
  const got: Array<{ kind: number; layer: number; id: number; data: string }> = [];
  const read = () => {
    media.reader.drain({ onRecord: (kind, layer, id, payload, len) => got.push({ kind, layer, id, data: payload.subarray(0, len).toString('latin1') }) });
    return got;
  };
  return { worker, port, media, read, stats: () => worker.handle({ op: 'stats' }) as Promise<LinkWorkerStats> };
}

function dataRecord(roomSid: string, text: string): Buffer {
  const id = Buffer.from(roomSid, 'latin1');
  return Buffer.concat([Buffer.from([1, id.length]), id, Buffer.from(text, 'latin1')]);
}

test('records cross once per peer under the ids each side knows; keyframes go back; data reaches the room\'s nodes', { timeout: 20_000 }, async () => {
  const a = await node(11);
  const b = await node(22);
  const c = await node(33);
  try {
    for (const [x, peers] of [[a, [[22, b], [33, c]]], [b, [[11, a]]], [c, [[11, a]]]] as const) {
      for (const [id, y] of peers) await x.worker.handle({ op: 'addPeer', peer: id, host: '127.0.0.1', port: y.port });
    }
    // A forwards relay 5 of its media worker to B and C as link id 0x100005; B and C inject it as relay 9 and 4.
    for (const peer of [22, 33]) await a.worker.handle({ op: 'sendTrack', mediaSlot: 0, relayId: 5, linkId: 0x100005, peer });
    await b.worker.handle({ op: 'receiveTrack', peer: 11, linkId: 0x100005, mediaSlot: 0, relayId: 9 });
    await c.worker.handle({ op: 'receiveTrack', peer: 11, linkId: 0x100005, mediaSlot: 0, relayId: 4 });
    // A second track with a neighbouring id must not be confused with the first.
    await a.worker.handle({ op: 'sendTrack', mediaSlot: 0, relayId: 6, linkId: 0x100006, peer: 22 });
    await b.worker.handle({ op: 'receiveTrack', peer: 11, linkId: 0x100006, mediaSlot: 0, relayId: 10 });

    for (let i = 0; i < 20; i++) a.media.writer.write(REC_RTP, i % 3, 5, Buffer.from(`packet ${i}`), `packet ${i}`.length);
    a.media.writer.write(REC_RTP, 0, 6, Buffer.from('audio'), 5);
    a.media.writer.write(REC_RTP, 0, 77, Buffer.from('not forwarded'), 13);
    await sleep(300);
    const onB = b.read().filter((r) => r.kind === REC_RTP);
    assert.deepEqual(onB.filter((r) => r.id === 9).map((r) => [r.layer, r.data]), Array.from({ length: 20 }, (_, i) => [i % 3, `packet ${i}`]));
    assert.deepEqual(onB.filter((r) => r.id === 10).map((r) => r.data), ['audio']);
    assert.equal(c.read().filter((r) => r.kind === REC_RTP && r.id === 4).length, 20);
    const sa = await a.stats();
    assert.deepEqual(sa.peers.map((p) => [p.peer, p.mediaSent]).sort(), [[22, 21], [33, 20]], 'one copy per peer');
    assert.equal(sa.unrouted, 1, 'a relay nobody receives is counted, not sent');

    // B's stand-in asks for a keyframe of layer 2 (its relay 9): A's media worker hears it as relay 5.
    b.media.writer.write(REC_KEYFRAME, 2, 9, null, 0);
    await sleep(200);
    assert.deepEqual(a.read().filter((r) => r.kind === REC_KEYFRAME).map((r) => [r.layer, r.id]), [[2, 5]]);

    // Data of room RM_x goes to B only; a 5 kB packet crosses in parts and arrives whole.
    await a.worker.handle({ op: 'roomPeers', roomSid: 'RM_x', peers: [22] });
    const big = 'y'.repeat(5000);
    a.media.writer.write(REC_DATA, 0, 0, dataRecord('RM_x', 'hello'), dataRecord('RM_x', 'hello').length);
    a.media.writer.write(REC_DATA, 0, 0, dataRecord('RM_x', big), dataRecord('RM_x', big).length);
    a.media.writer.write(REC_DATA, 0, 0, dataRecord('RM_other', 'nobody'), dataRecord('RM_other', 'nobody').length);
    await sleep(300);
    const data = b.read().filter((r) => r.kind === REC_DATA).map((r) => r.data.slice(2 + 4));
    assert.deepEqual(data, ['hello', big]);
    assert.equal(c.read().filter((r) => r.kind === REC_DATA).length, 0, 'C is not in the room');

    // B's last subscriber left: A stops sending to B, C still gets it.
    await a.worker.handle({ op: 'stopTrack', linkId: 0x100005, peer: 22 });
    const before = b.read().length;
    a.media.writer.write(REC_RTP, 0, 5, Buffer.from('after'), 5);
    await sleep(200);
    assert.equal(b.read().length, before);
    assert.equal(c.read().filter((r) => r.data === 'after').length, 1);
  } finally {
    for (const x of [a, b, c]) await x.worker.handle({ op: 'shutdown' });
  }
});
