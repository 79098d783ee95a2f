// Start-up errors are clear: a taken ICE UDP port or an unreachable Redis stops Strand with a
// message, not clients that silently fail to connect later.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePort } from '../helpers/free-port.js';

const BIN = fileURLToPath(new URL('../../../bin/strand.js', import.meta.url));

test('a taken ICE UDP port is a clear start-up error', async () => {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const port = socket.address().port;
  try {
    const r = spawnSync(process.execPath, [BIN, '--dev', '--port', '0', '--udp-port', String(port), '--workers', '1'], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(r.status, 1);
    assert.match(r.stderr, new RegExp(`ICE UDP port 127\\.0\\.0\\.1:${port} \\(media worker 0\\) is not available`));
  } finally {
    socket.close();
  }
});

test('bad config values stop start-up with a clear error', () => {
  const bad = spawnSync(process.execPath, [BIN, '--dev', '--config-body', 'port: "abc"'], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /port must be a non-negative number/);
});

test('a Redis that cannot be reached is a clear start-up error', async () => {
  const port = await freePort(); // nothing listens there
  const store = mkdtempSync(join(tmpdir(), 'strand-store-'));
  const r = spawnSync(process.execPath, [BIN, '--dev', '--port', '0', '--udp-port', String(20000 + (port % 10000)), '--workers', '1', '--store', store,
    '--redis-host', `127.0.0.1:${port}`, '--config-body', 'redis: { dial_timeout: 1s }'], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, new RegExp(`cannot reach Redis \\(127\\.0\\.0\\.1:${port}\\)`));
});
