// `strand room|participant|egress …` against a running Strand, checked through RoomService
// (livekit-server-sdk), as `lk` would be used: each command changes what the server reports.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { dispose } from '@livekit/rtc-node';
import { EgressClient, RoomServiceClient } from 'livekit-server-sdk';
import { NodeParticipant } from '../helpers/rtc-node.js';
import { RawSignalClient } from '../helpers/signal-client.js';
import { startStrand, type StrandProcess } from '../helpers/strand-process.js';
import { DEV_KEY, DEV_SECRET, joinToken } from '../helpers/tokens.js';
import { waitFor } from '../helpers/wait.js';

const BIN = fileURLToPath(new URL('../../../bin/strand.js', import.meta.url));
const exec = promisify(execFile);
let strand: StrandProcess;
let api: RoomServiceClient;

before(async () => {
  const out = mkdtempSync(join(tmpdir(), 'strand-cli-rec-'));
  strand = await startStrand({ workers: 1, args: ['--config-body', `egress: { file_output_dir: "${out}" }`] });
  api = new RoomServiceClient(strand.httpUrl, DEV_KEY, DEV_SECRET);
});

after(async () => {
  assert.equal(await strand.stop(), 0, strand.stderr());
  // @livekit/rtc-node's native side keeps the process alive until it is disposed.
  await dispose();
});

/** Runs `strand <args>` against the test's server with the environment lk users set. */
async function cli(...args: string[]): Promise<string> {
  const { stdout } = await exec(process.execPath, [BIN, ...args], {
    env: { ...process.env, LIVEKIT_URL: strand.url, LIVEKIT_API_KEY: DEV_KEY, LIVEKIT_API_SECRET: DEV_SECRET },
  });
  return stdout;
}

test('room create, list, update-metadata and delete', async () => {
  const room = `cli-${Date.now()}`;
  assert.match(await cli('room', 'create', room, '--empty-timeout', '60', '--metadata', 'first'), new RegExp(room));
  const [created] = await api.listRooms([room]);
  assert.equal(created?.metadata, 'first');
  assert.equal(created?.emptyTimeout, 60);
  assert.match(await cli('room', 'list'), new RegExp(`^${room}\\s+RM_`, 'm'));
  const listed = JSON.parse(await cli('room', 'list', '--names', room, '--json')) as { rooms: Array<{ name: string }> };
  assert.deepEqual(listed.rooms.map((r) => r.name), [room]);
  await cli('room', 'update-metadata', room, 'second');
  assert.equal((await api.listRooms([room]))[0]?.metadata, 'second');
  assert.match(await cli('room', 'delete', room), /deleted/);
  assert.deepEqual(await api.listRooms([room]), []);
});

test('participant list, get, update, mute and remove', { timeout: 30_000 }, async () => {
  const room = `cli-p-${Date.now()}`;
  const bob = await RawSignalClient.connect(strand.url, await joinToken(room, 'bob'));
  await bob.next('join');
  const alice = new NodeParticipant();
  await alice.connect(strand.url, await joinToken(room, 'alice'));
  const trackSid = await alice.publishTone();
  try {
    await waitFor(async () => ((await api.listParticipants(room)).find((p) => p.identity === 'alice')?.tracks.length ? true : null), 10_000, 'alice to publish');
    const list = await cli('participant', 'list', room);
    assert.match(list, /^alice\s+PA_/m);
    assert.match(list, /^bob\s+PA_/m);
    assert.match(await cli('participant', 'get', room, 'alice'), new RegExp(`${trackSid}:audio`));
    await cli('participant', 'update', room, 'bob', '--metadata', 'from the cli', '--attribute', 'role=viewer');
    const updated = await api.getParticipant(room, 'bob');
    assert.equal(updated.metadata, 'from the cli');
    assert.deepEqual(updated.attributes, { role: 'viewer' });
    assert.match(await cli('participant', 'mute', room, 'alice', trackSid), /muted/);
    assert.equal((await api.getParticipant(room, 'alice')).tracks[0]?.muted, true);
    assert.match(await cli('participant', 'remove', room, 'bob'), /removed bob/);
    await waitFor(async () => (!(await api.listParticipants(room)).some((p) => p.identity === 'bob') ? true : null), 5000, 'bob to be removed');
    await assert.rejects(cli('participant', 'get', room, 'bob'), /not_found/, 'an unknown participant is the server\'s error, exit 1');
  } finally {
    bob.ws.close();
    await alice.close();
  }
});

test('egress start, list and stop', { timeout: 60_000 }, async () => {
  const room = `cli-e-${Date.now()}`;
  const alice = new NodeParticipant();
  await alice.connect(strand.url, await joinToken(room, 'alice'));
  await alice.publishTone();
  try {
    const started = await cli('egress', 'start', room, '--file', `${room}/composite.ogg`, '--audio-only', '--json');
    const egressId = (JSON.parse(started) as { egressId: string }).egressId;
    assert.match(egressId, /^EG_/);
    const egress = new EgressClient(strand.httpUrl, DEV_KEY, DEV_SECRET);
    assert.ok((await egress.listEgress({ roomName: room })).some((e) => e.egressId === egressId), 'the server lists it');
    assert.match(await cli('egress', 'list', '--room', room), new RegExp(egressId));
    await new Promise((r) => setTimeout(r, 1500));
    assert.match(await cli('egress', 'stop', egressId), /EGRESS_(ENDING|COMPLETE)/);
  } finally {
    await alice.close();
  }
});

test('strand load-test: bots publish and subscribe, and the table says 0 % loss', { timeout: 60_000 }, async () => {
  const out = await cli('load-test', '--publishers', '1', '--subscribers', '2', '--video-resolution', 'low', '--duration', '3s');
  console.log(out.trim());
  assert.match(out, /^tracks\s+4\/4$/m, 'each subscriber gets the publisher\'s audio and video');
  assert.match(out, /^packet loss\s+0\.00 %$/m);
  assert.match(out, /^join p50 \/ p99\s+\d+ \/ \d+ ms$/m);
  const bitrate = Number(/^bitrate\s+([\d.]+) Mbit\/s$/m.exec(out)?.[1]);
  assert.ok(bitrate > 0.2, `two subscribers of 150 kbit/s video and audio: ${bitrate} Mbit/s`);
});

test('usage and refusals: no server given, an unknown command', async () => {
  await assert.rejects(exec(process.execPath, [BIN, 'room', 'list'], { env: { ...process.env, LIVEKIT_URL: '' } }), /no server/);
  await assert.rejects(cli('room', 'explode'), /unknown command "strand room explode"/);
  assert.match(await cli('room', '--help'), /strand participant mute/);
});
