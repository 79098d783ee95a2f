// Data for a participant whose signal is away waits, in order, until its resumed connection's
// reliable channel is open; lossy data is dropped meanwhile.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ParticipantPeers } from '../../src/workers/media/participant-peers.js';
import type { SubscriberPeer } from '../../src/workers/media/subscriber-peer.js';

function v0Participant(): { p: ParticipantPeers; sent: string[] } {
  const p = new ParticipantPeers({ roomId: 'RM_r', sid: 'PA_p', identity: 'p', canPublishData: true, canSubscribe: true, singlePeerConnection: false },
    { onStreamState: () => undefined });
  const sent: string[] = [];
  p.subscriber = {
    sendData: (reliable: boolean, buf: Uint8Array) => sent.push(`${reliable ? 'R' : 'L'}:${Buffer.from(buf).toString()}`),
    restart: async () => 'restart-offer',
    close: () => undefined,
    whenClosed: Promise.resolve(),
  } as unknown as SubscriberPeer;
  return { p, sent };
}

test('while away: reliable data is held in order, lossy data dropped; delivered once the reliable channel reopens', async () => {
  const { p, sent } = v0Participant();
  p.sendData(true, Buffer.from('before'));
  p.hold();
  p.sendData(true, Buffer.from('r1'));
  p.sendData(false, Buffer.from('l1'));
  p.sendData(true, Buffer.from('r2'));
  assert.deepEqual(sent, ['R:before']);
  const result = await p.resume();
  assert.equal(result.subscriberOffer, 'restart-offer');
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
