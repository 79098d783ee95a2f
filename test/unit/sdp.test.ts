// Strand's SDP writers against a real Chromium publisher offer (audio + 3-layer VP8 simulcast
// + data channel, captured from Debian Chromium 156).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as sdpTransform from 'sdp-transform';
import { TRANSPORT_MID, offeredCodec, parseOffer, parseSdp, publisherTransportView, writePublisherAnswer } from '../../src/workers/sdp/publisher-sdp.js';
import { subscriberViewAnswer, writeSubscriberOffer } from '../../src/workers/sdp/subscriber-sdp.js';
import { SdpError, readTransportParams, type TransportParams } from '../../src/workers/sdp/transport-params.js';

const OFFER = readFileSync(fileURLToPath(new URL('../../../test/fixtures/chrome-publisher-offer.sdp', import.meta.url)), 'utf8');

const strandTransport: TransportParams = {
  iceUfrag: 'abcd', icePwd: 'pwpwpwpwpwpwpwpwpwpwpw', fingerprint: { type: 'sha-256', hash: 'AA:BB' }, setup: 'active',
  candidates: [{ foundation: '1', component: 1, transport: 'UDP', priority: 2114977791, ip: '127.0.0.1', port: 7882, type: 'host' }],
  sctpPort: 5000, maxMessageSize: 262144,
};

test('parses the offer: codecs picked, simulcast rids in order, msid track ids', () => {
  const o = parseOffer(OFFER);
  const [audio, video, app] = o.sections;
  assert.equal(audio!.kind, 'audio');
  assert.equal(audio!.codec!.mimeType, 'audio/opus');
  assert.equal(audio!.codec!.payloadType, 111);
  assert.ok(audio!.sending);
  assert.equal(video!.codec!.mimeType, 'video/VP8');
  assert.equal(video!.codec!.rtxPayloadType, 97);
  assert.deepEqual(video!.rids, ['q', 'h', 'f']);
  assert.ok(video!.trackId && video!.trackId.length > 10);
  assert.equal(app!.kind, 'application');
  assert.ok(video!.extensions.has('urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id'));
  assert.ok(!video!.extensions.has('http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01'));
});

test('transport view: one pinned audio section plus the data channel section, bundled', () => {
  const view = sdpTransform.parse(publisherTransportView(parseOffer(OFFER)));
  assert.deepEqual(view.media.map((m) => [m.type, String(m.mid)]), [['audio', TRANSPORT_MID], ['application', '2']]);
  assert.equal(view.groups![0]!.mids, `${TRANSPORT_MID} 2`);
  assert.equal(view.media[0]!.direction, 'sendrecv');
  assert.equal(view.media[0]!.rtp.length, 1);
  assert.equal(view.media[0]!.rids, undefined);
  assert.equal(view.media[0]!.iceUfrag, readTransportParams(parseSdp(OFFER)).iceUfrag);
});

test('publisher answer: every mid, recvonly, one codec (+rtx), rids flipped to recv, no RED/FEC/TWCC', () => {
  const text = writePublisherAnswer(parseOffer(OFFER), strandTransport, { id: 42, version: 3 });
  const a = sdpTransform.parse(text);
  assert.deepEqual(a.media.map((m) => String(m.mid)), ['0', '1', '2']);
  assert.equal(a.groups![0]!.mids, '0 1 2');
  assert.equal(a.origin!.sessionVersion, 3);
  const [audio, video, app] = a.media;
  assert.equal(audio!.direction, 'recvonly');
  assert.deepEqual(audio!.rtp.map((r) => r.codec), ['opus']);
  assert.equal(video!.direction, 'recvonly');
  assert.deepEqual(video!.rtp.map((r) => `${r.payload}/${r.codec}`), ['96/VP8', '97/rtx']);
  assert.deepEqual(video!.rids!.map((r) => `${r.id} ${r.direction}`), ['q recv', 'h recv', 'f recv']);
  assert.equal(video!.simulcast!.dir1, 'recv');
  assert.equal(video!.simulcast!.list1, 'q;h;f');
  assert.ok(video!.rtcpFb!.some((f) => f.type === 'goog-remb'));
  assert.ok(video!.rtcpFb!.some((f) => f.type === 'nack' && f.subtype === 'pli'));
  assert.doesNotMatch(text, /red\/|ulpfec|transport-cc|a=sendrecv/);
  assert.equal(app!.sctpPort, 5000);
  for (const m of a.media) {
    assert.equal(m.iceUfrag, 'abcd');
    assert.equal(m.setup, 'active');
  }
  assert.equal(audio!.candidates!.length, 1, 'candidates in the first bundled section');
  assert.equal(video!.candidates, undefined);
});

