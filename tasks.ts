// Strand's task runner (in the spirit of mage): `tsx tasks.ts <task> [args…]`.
// Each task is a plain async function; `npm run <task>` maps onto these.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = import.meta.dirname;

function run(cmd: string, args: string[], opts: { allowFail?: boolean } = {}): number {
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: root });
  // A child ended by a signal has no status: say which signal rather than a bare 1.
  const code = r.status ?? 1;
  if (code !== 0 && !opts.allowFail) {
    console.error(`tasks: ${cmd} ${args.join(' ')} ${r.signal ? `was ended by ${r.signal}` : `exited with ${code}`}`);
    process.exit(code);
  }
  return code;
}

const bin = (name: string) => join(root, 'node_modules', '.bin', name);

/** Compiles proto/*.proto into static protobufjs code with TypeScript declarations. */
function proto(): void {
  const out = join(root, 'src/proto/gen');
  mkdirSync(out, { recursive: true });
  const protos = readdirSync(join(root, 'proto')).filter((f) => f.endsWith('.proto')).map((f) => join('proto', f));
  run(bin('pbjs'), ['-t', 'static-module', '-w', 'es6', '--no-create', '--no-verify', '--no-delimited', '--force-number',
    '-o', 'src/proto/gen/livekit.js', ...protos]);
  run(bin('pbts'), ['-o', 'src/proto/gen/livekit.d.ts', 'src/proto/gen/livekit.js']);
  // The schema as data, for checking protojson input (src/proto/protojson.ts).
  run(bin('pbjs'), ['-t', 'json', '-o', 'src/proto/gen/livekit.json', ...protos]);
}

function protoIsStale(): boolean {
  const gen = join(root, 'src/proto/gen/livekit.js');
  if (!existsSync(gen) || !existsSync(join(root, 'src/proto/gen/livekit.json'))) return true;
  const built = statSync(gen).mtimeMs;
  return readdirSync(join(root, 'proto')).some((f) => statSync(join(root, 'proto', f)).mtimeMs > built);
}

/** proto (when stale) → tsc → copy generated JS next to the compiled code. */
function build(): void {
  if (protoIsStale()) proto();
  run(bin('tsc'), ['-p', 'tsconfig.json']);
  for (const f of ['livekit.js', 'livekit.json']) cpSync(join(root, 'src/proto/gen', f), join(root, 'dist/src/proto/gen', f));
}

function lint(): void {
  if (protoIsStale()) proto();
  run(bin('tsc'), ['-p', 'tsconfig.json', '--noEmit']);
}

function listTests(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...listTests(p));
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

/** Builds, then runs unit tests in parallel and integration/e2e tests one file at a time. */
function test(args: string[]): void {
  build();
  const filter = args[0];
  const pick = (files: string[]) => (filter ? files.filter((f) => f.includes(filter)) : files);
  const unit = pick(listTests(join(root, 'dist/test/unit')));
  const serial = pick([...listTests(join(root, 'dist/test/integration')), ...listTests(join(root, 'dist/test/e2e'))]);
  let failed = 0;
  if (unit.length) failed += run(process.execPath, ['--test', '--test-reporter=spec', ...unit], { allowFail: true });
  if (serial.length) {
    failed += run(process.execPath, ['--test', '--test-concurrency=1', '--test-reporter=spec', ...serial], { allowFail: true });
  }
  if (failed) process.exit(1);
}

/**
 * Installs the Debian packages the end-to-end tests need (as root), or says what to install:
 * Chromium for the browser clients, ffmpeg (with ffprobe) for egress and its checks, redis-server
 * for the cluster tests (they start their own; installing it starts no daemon). Egress
 * also uses util-linux's setpriv, which Debian always has.
 */
function systemDeps(): void {
  installDebian([['chromium', '/usr/bin/chromium'], ['ffmpeg', '/usr/bin/ffmpeg'], ['redis-server', '/usr/bin/redis-server']]);
}

/** Installs missing Debian packages (as root), or says what to install and stops. */
function installDebian(needed: Array<[pkg: string, path: string]>): void {
  const missing = needed.filter(([, path]) => !existsSync(path)).map(([pkg]) => pkg);
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0) {
    console.error(`tasks: missing system packages: ${missing.join(' ')}. Install them with: sudo apt-get install -y ${missing.join(' ')}`);
    process.exit(1);
  }
  console.log(`tasks: installing ${missing.join(' ')} with apt-get`);
  run('apt-get', ['update', '-qq']);
  run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing]);
}

function clean(): void {
  for (const p of ['dist', 'src/proto/gen']) rmSync(join(root, p), { recursive: true, force: true });
}

function bench(args: string[]): void {
  build();
  // Side-by-side runs start Janus 1.1 from Debian (and need root for its network namespace).
  if (args.join(' ').includes('janus')) installDebian([['janus', '/usr/bin/janus']]);
  // A cluster bench starts its own redis-server.
  if (args.includes('--nodes')) installDebian([['redis-server', '/usr/bin/redis-server']]);
  const entry = join(root, 'dist/bench/run.js');
  if (!existsSync(entry)) {
    console.error('tasks: no benchmarks yet (bench/run.ts arrives with the forwarding benchmark issue)');
    process.exit(2);
  }
  run(process.execPath, [entry, ...args]);
}

/**
 * The installable package, `release/strand-<version>.tgz`: `npm pack` (whose prepack builds
 * dist/), with what package.json's `files` lists: bin/, dist/src/ (with the generated protobuf
 * code), proto/ and the README. `npm install -g` of it needs no dev dependency to run.
 */
function release(): void {
  mkdirSync(join(root, 'release'), { recursive: true });
  run('npm', ['pack', '--pack-destination', 'release']);
}

const tasks: Record<string, (args: string[]) => void> = {
  proto, build, lint, test, bench, clean, release, 'system-deps': systemDeps,
};

const [name, ...rest] = process.argv.slice(2);
const task = name ? tasks[name] : undefined;
if (!task) {
  console.error(`usage: tsx tasks.ts <${Object.keys(tasks).join('|')}> [args…]`);
  process.exit(2);
}
task(rest);
