// The node link: datagrams of framed records, sealed per sender; a receive window that drops
// replays and asks for gaps; and two links on loopback through a lossy relay, which deliver
// every record, reject forgeries and report a silent peer.
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { test } from 'node:test';
import { LinkCipher, deriveLinkKey } from '../../src/workers/node-link/link-crypto.js';
import { DatagramWriter, FLAG_ENCRYPTED, readHeader, readRecords, type DatagramHeader } from '../../src/workers/node-link/link-datagram.js';
import { NodeLink, STALL_MS } from '../../src/workers/node-link/node-link.js';
import { ReceiveWindow } from '../../src/workers/node-link/receive-window.js';

const SECRET = 'a cluster secret of at least thirty-two characters';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

for (const encrypt of [true, false]) {
  test(`a datagram round trip (${encrypt ? 'AES-256-GCM' : 'HMAC'}); tampering, another key and bad framing are refused`, () => {
    const w = new DatagramWriter();
    w.begin(encrypt ? FLAG_ENCRYPTED : 0, 7, 0xdeadbeef, 2 ** 33 + 5);
    const payloads = [Buffer.from('first'), Buffer.alloc(1000, 0xab), Buffer.alloc(0)];
    for (const [i, p] of payloads.entries()) assert.ok(w.add(1, i, 100 + i, p, p.length));
    assert.ok(!w.add(1, 0, 0, Buffer.alloc(400), 400), 'a record that does not fit is refused');
    const cipher = new LinkCipher(deriveLinkKey(SECRET, 7), encrypt);
    const len = cipher.seal(w.buf, w.bodyLength);
    const wire = Buffer.from(w.buf.subarray(0, len));
    if (encrypt) assert.equal(wire.indexOf('first'), -1, 'the records are not readable on the wire');

    const h = readHeader(wire, wire.length, {} as DatagramHeader)!;
    assert.deepEqual(h, { flags: encrypt ? FLAG_ENCRYPTED : 0, sender: 7, epoch: 0xdeadbeef, seq: 2 ** 33 + 5 });
    const copy = Buffer.from(wire);
    const body = new LinkCipher(deriveLinkKey(SECRET, 7), encrypt).open(copy, copy.length, encrypt);
    assert.ok(body > 0);
    const got: Array<[number, number, string]> = [];
    assert.ok(readRecords(copy, body, { onLinkRecord: (_k, layer, id, d, o, l) => got.push([layer, id, d.subarray(o, o + l).toString('hex')]) }));
    assert.deepEqual(got, payloads.map((p, i) => [i, 100 + i, p.toString('hex')]));

    for (const at of [3, 10, 30, wire.length - 1]) {
      const bad = Buffer.from(wire);
      bad[at]! ^= 1;
      assert.equal(new LinkCipher(deriveLinkKey(SECRET, 7), encrypt).open(bad, bad.length, encrypt), -1, `byte ${at} flipped`);
    }
    assert.equal(new LinkCipher(deriveLinkKey('another secret', 7), encrypt).open(Buffer.from(wire), wire.length, encrypt), -1);
    assert.equal(new LinkCipher(deriveLinkKey(SECRET, 8), encrypt).open(Buffer.from(wire), wire.length, encrypt), -1, 'another sender\'s key');
    const broken = Buffer.from(copy);
    broken[21] = 0xff; // the first record claims more bytes than there are
    assert.equal(readRecords(broken, body, { onLinkRecord: () => assert.fail('nothing is delivered from a broken datagram') }), false);
  });
}

test('the receive window drops duplicates and old datagrams, asks for gaps after a moment, and gives up', () => {
  const w = new ReceiveWindow();
  for (const s of [0, 1, 3]) assert.ok(w.accept(s, 0));
  assert.ok(!w.accept(1, 0), 'duplicate');
  assert.deepEqual(w.due(5, 10, []), [], 'a young gap may be reordering');
  assert.deepEqual(w.due(20, 10, []), [2]);
  assert.deepEqual(w.due(30, 10, []), [], 'not asked again at once');
  assert.ok(w.accept(2, 31));
  assert.equal(w.missingCount, 0);
  assert.ok(w.accept(10, 40));
  for (let t = 60; t < 600; t += 50) w.due(t, 100, []);
  assert.equal(w.lost, 6, 'seqs 4–9, asked for five times each, are lost');
  assert.ok(w.accept(5000, 500));
  assert.ok(!w.accept(100, 500), 'older than the window');
});

