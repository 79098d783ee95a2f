// Two Chromium pages running livekit-client join one room on `strand --dev`: camera and
// microphone flow from A to B, data packets flow (and respect destinations), mute and leave
// are seen by the other side. Once with the SDK's defaults (v1: /rtc/v1, one PeerConnection)
// and once on v0 (/rtc, two PeerConnections), which other SDKs and older clients use.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import { inboundMedia, useStrandAndBrowser } from '../helpers/e2e.js';
import { joinToken } from '../helpers/tokens.js';
import { waitFor } from '../helpers/wait.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- page-side code runs in the browser */

const ctx = useStrandAndBrowser({ workers: 2 });

/** Connects a livekit-client Room in the page and records what it sees on `window.seen`. */
async function connect(page: Page, url: string, token: string, v0: boolean): Promise<string> {
  return page.evaluate(async ({ url, token, v0 }) => {
    const LK = (globalThis as any).LivekitClient;
    const w = globalThis as any;
    w.seen = { data: [] as string[], muted: [] as string[], disconnected: [] as string[] };
    const room = new LK.Room({ adaptiveStream: false, dynacast: false, ...(v0 ? { singlePeerConnection: false } : {}) });
    w.room = room;
    room.on(LK.RoomEvent.DataReceived, (payload: Uint8Array) => w.seen.data.push(new TextDecoder().decode(payload)));
    room.on(LK.RoomEvent.TrackMuted, (pub: any) => w.seen.muted.push(pub.kind));
    room.on(LK.RoomEvent.ParticipantDisconnected, (p: any) => w.seen.disconnected.push(p.identity));
    room.on(LK.RoomEvent.TrackSubscribed, (track: any) => {
      const el = track.attach();
      el.muted = true;
      (globalThis as any).document.body.appendChild(el);
    });
    await room.connect(url, token);
    return room.localParticipant.sid as string;
  }, { url, token, v0 });
}

for (const v0 of [false, true]) test(`${v0 ? 'v0' : 'v1'}: A publishes camera + microphone, B receives decoded media, data, mute and leave`, { timeout: 90_000 }, async () => {
  const room = `browser-${v0 ? 'v0' : 'v1'}-${Date.now()}`;
  const pageA = await ctx.browser.newPage();
  const pageB = await ctx.browser.newPage();
  await connect(pageA, ctx.strand.url, await joinToken(room, 'alice'), v0);
  await connect(pageB, ctx.strand.url, await joinToken(room, 'bob'), v0);

  // A publishes with the SDK's defaults (simulcast on).
  await pageA.evaluate(async () => {
    await (globalThis as any).room.localParticipant.enableCameraAndMicrophone();
  });

  const started = Date.now();
  const stats = await waitFor(async () => {
    const s = await inboundMedia(pageB);
    return s.framesDecoded >= 60 && s.audioPackets >= 100 ? s : null;
  }, 15_000, 'B to decode 60 video frames and receive 100 audio packets', 250);
  assert.ok(stats);
  console.log(`B decoded ${stats.framesDecoded} frames and received ${stats.audioPackets} audio packets after ${Date.now() - started} ms`);

  // RTCP: B's receivers saw Strand's sender reports (remote-outbound-rtp, needed for lip
  // sync); A's senders got receiver reports with a round-trip time (remote-inbound-rtp).
  const rtcp = await waitFor(async () => {
    const srAtB = await pageB.evaluate(async () => {
      let n = 0;
      for (const p of (globalThis as any).room.remoteParticipants.values()) {
        for (const pub of p.trackPublications.values()) {
          (await pub.track?.receiver?.getStats())?.forEach((s: any) => { if (s.type === 'remote-outbound-rtp' && s.remoteTimestamp > 0) n++; });
        }
      }
      return n;
    });
    const rrAtA = await pageA.evaluate(async () => {
      let n = 0;
      for (const pub of (globalThis as any).room.localParticipant.trackPublications.values()) {
        (await pub.track?.sender?.getStats())?.forEach((s: any) => { if (s.type === 'remote-inbound-rtp' && s.roundTripTime !== undefined) n++; });
      }
      return n;
    });
    return srAtB >= 2 && rrAtA >= 2 ? { srAtB, rrAtA } : null;
  }, 15_000, 'sender reports at B and receiver reports with RTT at A', 500);
  console.log(`RTCP: ${rtcp.srAtB} streams with SRs at B, ${rtcp.rrAtA} with RR round-trip times at A`);

  // Connection quality arrives every 5 s.
  const quality = await waitFor(() => pageB.evaluate(() => {
    const q = (globalThis as any).room.localParticipant.connectionQuality as string;
    return q && q !== 'unknown' ? q : '';
  }), 12_000, 'B to get a connection quality', 500);
  assert.equal(quality, 'excellent');

  // Data: one packet to everyone, one to a third identity (A must not get it), one more to A.
  await pageB.evaluate(async () => {
    const lp = (globalThis as any).room.localParticipant;
    const enc = new TextEncoder();
    await lp.publishData(enc.encode('hello-all'), { reliable: true });
    await lp.publishData(enc.encode('for-carol'), { reliable: true, destinationIdentities: ['carol'] });
    await lp.publishData(enc.encode('for-alice'), { reliable: true, destinationIdentities: ['alice'] });
  });
  await waitFor(() => pageA.evaluate(() => (globalThis as any).seen.data.includes('for-alice')), 10_000, 'A to receive data');
  const dataAtA = await pageA.evaluate(() => (globalThis as any).seen.data as string[]);
  assert.deepEqual(dataAtA, ['hello-all', 'for-alice']);

  // Mute: A turns its camera off (mute), B sees it.
  await pageA.evaluate(async () => {
    await (globalThis as any).room.localParticipant.setCameraEnabled(false);
  });
  await waitFor(() => pageB.evaluate(() => (globalThis as any).seen.muted.includes('video')), 10_000, 'B to see the camera muted');

  // Leave: A disconnects, B sees it go.
  await pageA.evaluate(async () => {
    await (globalThis as any).room.disconnect();
  });
  await waitFor(() => pageB.evaluate(() => (globalThis as any).seen.disconnected.includes('alice')), 10_000, 'B to see A leave');
  await pageB.evaluate(async () => (globalThis as any).room.disconnect());
  await pageA.close();
  await pageB.close();
});
