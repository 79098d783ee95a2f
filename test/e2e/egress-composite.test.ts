// Composite egress of two Chromium publishers, through livekit-server-sdk's EgressClient: a
// room composite MP4 (H.264 1280×720 + AAC, a picture that moves), an RTMP stream that gains a
// second receiver mid-stream (UpdateStream), HLS segments across a layout change (UpdateLayout),
// a participant egress with thumbnails, and a track composite. The webhooks of an egress arrive
// in order, verified by WebhookReceiver.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import {
  EgressClient, EgressStatus, RoomServiceClient, EncodedFileOutput, EncodingOptions, ImageOutput, SegmentedFileOutput, StreamOutput, StreamProtocol,
  TrackType, VideoCodec, type EgressInfo,
} from 'livekit-server-sdk';
import type { Page } from 'playwright-core';
import { connectRoom, useStrandAndBrowser } from '../helpers/e2e.js';
import { lumaPerSecond, probe } from '../helpers/media-probe.js';
import { DEV_KEY, DEV_SECRET, joinToken } from '../helpers/tokens.js';
import { waitFor } from '../helpers/wait.js';
import { WebhookSink } from '../helpers/webhook-sink.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- page-side code runs in the browser */

const outDir = mkdtempSync(join(tmpdir(), 'strand-composite-'));
const sink = await WebhookSink.create();
const ctx = useStrandAndBrowser({
  args: ['--config-body', `egress: { file_output_dir: "${outDir}", x264_preset: ultrafast }\nwebhook: { api_key: ${DEV_KEY}, urls: ["${sink.url}"] }`],
});
const room = `composite-${Date.now()}`;
const pages: Page[] = [];
const client = () => new EgressClient(ctx.strand.httpUrl, DEV_KEY, DEV_SECRET);
/** Small inputs: the encoder, not the publishers, should have the CPU. */
const SMALL = { resolution: { width: 320, height: 240, frameRate: 15 } };

/** The two publishers, joined on first use (after the shared Strand and browser are up). */
let joined: Promise<void> | null = null;
function publishers(): Promise<void> {
  joined ??= joinPublishers();
  return joined;
}

async function joinPublishers(): Promise<void> {
  await sink.start();
  for (const identity of ['alice', 'bob']) {
    const page = await ctx.browser.newPage();
    pages.push(page);
    await connectRoom(page, ctx.strand.url, await joinToken(room, identity));
    await page.evaluate(async (small) => {
      const p = (globalThis as any).room.localParticipant;
      await p.setMicrophoneEnabled(true);
      await p.setCameraEnabled(true, small, { simulcast: false });
    }, SMALL);
  }
  // Both publishers' tracks are up before a composite picks the room's tracks.
  await waitFor(async () => (await new RoomServiceClient(ctx.strand.httpUrl, DEV_KEY, DEV_SECRET).listParticipants(room))
    .every((p) => p.tracks.length === 2), 15_000, 'both publishers\' tracks');
}

after(async () => {
  for (const p of pages) await p.close();
  await sink.stop();
});

async function activeThen(info: EgressInfo): Promise<void> {
  await waitFor(async () => (await client().listEgress({ egressId: info.egressId }))[0]?.status === EgressStatus.EGRESS_ACTIVE, 20_000, 'ACTIVE');
}

async function stopAndWait(egressId: string): Promise<EgressInfo> {
  const stopping = await client().stopEgress(egressId);
  assert.equal(stopping.status, EgressStatus.EGRESS_ENDING);
  return waitFor(async () => {
    const [info] = await client().listEgress({ egressId });
    return info && info.status >= EgressStatus.EGRESS_COMPLETE ? info : null;
  }, 30_000, `egress ${egressId} to end`);
}

function egressEvents(egressId: string): string[] {
  return sink.events.filter((e) => e.egressInfo?.egressId === egressId).map((e) => `${e.event}:${EgressStatus[e.egressInfo!.status]}`);
}

