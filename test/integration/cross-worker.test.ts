// A room forced across two media workers (rtc.max_subscribers_per_worker: 1): the subscriber's
// worker gets the publisher's audio and video through the ring between them, and the
// subscriber's PLI reaches the publisher through the reverse ring. Then one worker's thread
// exits and is replaced: rooms across the two workers work again, through new rings. Bots on
// node-datachannel play the participants.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Bot } from '../../src/loadtest/bot.js';
import { releaseNodeDataChannel } from '../helpers/native-cleanup.js';
import { scrapeMetrics, total } from '../helpers/prometheus-text.js';
import { startStrand, workerStats, type StrandProcess } from '../helpers/strand-process.js';
import { joinToken } from '../helpers/tokens.js';
import { waitFor } from '../helpers/wait.js';

let strand: StrandProcess;

before(async () => {
  strand = await startStrand({ workers: 2, args: ['--config-body', 'rtc: { max_subscribers_per_worker: 1 }'], env: { STRAND_TEST_WORKER_FAULT: '1' } });
});

after(async () => {
  assert.equal(await strand.stop(), 0, strand.stderr());
  await releaseNodeDataChannel();
});

const stats = () => workerStats(strand.httpUrl);

async function workersOf(room: string): Promise<Record<string, number>> {
  const rooms = await (await fetch(`${strand.httpUrl}/debug/rooms`)).json() as Array<{ name: string; participants: Array<{ identity: string; worker: number }> }>;
  return Object.fromEntries((rooms.find((r) => r.name === room)?.participants ?? []).map((p) => [p.identity, p.worker]));
}

/**
 * `publisher` joins `room` and publishes audio and video, `subscriber` joins after it and lands
 * on the other worker (one subscriber per worker); returns each one's worker.
 */
async function pairAcrossWorkers(room: string, publisher: Bot, subscriber: Bot): Promise<Record<string, number>> {
  await publisher.join(strand.url, await joinToken(room, publisher.identity));
  await publisher.publish({ audio: true, video: true });
  await subscriber.join(strand.url, await joinToken(room, subscriber.identity));
  const workers = await workersOf(room);
  assert.notEqual(workers[publisher.identity], workers[subscriber.identity], `the two are on different workers: ${JSON.stringify(workers)}`);
  return workers;
}

/** Waits until `bot` gets more than `packets` packets of audio and of video. */
async function receivesBoth(bot: Bot, packets: number, what: string): Promise<void> {
  await waitFor(() => {
    const kinds = [...bot.received.values()];
    return kinds.some((t) => t.kind === 'audio' && t.packets > packets) && kinds.some((t) => t.kind === 'video' && t.packets > packets);
  }, 20_000, what);
}

test('a subscriber on another worker gets audio and video, and its PLI reaches the publisher', { timeout: 60_000 }, async () => {
  const room = `cross-${Date.now()}`;
  const alice = new Bot('alice');
  const bob = new Bot('bob');
  try {
    const workers = await pairAcrossWorkers(room, alice, bob);
    await receivesBoth(bob, 100, 'bob to receive alice\'s audio and video');

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

test('after a worker of a room across workers exits and is replaced, a room across the two works through new rings', { timeout: 60_000 }, async () => {
  const room = `cross-replaced-${Date.now()}`;
  const alice = new Bot('alice');
  const bob = new Bot('bob');
  const carol = new Bot('carol');
  const dave = new Bot('dave');
  try {
    const before = await pairAcrossWorkers(room, alice, bob);
    await receivesBoth(bob, 50, 'bob to receive alice\'s audio and video');
    // Bob's worker goes: alice's worker keeps its old ring to it until new rings replace it.
    const fault = await fetch(`${strand.httpUrl}/debug/worker-fault?worker=${before.bob}&mode=exit`, { method: 'POST' });
    assert.equal(fault.status, 202);
    await waitFor(async () => !('bob' in await workersOf(room)), 10_000, 'bob told to reconnect and gone');
    assert.ok('alice' in await workersOf(room), 'alice, on the other worker, stays');

    await pairAcrossWorkers(`${room}-2`, carol, dave);
    await receivesBoth(dave, 100, 'dave to receive carol\'s audio and video across the replaced worker');
    for (const t of dave.received.values()) assert.equal(t.lost, 0, `${t.kind}: ${t.lost} lost of ${t.packets}`);
    const metrics = await scrapeMetrics(strand.httpUrl);
    assert.equal(total(metrics, 'strand_media_worker_restarts_total', { worker: String(before.bob) }), 1, 'the replacement is counted');
  } finally {
    await Promise.all([alice.close(), bob.close(), carol.close(), dave.close()]);
  }
});
