// SIGTERM with shutdown.drain, as livekit-client sees it: the server's leave with RECONNECT makes
// the SDK start reconnecting (elsewhere, behind a load balancer), and the drained server exits 0.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { test } from 'node:test';
import { launchBrowser } from '../helpers/browser.js';
import { connectRoom } from '../helpers/e2e.js';
import { startStrand } from '../helpers/strand-process.js';
import { joinToken } from '../helpers/tokens.js';
import { waitFor } from '../helpers/wait.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- page-side code runs in the browser */

test('shutdown.drain: livekit-client participants are told to reconnect, and the server exits 0', { timeout: 60_000 }, async () => {
  const strand = await startStrand({ workers: 1, args: ['--config-body', 'shutdown: { drain: true, timeout: 10 }'] });
  const browser = await launchBrowser();
  try {
    const pages = [await browser.newPage(), await browser.newPage()];
    for (const [i, page] of pages.entries()) {
      await connectRoom(page, strand.url, await joinToken('drain-room', ['alice', 'bob'][i]!));
      await page.evaluate(() => {
        const w = globalThis as any;
        w.events = [];
        w.room.on(w.LivekitClient.RoomEvent.Reconnecting, () => w.events.push('reconnecting'));
        w.room.on(w.LivekitClient.RoomEvent.Disconnected, (reason: number) => w.events.push(`disconnected:${reason}`));
      });
    }
    const exited = once(strand.child, 'exit');
    strand.child.kill('SIGTERM');
    for (const page of pages) {
      const events = await waitFor(() => page.evaluate(() => ((globalThis as any).events.length ? (globalThis as any).events as string[] : null)), 10_000,
        'the SDK to react to the leave', 100);
      assert.equal(events[0], 'reconnecting', `the SDK reconnects rather than giving up: ${events.join(', ')}`);
    }
    const [code] = await exited as [number | null];
    assert.equal(code, 0, strand.stderr());
    assert.match(strand.stdout(), /"msg":"drained"/);
  } finally {
    await browser.close();
    await strand.stop('SIGKILL');
  }
});
