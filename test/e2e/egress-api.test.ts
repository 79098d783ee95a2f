// The Egress API's refusals, its state across a crash and auto egress, through
// livekit-server-sdk: a token without roomRecord gets 403, an unknown room 404, a web egress a
// clear "unimplemented"; a track egress running when Strand is killed (kill -9) is listed
// FAILED after the restart, with an egress_ended, and its file, cut short, is still read by
// ffprobe; CreateRoom.egress records a room composite that follows who joins and leaves.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { dispose } from '@livekit/rtc-node';
import {
  AccessToken, DirectFileOutput, EgressClient, EgressStatus, EncodedFileOutput, RoomCompositeEgressRequest, RoomEgress, RoomServiceClient, TwirpError,
} from 'livekit-server-sdk';
import { maxVolumeDb, packetCount, probe } from '../helpers/media-probe.js';
import { NodeParticipant } from '../helpers/rtc-node.js';
import { startStrand, workerStats, type StrandProcess } from '../helpers/strand-process.js';
import { DEV_KEY, DEV_SECRET, joinToken } from '../helpers/tokens.js';
import { waitFor } from '../helpers/wait.js';
import { WebhookSink } from '../helpers/webhook-sink.js';

after(async () => {
  await dispose();
});

function start(sink: WebhookSink, outDir: string, storePath?: string, env?: NodeJS.ProcessEnv): Promise<StrandProcess> {
  return startStrand({
    workers: 1, storePath, env,
    args: ['--config-body', `egress: { file_output_dir: "${outDir}" }\nwebhook: { api_key: ${DEV_KEY}, urls: ["${sink.url}"] }`],
  });
}

async function twirpStatus(p: Promise<unknown>): Promise<number> {
  try {
    await p;
  } catch (err) {
    if (err instanceof TwirpError) return err.status;
    throw err;
  }
  return 200;
}

test('refusals: no roomRecord grant → 403, unknown room → 404, web egress → unimplemented, unknown egress → 404', { timeout: 30_000 }, async () => {
  const sink = await WebhookSink.create();
  const outDir = mkdtempSync(join(tmpdir(), 'strand-egress-api-'));
  const strand = await start(sink, outDir);
  try {
    const at = new AccessToken(DEV_KEY, DEV_SECRET, { identity: 'admin' });
    at.addGrant({ roomAdmin: true, roomList: true, roomCreate: true });
    const token = await at.toJwt();
    const res = await fetch(`${strand.httpUrl}/twirp/livekit.Egress/ListEgress`, {
      method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: '{}',
    });
    assert.equal(res.status, 403);
    assert.match(((await res.json()) as { msg: string }).msg, /roomRecord/);
    const client = new EgressClient(strand.httpUrl, DEV_KEY, DEV_SECRET);
    assert.equal(await twirpStatus(client.startRoomCompositeEgress('no-such-room', { file: new EncodedFileOutput({ filepath: 'x.mp4' }) })), 404);
    assert.equal(await twirpStatus(client.startTrackEgress('no-such-room', new DirectFileOutput({ filepath: 'x' }), 'TR_x')), 404);
    assert.equal(await twirpStatus(client.startWebEgress('https://example.com', { file: new EncodedFileOutput({ filepath: 'x.mp4' }) })), 501);
    assert.equal(await twirpStatus(client.stopEgress('EG_unknown')), 404);
    assert.deepEqual(await client.listEgress({ active: true }), []);
  } finally {
    assert.equal(await strand.stop(), 0, strand.stderr());
  }
});

test('without ffmpeg, egress requests are refused with a clear "unavailable"', { timeout: 30_000 }, async () => {
  const sink = await WebhookSink.create();
  const strand = await start(sink, mkdtempSync(join(tmpdir(), 'strand-egress-noffmpeg-')), undefined, { STRAND_FFMPEG: '/nonexistent/ffmpeg' });
  try {
    const room = `no-ffmpeg-${Date.now()}`;
    await new RoomServiceClient(strand.httpUrl, DEV_KEY, DEV_SECRET).createRoom({ name: room });
    const client = new EgressClient(strand.httpUrl, DEV_KEY, DEV_SECRET);
    await assert.rejects(client.startRoomCompositeEgress(room, { file: new EncodedFileOutput({ filepath: 'x.mp4' }) }),
      (err: unknown) => err instanceof TwirpError && err.status === 503 && /needs ffmpeg/.test(err.message));
  } finally {
    assert.equal(await strand.stop(), 0, strand.stderr());
  }
});

