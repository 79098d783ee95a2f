// Browser helpers for the resume tests: rooms of livekit-client pages that record what they see,
// faults injected through the SDK, and checks that media and data carry on.
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import type { E2eContext } from './e2e.js';
import { PROBE_SCRIPT, readProbe } from './page-probes.js';
import { workerStats } from './strand-process.js';
import { joinToken } from './tokens.js';
import { waitFor } from './wait.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- page-side code runs in the browser */

/** Connects with default options and records what the room sees on `window.seen`. */
export async function join(ctx: E2eContext, page: Page, token: string, v0: boolean): Promise<string> {
  return page.evaluate(async ({ url, token, v0 }) => {
    const LK = (globalThis as any).LivekitClient;
    const w = globalThis as any;
    w.seen = { reconnecting: 0, reconnected: 0, reconnectedAt: 0, left: [] as string[], joined: [] as string[], data: [] as string[] };
    const room = new LK.Room({ adaptiveStream: false, dynacast: false, ...(v0 ? { singlePeerConnection: false } : {}) });
    w.room = room;
    room.on(LK.RoomEvent.Reconnecting, () => { w.seen.reconnecting++; });
    room.on(LK.RoomEvent.Reconnected, () => { w.seen.reconnected++; w.seen.reconnectedAt = performance.now(); });
    room.on(LK.RoomEvent.ParticipantDisconnected, (p: any) => w.seen.left.push(p.identity));
    room.on(LK.RoomEvent.ParticipantConnected, (p: any) => w.seen.joined.push(p.identity));
    room.on(LK.RoomEvent.DataReceived, (payload: Uint8Array) => w.seen.data.push(new TextDecoder().decode(payload)));
    room.on(LK.RoomEvent.TrackSubscribed, (track: any) => {
      const el = track.attach();
      el.muted = true;
      w.document.body.appendChild(el);
    });
    await room.connect(url, token);
    return room.localParticipant.sid as string;
  }, { url: ctx.strand.url, token, v0 });
}

export async function framesDecoded(page: Page): Promise<number> {
  return page.evaluate(async () => {
    let frames = 0;
    for (const p of (globalThis as any).room.remoteParticipants.values()) {
      for (const pub of p.trackPublications.values()) {
        (await pub.track?.receiver?.getStats())?.forEach((s: any) => {
          if (s.type === 'inbound-rtp' && s.kind === 'video') frames += s.framesDecoded ?? 0;
        });
      }
    }
    return frames;
  });
}

export async function seen(page: Page): Promise<{ reconnecting: number; reconnected: number; reconnectedAt: number; left: string[]; joined: string[]; data: string[] }> {
  return page.evaluate(() => (globalThis as any).seen);
}

export async function iceRestarts(ctx: E2eContext): Promise<number> {
  return (await workerStats(ctx.strand.httpUrl)).reduce((n, s) => n + s.iceRestarts, 0);
}

/** Sends `n` reliable packets "<tag>-1" … to `to`, one after the other. */
export async function sendData(page: Page, tag: string, n: number, to: string): Promise<void> {
  await page.evaluate(async ({ tag, n, to }) => {
    const lp = (globalThis as any).room.localParticipant;
    for (let i = 1; i <= n; i++) await lp.publishData(new TextEncoder().encode(`${tag}-${i}`), { reliable: true, destinationIdentities: [to] });
  }, { tag, n, to });
}

/** Video decodes at `subscriber`: framesDecoded rises by `frames` within `ms`. */
export async function videoFlows(subscriber: Page, ms: number, frames = 10): Promise<void> {
  const start = await framesDecoded(subscriber);
  await waitFor(async () => (await framesDecoded(subscriber)) >= start + frames, ms, `${frames} more frames decoded`, 100);
}

/** A room with alice publishing camera and microphone and bob receiving them. */
export async function aliceAndBob(ctx: E2eContext, name: string, v0 = false): Promise<{ alice: Page; bob: Page; aliceSid: string; bobSid: string }> {
  const room = `${name}-${Date.now()}`;
  const alice = await ctx.browser.newPage(PROBE_SCRIPT);
  const bob = await ctx.browser.newPage(PROBE_SCRIPT);
  const aliceSid = await join(ctx, alice, await joinToken(room, 'alice'), v0);
  const bobSid = await join(ctx, bob, await joinToken(room, 'bob'), v0);
  await alice.evaluate(async () => (globalThis as any).room.localParticipant.enableCameraAndMicrophone());
  await videoFlows(bob, 15_000, 30);
  return { alice, bob, aliceSid, bobSid };
}

