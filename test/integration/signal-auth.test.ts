// Signal-level rules: tokens, room binding, publish permission, ping/pong, validate endpoints.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { AccessToken } from 'livekit-server-sdk';
import WebSocket from 'ws';
import { livekit } from '../../src/proto/index.js';
import { RawSignalClient } from '../helpers/signal-client.js';
import { startStrand, type StrandProcess } from '../helpers/strand-process.js';
import { DEV_KEY, joinToken } from '../helpers/tokens.js';

const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/', import.meta.url));
const OFFER = readFileSync(`${FIXTURES}chrome-publisher-offer.sdp`, 'utf8');
const OFFER_IDS = JSON.parse(readFileSync(`${FIXTURES}chrome-publisher-offer.json`, 'utf8')) as { audioTrackId: string; videoTrackId: string };

let strand: StrandProcess;

before(async () => {
  strand = await startStrand({ workers: 1 });
});

after(async () => {
  assert.equal(await strand.stop(), 0, strand.stderr());
});

async function debugRooms(): Promise<Array<{ name: string; worker: number; participants: Array<{ identity: string; tracks: string[] }> }>> {
  return (await fetch(`${strand.httpUrl}/debug/rooms`)).json() as never;
}

async function status(token: string): Promise<number> {
  try {
    const c = await RawSignalClient.connect(strand.url, token);
    c.close();
    return 101;
  } catch (err) {
    return (err as { status?: number }).status ?? -1;
  }
}

test('JoinResponse is the first frame and carries LiveKit defaults', async () => {
  const c = await RawSignalClient.connect(strand.url, await joinToken('auth-room', 'first'));
  const join = await c.next('join');
  assert.equal(c.messages[0]?.message, 'join');
  assert.match(join.join!.participant!.sid!, /^PA_/);
  assert.equal(join.join!.room!.name, 'auth-room');
  assert.equal(join.join!.pingInterval, 5);
  assert.equal(join.join!.pingTimeout, 15);
  assert.equal(join.join!.subscriberPrimary, true);
  assert.equal(join.join!.serverInfo!.protocol, 17);
  const offer = await c.next('offer');
  assert.match(offer.offer!.sdp!, /m=application/);

  c.send({ ping: 1234 });
  c.send({ pingReq: { timestamp: 5678, rtt: 0 } });
  const pong = await c.next('pong');
  assert.ok(Number(pong.pong) > 0);
  const pongResp = await c.next('pongResp');
  assert.equal(Number(pongResp.pongResp!.lastPingTimestamp), 5678);
  c.close();
});

test('expired, wrongly signed, unknown-key and grant-less tokens get 401', async () => {
  const expired = new AccessToken(DEV_KEY, 'secret', { identity: 'late', ttl: 1 });
  expired.addGrant({ roomJoin: true, room: 'auth-room' });
  const expiredJwt = await expired.toJwt();
  // 1 s TTL plus LiveKit's 60 s leeway: forge the exp instead of waiting.
  const forged = new AccessToken(DEV_KEY, 'secret', { identity: 'late', ttl: -3600 });
  forged.addGrant({ roomJoin: true, room: 'auth-room' });
  assert.equal(await status(await forged.toJwt()), 401);
  assert.ok(expiredJwt.length > 0);

  const wrongSecret = new AccessToken(DEV_KEY, 'not-the-secret', { identity: 'mallory' });
  wrongSecret.addGrant({ roomJoin: true, room: 'auth-room' });
  assert.equal(await status(await wrongSecret.toJwt()), 401);

  const unknownKey = new AccessToken('otherkey', 'secret', { identity: 'mallory' });
  unknownKey.addGrant({ roomJoin: true, room: 'auth-room' });
  assert.equal(await status(await unknownKey.toJwt()), 401);

  const noJoin = new AccessToken(DEV_KEY, 'secret', { identity: 'mallory' });
  noJoin.addGrant({ roomList: true });
  assert.equal(await status(await noJoin.toJwt()), 401);

  assert.equal(await status('not-a-jwt'), 401);
  const validate = await fetch(`${strand.httpUrl}/rtc/validate?access_token=${await wrongSecret.toJwt()}`);
  assert.equal(validate.status, 401);
  const ok = await fetch(`${strand.httpUrl}/rtc/validate?access_token=${await joinToken('auth-room', 'x')}`);
  assert.equal(ok.status, 200);
  assert.equal(await ok.text(), 'success');
});

