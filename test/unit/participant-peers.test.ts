// Data for a participant whose signal is away waits, in order, until its resumed connection's
// reliable channel is open; lossy data is dropped meanwhile.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ParticipantPeers } from '../../src/workers/media/participant-peers.js';
import type { SubscriberPeer } from '../../src/workers/media/subscriber-peer.js';

function v0Participant(restarted = true): { p: ParticipantPeers; sent: string[] } {
  const p = new ParticipantPeers({ roomId: 'RM_r', sid: 'PA_p', identity: 'p', canPublishData: true, canSubscribe: true, singlePeerConnection: false },
    { onStreamState: () => undefined });
  const sent: string[] = [];
  p.subscriber = {
    sendData: (reliable: boolean, buf: Uint8Array) => sent.push(`${reliable ? 'R' : 'L'}:${Buffer.from(buf).toString()}`),
    resumeOffer: async () => ({ offer: 'resume-offer', restarted }),
    close: () => undefined,
    whenClosed: Promise.resolve(),
  } as unknown as SubscriberPeer;
  return { p, sent };
}

test('while away: reliable data is held in order, lossy data dropped; after a restart, delivered once the reliable channel reopens', async () => {
  const { p, sent } = v0Participant();
  p.sendData(true, Buffer.from('before'));
  p.hold();
  p.sendData(true, Buffer.from('r1'));
  p.sendData(false, Buffer.from('l1'));
  p.sendData(true, Buffer.from('r2'));
  assert.deepEqual(sent, ['R:before']);
  const result = await p.resume();
  assert.equal(result.subscriberOffer, 'resume-offer');
  assert.equal(result.usable, true);
  p.sendData(true, Buffer.from('r3')); // after the resume, before the new channel is open
  assert.deepEqual(sent, ['R:before']);
  p.onReliableOpen();
  assert.deepEqual(sent, ['R:before', 'R:r1', 'R:r2', 'R:r3']);
  p.sendData(false, Buffer.from('l2'));
  assert.deepEqual(sent.at(-1), 'L:l2', 'delivering directly again');
  p.onReliableOpen();
  assert.equal(sent.length, 5, 'nothing delivered twice');
  await p.close();
});

test('the reliable channel reopening without a resume pending delivers nothing early', async () => {
  const { p, sent } = v0Participant();
  p.hold();
  p.sendData(true, Buffer.from('r1'));
  p.onReliableOpen();
  assert.deepEqual(sent, []);
  await p.close();
});

test('a resume without a restart (the connection stayed up) delivers what was held at once', async () => {
  const { p, sent } = v0Participant(false);
  p.hold();
  p.sendData(true, Buffer.from('r1'));
  await p.resume();
  assert.deepEqual(sent, ['R:r1']);
  await p.close();
});
