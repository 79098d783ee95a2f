// A cluster losing a node or its Redis, with clients behind a load balancer (a TCP one of the
// test's, over every node that still listens): SIGTERM of the room's node moves its clients to
// the others; kill -9 of it leaves no stranded room and the clients come back; a Redis outage
// of 5 s does not stop media, refuses new joins cleanly, and is recovered from.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, test } from 'node:test';
import type { Page } from 'playwright-core';
import WebSocket from 'ws';
import { launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { startCluster, type TestCluster } from '../helpers/cluster.js';
import { connectRoom, inboundMedia } from '../helpers/e2e.js';
import { workerStats } from '../helpers/strand-process.js';
import { TcpBalancer } from '../helpers/tcp-balancer.js';
import { joinToken } from '../helpers/tokens.js';
import { waitFor } from '../helpers/wait.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- page-side code runs in the browser */

// One browser per test: a test that kills nodes must not leave the next one a browser in an
// odd state.
let browser: TestBrowser;
beforeEach(async () => {
  browser = await launchBrowser();
});
afterEach(async () => {
  await browser?.close();
});


/** A cluster of 3 and a balancer over the nodes still running. */
async function setUp(): Promise<{ cluster: TestCluster; lb: TcpBalancer }> {
  const cluster = await startCluster(3, { config: () => 'room: { departure_timeout: 2 }' });
  const lb = await TcpBalancer.start(() => cluster.nodes.filter((n) => n.child.exitCode === null && n.child.signalCode === null).map((n) => n.port));
  return { cluster, lb };
}

async function join(page: Page, url: string, room: string, identity: string): Promise<void> {
  await connectRoom(page, url, await joinToken(room, identity));
  await page.evaluate(async () => {
    const LK = (globalThis as any).LivekitClient;
    (globalThis as any).metadataSeen = [];
    (globalThis as any).room.on(LK.RoomEvent.ParticipantMetadataChanged, (_old: string, p: any) => (globalThis as any).metadataSeen.push(p.metadata));
    const room = (globalThis as any).room;
    await room.localParticipant.setMicrophoneEnabled(true);
    // The camera is a canvas the page draws: a track the SDK republishes as it is after a full
    // reconnect. (Chromium's fake capture device, restarted by the SDK for a camera track, now
    // and then delivers no frames at all after a quick rejoin; that is not what these tests
    // are about.)
    const canvas = (globalThis as any).document.createElement('canvas');
    canvas.width = 640;
    canvas.height = 360;
    const g = canvas.getContext('2d');
    let n = 0;
    setInterval(() => {
      g.fillStyle = `hsl(${(n++ * 7) % 360} 70% 50%)`;
      g.fillRect(0, 0, 640, 360);
      g.fillStyle = '#fff';
      g.fillRect((n * 9) % 600, 160, 40, 40);
    }, 33);
    const [track] = canvas.captureStream(30).getVideoTracks();
    await room.localParticipant.publishTrack(track, { source: LK.Track.Source.Camera, simulcast: true });
  });
}

const remoteSids = (page: Page) => page.evaluate(() => [...(globalThis as any).room.remoteParticipants.values()].map((p: any) => p.sid as string));

/** The page decodes at least `frames` video frames, and some audio, from remote participants other than `oldSids`. */
async function mediaFrom(page: Page, oldSids: string[], frames: number, timeoutMs: number, what: string): Promise<number> {
  let last = '';
  return waitFor(async () => {
    last = JSON.stringify({ sids: await remoteSids(page), media: await inboundMedia(page), state: await page.evaluate(() => (globalThis as any).room.state),
      tracks: await page.evaluate(() => [...(globalThis as any).room.remoteParticipants.values()].map((p: any) => [...p.trackPublications.values()].map((t: any) => `${t.kind}:${t.isSubscribed}`))),
      out: await page.evaluate(async () => {
        const out: string[] = [];
        for (const pub of (globalThis as any).room.localParticipant.trackPublications.values()) {
          const sender = pub.track?.sender;
          if (!sender) { out.push(`${pub.kind}: no sender`); continue; }
          const params = sender.getParameters();
          out.push(`${pub.kind} active=${params.encodings.map((e: any) => e.active).join(',')} track=${sender.track?.readyState}/${sender.track?.muted} pubMuted=${pub.isMuted} upPaused=${pub.track?.isUpstreamPaused}`);
          (await sender.getStats()).forEach((st: any) => { if (st.type === 'outbound-rtp') out.push(`${st.rid ?? ''}:${st.bytesSent}`); });
        }
        return out;
      }) });
    const sids = await remoteSids(page);
    if (sids.length === 0 || sids.some((s) => oldSids.includes(s))) return 0;
    const m = await inboundMedia(page);
    return m.framesDecoded >= frames && m.audioPackets > 0 ? m.framesDecoded : 0;
  }, timeoutMs, what, 250).catch((err: Error) => {
    throw new Error(`${err.message}; last seen ${last}`);
  });
}

/** Both pages in `room` (on node 1), behind the balancer, with media both ways. */
async function roomOnB(cluster: TestCluster, lb: TcpBalancer, room: string): Promise<Page[]> {
  await cluster.roomService(0).createRoom({ name: room, nodeId: cluster.nodeIds[1] });
  const pages = [await browser.newPage(), await browser.newPage()];
  await join(pages[0]!, lb.url, room, 'alice');
  await join(pages[1]!, lb.url, room, 'bob');
  for (const page of pages) await mediaFrom(page, [], 30, 30_000, 'media before the failure');
  return pages;
}

for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
  test(`${signal} of the room's node: its clients are back on another node within 10 s`, { timeout: 150_000 }, async () => {
    const { cluster, lb } = await setUp();
    const room = `failover-${signal}-${Date.now()}`;
    try {
      const pages = await roomOnB(cluster, lb, room);
      const before = await Promise.all(pages.map(remoteSids));
      const t0 = Date.now();
      const exited = cluster.nodes[1]!.stop(signal);
      if (signal === 'SIGTERM') assert.equal(await exited, 0, cluster.nodes[1]!.stderr());
      else await exited;
      const back = await Promise.all(pages.map(async (page, i) => {
        await waitFor(async () => {
          const sids = await remoteSids(page);
          return sids.length > 0 && !sids.some((s) => before[i]!.includes(s));
        }, 20_000, 'the other participant to be back', 200);
        return Date.now() - t0;
      }));
      console.log(`${signal}: participants back after ${back.join(' and ')} ms`);
      assert.ok(Math.max(...back) <= 10_000, `back within 10 s (${back.join(', ')} ms)`);
      for (const [i, page] of pages.entries()) {
        const frames = await mediaFrom(page, before[i]!, 30, 30_000, 'media again').catch(async (err: Error) => {
          const stats = await Promise.all([0, 2].map((n) => workerStats(cluster.nodes[n]!.httpUrl).then((w) => w.map((x) => `${x.publishedTracks} tracks ${x.downTracks} down ${x.packetsIn} in ${x.packetsOut} out`))));
          throw new Error(`${err.message}; A and C: ${JSON.stringify(stats)}`);
        });
        console.log(`${signal}: page ${i} decodes ${frames} frames again`);
      }
      const home = await cluster.withRedis((redis) => redis.hget('room_node_map', room));
      assert.ok(home && home !== cluster.nodeIds[1] && cluster.nodeIds.includes(home), `the room moved to A or C (${home})`);
      const listed = (await cluster.roomService(2).listRooms()).filter((r) => r.name === room);
      assert.equal(listed.length, 1, 'listed once, no stranded copy');
      assert.equal(listed[0]!.numParticipants, 2);
      if (signal === 'SIGKILL') {
        // The dead node's own entry is cleaned by the survivors (15 s of silence).
        await cluster.withRedis(async (redis) => {
          await waitFor(async () => !(await redis.hexists('nodes', cluster.nodeIds[1]!)), 30_000, 'the dead node to be removed from Redis');
          const map = await redis.hgetall('room_node_map');
          assert.ok(!Object.values(map).includes(cluster.nodeIds[1]!), 'no room left on the dead node');
        });
      }
      for (const page of pages) await page.close();
    } finally {
      await lb.close();
      const codes = await cluster.stop();
      assert.deepEqual([codes[0], codes[2]], [0, 0], cluster.nodes.map((n) => n.stderr()).join('\n'));
    }
  });
}

