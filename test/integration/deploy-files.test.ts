// The deployment files under deploy/, checked as far as this machine can without a Docker
// engine or a Kubernetes cluster: every YAML parses; every file they mount, copy or build from
// exists; Strand's own config parser takes their Strand configs without a warning; the pieces
// agree (Prometheus scrapes the ports the nodes listen on, the grace period covers the drain);
// systemd-analyze verifies the unit (when installed). The Dockerfile's install step is the
// `npm install -g` of the packed tarball that test/integration/package.test.ts runs for real.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse, parseAllDocuments } from 'yaml';
import { applyYaml, defaultConfig, parseKeys, validateConfig, type StrandConfig } from '../../src/main/config.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const DEPLOY = join(ROOT, 'deploy');
const read = (p: string) => readFileSync(join(DEPLOY, p), 'utf8');

/** A config as Strand reads it, with the keys the deployment gives it (LIVEKIT_KEYS): no warning (no key it would ignore), and valid. */
function strandConfig(text: string, what: string, keys: string): StrandConfig {
  const cfg = defaultConfig(false);
  const warnings: string[] = [];
  applyYaml(cfg, text, (w) => warnings.push(w));
  assert.deepEqual(warnings, [], `${what}: keys Strand would ignore`);
  cfg.keys = parseKeys(keys);
  validateConfig(cfg);
  return cfg;
}

