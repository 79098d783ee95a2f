// Small SVG line charts: packets per CPU-second against fan-out (one line per target and worker
// count, from every result JSON of a scenario under bench/results/), and others (churn's memory).
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SfuBenchResult } from './sfu.js';

const W = 720;
const H = 420;
const M = { left: 80, right: 180, top: 40, bottom: 60 };
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b'];

function escape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
}

/** Every stored result of `scenario`, newest last. */
export function storedResults(dir: string, scenario: string): SfuBenchResult[] {
  const out: SfuBenchResult[] = [];
  for (const f of readdirSync(dir).filter((n) => n.startsWith(`${scenario}-`) && n.endsWith('.json')).sort()) {
    try {
      const data = JSON.parse(readFileSync(join(dir, f), 'utf8')) as { results?: SfuBenchResult[] };
      for (const r of data.results ?? []) if (r.scenario === scenario && r.packetsPerCpuSecond > 0) out.push(r);
    } catch {
      // not a result file of ours
    }
  }
  return out;
}

export function plotPacketsPerCpu(results: SfuBenchResult[], scenario: string, file: string): void {
  // One point per (series, fan-out): the newest measurement.
  const series = new Map<string, Map<number, number>>();
  for (const r of results) {
    const name = `${r.target}${r.target === 'strand' ? `, ${r.workers} worker${r.workers > 1 ? 's' : ''}` : ''}`;
    if (!series.has(name)) series.set(name, new Map());
    series.get(name)!.set(r.subscribers, r.packetsPerCpuSecond);
  }
  const points = new Map([...series].map(([name, m]) => [name, [...m].sort((a, b) => a[0] - b[0])] as const));
  writeLineChart({ title: `${scenario}: delivered packets per server CPU-second`, xLabel: 'subscribers (fan-out)', series: points, xStep: 10 }, file);
}

export interface LineChart {
  title: string;
  xLabel: string;
  /** Points of each named line, in x order. */
  series: ReadonlyMap<string, ReadonlyArray<readonly [number, number]>>;
  /** The x axis ends at a multiple of this. */
  xStep: number;
}

/** A small SVG line chart: one coloured line per series, with a legend. */
export function writeLineChart(chart: LineChart, file: string): void {
  const all = [...chart.series.values()].flat();
  const xMax = Math.ceil(Math.max(1, ...all.map((p) => p[0])) / chart.xStep) * chart.xStep;
  const yMax = Math.max(1, ...all.map((p) => p[1])) * 1.1;
  const x = (v: number) => M.left + (v / xMax) * (W - M.left - M.right);
  const y = (v: number) => H - M.bottom - (v / yMax) * (H - M.top - M.bottom);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${(M.left + W - M.right) / 2}" y="22" font-size="15" text-anchor="middle">${escape(chart.title)}</text>`,
    `<line x1="${M.left}" y1="${H - M.bottom}" x2="${W - M.right}" y2="${H - M.bottom}" stroke="black"/>`,
    `<line x1="${M.left}" y1="${M.top}" x2="${M.left}" y2="${H - M.bottom}" stroke="black"/>`,
    `<text x="${(M.left + W - M.right) / 2 - 40}" y="${H - 18}">${escape(chart.xLabel)}</text>`,
  ];
  for (let i = 0; i <= 5; i++) {
    const v = (yMax * i) / 5;
    parts.push(`<line x1="${M.left - 4}" y1="${y(v)}" x2="${W - M.right}" y2="${y(v)}" stroke="#ddd"/>`,
      `<text x="${M.left - 8}" y="${y(v) + 4}" text-anchor="end">${Math.round(v).toLocaleString('en')}</text>`);
    const xv = (xMax * i) / 5;
    parts.push(`<text x="${x(xv)}" y="${H - M.bottom + 18}" text-anchor="middle">${Math.round(xv)}</text>`);
  }
  let k = 0;
  for (const [name, points] of chart.series) {
    const color = COLORS[k % COLORS.length]!;
    parts.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${points.map(([px, py]) => `${x(px)},${y(py)}`).join(' ')}"/>`);
    for (const [px, py] of points) parts.push(`<circle cx="${x(px)}" cy="${y(py)}" r="4" fill="${color}"><title>${Math.round(py)}</title></circle>`);
    parts.push(`<rect x="${W - M.right + 16}" y="${M.top + 20 * k - 9}" width="12" height="12" fill="${color}"/>`,
      `<text x="${W - M.right + 34}" y="${M.top + 20 * k + 2}">${escape(name)}</text>`);
    k++;
  }
  parts.push('</svg>');
  writeFileSync(file, `${parts.join('\n')}\n`);
}