/** A signal WebSocket's answer: 'open', or the HTTP status of the refusal. */
async function tryJoin(url: string, token: string): Promise<string | number> {
  const ws = new WebSocket(`${url}/rtc?access_token=${token}&protocol=16&auto_subscribe=1`);
  return new Promise((resolve) => {
    ws.on('open', () => { ws.close(); resolve('open'); });
    ws.on('unexpected-response', (_req, res) => { resolve(res.statusCode ?? 0); ws.terminate(); });
    ws.on('error', () => resolve(-1));
  });
}

test('Redis stopped for 5 s: media goes on, joins are refused cleanly, and all recovers', { timeout: 150_000 }, async () => {
  const { cluster, lb } = await setUp();
  const room = `outage-${Date.now()}`;
  try {
    await cluster.roomService(0).createRoom({ name: room, nodeId: cluster.nodeIds[1] });
    // alice's signal is relayed through A; bob is on B itself.
    const alice = await browser.newPage();
    const bob = await browser.newPage();
    await join(alice, cluster.nodes[0]!.url, room, 'alice');
    await join(bob, cluster.nodes[1]!.url, room, 'bob');
    for (const page of [alice, bob]) await mediaFrom(page, [], 30, 30_000, 'media before the outage');
    const sidsBefore = await Promise.all([alice, bob].map(remoteSids));
    const framesBefore = await Promise.all([alice, bob].map(async (p) => (await inboundMedia(p)).framesDecoded));

    await cluster.redis.stop();
    const down = Date.now();
    const refused = await tryJoin(cluster.nodes[0]!.url, await joinToken(`other-${room}`, 'carol'));
    await assert.rejects(cluster.roomService(2).listRooms(), (err: Error) => /unavailable/.test(err.message), 'ListRooms: unavailable');
    await new Promise((r) => setTimeout(r, Math.max(0, 5000 - (Date.now() - down))));
    // Its stats no longer reach Redis: a load balancer's health check takes the node out.
    assert.equal((await fetch(`${cluster.nodes[0]!.httpUrl}/`)).status, 406, 'GET / is 406 while stats are stale');
    const framesDuring = await Promise.all([alice, bob].map(async (p) => (await inboundMedia(p)).framesDecoded));
    await cluster.redis.run();
    console.log(`during the outage: a join got ${refused}; frames ${framesBefore.join('/')} → ${framesDuring.join('/')}`);
    assert.equal(refused, 503, 'a join that needs Redis gets 503');
    for (const i of [0, 1]) assert.ok(framesDuring[i]! - framesBefore[i]! >= 60, `media went on (page ${i})`);

    // Back: joins work again, the room is listed again, and alice's relayed signalling works.
    await waitFor(async () => (await fetch(`${cluster.nodes[0]!.httpUrl}/`)).status === 200, 10_000, 'GET / to be 200 again');
    await waitFor(async () => (await tryJoin(cluster.nodes[2]!.url, await joinToken(`after-${room}`, 'dave'))) === 'open', 20_000, 'joins to work again', 500);
    await waitFor(async () => (await cluster.roomService(2).listRooms().catch(() => [])).some((r) => r.name === room), 20_000, 'the room to be listed again', 500);
    await cluster.roomService(2).updateParticipant(room, 'bob', { metadata: 'after the outage' });
    await waitFor(() => alice.evaluate(() => (globalThis as any).metadataSeen.includes('after the outage')), 10_000, 'alice (relayed) to hear of it');
    assert.deepEqual(await Promise.all([alice, bob].map(remoteSids)), sidsBefore, 'nobody had to rejoin');
    await alice.close();
    await bob.close();
  } finally {
    await lb.close();
    const codes = await cluster.stop();
    assert.deepEqual(codes, [0, 0, 0], cluster.nodes.map((n) => n.stderr()).join('\n'));
  }
});