test('rejected and unsupported sections are answered with port 0 and left out of BUNDLE', () => {
  const offer = OFFER.replace('m=video 9 UDP/TLS/RTP/SAVPF 96 97 102 103 104 107 108 109 114 115 116 117 39 40 45 46 98 99 100 101 118 119 120', 'm=video 0 UDP/TLS/RTP/SAVPF 96');
  const a = sdpTransform.parse(writePublisherAnswer(parseOffer(offer), strandTransport, { id: 1, version: 1 }));
  assert.equal(a.media[1]!.port, 0);
  assert.equal(a.groups![0]!.mids, '0 2');
});

test('broken SDP is an SdpError, never an exception of another kind', () => {
  for (const bad of ['', 'hello', 'v=0\r\n', 'v=0\r\nm=audio 9 RTP/AVP 0\r\n']) {
    assert.throws(() => parseOffer(bad), SdpError, JSON.stringify(bad));
  }
  assert.throws(() => publisherTransportView(parseOffer(OFFER.replace(/a=ice-ufrag:.*\r\n/g, ''))), SdpError);
});

test('subscriber offer: data section first, one sendonly section per downtrack with msid and ssrc', () => {
  const text = writeSubscriberOffer({ ...strandTransport, setup: 'actpass' }, [
    { mid: '1', kind: 'audio', downTrack: { ssrc: 111, cname: 'c', streamId: 'PA_a|TR_a', trackId: 'TR_a', mimeType: 'audio/opus', clockRate: 48000, channels: 2 } },
    { mid: '2', kind: 'video', downTrack: { ssrc: 222, cname: 'c', streamId: 'PA_a|TR_v', trackId: 'TR_v', mimeType: 'video/VP8', clockRate: 90000 } },
    { mid: '3', kind: 'video', downTrack: null },
  ], { id: 7, version: 2 });
  const o = sdpTransform.parse(text);
  assert.deepEqual(o.media.map((m) => `${m.type}:${String(m.mid)}:${m.direction ?? ''}`), ['application:0:', 'audio:1:sendonly', 'video:2:sendonly', 'video:3:inactive']);
  assert.equal(o.groups![0]!.mids, '0 1 2 3');
  // sdp-transform's parser stops at '|', so the msid lines are checked as text.
  assert.match(text, /\r\na=msid:PA_a\|TR_v TR_v\r\n/);
  assert.match(text, /\r\na=ssrc:222 msid:PA_a\|TR_v TR_v\r\n/);
  assert.deepEqual(o.media[2]!.rtp.map((r) => r.codec), ['VP8', 'rtx']);
  assert.equal(o.media[3]!.ssrcs, undefined);
  assert.doesNotMatch(text, /a=candidate|end-of-candidates/, 'candidates are trickled after the answer');
});

test('subscriber view answer: libdatachannel offer answered with the client parameters, directions flipped', () => {
  const nativeOffer = readFileSync(fileURLToPath(new URL('../../../test/fixtures/libdatachannel-subscriber-offer.sdp', import.meta.url)), 'utf8');
  const clientAnswer = OFFER.replace(/a=setup:actpass/g, 'a=setup:active');
  const view = sdpTransform.parse(subscriberViewAnswer(nativeOffer, clientAnswer));
  assert.equal(view.media[0]!.direction, 'recvonly');
  assert.equal(view.media[0]!.setup, 'active');
  assert.equal(view.media[0]!.iceUfrag, readTransportParams(parseSdp(OFFER)).iceUfrag);
  assert.equal(view.media[1]!.sctpPort, 5000);
  assert.throws(() => subscriberViewAnswer(nativeOffer, OFFER), SdpError, 'an answer may not say actpass');
});

