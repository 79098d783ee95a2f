// Log lines for people: the format chosen (--dev, a terminal, STRAND_LOG_FORMAT), and one JSON
// entry made readable.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { logFormat, prettyLine } from '../../src/main/logger.js';

test('pretty in --dev or on a terminal, JSON otherwise; STRAND_LOG_FORMAT decides when set', () => {
  assert.equal(logFormat(true, {}, false), 'pretty');
  assert.equal(logFormat(false, {}, true), 'pretty');
  assert.equal(logFormat(false, {}, false), 'json');
  assert.equal(logFormat(true, { STRAND_LOG_FORMAT: 'json' }, true), 'json');
  assert.equal(logFormat(false, { STRAND_LOG_FORMAT: 'pretty' }, false), 'pretty');
});

test('a JSON entry becomes time, level, message and key=value fields', () => {
  const time = Date.UTC(2026, 11, 1, 12, 3, 4, 567);
  const line = prettyLine(JSON.stringify({
    level: 40, time, pid: 1, hostname: 'h', service: 'strand', msg: 'media link stalled', node: 'ND_x', room: 'a b', n: 3, err: { message: 'boom', stack: '…' },
  }), false);
  assert.equal(line, '12:03:04.567 WARN  media link stalled node=ND_x room="a b" n=3 err="boom"');
  assert.equal(prettyLine('not json', false), 'not json');
  assert.match(prettyLine(JSON.stringify({ level: 30, time, msg: 'x' }), true), /\x1b\[32mINFO/);
});
