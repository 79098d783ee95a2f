// Track egress of Chromium publishers (livekit-client), driven through livekit-server-sdk's
// EgressClient: the microphone becomes an Ogg/Opus file, the VP8 camera a WebM file, an H.264
// camera an MP4 file, each finished so that ffprobe reads a duration close to the recording's.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { DirectFileOutput, EgressClient, EgressStatus, TrackType, type EgressInfo } from 'livekit-server-sdk';
import type { Page } from 'playwright-core';
import { connectRoom, useStrandAndBrowser } from '../helpers/e2e.js';
import { probe } from '../helpers/media-probe.js';
import { DEV_KEY, DEV_SECRET, joinToken } from '../helpers/tokens.js';
import { waitFor } from '../helpers/wait.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- page-side code runs in the browser */

const outDir = mkdtempSync(join(tmpdir(), 'strand-egress-'));
const ctx = useStrandAndBrowser({ args: ['--config-body', `egress: { file_output_dir: "${outDir}" }`] });
const egressClient = () => new EgressClient(ctx.strand.httpUrl, DEV_KEY, DEV_SECRET);

/** Publishes the microphone and a 640×360 camera (one layer) with `codec`. */
async function publish(page: Page, codec: string): Promise<void> {
  await page.evaluate(async (codec) => {
    const p = (globalThis as any).room.localParticipant;
    await p.setMicrophoneEnabled(true);
    await p.setCameraEnabled(true, { resolution: { width: 640, height: 360, frameRate: 30 } }, { videoCodec: codec, simulcast: false });
  }, codec);
}

async function publishedTracks(client: EgressClient, room: string): Promise<{ audio: string; video: string }> {
  const { RoomServiceClient } = await import('livekit-server-sdk');
  const rs = new RoomServiceClient(ctx.strand.httpUrl, DEV_KEY, DEV_SECRET);
  void client;
  return waitFor(async () => {
    const [p] = await rs.listParticipants(room);
    const audio = p?.tracks.find((t) => t.type === TrackType.AUDIO)?.sid;
    const video = p?.tracks.find((t) => t.type === TrackType.VIDEO)?.sid;
    return audio && video ? { audio, video } : null;
  }, 15_000, 'the publisher\'s tracks');
}

async function ended(client: EgressClient, egressId: string): Promise<EgressInfo> {
  return waitFor(async () => {
    const [info] = await client.listEgress({ egressId });
    return info && info.status >= EgressStatus.EGRESS_COMPLETE ? info : null;
  }, 20_000, `egress ${egressId} to end`);
}

async function recordTracks(codec: string, seconds: number): Promise<Array<{ info: EgressInfo; recordedMs: number }>> {
  const room = `egress-track-${codec}-${Date.now()}`;
  const page = await ctx.browser.newPage();
  try {
    await connectRoom(page, ctx.strand.url, await joinToken(room, 'alice'));
    await publish(page, codec);
    const client = egressClient();
    const tracks = await publishedTracks(client, room);
    const started = await Promise.all([tracks.audio, tracks.video].map((sid) => client.startTrackEgress(room, new DirectFileOutput({ filepath: `${room}/{track_id}` }), sid)));
    for (const info of started) assert.equal(info.status, EgressStatus.EGRESS_STARTING);
    await Promise.all(started.map((s) => waitFor(async () => (await client.listEgress({ egressId: s.egressId }))[0]?.status === EgressStatus.EGRESS_ACTIVE, 15_000, 'ACTIVE')));
    const t0 = Date.now();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const stopped = await Promise.all(started.map((s) => client.stopEgress(s.egressId)));
    const recordedMs = Date.now() - t0;
    for (const s of stopped) assert.equal(s.status, EgressStatus.EGRESS_ENDING);
    return await Promise.all(started.map(async (s) => ({ info: await ended(client, s.egressId), recordedMs })));
  } finally {
    await page.close();
  }
}

function checkDuration(actual: number, recordedMs: number): void {
  const expected = recordedMs / 1000;
  assert.ok(Math.abs(actual - expected) <= expected * 0.1, `duration ${actual} s, recorded for ${expected} s`);
}

test('a VP8 publisher\'s microphone and camera become Ogg/Opus and WebM/VP8 files with their durations', { timeout: 90_000 }, async () => {
  const [audio, video] = await recordTracks('vp8', 6);
  for (const { info, recordedMs } of [audio!, video!]) {
    assert.equal(info.status, EgressStatus.EGRESS_COMPLETE, info.error);
    const file = info.fileResults[0]!;
    assert.ok(file.size > 0n, 'file size reported');
    checkDuration(Number(file.duration) / 1e9, recordedMs);
    const probed = await probe(file.location);
    checkDuration(probed.duration, recordedMs);
  }
  const a = await probe(audio!.info.fileResults[0]!.location);
  assert.match(a.formatName, /ogg/);
  assert.deepEqual(a.streams.map((s) => s.codec_name), ['opus']);
  const v = await probe(video!.info.fileResults[0]!.location);
  assert.match(v.formatName, /matroska|webm/);
  assert.equal(v.streams[0]!.codec_name, 'vp8');
  assert.equal(v.streams[0]!.width, 640);
});

test('an H.264 publisher\'s camera becomes an MP4/H.264 file', { timeout: 90_000 }, async () => {
  const [, video] = await recordTracks('h264', 5);
  assert.equal(video!.info.status, EgressStatus.EGRESS_COMPLETE, video!.info.error);
  const probed = await probe(video!.info.fileResults[0]!.location);
  assert.match(probed.formatName, /mp4/);
  assert.equal(probed.streams[0]!.codec_name, 'h264');
  checkDuration(probed.duration, video!.recordedMs);
});
