// RTMP ingress end to end: ffmpeg pushes a test pattern with a tone to the URL and stream key
// that livekit-server-sdk's IngressClient hands out; Strand transcodes it (VP8 in two layers,
// Opus) and a livekit-client subscriber in Chromium decodes it from a participant of kind
// INGRESS. A wrong key is refused before any media; the state machine, the webhooks and
// DeleteIngress of a live stream are checked through the same API.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { IngressState_Status as Status } from '@livekit/protocol';
import { AccessToken, IngressClient, IngressInput, RoomServiceClient, type IngressInfo } from 'livekit-server-sdk';
import { launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { connectRoom, inboundMedia } from '../helpers/e2e.js';
import { pushRtmp } from '../helpers/ffmpeg-push.js';
import { startStrand, type StrandProcess } from '../helpers/strand-process.js';
import { DEV_KEY, DEV_SECRET, joinToken } from '../helpers/tokens.js';
import { waitFor } from '../helpers/wait.js';
import { WebhookSink } from '../helpers/webhook-sink.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- page-side code runs in the browser */

let strand: StrandProcess;
let browser: TestBrowser;
let sink: WebhookSink;

before(async () => {
  sink = await WebhookSink.create();
  await sink.start();
  strand = await startStrand({
    workers: 2,
    args: ['--config-body', `webhook: { api_key: ${DEV_KEY}, urls: ["${sink.url}"] }\ningress: { rtmp_base_url: "rtmp://127.0.0.1:0/live" }`],
  });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await sink?.stop();
  if (strand) assert.equal(await strand.stop(), 0, strand.stderr());
});

const ingressClient = () => new IngressClient(strand.httpUrl, DEV_KEY, DEV_SECRET);

/** An RTMP ingress publishing VP8 in two layers (640×360, 320×180) and Opus. */
function createRtmp(room: string, identity: string): Promise<IngressInfo> {
  return ingressClient().createIngress(IngressInput.RTMP_INPUT, {
    name: 'stage', roomName: room, participantIdentity: identity, participantName: 'Stage encoder', participantMetadata: '{"kind":"obs"}',
    video: { encodingOptions: { case: 'options', value: { videoCodec: 4 /* VP8 */, frameRate: 30, layers: [
      { width: 640, height: 360, bitrate: 700_000 }, { width: 320, height: 180, bitrate: 200_000 },
    ] } } } as never,
  });
}

async function stateOf(ingressId: string): Promise<Status | undefined> {
  const [info] = await ingressClient().listIngress({ ingressId });
  return info?.state?.status;
}

test('RTMP ingress: a subscriber decodes the stream of an INGRESS participant; webhooks and states follow', { timeout: 90_000 }, async () => {
  const room = `ingress-rtmp-${Date.now()}`;
  const info = await createRtmp(room, 'stage-encoder');
  assert.match(info.ingressId, /^IN_/);
  assert.match(info.url, /^rtmp:\/\/127\.0\.0\.1:\d+\/live$/);
  assert.equal(info.state?.status, Status.ENDPOINT_INACTIVE);

  const page = await browser.newPage();
  await connectRoom(page, strand.url, await joinToken(room, 'viewer'));
  // Adaptive stream with a small element: the low layer is enough for it.
  const small = await browser.newPage();
  await connectRoom(small, strand.url, await joinToken(room, 'small-viewer'), { adaptiveStream: true });
  await small.evaluate(() => {
    const doc = (globalThis as any).document;
    const style = doc.createElement('style');
    style.textContent = 'video { position: absolute; left: 0; top: 0; width: 160px; height: 90px; }';
    doc.head.appendChild(style);
  });
  const pusher = pushRtmp(`${info.url}/${info.streamKey}`, 14);
  try {
    await waitFor(async () => (await stateOf(info.ingressId)) === Status.ENDPOINT_PUBLISHING, 15_000, 'ENDPOINT_PUBLISHING');
    const media = await waitFor(async () => {
      const m = await inboundMedia(page);
      return m.framesDecoded >= 60 && m.audioPackets >= 100 ? m : null;
    }, 30_000, '60 decoded frames and 100 audio packets');
    assert.equal(media.frameWidth, 640, 'the top layer without adaptive stream');
    const low = await waitFor(async () => {
      const m = await inboundMedia(small);
      return m.framesDecoded >= 30 && m.frameWidth === 320 ? m : null;
    }, 20_000, 'the small element to get the 320 px layer');
    assert.equal(low.frameWidth, 320);
    const remote = await page.evaluate(() => {
      const p = [...(globalThis as any).room.remoteParticipants.values()].find((o: any) => o.identity === 'stage-encoder');
      return { identity: p.identity, name: p.name, metadata: p.metadata, kind: p.kind, tracks: [...p.trackPublications.values()].map((t: any) => t.kind).sort() };
    });
    assert.deepEqual(remote, { identity: 'stage-encoder', name: 'Stage encoder', metadata: '{"kind":"obs"}', kind: 1 /* INGRESS */, tracks: ['audio', 'video'] });
    const [listed] = await ingressClient().listIngress({ roomName: room });
    assert.equal(listed?.state?.tracks.length, 2);
    assert.match(listed?.state?.resourceId ?? '', /^RT_/);
    assert.equal(listed?.state?.video?.width, 640, 'the input as ffmpeg read it');
  } finally {
    await pusher.exited;
  }
  // The encoder finished: the endpoint waits for it again, the participant has left.
  await waitFor(async () => (await stateOf(info.ingressId)) === Status.ENDPOINT_INACTIVE, 15_000, 'ENDPOINT_INACTIVE');
  await waitFor(() => page.evaluate(() => ![...(globalThis as any).room.remoteParticipants.values()].some((o: any) => o.identity === 'stage-encoder')),
    10_000, 'the ingress participant to leave');
  await waitFor(() => {
    const events = sink.events.filter((e) => e.ingressInfo?.ingressId === info.ingressId).map((e) => e.event);
    return events.includes('ingress_ended') ? events : null;
  }, 10_000, 'ingress webhooks');
  const events = sink.events.filter((e) => e.ingressInfo?.ingressId === info.ingressId);
  assert.deepEqual(events.map((e) => e.event), ['ingress_started', 'ingress_ended']);
  assert.equal(events[0]!.ingressInfo?.state?.status, Status.ENDPOINT_PUBLISHING);
  assert.equal(events[1]!.ingressInfo?.state?.status, Status.ENDPOINT_INACTIVE);
  assert.equal(events[0]!.room?.name, room);
  await page.close();
  await small.close();
});

test('RTMP ingress: a wrong stream key and a disabled ingress are refused before any media', { timeout: 60_000 }, async () => {
  const room = `ingress-refuse-${Date.now()}`;
  const info = await createRtmp(room, 'refused');
  const wrong = await pushRtmp(`${info.url}/not-${info.streamKey}`, 5).exited;
  assert.notEqual(wrong.code, 0);
  assert.match(wrong.stderr, /unknown stream key|BadName/i, wrong.stderr);
  await ingressClient().updateIngress(info.ingressId, { enabled: false } as never);
  const disabled = await pushRtmp(`${info.url}/${info.streamKey}`, 5).exited;
  assert.notEqual(disabled.code, 0);
  assert.match(disabled.stderr, /disabled/i, disabled.stderr);
  // Nobody joined the room, nothing changed state, no webhook was sent.
  const rooms = await new RoomServiceClient(strand.httpUrl, DEV_KEY, DEV_SECRET).listRooms([room]);
  assert.equal(rooms.length, 0);
  assert.equal(await stateOf(info.ingressId), Status.ENDPOINT_INACTIVE);
  assert.equal(sink.events.filter((e) => e.ingressInfo?.ingressId === info.ingressId).length, 0);
  await ingressClient().deleteIngress(info.ingressId);
});

test('DeleteIngress during a live stream ends it and the participant leaves; a wrong grant gets 403', { timeout: 60_000 }, async () => {
  const room = `ingress-delete-${Date.now()}`;
  const info = await createRtmp(room, 'deleted');
  const rs = new RoomServiceClient(strand.httpUrl, DEV_KEY, DEV_SECRET);
  const pusher = pushRtmp(`${info.url}/${info.streamKey}`, 30);
  try {
    await waitFor(async () => (await stateOf(info.ingressId)) === Status.ENDPOINT_PUBLISHING, 15_000, 'ENDPOINT_PUBLISHING');
    assert.deepEqual((await rs.listParticipants(room)).map((p) => p.identity), ['deleted']);
    await ingressClient().deleteIngress(info.ingressId);
    assert.deepEqual(await ingressClient().listIngress({ ingressId: info.ingressId }), []);
    await waitFor(async () => (await rs.listParticipants(room).catch(() => [])).length === 0, 10_000, 'the participant to leave');
    const pushed = await Promise.race([pusher.exited, new Promise<null>((r) => setTimeout(() => r(null), 10_000))]);
    assert.ok(pushed, 'the encoder was disconnected');
    await waitFor(() => sink.events.some((e) => e.event === 'ingress_ended' && e.ingressInfo?.ingressId === info.ingressId), 10_000, 'ingress_ended');
  } finally {
    pusher.kill();
  }
  const at = new AccessToken(DEV_KEY, DEV_SECRET, { identity: 'not-admin' });
  at.addGrant({ roomJoin: true, room, roomAdmin: true });
  const res = await fetch(`${strand.httpUrl}/twirp/livekit.Ingress/ListIngress`, {
    method: 'POST', headers: { authorization: `Bearer ${await at.toJwt()}`, 'content-type': 'application/json' }, body: '{}',
  });
  assert.equal(res.status, 403);
});