test('a room composite of two publishers is an MP4 with H.264 1280×720, AAC, its duration and a moving picture', { timeout: 120_000 }, async () => {
  await publishers();
  const info = await client().startRoomCompositeEgress(room, { file: new EncodedFileOutput({ filepath: 'rooms/{room_name}-{time}' }) }, { layout: 'grid' });
  assert.equal(info.status, EgressStatus.EGRESS_STARTING);
  assert.match(info.egressId, /^EG_[2-9A-HJ-NP-Za-km-z]{12}$/);
  await activeThen(info);
  const active = await client().listEgress({ roomName: room, active: true });
  assert.ok(active.some((e) => e.egressId === info.egressId), 'listed as active');
  const t0 = Date.now();
  await new Promise((r) => setTimeout(r, 10_000));
  const done = await stopAndWait(info.egressId);
  const recorded = (Date.now() - t0) / 1000;
  assert.equal(done.status, EgressStatus.EGRESS_COMPLETE, done.error);
  assert.ok(!(await client().listEgress({ roomName: room, active: true })).some((e) => e.egressId === info.egressId), 'no longer active');
  const file = done.fileResults[0]!;
  assert.match(file.location, /\/rooms\/composite-\d+-\d{4}-\d\d-\d\dT\d{6}\.mp4$/);
  const probed = await probe(file.location);
  const video = probed.streams.find((s) => s.codec_type === 'video')!;
  assert.equal(video.codec_name, 'h264');
  assert.equal(video.width, 1280);
  assert.equal(video.height, 720);
  assert.equal(probed.streams.find((s) => s.codec_type === 'audio')?.codec_name, 'aac');
  assert.ok(Math.abs(probed.duration - 10) <= 1, `duration ${probed.duration} s for ~${recorded.toFixed(1)} s recorded`);
  const luma = await lumaPerSecond(file.location);
  assert.ok(luma.length >= 8, `luma samples ${luma.length}`);
  assert.ok(Math.max(...luma) - Math.min(...luma) > 0.5 || new Set(luma.map((l) => l.toFixed(1))).size > 2, `luma changes: ${luma.join(' ')}`);
  assert.ok(Math.max(...luma) > 20, `not black: ${luma.join(' ')}`);
  const manifest = JSON.parse(readFileSync(`${file.location}.json`, 'utf8')) as { egressId: string };
  assert.equal(manifest.egressId, info.egressId);
  await waitFor(() => egressEvents(info.egressId).length >= 4, 10_000, 'egress webhooks');
  assert.deepEqual(egressEvents(info.egressId), ['egress_started:EGRESS_STARTING', 'egress_updated:EGRESS_ACTIVE', 'egress_updated:EGRESS_ENDING', 'egress_ended:EGRESS_COMPLETE']);
});

/** An RTMP server for one publisher (ffmpeg -listen), writing what it receives to an FLV file. */
function rtmpReceiver(port: number, file: string): ChildProcess {
  return spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-listen', '1', '-timeout', '30', '-i', `rtmp://127.0.0.1:${port}/live/key`, '-c', 'copy', '-f', 'flv', '-y', file],
    { stdio: ['pipe', 'ignore', 'pipe'] });
}

test('a stream egress feeds an RTMP receiver, and UpdateStream adds a second one mid-stream', { timeout: 120_000 }, async () => {
  await publishers();
  const base = 19_000 + Math.floor(Math.random() * 5000);
  const [a, b] = [join(outDir, 'rtmp-a.flv'), join(outDir, 'rtmp-b.flv')];
  const receivers = [rtmpReceiver(base, a), rtmpReceiver(base + 1, b)];
  try {
    await new Promise((r) => setTimeout(r, 500));
    const urlA = `rtmp://127.0.0.1:${base}/live/key`;
    const urlB = `rtmp://127.0.0.1:${base + 1}/live/key`;
    const info = await client().startRoomCompositeEgress(room, { stream: new StreamOutput({ protocol: StreamProtocol.RTMP, urls: [urlA] }) }, {
      layout: 'speaker', encodingOptions: new EncodingOptions({ width: 640, height: 360, framerate: 15, videoBitrate: 800, videoCodec: VideoCodec.H264_BASELINE }),
    });
    await activeThen(info);
    await new Promise((r) => setTimeout(r, 4000));
    const updated = await client().updateStream(info.egressId, [urlB]);
    assert.deepEqual(updated.streamResults.map((s) => s.url), [urlA, urlB]);
    await new Promise((r) => setTimeout(r, 5000));
    const done = await stopAndWait(info.egressId);
    assert.equal(done.status, EgressStatus.EGRESS_COMPLETE, done.error);
    await Promise.all(receivers.map((r) => new Promise((res) => (r.exitCode !== null ? res(null) : r.once('exit', res)))));
    for (const file of [a, b]) {
      const probed = await probe(file);
      assert.deepEqual(probed.streams.map((s) => s.codec_name).sort(), ['aac', 'h264'], file);
      assert.ok(probed.duration >= 3, `${file}: ${probed.duration} s`);
    }
    assert.ok((await probe(a)).duration > (await probe(b)).duration + 2, 'the second receiver joined later');
    assert.ok(egressEvents(info.egressId).filter((e) => e === 'egress_updated:EGRESS_ACTIVE').length >= 2, 'UpdateStream sent egress_updated');
  } finally {
    for (const r of receivers) r.kill('SIGKILL');
  }
});

