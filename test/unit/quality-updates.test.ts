import assert from 'node:assert/strict';
import { test } from 'node:test';
import { QualityUpdates } from '../../src/main/rooms/quality-updates.js';
import { livekit } from '../../src/proto/index.js';

const { EXCELLENT, GOOD, POOR } = livekit.ConnectionQuality;
const all = () => true;
const sids = (u: livekit.IConnectionQualityInfo[] | null) => u?.map((x) => `${x.participantSid}:${x.quality}`) ?? null;

test('a first report and a change of level send everyone\'s levels; steady levels and score drift send nothing', () => {
  const q = new QualityUpdates();
  assert.deepEqual(sids(q.report([{ sid: 'PA_a', quality: EXCELLENT, score: 4.5 }, { sid: 'PA_b', quality: GOOD, score: 3.5 }], all)), [`PA_a:${EXCELLENT}`, `PA_b:${GOOD}`]);
  assert.equal(q.report([{ sid: 'PA_a', quality: EXCELLENT, score: 4.4 }, { sid: 'PA_b', quality: GOOD, score: 3.6 }], all), null);
  // Another worker of the same room reports a change for its participant: the others' levels go too.
  const changed = q.report([{ sid: 'PA_c', quality: POOR, score: 2 }], all);
  assert.deepEqual(sids(changed), [`PA_a:${EXCELLENT}`, `PA_b:${GOOD}`, `PA_c:${POOR}`]);
  assert.equal(changed!.find((u) => u.participantSid === 'PA_a')!.score, 4.4);
  assert.deepEqual(sids(q.report([{ sid: 'PA_b', quality: POOR, score: 2 }], all)), [`PA_a:${EXCELLENT}`, `PA_b:${POOR}`, `PA_c:${POOR}`]);
});

test('a participant that left and comes back counts as new; hidden participants are neither reported nor sent', () => {
  const q = new QualityUpdates();
  const shown = (sid: string) => sid !== 'PA_hidden';
  assert.equal(q.report([{ sid: 'PA_hidden', quality: EXCELLENT, score: 5 }], shown), null);
  assert.deepEqual(sids(q.report([{ sid: 'PA_a', quality: EXCELLENT, score: 5 }, { sid: 'PA_hidden', quality: POOR, score: 1 }], shown)), [`PA_a:${EXCELLENT}`]);
  q.forget('PA_a');
  assert.deepEqual(sids(q.report([{ sid: 'PA_a', quality: EXCELLENT, score: 5 }], shown)), [`PA_a:${EXCELLENT}`]);
});
