// Per-participant limits (limit.data_packets_per_second, limit.signal_messages_per_second):
// a participant flooding data packets or signal messages is cut to its limit, the excess is
// dropped and counted, it stays connected, and the others' data and signalling go on.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { dispose, RoomEvent } from '@livekit/rtc-node';
import { scrapeMetrics, total } from '../helpers/prometheus-text.js';
import { NodeParticipant } from '../helpers/rtc-node.js';
import { RawSignalClient } from '../helpers/signal-client.js';
import { startStrand, type StrandProcess } from '../helpers/strand-process.js';
import { joinToken } from '../helpers/tokens.js';
import { waitFor } from '../helpers/wait.js';

let strand: StrandProcess;

before(async () => {
  strand = await startStrand({ workers: 1, args: ['--config-body', 'limit: { data_packets_per_second: 100, signal_messages_per_second: 50 }'] });
});

after(async () => {
  await dispose();
  assert.equal(await strand.stop(), 0, strand.stderr());
});

async function metric(name: string): Promise<number> {
  return total(await scrapeMetrics(strand.httpUrl), name);
}

test('a data flood is cut to limit.data_packets_per_second; a calm sender\'s packets all arrive', { timeout: 60_000 }, async () => {
  const room = `flood-${Date.now()}`;
  const [flooder, calm, receiver] = [new NodeParticipant(), new NodeParticipant(), new NodeParticipant()];
  const got = { flooder: 0, calm: 0 };
  receiver.room.on(RoomEvent.DataReceived, (payload: Uint8Array) => {
    const text = new TextDecoder().decode(payload);
    if (text.startsWith('flood')) got.flooder++;
    else if (text.startsWith('calm')) got.calm++;
  });
  await receiver.connect(strand.url, await joinToken(room, 'receiver'));
  await flooder.connect(strand.url, await joinToken(room, 'flooder'));
  await calm.connect(strand.url, await joinToken(room, 'calm'));
  await waitFor(() => receiver.room.remoteParticipants.size === 2, 10_000, 'both senders seen');
  const droppedBefore = await metric('strand_data_packets_dropped_total');

  const started = Date.now();
  const enc = new TextEncoder();
  const flood = (async () => {
    for (let i = 0; i < 3000; i++) await flooder.room.localParticipant!.publishData(enc.encode(`flood-${i}`), { reliable: false });
  })();
  for (let i = 0; i < 20; i++) {
    await calm.room.localParticipant!.publishData(enc.encode(`calm-${i}`), { reliable: true });
    await new Promise((r) => setTimeout(r, 100));
  }
  await flood;
  const seconds = (Date.now() - started) / 1000;
  await waitFor(() => got.calm === 20, 10_000, `the calm sender's 20 packets (have ${got.calm})`);
  await new Promise((r) => setTimeout(r, 500));
  const dropped = (await metric('strand_data_packets_dropped_total')) - droppedBefore;
  console.log(`data flood: 3000 sent in ${seconds.toFixed(1)} s, ${got.flooder} relayed (limit 100/s, a second's burst), ${dropped} dropped; calm sender 20 of 20`);
  assert.ok(got.flooder <= 100 + 100 * seconds + 20, `the flood is limited: ${got.flooder} relayed in ${seconds.toFixed(1)} s`);
  assert.ok(dropped >= 3000 - got.flooder - 50, `drops are counted: ${dropped}`);
  // The flooder is still connected, and within its limit its packets go through again.
  await new Promise((r) => setTimeout(r, 1200));
  const before = got.flooder;
  await flooder.room.localParticipant!.publishData(enc.encode('flood-after'), { reliable: true });
  await waitFor(() => got.flooder > before, 5000, 'a packet within the limit after the flood');
  for (const p of [flooder, calm, receiver]) await p.close();
});

test('a signal flood is cut to limit.signal_messages_per_second; the socket stays open and others are answered', { timeout: 60_000 }, async () => {
  const room = `sigflood-${Date.now()}`;
  const flooder = await RawSignalClient.connect(strand.url, await joinToken(room, 'sig-flooder'));
  const other = await RawSignalClient.connect(strand.url, await joinToken(room, 'sig-other'));
  await flooder.next('join');
  await other.next('join');
  const droppedBefore = await metric('strand_signal_messages_dropped_total');
  const pongsBefore = flooder.messages.filter((m) => m.message === 'pongResp').length;
  for (let i = 0; i < 1000; i++) flooder.send({ pingReq: { timestamp: i, rtt: 0 } });
  // The other client is answered at once meanwhile.
  const before = other.messages.length;
  other.send({ pingReq: { timestamp: 1, rtt: 0 } });
  await other.next('pongResp', 3000, before);
  await new Promise((r) => setTimeout(r, 1000));
  const pongs = flooder.messages.filter((m) => m.message === 'pongResp').length - pongsBefore;
  const dropped = (await metric('strand_signal_messages_dropped_total')) - droppedBefore;
  console.log(`signal flood: 1000 pings, ${pongs} answered (limit 50/s), ${dropped} dropped`);
  assert.ok(pongs <= 120, `the flood is limited: ${pongs} answered`);
  assert.ok(dropped >= 1000 - pongs, `drops are counted: ${dropped}`);
  assert.equal(flooder.closeCode, null, 'the flooder stays connected');
  const after = flooder.messages.length;
  flooder.send({ pingReq: { timestamp: 5, rtt: 0 } });
  await flooder.next('pongResp', 3000, after);
  flooder.close();
  other.close();
});
