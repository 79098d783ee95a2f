// Graceful drain. With `shutdown.drain: true`, SIGTERM tells every participant to reconnect
// (leave with RECONNECT) and the process exits 0 once its rooms are empty. With
// `shutdown.drain: false`, the node waits for its rooms to empty: GET / answers 503 meanwhile
// and new rooms are refused. `strand drain` asks a running server for the same.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { livekit } from '../../src/proto/index.js';
import { RawSignalClient } from '../helpers/signal-client.js';
import { startStrand } from '../helpers/strand-process.js';
import { DEV_KEY, DEV_SECRET, joinToken } from '../helpers/tokens.js';
import { waitFor } from '../helpers/wait.js';

const BIN = fileURLToPath(new URL('../../../bin/strand.js', import.meta.url));
const RECONNECT = livekit.LeaveRequest.Action.RECONNECT;

test('shutdown.drain: SIGTERM sends every participant a leave with RECONNECT, then the process exits 0', { timeout: 30_000 }, async () => {
  const strand = await startStrand({ workers: 1, args: ['--config-body', 'shutdown: { drain: true, timeout: 10 }'] });
  const clients = [
    await RawSignalClient.connect(strand.url, await joinToken('drain-a', 'alice')),
    await RawSignalClient.connect(strand.url, await joinToken('drain-b', 'bob')),
  ];
  for (const c of clients) await c.next('join');
  const exited = once(strand.child, 'exit');
  strand.child.kill('SIGTERM');
  for (const c of clients) {
    const leave = await c.next('leave', 5000);
    assert.equal(leave.leave?.action, RECONNECT, 'told to reconnect (elsewhere)');
    assert.equal(leave.leave?.canReconnect, true);
  }
  const [code] = await exited as [number | null];
  assert.equal(code, 0, strand.stderr());
  assert.match(strand.stdout(), /"msg":"drained"/);
});

test('shutdown.drain false: the node waits for its rooms, answers 503 on GET / and takes no new room', { timeout: 30_000 }, async () => {
  const strand = await startStrand({ workers: 1, args: ['--config-body', 'shutdown: { drain: false, timeout: 20 }'] });
  const alice = await RawSignalClient.connect(strand.url, await joinToken('staying', 'alice'));
  await alice.next('join');
  const exited = once(strand.child, 'exit');
  strand.child.kill('SIGTERM');
  await waitFor(async () => ((await fetch(`${strand.httpUrl}/`)).status === 503 ? true : null), 5000, 'GET / to answer 503 while draining', 100);
  await assert.rejects(RawSignalClient.connect(strand.url, await joinToken('a-new-room', 'carol')), (err: { status?: number }) => err.status === 503,
    'a new room is refused with 503');
  assert.equal(strand.child.exitCode, null, 'still running while alice is in her room');
  alice.send({ leave: { reason: livekit.DisconnectReason.CLIENT_INITIATED } });
  const [code] = await exited as [number | null];
  assert.equal(code, 0, strand.stderr());
});

test('strand drain asks a running server to drain and stop; a token without roomCreate is refused', { timeout: 30_000 }, async () => {
  const strand = await startStrand({ workers: 1, args: ['--config-body', 'shutdown: { drain: true, timeout: 10 }'] });
  const env = { ...process.env, LIVEKIT_URL: strand.url, LIVEKIT_API_KEY: DEV_KEY, LIVEKIT_API_SECRET: DEV_SECRET };
  const refused = await fetch(`${strand.httpUrl}/drain`, { method: 'POST', headers: { authorization: `Bearer ${await joinToken('x', 'y')}` } });
  assert.equal(refused.status, 403);
  const alice = await RawSignalClient.connect(strand.url, await joinToken('drain-cli', 'alice'));
  await alice.next('join');
  const exited = once(strand.child, 'exit');
  const { stdout } = await promisify(execFile)(process.execPath, [BIN, 'drain'], { env });
  assert.match(stdout, /draining/);
  assert.equal((await alice.next('leave', 5000)).leave?.action, RECONNECT);
  const [code] = await exited as [number | null];
  assert.equal(code, 0, strand.stderr());
});
