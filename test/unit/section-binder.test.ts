import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SectionBinder, type ReceiveSection } from '../../src/workers/sdp/section-binder.js';

const first: ReceiveSection[] = [
  { mid: '0', kind: 'audio' }, { mid: '1', kind: 'audio' }, { mid: '2', kind: 'audio' },
  { mid: '3', kind: 'video' }, { mid: '4', kind: 'video' }, { mid: '5', kind: 'video' },
];

test('tracks take spare sections of their kind in offer order, and keep them across offers', () => {
  const b = new SectionBinder();
  const r1 = b.bind(first, [{ trackSid: 'TR_v', kind: 'video' }, { trackSid: 'TR_a', kind: 'audio' }]);
  assert.deepEqual([...r1.bindings], [['3', 'TR_v'], ['0', 'TR_a']]);
  assert.deepEqual(r1.missing, { audio: 0, video: 0 });
  const r2 = b.bind(first, [{ trackSid: 'TR_a', kind: 'audio' }, { trackSid: 'TR_v', kind: 'video' }, { trackSid: 'TR_w', kind: 'video' }]);
  assert.equal(r2.bindings.get('3'), 'TR_v');
  assert.equal(r2.bindings.get('0'), 'TR_a');
  assert.equal(r2.bindings.get('4'), 'TR_w');
});

test('a section whose track went away is retired, never given to another track', () => {
  const b = new SectionBinder();
  b.bind(first, [{ trackSid: 'TR_v', kind: 'video' }]);
  const r = b.bind(first, [{ trackSid: 'TR_x', kind: 'video' }]);
  assert.equal(r.bindings.get('3'), undefined);
  assert.equal(r.bindings.get('4'), 'TR_x');
  assert.ok(![...r.bindings.values()].includes('TR_v'));
});

test('too few sections: the missing ones are counted, and shortfall asks for them before the next offer', () => {
  const b = new SectionBinder();
  const wanted = ['a', 'b', 'c', 'd'].map((s) => ({ trackSid: `TR_${s}`, kind: 'video' as const }));
  const r = b.bind(first, wanted);
  assert.deepEqual(r.missing, { audio: 0, video: 1 });
  assert.deepEqual(b.shortfall(wanted), { audio: 0, video: 1 });
  // The client added one video section: everything fits, nothing more is needed.
  const more = [...first, { mid: '7', kind: 'video' as const }];
  assert.deepEqual(b.bind(more, wanted).missing, { audio: 0, video: 0 });
  assert.deepEqual(b.shortfall(wanted), { audio: 0, video: 0 });
  // A new subscription with spare audio sections left: a plain re-offer (0/0) will do.
  assert.deepEqual(b.shortfall([...wanted, { trackSid: 'TR_e', kind: 'audio' }]), { audio: 0, video: 0 });
  assert.deepEqual(b.shortfall([...wanted, { trackSid: 'TR_f', kind: 'video' }]), { audio: 0, video: 1 });
});

test('a section the client no longer offers (rejected, gone) frees its track for another section', () => {
  const b = new SectionBinder();
  b.bind(first, [{ trackSid: 'TR_v', kind: 'video' }]);
  const r = b.bind(first.filter((s) => s.mid !== '3'), [{ trackSid: 'TR_v', kind: 'video' }]);
  assert.equal(r.bindings.get('4'), 'TR_v');
});
