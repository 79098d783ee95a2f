import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { livekit } from '../../src/proto/index.js';
import { ConnectRequestError, MAX_JOIN_REQUEST_BYTES, v0ConnectRequest, v1ConnectRequest } from '../../src/main/signal/connect-request.js';

function wrapped(join: livekit.IJoinRequest, gzip: boolean): string {
  const body = livekit.JoinRequest.encode(join).finish();
  const w = livekit.WrappedJoinRequest.encode({
    compression: gzip ? livekit.WrappedJoinRequest.Compression.GZIP : livekit.WrappedJoinRequest.Compression.NONE,
    joinRequest: gzip ? gzipSync(body) : body,
  }).finish();
  // livekit-client keeps the padding (base64url with "=").
  return Buffer.from(w).toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
}

test('v0: URL parameters, resume with reconnect=1&sid', () => {
  const join = v0ConnectRequest(new URLSearchParams('auto_subscribe=0&protocol=17'));
  assert.deepEqual(join.params, { autoSubscribe: false, clientProtocol: 17, singlePeerConnection: false });
  assert.equal(join.reconnect, false);
  const resume = v0ConnectRequest(new URLSearchParams('reconnect=1&sid=PA_x&protocol=17'));
  assert.equal(resume.reconnect, true);
  assert.equal(resume.participantSid, 'PA_x');
  assert.equal(resume.params.autoSubscribe, true, 'auto_subscribe defaults to on');
});

for (const gzip of [false, true]) {
  test(`v1: a ${gzip ? 'gzipped' : 'plain'} JoinRequest with its offer, and a resume`, () => {
    const join = v1ConnectRequest(new URLSearchParams({ join_request: wrapped({
      clientInfo: { protocol: 17 }, connectionSettings: { autoSubscribe: true, adaptiveStream: true },
      publisherOffer: { type: 'offer', sdp: 'v=0\r\n', id: 1 },
    }, gzip) }));
    assert.deepEqual(join.params, { autoSubscribe: true, clientProtocol: 17, singlePeerConnection: true });
    assert.equal(join.offer?.sdp, 'v=0\r\n');
    assert.equal(join.offer?.id, 1);
    assert.equal(join.reconnect, false);
    const resume = v1ConnectRequest(new URLSearchParams({ join_request: wrapped({
      connectionSettings: { autoSubscribe: false }, reconnect: true, participantSid: 'PA_y', reconnectReason: livekit.ReconnectReason.RR_SIGNAL_DISCONNECTED,
    }, gzip) }));
    assert.equal(resume.reconnect, true);
    assert.equal(resume.participantSid, 'PA_y');
    assert.equal(resume.params.autoSubscribe, false);
    assert.equal(resume.offer, undefined);
  });
}

test('v1: bad join_request values are ConnectRequestErrors', () => {
  const bad = (value: string | null) => assert.throws(() => v1ConnectRequest(new URLSearchParams(value === null ? '' : { join_request: value })), ConnectRequestError);
  bad(null);
  bad('not base64!');
  bad(Buffer.from([0xff, 0xff, 0xff]).toString('base64url'));
  bad(Buffer.from(livekit.WrappedJoinRequest.encode({ compression: 7 as livekit.WrappedJoinRequest.Compression, joinRequest: new Uint8Array(1) }).finish()).toString('base64url'));
  bad(Buffer.from(livekit.WrappedJoinRequest.encode({ compression: livekit.WrappedJoinRequest.Compression.GZIP, joinRequest: new Uint8Array([1, 2]) }).finish()).toString('base64url'));
  const bomb = gzipSync(Buffer.alloc(MAX_JOIN_REQUEST_BYTES + 1));
  bad(Buffer.from(livekit.WrappedJoinRequest.encode({ compression: livekit.WrappedJoinRequest.Compression.GZIP, joinRequest: bomb }).finish()).toString('base64url'));
});
