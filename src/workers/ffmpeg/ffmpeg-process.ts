// One supervised ffmpeg child (egress and ingress both run ffmpeg this way). It is stopped in
// the ways that leave a finished file: `q` on its stdin; if it does not exit soon (ffmpeg reads
// its keyboard only between packets, so a child whose input went quiet never sees the `q`),
// one SIGINT, which also finishes the file. A second signal makes ffmpeg exit at once without
// writing its trailer (an Ogg was left empty), so Strand never signals it twice; only a child
// still running long after that is killed.
//
// If Strand itself dies (kill -9), the child is killed by the kernel (setpriv's parent death
// signal): no packet will come again, so ffmpeg could not finish its file anyway, and no
// orphan is left holding ports. Outputs are written packet by packet (-flush_packets), so what
// was recorded until then is on disk; the next start repairs the file (egress-manager.ts).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { rename, rm, writeFile } from 'node:fs/promises';

export const FFMPEG = process.env.STRAND_FFMPEG ?? 'ffmpeg';
export const FFPROBE = process.env.STRAND_FFPROBE ?? 'ffprobe';
const SETPRIV = '/usr/bin/setpriv';
/** Kept of a child's stderr, for the egress or ingress error field. */
const STDERR_KEEP = 8 * 1024;

export interface FfmpegExit {
  code: number | null;
  signal: string | null;
  /** Stopped by us (q, or the kill after it): not a failure of its own. */
  stopped: boolean;
  /** The last lines ffmpeg wrote to stderr. */
  stderr: string;
}

export class FfmpegProcess {
  private readonly child: ChildProcess;
  private stderrTail = '';
  private stopping = false;
  readonly exited: Promise<FfmpegExit>;
  private exitInfo: FfmpegExit | null = null;

  constructor(args: string[], opts: { cwd?: string; binary?: string } = {}) {
    const binary = opts.binary ?? FFMPEG;
    const argv = existsSync(SETPRIV) ? [SETPRIV, '--pdeathsig', 'KILL', '--', binary, ...args] : [binary, ...args];
    this.child = spawn(argv[0]!, argv.slice(1), { cwd: opts.cwd, stdio: ['pipe', 'ignore', 'pipe'] });
    this.child.stdin?.on('error', () => undefined);
    this.child.stderr?.setEncoding('utf8');
    this.child.stderr?.on('data', (chunk: string) => {
      this.stderrTail = (this.stderrTail + chunk).slice(-STDERR_KEEP);
    });
    this.exited = new Promise((resolve) => {
      this.child.once('error', (err) => {
        this.stderrTail += `\n${err.message}`;
      });
      this.child.once('close', (code, signal) => {
        this.exitInfo = { code, signal, stopped: this.stopping, stderr: this.stderrTail.trim() };
        resolve(this.exitInfo);
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.exitInfo === null;
  }

  /** What ffmpeg wrote to stderr so far (its last STDERR_KEEP bytes). */
  get stderr(): string {
    return this.stderrTail;
  }

  /** The last error-looking lines of stderr (what a failed egress reports). */
  errorSummary(maxLines = 4): string {
    const lines = this.stderrTail.split('\n').map((l) => l.trim()).filter((l) => l.length > 0);
    return lines.slice(-maxLines).join('; ');
  }

  /** The child's stdin: the input itself when ffmpeg reads `pipe:0` (RTMP ingress). */
  get stdin(): NodeJS.WritableStream | null {
    return this.child.stdin;
  }

  /** Sends a filter command (ffmpeg's interactive `c`: "<target> <time> <command> <arg>"). */
  command(line: string): void {
    if (this.running && !this.stopping) this.child.stdin?.write(`c${line}\n`);
  }

  /**
   * Asks ffmpeg to finish (`q`, or the end of its input when stdin is the input, then one
   * SIGINT after `graceMs`); kills it after `timeoutMs`.
   */
  async stop(graceMs = 4000, timeoutMs = 15_000, stdinIsInput = false): Promise<FfmpegExit> {
    if (this.exitInfo) return this.exitInfo;
    const timers: NodeJS.Timeout[] = [];
    if (!this.stopping) {
      this.stopping = true;
      if (stdinIsInput) this.child.stdin?.end();
      else this.child.stdin?.end('q');
      timers.push(setTimeout(() => this.child.kill('SIGINT'), graceMs));
    }
    timers.push(setTimeout(() => this.child.kill('SIGKILL'), timeoutMs));
    const exit = await this.exited;
    for (const t of timers) clearTimeout(t);
    return exit;
  }

  /** Ends the child at once (its output is not finished): for a child that failed anyway. */
  kill(): void {
    if (!this.exitInfo) {
      this.stopping = true;
      this.child.kill('SIGKILL');
    }
  }
}

/** Runs a short ffmpeg/ffprobe command and returns its stdout (throws with stderr on failure). */
export function runTool(binary: string, args: string[], timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => { out += c; });
    child.stderr.setEncoding('utf8').on('data', (c: string) => { err = (err + c).slice(-4096); });
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${binary} exited ${code}: ${err.trim()}`))));
  });
}

/**
 * Rewrites a file that ffmpeg could not finish (its writer was killed) into a finished one, in
 * place, when ffmpeg can read it: the container gets its duration and index. The rewrite
 * replaces the file only if it holds every packet ffprobe reads in the original, so a repair
 * never loses recorded media. False if the file is kept as it was.
 */
export async function repairFile(path: string): Promise<boolean> {
  const dot = path.lastIndexOf('.');
  const tmp = `${path.slice(0, dot)}.repair${path.slice(dot)}`;
  try {
    await runTool(FFMPEG, ['-hide_banner', '-v', 'error', '-y', '-i', path, '-map', '0', '-c', 'copy', tmp], 60_000);
    const [original, repaired] = await Promise.all([countPackets(path), countPackets(tmp)]);
    if (repaired < original) throw new Error(`the repair read ${repaired} of ${original} packets`);
    await rename(tmp, path);
    return true;
  } catch {
    await rm(tmp, { force: true });
    return false;
  }
}

/** Packets ffprobe reads from a media file, all streams. */
async function countPackets(path: string): Promise<number> {
  const out = await runTool(FFPROBE, ['-v', 'error', '-count_packets', '-show_entries', 'stream=nb_read_packets', '-of', 'csv=p=0', path], 60_000);
  return out.split('\n').reduce((n, line) => n + (Number(line.trim()) || 0), 0);
}

/**
 * Joins media files (parts of one recording, same codecs) into `path`, in the container its
 * extension names, without re-encoding (ffmpeg's concat demuxer).
 */
export async function joinFiles(parts: string[], path: string): Promise<void> {
  if (parts.length === 0) return;
  const list = `${path}.parts.txt`;
  await writeFile(list, parts.map((p) => `file '${p.replace(/'/g, "'\\''")}'\n`).join(''));
  try {
    await runTool(FFMPEG, ['-hide_banner', '-v', 'error', '-y', '-f', 'concat', '-safe', '0', '-i', list, '-map', '0', '-c', 'copy', path], 120_000);
  } finally {
    await rm(list, { force: true });
  }
}

/** A media file's duration in seconds as ffprobe reads it (0 when it has none). */
export async function probeDuration(path: string): Promise<number> {
  const out = await runTool(FFPROBE, ['-v', 'error', '-show_entries', 'format=duration', '-of', 'default=nw=1:nk=1', path]);
  const d = Number(out.trim());
  return Number.isFinite(d) ? d : 0;
}
