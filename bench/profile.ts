// `--profile`: V8 CPU profiles of Strand's threads (node --cpu-prof writes one per thread when
// it ends: the main thread and every worker), summarised as the functions with the most
// samples of their own, per thread. Native code called from JavaScript (a send into
// libdatachannel) counts under the JavaScript function that called it, as V8 sees it.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
}

export interface ProfileSummary {
  file: string;
  /** Sampled time, s, and how much of it was not idle. */
  seconds: number;
  busySeconds: number;
  top: Array<{ fn: string; where: string; percentOfBusy: number }>;
}

/** Samples that are not the thread's work; garbage collection is, and is listed. */
const NOT_BUSY = new Set(['(idle)', '(program)']);

export function summariseProfiles(dir: string, topN = 12): ProfileSummary[] {
  const out: ProfileSummary[] = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).sort()) {
    const p = JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile;
    const byNode = new Map(p.nodes.map((n) => [n.id, n]));
    const counts = new Map<string, { fn: string; where: string; hits: number }>();
    let busy = 0;
    for (const id of p.samples) {
      const n = byNode.get(id);
      if (!n) continue;
      const fn = n.callFrame.functionName || '(anonymous)';
      if (NOT_BUSY.has(fn)) continue;
      busy++;
      const where = n.callFrame.url ? `${n.callFrame.url.replace(/^.*\/(dist|node_modules)\//, '$1/')}:${n.callFrame.lineNumber + 1}` : '';
      const key = `${fn} ${where}`;
      const c = counts.get(key) ?? { fn, where, hits: 0 };
      c.hits++;
      counts.set(key, c);
    }
    const seconds = (p.endTime - p.startTime) / 1e6;
    const perSample = p.samples.length > 0 ? seconds / p.samples.length : 0;
    const top = [...counts.values()].sort((a, b) => b.hits - a.hits).slice(0, topN)
      .map((c) => ({ fn: c.fn, where: c.where, percentOfBusy: busy > 0 ? (100 * c.hits) / busy : 0 }));
    out.push({ file, seconds, busySeconds: busy * perSample, top });
  }
  return out;
}