test('/rtc/v1/validate answers like /rtc/validate; /rtc/v1 needs a join_request; HEAD / is 200 with CORS', async () => {
  const ok = await fetch(`${strand.httpUrl}/rtc/v1/validate?access_token=${await joinToken('auth-room', 'x')}`);
  assert.equal(ok.status, 200);
  assert.equal(ok.headers.get('access-control-allow-origin'), '*');
  assert.equal(await ok.text(), 'success');
  assert.equal((await fetch(`${strand.httpUrl}/rtc/v1/validate?access_token=bad`)).status, 401);
  const token = await joinToken('auth-room', 'x');
  const upgrade = (query: string) => new Promise<number>((resolve, reject) => {
    const ws = new WebSocket(`${strand.url}/rtc/v1?access_token=${token}${query}`);
    ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.once('open', () => { ws.close(); resolve(101); });
    ws.once('error', reject);
  });
  assert.equal(await upgrade(''), 400, 'no join_request');
  assert.equal(await upgrade('&join_request=%25%25'), 400, 'not base64');
  assert.equal(await upgrade('&join_request=AAAA'), 400, 'not a WrappedJoinRequest');
  const gzipped = livekit.WrappedJoinRequest.encode({ compression: livekit.WrappedJoinRequest.Compression.GZIP, joinRequest: new Uint8Array([1, 2, 3]) }).finish();
  assert.equal(await upgrade(`&join_request=${Buffer.from(gzipped).toString('base64url')}`), 400, 'gzip that does not decompress');
  const bomb = livekit.WrappedJoinRequest.encode({ compression: livekit.WrappedJoinRequest.Compression.GZIP, joinRequest: gzipSync(Buffer.alloc(4 * 1024 * 1024)) }).finish();
  assert.equal(await upgrade(`&join_request=${Buffer.from(bomb).toString('base64url')}`), 400, 'over 1 MiB decompressed');
  const join = livekit.JoinRequest.encode({ clientInfo: { protocol: 17 }, connectionSettings: { autoSubscribe: true } }).finish();
  const plain = livekit.WrappedJoinRequest.encode({ joinRequest: join }).finish();
  assert.equal(await upgrade(`&join_request=${Buffer.from(plain).toString('base64url')}`), 101, 'a valid join_request upgrades');
  for (const method of ['HEAD', 'GET']) {
    const root = await fetch(`${strand.httpUrl}/`, { method });
    assert.equal(root.status, 200, method);
    assert.equal(root.headers.get('access-control-allow-origin'), '*', method);
  }
});

test('a token for room X joins room X only', async () => {
  const other = await RawSignalClient.connect(strand.url, await joinToken('room-y', 'yuri'));
  await other.next('join');
  const c = await RawSignalClient.connect(strand.url, await joinToken('room-x', 'xena'));
  const join = await c.next('join');
  assert.equal(join.join!.room!.name, 'room-x');
  assert.equal(join.join!.otherParticipants!.length, 0, 'room-y participants are not visible in room-x');
  const rooms = await debugRooms();
  assert.deepEqual(rooms.find((r) => r.name === 'room-y')!.participants.map((p) => p.identity), ['yuri']);
  assert.deepEqual(rooms.find((r) => r.name === 'room-x')!.participants.map((p) => p.identity), ['xena']);
  // Nothing xena sends reaches room-y: she is not in it.
  assert.equal(other.messages.filter((m) => m.message === 'update' && m.update!.participants!.some((p) => p.identity === 'xena')).length, 0);
  c.close();
  other.close();
});

