// Webhooks as livekit-server-sdk's WebhookReceiver validates them: a whole join/publish/leave
// cycle in order; every event after a 30 s receiver outage; and events queued before a kill -9
// of Strand delivered after its restart, with the rooms made by CreateRoom still listed.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { dispose } from '@livekit/rtc-node';
import { RoomServiceClient } from 'livekit-server-sdk';
import { NodeParticipant } from '../helpers/rtc-node.js';
import { startStrand, type StrandProcess } from '../helpers/strand-process.js';
import { DEV_KEY, DEV_SECRET, joinToken } from '../helpers/tokens.js';
import { waitFor } from '../helpers/wait.js';
import { WebhookSink } from '../helpers/webhook-sink.js';

after(async () => {
  await dispose();
});

/** A Strand that posts webhooks to `sink` and closes empty rooms after 1 s. */
function startWithWebhooks(sink: WebhookSink, storePath?: string): Promise<StrandProcess> {
  return startStrand({
    workers: 1,
    storePath,
    args: ['--config-body', `webhook: { api_key: ${DEV_KEY}, urls: ["${sink.url}"] }\nroom: { departure_timeout: 1 }`],
  });
}

const CYCLE = [
  'room_started', 'participant_joined:alice', 'track_published:alice', 'track_unpublished:alice', 'participant_left:alice', 'room_finished',
];

/** alice joins `room`, publishes a tone for 1.5 s, and leaves. */
async function joinPublishLeave(strand: StrandProcess, room: string): Promise<void> {
  const alice = new NodeParticipant();
  try {
    await alice.connect(strand.url, await joinToken(room, 'alice'));
    await alice.publishTone();
    await new Promise((r) => setTimeout(r, 1500));
  } finally {
    await alice.close();
  }
}

let strand: StrandProcess;
let sink: WebhookSink;

before(async () => {
  sink = await WebhookSink.create();
  await sink.start();
  strand = await startWithWebhooks(sink);
});

after(async () => {
  await sink.stop();
  assert.equal(await strand.stop(), 0, strand.stderr());
});

test('a join/publish/leave cycle sends every event, signed, in order', { timeout: 60_000 }, async () => {
  const room = `hooks-${Date.now()}`;
  await joinPublishLeave(strand, room);
  await sink.waitForSequence(room, CYCLE, 15_000);
  assert.deepEqual(sink.sequence(room), CYCLE);
  assert.deepEqual(sink.rejected, []);
  const events = sink.events.filter((e) => e.room?.name === room);
  for (const e of events) {
    assert.match(e.id, /^EV_/);
    assert.ok(Math.abs(Number(e.createdAt) - Date.now() / 1000) < 60, 'created_at is unix seconds');
    assert.match(e.room!.sid, /^RM_/);
  }
  assert.equal(new Set(events.map((e) => e.id)).size, events.length, 'ids are unique');
  const published = events.find((e) => e.event === 'track_published')!;
  assert.match(published.track!.sid, /^TR_/);
  assert.equal(published.participant!.identity, 'alice');
  assert.equal(events.find((e) => e.event === 'track_unpublished')!.track!.sid, published.track!.sid);
  assert.equal(events.find((e) => e.event === 'participant_left')!.participant!.state, 3 /* DISCONNECTED */);
});

test('a receiver that is down for 30 s gets every event once it is back, in order', { timeout: 90_000 }, async () => {
  const room = `outage-${Date.now()}`;
  await sink.stop();
  await joinPublishLeave(strand, room);
  await new Promise((r) => setTimeout(r, 30_000));
  assert.deepEqual(sink.sequence(room), [], 'nothing can arrive while the receiver is down');
  await sink.start();
  await sink.waitForSequence(room, CYCLE, 20_000);
  assert.deepEqual(sink.sequence(room), CYCLE);
  assert.deepEqual(sink.rejected, []);
});

