// Strand's log: pino's JSON lines for machines (the default when stdout is a pipe or a file),
// or one readable line per entry for people: in `--dev` and when stdout is a terminal.
// STRAND_LOG_FORMAT=json|pretty decides instead (tests read the JSON of a --dev server).
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

export type LogFormat = 'json' | 'pretty';

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const COLORS: Record<number, string> = { 10: '90', 20: '36', 30: '32', 40: '33', 50: '31', 60: '35' };
const SKIP = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'service']);

/** `json` or `pretty`, from STRAND_LOG_FORMAT, else pretty in --dev or on a terminal. */
export function logFormat(dev: boolean, env: NodeJS.ProcessEnv = process.env, tty = process.stdout.isTTY === true): LogFormat {
  const asked = env.STRAND_LOG_FORMAT;
  if (asked === 'json' || asked === 'pretty') return asked;
  return dev || tty ? 'pretty' : 'json';
}

/** One JSON log line as a person reads it: "12:03:04.567 INFO  strand started port=7880 …". */
export function prettyLine(json: string, color: boolean): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  const level = typeof entry.level === 'number' ? entry.level : 30;
  const time = new Date(typeof entry.time === 'number' ? entry.time : Date.now()).toISOString().slice(11, 23);
  const label = (LEVELS[level] ?? String(level)).padEnd(5);
  const fields = Object.entries(entry).filter(([k]) => !SKIP.has(k)).map(([k, v]) => {
    if (k === 'err' && v && typeof v === 'object' && 'message' in v) return `err=${JSON.stringify((v as { message: unknown }).message)}`;
    return `${k}=${typeof v === 'string' && !/\s|"/.test(v) ? v : JSON.stringify(v)}`;
  });
  const head = color ? `\x1b[90m${time}\x1b[0m \x1b[${COLORS[level] ?? '0'}m${label}\x1b[0m` : `${time} ${label}`;
  return `${head} ${String(entry.msg ?? '')}${fields.length ? ` ${fields.join(' ')}` : ''}`;
}

/** A pino destination that writes each entry as a readable line to stdout. */
function prettyStream(): DestinationStream {
  const color = process.stdout.isTTY === true && !process.env.NO_COLOR;
  return {
    write(chunk: string): void {
      for (const line of chunk.split('\n')) if (line) process.stdout.write(`${prettyLine(line, color)}\n`);
    },
  };
}

export function createLogger(level: string, format: LogFormat = 'json'): Logger {
  const options = { level, base: { service: 'strand' } };
  return format === 'pretty' ? pino(options, prettyStream()) : pino(options);
}