test('without canPublish, AddTrack is refused and an offer publishes nothing', async () => {
  const watcher = await RawSignalClient.connect(strand.url, await joinToken('perm-room', 'watcher'));
  await watcher.next('join');
  const c = await RawSignalClient.connect(strand.url, await joinToken('perm-room', 'viewer', { canPublish: false }));
  const join = await c.next('join');
  assert.equal(join.join!.participant!.permission!.canPublish, false);
  c.send({ addTrack: { cid: OFFER_IDS.audioTrackId, name: 'mic', type: livekit.TrackType.AUDIO, source: livekit.TrackSource.MICROPHONE } });
  const refused = await c.next('requestResponse');
  assert.equal(refused.requestResponse!.reason, livekit.RequestResponse.Reason.NOT_ALLOWED);
  assert.equal(c.messages.some((m) => m.message === 'trackPublished'), false);

  c.send({ offer: { type: 'offer', sdp: OFFER, id: 1 } });
  const answer = await c.next('answer');
  assert.match(answer.answer!.sdp!, /a=recvonly/);
  const rooms = await debugRooms();
  assert.deepEqual(rooms.find((r) => r.name === 'perm-room')!.participants.find((p) => p.identity === 'viewer')!.tracks, []);
  const published = watcher.messages.filter((m) => m.message === 'update'
    && m.update!.participants!.some((p) => p.identity === 'viewer' && (p.tracks?.length ?? 0) > 0));
  assert.equal(published.length, 0);
  c.close();
  watcher.close();
});

