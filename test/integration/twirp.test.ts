// RoomService over Twirp at the wire level: application/protobuf bodies encoded with LiveKit's
// own @livekit/protocol classes, JSON in both key styles, and the Twirp errors clients parse.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  CreateRoomRequest, DataPacket_Kind, DeleteRoomRequest, DeleteRoomResponse, ListParticipantsRequest, ListParticipantsResponse,
  ListRoomsRequest, ListRoomsResponse, MuteRoomTrackRequest, MuteRoomTrackResponse, ParticipantInfo, ParticipantPermission,
  RemoveParticipantResponse, Room, RoomParticipantIdentity, SendDataRequest, SendDataResponse, UpdateParticipantRequest,
  UpdateRoomMetadataRequest, UpdateSubscriptionsRequest, UpdateSubscriptionsResponse,
} from '@livekit/protocol';
import { AccessToken, type VideoGrant } from 'livekit-server-sdk';
import { livekit } from '../../src/proto/index.js';
import { RawSignalClient } from '../helpers/signal-client.js';
import { startStrand, type StrandProcess } from '../helpers/strand-process.js';
import { DEV_KEY, DEV_SECRET, joinToken } from '../helpers/tokens.js';

const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/', import.meta.url));
const OFFER = readFileSync(`${FIXTURES}chrome-publisher-offer.sdp`, 'utf8');
const OFFER_IDS = JSON.parse(readFileSync(`${FIXTURES}chrome-publisher-offer.json`, 'utf8')) as { audioTrackId: string };

let strand: StrandProcess;

before(async () => {
  strand = await startStrand({
    workers: 1,
    args: ['--config-body', 'limit: { max_api_request_body_size: 4096, max_metadata_size: 1024 }'],
  });
});

after(async () => {
  assert.equal(await strand.stop(), 0, strand.stderr());
});

async function apiToken(grant: VideoGrant): Promise<string> {
  const at = new AccessToken(DEV_KEY, DEV_SECRET, { ttl: '10m' });
  at.addGrant(grant);
  return at.toJwt();
}

interface Reply { status: number; contentType: string; body: Buffer }

async function post(method: string, body: Uint8Array | string, contentType: string, token?: string): Promise<Reply> {
  const res = await fetch(`${strand.httpUrl}/twirp/livekit.RoomService/${method}`, {
    method: 'POST',
    headers: { 'Content-Type': contentType, ...(token ? { Authorization: `Bearer ${token}` } : {}) },
    body,
  });
  return { status: res.status, contentType: res.headers.get('content-type') ?? '', body: Buffer.from(await res.arrayBuffer()) };
}

/** A protobuf call that must succeed; returns the response bytes. */
async function pb(method: string, req: { toBinary(): Uint8Array }, token: string): Promise<Uint8Array> {
  const r = await post(method, req.toBinary(), 'application/protobuf', token);
  assert.equal(r.status, 200, `${method}: ${r.body.toString()}`);
  assert.equal(r.contentType, 'application/protobuf');
  return new Uint8Array(r.body);
}

function twirpError(r: Reply, status: number, code: string): string {
  assert.equal(r.status, status, r.body.toString());
  assert.equal(r.contentType, 'application/json', 'livekit-server-sdk reads Twirp errors only with exactly this type');
  const e = JSON.parse(r.body.toString()) as { code: string; msg: string; meta: unknown };
  assert.equal(e.code, code);
  assert.equal(typeof e.msg, 'string');
  assert.ok(e.msg.length > 0);
  assert.equal(typeof e.meta, 'object');
  return e.msg;
}

/** A raw participant publishing the fixture's audio track, to act on. */
async function publisher(room: string, identity: string): Promise<{ client: RawSignalClient; trackSid: string }> {
  const client = await RawSignalClient.connect(strand.url, await joinToken(room, identity));
  await client.next('join');
  client.send({ addTrack: { cid: OFFER_IDS.audioTrackId, name: 'mic', type: livekit.TrackType.AUDIO, source: livekit.TrackSource.MICROPHONE } });
  const published = await client.next('trackPublished');
  client.send({ offer: { type: 'offer', sdp: OFFER, id: 1 } });
  await client.next('answer');
  return { client, trackSid: published.trackPublished!.track!.sid! };
}