/** A UDP relay between two links that drops `loss` of the datagrams (seeded, independent) and all while not `up`. */
async function lossyRelay(to: number, loss: number) {
  const s = createSocket('udp4');
  s.bind(0, '127.0.0.1');
  await once(s, 'listening');
  const relay = { port: s.address().port, up: true, passed: 0, dropped: 0, close: () => s.close() };
  let seed = 12345;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  s.on('message', (msg) => {
    if (!relay.up || random() < loss) {
      relay.dropped++;
      return;
    }
    relay.passed++;
    s.send(msg, to, '127.0.0.1');
  });
  return relay;
}

test('two links on loopback: every record arrives through a lossy relay, forgeries are refused, silence is reported', { timeout: 30_000 }, async () => {
  const received: number[] = [];
  const stalls: Array<[number, boolean]> = [];
  const b = await NodeLink.open({ localId: 2, secret: SECRET, encrypt: true, bind: '127.0.0.1', port: 0 }, {
    onRecord: (peer, kind, _layer, id, data, offset, length) => {
      assert.equal(peer, 1);
      assert.equal(kind, 1);
      assert.equal(data.readUInt32BE(offset), id, 'payload intact');
      assert.equal(length, 1100);
      received.push(id);
    },
    onPeerStalled: (peer, stalled) => stalls.push([peer, stalled]),
  });
  const relay = await lossyRelay(b.port, 0.1);
  const a = await NodeLink.open({ localId: 1, secret: SECRET, encrypt: true, bind: '127.0.0.1', port: 0 }, { onRecord: () => {} });
  a.addPeer(2, '127.0.0.1', relay.port);
  b.addPeer(1, '127.0.0.1', a.port);
  try {
    const payload = Buffer.alloc(1100);
    const total = 2000;
    for (let i = 0; i < total; i++) {
      payload.writeUInt32BE(i, 0);
      assert.ok(a.send(2, 1, 0, i, payload, payload.length));
      if (i % 20 === 19) await sleep(5); // paced, as media is (about 4,000 datagrams/s)
    }
    for (let t = 0; t < 100 && received.length < total; t++) await sleep(50);
    const missing = Array.from({ length: total }, (_, i) => i).filter((i) => !received.includes(i));
    assert.equal(new Set(received).size, total, `every record arrived once (${received.length} of ${total}, ${relay.dropped} datagrams dropped; missing ${missing.join(",")}; A ${JSON.stringify(a.stats)}; B ${JSON.stringify(b.stats)})`);
    assert.equal(received.length, total, 'no record twice');
    assert.ok(relay.dropped >= total / 20, `the relay dropped ${relay.dropped}`);
    assert.ok(a.stats.retransmitted >= relay.dropped * 0.9, `repaired by retransmission (${a.stats.retransmitted})`);
    console.log(`${total} records, ${relay.dropped} datagrams dropped, ${a.stats.retransmitted} retransmitted, ${b.stats.nacksSent} NACKed, ${b.stats.lost} lost`);

    // A datagram from outside the cluster, or garbage, is refused and changes nothing.
    const forger = await NodeLink.open({ localId: 1, secret: 'not the cluster secret at all, not at all', encrypt: true, bind: '127.0.0.1', port: 0 }, { onRecord: () => {} });
    forger.addPeer(2, '127.0.0.1', b.port);
    forger.send(2, 1, 0, 999_999, payload, payload.length);
    forger.flush();
    const junk = createSocket('udp4');
    junk.send(Buffer.from('not a link datagram'), b.port, '127.0.0.1');
    await sleep(100);
    junk.close();
    await forger.close();
    assert.ok(b.stats.rejected >= 2, `rejected ${b.stats.rejected}`);
    assert.ok(!received.includes(999_999));

    // Silence: the relay stops passing anything (keepalives included).
    relay.up = false;
    await sleep(STALL_MS + 300);
    assert.deepEqual(stalls, [[1, true]], 'B reports A stalled');
    relay.up = true;
    await sleep(700);
    assert.deepEqual(stalls, [[1, true], [1, false]], 'and back once keepalives pass again');
  } finally {
    relay.close();
    await a.close();
    await b.close();
  }
});