test('with canPublish, AddTrack gets TrackPublished and the offer publishes audio and simulcast video', async () => {
  const watcher = await RawSignalClient.connect(strand.url, await joinToken('pub-room', 'watcher'));
  await watcher.next('join');
  const c = await RawSignalClient.connect(strand.url, await joinToken('pub-room', 'speaker'));
  await c.next('join');
  c.send({ addTrack: { cid: OFFER_IDS.audioTrackId, name: 'mic', type: livekit.TrackType.AUDIO, source: livekit.TrackSource.MICROPHONE } });
  const pubAudio = await c.next('trackPublished');
  assert.match(pubAudio.trackPublished!.track!.sid!, /^TR_/);
  c.send({ addTrack: {
    cid: OFFER_IDS.videoTrackId, name: 'cam', type: livekit.TrackType.VIDEO, source: livekit.TrackSource.CAMERA, width: 1280, height: 720,
    layers: [{ quality: livekit.VideoQuality.LOW, width: 320, height: 180 }, { quality: livekit.VideoQuality.MEDIUM, width: 640, height: 360 }, { quality: livekit.VideoQuality.HIGH, width: 1280, height: 720 }],
  } });
  const count = () => c.messages.filter((m) => m.message === 'trackPublished').length;
  for (let i = 0; i < 50 && count() < 2; i++) await new Promise((r) => setTimeout(r, 20));
  c.send({ offer: { type: 'offer', sdp: OFFER, id: 7 } });
  const answer = await c.next('answer');
  assert.equal(answer.answer!.id, 7);
  const sdp = answer.answer!.sdp!;
  assert.match(sdp, /a=simulcast:recv q;h;f/);
  assert.match(sdp, /a=rid:f recv/);
  assert.doesNotMatch(sdp, /red\/|ulpfec|transport-cc/);
  const update = await watcher.next('update', 5000, 0);
  assert.ok(update);
  const deadline = Date.now() + 5000;
  let tracks: livekit.ITrackInfo[] = [];
  while (Date.now() < deadline && tracks.length < 2) {
    const last = watcher.messages.filter((m) => m.message === 'update').flatMap((m) => m.update!.participants!).filter((p) => p.identity === 'speaker').pop();
    tracks = last?.tracks ?? [];
    if (tracks.length < 2) await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(tracks.length, 2);
  const video = tracks.find((t) => t.type === livekit.TrackType.VIDEO)!;
  assert.equal(video.mimeType, 'video/VP8');
  assert.deepEqual(video.layers!.map((l) => l.rid), ['q', 'h', 'f']);
  c.close();
  watcher.close();
});

test('a second session with the same identity replaces the first (DUPLICATE_IDENTITY)', async () => {
  const first = await RawSignalClient.connect(strand.url, await joinToken('dup-room', 'twin'));
  await first.next('join');
  const second = await RawSignalClient.connect(strand.url, await joinToken('dup-room', 'twin'));
  await second.next('join');
  const leave = await first.next('leave');
  assert.equal(leave.leave!.reason, livekit.DisconnectReason.DUPLICATE_IDENTITY);
  await first.closed();
  const rooms = await debugRooms();
  assert.equal(rooms.find((r) => r.name === 'dup-room')!.participants.length, 1);
  second.close();
});

test('a resume of an unknown session gets leave RECONNECT as its first frame (v0 and v1)', async () => {
  const token = await joinToken('auth-room', 'ghost');
  const v0 = await RawSignalClient.connect(strand.url, token, 'reconnect=1&sid=PA_nobody&protocol=17');
  const first0 = await v0.next('leave');
  assert.equal(v0.messages[0]!.message, 'leave');
  assert.equal(first0.leave!.action, livekit.LeaveRequest.Action.RECONNECT);
  assert.equal(first0.leave!.reason, livekit.DisconnectReason.STATE_MISMATCH);
  const join = livekit.JoinRequest.encode({ clientInfo: { protocol: 17 }, reconnect: true, participantSid: 'PA_nobody' }).finish();
  const wrapped = Buffer.from(livekit.WrappedJoinRequest.encode({ joinRequest: join }).finish()).toString('base64url');
  const v1 = await RawSignalClient.connect(strand.url, token, `join_request=${wrapped}`, '/rtc/v1');
  const first1 = await v1.next('leave');
  assert.equal(v1.messages[0]!.message, 'leave');
  assert.equal(first1.leave!.action, livekit.LeaveRequest.Action.RECONNECT);
  v0.close();
  v1.close();
});

test('a raw v1 join: JoinResponse first (subscriber_primary false), then the answer to the offer in the join', async () => {
  const offer = readFileSync(fileURLToPath(new URL('../../../test/fixtures/chrome-publisher-offer.sdp', import.meta.url)), 'utf8');
  const join = livekit.JoinRequest.encode({ clientInfo: { protocol: 17 }, connectionSettings: { autoSubscribe: true }, publisherOffer: { type: 'offer', sdp: offer, id: 7 } }).finish();
  const wrapped = Buffer.from(livekit.WrappedJoinRequest.encode({ joinRequest: join }).finish()).toString('base64url');
  const c = await RawSignalClient.connect(strand.url, await joinToken('v1-raw', 'vera'), `join_request=${wrapped}`, '/rtc/v1');
  const first = await c.next('join');
  assert.equal(c.messages[0]!.message, 'join');
  assert.equal(first.join!.subscriberPrimary, false);
  const answer = await c.next('answer');
  assert.equal(answer.answer!.id, 7);
  assert.match(answer.answer!.sdp!, /a=mid:0[\s\S]*a=mid:1/);
  assert.equal(c.messages.filter((m) => m.message === 'offer').length, 0, 'v1: Strand never offers');
  c.close();
});

test('SimulateScenario: speaker update, leave with full reconnect, server leave', async () => {
  const c = await RawSignalClient.connect(strand.url, await joinToken('simulate-room', 'sim'));
  const join = await c.next('join');
  const sid = join.join!.participant!.sid;
  c.send({ simulate: { speakerUpdate: 1 } });
  const speaking = await c.next('speakersChanged');
  assert.deepEqual(speaking.speakersChanged!.speakers!.map((s) => [s.sid, s.active]), [[sid, true]]);
  const from = c.messages.length;
  const quiet = await c.next('speakersChanged', 3000, from);
  assert.deepEqual(quiet.speakersChanged!.speakers!.map((s) => [s.sid, s.active]), [[sid, false]]);
  c.send({ simulate: { leaveRequestFullReconnect: true } });
  assert.equal((await c.next('leave')).leave!.action, livekit.LeaveRequest.Action.RECONNECT);

  const d = await RawSignalClient.connect(strand.url, await joinToken('simulate-room', 'sim2'));
  await d.next('join');
  d.send({ simulate: { serverLeave: true } });
  const leave = await d.next('leave');
  assert.equal(leave.leave!.action, livekit.LeaveRequest.Action.DISCONNECT);
  assert.equal(leave.leave!.reason, livekit.DisconnectReason.SERVER_SHUTDOWN);
});