test('every RoomService method over application/protobuf', async () => {
  const name = `pb-${Date.now()}`;
  const create = await apiToken({ roomCreate: true, roomList: true });
  const admin = await apiToken({ roomAdmin: true, room: name });

  const room = Room.fromBinary(await pb('CreateRoom', new CreateRoomRequest({ name, metadata: 'm1', departureTimeout: 30 }), create));
  assert.equal(room.name, name);
  assert.equal(room.metadata, 'm1');
  assert.equal(room.departureTimeout, 30);
  assert.equal(room.emptyTimeout, 300, 'zero means the configured default');
  const listed = ListRoomsResponse.fromBinary(await pb('ListRooms', new ListRoomsRequest({ names: [name] }), create));
  assert.deepEqual(listed.rooms.map((r) => r.sid), [room.sid]);

  const { client: speaker, trackSid } = await publisher(name, 'speaker');
  const listener = await RawSignalClient.connect(strand.url, await joinToken(name, 'listener'));
  await listener.next('join');
  try {
    const participants = ListParticipantsResponse.fromBinary(await pb('ListParticipants', new ListParticipantsRequest({ room: name }), admin));
    assert.deepEqual(participants.participants.map((p) => p.identity).sort(), ['listener', 'speaker']);
    const info = ParticipantInfo.fromBinary(await pb('GetParticipant', new RoomParticipantIdentity({ room: name, identity: 'speaker' }), admin));
    assert.deepEqual(info.tracks.map((t) => t.sid), [trackSid]);

    const from = listener.messages.length;
    const updated = ParticipantInfo.fromBinary(await pb('UpdateParticipant', new UpdateParticipantRequest({
      room: name, identity: 'speaker', metadata: 'meta', attributes: { k: 'v' },
      permission: new ParticipantPermission({ canSubscribe: true, canPublish: true, canPublishData: false }),
    }), admin));
    assert.equal(updated.metadata, 'meta');
    assert.equal(updated.permission?.canPublishData, false);
    const update = await listener.next('update', 5000, from);
    assert.ok(update.update!.participants!.some((p) => p.identity === 'speaker' && p.metadata === 'meta' && p.attributes!.k === 'v'));

    const muted = MuteRoomTrackResponse.fromBinary(await pb('MutePublishedTrack', new MuteRoomTrackRequest({ room: name, identity: 'speaker', trackSid, muted: true }), admin));
    assert.equal(muted.track?.muted, true);
    const mute = await speaker.next('mute');
    assert.deepEqual([mute.mute!.sid, mute.mute!.muted], [trackSid, true]);

    UpdateSubscriptionsResponse.fromBinary(await pb('UpdateSubscriptions', new UpdateSubscriptionsRequest({ room: name, identity: 'listener', trackSids: [trackSid], subscribe: false }), admin));
    SendDataResponse.fromBinary(await pb('SendData', new SendDataRequest({ room: name, data: new Uint8Array([1, 2, 3]), kind: DataPacket_Kind.RELIABLE }), admin));

    const fromMeta = speaker.messages.length;
    const withMeta = Room.fromBinary(await pb('UpdateRoomMetadata', new UpdateRoomMetadataRequest({ room: name, metadata: 'm2' }), admin));
    assert.equal(withMeta.metadata, 'm2');
    assert.equal((await speaker.next('roomUpdate', 5000, fromMeta)).roomUpdate!.room!.metadata, 'm2');

    RemoveParticipantResponse.fromBinary(await pb('RemoveParticipant', new RoomParticipantIdentity({ room: name, identity: 'listener' }), admin));
    assert.equal((await listener.next('leave')).leave!.reason, livekit.DisconnectReason.PARTICIPANT_REMOVED);

    DeleteRoomResponse.fromBinary(await pb('DeleteRoom', new DeleteRoomRequest({ room: name }), create));
    assert.equal((await speaker.next('leave')).leave!.reason, livekit.DisconnectReason.ROOM_DELETED);
    assert.equal(ListRoomsResponse.fromBinary(await pb('ListRooms', new ListRoomsRequest({ names: [name] }), create)).rooms.length, 0);
  } finally {
    speaker.close();
    listener.close();
  }
});