test('kill -9 during a track egress: after the restart it is FAILED, egress_ended is sent, and the Ogg file is readable', { timeout: 90_000 }, async () => {
  const sink = await WebhookSink.create();
  await sink.start();
  const outDir = mkdtempSync(join(tmpdir(), 'strand-egress-crash-'));
  const first = await start(sink, outDir);
  const room = `crash-${Date.now()}`;
  const alice = new NodeParticipant();
  let second: StrandProcess | undefined;
  try {
    await alice.connect(first.url, await joinToken(room, 'alice'));
    const trackSid = await alice.publishTone();
    const rooms = new RoomServiceClient(first.httpUrl, DEV_KEY, DEV_SECRET);
    await waitFor(async () => (await rooms.getParticipant(room, 'alice').catch(() => null))?.tracks.some((t) => t.sid === trackSid), 10_000, 'the tone published');
    // Record only once the tone reaches Strand (2 s of it): this test is about the kill, not
    // about how soon a publisher's media starts.
    const packetsIn = async () => (await workerStats(first.httpUrl)).reduce((n, w) => n + w.packetsIn, 0);
    const flowing = await packetsIn();
    await waitFor(async () => (await packetsIn()) - flowing >= 100, 15_000, 'the tone flowing');
    const client = new EgressClient(first.httpUrl, DEV_KEY, DEV_SECRET);
    const info = await client.startTrackEgress(room, new DirectFileOutput({ filepath: 'crash/{track_id}' }), trackSid);
    await waitFor(async () => (await client.listEgress({ egressId: info.egressId }))[0]?.status === EgressStatus.EGRESS_ACTIVE, 15_000, 'ACTIVE');
    // Kill once 3 s (150 Opus packets of 20 ms) can be read from the file, counted from its start.
    const file = info.fileResults[0]!.location;
    const activeAt = Date.now();
    const before = await waitFor(async () => {
      const n = await packetCount(file).catch(() => 0);
      return n >= 150 ? n : null;
    }, 20_000, '3 s recorded').catch(async (err: unknown) => {
      // Seen in CI only: say what the file and the forwarding path looked like.
      const stats = await workerStats(first.httpUrl).catch(() => null);
      const counted = await packetCount(file).then(String, (e: Error) => `ffprobe failed: ${e.message}`);
      const probed = await probe(file).then((p) => `${p.duration} s`, (e: Error) => `ffprobe failed: ${e.message}`);
      const size = existsSync(file) ? statSync(file).size : -1;
      throw new Error(`${(err as Error).message}: ${size} bytes, ${counted} packets readable, duration ${probed}, ${alice.captureErrors} tone frames refused; `
        + `egress ${JSON.stringify(await client.listEgress({ egressId: info.egressId }).catch(() => null))}; worker stats ${JSON.stringify(stats)}`);
    });
    console.log(`${before} packets of the recording were readable ${Date.now() - activeAt} ms after ACTIVE`);
    first.child.kill('SIGKILL');
    await new Promise((resolve) => first.child.once('exit', resolve));
    assert.ok(existsSync(file), `${file} exists`);

    second = await start(sink, outDir, first.storePath);
    const after = new EgressClient(second.httpUrl, DEV_KEY, DEV_SECRET);
    const [listed] = await after.listEgress({ egressId: info.egressId });
    assert.equal(listed?.status, EgressStatus.EGRESS_FAILED);
    assert.deepEqual(await after.listEgress({ active: true }), []);
    const ended = await waitFor(() => sink.events.find((e) => e.event === 'egress_ended' && e.egressInfo?.egressId === info.egressId), 15_000, 'egress_ended');
    assert.equal(ended.egressInfo!.status, EgressStatus.EGRESS_FAILED);
    assert.match(ended.egressInfo!.error, /stopped/);
    const events = sink.events.filter((e) => e.egressInfo?.egressId === info.egressId).map((e) => e.event);
    assert.deepEqual(events.filter((e, i) => events.indexOf(e) === i), ['egress_started', 'egress_updated', 'egress_ended']);
    const probed = await probe(file);
    assert.deepEqual(probed.streams.map((s) => s.codec_name), ['opus']);
    const kept = await packetCount(file);
    console.log(`partial recording after kill -9 and the repair: ${probed.duration} s, ${kept} packets (${before} readable before the kill)`);
    // The repair keeps everything that was readable (a page in flight at the kill may be cut).
    assert.ok(kept >= before - 10, `${kept} packets kept of ${before}`);
    assert.ok(probed.duration >= 2.8 && probed.duration <= 6, `partial duration ${probed.duration} s`);
    assert.ok(Number(ended.egressInfo!.fileResults[0]!.size) > 0, 'the size is reported');
    const metrics = await (await fetch(`${second.httpUrl}/metrics`)).text();
    assert.match(metrics, /livekit_egress_ended_total\{status="EGRESS_FAILED"[^}]*\} 1/);
  } finally {
    await alice.close();
    await sink.stop();
    if (first.child.exitCode === null && first.child.signalCode === null) await first.stop('SIGKILL');
    if (second) assert.equal(await second.stop(), 0, second.stderr());
  }
});

