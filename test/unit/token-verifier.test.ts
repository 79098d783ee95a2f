import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { test } from 'node:test';
import { AccessToken } from 'livekit-server-sdk';
import { AuthError, TokenVerifier } from '../../src/main/auth/token-verifier.js';
import { permissionsFromGrant } from '../../src/main/auth/grants.js';

const verifier = new TokenVerifier({ devkey: 'secret', other: 'another-secret' });

function sign(payload: object, secret = 'secret', header: object = { alg: 'HS256', typ: 'JWT' }): string {
  const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const body = `${enc(header)}.${enc(payload)}`;
  return `${body}.${createHmac('sha256', secret).update(body).digest('base64url')}`;
}

test('accepts livekit-server-sdk tokens and reads the grants and claims', async () => {
  const at = new AccessToken('devkey', 'secret', { identity: 'alice', name: 'Alice', metadata: 'm', attributes: { a: 'b' } });
  at.addGrant({ roomJoin: true, room: 'r', canPublish: false });
  const c = verifier.verify(await at.toJwt());
  assert.equal(c.apiKey, 'devkey');
  assert.equal(c.identity, 'alice');
  assert.equal(c.name, 'Alice');
  assert.deepEqual(c.attributes, { a: 'b' });
  assert.equal(c.video.room, 'r');
  const perms = permissionsFromGrant(c.video);
  assert.equal(perms.canPublish, false);
  assert.equal(perms.canSubscribe, true, 'absent means true');
  assert.equal(perms.canPublishData, true, 'absent means true');
});

test('exp is required, with one minute of leeway', () => {
  const now = 1_800_000_000;
  assert.throws(() => verifier.verify(sign({ iss: 'devkey', sub: 'a' }), now), /exp is required/);
  assert.equal(verifier.verify(sign({ iss: 'devkey', sub: 'a', exp: now - 30 }), now).identity, 'a');
  assert.throws(() => verifier.verify(sign({ iss: 'devkey', sub: 'a', exp: now - 61 }), now), /expired/);
  assert.throws(() => verifier.verify(sign({ iss: 'devkey', sub: 'a', exp: now + 600, nbf: now + 120 }), now), /not valid yet/);
});

test('rejects wrong signatures, unknown keys, other algorithms and garbage', () => {
  const exp = Math.floor(Date.now() / 1000) + 600;
  assert.throws(() => verifier.verify(sign({ iss: 'devkey', sub: 'a', exp }, 'wrong')), /signature/);
  assert.throws(() => verifier.verify(sign({ iss: 'nokey', sub: 'a', exp })), /invalid API key/);
  assert.throws(() => verifier.verify(sign({ iss: 'devkey', sub: 'a', exp }, 'secret', { alg: 'none' })), /HS256/);
  assert.throws(() => verifier.verify(sign({ iss: 'devkey', sub: 'a', exp }, 'secret', { alg: 'HS512' })), /HS256/);
  const good = sign({ iss: 'devkey', sub: 'a', exp });
  const [h, , s] = good.split('.');
  const forged = `${h}.${Buffer.from(JSON.stringify({ iss: 'devkey', sub: 'admin', exp })).toString('base64url')}.${s}`;
  assert.throws(() => verifier.verify(forged), /signature/);
  for (const junk of ['', 'a.b', 'a.b.c', 'x.y.z.w', '..', `${h}.%%%.${s}`]) assert.throws(() => verifier.verify(junk), AuthError, junk);
  assert.equal(verifier.verify(sign({ iss: 'other', jti: 'from-jti', exp }, 'another-secret')).identity, 'from-jti');
});

test('mistyped claims are refused with 401 naming the claim, as LiveKit\'s typed decoding does', () => {
  const exp = Math.floor(Date.now() / 1000) + 600;
  const refused = (claims: object, claim: string) => {
    assert.throws(() => verifier.verify(sign({ iss: 'devkey', sub: 'a', exp, ...claims })), (err: unknown) => {
      assert.ok(err instanceof AuthError, String(err));
      assert.equal(err.status, 401);
      assert.ok(err.message.includes(`"${claim}"`), `${err.message} names ${claim}`);
      return true;
    });
  };
  refused({ video: { roomAdmin: 'false', room: 'r' } }, 'video.roomAdmin');
  refused({ video: { roomJoin: 'true', room: 'r' } }, 'video.roomJoin');
  refused({ video: { roomJoin: true, canPublish: 1 } }, 'video.canPublish');
  refused({ video: { roomJoin: true, room: ['a', 'b'] } }, 'video.room');
  refused({ video: { roomJoin: true, canPublishSources: 'camera' } }, 'video.canPublishSources');
  refused({ video: { roomJoin: true, canPublishSources: ['camera', 3] } }, 'video.canPublishSources');
  refused({ video: 'admin' }, 'video');
  refused({ sub: 42 }, 'sub');
  refused({ name: { first: 'a' } }, 'name');
  refused({ metadata: 7 }, 'metadata');
  refused({ attributes: { a: 1 } }, 'attributes');
  refused({ attributes: ['a'] }, 'attributes');
  refused({ kind: true }, 'kind');
  refused({ nbf: '0' }, 'nbf');
  refused({ exp: String(exp) }, 'exp');
  refused({ aud: 5 }, 'aud');
  // null is an absent claim (Go leaves the field unset); unknown claims are ignored; aud may be an array.
  const c = verifier.verify(sign({ iss: 'devkey', sub: 'a', exp, name: null, video: { roomJoin: true, room: 'r', canPublish: null }, aud: ['x'], extra: [1] }));
  assert.equal(c.video.room, 'r');
  assert.equal(permissionsFromGrant(c.video).canPublish, true);
});
