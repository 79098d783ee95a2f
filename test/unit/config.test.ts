import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildConfig } from '../../src/main/cli.js';
import { ConfigError, applyYaml, defaultConfig, parseKeys } from '../../src/main/config.js';

test('--dev gives LiveKit dev defaults', () => {
  const cfg = buildConfig(['--dev'], {}, () => undefined);
  assert.deepEqual(cfg.keys, { devkey: 'secret' });
  assert.equal(cfg.port, 7880);
  assert.equal(cfg.rtc.udpPort, 7882);
  assert.deepEqual(cfg.bindAddresses, ['127.0.0.1']);
  assert.equal(cfg.rtc.nodeIp, '127.0.0.1');
});

test('LiveKit YAML keys apply; unknown keys warn instead of failing', () => {
  const cfg = defaultConfig(false);
  const warnings: string[] = [];
  applyYaml(cfg, `
port: 7990
keys:
  APIabc: 0123456789abcdef0123456789abcdef
rtc:
  udp_port: 9000-9010
  node_ip: 10.1.2.3
  use_external_ip: true
room:
  auto_create: false
  empty_timeout: 60
turn:
  enabled: false
`, (w) => warnings.push(w));
  assert.equal(cfg.port, 7990);
  assert.equal(cfg.rtc.udpPort, 9000);
  assert.equal(cfg.rtc.nodeIp, '10.1.2.3');
  assert.equal(cfg.room.autoCreate, false);
  assert.equal(cfg.room.emptyTimeout, 60);
  assert.deepEqual(Object.keys(cfg.keys), ['APIabc']);
  assert.deepEqual(warnings.map((w) => w.match(/"(.+?)"/)?.[1]), ['rtc.use_external_ip', 'turn']);
});

test('bad values are clear errors', () => {
  const cfg = defaultConfig(false);
  assert.throws(() => applyYaml(cfg, 'port: -1', () => undefined), /port must be a non-negative number/);
  assert.throws(() => applyYaml(cfg, 'room: {auto_create: "yes"}', () => undefined), /room.auto_create must be true or false/);
  assert.throws(() => applyYaml(cfg, 'port: [', () => undefined), ConfigError);
  assert.throws(() => buildConfig([], {}, () => undefined), /no API keys/);
  assert.throws(() => buildConfig(['--keys', 'k: short'], {}, () => undefined), /shorter than 32/);
  assert.throws(() => buildConfig(['--dev', '--port', 'abc'], {}, () => undefined), /--port/);
});

test('keys from LIVEKIT_KEYS and --keys', () => {
  assert.deepEqual(parseKeys('a: b, c: d'), { a: 'b', c: 'd' });
  assert.throws(() => parseKeys('nocolon'), ConfigError);
  const cfg = buildConfig(['--dev'], { LIVEKIT_KEYS: 'mykey: mysecret' }, () => undefined);
  assert.deepEqual(cfg.keys, { mykey: 'mysecret' });
});

test('webhook, prometheus and limit keys; webhook key checks', () => {
  const cfg = buildConfig(['--dev', '--store', '/tmp/x', '--config-body', `
webhook:
  urls: ["http://127.0.0.1:9/hook"]
  max_age: 120
prometheus:
  port: 6789
limit:
  max_metadata_size: 100
  max_api_request_body_size: 2048
room:
  enable_remote_unmute: true
`], {}, () => undefined);
  assert.deepEqual(cfg.webhook.urls, ['http://127.0.0.1:9/hook']);
  assert.equal(cfg.webhook.apiKey, 'devkey', 'the only key signs webhooks when none is named');
  assert.equal(cfg.webhook.maxAgeSeconds, 120);
  assert.equal(cfg.prometheusPort, 6789);
  assert.equal(cfg.limit.maxMetadataSize, 100);
  assert.equal(cfg.limit.maxApiRequestBodySize, 2048);
  assert.equal(cfg.limit.maxAttributesSize, 64 * 1024, 'unset limits keep LiveKit defaults');
  assert.equal(cfg.room.enableRemoteUnmute, true);
  assert.equal(cfg.storePath, '/tmp/x');
  assert.equal(buildConfig(['--dev', '--config-body', 'prometheus_port: 7000'], {}, () => undefined).prometheusPort, 7000);

  const twoKeys = 'keys: { a: 0123456789abcdef0123456789abcdef, b: 0123456789abcdef0123456789abcdef }';
  assert.throws(() => buildConfig(['--config-body', `${twoKeys}\nwebhook: { urls: ["http://x/"] }`], {}, () => undefined), /webhook.api_key is required/);
  assert.throws(() => buildConfig(['--config-body', `${twoKeys}\nwebhook: { api_key: c, urls: ["http://x/"] }`], {}, () => undefined), /not one of the configured keys/);
  assert.throws(() => buildConfig(['--dev', '--config-body', 'webhook: { urls: ["ftp://x/"] }'], {}, () => undefined), /must start with http/);
});

test('rtc.worker_young_generation_size caps the media workers\' young generation; 0 leaves V8\'s own', () => {
  assert.equal(defaultConfig(false).rtc.workerYoungGenerationSize, 3);
  const cfg = defaultConfig(false);
  applyYaml(cfg, 'rtc: { worker_young_generation_size: 0 }', () => undefined);
  assert.equal(cfg.rtc.workerYoungGenerationSize, 0);
  applyYaml(cfg, 'rtc: { worker_young_generation_size: 8 }', () => undefined);
  assert.equal(cfg.rtc.workerYoungGenerationSize, 8);
  assert.throws(() => applyYaml(cfg, 'rtc: { worker_young_generation_size: big }', () => undefined), ConfigError);
});
