// A room forced across two media workers (rtc.max_subscribers_per_worker: 1): the subscriber's
// worker gets the publisher's audio and video through the ring between them, and the
// subscriber's PLI reaches the publisher through the reverse ring. Bots on node-datachannel
// play both participants.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import nodeDataChannel from 'node-datachannel';
import { Bot } from '../../src/loadtest/bot.js';
import { startStrand, workerStats, type StrandProcess } from '../helpers/strand-process.js';
import { joinToken } from '../helpers/tokens.js';
import { waitFor } from '../helpers/wait.js';

let strand: StrandProcess;

before(async () => {
  strand = await startStrand({ workers: 2, args: ['--config-body', 'rtc: { max_subscribers_per_worker: 1 }'] });
});

after(async () => {
  assert.equal(await strand.stop(), 0, strand.stderr());
  // The bots' connections finish closing first: libdatachannel's cleanup under connections
  // still closing can time out ("cleanup timeout (possible deadlock)").
  await new Promise((r) => setTimeout(r, 1000));
  try {
    nodeDataChannel.cleanup();
  } catch (err) {
    // A timed-out cleanup leaves libdatachannel's threads waiting, and this test process would
    // never exit (CI would hang): the test itself is over, so the process ends.
    console.error(`node-datachannel cleanup: ${(err as Error).message}; exiting`);
    setTimeout(() => process.exit(0), 200);
  }
});

const stats = () => workerStats(strand.httpUrl);

test('a subscriber on another worker gets audio and video, and its PLI reaches the publisher', { timeout: 60_000 }, async () => {
  const room = `cross-${Date.now()}`;
  const alice = new Bot('alice');
  const bob = new Bot('bob');
  try {
    await alice.join(strand.url, await joinToken(room, 'alice'));
    await alice.publish({ audio: true, video: true });
    await bob.join(strand.url, await joinToken(room, 'bob'));

    const rooms = await (await fetch(`${strand.httpUrl}/debug/rooms`)).json() as Array<{ name: string; participants: Array<{ identity: string; worker: number }> }>;
    const workers = Object.fromEntries(rooms.find((r) => r.name === room)!.participants.map((p) => [p.identity, p.worker]));
    assert.notEqual(workers.alice, workers.bob, `alice and bob are on different workers: ${JSON.stringify(workers)}`);

    await waitFor(() => {
      const kinds = [...bob.received.values()];
      return kinds.some((t) => t.kind === 'audio' && t.packets > 100) && kinds.some((t) => t.kind === 'video' && t.packets > 100);
    }, 20_000, 'bob to receive alice\'s audio and video');

    // No loss on loopback: every packet from the first one bob saw arrived, and no record was dropped.
    for (const t of bob.received.values()) assert.equal(t.lost, 0, `${t.kind}: ${t.lost} lost of ${t.packets}`);
    const s = await stats();
    assert.equal(s.reduce((n, w) => n + w.ringDrops, 0), 0);
    assert.ok(s[workers.alice!]!.ringRecordsOut > 200, 'the publisher\'s worker wrote the packets into the ring');
    assert.ok(s[workers.bob!]!.ringRecordsIn > 200, 'the subscriber\'s worker read them');
    assert.equal(s[workers.bob!]!.downTracks, 2, 'bob\'s two downtracks are on his worker');

    // A PLI from bob (after the keyframe requests of the subscription itself are done).
    await new Promise((r) => setTimeout(r, 1200));
    const before = alice.plisReceived;
    assert.ok(bob.sendPli() > 0, 'bob sent a PLI');
    await waitFor(() => alice.plisReceived > before, 5000, 'the PLI to reach alice');
    const latencies = [...bob.received.values()].flatMap((t) => t.latencies).sort((a, b) => a - b);
    console.log(`bob: ${[...bob.received.values()].map((t) => `${t.kind} ${t.packets} packets, ${t.lost} lost`).join('; ')}; `
      + `latency p50 ${latencies[Math.floor(latencies.length / 2)]?.toFixed(2)} ms; PLIs at alice ${alice.plisReceived}`);
  } finally {
    await Promise.all([bob.close(), alice.close()]);
  }
});
