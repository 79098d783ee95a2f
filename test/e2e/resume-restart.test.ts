// v0 resume when Strand's subscriber connection has to be restarted (as when it failed): an offer
// with new ICE credentials from a new native connection, data channels recreated with the same
// ids. STRAND_TEST_RESTART_SUBSCRIBER makes every v0 resume take that path on loopback.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { useStrandAndBrowser } from '../helpers/e2e.js';
import { iceRestarts, leave, resumeBothSides } from '../helpers/resume.js';

const ctx = useStrandAndBrowser({ env: { STRAND_TEST_RESTART_SUBSCRIBER: '1' } });

test('v0 with subscriber restarts: both sides resume in place, media and data carry on', { timeout: 120_000 }, async () => {
  const before = await iceRestarts(ctx);
  // The forced restart of a healthy connection is the slow case (see resumeBothSides): 10 s.
  const { alice, bob, publisherMs, subscriberMs, subscriberVideoMs } = await resumeBothSides(ctx, true, 10_000);
  // Two publisher connections and two subscriber connections restarted.
  assert.ok((await iceRestarts(ctx)) >= before + 4);
  console.log(`v0 resume with subscriber restart (signal loss → Reconnected): publisher ${publisherMs.toFixed(0)} ms, subscriber ${subscriberMs.toFixed(0)} ms; 10 frames at the subscriber ${subscriberVideoMs} ms after its Reconnected`);
  await leave(alice, bob);
});