test('views of a client description never claim its candidates are complete (they keep trickling)', () => {
  const withCandidates = OFFER.replace('a=mid:0\r\n', 'a=mid:0\r\na=candidate:1 1 udp 2122194687 192.0.2.2 40000 typ host\r\na=end-of-candidates\r\n');
  const view = publisherTransportView(parseOffer(withCandidates));
  assert.match(view, /a=candidate:1 1 udp 2122194687 192\.0\.2\.2 40000 typ host/);
  assert.doesNotMatch(view, /end-of-candidates/);
});

/** The fixture as a v1 client's receive sections: recvonly, no rids, SSRCs or msid. */
const RECEIVE_OFFER = OFFER.split(/\r?\n/)
  .filter((l) => !/^a=(rid|simulcast|ssrc|ssrc-group|msid):/.test(l))
  .map((l) => (l === 'a=sendonly' ? 'a=recvonly' : l))
  .join('\r\n');

test('v1 answer: a receive section with a bound track is sendonly, with its SSRCs, msid and the offer\'s payload types', () => {
  const offer = parseOffer(RECEIVE_OFFER);
  const [audio, video] = offer.sections;
  assert.ok(audio!.receiving && !audio!.sending);
  const videoCodec = offeredCodec(offer.sdp.media[1]!, 'VP8')!;
  assert.deepEqual([videoCodec.payloadType, videoCodec.rtxPayloadType], [96, 97]);
  const bound = new Map([[video!.mid, {
    codec: videoCodec, ssrc: 1111, rtxSsrc: 2222, cname: 'c', streamId: 'PA_p|TR_t', trackId: 'TR_t',
  }]]);
  const text = writePublisherAnswer(offer, strandTransport, { id: 1, version: 2 }, bound);
  const a = sdpTransform.parse(text);
  const [audioAnswer, videoAnswer] = a.media;
  assert.equal(audioAnswer!.direction, 'inactive', 'a receive section without a track');
  assert.equal(videoAnswer!.direction, 'sendonly');
  assert.deepEqual(videoAnswer!.rtp.map((r) => `${r.payload}/${r.codec}`), ['96/VP8', '97/rtx']);
  assert.match(text, /a=msid:PA_p\|TR_t TR_t\r\n/);
  assert.deepEqual([...new Set(videoAnswer!.ssrcs!.map((x) => Number(x.id)))], [1111, 2222]);
  assert.equal(videoAnswer!.ssrcGroups![0]!.ssrcs, '1111 2222');
  // Header extensions are kept on every section (Chromium re-offers only what answers accepted).
  for (const m of [audioAnswer!, videoAnswer!]) assert.ok(m.ext!.some((e) => e.uri === 'urn:ietf:params:rtp-hdrext:sdes:mid'), `${m.mid} keeps mid`);
  assert.ok(videoAnswer!.ext!.some((e) => e.uri === 'urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id'), 'and rid, for a simulcast camera added later');
  assert.equal(a.groups![0]!.mids, '0 1 2');
});

test('a Firefox offer: msid track ids in braces are read, simulcast rids and VP8 with its rtx picked', () => {
  const ff = readFileSync(fileURLToPath(new URL('../../../test/fixtures/firefox-publisher-offer.sdp', import.meta.url)), 'utf8');
  const [audio, video, app] = parseOffer(ff).sections;
  assert.equal(audio!.trackId, '{b7c8d9e0-f1a2-4b3c-8d4e-5f6a7b8c9d0e}');
  assert.equal(video!.trackId, '{c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f}');
  assert.equal(audio!.codec!.payloadType, 109);
  assert.deepEqual([video!.codec!.mimeType, video!.codec!.payloadType, video!.codec!.rtxPayloadType], ['video/VP8', 120, 124]);
  assert.deepEqual(video!.rids, ['q', 'h', 'f']);
  assert.equal(app!.kind, 'application');
});

test('numeric-looking text fields (codec names, ssrc groups, simulcast lists) do not break the parser', () => {
  const odd = OFFER.replace(/a=ssrc-group:FID \d+ \d+/, 'a=ssrc-group:FID 1').replace('a=rtpmap:96 VP8/90000', 'a=rtpmap:96 123/90000').replace(/a=simulcast:send [^\r]+/, 'a=simulcast:send 1');
  const o = parseOffer(odd);
  assert.equal(o.sections.length, 3);
});
