// An egress's files on disk, as both sides see them: the egress worker writes composite parts
// into a working directory while it records, and the main thread joins what an interrupted
// one left there after a crash. One naming, here.
import { readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Where an egress keeps its SDPs and composite parts while it runs. */
export function egressWorkDir(egressId: string): string {
  return join(tmpdir(), 'strand-egress', egressId);
}

/** Part `part` of output `output` of a composite file (NUT: any codec, and ffmpeg's concat joins it). */
export function partPath(workDir: string, output: number, part: number): string {
  return join(workDir, `output-${output}-part-${part}.nut`);
}

const PART = /^output-(\d+)-part-(\d+)\.nut$/;

/** The non-empty composite parts in an egress's working directory, in output and part order. */
export function leftoverParts(egressId: string): string[] {
  const dir = egressWorkDir(egressId);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const order = (name: string) => PART.exec(name)!.slice(1).map(Number);
  return names.filter((n) => PART.test(n)).sort((a, b) => {
    const [oa, pa] = order(a);
    const [ob, pb] = order(b);
    return oa! - ob! || pa! - pb!;
  }).map((n) => join(dir, n)).filter((p) => fileSize(p) > 0);
}

/** A file's size in bytes; 0 when it does not exist. */
export function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}