test('JSON takes snake_case and camelCase keys; int64 comes back as strings', async () => {
  const token = await apiToken({ roomCreate: true, roomList: true });
  const snake = await post('CreateRoom', JSON.stringify({ name: 'json-snake', empty_timeout: 42, max_participants: 3 }), 'application/json', token);
  assert.equal(snake.status, 200, snake.body.toString());
  const room = JSON.parse(snake.body.toString()) as Record<string, unknown>;
  assert.equal(room.emptyTimeout, 42);
  assert.equal(room.maxParticipants, 3);
  assert.equal(typeof room.creationTime, 'string');
  const camel = await post('CreateRoom', JSON.stringify({ name: 'json-camel', emptyTimeout: 43 }), 'application/json;charset=UTF-8', token);
  assert.equal((JSON.parse(camel.body.toString()) as Record<string, unknown>).emptyTimeout, 43);
});

test('Twirp errors: permission_denied, unauthenticated, not_found, malformed, bad_route, limits', async () => {
  const listOnly = await apiToken({ roomList: true });
  twirpError(await post('CreateRoom', JSON.stringify({ name: 'x' }), 'application/json', listOnly), 403, 'permission_denied');
  twirpError(await post('CreateRoom', new CreateRoomRequest({ name: 'x' }).toBinary(), 'application/protobuf', listOnly), 403, 'permission_denied');
  const otherRoomAdmin = await apiToken({ roomAdmin: true, room: 'other' });
  twirpError(await post('ListParticipants', JSON.stringify({ room: 'mine' }), 'application/json', otherRoomAdmin), 403, 'permission_denied');

  twirpError(await post('ListRooms', '{}', 'application/json'), 401, 'unauthenticated');
  twirpError(await post('ListRooms', '{}', 'application/json', 'not-a-jwt'), 401, 'unauthenticated');
  const wrongKey = await new AccessToken(DEV_KEY, 'wrong-secret', {}).toJwt();
  twirpError(await post('ListRooms', '{}', 'application/json', wrongKey), 401, 'unauthenticated');

  const nopeAdmin = await apiToken({ roomAdmin: true, room: 'nope' });
  twirpError(await post('ListParticipants', JSON.stringify({ room: 'nope' }), 'application/json', nopeAdmin), 404, 'not_found');
  twirpError(await post('ListParticipants', new ListParticipantsRequest({ room: 'nope' }).toBinary(), 'application/protobuf', nopeAdmin), 404, 'not_found');
  twirpError(await post('DeleteRoom', JSON.stringify({ room: 'nope' }), 'application/json', await apiToken({ roomCreate: true })), 404, 'not_found');

  const create = await apiToken({ roomCreate: true });
  twirpError(await post('CreateRoom', '{"name": ', 'application/json', create), 400, 'malformed');
  twirpError(await post('CreateRoom', '[1,2]', 'application/json', create), 400, 'malformed');
  twirpError(await post('CreateRoom', JSON.stringify({ name: { nested: true } }), 'application/json', create), 400, 'malformed');
  twirpError(await post('CreateRoom', Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]), 'application/protobuf', create), 400, 'malformed');
  twirpError(await post('CreateRoom', JSON.stringify({ name: 'x'.repeat(5000) }), 'application/json', create), 400, 'malformed');
  twirpError(await post('CreateRoom', JSON.stringify({ name: 'big', metadata: 'm'.repeat(2000) }), 'application/json', create), 400, 'invalid_argument');
  twirpError(await post('CreateRoom', JSON.stringify({ name: '' }), 'application/json', create), 400, 'invalid_argument');
  twirpError(await post('CreateRoom', '{}', 'text/plain', create), 404, 'bad_route');
  twirpError(await post('NoSuchMethod', '{}', 'application/json', create), 404, 'bad_route');

  // The server is still serving after all that.
  assert.equal((await post('ListRooms', '{}', 'application/json', listOnly)).status, 200);
});

test('CORS: preflight is answered with open headers', async () => {
  const res = await fetch(`${strand.httpUrl}/twirp/livekit.RoomService/ListRooms`, {
    method: 'OPTIONS',
    headers: { Origin: 'https://example.test', 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'authorization,content-type' },
  });
  assert.equal(res.status, 204);
  assert.equal(res.headers.get('access-control-allow-origin'), '*');
  assert.match(res.headers.get('access-control-allow-methods') ?? '', /POST/);
  assert.equal(res.headers.get('access-control-allow-headers'), '*');
  assert.equal(res.headers.get('access-control-max-age'), '86400');
  const post = await fetch(`${strand.httpUrl}/twirp/livekit.RoomService/ListRooms`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' });
  assert.equal(post.headers.get('access-control-allow-origin'), '*');
});
