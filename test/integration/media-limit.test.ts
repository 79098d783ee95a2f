// limit.media_bytes_per_second: a publisher sending more than its limit is cut there, before
// its packets fan out; the drops are counted, it stays in the room, and another publisher in
// the room, within the limit, loses nothing. Bots on node-datachannel play the participants.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Bot } from '../../src/loadtest/bot.js';
import { releaseNodeDataChannel } from '../helpers/native-cleanup.js';
import { scrapeMetrics, total } from '../helpers/prometheus-text.js';
import { startStrand, type StrandProcess } from '../helpers/strand-process.js';
import { joinToken } from '../helpers/tokens.js';
import { waitFor } from '../helpers/wait.js';

/** 40 kB/s: the heavy publisher's 1.5 Mbit/s video is over it, an audio track (about 6 kB/s) is not. */
const LIMIT = 40_000;
let strand: StrandProcess;

before(async () => {
  strand = await startStrand({ workers: 1, args: ['--config-body', `limit: { media_bytes_per_second: ${LIMIT} }`] });
});

after(async () => {
  assert.equal(await strand.stop(), 0, strand.stderr());
  await releaseNodeDataChannel();
});

async function dropped(): Promise<number> {
  return total(await scrapeMetrics(strand.httpUrl), 'strand_media_packets_dropped_total');
}

test('a publisher over limit.media_bytes_per_second is cut to it and counted; a publisher within it loses nothing', { timeout: 60_000 }, async () => {
  const room = `media-limit-${Date.now()}`;
  const heavy = new Bot('heavy');
  const light = new Bot('light');
  const viewer = new Bot('viewer');
  try {
    await heavy.join(strand.url, await joinToken(room, 'heavy'));
    await heavy.publish({ audio: true, video: true, videoBitrate: 1_500_000 });
    await light.join(strand.url, await joinToken(room, 'light'));
    await light.publish({ audio: true, video: false });
    await viewer.join(strand.url, await joinToken(room, 'viewer'));
    const meters = () => [...viewer.received.values()];
    await waitFor(() => meters().length === 3 && meters().every((t) => t.packets > 20), 20_000, 'the viewer receiving three tracks');

    // A window after the first second's burst: what arrives is within the limit.
    await new Promise((r) => setTimeout(r, 1500));
    const droppedBefore = await dropped();
    const start = meters().map((t) => ({ packets: t.packets, bytes: t.bytes, lost: t.lost }));
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, 3000));
    const seconds = (performance.now() - t0) / 1000;
    const window = meters().map((t, i) => ({ kind: t.kind, packets: t.packets - start[i]!.packets, bytes: t.bytes - start[i]!.bytes, lost: t.lost - start[i]!.lost }));
    const drops = (await dropped()) - droppedBefore;
    console.log(`media limit ${LIMIT} B/s over ${seconds.toFixed(1)} s: ${window.map((w) => `${w.kind} ${w.packets} packets ${w.bytes} B ${w.lost} lost`).join('; ')}; ${drops} dropped`);

    const video = window.find((w) => w.kind === 'video')!;
    assert.ok(video.bytes <= LIMIT * (seconds + 0.5), `the heavy publisher's video is cut to the limit: ${video.bytes} B in ${seconds.toFixed(1)} s`);
    assert.ok(video.packets > 0, 'within the limit, the heavy publisher\'s packets still go through');
    assert.ok(drops > 100, `the drops are counted: ${drops}`);
    assert.ok(window.some((w) => w.kind === 'audio' && w.packets >= 100 && w.lost === 0), `the light publisher's audio arrives whole: ${JSON.stringify(window)}`);
    assert.ok(heavy.errors.length === 0 && light.errors.length === 0, 'both publishers stay connected');
  } finally {
    await Promise.all([heavy.close(), light.close(), viewer.close()]);
  }
});
