import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultConfig } from '../../src/main/config.js';
import { limitViolation } from '../../src/main/rooms/limits.js';

const limits = defaultConfig(true).limit;

test('LiveKit default limits: metadata 512 KiB, attributes 64 KiB, names 256', () => {
  assert.equal(limitViolation(limits, { metadata: 'x'.repeat(512 * 1024) }), null);
  assert.match(limitViolation(limits, { metadata: 'x'.repeat(512 * 1024 + 1) })!, /metadata is larger than 524288 bytes/);
  assert.match(limitViolation(limits, { metadata: 'é'.repeat(300 * 1024) })!, /metadata/, 'bytes, not characters');
  assert.equal(limitViolation(limits, { attributes: { k: 'v'.repeat(64 * 1024 - 1) } }), null);
  assert.match(limitViolation(limits, { attributes: { k: 'v'.repeat(64 * 1024) } })!, /attributes are larger/);
  assert.match(limitViolation(limits, { roomName: 'r'.repeat(257) })!, /room name is longer than 256/);
  assert.match(limitViolation(limits, { identity: 'i'.repeat(257) })!, /identity is longer than 256/);
  assert.match(limitViolation(limits, { name: 'n'.repeat(257) })!, /name is longer than 256/);
  assert.equal(limitViolation(limits, { roomName: 'r', identity: 'i', name: 'n', metadata: '', attributes: {} }), null);
});
