// Janus 1.1 (Debian package `janus`) for side-by-side runs. Janus gathers no ICE candidates on
// loopback, so it runs in a network namespace of the bench's own, joined to this host by a veth
// pair with addresses of its own choosing; traffic never leaves the machine. Everything is torn
// down when the run ends.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const CONFIG = fileURLToPath(new URL('../../bench/janus', import.meta.url));
const JANUS = '/usr/bin/janus';

export interface JanusServer {
  /** HTTP API base, e.g. http://10.203.0.2:8088 */
  base: string;
  /** The host-side address bots bind their connections to. */
  hostAddress: string;
  pid: number;
  stop(): Promise<void>;
}

function ip(args: string[], allowFail = false): void {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.status !== 0 && !allowFail) throw new Error(`ip ${args.join(' ')}: ${r.stderr.trim()}`);
}

export async function startJanus(): Promise<JanusServer> {
  if (!existsSync(JANUS)) throw new Error('Janus is not installed: apt-get install janus (Debian 12 has 1.1.2)');
  if (process.getuid?.() !== 0) throw new Error('running Janus in a network namespace needs root (ip netns)');
  const tag = (process.pid % 200) + 20;
  const ns = `strand-janus-${process.pid}`;
  const hostIf = `sjh${process.pid % 100000}`;
  const nsIf = `sjn${process.pid % 100000}`;
  const hostAddress = `10.203.${tag}.1`;
  const janusAddress = `10.203.${tag}.2`;
  const teardown = () => {
    ip(['netns', 'del', ns], true);
    ip(['link', 'del', hostIf], true);
  };
  teardown();
  ip(['netns', 'add', ns]);
  let child: ChildProcess | null = null;
  try {
    ip(['link', 'add', hostIf, 'type', 'veth', 'peer', 'name', nsIf]);
    ip(['link', 'set', nsIf, 'netns', ns]);
    ip(['addr', 'add', `${hostAddress}/30`, 'dev', hostIf]);
    ip(['link', 'set', hostIf, 'up']);
    ip(['netns', 'exec', ns, 'ip', 'addr', 'add', `${janusAddress}/30`, 'dev', nsIf]);
    ip(['netns', 'exec', ns, 'ip', 'link', 'set', nsIf, 'up']);
    ip(['netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up']);
    // `ip netns exec` execs Janus itself: the child's pid is Janus's, for its CPU and RSS.
    const janus = spawn('ip', ['netns', 'exec', ns, JANUS, '-F', CONFIG], { stdio: ['ignore', 'ignore', 'pipe'] });
    child = janus;
    let stderr = '';
    janus.stderr!.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-4000); });
    const base = `http://${janusAddress}:8088`;
    const deadline = Date.now() + 15_000;
    for (;;) {
      if (janus.exitCode !== null) throw new Error(`janus exited (${janus.exitCode}): ${stderr}`);
      try {
        const r = await fetch(`${base}/janus/info`, { signal: AbortSignal.timeout(1000) });
        if (r.ok) break;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`janus did not start: ${stderr}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    return {
      base, hostAddress, pid: janus.pid!,
      async stop() {
        if (janus.exitCode === null) {
          const exited = new Promise((resolve) => janus.once('exit', resolve));
          janus.kill('SIGTERM');
          const timer = setTimeout(() => janus.kill('SIGKILL'), 5000);
          await exited;
          clearTimeout(timer);
        }
        teardown();
      },
    };
  } catch (err) {
    child?.kill('SIGKILL');
    teardown();
    throw err;
  }
}
