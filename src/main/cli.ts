// The `strand` command: flags and environment → config → start; SIGINT/SIGTERM → graceful stop.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { defaultRedis } from './cluster/cluster-config.js';
import { ConfigError, applyYaml, defaultConfig, parseKeys, validateConfig, type StrandConfig } from './config.js';
import { createLogger, logFormat } from './logger.js';
import { startServer } from './server.js';
import { ADMIN_USAGE, adminCommand } from './admin/admin-commands.js';
import { ApiError } from './admin/api-client.js';
import { TOKEN_USAGE, tokenCommand } from './token-command.js';

const USAGE = `usage: strand [--dev] [--config <file.yaml>] [--config-body <yaml>] [--keys "key: secret"]
              [--bind <addr>]… [--port <n>] [--udp-port <n>] [--node-ip <addr>] [--workers <n>] [--store <dir>]
              [--redis-host <host:port>]
       strand token create --room R --identity I [--grant …] [--valid-for 6h]   (see strand token create --help)
       strand room|participant|egress <command> …   the server API, like lk (see strand room --help)
       strand drain [--url …]                       a running server drains and stops
       strand load-test [--publishers P --subscribers S --video-resolution high --duration 10s]   like lk load-test

  --dev           development mode: keys "devkey: secret", binds 127.0.0.1, ICE on 127.0.0.1:7882
  --config        LiveKit-style YAML config file (also LIVEKIT_CONFIG_FILE)
  --config-body   YAML config as a string (also LIVEKIT_CONFIG)
  --keys          API keys, "key: secret" (also LIVEKIT_KEYS)
  --bind          address to listen on for HTTP/WebSocket (repeatable)
  --port          HTTP/WebSocket port (default 7880)
  --udp-port      first ICE UDP port; media worker i uses port + i (default 7882)
  --node-ip       address ICE binds to and advertises
  --workers       number of media workers (default: number of cores)
  --store         LMDB directory for rooms, participants and the webhook queue (default ./.strand)
  --redis-host    Redis host:port: this node joins the cluster there (also REDIS_HOST)`;

/** Stopping must finish within this, or the process exits anyway (a cluster node: shutdown_timeout). */
const SHUTDOWN_DEADLINE_MS = 4500;

export function buildConfig(argv: string[], env: NodeJS.ProcessEnv, warn: (msg: string) => void): StrandConfig {
  const { values } = parseArgs({
    args: argv,
    options: {
      dev: { type: 'boolean', default: false },
      config: { type: 'string' },
      'config-body': { type: 'string' },
      keys: { type: 'string' },
      bind: { type: 'string', multiple: true },
      port: { type: 'string' },
      'udp-port': { type: 'string' },
      'node-ip': { type: 'string' },
      workers: { type: 'string' },
      store: { type: 'string' },
      'redis-host': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const cfg = defaultConfig(values.dev ?? false);
  const file = values.config ?? env.LIVEKIT_CONFIG_FILE;
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new ConfigError(`cannot read config file ${file}: ${(err as Error).message}`);
    }
    applyYaml(cfg, text, warn);
  }
  const body = values['config-body'] ?? env.LIVEKIT_CONFIG;
  if (body) applyYaml(cfg, body, warn);
  const keys = values.keys ?? env.LIVEKIT_KEYS;
  if (keys) cfg.keys = parseKeys(keys);
  if (values.bind?.length) cfg.bindAddresses = values.bind;
  const int = (v: string, name: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0 || n > 65535) throw new ConfigError(`--${name} must be a port number`);
    return n;
  };
  if (values.port !== undefined) cfg.port = int(values.port, 'port');
  const udp = values['udp-port'] ?? env.UDP_PORT;
  if (udp !== undefined) cfg.rtc.udpPort = int(udp, 'udp-port');
  const nodeIp = values['node-ip'] ?? env.NODE_IP;
  if (nodeIp !== undefined) cfg.rtc.nodeIp = nodeIp;
  if (values.workers !== undefined) {
    const n = Number(values.workers);
    if (!Number.isInteger(n) || n < 1 || n > 256) throw new ConfigError('--workers must be between 1 and 256');
    cfg.rtc.workers = n;
  }
  if (values.store !== undefined) cfg.storePath = values.store;
  // LiveKit's REDIS_HOST / REDIS_PASSWORD / LIVEKIT_REGION override the file.
  const redisHost = values['redis-host'] ?? env.REDIS_HOST;
  if (redisHost) cfg.redis = { ...(cfg.redis ?? defaultRedis(redisHost)), address: redisHost, sentinelAddresses: [], clusterAddresses: [] };
  if (env.REDIS_PASSWORD && cfg.redis) cfg.redis.password = env.REDIS_PASSWORD;
  if (env.LIVEKIT_REGION) cfg.region = env.LIVEKIT_REGION;
  validateConfig(cfg);
  return cfg;
}

