// Room lifecycle with short timeouts: empty_timeout closes a room nobody joined, departure_timeout
// one everybody left (a rejoin in time keeps it), CreateRoom overrides both and max_participants;
// every close is announced with room_finished.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { RoomServiceClient } from 'livekit-server-sdk';
import { RawSignalClient } from '../helpers/signal-client.js';
import { startStrand, type StrandProcess } from '../helpers/strand-process.js';
import { DEV_KEY, DEV_SECRET, joinToken } from '../helpers/tokens.js';
import { waitFor } from '../helpers/wait.js';
import { WebhookSink } from '../helpers/webhook-sink.js';

let strand: StrandProcess;
let sink: WebhookSink;
let svc: RoomServiceClient;

before(async () => {
  sink = await WebhookSink.create();
  await sink.start();
  strand = await startStrand({
    workers: 1,
    args: ['--config-body', `webhook: { api_key: ${DEV_KEY}, urls: ["${sink.url}"] }\nroom: { empty_timeout: 2, departure_timeout: 1 }`],
  });
  svc = new RoomServiceClient(strand.httpUrl, DEV_KEY, DEV_SECRET);
});

after(async () => {
  await sink.stop();
  assert.equal(await strand.stop(), 0, strand.stderr());
});

const listed = async (name: string) => (await svc.listRooms([name])).length === 1;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('empty_timeout closes a room nobody joined, with room_finished', { timeout: 20_000 }, async () => {
  const name = `empty-${Date.now()}`;
  const started = Date.now();
  await svc.createRoom({ name });
  await sleep(1000);
  assert.ok(await listed(name), 'still open before its empty timeout');
  await waitFor(async () => !(await listed(name)), 5000, 'the room to close');
  const closedAfter = Date.now() - started;
  assert.ok(closedAfter >= 1900, `closed after ${closedAfter} ms, the empty timeout is 2 s`);
  await sink.waitForSequence(name, ['room_started', 'room_finished'], 5000);
  assert.deepEqual(sink.sequence(name), ['room_started', 'room_finished']);
});

test('CreateRoom overrides the empty timeout', { timeout: 20_000 }, async () => {
  const name = `override-${Date.now()}`;
  await svc.createRoom({ name, emptyTimeout: 4 });
  await sleep(2800);
  assert.ok(await listed(name), 'the room\'s own 4 s applies, not the configured 2 s');
  await waitFor(async () => !(await listed(name)), 5000, 'the room to close');
  await sink.waitForSequence(name, ['room_started', 'room_finished'], 5000);
});

test('departure_timeout closes a room after its last participant left; a rejoin in time keeps it', { timeout: 20_000 }, async () => {
  const name = `depart-${Date.now()}`;
  const token = await joinToken(name, 'bob');
  const first = await RawSignalClient.connect(strand.url, token);
  await first.next('join');
  first.close();
  await sleep(300);
  const second = await RawSignalClient.connect(strand.url, token);
  await second.next('join');
  await sleep(1500);
  assert.ok(await listed(name), 'the rejoin cancelled the departure timeout');
  const leftAt = Date.now();
  second.close();
  await waitFor(async () => !(await listed(name)), 5000, 'the room to close');
  assert.ok(Date.now() - leftAt >= 900, 'not before the 1 s departure timeout');
  // Raw signal clients never bring up media: their departures are connection aborts.
  const expected = ['room_started', 'participant_connection_aborted:bob', 'participant_connection_aborted:bob', 'room_finished'];
  await sink.waitForSequence(name, expected, 5000);
  assert.deepEqual(sink.sequence(name), expected);
});

test('max_participants from CreateRoom refuses the join over the limit', { timeout: 20_000 }, async () => {
  const name = `full-${Date.now()}`;
  await svc.createRoom({ name, maxParticipants: 1 });
  const a = await RawSignalClient.connect(strand.url, await joinToken(name, 'a'));
  await a.next('join');
  await assert.rejects(RawSignalClient.connect(strand.url, await joinToken(name, 'b')), (err: { status?: number }) => err.status === 403);
  a.close();
});
