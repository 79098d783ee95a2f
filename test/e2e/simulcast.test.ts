// Simulcast: subscribers get the layer their element needs (adaptive stream), and a resize
// switches layers within seconds without freezing the picture.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import { connectRoom, leaveAll, publishCamera, remoteVideo, useStrandAndBrowser } from '../helpers/e2e.js';
import { joinToken } from '../helpers/tokens.js';
import { waitFor } from '../helpers/wait.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- page-side code runs in the browser */

const ctx = useStrandAndBrowser();

/** Joins with adaptive stream and renders remote video into a fixed-size element. */
async function subscriber(page: Page, token: string, width: number, height: number): Promise<void> {
  await page.evaluate(async ({ url, token, width, height }) => {
    const LK = (globalThis as any).LivekitClient;
    const doc = (globalThis as any).document;
    const room = new LK.Room({ adaptiveStream: true, dynacast: true });
    (globalThis as any).room = room;
    room.on(LK.RoomEvent.TrackSubscribed, (track: any) => {
      if (track.kind !== 'video') return;
      const el = track.attach();
      el.id = 'remote';
      el.muted = true;
      el.style.cssText = `position:absolute;left:0;top:0;width:${width}px;height:${height}px`;
      doc.body.appendChild(el);
    });
    await room.connect(url, token);
  }, { url: ctx.strand.url, token, width, height });
}

const videoStats = remoteVideo;

test('a 320×180 element gets the low layer, a 1280×720 element the high one, and a resize switches', { timeout: 120_000 }, async () => {
  const room = `simulcast-${Date.now()}`;
  const publisher = await ctx.browser.newPage();
  await connectRoom(publisher, ctx.strand.url, await joinToken(room, 'pub'), { dynacast: true });
  await publishCamera(publisher);

  const small = await ctx.browser.newPage();
  const large = await ctx.browser.newPage();
  await subscriber(small, await joinToken(room, 'small'), 320, 180);
  await subscriber(large, await joinToken(room, 'large'), 1280, 720);

  const high = await waitFor(async () => {
    const s = await videoStats(large);
    return s.frameWidth >= 1280 ? s : null;
  }, 30_000, 'the 1280×720 subscriber to receive 1280-wide frames', 500);
  const low = await waitFor(async () => {
    const s = await videoStats(small);
    return s.framesDecoded > 30 && s.frameWidth > 0 && s.frameWidth <= 400 ? s : null;
  }, 20_000, 'the 320×180 subscriber to receive ~320-wide frames', 500);
  console.log(`small element: ${low.frameWidth}px, large element: ${high.frameWidth}px`);
  // TrackInfo carries the three layers with the SSRCs Strand learned for them.
  const layers: Array<{ rid: string; ssrc: number }> = await large.evaluate(() => {
    for (const p of (globalThis as any).room.remoteParticipants.values()) {
      for (const pub of p.trackPublications.values()) {
        if (pub.kind === 'video') return (pub.trackInfo?.layers ?? []).map((l: any) => ({ rid: l.rid as string, ssrc: l.ssrc as number }));
      }
    }
    return [];
  });
  assert.deepEqual(layers.map((l) => l.rid), ['q', 'h', 'f']);
  assert.ok(layers.every((l) => l.ssrc > 0), `layer SSRCs ${JSON.stringify(layers)}`);

  // Resize the small element: within 3 s it gets 1280-wide frames, with at most one freeze.
  const before = await videoStats(small);
  await small.evaluate(() => {
    const el = (globalThis as any).document.getElementById('remote');
    el.style.width = '1280px';
    el.style.height = '720px';
  });
  const started = Date.now();
  const switched = await waitFor(async () => {
    const s = await videoStats(small);
    return s.frameWidth >= 1280 ? s : null;
  }, 3000 + 2000, 'the resized subscriber to switch to the high layer', 200);
  const tookMs = Date.now() - started;
  await new Promise((r) => setTimeout(r, 1000));
  const afterSwitch = await videoStats(small);
  console.log(`switched to ${switched.frameWidth}px in ${tookMs} ms; freezeCount ${before.freezeCount} → ${afterSwitch.freezeCount}`);
  assert.ok(tookMs <= 3000, `switch took ${tookMs} ms`);
  assert.ok(afterSwitch.freezeCount - before.freezeCount <= 1, `freezeCount went ${before.freezeCount} → ${afterSwitch.freezeCount}`);
  assert.ok(afterSwitch.framesDecoded > switched.framesDecoded, 'video keeps decoding after the switch');

  await leaveAll([publisher, small, large]);
});
