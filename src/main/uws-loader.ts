// Loads uWebSockets.js. The v20.57.0 Linux binaries are linked against glibc 2.38 only for
// three C23 entry points (__isoc23_sscanf/strtol/strtoul); on glibc 2.36 (Debian 12) the
// loader refuses them. In that one case Strand loads a copy of the binary whose three
// symbols are renamed to their C99 names (sscanf, strtol, strtoul) and whose GLIBC_2.38
// requirement is rewritten to GLIBC_2.2.5. The only behavioural difference of the C23
// functions is that they also parse "0b" binary literals, which uWS does not rely on.
// With glibc ≥ 2.38 (or the upstream build swapped in) the stock binary loads unchanged.
import { mkdirSync, readFileSync, renameSync, writeFileSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type * as UWS from 'uWebSockets.js';

const require = createRequire(import.meta.url);

export type Uws = typeof UWS;

const SHT_GNU_VERNEED = 0x6ffffffe;
const C23_PREFIX = '__isoc23_';
const NEW_VERSION = 'GLIBC_2.2.5';
const OLD_VERSION = 'GLIBC_2.38';

/** The SysV ELF hash, as stored in vernaux entries. */
function elfHash(name: string): number {
  let h = 0;
  for (let i = 0; i < name.length; i++) {
    h = ((h << 4) + name.charCodeAt(i)) >>> 0;
    const g = h & 0xf0000000;
    if (g) h ^= g >>> 24;
    h = (h & ~g) >>> 0;
  }
  return h;
}

/** Rewrites an ELF64 little-endian shared object as described above. Returns null if it does not apply. */
export function patchGlibc238(input: Buffer): Buffer | null {
  const d = Buffer.from(input);
  if (d.readUInt32BE(0) !== 0x7f454c46 || d[4] !== 2 || d[5] !== 1) return null;
  const shoff = Number(d.readBigUInt64LE(0x28));
  const shentsize = d.readUInt16LE(0x3a);
  const shnum = d.readUInt16LE(0x3c);
  const section = (i: number) => {
    const o = shoff + i * shentsize;
    return { type: d.readUInt32LE(o + 4), offset: Number(d.readBigUInt64LE(o + 0x18)), size: Number(d.readBigUInt64LE(o + 0x20)), link: d.readUInt32LE(o + 0x28) };
  };
  let verneed: ReturnType<typeof section> | undefined;
  for (let i = 0; i < shnum; i++) if (section(i).type === SHT_GNU_VERNEED) verneed = section(i);
  if (!verneed) return null;
  const dynstr = section(verneed.link);
  const strAt = (off: number) => d.toString('latin1', dynstr.offset + off, d.indexOf(0, dynstr.offset + off));
  const findStr = (s: string) => {
    const i = d.indexOf(Buffer.from(`${s}\0`, 'latin1'), dynstr.offset);
    return i >= 0 && i < dynstr.offset + dynstr.size ? i - dynstr.offset : -1;
  };
  const newName = findStr(NEW_VERSION);
  if (newName < 0) return null;

  let patchedVersion = false;
  let p = verneed.offset;
  for (;;) {
    const cnt = d.readUInt16LE(p + 2);
    let a = p + d.readUInt32LE(p + 8);
    for (let k = 0; k < cnt; k++) {
      if (strAt(d.readUInt32LE(a + 8)) === OLD_VERSION) {
        d.writeUInt32LE(elfHash(NEW_VERSION), a);
        d.writeUInt32LE(newName, a + 8);
        patchedVersion = true;
      }
      a += d.readUInt32LE(a + 12);
    }
    const next = d.readUInt32LE(p + 12);
    if (!next) break;
    p += next;
  }
  if (!patchedVersion) return null;

  // "__isoc23_strtol\0" becomes "strtol\0…": the name now ends early; the bytes after it stay.
  for (const fn of ['sscanf', 'strtol', 'strtoul']) {
    const at = findStr(C23_PREFIX + fn);
    if (at >= 0) d.write(`${fn}\0`, dynstr.offset + at, 'latin1');
  }
  return d;
}

function nativePath(): string {
  // The package exports only its entry (uws.js), which sits beside the binaries.
  const pkgDir = dirname(require.resolve('uWebSockets.js'));
  return join(pkgDir, `uws_${process.platform}_${process.arch}_${process.versions.modules}.node`);
}

let loaded: Uws | null = null;

/**
 * uWebSockets.js, loaded once per process. `maxHeadersBytes` is its limit on a request's line
 * and headers (beyond it uWS answers its own 431 page), which the binary reads from
 * UWS_HTTP_MAX_HEADERS_SIZE when it is loaded. Its default, 4 KiB, is too small: a v1 URL
 * carries the whole JoinRequest with the client's offer (about 2.8 kB from livekit-client 2.23,
 * more with long tokens or many codecs). The first load in a process sets it, and an
 * operator's own UWS_HTTP_MAX_HEADERS_SIZE wins.
 */
export function loadUws(maxHeadersBytes: number): Uws {
  if (loaded) return loaded;
  process.env.UWS_HTTP_MAX_HEADERS_SIZE ??= String(maxHeadersBytes);
  loaded = loadBinary();
  return loaded;
}

function loadBinary(): Uws {
  try {
    return require('uWebSockets.js') as Uws;
  } catch (err) {
    if (!String((err as Error).message).includes(OLD_VERSION) || process.platform !== 'linux') throw err;
    const original = nativePath();
    const source = readFileSync(original);
    const patched = patchGlibc238(source);
    if (!patched) throw err;
    const dir = join(tmpdir(), 'strand-uws');
    mkdirSync(dir, { recursive: true });
    const target = join(dir, `uws_${process.arch}_${process.versions.modules}_${source.length}.node`);
    if (!existsSync(target)) {
      const tmp = `${target}.${process.pid}`;
      writeFileSync(tmp, patched);
      renameSync(tmp, target);
    }
    return require(target) as Uws;
  }
}
