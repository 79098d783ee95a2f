// HTTP as clients expect it: HEAD answers without a body, oversized requests answered in the
// route's own terms, long /rtc/v1 URLs accepted, mistyped token claims refused by name, and a
// port another Strand holds is a start-up error rather than a shared port.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request, Agent } from 'node:http';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createHmac } from 'node:crypto';
import { AccessToken } from 'livekit-server-sdk';
import { livekit } from '../../src/proto/index.js';
import { RawSignalClient } from '../helpers/signal-client.js';
import { startStrand, type StrandProcess } from '../helpers/strand-process.js';
import { DEV_KEY, DEV_SECRET, joinToken } from '../helpers/tokens.js';

const BIN = fileURLToPath(new URL('../../../bin/strand.js', import.meta.url));
const OFFER = readFileSync(fileURLToPath(new URL('../../../test/fixtures/chrome-publisher-offer.sdp', import.meta.url)), 'utf8');

let strand: StrandProcess;

before(async () => {
  strand = await startStrand({ workers: 1 });
});

after(async () => {
  assert.equal(await strand.stop(), 0, strand.stderr());
});

interface Answer { status: number; headers: Record<string, string | string[] | undefined>; body: string }

/** One request over `agent` (keep-alive: a body after a HEAD answer would break the next response). */
function send(agent: Agent, method: string, path: string, headers: Record<string, string> = {}, body = ''): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: strand.port, method, path, headers, agent }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function adminToken(): Promise<string> {
  const at = new AccessToken(DEV_KEY, DEV_SECRET, { identity: 'admin' });
  at.addGrant({ roomList: true, roomCreate: true, roomAdmin: true });
  return at.toJwt();
}

/** A token signed with the dev secret whose payload is exactly `payload` (no SDK type checks). */
function rawToken(payload: Record<string, unknown>): string {
  const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const body = `${enc({ alg: 'HS256', typ: 'JWT' })}.${enc({ iss: DEV_KEY, exp: Math.floor(Date.now() / 1000) + 600, ...payload })}`;
  return `${body}.${createHmac('sha256', DEV_SECRET).update(body).digest('base64url')}`;
}

test('HEAD answers headers only, on every route, and the connection stays usable', async () => {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const token = await joinToken('head-room', 'h');
    const heads: Array<[string, number]> = [
      ['/', 200], [`/rtc/validate?access_token=${token}`, 200], ['/rtc/validate', 401], ['/metrics', 200],
      ['/twirp/livekit.RoomService/ListRooms', 404], ['/no/such/path', 404],
    ];
    for (const [path, status] of heads) {
      const head = await send(agent, 'HEAD', path);
      assert.equal(head.status, status, `HEAD ${path}`);
      assert.equal(head.body, '', `HEAD ${path} has no body`);
      // The same socket answers a GET right after: no stray body bytes were left on it.
      const get = await send(agent, 'GET', '/');
      assert.equal(get.status, 200, `GET after HEAD ${path}`);
      assert.equal(get.body, 'OK');
    }
    // The HEAD answer announces the length GET would have.
    const metricsHead = await send(agent, 'HEAD', '/');
    assert.equal(metricsHead.headers['content-length'], '2');
  } finally {
    agent.destroy();
  }
});

test('oversized request lines and headers: Twirp JSON on /twirp, a plain 431 elsewhere', async () => {
  const agent = new Agent({ keepAlive: false });
  const auth = { authorization: `Bearer ${await adminToken()}`, 'content-type': 'application/json' };
  try {
    // 8 kB of method name: within the limit, an unknown method, answered in Twirp's JSON.
    const long = await send(agent, 'POST', `/twirp/livekit.RoomService/${'M'.repeat(8000)}`, auth, '{}');
    assert.equal(long.status, 404);
    assert.equal((JSON.parse(long.body) as { code: string }).code, 'bad_route');
    // Beyond limit.max_request_headers_size (32 KiB): still Twirp's JSON, saying which limit.
    const huge = await send(agent, 'POST', `/twirp/livekit.RoomService/${'M'.repeat(40_000)}`, auth, '{}');
    assert.equal(huge.status, 400);
    const err = JSON.parse(huge.body) as { code: string; msg: string };
    assert.equal(err.code, 'malformed');
    assert.match(err.msg, /limit\.max_request_headers_size/);
    // A 40 kB header on a plain route: 431 in plain text.
    const plain = await send(agent, 'GET', '/', { 'x-padding': 'p'.repeat(40_000) });
    assert.equal(plain.status, 431);
    assert.match(plain.body, /max_request_headers_size/);
    // A long token (10k-character identity) is read, not cut: a clear 401 for its mistyped grant.
    const longSub = rawToken({ sub: 's'.repeat(10_000), video: { roomJoin: 'yes', room: 'r' } });
    const validate = await send(agent, 'GET', `/rtc/validate?access_token=${longSub}`);
    assert.equal(validate.status, 401);
    assert.match(validate.body, /"video\.roomJoin" must be a boolean/);
  } finally {
    agent.destroy();
  }
});

