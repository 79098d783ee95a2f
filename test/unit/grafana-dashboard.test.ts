import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { MediaPool } from '../../src/main/media-pool.js';
import { Metrics } from '../../src/main/metrics/metrics.js';
import { COUNTER_SLOTS } from '../../src/workers/media-counters.js';

const DASHBOARD = fileURLToPath(new URL('../../../deploy/grafana/strand-overview.json', import.meta.url));

test('every metric the Grafana dashboard queries is one Strand exports', async () => {
  const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: Array<{ targets: Array<{ expr: string }> }> };
  const pool = { counterTotals: () => new Float64Array(COUNTER_SLOTS) } as unknown as MediaPool;
  const exported = new Set((await new Metrics('ND_test', () => [], pool).registry.getMetricsAsJSON()).map((m) => m.name));
  const queried = new Set(dashboard.panels.flatMap((p) => p.targets.flatMap((t) => t.expr.match(/livekit_[a-z_]+/g) ?? [])));
  assert.ok(queried.size >= 8);
  for (const name of queried) {
    // Grafana asks for a histogram's series by their suffixes.
    const family = name.replace(/_(bucket|sum|count)$/, '');
    assert.ok(exported.has(name) || exported.has(family), `${name} is not exported`);
  }
});
