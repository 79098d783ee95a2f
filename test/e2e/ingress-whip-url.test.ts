// WHIP and URL ingress end to end. WHIP: a Chromium page posts its offer (fake camera and
// microphone) with the stream key, as a WHIP encoder does; a livekit-client subscriber decodes
// the video of the INGRESS participant, and DELETE on the session's Location unpublishes it.
// URL: an MP4 served over HTTP here is pulled, transcoded to H.264 (LiveKit's 540p preset, two
// layers) and decoded by a subscriber; the ingress ends COMPLETE and its participant leaves.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { IngressState_Status as Status } from '@livekit/protocol';
import { IngressClient, IngressInput, IngressVideoEncodingPreset } from 'livekit-server-sdk';
import { connectRoom, inboundMedia, useStrandAndBrowser } from '../helpers/e2e.js';
import { DEV_KEY, DEV_SECRET, joinToken } from '../helpers/tokens.js';
import { waitFor } from '../helpers/wait.js';
import { whipPublish } from '../helpers/whip.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- page-side code runs in the browser */

const ctx = useStrandAndBrowser({ workers: 2, args: ['--config-body', 'ingress: { rtmp_base_url: "rtmp://127.0.0.1:0/live" }'] });
const ingressClient = () => new IngressClient(ctx.strand.httpUrl, DEV_KEY, DEV_SECRET);

let files: Server;
let clipUrl = '';

before(() => {
  const dir = mkdtempSync(join(tmpdir(), 'strand-ingress-url-'));
  const clip = join(dir, 'clip.mp4');
  const made = spawnSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc=size=640x360:rate=25', '-f', 'lavfi',
    '-i', 'sine=sample_rate=44100:frequency=330', '-t', '6', '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-c:a', 'aac', clip]);
  assert.equal(made.status, 0, String(made.stderr));
  const body = readFileSync(clip);
  // A file server as any would be: ffmpeg reads the MP4's index at its end with a Range request.
  files = createServer((req, res) => {
    if (req.url !== '/clip.mp4') return void res.writeHead(404).end();
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    if (!range) return void res.writeHead(200, { 'content-type': 'video/mp4', 'content-length': body.length, 'accept-ranges': 'bytes' }).end(body);
    const start = Number(range[1]);
    const end = range[2] ? Math.min(Number(range[2]), body.length - 1) : body.length - 1;
    res.writeHead(206, { 'content-type': 'video/mp4', 'content-length': end - start + 1, 'content-range': `bytes ${start}-${end}/${body.length}` });
    res.end(body.subarray(start, end + 1));
  });
  return new Promise<void>((resolve) => files.listen(0, '127.0.0.1', () => {
    clipUrl = `http://127.0.0.1:${(files.address() as AddressInfo).port}/clip.mp4`;
    resolve();
  }));
});

after(() => files?.close());

test('WHIP ingress: a browser posts its offer with the stream key, a subscriber decodes it, DELETE unpublishes', { timeout: 90_000 }, async () => {
  const room = `ingress-whip-${Date.now()}`;
  const info = await ingressClient().createIngress(IngressInput.WHIP_INPUT, { name: 'whip', roomName: room, participantIdentity: 'whip-encoder' });
  assert.equal(info.enableTranscoding, false);
  assert.match(info.url, /^http:\/\/127\.0\.0\.1:\d+\/w$/);

  const viewer = await ctx.browser.newPage();
  await connectRoom(viewer, ctx.strand.url, await joinToken(room, 'viewer'));
  const encoder = await ctx.browser.newPage();
  const refused = await encoder.evaluate(async ({ url }) => (await fetch(url, { method: 'POST', headers: { 'content-type': 'application/sdp', authorization: 'Bearer nope' }, body: 'v=0\r\n' })).status, { url: info.url });
  assert.equal(refused, 401, 'a wrong stream key');
  const whip = await whipPublish(encoder, info.url, info.streamKey);
  assert.equal(whip.status, 201, whip.body);
  assert.match(whip.location ?? '', /^\/w\/[^/]+\/WH_/);

  await waitFor(async () => (await ingressClient().listIngress({ ingressId: info.ingressId }))[0]?.state?.status === Status.ENDPOINT_PUBLISHING, 15_000, 'ENDPOINT_PUBLISHING');
  await waitFor(async () => (await inboundMedia(viewer)).framesDecoded >= 30, 20_000, 'the viewer to decode the WHIP video');
  const kind = await viewer.evaluate(() => [...(globalThis as any).room.remoteParticipants.values()][0]?.kind);
  assert.equal(kind, 1, 'kind INGRESS');

  const deleted = await encoder.evaluate(async ({ base, location }) => (await fetch(new URL(location, base), { method: 'DELETE' })).status, { base: info.url, location: whip.location! });
  assert.equal(deleted, 200);
  await waitFor(() => viewer.evaluate(() => (globalThis as any).room.remoteParticipants.size === 0), 10_000, 'the WHIP participant to leave');
  assert.equal((await ingressClient().listIngress({ ingressId: info.ingressId }))[0]?.state?.status, Status.ENDPOINT_INACTIVE);
  await encoder.close();
  await viewer.close();
});

test('URL ingress: an HTTP-served MP4 is published (H.264, two layers) until its end, then COMPLETE', { timeout: 90_000 }, async () => {
  const room = `ingress-url-${Date.now()}`;
  const viewer = await ctx.browser.newPage();
  await connectRoom(viewer, ctx.strand.url, await joinToken(room, 'viewer'));
  const info = await ingressClient().createIngress(IngressInput.URL_INPUT, {
    name: 'clip', roomName: room, participantIdentity: 'clip', url: clipUrl,
    video: { encodingOptions: { case: 'preset', value: IngressVideoEncodingPreset.H264_540P_25FPS_2_LAYERS } } as never,
  });
  assert.equal(info.streamKey, '');
  assert.equal(info.reusable, false);
  const media = await waitFor(async () => {
    const m = await inboundMedia(viewer);
    return m.framesDecoded >= 30 && m.audioPackets >= 50 ? m : null;
  }, 20_000, 'the viewer to decode the clip');
  assert.ok(media.frameWidth > 0);
  const tracks = await viewer.evaluate(() => {
    const p = [...(globalThis as any).room.remoteParticipants.values()][0];
    return [...p.trackPublications.values()].map((t: any) => `${t.kind}:${t.mimeType}`).sort();
  });
  assert.deepEqual(tracks, ['audio:audio/opus', 'video:video/H264']);
  const ended = await waitFor(async () => {
    const [i] = await ingressClient().listIngress({ ingressId: info.ingressId });
    return i && i.state!.status >= Status.ENDPOINT_ERROR ? i : null;
  }, 20_000, 'the URL ingress to end');
  assert.equal(ended.state?.status, Status.ENDPOINT_COMPLETE, ended.state?.error);
  await waitFor(() => viewer.evaluate(() => (globalThis as any).room.remoteParticipants.size === 0), 10_000, 'the clip participant to leave');
  await viewer.close();
});