/** `strand token …`: prints a token and exits. */
function runTokenCommand(argv: string[]): void {
  try {
    console.log(tokenCommand(argv, process.env));
  } catch (err) {
    if (err instanceof ConfigError) console.error(`strand: ${err.message}`);
    else if ((err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) console.error(`strand: ${(err as Error).message}\n\n${TOKEN_USAGE}`);
    else console.error(`strand: ${String((err as Error).stack ?? err)}`);
    process.exit(2);
  }
}

/** `strand room|participant|egress …`: one server API call, printed; exits 1 when the server refuses it. */
async function runAdminCommand(argv: string[]): Promise<void> {
  try {
    await adminCommand(argv, process.env, (line) => console.log(line));
  } catch (err) {
    if (err instanceof ApiError) {
      console.error(`strand: ${err.message}`);
      process.exit(1);
    }
    if (err instanceof ConfigError) console.error(`strand: ${err.message}`);
    else if ((err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) console.error(`strand: ${(err as Error).message}\n\n${ADMIN_USAGE}`);
    else console.error(`strand: ${String((err as Error).stack ?? err)}`);
    process.exit(2);
  }
}

/** `strand load-test …`: bots against a server, a table, and the process ends (bots' native threads included). */
async function runLoadTest(argv: string[]): Promise<void> {
  try {
    const { loadTestCommand } = await import('../loadtest/load-test.js');
    const r = await loadTestCommand(argv, process.env, (line) => console.log(line));
    process.exit(r.joinFailures > 0 ? 1 : 0);
  } catch (err) {
    if (err instanceof ConfigError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) console.error(`strand: ${(err as Error).message}`);
    else console.error(`strand: ${String((err as Error).stack ?? err)}`);
    process.exit(2);
  }
}

export async function main(argv: string[]): Promise<void> {
  if (argv[0] === 'token') {
    runTokenCommand(argv.slice(1));
    return;
  }
  if (argv[0] === 'room' || argv[0] === 'participant' || argv[0] === 'egress' || argv[0] === 'drain') {
    await runAdminCommand(argv);
    return;
  }
  if (argv[0] === 'load-test') {
    await runLoadTest(argv.slice(1));
    return;
  }
  const early: string[] = [];
  let cfg: StrandConfig;
  try {
    cfg = buildConfig(argv, process.env, (msg) => early.push(msg));
  } catch (err) {
    const msg = err instanceof ConfigError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')
      ? (err as Error).message : String((err as Error).stack ?? err);
    console.error(`strand: ${msg}\n\n${USAGE}`);
    process.exit(2);
  }
  const log = createLogger(cfg.logLevel, logFormat(cfg.development));
  for (const w of early) log.warn(w);
  // One participant's failed operation must never take the server down with it.
  process.on('unhandledRejection', (err) => log.error({ err }, 'unhandled rejection'));
  let server: Awaited<ReturnType<typeof startServer>>;
  // Set below; a drain asked through the API stops the process as SIGTERM does.
  let stop: (signal: string) => void = () => undefined;
  try {
    server = await startServer(cfg, log, { drainRequested: () => stop('drain') });
  } catch (err) {
    log.error({ err: (err as Error).message }, 'cannot start');
    log.flush?.();
    console.error(`strand: ${(err as Error).message}`);
    process.exit(1);
  }
  log.info({ port: server.port, prometheusPort: server.prometheusPort || undefined, store: cfg.storePath, bind: cfg.bindAddresses, udpPort: cfg.rtc.udpPort, workers: cfg.rtc.workers, dev: cfg.development }, 'strand started');

  let stopping = false;
  // With shutdown.drain set (or outside --dev) the node drains first: no new rooms, GET / 503,
  // and the rooms empty (or shutdown_timeout passes). A second signal stops at once.
  const graceful = cfg.shutdown.drain !== null;
  const finish = () => server.close().then(() => {
    log.info('stopped');
    log.flush?.();
    process.exit(0);
  }, (err: unknown) => {
    log.error({ err }, 'error while stopping');
    process.exit(1);
  });
  stop = (signal: string) => {
    if (stopping) {
      log.warn({ signal }, 'second signal: stopping now');
      void finish();
      return;
    }
    stopping = true;
    log.info({ signal, drain: graceful }, 'shutting down');
    const deadline = setTimeout(() => {
      log.warn('shutdown deadline reached, exiting');
      process.exit(0);
    }, graceful ? cfg.shutdownTimeoutMs + SHUTDOWN_DEADLINE_MS : cfg.redis ? cfg.shutdownTimeoutMs : SHUTDOWN_DEADLINE_MS);
    deadline.unref();
    if (graceful) void server.drain().then(finish);
    else void finish();
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}
