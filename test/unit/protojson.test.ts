import assert from 'node:assert/strict';
import { test } from 'node:test';
import { livekit } from '../../src/proto/index.js';
import { ProtoJsonError, readProtoJson } from '../../src/proto/protojson.js';

test('field names in snake_case or lowerCamelCase; map keys kept as they are', () => {
  const o = readProtoJson('livekit.UpdateParticipantRequest', {
    room: 'r', identity: 'i', attributes: { team_name: 'blue', 'Mixed-Key': 'x' }, permission: { can_publish: true, canSubscribe: false },
  });
  const req = livekit.UpdateParticipantRequest.fromObject(o);
  assert.deepEqual({ ...req.attributes }, { team_name: 'blue', 'Mixed-Key': 'x' });
  assert.equal(req.permission?.canPublish, true);
  assert.equal(req.permission?.canSubscribe, false);
});

test('int64 as strings, enums by name or number, bytes as base64', () => {
  const send = livekit.SendDataRequest.fromObject(readProtoJson('livekit.SendDataRequest', { room: 'r', data: 'AQID', kind: 'LOSSY', destination_identities: ['a'] }));
  assert.deepEqual([...send.data], [1, 2, 3]);
  assert.equal(send.kind, livekit.DataPacket.Kind.LOSSY);
  assert.equal(livekit.SendDataRequest.fromObject(readProtoJson('livekit.SendDataRequest', { kind: 1 })).kind, 1);
  const id = livekit.RoomParticipantIdentity.fromObject(readProtoJson('livekit.RoomParticipantIdentity', { revoke_token_ts: '1700000000' }));
  assert.equal(Number(id.revokeTokenTs), 1700000000);
});

test('wrong JSON types are refused with the field named', () => {
  const bad: Array<[string, unknown, RegExp]> = [
    ['livekit.CreateRoomRequest', { name: { nested: true } }, /name: a string expected/],
    ['livekit.CreateRoomRequest', { empty_timeout: -1 }, /emptyTimeout: an unsigned 32-bit integer expected/],
    ['livekit.CreateRoomRequest', { emptyTimeout: 1.5 }, /emptyTimeout: an integer expected/],
    ['livekit.ListRoomsRequest', { names: 'one' }, /names: an array expected/],
    ['livekit.ListRoomsRequest', { names: ['a', 2] }, /names\[1\]: a string expected/],
    ['livekit.SendDataRequest', { kind: 'LOUD' }, /kind: a Kind name expected/],
    ['livekit.SendDataRequest', { data: '***' }, /data: a base64 string expected/],
    ['livekit.UpdateParticipantRequest', { attributes: { a: 1 } }, /attributes\["a"\]: a string expected/],
    ['livekit.UpdateParticipantRequest', { permission: { can_publish: 'yes' } }, /permission.canPublish: true or false expected/],
    ['livekit.CreateRoomRequest', [1], /a JSON object expected/],
  ];
  for (const [type, value, message] of bad) assert.throws(() => readProtoJson(type, value), (err: Error) => err instanceof ProtoJsonError && message.test(err.message), JSON.stringify(value));
});

test('unknown fields and nulls are ignored', () => {
  assert.deepEqual(readProtoJson('livekit.CreateRoomRequest', { name: 'r', agents: [{ agentName: 'a' }], metadata: null }), { name: 'r' });
});
