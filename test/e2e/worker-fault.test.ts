// A media worker whose JavaScript throws outside any task (a test hook throws from a timer), or
// whose thread exits with its connections open: the worker drops its participants (or a new
// worker takes its place), they are told to reconnect and are back, publishing and subscribing,
// while a room on the other worker goes on without a gap. Two livekit-client rooms in Chromium,
// one per worker.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { useStrandAndBrowser } from '../helpers/e2e.js';
import { scrapeMetrics, total } from '../helpers/prometheus-text.js';
import { aliceAndBob, framesDecoded, leave, seen } from '../helpers/resume.js';
import { waitFor } from '../helpers/wait.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- page-side code runs in the browser */

const ctx = useStrandAndBrowser({ workers: 2, env: { STRAND_TEST_WORKER_FAULT: '1' } });

async function roomWorkers(): Promise<Map<string, number>> {
  const rooms = (await (await fetch(`${ctx.strand.httpUrl}/debug/rooms`)).json()) as Array<{ name: string; worker: number }>;
  return new Map(rooms.map((r) => [r.name, r.worker]));
}

async function faultAndRecover(mode: 'throw' | 'exit'): Promise<void> {
  const hit = await aliceAndBob(ctx, `fault-${mode}-hit`);
  const calm = await aliceAndBob(ctx, `fault-${mode}-calm`);
  const hitRoom = await hit.alice.evaluate(() => (globalThis as any).room.name as string);
  const calmRoom = await calm.alice.evaluate(() => (globalThis as any).room.name as string);
  const workers = await roomWorkers();
  const hitWorker = workers.get(hitRoom)!;
  assert.notEqual(workers.get(calmRoom), hitWorker, 'the two rooms are on different workers');

  const hitFrames = await framesDecoded(hit.bob);
  const t0 = Date.now();
  const fault = await fetch(`${ctx.strand.httpUrl}/debug/worker-fault?worker=${hitWorker}&mode=${mode}`, { method: 'POST' });
  assert.equal(fault.status, 202);

  // The calm room: frames rise in every 500 ms sample while the other worker recovers.
  const calmSamples: number[] = [await framesDecoded(calm.bob)];
  let backMs = -1;
  while (Date.now() - t0 < 5000) {
    await new Promise((r) => setTimeout(r, 500));
    calmSamples.push(await framesDecoded(calm.bob));
    // framesDecoded counts the current subscription only: after the reconnect it starts again.
    if (backMs < 0) {
      const frames = await framesDecoded(hit.bob);
      const reconnected = (await seen(hit.bob)).reconnected > 0 || frames < hitFrames;
      if (reconnected && frames >= 10 && frames !== hitFrames) backMs = Date.now() - t0;
    }
  }
  console.log(`worker fault (${mode}): the hit room's subscriber decoded again ${backMs} ms after the fault; calm room's frames ${calmSamples.join(' → ')}`);
  for (let i = 1; i < calmSamples.length; i++) assert.ok(calmSamples[i]! > calmSamples[i - 1]!, `the calm room decodes on (sample ${i}: ${calmSamples.join(', ')})`);
  assert.deepEqual([(await seen(calm.alice)).reconnecting, (await seen(calm.bob)).reconnecting], [0, 0], 'the calm room was not disturbed');
  assert.ok(backMs > 0 && backMs <= 5000, `the hit room's subscriber decodes again within 5 s (${backMs} ms)`);

  // The hit room's participants came back with the same identities, alice publishing again.
  await waitFor(async () => {
    const rooms = (await (await fetch(`${ctx.strand.httpUrl}/debug/rooms`)).json()) as Array<{ name: string; participants: Array<{ identity: string; tracks: string[] }> }>;
    const r = rooms.find((x) => x.name === hitRoom);
    return r && r.participants.length === 2 && r.participants.find((p) => p.identity === 'alice')?.tracks.length === 2;
  }, 5000, 'alice and bob back in their room, alice with both tracks');
  const metrics = await scrapeMetrics(ctx.strand.httpUrl);
  const counted = mode === 'throw' ? 'strand_media_worker_faults_total' : 'strand_media_worker_restarts_total';
  assert.equal(total(metrics, counted, { worker: String(hitWorker) }), 1, `the ${mode} is counted in ${counted}`);
  await leave(hit.alice, hit.bob, calm.alice, calm.bob);
}

test('a media worker that throws: its participants reconnect within 5 s, the other worker\'s room sees no gap', { timeout: 120_000 }, () => faultAndRecover('throw'));

test('a media worker whose thread exits is replaced: its participants are back within 5 s, the other worker\'s room sees no gap', { timeout: 120_000 }, () => faultAndRecover('exit'));
