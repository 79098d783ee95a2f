// Rooms are placed on different media workers and run at the same time; SIGTERM stops the
// server cleanly (exit 0, no native abort) with live connections, again and again.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { dispose } from '@livekit/rtc-node';
import { NodeParticipant } from '../helpers/rtc-node.js';
import { startStrand } from '../helpers/strand-process.js';
import { joinToken } from '../helpers/tokens.js';
import { waitFor } from '../helpers/wait.js';

after(async () => {
  await dispose();
});

test('two rooms on two different workers carry audio at the same time', { timeout: 90_000 }, async () => {
  const strand = await startStrand({ workers: 2 });
  const participants: NodeParticipant[] = [];
  try {
    const rooms = ['north', 'south'];
    const listeners: NodeParticipant[] = [];
    for (const room of rooms) {
      const speaker = new NodeParticipant();
      const listener = new NodeParticipant();
      participants.push(speaker, listener);
      await speaker.connect(strand.url, await joinToken(room, `${room}-speaker`));
      await speaker.publishTone();
      await listener.connect(strand.url, await joinToken(room, `${room}-listener`));
      listeners.push(listener);
    }
    const placement = await (await fetch(`${strand.httpUrl}/debug/rooms`)).json() as Array<{ name: string; worker: number }>;
    const workers = rooms.map((r) => placement.find((p) => p.name === r)!.worker);
    assert.notEqual(workers[0], workers[1], `rooms placed on workers ${workers.join(', ')}`);
    for (const [i, l] of listeners.entries()) {
      await waitFor(() => l.totalFrames() >= 100, 20_000, `listener in ${rooms[i]} to hear its speaker`);
    }
    // Each listener hears only its own room's speaker.
    for (const l of listeners) assert.equal(l.framesBySid.size, 1);
  } finally {
    for (const p of participants) await p.close();
    assert.equal(await strand.stop(), 0, strand.stderr());
  }
});

test('SIGTERM with live connections exits 0 without an abort, 10 times in a row', { timeout: 180_000 }, async () => {
  for (let i = 0; i < 10; i++) {
    const strand = await startStrand({ workers: 2 });
    const speaker = new NodeParticipant();
    const listener = new NodeParticipant();
    try {
      await speaker.connect(strand.url, await joinToken(`term-${i}`, 'speaker'));
      await speaker.publishTone();
      await listener.connect(strand.url, await joinToken(`term-${i}`, 'listener'));
      await waitFor(() => listener.totalFrames() > 20, 15_000, 'media to flow before the signal');
      const started = Date.now();
      const code = await strand.stop('SIGTERM');
      const took = Date.now() - started;
      assert.equal(code, 0, `run ${i}: exit ${code}\n${strand.stderr()}`);
      assert.ok(took < 5000, `run ${i}: took ${took} ms to stop`);
      assert.doesNotMatch(strand.stderr(), /Abort|terminate called|Assertion|Segmentation/, `run ${i}`);
    } finally {
      await speaker.close();
      await listener.close();
      await strand.stop('SIGKILL');
    }
  }
});
