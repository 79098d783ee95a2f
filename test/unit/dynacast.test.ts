import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Dynacast } from '../../src/main/rooms/dynacast.js';
import { livekit } from '../../src/proto/index.js';

const layers = [{ quality: livekit.VideoQuality.LOW }, { quality: livekit.VideoQuality.MEDIUM }, { quality: livekit.VideoQuality.HIGH }];
const enabled = (u: livekit.ISubscribedQualityUpdate) => u.subscribedQualities!.filter((q) => q.enabled).map((q) => q.quality);

test('rises are announced at once, falls after the pause delay, and a quick return cancels the fall', async () => {
  const sent: livekit.ISubscribedQualityUpdate[] = [];
  const d = new Dynacast((_, u) => sent.push(u), 50);
  d.update('TR_1', layers, 'video/VP8', 2);
  assert.equal(sent.length, 0, 'publishers start with every layer on');
  d.update('TR_1', layers, 'video/VP8', 0);
  assert.equal(sent.length, 0, 'a fall waits');
  await new Promise((r) => setTimeout(r, 80));
  assert.equal(sent.length, 1);
  assert.deepEqual(enabled(sent[0]!), [livekit.VideoQuality.LOW]);
  assert.equal(sent[0]!.subscribedCodecs![0]!.codec, 'vp8');
  d.update('TR_1', layers, 'video/VP8', 2);
  assert.equal(sent.length, 2, 'a rise is immediate');
  assert.deepEqual(enabled(sent[1]!), [0, 1, 2]);
  d.update('TR_1', layers, 'video/VP8', -1);
  d.update('TR_1', layers, 'video/VP8', 2);
  await new Promise((r) => setTimeout(r, 80));
  assert.equal(sent.length, 2, 'the fall was cancelled');
  d.close();
});