test('after kill -9 and a restart, queued events are delivered and CreateRoom rooms are listed', { timeout: 90_000 }, async () => {
  const down = await WebhookSink.create();
  const first = await startWithWebhooks(down);
  const kept = `kept-${Date.now()}`;
  const live = `live-${Date.now()}`;
  const svc = new RoomServiceClient(first.httpUrl, DEV_KEY, DEV_SECRET);
  await svc.createRoom({ name: kept, metadata: 'survives a crash', emptyTimeout: 600 });
  const alice = new NodeParticipant();
  await alice.connect(first.url, await joinToken(live, 'alice'));
  await alice.publishTone();
  await waitFor(async () => {
    const p = await svc.getParticipant(live, 'alice').catch(() => null);
    return p?.state === 2 /* ACTIVE */ && p.tracks.length === 1;
  }, 10_000, 'alice to be active with her track');
  await new Promise((r) => setTimeout(r, 500));
  first.child.kill('SIGKILL');
  await new Promise((resolve) => first.child.once('exit', resolve));
  await alice.close();

  await down.start();
  const second = await startWithWebhooks(down, first.storePath);
  try {
    await down.waitForSequence(kept, ['room_started'], 15_000);
    await down.waitForSequence(live, CYCLE, 15_000);
    assert.deepEqual(down.sequence(live), CYCLE, 'queued before the crash, then what recovery reports');
    assert.deepEqual(down.sequence(kept), ['room_started']);
    assert.deepEqual(down.rejected, []);
    const rooms = await new RoomServiceClient(second.httpUrl, DEV_KEY, DEV_SECRET).listRooms();
    const restored = rooms.find((r) => r.name === kept);
    assert.ok(restored, `${kept} is listed after the restart`);
    assert.equal(restored.metadata, 'survives a crash');
    assert.equal(restored.emptyTimeout, 600);
    assert.ok(!rooms.some((r) => r.name === live), 'a room made by a join does not outlive its participants');
  } finally {
    await down.stop();
    assert.equal(await second.stop(), 0, second.stderr());
  }
});

test('kill -9 in the middle of a burst of 50 lanes: every event arrives, in order per room, at most one per lane twice', { timeout: 90_000 }, async () => {
  const slow = await WebhookSink.create();
  slow.answerDelayMs = 500;
  await slow.start();
  const first = await startWithWebhooks(slow);
  const svc = new RoomServiceClient(first.httpUrl, DEV_KEY, DEV_SECRET);
  const stamp = Date.now();
  const rooms = Array.from({ length: 50 }, (_, i) => `burst-${stamp}-${i}`);
  // Two events per room (one lane each): room_started, then room_finished.
  await Promise.all(rooms.map((name) => svc.createRoom({ name })));
  await Promise.all(rooms.map((name) => svc.deleteRoom(name)));
  // Killed once the first events are answered and the second ones are on their way.
  await waitFor(() => slow.events.length >= 75, 15_000, '75 events to reach the receiver');
  first.child.kill('SIGKILL');
  await new Promise((resolve) => first.child.once('exit', resolve));
  const beforeRestart = slow.events.length;

  slow.answerDelayMs = 0;
  const second = await startWithWebhooks(slow, first.storePath);
  try {
    // Everything the restart found undelivered arrives, and with it both events of every room.
    const resumed = /"count":(\d+),[^\n]*"resuming undelivered webhooks"/.exec(second.stdout());
    const undelivered = Number(resumed?.[1] ?? 0);
    await waitFor(() => slow.events.length >= beforeRestart + undelivered, 30_000, `the ${undelivered} undelivered events`);
    const ids = (name: string) => slow.events.filter((e) => e.room?.name === name);
    await waitFor(() => rooms.every((name) => new Set(ids(name).map((e) => e.id)).size === 2), 30_000, 'both events of every room');
    let twice = 0;
    for (const name of rooms) {
      const seen = new Set<string>();
      const order: string[] = [];
      for (const e of ids(name)) {
        if (seen.has(e.id)) {
          twice++;
          continue;
        }
        seen.add(e.id);
        order.push(e.event);
      }
      assert.deepEqual(order, ['room_started', 'room_finished'], `${name}: in order`);
    }
    console.log(`webhook burst: ${beforeRestart} events received before kill -9, ${undelivered} undelivered at the restart, ${slow.events.length} in all, ${twice} delivered twice (50 lanes)`);
    assert.ok(twice <= rooms.length, `${twice} duplicates, at most one per lane`);
    assert.deepEqual(slow.rejected, []);
    assert.doesNotMatch(first.stderr() + second.stderr(), /MaxListenersExceededWarning/);
  } finally {
    await slow.stop();
    assert.equal(await second.stop(), 0, second.stderr());
  }
});
