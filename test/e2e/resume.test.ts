// Sessions survive network faults: livekit-client (default options, v1) resumes after losing its
// signal socket, on the publisher and on the subscriber side, and after its PeerConnection fails
// while the socket is up. Each resume restarts ICE, which Strand answers with a new native
// connection: same sid, nobody sees the participant leave, video decodes again, and reliable
// data sent to the participant meanwhile arrives once, in order. A resume of a session Strand
// no longer has ends in a full reconnect.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import type { WorkerStats } from '../../src/workers/protocol.js';
import { useStrandAndBrowser } from '../helpers/e2e.js';
import { PROBE_SCRIPT, quantile, readProbe } from '../helpers/page-probes.js';
import { joinToken } from '../helpers/tokens.js';
import { waitFor } from '../helpers/wait.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- page-side code runs in the browser */

const ctx = useStrandAndBrowser();

/** Connects with default options and records what the room sees on `window.seen`. */
async function join(page: Page, token: string, v0: boolean): Promise<string> {
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

async function framesDecoded(page: Page): Promise<number> {
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

async function seen(page: Page): Promise<{ reconnecting: number; reconnected: number; reconnectedAt: number; left: string[]; joined: string[]; data: string[] }> {
  return page.evaluate(() => (globalThis as any).seen);
}

async function iceRestarts(): Promise<number> {
  const stats = await (await fetch(`${ctx.strand.httpUrl}/debug/stats`)).json() as WorkerStats[];
  return stats.reduce((n, s) => n + s.iceRestarts, 0);
}

/** Sends `n` reliable packets "<tag>-1" … to `to`, one after the other. */
async function sendData(page: Page, tag: string, n: number, to: string): Promise<void> {
  await page.evaluate(async ({ tag, n, to }) => {
    const lp = (globalThis as any).room.localParticipant;
    for (let i = 1; i <= n; i++) await lp.publishData(new TextEncoder().encode(`${tag}-${i}`), { reliable: true, destinationIdentities: [to] });
  }, { tag, n, to });
}

/** Video decodes at `subscriber`: framesDecoded rises by `frames` within `ms`. */
async function videoFlows(subscriber: Page, ms: number, frames = 10): Promise<void> {
  const start = await framesDecoded(subscriber);
  await waitFor(async () => (await framesDecoded(subscriber)) >= start + frames, ms, `${frames} more frames decoded`, 100);
}

/** A room with alice publishing camera and microphone and bob receiving them. */
async function aliceAndBob(name: string, v0 = false): Promise<{ alice: Page; bob: Page; aliceSid: string; bobSid: string }> {
  const room = `${name}-${Date.now()}`;
  const alice = await ctx.browser.newPage(PROBE_SCRIPT);
  const bob = await ctx.browser.newPage(PROBE_SCRIPT);
  const aliceSid = await join(alice, await joinToken(room, 'alice'), v0);
  const bobSid = await join(bob, await joinToken(room, 'bob'), v0);
  await alice.evaluate(async () => (globalThis as any).room.localParticipant.enableCameraAndMicrophone());
  await videoFlows(bob, 15_000, 30);
  return { alice, bob, aliceSid, bobSid };
}

async function leave(...pages: Page[]): Promise<void> {
  for (const page of pages) {
    await page.evaluate(async () => (globalThis as any).room.disconnect());
    await page.close();
  }
}

/**
 * `resuming` loses its signal socket; `other` sends it 5 reliable packets during the gap.
 * Returns the time from the fault to Reconnected, ms.
 */
async function signalReconnect(resuming: Page, other: Page, identity: string, tag: string): Promise<number> {
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

/** Each side of a room loses its signal socket once: both resume in place, media and data carry on. */
async function resumeBothSides(v0: boolean): Promise<{ alice: Page; bob: Page; publisherMs: number; subscriberMs: number }> {
  const { alice, bob, aliceSid, bobSid } = await aliceAndBob(v0 ? 'resume-v0' : 'resume', v0);
  const restartsBefore = await iceRestarts();

  // The publisher loses its signal socket.
  const publisherMs = await signalReconnect(alice, bob, 'alice', 'to-alice');
  assert.equal(await alice.evaluate(() => (globalThis as any).room.localParticipant.sid), aliceSid, 'alice keeps her sid');
  await videoFlows(bob, 3000);
  await waitFor(async () => (await seen(alice)).data.length >= 5, 5000, 'alice to get the data sent during the gap');
  assert.deepEqual((await seen(alice)).data, ['to-alice-1', 'to-alice-2', 'to-alice-3', 'to-alice-4', 'to-alice-5']);

  // The subscriber loses its signal socket.
  const subscriberMs = await signalReconnect(bob, alice, 'bob', 'to-bob');
  assert.equal(await bob.evaluate(() => (globalThis as any).room.localParticipant.sid), bobSid, 'bob keeps his sid');
  await videoFlows(bob, 3000);
  await waitFor(async () => (await seen(bob)).data.length >= 5, 5000, 'bob to get the data sent during the gap');
  assert.deepEqual((await seen(bob)).data, ['to-bob-1', 'to-bob-2', 'to-bob-3', 'to-bob-4', 'to-bob-5']);

  // Nobody saw anybody leave or come back, and no client data channel closed.
  for (const page of [alice, bob]) {
    const s = await seen(page);
    assert.deepEqual(s.left, [], 'no ParticipantDisconnected');
    assert.deepEqual(s.joined, page === alice ? ['bob'] : [], 'no ParticipantConnected after the join');
    for (const c of (await readProbe(page)).channels) assert.ok(!c.events.some((e) => e.startsWith('close')), `${c.label} stayed open: ${c.events.join(' ')}`);
  }
  // Each resume restarted ICE (v0: Strand's subscriber offer as well), each time on a new
  // native connection.
  assert.ok((await iceRestarts()) >= restartsBefore + (v0 ? 3 : 2), 'ICE restarts answered with new native connections');
  return { alice, bob, publisherMs, subscriberMs };
}

test('v1: signal loss on the publisher and on the subscriber: both resume in place, media and data carry on', { timeout: 180_000 }, async () => {
  const { alice, bob, publisherMs, subscriberMs } = await resumeBothSides(false);
  console.log(`resume (signal loss → Reconnected): publisher ${publisherMs.toFixed(0)} ms, subscriber ${subscriberMs.toFixed(0)} ms`);

  // More resumes of the subscriber, for the timing; the longest gap between two decoded frames
  // at the subscriber while it resumes shows whether media ever stopped.
  const times: number[] = [subscriberMs];
  const freezes: number[] = [];
  for (let i = 0; i < 6; i++) {
    await bob.evaluate(() => {
      const w = globalThis as any;
      w.freeze = { last: 0, lastAt: performance.now(), longest: 0 };
      w.freezeTimer = setInterval(async () => {
        let frames = 0;
        for (const p of w.room.remoteParticipants.values()) {
          for (const pub of p.trackPublications.values()) {
            (await pub.track?.receiver?.getStats())?.forEach((s: any) => { if (s.type === 'inbound-rtp' && s.kind === 'video') frames += s.framesDecoded ?? 0; });
          }
        }
        const now = performance.now();
        if (frames > w.freeze.last) {
          w.freeze.longest = Math.max(w.freeze.longest, now - w.freeze.lastAt);
          w.freeze.last = frames;
          w.freeze.lastAt = now;
        }
      }, 20);
    });
    times.push(await signalReconnect(bob, alice, 'bob', `timing${i}`));
    await videoFlows(bob, 3000);
    freezes.push(await bob.evaluate(() => {
      const w = globalThis as any;
      clearInterval(w.freezeTimer);
      return w.freeze.longest as number;
    }));
  }
  console.log(`resume time over ${times.length} subscriber resumes: p50 ${quantile(times, 0.5).toFixed(0)} ms, p99 ${quantile(times, 0.99).toFixed(0)} ms; ` +
    `longest video freeze at the subscriber: p50 ${quantile(freezes, 0.5).toFixed(0)} ms, p99 ${quantile(freezes, 0.99).toFixed(0)} ms`);
  await leave(alice, bob);
});

test('v0: signal loss on the publisher and on the subscriber: both resume in place, media and data carry on', { timeout: 120_000 }, async () => {
  const { alice, bob, publisherMs, subscriberMs } = await resumeBothSides(true);
  console.log(`v0 resume (signal loss → Reconnected): publisher ${publisherMs.toFixed(0)} ms, subscriber ${subscriberMs.toFixed(0)} ms`);
  await leave(alice, bob);
});

test('a PeerConnection failure while the signal socket stays up: ICE restart, media back within 5 s, same sid', { timeout: 90_000 }, async () => {
  const { alice, bob, aliceSid } = await aliceAndBob('pc-failure');
  const restartsBefore = await iceRestarts();
  const before = await seen(alice);
  const failedAt = Date.now();
  // The SDK reacts to its PeerConnection reporting "failed" (it cannot be made to fail on loopback
  // quickly): it resumes with a reconnect reason of PUBLISHER_FAILED and restarts ICE.
  await alice.evaluate(() => {
    const pc = (globalThis as any).room.engine.pcManager.publisher._pc;
    Object.defineProperty(pc, 'connectionState', { configurable: true, get: () => 'failed' });
    pc.dispatchEvent(new (globalThis as any).Event('connectionstatechange'));
    delete pc.connectionState;
  });
  await waitFor(async () => (await seen(alice)).reconnected > before.reconnected, 15_000, 'alice to reconnect', 50);
  await waitFor(async () => (await iceRestarts()) > restartsBefore, 5000, 'an ICE restart on a new native connection');
  await videoFlows(bob, Math.max(500, 5000 - (Date.now() - failedAt)));
  assert.equal(await alice.evaluate(() => (globalThis as any).room.localParticipant.sid), aliceSid);
  assert.deepEqual((await seen(bob)).left, []);
  console.log(`PeerConnection failure → media flowing again after ${Date.now() - failedAt} ms`);
  await leave(alice, bob);
});

test('a resume of a session Strand no longer has gets leave RECONNECT, and the full reconnect works', { timeout: 90_000 }, async () => {
  const { alice, bob, aliceSid } = await aliceAndBob('full-reconnect');
  const before = await seen(alice);
  // node-failure: Strand drops the session without a word; the client's resume finds nothing.
  await alice.evaluate(async () => (globalThis as any).room.simulateScenario('node-failure'));
  await waitFor(async () => (await seen(alice)).reconnected > before.reconnected, 20_000, 'alice to reconnect', 50);
  const sid = await alice.evaluate(() => (globalThis as any).room.localParticipant.sid as string);
  assert.match(sid, /^PA_/);
  assert.notEqual(sid, aliceSid, 'a full reconnect is a new session');
  assert.equal(await alice.evaluate(() => (globalThis as any).room.state), 'connected');
  // Her tracks were published again, and bob receives them.
  await videoFlows(bob, 15_000);
  await leave(alice, bob);
});
