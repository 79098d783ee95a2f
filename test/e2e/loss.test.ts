// 5% loss between Strand and one subscriber (test-only drop hook in its downtracks): video
// keeps decoding because Strand answers the subscriber's NACKs with RTX from its cache.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import { connectRoom, leaveAll, useStrandAndBrowser } from '../helpers/e2e.js';
import { startStrand, workerStats, type StrandProcess } from '../helpers/strand-process.js';
import { joinToken } from '../helpers/tokens.js';
import { waitFor } from '../helpers/wait.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- page-side code runs in the browser */

const ctx = useStrandAndBrowser({ env: { STRAND_TEST_DOWNTRACK_LOSS: 'lossy:0.05' } });

async function join(page: Page, token: string, url = ctx.strand.url): Promise<void> {
  await connectRoom(page, url, token, { adaptiveStream: false, dynacast: false });
}

async function decoded(page: Page): Promise<{ frames: number; nacks: number }> {
  return page.evaluate(async () => {
    let frames = 0;
    let nacks = 0;
    for (const p of (globalThis as any).room.remoteParticipants.values()) {
      for (const pub of p.trackPublications.values()) {
        if (pub.kind !== 'video' || !pub.track?.receiver) continue;
        (await pub.track.receiver.getStats()).forEach((s: any) => {
          if (s.type === 'inbound-rtp') { frames += s.framesDecoded ?? 0; nacks += s.nackCount ?? 0; }
        });
      }
    }
    return { frames, nacks };
  });
}

const statsOf = (server: StrandProcess = ctx.strand) => workerStats(server.httpUrl);

test('with 5% downstream loss video keeps decoding (≥ 80% of a clean subscriber) and NACKs are answered', { timeout: 120_000 }, async () => {
  const room = `loss-${Date.now()}`;
  const pub = await ctx.browser.newPage();
  await join(pub, await joinToken(room, 'publisher'));
  await pub.evaluate(async () => {
    await (globalThis as any).room.localParticipant.setCameraEnabled(true);
  });
  const clean = await ctx.browser.newPage();
  const lossy = await ctx.browser.newPage();
  await join(clean, await joinToken(room, 'clean'));
  await join(lossy, await joinToken(room, 'lossy-subscriber'));
  await waitFor(async () => (await decoded(clean)).frames > 30 && (await decoded(lossy)).frames > 0, 30_000, 'both subscribers to decode', 500);

  const c0 = await decoded(clean);
  const l0 = await decoded(lossy);
  await new Promise((r) => setTimeout(r, 10_000));
  const c1 = await decoded(clean);
  const l1 = await decoded(lossy);
  const cleanRate = (c1.frames - c0.frames) / 10;
  const lossyRate = (l1.frames - l0.frames) / 10;
  const [stats] = await statsOf();
  console.log(`frames/s clean ${cleanRate.toFixed(1)}, lossy ${lossyRate.toFixed(1)} (${((100 * lossyRate) / cleanRate).toFixed(0)}%); ` +
    `browser NACKs ${l1.nacks}; Strand: ${stats!.testDrops} dropped, ${stats!.nacks} NACKed, ${stats!.retransmits} retransmitted, ${stats!.retransmitMisses} missed`);
  assert.ok(cleanRate > 5, `clean subscriber decodes (${cleanRate} frames/s)`);
  assert.ok(lossyRate >= 0.8 * cleanRate, `lossy subscriber decoded ${lossyRate} frames/s vs ${cleanRate}`);
  assert.ok(stats!.testDrops > 0, 'the drop hook dropped packets');
  assert.ok(stats!.nacks > 0 && stats!.retransmits > 0, 'Strand answered NACKs with retransmissions');

  await leaveAll([pub, clean, lossy]);
});

test('with 5% loss between publisher and Strand, Strand NACKs upstream and the subscriber keeps decoding', { timeout: 120_000 }, async () => {
  const lossy = await startStrand({ workers: 1, env: { STRAND_TEST_UPSTREAM_LOSS: '0.05' } });
  try {
    const room = `upstream-${Date.now()}`;
    const pub = await ctx.browser.newPage();
    await join(pub, await joinToken(room, 'publisher'), lossy.url);
    await pub.evaluate(async () => {
      await (globalThis as any).room.localParticipant.setCameraEnabled(true);
    });
    const sub = await ctx.browser.newPage();
    await join(sub, await joinToken(room, 'viewer'), lossy.url);
    const encodedF = () => pub.evaluate(async () => {
      let frames = 0;
      for (const p of (globalThis as any).room.localParticipant.trackPublications.values()) {
        if (p.kind !== 'video') continue;
        (await p.track.sender.getStats()).forEach((s: any) => { if (s.type === 'outbound-rtp' && s.rid === 'f') frames = s.framesEncoded ?? 0; });
      }
      return frames;
    });
    await waitFor(async () => (await decoded(sub)).frames > 30, 30_000, 'the viewer to decode', 500);
    const [s0, e0] = [await decoded(sub), await encodedF()];
    await new Promise((r) => setTimeout(r, 10_000));
    const [s1, e1] = [await decoded(sub), await encodedF()];
    const decodedRate = (s1.frames - s0.frames) / 10;
    const encodedRate = (e1 - e0) / 10;
    const [stats] = await statsOf(lossy);
    console.log(`upstream loss: publisher encoded ${encodedRate.toFixed(1)} frames/s on f, viewer decoded ${decodedRate.toFixed(1)} ` +
      `(${((100 * decodedRate) / encodedRate).toFixed(0)}%); Strand: ${stats!.testDrops} dropped, ${stats!.upstreamLost} found missing, ` +
      `${stats!.upstreamNacks} NACKed upstream, ${stats!.upstreamRepaired} repaired, ${stats!.repairsForwarded} forwarded at once, ` +
      `${stats!.retransmits} RTX sent to the viewer`);
    assert.ok(encodedRate > 5);
    assert.ok(decodedRate >= 0.8 * encodedRate, `viewer decoded ${decodedRate} of ${encodedRate} frames/s`);
    assert.ok(stats!.upstreamNacks > 0 && stats!.upstreamRepaired > 0, 'Strand NACKed the publisher and got repairs');
    await leaveAll([pub, sub]);
  } finally {
    assert.equal(await lossy.stop(), 0, lossy.stderr());
  }
});
