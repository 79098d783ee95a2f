// Bad input on one signal socket gets an error answer or closes that socket only: the server
// and the other participants carry on.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { livekit } from '../../src/proto/index.js';
import { RawSignalClient } from '../helpers/signal-client.js';
import { startStrand, type StrandProcess } from '../helpers/strand-process.js';
import { joinToken } from '../helpers/tokens.js';

let strand: StrandProcess;
let bystander: RawSignalClient;

before(async () => {
  strand = await startStrand({ workers: 1 });
  bystander = await RawSignalClient.connect(strand.url, await joinToken('bad-room', 'bystander'));
  await bystander.next('join');
});

after(async () => {
  bystander.close();
  assert.equal(await strand.stop(), 0, strand.stderr());
});

/** The bystander still gets answers, and the server still serves HTTP. */
async function assertHealthy(): Promise<void> {
  const before = bystander.messages.length;
  bystander.send({ pingReq: { timestamp: Date.now(), rtt: 0 } });
  await bystander.next('pongResp', 3000, before);
  const res = await fetch(`${strand.httpUrl}/`);
  assert.equal(res.status, 200);
}

async function attacker(identity: string): Promise<RawSignalClient> {
  const c = await RawSignalClient.connect(strand.url, await joinToken('bad-room', identity));
  await c.next('join');
  return c;
}

test('a malformed protobuf frame closes that socket with 1007', async () => {
  const c = await attacker('garbler');
  // Field 1 (offer), length-delimited, claiming 100 bytes that are not there.
  c.sendRaw(Buffer.from([0x0a, 0x64, 0x01, 0x02]));
  assert.equal(await c.closed(), 1007);
  await assertHealthy();
});

test('random binary frames close that socket only', async () => {
  for (let i = 0; i < 5; i++) {
    const c = await attacker(`noise-${i}`);
    c.sendRaw(randomBytes(64 + i * 97));
    const code = await c.closed().catch(() => null);
    // Random bytes can happen to decode as a valid (empty or unknown) request; then the socket
    // stays open and must still work.
    if (code === null) {
      c.send({ pingReq: { timestamp: 1, rtt: 0 } });
      await c.next('pongResp');
      c.close();
    } else {
      assert.equal(code, 1007);
    }
  }
  await assertHealthy();
});

test('a 1 MB garbage frame closes that socket only', async () => {
  const c = await attacker('flooder');
  c.sendRaw(Buffer.concat([Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]), randomBytes(1024 * 1024)]));
  assert.equal(await c.closed(10_000), 1007);
  await assertHealthy();
});

test('a frame over the signal size limit closes that socket', async () => {
  const c = await attacker('giant');
  c.sendRaw(randomBytes(3 * 1024 * 1024));
  const code = await c.closed(10_000);
  assert.notEqual(code, 1000);
  await assertHealthy();
});

test('invalid JSON text frames close that socket with 1007', async () => {
  const c = await attacker('jsoner');
  c.sendRaw('{"offer": {"sdp": ');
  assert.equal(await c.closed(), 1007);
  await assertHealthy();
});

test('JSON text frames are answered in JSON', async () => {
  const c = await attacker('json-ok');
  const before = c.messages.length;
  c.ws.send(JSON.stringify({ ping_req: { timestamp: '42', rtt: '0' } }));
  const pong = await c.next('pongResp', 3000, before);
  assert.equal(Number(pong.pongResp!.lastPingTimestamp), 42);
  c.close();
});

test('an unparsable SDP offer gets an error response and the session carries on', async () => {
  const c = await attacker('sdp-breaker');
  for (const sdp of ['this is not sdp', 'v=0\r\nm=audio\r\n', '', 'v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n']) {
    const before = c.messages.length;
    c.send({ offer: { type: 'offer', sdp, id: 3 } });
    const err = await c.next('requestResponse', 3000, before);
    assert.equal(err.requestResponse!.reason, livekit.RequestResponse.Reason.INVALID_REQUEST);
    assert.match(err.requestResponse!.message!, /SDP|sdp|ice|mid/i);
  }
  // An answer to nothing, a broken trickle: errors, not crashes.
  let before = c.messages.length;
  c.send({ answer: { type: 'answer', sdp: 'garbage' } });
  await c.next('requestResponse', 3000, before);
  before = c.messages.length;
  c.send({ trickle: { candidateInit: '{not json', target: livekit.SignalTarget.PUBLISHER } });
  assert.match((await c.next('requestResponse', 3000, before)).requestResponse!.message!, /not JSON/);
  before = c.messages.length;
  c.send({ trickle: { candidateInit: '[1]', target: livekit.SignalTarget.PUBLISHER } });
  assert.match((await c.next('requestResponse', 3000, before)).requestResponse!.message!, /not an RTCIceCandidateInit/);
  // null, or a null candidate, ends the candidates: no error, nothing answered.
  for (const init of ['null', '{"candidate":null}', '{"candidate":""}']) c.send({ trickle: { candidateInit: init, target: livekit.SignalTarget.PUBLISHER } });
  before = c.messages.length;
  c.send({ pingReq: { timestamp: 7, rtt: 0 } });
  await c.next('pongResp', 3000, before);
  assert.ok(!c.messages.slice(before).some((m) => m.message === 'requestResponse'), 'end-of-candidates trickles are not errors');
  c.close();
  await assertHealthy();
});
