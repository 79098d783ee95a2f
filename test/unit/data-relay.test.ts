import assert from 'node:assert/strict';
import { test } from 'node:test';
import { livekit } from '../../src/proto/index.js';
import { relayDataPacket, type DataRecipient } from '../../src/workers/media/data-relay.js';

class Sink implements DataRecipient {
  readonly got: Array<{ reliable: boolean; pkt: livekit.DataPacket }> = [];
  constructor(readonly identity: string) {}
  sendData(reliable: boolean, buf: Uint8Array): void {
    this.got.push({ reliable, pkt: livekit.DataPacket.decode(buf) });
  }
}

const sender = { sid: 'PA_s', identity: 'sender', canPublishData: true, lastReliableSeq: 0 };

test('stamps the sender (clients cannot spoof it) and honours destinations', () => {
  const [a, b, s] = [new Sink('a'), new Sink('b'), new Sink('sender')];
  const raw = livekit.DataPacket.encode({ participantIdentity: 'spoofed', destinationIdentities: ['b'], user: { payload: new Uint8Array([1]), participantIdentity: 'spoofed' } }).finish();
  assert.equal(relayDataPacket(sender, '_reliable', raw, [a, b, s]), 'relayed');
  assert.equal(a.got.length, 0);
  assert.equal(s.got.length, 0, 'never echoed to the sender');
  assert.equal(b.got.length, 1);
  assert.equal(b.got[0]!.pkt.participantIdentity, 'sender');
  assert.equal(b.got[0]!.pkt.participantSid, 'PA_s');
  assert.equal(b.got[0]!.pkt.user!.participantIdentity, 'sender');
  assert.equal(b.got[0]!.reliable, true);
});

test('broadcasts without destinations; lossy stays lossy; legacy user destinations work', () => {
  const [a, b] = [new Sink('a'), new Sink('b')];
  relayDataPacket(sender, '_lossy', livekit.DataPacket.encode({ chatMessage: new Uint8Array([0x0a, 0x01, 0x78]) }).finish(), [a, b]);
  assert.equal(a.got.length, 1);
  assert.equal(b.got[0]!.reliable, false);
  assert.deepEqual([...b.got[0]!.pkt.chatMessage!], [0x0a, 0x01, 0x78]);
  relayDataPacket(sender, '_reliable', livekit.DataPacket.encode({ user: { payload: new Uint8Array([2]), destinationIdentities: ['a'] } }).finish(), [a, b]);
  assert.equal(a.got.length, 2);
  assert.equal(b.got.length, 1);
});

test('refuses senders without canPublishData and malformed packets', () => {
  const a = new Sink('a');
  assert.equal(relayDataPacket({ ...sender, canPublishData: false }, '_reliable', livekit.DataPacket.encode({}).finish(), [a]), 'not-allowed');
  assert.equal(relayDataPacket(sender, '_reliable', new Uint8Array([0x12, 0xff, 0x01]), [a]), 'malformed');
  assert.equal(a.got.length, 0);
});

test('reliable sequences: replayed packets (at or below the highest seen) are dropped, the sender sid is stamped', () => {
  const [a] = [new Sink('a')];
  const from = { sid: 'PA_r', identity: 'replayer', canPublishData: true, lastReliableSeq: 0 };
  const packet = (sequence: number) => livekit.DataPacket.encode({ sequence, user: { payload: new Uint8Array([sequence]) } }).finish();
  assert.equal(relayDataPacket(from, '_reliable', packet(1), [a]), 'relayed');
  assert.equal(relayDataPacket(from, '_reliable', packet(2), [a]), 'relayed');
  assert.equal(relayDataPacket(from, '_reliable', packet(2), [a]), 'duplicate');
  assert.equal(relayDataPacket(from, '_reliable', packet(1), [a]), 'duplicate');
  assert.equal(relayDataPacket(from, '_reliable', packet(3), [a]), 'relayed');
  assert.equal(from.lastReliableSeq, 3);
  assert.deepEqual(a.got.map((g) => g.pkt.sequence), [1, 2, 3]);
  assert.ok(a.got.every((g) => g.pkt.participantSid === 'PA_r'));
  // Lossy packets and unsequenced ones are never deduplicated.
  assert.equal(relayDataPacket(from, '_lossy', packet(1), [a]), 'relayed');
  assert.equal(relayDataPacket(from, '_reliable', livekit.DataPacket.encode({ user: { payload: new Uint8Array([9]) } }).finish(), [a]), 'relayed');
});