export async function leave(...pages: Page[]): Promise<void> {
  for (const page of pages) {
    await page.evaluate(async () => (globalThis as any).room.disconnect());
    await page.close();
  }
}

/**
 * `resuming` loses its signal socket; `other` sends it 5 reliable packets during the gap.
 * Returns the time from the fault to Reconnected, ms.
 */
export async function signalReconnect(resuming: Page, other: Page, identity: string, tag: string): Promise<number> {
  const before = await seen(resuming);
  const startedAt = await resuming.evaluate(async () => {
    const t = performance.now();
    await (globalThis as any).room.simulateScenario('signal-reconnect');
    return t;
  });
  await sendData(other, tag, 5, identity);
  await waitFor(async () => (await seen(resuming)).reconnected > before.reconnected, 20_000, `${identity} to resume`, 50);
  const after = await seen(resuming);
  return after.reconnectedAt - startedAt;
}

/**
 * Each side of a room loses its signal socket once: both resume in place, media and data carry on.
 * `videoWithinMs` bounds the wait for video after each Reconnected. A resume that keeps the
 * connections has video at once; one that restarts Strand's subscriber connection of a healthy
 * pair waits for Chromium to give up its old candidate pair (about 5 s, see SubscriberPeer).
 */
export async function resumeBothSides(ctx: E2eContext, v0: boolean, videoWithinMs = 3000): Promise<{ alice: Page; bob: Page; publisherMs: number; subscriberMs: number; subscriberVideoMs: number }> {
  const { alice, bob, aliceSid, bobSid } = await aliceAndBob(ctx, v0 ? 'resume-v0' : 'resume', v0);
  const restartsBefore = await iceRestarts(ctx);

  // The publisher loses its signal socket.
  const publisherMs = await signalReconnect(alice, bob, 'alice', 'to-alice');
  assert.equal(await alice.evaluate(() => (globalThis as any).room.localParticipant.sid), aliceSid, 'alice keeps her sid');
  await videoFlows(bob, videoWithinMs);
  await waitFor(async () => (await seen(alice)).data.length >= 5, 5000, 'alice to get the data sent during the gap');
  assert.deepEqual((await seen(alice)).data, ['to-alice-1', 'to-alice-2', 'to-alice-3', 'to-alice-4', 'to-alice-5']);

  // The subscriber loses its signal socket.
  const subscriberMs = await signalReconnect(bob, alice, 'bob', 'to-bob');
  assert.equal(await bob.evaluate(() => (globalThis as any).room.localParticipant.sid), bobSid, 'bob keeps his sid');
  const videoWaitStart = Date.now();
  await videoFlows(bob, videoWithinMs);
  const subscriberVideoMs = Date.now() - videoWaitStart;
  await waitFor(async () => (await seen(bob)).data.length >= 5, 5000, 'bob to get the data sent during the gap');
  assert.deepEqual((await seen(bob)).data, ['to-bob-1', 'to-bob-2', 'to-bob-3', 'to-bob-4', 'to-bob-5']);

  // Nobody saw anybody leave or come back, and no client data channel closed.
  for (const page of [alice, bob]) {
    const s = await seen(page);
    assert.deepEqual(s.left, [], 'no ParticipantDisconnected');
    assert.deepEqual(s.joined, page === alice ? ['bob'] : [], 'no ParticipantConnected after the join');
    for (const c of (await readProbe(page)).channels) assert.ok(!c.events.some((e) => e.startsWith('close')), `${c.label} stayed open: ${c.events.join(' ')}`);
  }
  // Each resume restarted ICE on the connection the client offers on, each time on a new native
  // connection (v0: bob's publisher connection carries his data; Strand's subscriber
  // connections stayed up and were only offered again).
  assert.ok((await iceRestarts(ctx)) >= restartsBefore + 2, 'ICE restarts answered with new native connections');
  return { alice, bob, publisherMs, subscriberMs, subscriberVideoMs };
}

