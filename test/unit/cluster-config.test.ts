// LiveKit's multi-node keys, and which node the selectors pick.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, applyYaml, defaultConfig, validateConfig } from '../../src/main/config.js';
import { selectNode } from '../../src/main/cluster/node-selector.js';

test('redis, node_selector, signal_relay, region and shutdown_timeout parse; bad values are refused', () => {
  const cfg = defaultConfig(true);
  const warnings: string[] = [];
  applyYaml(cfg, `
redis: { address: "10.0.0.5:6379", password: pw, db: 2, read_timeout: 200ms, unknown_key: 1 }
node_selector: { kind: sysload, sort_by: rooms, sysload_limit: 0.7 }
signal_relay: { retry_timeout: 5s, min_retry_interval: 250ms }
region: eu-west
shutdown_timeout: 1m
`, (w) => warnings.push(w));
  assert.equal(cfg.redis?.address, '10.0.0.5:6379');
  assert.equal(cfg.redis?.db, 2);
  assert.equal(cfg.redis?.commandTimeoutMs, 200);
  assert.deepEqual(cfg.nodeSelector, { kind: 'sysload', sortBy: 'rooms', cpuLoadLimit: 0.9, sysloadLimit: 0.7 });
  assert.equal(cfg.signalRelay.retryTimeoutMs, 5000);
  assert.equal(cfg.signalRelay.minRetryIntervalMs, 250);
  assert.equal(cfg.region, 'eu-west');
  assert.equal(cfg.shutdownTimeoutMs, 60_000);
  assert.ok(warnings.some((w) => w.includes('redis.unknown_key')));
  for (const bad of ['redis: { db: 1 }', 'redis: { address: nohost }', 'redis: { sentinel_addresses: ["a:1"] }', 'node_selector: { kind: regionaware }', 'signal_relay: { retry_timeout: soon }']) {
    assert.throws(() => {
      const c = defaultConfig(true);
      applyYaml(c, bad, () => {});
      validateConfig(c);
    }, ConfigError, bad);
  }
});

test('selectors: load limits with fallback, then the lowest by sort_by', () => {
  const node = (id: string, cpuLoad: number, rooms: number) => ({ id, stats: { cpuLoad, numRooms: rooms, loadAvgLast1min: cpuLoad * 2, numCpus: 2 } });
  const nodes = [node('a', 0.95, 1), node('b', 0.5, 3), node('c', 0.2, 2)];
  const base = { cpuLoadLimit: 0.9, sysloadLimit: 0.9 };
  assert.equal(selectNode(nodes, { ...base, kind: 'any', sortBy: 'rooms' })?.id, 'a');
  assert.equal(selectNode(nodes, { ...base, kind: 'cpuload', sortBy: 'rooms' })?.id, 'c');
  assert.equal(selectNode(nodes, { ...base, kind: 'cpuload', sortBy: 'cpuload' })?.id, 'c');
  // Every node over the limit: all of them are candidates again.
  assert.equal(selectNode(nodes, { ...base, cpuLoadLimit: 0.1, kind: 'cpuload', sortBy: 'rooms' })?.id, 'a');
  assert.equal(selectNode([], { ...base, kind: 'any', sortBy: 'random' }), null);
  const picked = new Set(Array.from({ length: 50 }, (_, i) => selectNode(nodes, { ...base, kind: 'any', sortBy: 'random' }, () => (i % 3) / 3)?.id));
  assert.deepEqual([...picked].sort(), ['a', 'b', 'c']);
});
