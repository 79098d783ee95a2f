// /dashboard in Chromium: with two participants publishing, the page shows the room, both
// participants, their tracks with bitrates above zero that change from one second to the next,
// and the worker panel; a screenshot is kept. Outside --dev, the page and its stream need an
// admin token.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { connectRoom, leaveAll, publishCamera, useStrandAndBrowser } from '../helpers/e2e.js';
import { startStrand } from '../helpers/strand-process.js';
import { joinToken } from '../helpers/tokens.js';
import { waitFor } from '../helpers/wait.js';
import { signToken } from '../../src/main/auth/token-signer.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- page-side code runs in the browser */

const ctx = useStrandAndBrowser({ workers: 2 });

test('the dashboard shows the room, both publishers, live track bitrates and the workers', { timeout: 90_000 }, async () => {
  const room = `dash-${Date.now()}`;
  const pages = [await ctx.browser.newPage(), await ctx.browser.newPage()];
  for (const [i, page] of pages.entries()) {
    await connectRoom(page, ctx.strand.url, await joinToken(room, ['alice', 'bob'][i]!));
    await page.evaluate(() => (globalThis as any).room.localParticipant.setMicrophoneEnabled(true));
    await publishCamera(page);
  }
  const dash = await ctx.browser.newPage();
  await dash.goto(`${ctx.strand.httpUrl}/dashboard`);
  const bitrates = () => dash.evaluate((name) => {
    const panel = (globalThis as any).document.querySelector(`[data-room="${name}"]`);
    if (!panel) return null;
    const rows = [...panel.querySelectorAll('tr[data-track]')] as any[];
    return {
      participants: [...panel.querySelectorAll('[data-participant]')].map((e: any) => e.dataset.participant).sort(),
      tracks: Object.fromEntries(rows.map((r) => [r.dataset.track, Number(r.dataset.bitrate)])) as Record<string, number>,
      video: rows.filter((r) => r.dataset.kind === 'video').map((r) => Number(r.dataset.bitrate)),
    };
  }, room);
  const first = await waitFor(async () => {
    const b = await bitrates();
    return b && b.participants.length === 2 && Object.keys(b.tracks).length === 4 && Object.values(b.tracks).every((v) => v > 0) ? b : null;
  }, 30_000, 'the room, both participants and four tracks with bitrates', 500);
  assert.deepEqual(first.participants, ['alice', 'bob']);
  await new Promise((r) => setTimeout(r, 3000));
  const later = (await bitrates())!;
  const changed = Object.keys(first.tracks).filter((sid) => later.tracks[sid] !== first.tracks[sid]);
  assert.ok(changed.length > 0, `bitrates change over 3 s: ${JSON.stringify(first.tracks)} → ${JSON.stringify(later.tracks)}`);
  assert.ok(later.video.every((v) => v > 100_000), `video above 100 kbit/s: ${later.video.join(', ')}`);
  const workers = await dash.evaluate(() => [...(globalThis as any).document.querySelectorAll('#workers tr[data-worker]')].map((r: any) => r.textContent as string));
  assert.equal(workers.length, 2, 'one row per media worker');
  const shot = join(mkdtempSync(join(tmpdir(), 'strand-dashboard-')), 'dashboard.png');
  await dash.screenshot({ path: shot, fullPage: true });
  console.log(`dashboard: ${Object.keys(first.tracks).length} tracks, video ${later.video.map((v) => Math.round(v / 1000)).join(', ')} kbit/s; screenshot ${shot}`);
  await dash.close();
  await leaveAll(pages);
});

test('outside --dev the dashboard needs an admin token', { timeout: 30_000 }, async () => {
  const key = 'APIdash';
  const secret = 'a-dashboard-test-secret-that-is-long-enough';
  const strand = await startStrand({ workers: 1, args: ['--keys', `${key}: ${secret}`, '--config-body', 'development: false'] });
  try {
    for (const path of ['/dashboard', '/dashboard/stream']) {
      assert.equal((await fetch(`${strand.httpUrl}${path}`)).status, 401, `${path} without a token`);
      const joinOnly = signToken(key, secret, { identity: 'x', video: { roomJoin: true, room: 'r' } }, 60);
      assert.equal((await fetch(`${strand.httpUrl}${path}?token=${joinOnly}`)).status, 403, `${path} with a join token`);
    }
    const admin = signToken(key, secret, { video: { roomList: true } }, 60);
    const page = await fetch(`${strand.httpUrl}/dashboard?token=${admin}`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /EventSource\('\/dashboard\/stream' \+ location\.search\)/);
    const stream = await fetch(`${strand.httpUrl}/dashboard/stream?token=${admin}`);
    assert.equal(stream.headers.get('content-type'), 'text/event-stream');
    const reader = stream.body!.getReader();
    let text = '';
    while (!text.includes('data: ')) text += new TextDecoder().decode((await reader.read()).value);
    await reader.cancel();
    assert.match(text, /"workers":\[/);
  } finally {
    assert.equal(await strand.stop(), 0, strand.stderr());
  }
});
