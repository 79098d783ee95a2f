// Three Strand nodes on one Redis (Debian's redis-server, started here on its own port): a
// client whose WebSocket lands on node A joins a room that lives on node B, and exchanges media
// and data with a client connected to B; node C lists the room and both participants and
// removes the client connected through A; the room's webhooks come once each, in order, from B.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DirectFileOutput, EgressClient, EgressStatus, IngressClient, IngressInput } from 'livekit-server-sdk';
import { pushRtmp } from '../helpers/ffmpeg-push.js';
import type { Page } from 'playwright-core';
import { launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { startCluster, type TestCluster } from '../helpers/cluster.js';
import { connectRoom, inboundMedia, publishCamera } from '../helpers/e2e.js';
import { DEV_KEY, DEV_SECRET, joinToken } from '../helpers/tokens.js';
import { waitFor } from '../helpers/wait.js';
import { WebhookSink } from '../helpers/webhook-sink.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- page-side code runs in the browser */

let cluster: TestCluster;
let browser: TestBrowser;
let sink: WebhookSink;

before(async () => {
  sink = await WebhookSink.create();
  await sink.start();
  // Each node posts to its own path, so the sink can tell who sent what.
  cluster = await startCluster(3, {
    config: (i) => `webhook: { api_key: ${DEV_KEY}, urls: ["${sink.url}/node${i}"] }\nroom: { departure_timeout: 1 }\n`
      + `egress: { file_output_dir: "${mkdtempSync(join(tmpdir(), `strand-cluster-rec${i}-`))}" }\n`
      + 'ingress: { rtmp_base_url: "rtmp://127.0.0.1:0/live" }',
  });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  const codes = await cluster?.stop();
  await sink?.stop();
  assert.deepEqual(codes, [0, 0, 0], cluster?.nodes.map((n) => n.stderr()).join('\n'));
});

const api = (i: number) => cluster.roomService(i);

/** Media and a reliable data message both ways, and every participant seen from the page. */
async function joinAndPublish(page: Page, url: string, room: string, identity: string): Promise<void> {
  await connectRoom(page, url, await joinToken(room, identity));
  await page.evaluate(async () => {
    const LK = (globalThis as any).LivekitClient;
    const r = (globalThis as any).room;
    (globalThis as any).received = [] as string[];
    (globalThis as any).disconnectReason = null;
    r.on(LK.RoomEvent.DataReceived, (payload: Uint8Array) => (globalThis as any).received.push(new TextDecoder().decode(payload)));
    r.on(LK.RoomEvent.Disconnected, (reason: number) => { (globalThis as any).disconnectReason = reason; });
    await r.localParticipant.setMicrophoneEnabled(true);
  });
  await publishCamera(page);
}

test('a client on node A joins a room on node B; C lists and removes it; webhooks once, from B', { timeout: 120_000 }, async () => {
  const room = `cluster-${Date.now()}`;
  const [idA, idB] = cluster.nodeIds;
  assert.ok(idA && idB, 'node ids from the start-up log');
  // The room goes to B (CreateRoom's node_id), asked through C.
  await api(2).createRoom({ name: room, nodeId: idB });

  const viaA = await browser.newPage();
  const onB = await browser.newPage();
  await joinAndPublish(onB, cluster.nodes[1]!.url, room, 'on-b');
  await joinAndPublish(viaA, cluster.nodes[0]!.url, room, 'via-a');

  for (const [page, who] of [[viaA, 'via-a'], [onB, 'on-b']] as const) {
    const m = await waitFor(async () => {
      const s = await inboundMedia(page);
      return s.framesDecoded >= 30 && s.audioPackets >= 50 ? s : null;
    }, 30_000, `${who} to decode the other's video and audio`, 500);
    console.log(`${who}: ${m.framesDecoded} frames decoded (${m.frameWidth} px), ${m.audioPackets} audio packets`);
  }
  for (const [from, to, text] of [[viaA, onB, 'hello from A'], [onB, viaA, 'hello from B']] as const) {
    await from.evaluate((t) => (globalThis as any).room.localParticipant.publishData(new TextEncoder().encode(t), { reliable: true }), text);
    await waitFor(() => to.evaluate((t) => (globalThis as any).received.includes(t), text), 10_000, `"${text}" to arrive`);
  }

  // The media of the client relayed through A goes straight to B, its room's node.
  const rooms = await api(2).listRooms();
  assert.deepEqual(rooms.filter((r) => r.name === room).map((r) => r.numParticipants), [2], 'C lists the room once, with both participants');
  const listed = await api(2).listParticipants(room);
  assert.deepEqual(listed.map((p) => p.identity).sort(), ['on-b', 'via-a']);
  assert.ok(listed.every((p) => p.tracks.length === 2), 'both publish audio and video');

  // A recording asked of C runs on B (the room's node); A finds it by id, lists and stops it.
  const egress = (i: number) => new EgressClient(cluster.nodes[i]!.httpUrl, DEV_KEY, DEV_SECRET);
  const audioSid = listed.find((p) => p.identity === 'on-b')!.tracks.find((t) => t.type === 0)!.sid;
  const started = await egress(2).startTrackEgress(room, new DirectFileOutput({ filepath: `${room}/{track_id}` }), audioSid);
  assert.ok((await egress(0).listEgress({})).some((e) => e.egressId === started.egressId), 'A lists the egress running on B');
  await new Promise((r) => setTimeout(r, 1500));
  const early = (await egress(0).listEgress({ egressId: started.egressId }))[0];
  assert.ok(early && [EgressStatus.EGRESS_STARTING, EgressStatus.EGRESS_ACTIVE].includes(early.status), `the egress is running before StopEgress: ${early?.status} ${early?.error}`);
  const stopped = await egress(0).stopEgress(started.egressId);
  assert.ok([EgressStatus.EGRESS_ENDING, EgressStatus.EGRESS_COMPLETE].includes(stopped.status), `stopped through A: ${stopped.status}`);
  await assert.rejects(egress(0).stopEgress('EG_unknown'), /not_found|does not exist/, 'an unknown egress is not found on any node');

  await api(2).removeParticipant(room, 'via-a');
  const reason = await waitFor(() => viaA.evaluate(() => (globalThis as any).disconnectReason), 10_000, 'the client through A to be removed');
  assert.equal(reason, 4, 'PARTICIPANT_REMOVED');
  assert.deepEqual((await api(0).listParticipants(room)).map((p) => p.identity), ['on-b'], 'A sees it gone');

  await onB.evaluate(() => (globalThis as any).room.disconnect());
  await waitFor(() => sink.sequence(room).includes('room_finished'), 20_000, 'room_finished');
  const seq = sink.sequence(room);
  const senders = new Set(sink.events.map((e, i) => (e.room?.name === room ? sink.paths[i] : null)).filter(Boolean));
  assert.deepEqual([...senders], ['/webhook/node1'], `webhooks of the room only from B: ${[...senders].join(', ')}`);
  assert.equal(seq[0], 'room_started');
  assert.equal(seq.at(-1), 'room_finished');
  for (const who of ['via-a', 'on-b']) {
    const mine = seq.filter((e) => e.endsWith(`:${who}`));
    assert.equal(mine[0], `participant_joined:${who}`, seq.join(', '));
    assert.equal(mine.at(-1), `participant_left:${who}`, seq.join(', '));
    assert.equal(mine.filter((e) => e.startsWith('participant_joined')).length, 1, seq.join(', '));
    assert.equal(mine.filter((e) => e.startsWith('track_published')).length, 2, seq.join(', '));
  }
  const ids = sink.events.filter((e) => e.room?.name === room).map((e) => e.id);
  assert.equal(new Set(ids).size, ids.length, 'no event delivered twice');
  console.log(`webhooks: ${seq.join(', ')}`);
  await viaA.close();
  await onB.close();
});

test('an ingress asked of A for a room on B lives on B; C lists and deletes it', { timeout: 90_000 }, async () => {
  const room = `cluster-ingress-${Date.now()}`;
  await api(2).createRoom({ name: room, nodeId: cluster.nodeIds[1] });
  const ingress = (i: number) => new IngressClient(cluster.nodes[i]!.httpUrl, DEV_KEY, DEV_SECRET);
  const info = await ingress(0).createIngress(IngressInput.RTMP_INPUT, { roomName: room, participantIdentity: 'encoder', name: 'cluster' });
  assert.ok((await ingress(2).listIngress({})).some((i) => i.ingressId === info.ingressId), 'C lists it');
  const pusher = pushRtmp(`${info.url}/${info.streamKey}`, 30);
  try {
    const p = await waitFor(async () => {
      const found = (await api(2).listParticipants(room)).find((x) => x.identity === 'encoder');
      return found && found.tracks.length === 2 ? found : null;
    }, 20_000, 'the ingress participant to publish audio and video in the room on B');
    assert.equal(p.kind, 1, 'kind INGRESS');
    await ingress(2).deleteIngress(info.ingressId);
    await waitFor(async () => !(await api(0).listParticipants(room)).some((x) => x.identity === 'encoder'), 10_000, 'the ingress participant to leave');
    assert.ok(!(await ingress(0).listIngress({})).some((i) => i.ingressId === info.ingressId), 'deleted everywhere');
  } finally {
    pusher.kill();
  }
});
