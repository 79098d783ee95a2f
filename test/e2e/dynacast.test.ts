// REMB and dynacast seen from the publishing browser: it is not bandwidth-limited on
// loopback, and it stops encoding the high layer once nobody needs it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import { connectRoom, leaveAll, publishCamera, useStrandAndBrowser } from '../helpers/e2e.js';
import { joinToken } from '../helpers/tokens.js';
import { waitFor } from '../helpers/wait.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- page-side code runs in the browser */

const ctx = useStrandAndBrowser();

/** Per simulcast rid of the published camera: frames encoded and the limitation reason. */
async function outbound(page: Page): Promise<Record<string, { frames: number; reason: string; width: number }>> {
  return page.evaluate(async () => {
    const out: Record<string, { frames: number; reason: string; width: number }> = {};
    for (const pub of (globalThis as any).room.localParticipant.trackPublications.values()) {
      if (pub.kind !== 'video' || !pub.track?.sender) continue;
      (await pub.track.sender.getStats()).forEach((s: any) => {
        if (s.type === 'outbound-rtp' && s.rid) out[s.rid] = { frames: s.framesEncoded ?? 0, reason: s.qualityLimitationReason ?? '', width: s.frameWidth ?? 0 };
      });
    }
    return out;
  });
}

test('the publisher is not bandwidth-limited, and stops the f layer when its only subscriber disables it', { timeout: 120_000 }, async () => {
  const room = `dynacast-${Date.now()}`;
  const pub = await ctx.browser.newPage();
  await connectRoom(pub, ctx.strand.url, await joinToken(room, 'publisher'), { dynacast: true });
  await publishCamera(pub);
  const sub = await ctx.browser.newPage();
  await connectRoom(sub, ctx.strand.url, await joinToken(room, 'viewer'), { adaptiveStream: false });

  // REMB: with Strand's estimate the encoder reaches the full 1280-wide layer and is not
  // limited by bandwidth (without REMB Chromium caps itself near 300 kbit/s).
  const running = await waitFor(async () => {
    const s = await outbound(pub);
    return s.f && s.f.width >= 1280 && s.f.frames > 30 ? s : null;
  }, 30_000, 'the f layer to encode at 1280 wide', 500);
  await new Promise((r) => setTimeout(r, 2000));
  const settled = await outbound(pub);
  console.log(`publisher layers: ${Object.entries(settled).map(([rid, s]) => `${rid} ${s.width}px ${s.reason}`).join(', ')}`);
  for (const [rid, s] of Object.entries(settled)) assert.notEqual(s.reason, 'bandwidth', `layer ${rid}`);
  assert.ok(running.f!.frames > 0);

  // Dynacast: the only subscriber disables the track; within 10 s f stops encoding.
  await sub.evaluate(() => {
    for (const p of (globalThis as any).room.remoteParticipants.values()) {
      for (const publication of p.trackPublications.values()) if (publication.kind === 'video') publication.setEnabled(false);
    }
  });
  const disabledAt = Date.now();
  await waitFor(async () => {
    const a = (await outbound(pub)).f?.frames ?? 0;
    await new Promise((r) => setTimeout(r, 1000));
    const b = (await outbound(pub)).f?.frames ?? 0;
    return b === a;
  }, 10_000, 'the publisher to stop encoding f', 0);
  console.log(`f layer stopped ${Date.now() - disabledAt} ms after the subscriber disabled the track`);

  await leaveAll([pub, sub]);
});