test('a /rtc/v1 URL of more than 8 kB connects', async () => {
  const join = livekit.JoinRequest.encode({ clientInfo: { protocol: 17 }, connectionSettings: { autoSubscribe: true }, publisherOffer: { type: 'offer', sdp: OFFER, id: 3 } }).finish();
  const wrapped = Buffer.from(livekit.WrappedJoinRequest.encode({ joinRequest: join }).finish()).toString('base64url');
  const at = new AccessToken(DEV_KEY, DEV_SECRET, { identity: 'long-url', metadata: 'm'.repeat(1500) });
  at.addGrant({ roomJoin: true, room: 'long-url-room' });
  const token = await at.toJwt();
  const query = `join_request=${wrapped}`;
  assert.ok(`/rtc/v1?access_token=${token}&${query}`.length > 8 * 1024, 'the URL is over 8 kB');
  const c = await RawSignalClient.connect(strand.url, token, query, '/rtc/v1');
  const first = await c.next('join');
  assert.equal(first.join!.participant!.identity, 'long-url');
  assert.equal((await c.next('answer')).answer!.id, 3);
  c.close();
});

test('mistyped grants are refused with 401 and the claim named, at the signal, validate and Twirp doors', async () => {
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ sub: 'a', video: { roomJoin: true, room: 'r', roomAdmin: 'false' } }, /"video\.roomAdmin" must be a boolean/],
    [{ sub: 'a', video: { roomJoin: true, room: ['r', 's'] } }, /"video\.room" must be a string, not an array/],
    [{ sub: 1234, video: { roomJoin: true, room: 'r' } }, /"sub" must be a string, not a number/],
    [{ sub: 'a', metadata: { x: 1 }, video: { roomJoin: true, room: 'r' } }, /"metadata" must be a string/],
  ];
  for (const [payload, message] of cases) {
    const token = rawToken(payload);
    const validate = await fetch(`${strand.httpUrl}/rtc/validate?access_token=${token}`);
    assert.equal(validate.status, 401, JSON.stringify(payload));
    assert.match(await validate.text(), message);
    await assert.rejects(RawSignalClient.connect(strand.url, token), (err: { status?: number }) => err.status === 401);
  }
  // An admin grant written as the string "true" is no admin grant.
  const twirp = await fetch(`${strand.httpUrl}/twirp/livekit.RoomService/ListRooms`, {
    method: 'POST', headers: { authorization: `Bearer ${rawToken({ sub: 'x', video: { roomList: 'true' } })}`, 'content-type': 'application/json' }, body: '{}',
  });
  assert.equal(twirp.status, 401);
  const err = (await twirp.json()) as { code: string; msg: string };
  assert.equal(err.code, 'unauthenticated');
  assert.match(err.msg, /"video\.roomList" must be a boolean/);
});

test('a second Strand on a port the first holds (HTTP, then ICE UDP) exits with status 1 naming the port; the first serves on', async () => {
  const run = (args: string[], workers = 1) => spawnSync(process.execPath, [BIN, '--dev', '--workers', String(workers), ...args], { encoding: 'utf8', timeout: 30_000 });
  const http = run(['--port', String(strand.port), '--udp-port', String(strand.udpPort + 5)]);
  assert.equal(http.status, 1, `the second exits with status 1 (${http.status ?? http.signal})`);
  assert.match(http.stderr, new RegExp(`cannot listen for HTTP on 127\\.0\\.0\\.1:${strand.port}`), http.stderr);
  // The first has nobody connected, so only its held ICE port stops the second.
  const udp = run(['--port', '0', '--udp-port', String(strand.udpPort)]);
  assert.equal(udp.status, 1, `the second exits with status 1 (${udp.status ?? udp.signal})`);
  assert.match(udp.stderr, new RegExp(`ICE UDP port [0-9.]+:${strand.udpPort} \\(media worker 0\\) is not available`), udp.stderr);
  // Two workers, the second one's port taken: the first worker, already holding its own port,
  // is released before the exit (which otherwise aborted, status 134).
  const second = run(['--port', '0', '--udp-port', String(strand.udpPort - 1)], 2);
  assert.equal(second.status, 1, `the second exits with status 1 (${second.status ?? second.signal}): ${second.stderr}`);
  assert.match(second.stderr, new RegExp(`ICE UDP port [0-9.]+:${strand.udpPort} \\(media worker 1\\) is not available`), second.stderr);
  // The first still takes joins, and its media port is its own: a publisher gets its answer.
  assert.equal((await fetch(`${strand.httpUrl}/`)).status, 200);
  const c = await RawSignalClient.connect(strand.url, await joinToken('after-second', 'p', { canPublish: true }));
  await c.next('join');
  c.send({ offer: { type: 'offer', sdp: OFFER, id: 1 } });
  assert.match((await c.next('answer')).answer!.sdp!, new RegExp(`a=candidate:.* ${strand.udpPort} typ host`));
  c.close();
});