test('CreateRoom.egress starts a room composite on the empty room; it records who joins later', { timeout: 90_000 }, async () => {
  const sink = await WebhookSink.create();
  await sink.start();
  const outDir = mkdtempSync(join(tmpdir(), 'strand-egress-auto-'));
  const strand = await start(sink, outDir);
  const room = `auto-${Date.now()}`;
  const alice = new NodeParticipant();
  try {
    const rooms = new RoomServiceClient(strand.httpUrl, DEV_KEY, DEV_SECRET);
    await rooms.createRoom({ name: room, egress: new RoomEgress({ room: new RoomCompositeEgressRequest({ audioOnly: true, fileOutputs: [new EncodedFileOutput({ filepath: 'auto/{room_name}' })] }) }) });
    const client = new EgressClient(strand.httpUrl, DEV_KEY, DEV_SECRET);
    const [info] = await waitFor(async () => {
      const list = await client.listEgress({ roomName: room, active: true });
      return list.length ? list : null;
    }, 10_000, 'the auto egress');
    await waitFor(async () => (await client.listEgress({ egressId: info!.egressId }))[0]?.status === EgressStatus.EGRESS_ACTIVE, 15_000, 'ACTIVE');
    await waitFor(async () => (await rooms.listRooms([room]))[0]?.activeRecording, 5000, 'Room.active_recording');
    await new Promise((r) => setTimeout(r, 2000));
    await alice.connect(strand.url, await joinToken(room, 'alice'));
    await alice.publishTone();
    await new Promise((r) => setTimeout(r, 5000));
    await alice.close();
    await new Promise((r) => setTimeout(r, 2000));
    await client.stopEgress(info!.egressId);
    const done = await waitFor(async () => {
      const [e] = await client.listEgress({ egressId: info!.egressId });
      return e && e.status >= EgressStatus.EGRESS_COMPLETE ? e : null;
    }, 30_000, 'the egress to end');
    assert.equal(done.status, EgressStatus.EGRESS_COMPLETE, done.error);
    const file = done.fileResults[0]!.location;
    assert.match(file, /\/auto\/auto-\d+\.ogg$/);
    const probed = await probe(file);
    assert.deepEqual(probed.streams.map((s) => s.codec_name), ['opus']);
    console.log(`auto room composite: ${probed.duration} s (silence, alice's tone for 5 s, silence)`);
    assert.ok(probed.duration >= 7, `duration ${probed.duration} s`);
    assert.ok(await maxVolumeDb(file) > -30, 'alice\'s tone is in the recording');
  } finally {
    await alice.close();
    await sink.stop();
    assert.equal(await strand.stop(), 0, strand.stderr());
  }
});
