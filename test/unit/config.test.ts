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
