// Starts `strand` as a child process, the way a user runs it, and stops it with a signal.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { WorkerStats } from '../../src/workers/protocol.js';

const BIN = fileURLToPath(new URL('../../../bin/strand.js', import.meta.url));

export interface StrandProcess {
  url: string;
  httpUrl: string;
  port: number;
  udpPort: number;
  /** The LMDB directory this instance uses (a fresh temporary one unless given). */
  storePath: string;
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** Sends `signal` and resolves with the exit code (null if killed). */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

// Below Linux's ephemeral range (32768+), where browsers' and SDKs' own sockets would collide.
let nextUdp = 10000 + Math.floor(Math.random() * 20000);

type StartOptions = {
  workers?: number; args?: string[]; env?: NodeJS.ProcessEnv; storePath?: string; udpPort?: number;
  /** Options for node itself (e.g. --cpu-prof). */
  nodeArgs?: string[];
};

/** Each media worker's counters (`/debug/stats` of a --dev server). */
export async function workerStats(httpUrl: string): Promise<WorkerStats[]> {
  return (await fetch(`${httpUrl}/debug/stats`)).json() as Promise<WorkerStats[]>;
}

/** Starts Strand; when its UDP ports are taken by another program, tries other ports. */
export async function startStrand(opts: StartOptions = {}): Promise<StrandProcess> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await startOnce(opts);
    } catch (err) {
      if (attempt >= 4 || !/ICE UDP port .* is not available/.test(String((err as Error).message))) throw err;
      nextUdp = 10000 + Math.floor(Math.random() * 20000);
    }
  }
}

async function startOnce(opts: StartOptions): Promise<StrandProcess> {
  const workers = opts.workers ?? 2;
  const udpPort = opts.udpPort ?? nextUdp;
  if (opts.udpPort === undefined) nextUdp += workers + 2;
  const storePath = opts.storePath ?? mkdtempSync(join(tmpdir(), 'strand-store-'));
  const wrap = process.env.STRAND_TEST_WRAP ? process.env.STRAND_TEST_WRAP.split(' ') : [];
  const child = spawn(wrap[0] ?? process.execPath, [...wrap.slice(1), ...(wrap.length ? [process.execPath] : []), ...(opts.nodeArgs ?? []), BIN, '--dev', '--port', '0', '--udp-port', String(udpPort), '--workers', String(workers), '--store', storePath, ...(opts.args ?? [])], {
    stdio: ['ignore', 'pipe', 'pipe'],
    // JSON lines: what the helper reads ("strand started") and tests look for.
    env: { ...process.env, STRAND_LOG_FORMAT: 'json', ...opts.env },
  });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`strand did not start:\n${out}\n${err}`)), 20000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      for (const line of out.split('\n')) {
        if (!line.includes('"strand started"')) continue;
        clearTimeout(timer);
        resolve((JSON.parse(line) as { port: number }).port);
      }
    });
    if (process.env.STRAND_TEST_LOG) child.stdout!.pipe(process.stderr);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`strand exited with ${code} before starting:\n${out}\n${err}`));
    });
  });
  return {
    port,
    udpPort,
    storePath,
    url: `ws://127.0.0.1:${port}`,
    httpUrl: `http://127.0.0.1:${port}`,
    child,
    stdout: () => out,
    stderr: () => err,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      const exited = once(child, 'exit') as Promise<[number | null, string | null]>;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 10000);
      const [code, sig] = await exited;
      clearTimeout(timer);
      if (sig) err += `\n(strand was killed by ${sig})`;
      return code;
    },
  };
}
