// The package as users install it: `npm pack` of this checkout, `npm install -g --prefix` of the
// tarball into an empty prefix (dependencies from the registry, no dev dependencies), then the
// installed `strand --dev` answers GET / and admits a client.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { RawSignalClient } from '../helpers/signal-client.js';
import { joinToken } from '../helpers/tokens.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

test('npm pack, npm install -g --prefix, and the installed strand --dev serves', { timeout: 300_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'strand-pack-'));
  // dist/ is built (npm install did it): --ignore-scripts packs it as it is, rather than building again.
  const { stdout } = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { cwd: ROOT, maxBuffer: 64 << 20 });
  const [packed] = JSON.parse(stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
  const files = packed!.files.map((f) => f.path);
  for (const f of ['bin/strand.js', 'dist/src/main/cli.js', 'dist/src/proto/gen/livekit.js', 'dist/src/workers/media/worker-entry.js', 'package.json']) {
    assert.ok(files.includes(f), `the package has ${f}`);
  }
  assert.ok(!files.some((f) => f.startsWith('dist/test/') || f.startsWith('dist/bench/') || f.startsWith('src/')), 'no tests, benchmarks or sources');
  console.log(`${packed!.filename}: ${files.length} files`);

  const prefix = join(dir, 'prefix');
  const started = Date.now();
  await run('npm', ['install', '-g', '--prefix', prefix, '--no-audit', '--no-fund', '--loglevel', 'error', join(dir, packed!.filename)], {
    cwd: dir, timeout: 240_000, maxBuffer: 64 << 20,
  });
  console.log(`installed into ${prefix} in ${((Date.now() - started) / 1000).toFixed(1)} s`);

  const udpPort = 20000 + Math.floor(Math.random() * 10000);
  const child = spawn(join(prefix, 'bin', 'strand'), ['--dev', '--port', '0', '--udp-port', String(udpPort), '--workers', '1', '--store', join(dir, 'store')], {
    cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, STRAND_LOG_FORMAT: 'json' },
  });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the installed strand did not start:\n${out}\n${err}`)), 20_000);
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const line = out.split('\n').find((l) => l.includes('"strand started"'));
        if (line) {
          clearTimeout(timer);
          resolve((JSON.parse(line) as { port: number }).port);
        }
      });
      child.once('exit', (code) => reject(new Error(`the installed strand exited with ${code}:\n${out}\n${err}`)));
    });
    const res = await fetch(`http://127.0.0.1:${port}/`);
    assert.equal(res.status, 200);
    const client = await RawSignalClient.connect(`ws://127.0.0.1:${port}`, await joinToken('packaged', 'alice'));
    const join = await client.next('join');
    assert.equal(join.join?.participant?.identity, 'alice');
    client.ws.close();
  } finally {
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const [code] = await exited as [number | null];
    assert.equal(code, 0, err);
  }
});
