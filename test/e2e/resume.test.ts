// Sessions survive network faults: livekit-client (default options, v1) resumes after losing its
// signal socket, on the publisher and on the subscriber side, and after its PeerConnection fails
// while the socket is up. Each resume restarts ICE, which Strand answers with a new native
// connection: same sid, nobody sees the participant leave, video decodes again, and reliable
// data sent to the participant meanwhile arrives once, in order. A resume of a session Strand
// no longer has ends in a full reconnect.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { useStrandAndBrowser } from '../helpers/e2e.js';
import { quantile } from '../helpers/page-probes.js';
import { aliceAndBob, iceRestarts, leave, resumeBothSides, seen, signalReconnect, videoFlows } from '../helpers/resume.js';
import { waitFor } from '../helpers/wait.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- page-side code runs in the browser */

const ctx = useStrandAndBrowser();

test('v1: signal loss on the publisher and on the subscriber: both resume in place, media and data carry on', { timeout: 180_000 }, async () => {
  const { alice, bob, publisherMs, subscriberMs } = await resumeBothSides(ctx, false);
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
  const { alice, bob, publisherMs, subscriberMs } = await resumeBothSides(ctx, true);
  console.log(`v0 resume (signal loss → Reconnected): publisher ${publisherMs.toFixed(0)} ms, subscriber ${subscriberMs.toFixed(0)} ms`);
  await leave(alice, bob);
});

test('a PeerConnection failure while the signal socket stays up: ICE restart, media back within 5 s, same sid', { timeout: 90_000 }, async () => {
  const { alice, bob, aliceSid } = await aliceAndBob(ctx, 'pc-failure');
  const restartsBefore = await iceRestarts(ctx);
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
  await waitFor(async () => (await iceRestarts(ctx)) > restartsBefore, 5000, 'an ICE restart on a new native connection');
  await videoFlows(bob, Math.max(500, 5000 - (Date.now() - failedAt)));
  assert.equal(await alice.evaluate(() => (globalThis as any).room.localParticipant.sid), aliceSid);
  assert.deepEqual((await seen(bob)).left, []);
  console.log(`PeerConnection failure → media flowing again after ${Date.now() - failedAt} ms`);
  await leave(alice, bob);
});

test('a resume of a session Strand no longer has gets leave RECONNECT, and the full reconnect works', { timeout: 90_000 }, async () => {
  const { alice, bob, aliceSid } = await aliceAndBob(ctx, 'full-reconnect');
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
