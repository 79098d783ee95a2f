// The control link between nodes: mutual proof of the cluster secret, messages both ways,
// refusal of a stranger and of garbage, stall reports, and redial after a drop.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type Socket } from 'node:net';
import { test } from 'node:test';
import { CONTROL_STALL_MS, ControlLink, type ControlChannel } from '../../src/main/cluster/control-link.js';

const SECRET = 'a cluster secret of at least thirty-two characters';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A TCP relay in front of `port` that can stop passing bytes, or cut every connection. */
async function relay(port: number) {
  const sockets = new Set<Socket>();
  const state = { flowing: true };
  const server = createServer((client) => {
    const upstream = connect(port, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => { sockets.delete(s); client.destroy(); upstream.destroy(); });
    }
    client.on('data', (d) => { if (state.flowing) upstream.write(d); });
    upstream.on('data', (d) => { if (state.flowing) client.write(d); });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as { port: number }).port,
    state,
    cut: () => { for (const s of sockets) s.destroy(); },
    close: () => { for (const s of sockets) s.destroy(); server.close(); },
  };
}

function nextChannel(link: ControlLink): Promise<[string, ControlChannel]> {
  return once(link, 'channel') as Promise<[string, ControlChannel]>;
}

test('two nodes prove the secret to each other, exchange messages, report a stall and dial again after a drop', { timeout: 20_000 }, async () => {
  const a = await ControlLink.listen('ND_a', SECRET, '127.0.0.1', 0);
  const b = await ControlLink.listen('ND_b', SECRET, '127.0.0.1', 0);
  const r = await relay(b.port);
  try {
    assert.ok(a.dials('ND_b') && !b.dials('ND_a'), 'the lower id dials');
    const [atA, atB] = await Promise.all([nextChannel(a), nextChannel(b), Promise.resolve(a.connect('ND_b', '127.0.0.1', r.port))]);
    assert.equal(atA[0], 'ND_b');
    assert.equal(atB[0], 'ND_a', 'the acceptor learned who dialed');
    const [, ca] = atA;
    const [, cb] = atB;
    const got = once(cb, 'message');
    ca.send(Buffer.from('track announced'));
    assert.equal(Buffer.from((await got)[0] as Uint8Array).toString(), 'track announced');
    const back = once(ca, 'message');
    cb.send(Buffer.from('subscribe'));
    assert.equal(Buffer.from((await back)[0] as Uint8Array).toString(), 'subscribe');

    // The relay stops passing bytes: both ends say so within the stall time, and recover.
    const stalls: string[] = [];
    ca.on('stalled', (s) => stalls.push(`a:${s}`));
    cb.on('stalled', (s) => stalls.push(`b:${s}`));
    r.state.flowing = false;
    await sleep(CONTROL_STALL_MS + 600);
    assert.deepEqual([...stalls].sort(), ['a:true', 'b:true']);
    r.state.flowing = true;
    await sleep(1500);
    assert.deepEqual([...stalls].sort(), ['a:false', 'a:true', 'b:false', 'b:true']);

    // Cut: the dialer dials again and both get a new channel.
    const again = Promise.all([nextChannel(a), nextChannel(b)]);
    r.cut();
    const [[, ca2], [, cb2]] = await again;
    assert.ok(ca2 !== ca && cb2 !== cb);
    const msg = once(cb2, 'message');
    ca2.send(Buffer.from('after the drop'));
    assert.equal(Buffer.from((await msg)[0] as Uint8Array).toString(), 'after the drop');
  } finally {
    r.close();
    await a.close();
    await b.close();
  }
});

test('a node without the secret, and garbage, get no channel', { timeout: 10_000 }, async () => {
  const b = await ControlLink.listen('ND_b', SECRET, '127.0.0.1', 0);
  const stranger = await ControlLink.listen('ND_a', 'another secret, not the cluster one at all', '127.0.0.1', 0);
  let channels = 0;
  b.on('channel', () => channels++);
  stranger.on('channel', () => channels++);
  try {
    stranger.connect('ND_b', '127.0.0.1', b.port);
    const junk = connect(b.port, '127.0.0.1');
    junk.on('error', () => {});
    junk.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 1, 2, 3]));
    const closed = once(junk, 'close');
    await closed; // cut off at once: a frame over the limit
    const small = connect(b.port, '127.0.0.1');
    small.on('error', () => {});
    small.write(Buffer.from([0, 0, 0, 3, 0xde, 0xad, 0xbe]));
    await once(small, 'close');
    await sleep(800);
    assert.equal(channels, 0);
  } finally {
    await stranger.close();
    await b.close();
  }
});