test('segmented output writes an HLS playlist of readable segments, across an UpdateLayout', { timeout: 120_000 }, async () => {
  await publishers();
  const info = await client().startRoomCompositeEgress(room, {
    segments: new SegmentedFileOutput({ filenamePrefix: 'hls/{room_name}', playlistName: 'hls/index.m3u8', segmentDuration: 2 }),
  }, { layout: 'grid', encodingOptions: new EncodingOptions({ width: 640, height: 360, framerate: 15, videoBitrate: 800 }) });
  await activeThen(info);
  await new Promise((r) => setTimeout(r, 4000));
  // UpdateLayout while live: the playlist goes on (after a discontinuity) in the new layout.
  const updated = await client().updateLayout(info.egressId, 'speaker');
  assert.equal(updated.request.case === 'roomComposite' && updated.request.value.layout, 'speaker');
  await assert.rejects(client().updateLayout(info.egressId, 'mosaic'), /layout/);
  await new Promise((r) => setTimeout(r, 5000));
  const done = await stopAndWait(info.egressId);
  assert.equal(done.status, EgressStatus.EGRESS_COMPLETE, done.error);
  const seg = done.segmentResults[0]!;
  assert.ok(seg.segmentCount >= 3n, `segments: ${seg.segmentCount}`);
  const playlist = readFileSync(seg.playlistLocation, 'utf8');
  assert.match(playlist, /#EXT-X-ENDLIST/);
  const names = playlist.split('\n').filter((l) => l.endsWith('.ts'));
  assert.ok(names.length >= 3, playlist);
  for (const name of names) {
    const probed = await probe(join(dirname(seg.playlistLocation), name));
    assert.ok(probed.streams.some((s) => s.codec_name === 'h264'), name);
  }
});

test('a participant egress records one publisher\'s camera and microphone, with thumbnails', { timeout: 90_000 }, async () => {
  await publishers();
  const info = await client().startParticipantEgress(room, 'bob', {
    file: new EncodedFileOutput({ filepath: 'people/{publisher_identity}' }),
    images: new ImageOutput({ captureInterval: 1, width: 320, height: 180, filenamePrefix: 'thumbs/bob' }),
  }, { encodingOptions: new EncodingOptions({ width: 640, height: 360, framerate: 15, videoBitrate: 800 }) });
  await activeThen(info);
  await new Promise((r) => setTimeout(r, 5000));
  const done = await stopAndWait(info.egressId);
  assert.equal(done.status, EgressStatus.EGRESS_COMPLETE, done.error);
  const file = done.fileResults[0]!;
  assert.match(file.location, /\/people\/bob\.mp4$/);
  const probed = await probe(file.location);
  assert.deepEqual(probed.streams.map((s) => `${s.codec_type}:${s.codec_name}`).sort(), ['audio:aac', 'video:h264']);
  assert.equal(probed.streams.find((s) => s.codec_type === 'video')!.width, 640);
  const images = done.imageResults[0]!;
  assert.ok(images.imageCount >= 3n, `${images.imageCount} thumbnails`);
  const thumbs = readdirSync(dirname(images.filenamePrefix)).filter((f) => f.endsWith('.jpeg'));
  const thumb = await probe(join(dirname(images.filenamePrefix), thumbs[0]!));
  assert.deepEqual([thumb.streams[0]!.codec_name, thumb.streams[0]!.width, thumb.streams[0]!.height], ['mjpeg', 320, 180]);
});

test('a track composite records one chosen camera with another participant\'s microphone', { timeout: 90_000 }, async () => {
  await publishers();
  const people = await new RoomServiceClient(ctx.strand.httpUrl, DEV_KEY, DEV_SECRET).listParticipants(room);
  const camera = people.find((p) => p.identity === 'alice')!.tracks.find((t) => t.type === TrackType.VIDEO)!.sid;
  const mic = people.find((p) => p.identity === 'bob')!.tracks.find((t) => t.type === TrackType.AUDIO)!.sid;
  const info = await client().startTrackCompositeEgress(room, { file: new EncodedFileOutput({ filepath: 'tracks/{room_name}' }) }, {
    videoTrackId: camera, audioTrackId: mic, encodingOptions: new EncodingOptions({ width: 640, height: 360, framerate: 15, videoBitrate: 800 }),
  });
  await activeThen(info);
  await new Promise((r) => setTimeout(r, 4000));
  const done = await stopAndWait(info.egressId);
  assert.equal(done.status, EgressStatus.EGRESS_COMPLETE, done.error);
  const probed = await probe(done.fileResults[0]!.location);
  assert.deepEqual(probed.streams.map((s) => `${s.codec_type}:${s.codec_name}`).sort(), ['audio:aac', 'video:h264']);
  assert.ok(probed.duration >= 3, `duration ${probed.duration}`);
});