test('Dockerfile: node:20-bookworm-slim, the packed tarball installed with npm -g, non-root, strand as entrypoint, LiveKit ports, health check', () => {
  const text = read('Dockerfile');
  const lines = text.split('\n').filter((l) => !l.startsWith('#'));
  const froms = lines.filter((l) => l.startsWith('FROM '));
  assert.ok(froms.length >= 2 && froms.every((l) => l.startsWith('FROM node:20-bookworm-slim')), 'multi-stage on node:20-bookworm-slim');
  for (const l of lines.filter((x) => x.startsWith('COPY ') && !x.includes('--from='))) {
    const sources = l.split(/\s+/).slice(1, -1);
    for (const src of sources) assert.ok(existsSync(join(ROOT, src)), `COPY source ${src} exists in the repository`);
  }
  assert.match(text, /npm run release/, 'the build stage makes the package with tasks.ts release');
  assert.match(text, /npm install -g [^\n]*strand-\*\.tgz/, 'the runtime stage installs the packed tarball');
  const user = lines.filter((l) => l.startsWith('USER ')).at(-1);
  assert.ok(user && !/USER\s+(root|0)\b/.test(user), 'runs as a non-root user');
  assert.match(text, /^ENTRYPOINT \["strand"\]/m);
  for (const port of ['7880/tcp', '7881/tcp', '7882-7897/udp']) assert.match(text, new RegExp(`EXPOSE .*${port}`));
  assert.match(text, /HEALTHCHECK[\s\S]*127\.0\.0\.1:7880\//, 'the health check asks GET /');
  assert.ok(existsSync(join(ROOT, 'package-lock.json')), 'npm ci has its lock file');
});

test('docker-compose.yaml: two nodes on Redis, Prometheus scraping both, Grafana with the dashboard; every mounted file exists', () => {
  const compose = parse(read('docker-compose.yaml')) as {
    services: Record<string, { build?: { context: string; dockerfile: string }; volumes?: string[]; command?: string[]; environment?: Record<string, string> }>;
  };
  assert.deepEqual(Object.keys(compose.services).sort(), ['grafana', 'prometheus', 'redis', 'strand-a', 'strand-b']);
  const ports: number[] = [];
  for (const [name, svc] of Object.entries(compose.services)) {
    if (svc.build) assert.ok(existsSync(join(DEPLOY, svc.build.context, svc.build.dockerfile)), `${name}: its Dockerfile exists`);
    for (const v of svc.volumes ?? []) {
      const host = v.split(':')[0]!;
      assert.ok(existsSync(join(DEPLOY, host)), `${name}: ${host} exists`);
      if (name.startsWith('strand-') && host.endsWith('.yaml')) {
        const cfg = strandConfig(read(host), host, svc.environment?.LIVEKIT_KEYS ?? '');
        assert.ok(cfg.redis, `${host} joins the cluster`);
        assert.equal(cfg.shutdown.drain, true, `${host} drains`);
        ports.push(cfg.port);
      }
    }
  }
  assert.equal(ports.length, 2);
  const prom = parse(read('compose/prometheus.yml')) as { scrape_configs: Array<{ static_configs: Array<{ targets: string[] }> }> };
  const targets = prom.scrape_configs.flatMap((s) => s.static_configs.flatMap((c) => c.targets));
  assert.deepEqual(targets.map((t) => Number(t.split(':')[1])).sort(), ports.sort(), 'Prometheus scrapes both nodes');
  const dashboard = JSON.parse(read('grafana/strand-overview.json')) as { panels?: unknown[] };
  assert.ok((dashboard.panels?.length ?? 0) > 0, 'the dashboard has panels');
  for (const f of ['grafana/provisioning/datasources/prometheus.yaml', 'grafana/provisioning/dashboards/strand.yaml']) parse(read(f));
});

test('kubernetes: hostNetwork DaemonSet, config in a ConfigMap, keys in a Secret, readiness on GET /, preStop drain within the grace period, a Service', () => {
  const docs = parseAllDocuments(read('kubernetes/strand.yaml')).map((d) => d.toJS() as { kind: string; metadata: { name: string }; [k: string]: unknown });
  const byKind = new Map(docs.map((d) => [d.kind, d]));
  assert.deepEqual([...byKind.keys()].sort(), ['ConfigMap', 'DaemonSet', 'Secret', 'Service']);
  const config = (byKind.get('ConfigMap') as unknown as { data: Record<string, string> }).data['config.yaml']!;
  const secret = byKind.get('Secret') as unknown as { stringData: Record<string, string> };
  const cfg = strandConfig(config, 'the ConfigMap\'s config.yaml', secret.stringData.keys!);
  const ds = byKind.get('DaemonSet') as unknown as { spec: { template: { spec: {
    hostNetwork: boolean; terminationGracePeriodSeconds: number;
    containers: Array<{ args: string[]; env: Array<{ name: string; valueFrom?: { secretKeyRef?: { name: string }; fieldRef?: { fieldPath: string } } }>;
      readinessProbe: { httpGet: { path: string; port: number } }; lifecycle: { preStop: { exec: { command: string[] } } };
      volumeMounts: Array<{ mountPath: string }> }>;
    volumes: Array<{ configMap?: { name: string } }> } } } };
  const pod = ds.spec.template.spec;
  assert.equal(pod.hostNetwork, true, 'UDP media on the node\'s own address');
  const c = pod.containers[0]!;
  assert.deepEqual(c.readinessProbe.httpGet, { path: '/', port: cfg.port });
  assert.ok(c.lifecycle.preStop.exec.command.join(' ').includes('strand drain --wait'), 'preStop drains');
  assert.ok(pod.terminationGracePeriodSeconds * 1000 > cfg.shutdownTimeoutMs, 'the grace period covers the drain');
  assert.equal(c.env.find((e) => e.name === 'LIVEKIT_KEYS')?.valueFrom?.secretKeyRef?.name, byKind.get('Secret')!.metadata.name);
  assert.equal(c.env.find((e) => e.name === 'NODE_IP')?.valueFrom?.fieldRef?.fieldPath, 'status.hostIP');
  assert.ok(pod.volumes.some((v) => v.configMap?.name === byKind.get('ConfigMap')!.metadata.name));
  assert.ok(c.args.includes('/etc/strand/config.yaml') && c.volumeMounts.some((m) => m.mountPath === '/etc/strand'));
  const svc = byKind.get('Service') as unknown as { spec: { ports: Array<{ port: number }> } };
  assert.deepEqual(svc.spec.ports.map((p) => p.port), [7880]);
});

test('systemd unit: SIGTERM, a drain-sized stop timeout, LimitNOFILE, restart; systemd-analyze verify', () => {
  const unit = read('systemd/strand.service');
  const value = (key: string) => new RegExp(`^${key}=(.*)$`, 'm').exec(unit)?.[1];
  assert.equal(value('KillSignal'), 'SIGTERM');
  assert.equal(value('Restart'), 'on-failure');
  assert.ok(Number(value('LimitNOFILE')) >= 65536);
  assert.ok(Number(value('TimeoutStopSec')) > 60, 'leaves the drain its timeout (60 s in the documented config) and a margin');
  assert.match(value('ExecStart') ?? '', /strand --config \/etc\/strand\/config\.yaml/);
  const analyze = spawnSync('systemd-analyze', ['verify', join(DEPLOY, 'systemd/strand.service')], { encoding: 'utf8' });
  if (analyze.error) {
    console.log('systemd-analyze is not installed: the unit was checked by its keys only');
    return;
  }
  assert.equal(analyze.status, 0, analyze.stderr);
  assert.equal(analyze.stderr.trim(), '', 'no warnings');
});
