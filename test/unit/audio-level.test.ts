import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AudioLevelObserver, audioLevelToLinear } from '../../src/rtp/audio-level.js';

/** Feeds `ms` of 20 ms packets: `loud` of every 10 packets at `level` dBov, the rest silent. */
function feed(o: AudioLevelObserver, ms: number, level: number, loud: number, t0 = 0): number {
  let t = t0;
  for (let i = 0; i < ms / 20; i++, t += 20) o.observe(i % 10 < loud ? level : 127, 20, t);
  return t;
}

test('continuous speech is active; the level follows the loudest packet', () => {
  const o = new AudioLevelObserver();
  const t = feed(o, 1200, 20, 10);
  assert.ok(o.speaking(t));
  assert.ok(Math.abs(o.level(t) - audioLevelToLinear(20)) / audioLevelToLinear(20) < 0.2);
});

test('short beeps (20% of each window, below the 40% minimum) are not speech', () => {
  const o = new AudioLevelObserver();
  const t = feed(o, 2000, 5, 2);
  assert.ok(!o.speaking(t));
  assert.equal(o.level(t), 0);
});

test('silence and quiet audio (below the active level) are not speech; a stalled track decays to 0', () => {
  const o = new AudioLevelObserver();
  assert.ok(!o.speaking(feed(o, 1200, 50, 10)), 'quieter than -35 dBov');
  const t = feed(o, 1200, 10, 10, 2000);
  assert.ok(o.speaking(t));
  assert.ok(!o.speaking(t + 1000), 'no packets for two windows');
});
