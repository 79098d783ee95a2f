import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { TokenVerifier as SdkVerifier } from 'livekit-server-sdk';
import { parseDuration, signToken } from '../../src/main/auth/token-signer.js';
import { TokenVerifier } from '../../src/main/auth/token-verifier.js';
import { parseGrant, tokenCommand } from '../../src/main/token-command.js';

const BIN = fileURLToPath(new URL('../../../bin/strand.js', import.meta.url));

test('signed tokens verify with Strand and with livekit-server-sdk', async () => {
  const token = signToken('devkey', 'secret', { identity: 'alice', name: 'Alice', metadata: 'm', attributes: { a: 'b' }, video: { roomJoin: true, room: 'r' } }, 600);
  const ours = new TokenVerifier({ devkey: 'secret' }).verify(token);
  assert.equal(ours.identity, 'alice');
  assert.equal(ours.name, 'Alice');
  assert.deepEqual(ours.attributes, { a: 'b' });
  assert.deepEqual(ours.video, { roomJoin: true, room: 'r' });
  const sdk = await new SdkVerifier('devkey', 'secret').verify(token);
  assert.equal(sdk.sub, 'alice');
  assert.equal(sdk.video?.room, 'r');
  assert.ok(sdk.exp! - sdk.nbf! === 600);
  assert.throws(() => new TokenVerifier({ devkey: 'other' }).verify(token), /signature/);
});

test('durations and grants parse like lk token create', () => {
  assert.equal(parseDuration('6h'), 21600);
  assert.equal(parseDuration('30m'), 1800);
  assert.equal(parseDuration('90'), 90);
  assert.equal(parseDuration('2d'), 172800);
  assert.throws(() => parseDuration('soon'), /invalid duration/);
  assert.throws(() => parseDuration('0s'), /positive/);
  assert.deepEqual(parseGrant('roomAdmin,canPublish=false'), { roomAdmin: true, canPublish: false });
  assert.deepEqual(parseGrant('{"canPublishSources":["camera"],"hidden":true}'), { canPublishSources: ['camera'], hidden: true });
  assert.throws(() => parseGrant('roomAdmn'), /unknown grant "roomAdmn"/);
  assert.throws(() => parseGrant('{bad'), /not valid JSON/);
});

test('tokenCommand: join by default, admin/create/list flags, key sources', () => {
  const v = new TokenVerifier({ devkey: 'secret', k2: 'secret-2' });
  const join = v.verify(tokenCommand(['create', '--dev', '--room', 'R', '--identity', 'I', '--valid-for', '1h'], {}));
  assert.deepEqual(join.video, { roomJoin: true, room: 'R' });
  assert.equal(join.identity, 'I');
  const admin = v.verify(tokenCommand(['create', '--admin', '--list', '--room', 'R', '--grant', 'hidden'], { LIVEKIT_API_KEY: 'k2', LIVEKIT_API_SECRET: 'secret-2' }));
  assert.deepEqual(admin.video, { roomAdmin: true, roomList: true, hidden: true, room: 'R' });
  assert.equal(admin.apiKey, 'k2');
  assert.equal(v.verify(tokenCommand(['create', '--create'], { LIVEKIT_KEYS: 'devkey: secret' })).video.roomCreate, true);
  assert.throws(() => tokenCommand(['create', '--room', 'R', '--identity', 'I'], {}), /no signing key/);
  assert.throws(() => tokenCommand(['create', '--dev', '--room', 'R'], {}), /--identity is required/);
  assert.throws(() => tokenCommand(['create', '--dev', '--identity', 'I'], {}), /--room is required/);
  assert.throws(() => tokenCommand(['revoke'], {}), /unknown token command/);
  assert.match(tokenCommand(['create', '--help'], {}), /usage: strand token create/);
});

test('`strand token create` prints a token a LiveKit verifier accepts', async () => {
  const r = spawnSync(process.execPath, [BIN, 'token', 'create', '--room', 'R', '--identity', 'I', '--grant', 'canPublish=false', '--valid-for', '2h'], {
    encoding: 'utf8', env: { ...process.env, LIVEKIT_API_KEY: 'APIkey', LIVEKIT_API_SECRET: 'a-secret-that-is-long-enough-123456' }, timeout: 20_000,
  });
  assert.equal(r.status, 0, r.stderr);
  const claims = await new SdkVerifier('APIkey', 'a-secret-that-is-long-enough-123456').verify(r.stdout.trim());
  assert.equal(claims.sub, 'I');
  assert.deepEqual(claims.video, { roomJoin: true, canPublish: false, room: 'R' });
  assert.equal(claims.exp! - claims.nbf!, 7200);
  const bad = spawnSync(process.execPath, [BIN, 'token', 'create', '--room', 'R'], { encoding: 'utf8', env: { ...process.env, LIVEKIT_API_KEY: '', LIVEKIT_KEYS: '' }, timeout: 20_000 });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /strand: /);
});
