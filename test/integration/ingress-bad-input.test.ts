// Bad RTMP input never takes down the ingress worker or other streams: bytes that are not
// RTMP, a broken chunk stream, and a publish whose media is garbage are each closed or ended
// on their own, an encoder killed mid-stream leaves the endpoint INACTIVE, and a URL that
// cannot be read ends its ingress in ERROR with ffmpeg's reason. A real encoder publishes fine
// after all of it.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { after, before, test } from 'node:test';
import { IngressState_Status as Status } from '@livekit/protocol';
import { IngressClient, IngressInput, RoomServiceClient, type IngressInfo } from 'livekit-server-sdk';
import { pushRtmp } from '../helpers/ffmpeg-push.js';
import { RtmpTestClient } from '../helpers/rtmp-client.js';
import { startStrand, type StrandProcess } from '../helpers/strand-process.js';
import { DEV_KEY, DEV_SECRET } from '../helpers/tokens.js';
import { waitFor } from '../helpers/wait.js';

let strand: StrandProcess;
let info: IngressInfo;
let rtmpPort = 0;
const client = () => new IngressClient(strand.httpUrl, DEV_KEY, DEV_SECRET);
const room = `ingress-bad-${Date.now()}`;

async function status(): Promise<Status | undefined> {
  return (await client().listIngress({ ingressId: info.ingressId }))[0]?.state?.status;
}

before(async () => {
  strand = await startStrand({ workers: 1, args: ['--config-body', 'ingress: { rtmp_base_url: "rtmp://127.0.0.1:0/live" }'] });
  info = await client().createIngress(IngressInput.RTMP_INPUT, {
    roomName: room, participantIdentity: 'encoder',
    video: { encodingOptions: { case: 'options', value: { videoCodec: 4, frameRate: 15, layers: [{ width: 320, height: 180, bitrate: 200_000 }] } } } as never,
  });
  rtmpPort = Number(new URL(info.url).port);
});

after(async () => {
  if (strand) assert.equal(await strand.stop(), 0, strand.stderr());
});

test('bytes that are not RTMP, and a broken chunk stream, are closed by the server', { timeout: 30_000 }, async () => {
  const s = connect(rtmpPort, '127.0.0.1');
  s.on('error', () => undefined);
  s.write(Buffer.concat([Buffer.from([0x16, 0x03, 0x01]), randomBytes(2000)])); // a TLS hello, say
  await new Promise((resolve) => s.once('close', resolve));
  const c = await RtmpTestClient.open(rtmpPort);
  await new Promise((r) => setTimeout(r, 200));
  c.socket.write(Buffer.from([0xc9, 1, 2, 3, 4])); // a continuation chunk of a stream never started
  await c.closed;
});

test('a publish with the right key but garbage media ends on its own; the worker lives on', { timeout: 60_000 }, async () => {
  const c = await RtmpTestClient.open(rtmpPort);
  assert.equal(await c.publish('live', info.streamKey), 'NetStream.Publish.Start');
  for (let i = 0; i < 60; i++) {
    c.send(9, randomBytes(500 + i * 10), i * 33, 1, 6);
    c.send(8, randomBytes(200), i * 33, 1, 4);
    await new Promise((r) => setTimeout(r, 30));
  }
  c.close();
  await waitFor(async () => {
    const s = await status();
    return s === Status.ENDPOINT_INACTIVE || s === Status.ENDPOINT_ERROR;
  }, 20_000, 'the garbage session to end');
  const rs = new RoomServiceClient(strand.httpUrl, DEV_KEY, DEV_SECRET);
  await waitFor(async () => (await rs.listParticipants(room).catch(() => [])).length === 0, 10_000, 'its participant to leave');
});

test('an encoder killed mid-stream leaves the endpoint INACTIVE, and the next one publishes', { timeout: 60_000 }, async () => {
  const first = pushRtmp(`${info.url}/${info.streamKey}`, 30, '320x180');
  await waitFor(async () => (await status()) === Status.ENDPOINT_PUBLISHING, 15_000, 'PUBLISHING');
  first.child.kill('SIGKILL');
  await waitFor(async () => (await status()) === Status.ENDPOINT_INACTIVE, 15_000, 'INACTIVE after the kill');
  const second = pushRtmp(`${info.url}/${info.streamKey}`, 4, '320x180');
  await waitFor(async () => (await status()) === Status.ENDPOINT_PUBLISHING, 15_000, 'PUBLISHING again');
  assert.equal((await second.exited).code, 0);
  await waitFor(async () => (await status()) === Status.ENDPOINT_INACTIVE, 15_000, 'INACTIVE at the end');
});

test('a URL that cannot be read ends in ERROR with the reason', { timeout: 30_000 }, async () => {
  const bad = await client().createIngress(IngressInput.URL_INPUT, { roomName: room, participantIdentity: 'missing', url: `${strand.httpUrl}/no-such-file.mp4` });
  const ended = await waitFor(async () => {
    const [i] = await client().listIngress({ ingressId: bad.ingressId });
    return i?.state?.status === Status.ENDPOINT_ERROR ? i : null;
  }, 20_000, 'ERROR');
  assert.match(ended.state?.error ?? '', /404|not found/i);
});

test('endpoints survive a restart: the same stream key publishes on the next run', { timeout: 60_000 }, async () => {
  assert.equal(await strand.stop(), 0, strand.stderr());
  strand = await startStrand({ workers: 1, storePath: strand.storePath, args: ['--config-body', 'ingress: { rtmp_base_url: "rtmp://127.0.0.1:0/live" }'] });
  const [kept] = await client().listIngress({ ingressId: info.ingressId });
  assert.equal(kept?.streamKey, info.streamKey);
  assert.equal(kept?.state?.status, Status.ENDPOINT_INACTIVE);
  const fresh = await client().createIngress(IngressInput.RTMP_INPUT, { roomName: room, participantIdentity: 'fresh' });
  assert.equal(kept?.url, fresh.url, 'the URL of this run\'s listener');
  const pusher = pushRtmp(`${kept!.url}/${info.streamKey}`, 4, '320x180');
  await waitFor(async () => (await status()) === Status.ENDPOINT_PUBLISHING, 15_000, 'PUBLISHING after the restart');
  assert.equal((await pusher.exited).code, 0);
});
