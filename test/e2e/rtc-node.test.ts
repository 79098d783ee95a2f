// @livekit/rtc-node and a browser in one room: each hears the other's audio through Strand.
import { after, test } from 'node:test';
import { dispose } from '@livekit/rtc-node';
import { useStrandAndBrowser } from '../helpers/e2e.js';
import { NodeParticipant } from '../helpers/rtc-node.js';
import { joinToken } from '../helpers/tokens.js';
import { waitFor } from '../helpers/wait.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- page-side code runs in the browser */

const ctx = useStrandAndBrowser();
after(async () => {
  await dispose();
});

test('rtc-node publishes a tone the browser receives, and hears the browser microphone', { timeout: 90_000 }, async () => {
  const room = `node-${Date.now()}`;
  const page = await ctx.browser.newPage();
  await page.evaluate(async ({ url, token }) => {
    const LK = (globalThis as any).LivekitClient;
    const r = new LK.Room();
    (globalThis as any).room = r;
    r.on(LK.RoomEvent.TrackSubscribed, (track: any) => {
      const el = track.attach();
      (globalThis as any).document.body.appendChild(el);
    });
    await r.connect(url, token);
    await r.localParticipant.setMicrophoneEnabled(true);
  }, { url: ctx.strand.url, token: await joinToken(room, 'browser') });

  const node = new NodeParticipant();
  try {
    await node.connect(ctx.strand.url, await joinToken(room, 'node-bot'));
    await node.publishTone();

    const browserPackets = await waitFor(() => page.evaluate(async () => {
      let packets = 0;
      for (const p of (globalThis as any).room.remoteParticipants.values()) {
        for (const pub of p.trackPublications.values()) {
          const stats = await pub.track?.receiver?.getStats();
          stats?.forEach((s: any) => { if (s.type === 'inbound-rtp' && s.kind === 'audio') packets += s.packetsReceived ?? 0; });
        }
      }
      return packets >= 100 ? packets : 0;
    }), 20_000, 'the browser to receive the node tone', 250);
    const nodeFrames = await waitFor(() => (node.totalFrames() >= 100 ? node.totalFrames() : 0), 20_000, 'rtc-node to receive browser audio');
    console.log(`browser received ${browserPackets} audio packets from rtc-node; rtc-node received ${nodeFrames} audio frames`);
  } finally {
    await node.close();
    await page.evaluate(async () => (globalThis as any).room.disconnect());
    await page.close();
  }
});
