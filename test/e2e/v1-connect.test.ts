// livekit-client with its default Room options connects on /rtc/v1 with one RTCPeerConnection,
// 20 times in a row; join time (WebSocket open to the first connected PeerConnection) is
// printed for v1 and for v0 (/rtc, two PeerConnections) side by side.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import { useStrandAndBrowser } from '../helpers/e2e.js';
import { PROBE_SCRIPT, quantile, readProbe } from '../helpers/page-probes.js';
import { joinToken } from '../helpers/tokens.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- page-side code runs in the browser */

const ctx = useStrandAndBrowser();
const CONNECTS = 20;

/** Connects and disconnects `CONNECTS` times; returns each attempt's sockets, PCs and join time. */
async function connectRepeatedly(page: Page, url: string, room: string, v0: boolean): Promise<number[]> {
  const joinMs: number[] = [];
  for (let i = 0; i < CONNECTS; i++) {
    const token = await joinToken(room, `${v0 ? 'v0' : 'v1'}-user-${i}`);
    const before = await readProbe(page);
    const result = await page.evaluate(async ({ url, token, v0 }) => {
      const LK = (globalThis as any).LivekitClient;
      const r = new LK.Room(v0 ? { singlePeerConnection: false } : {});
      try {
        await r.connect(url, token);
        // Room.connect resolves once the primary connection is up.
        return { sid: r.localParticipant.sid as string, error: '' };
      } catch (err) {
        return { sid: '', error: String((err as Error).message) };
      } finally {
        await r.disconnect();
      }
    }, { url, token, v0 });
    assert.match(result.sid, /^PA_/, `connect ${i + 1} failed: ${result.error}`);
    const after = await readProbe(page);
    const sockets = after.sockets.slice(before.sockets.length);
    const pcs = after.pcs.slice(before.pcs.length);
    assert.equal(sockets.length, 1, `connect ${i + 1}: one signal socket (${sockets.map((s) => s.url).join(', ')})`);
    assert.match(sockets[0]!.url, v0 ? /\/rtc\?/ : /\/rtc\/v1\?/, `connect ${i + 1} used ${sockets[0]!.url}`);
    assert.equal(pcs.length, v0 ? 2 : 1, `connect ${i + 1}: RTCPeerConnections created`);
    const connected = pcs.map((p) => p.connectedAt).filter((t) => t > 0);
    assert.ok(connected.length > 0, `connect ${i + 1}: a PeerConnection connected`);
    joinMs.push(Math.min(...connected) - sockets[0]!.openedAt);
  }
  return joinMs;
}

test(`${CONNECTS} default connects in a row use /rtc/v1 and one RTCPeerConnection; join time v1 vs v0`, { timeout: 240_000 }, async () => {
  const page = await ctx.browser.newPage(PROBE_SCRIPT);
  const v1 = await connectRepeatedly(page, ctx.strand.url, `v1-connect-${Date.now()}`, false);
  const v0 = await connectRepeatedly(page, ctx.strand.url, `v0-connect-${Date.now()}`, true);
  const fmt = (xs: number[]) => `p50 ${quantile(xs, 0.5).toFixed(0)} ms, p99 ${quantile(xs, 0.99).toFixed(0)} ms`;
  console.log(`join time (WebSocket open → PeerConnection connected), ${CONNECTS} joins each: v1 ${fmt(v1)}; v0 ${fmt(v0)}`);
  await page.close();
});
