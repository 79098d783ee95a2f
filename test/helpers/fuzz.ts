// Seeded fuzzing for the unit tests: a small PRNG, byte and text mutators, and a runner that
// names the seed and case of a failure, so any failure replays exactly.
//
// STRAND_FUZZ_SEED=<n> replays a run with another seed; STRAND_FUZZ_SCALE=<x> multiplies the
// case counts (0.01 for a quick look, 10 for a long soak).

/** xorshift32: fast, and the same sequence on every machine for a seed. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0 || 0x9e3779b9;
  }

  u32(): number {
    let x = this.s;
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    this.s = x;
    return x;
  }

  /** 0 ≤ n < max. */
  int(max: number): number {
    return max <= 0 ? 0 : this.u32() % max;
  }

  chance(p: number): boolean {
    return this.u32() / 2 ** 32 < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.u32() & 0xff;
    return out;
  }
}

const INTERESTING_BYTES = [0x00, 0x01, 0x7f, 0x80, 0xff, 0xfe, 0x10, 0x20, 0x40, 0xbe, 0xde];

/** One to four mutations of `input`: bit flips, odd bytes, cuts, repeats, inserts, truncation. */
export function mutateBytes(rng: Rng, input: Uint8Array): Uint8Array {
  let b = Uint8Array.from(input);
  const steps = 1 + rng.int(4);
  for (let s = 0; s < steps; s++) {
    const at = rng.int(b.length + 1);
    switch (rng.int(7)) {
      case 0:
        if (b.length > 0) b[rng.int(b.length)]! ^= 1 << rng.int(8);
        break;
      case 1:
        if (b.length > 0) b[rng.int(b.length)] = rng.pick(INTERESTING_BYTES);
        break;
      case 2:
        if (b.length > 0) b[rng.int(b.length)] = rng.u32() & 0xff;
        break;
      case 3: { // cut a range
        const n = rng.int(Math.min(16, b.length - at) + 1);
        b = Uint8Array.from([...b.subarray(0, at), ...b.subarray(at + n)]);
        break;
      }
      case 4: { // repeat a range
        const n = rng.int(Math.min(16, b.length - at) + 1);
        b = Uint8Array.from([...b.subarray(0, at + n), ...b.subarray(at, at + n), ...b.subarray(at + n)]);
        break;
      }
      case 5: // insert random bytes
        b = Uint8Array.from([...b.subarray(0, at), ...rng.bytes(1 + rng.int(8)), ...b.subarray(at)]);
        break;
      default: // truncate
        b = b.subarray(0, at);
    }
  }
  return b;
}

const ODD_TOKENS = ['', '0', '-1', '4294967296', '99999999999999999999', 'NaN', ':', ' ', '/', ';', '=', '\t', '\u0000', 'é', '{', 'null'];

/**
 * Line-aware mutations of a text such as an SDP: lines dropped, repeated, swapped or taken from
 * `donors`; numbers replaced by odd values; characters changed; cut short.
 */
export function mutateText(rng: Rng, input: string, donors: readonly string[] = []): string {
  const eol = input.includes('\r\n') ? '\r\n' : '\n';
  let lines = input.split(eol);
  const steps = 1 + rng.int(4);
  for (let s = 0; s < steps; s++) {
    const i = rng.int(lines.length);
    switch (rng.int(8)) {
      case 0:
        lines.splice(i, 1);
        break;
      case 1:
        lines.splice(i, 0, lines[i] ?? '');
        break;
      case 2: {
        const j = rng.int(lines.length);
        [lines[i], lines[j]] = [lines[j]!, lines[i]!];
        break;
      }
      case 3:
        if (donors.length > 0) {
          const donor = rng.pick(donors).split(/\r?\n/);
          lines.splice(i, 0, rng.pick(donor));
        }
        break;
      case 4: // a number becomes an odd value
        lines[i] = (lines[i] ?? '').replace(/\d+/, () => rng.pick(ODD_TOKENS));
        break;
      case 5: { // a character changes
        const line = lines[i] ?? '';
        const at = rng.int(line.length + 1);
        lines[i] = line.slice(0, at) + rng.pick(ODD_TOKENS) + line.slice(at + 1);
        break;
      }
      case 6: // a line is cut short
        lines[i] = (lines[i] ?? '').slice(0, rng.int((lines[i] ?? '').length + 1));
        break;
      default: // the text is cut short
        lines = lines.slice(0, i + 1);
    }
  }
  return lines.join(eol);
}

function scale(): number {
  const s = Number(process.env.STRAND_FUZZ_SCALE ?? 1);
  return Number.isFinite(s) && s > 0 ? s : 1;
}

/** The seed of a run: STRAND_FUZZ_SEED if set, else the test's own. */
export function fuzzSeed(defaultSeed: number): number {
  const s = Number(process.env.STRAND_FUZZ_SEED);
  return Number.isInteger(s) ? s : defaultSeed;
}

/**
 * Runs `cases` cases of `body`, each with its own Rng from (seed, case). A throw becomes an
 * error naming the seed and case (and what `describe` says of the input), to replay it.
 */
export function fuzz(name: string, seed: number, cases: number, body: (rng: Rng, i: number) => void): number {
  const n = Math.max(1, Math.round(cases * scale()));
  const base = fuzzSeed(seed);
  for (let i = 0; i < n; i++) {
    const rng = new Rng((base * 0x01000193) ^ (i * 0x9e3779b1));
    try {
      body(rng, i);
    } catch (err) {
      const e = err as Error;
      e.message = `${name}: case ${i} of seed ${base} (STRAND_FUZZ_SEED=${base}) failed: ${e.message}`;
      throw e;
    }
  }
  return n;
}

export function hex(b: Uint8Array, max = 96): string {
  return Buffer.from(b.subarray(0, max)).toString('hex') + (b.length > max ? `… (${b.length} bytes)` : '');
}
