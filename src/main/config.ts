// Strand's configuration: LiveKit's YAML keys where a feature exists, Strand defaults otherwise.
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { parse as parseYaml } from 'yaml';
import {
  checkRedis, defaultNodeSelector, defaultSignalRelay, parseNodeSelector, parseRedis, parseSignalRelay, durationMs,
  type NodeSelectorConfig, type RedisConfig, type SignalRelayConfig,
} from './cluster/cluster-config.js';
import { defaultCascade, parseCascade, type CascadeConfig } from './cascade/cascade-config.js';
import { ConfigError, bool, isObject, num, str, strList } from './config-error.js';

export { ConfigError };

export interface IceServerConfig {
  urls: string[];
  username?: string;
  credential?: string;
}

export interface StrandConfig {
  development: boolean;
  port: number;
  bindAddresses: string[];
  keys: Record<string, string>;
  rtc: {
    /** First UDP port; media worker i listens on udpPort + i (ICE UDP mux). */
    udpPort: number;
    /** Address ICE binds to and advertises (dev: 127.0.0.1). Empty: all interfaces. */
    nodeIp: string;
    /** Number of media workers (default: number of cores). */
    workers: number;
    stunServers: string[];
    turnServers: IceServerConfig[];
    /**
     * Strand: subscribers of one room a worker takes before the room's next participants go to
     * other workers (0: a room stays on one worker).
     */
    maxSubscribersPerWorker: number;
    /**
     * Strand: subscribers of one room a node takes before the room spreads to other nodes
     * (cascading; 0: no limit, a room stays on its node).
     */
    maxSubscribersPerNode: number;
    /** Strand: capacity of each ring between two media workers, bytes. */
    ringBufferSize: number;
    /**
     * Strand: largest young generation of each media worker's V8 heap, MiB (0: V8's own limit).
     * Per packet a worker's heap sees only the Buffer node-datachannel hands over for each packet
     * received (Strand's own per-packet code allocates nothing); most of the rest is joins and
     * leaves. A small cap keeps RSS from stepping up: V8 doubles the young generation as it sees
     * work and never gives the pages back.
     */
    workerYoungGenerationSize: number;
  };
  room: {
    autoCreate: boolean;
    emptyTimeout: number;
    departureTimeout: number;
    maxParticipants: number;
    /** RoomService may unmute tracks (LiveKit: room.enable_remote_unmute). */
    enableRemoteUnmute: boolean;
  };
  limit: {
    /** Largest signal frame accepted, bytes (LiveKit: limit.signal_message_size_limit). */
    signalMessageSizeLimit: number;
    /** Room and participant metadata, bytes (LiveKit: 512 KiB). */
    maxMetadataSize: number;
    /** A participant's attributes, keys and values together, bytes (LiveKit: 64 KiB). */
    maxAttributesSize: number;
    maxRoomNameLength: number;
    maxParticipantIdentityLength: number;
    maxParticipantNameLength: number;
    /** Largest Twirp request body, bytes (LiveKit: 10 MiB). */
    maxApiRequestBodySize: number;
    /**
     * Request line and headers of an HTTP request, bytes (Strand's key). Sized for /rtc/v1
     * URLs, whose join request rides in the query, and long tokens.
     */
    maxRequestHeadersSize: number;
    /**
     * What one participant may send, per second (Strand's keys; 0: no limit): data packets and
     * their bytes, and signal messages. A second's worth may come at once; beyond that the
     * excess is dropped and counted, and the participant stays connected.
     */
    dataPacketsPerSecond: number;
    dataBytesPerSecond: number;
    signalMessagesPerSecond: number;
    /**
     * RTP bytes (retransmissions included) one participant may publish per second, over all its
     * tracks: a publisher sending more than that is cut there before its packets fan out, so it
     * cannot take a worker's forwarding from everyone else. Default 8 MiB/s (67 Mbit/s).
     */
    mediaBytesPerSecond: number;
  };
  webhook: {
    /** Key whose secret signs deliveries; must be one of `keys`. */
    apiKey: string;
    urls: string[];
    /** Strand: an undelivered event is retried until it is this old, seconds. */
    maxAgeSeconds: number;
    /** Strand: how long one delivery attempt may take, ms. */
    requestTimeoutMs: number;
  };
  egress: {
    /** Egress workers (their own Piscina pool; each runs several egresses). */
    workers: number;
    /** Files, segments and images are written under this directory; relative paths resolve against it. */
    fileOutputDir: string;
    /** Egresses running at once; a Start* beyond it is refused (resource_exhausted). */
    maxConcurrent: number;
    /** libx264 preset of composites (ultrafast … medium): speed against quality per bit. */
    x264Preset: string;
  };
  /**
   * Ingress (LiveKit: a separate, opt-in service): null unless the config has an `ingress`
   * section, and then the RTMP and WHIP listeners open.
   */
  ingress: IngressConfig | null;
  /** Also serve /metrics on this port (0: only on the main port). */
  prometheusPort: number;
  logLevel: string;
  /** LMDB directory (used by the state store). */
  storePath: string;
  /** Redis (LiveKit: `redis`): set, this node is one of a cluster; null, it is the only one. */
  redis: RedisConfig | null;
  nodeSelector: NodeSelectorConfig;
  signalRelay: SignalRelayConfig;
  /** Strand: the links between the nodes of rooms that span nodes. */
  cascade: CascadeConfig;
  /** This node's region (LiveKit: `region`, LIVEKIT_REGION), written to its node entry. */
  region: string;
  /**
   * Strand: how long a draining node (SIGTERM, with Redis) waits for its participants to
   * reconnect elsewhere before it exits anyway, ms.
   */
  shutdownTimeoutMs: number;
  /**
   * Strand: what SIGTERM (or `strand drain`) does. `drain` null: stop at once (the `--dev`
   * default). Otherwise the node stops taking new rooms, answers 503 on GET /, and waits up to
   * shutdown_timeout for its rooms to empty; `drain: true` first tells every participant to
   * reconnect (leave with RECONNECT), so that the load balancer sends them elsewhere.
   */
  shutdown: { drain: boolean | null };
}

export interface IngressConfig {
  /** Handed out in IngressInfo.url for RTMP (LiveKit: ingress.rtmp_base_url); Strand listens on its host and port. */
  rtmpBaseUrl: string;
  /**
   * Handed out for WHIP (ingress.whip_base_url); Strand serves WHIP on its port and path.
   * Empty: the main HTTP port, under /w.
   */
  whipBaseUrl: string;
  /** Ingress workers (their own Piscina pool); the first one runs the RTMP listener. */
  workers: number;
  /** Ingresses publishing at once; more are refused. */
  maxConcurrent: number;
  /** libx264 preset of H.264 transcoding. */
  x264Preset: string;
}

/** The ingress section's defaults: RTMP on 1935 (port 0: any free one), WHIP on the main port under /w. */
export function defaultIngress(cfg: StrandConfig): IngressConfig {
  const host = cfg.rtc.nodeIp || (cfg.development ? '127.0.0.1' : '0.0.0.0');
  return {
    rtmpBaseUrl: `rtmp://${host}:1935/live`,
    whipBaseUrl: '',
    workers: 1,
    maxConcurrent: Math.max(2, availableParallelism()),
    x264Preset: 'veryfast',
  };
}

export function defaultConfig(dev: boolean): StrandConfig {
  return {
    development: dev,
    port: 7880,
    bindAddresses: dev ? ['127.0.0.1'] : ['0.0.0.0'],
    keys: dev ? { devkey: 'secret' } : {},
    rtc: {
      udpPort: 7882, nodeIp: dev ? '127.0.0.1' : '', workers: availableParallelism(), stunServers: [], turnServers: [],
      maxSubscribersPerWorker: 100, maxSubscribersPerNode: 0, ringBufferSize: 4 * 1024 * 1024, workerYoungGenerationSize: 3,
    },
    room: { autoCreate: true, emptyTimeout: 300, departureTimeout: 20, maxParticipants: 0, enableRemoteUnmute: false },
    limit: {
      signalMessageSizeLimit: 2 * 1024 * 1024,
      maxMetadataSize: 512 * 1024,
      maxAttributesSize: 64 * 1024,
      maxRoomNameLength: 256,
      maxParticipantIdentityLength: 256,
      maxParticipantNameLength: 256,
      maxApiRequestBodySize: 10 * 1024 * 1024,
      maxRequestHeadersSize: 32 * 1024,
      dataPacketsPerSecond: 200,
      dataBytesPerSecond: 16 * 1024 * 1024,
      signalMessagesPerSecond: 200,
      mediaBytesPerSecond: 8 * 1024 * 1024,
    },
    webhook: { apiKey: '', urls: [], maxAgeSeconds: 3600, requestTimeoutMs: 5000 },
    egress: { workers: 1, fileOutputDir: './recordings', maxConcurrent: Math.max(4, availableParallelism() * 2), x264Preset: 'veryfast' },
    ingress: null,
    prometheusPort: 0,
    logLevel: dev ? 'debug' : 'info',
    storePath: './.strand',
    redis: null,
    nodeSelector: defaultNodeSelector(),
    signalRelay: defaultSignalRelay(),
    cascade: defaultCascade(),
    region: '',
    shutdownTimeoutMs: 30_000,
    // A cluster node tells its participants to reconnect elsewhere; a single node waits for
    // its rooms; `--dev` stops at once.
    shutdown: { drain: dev ? null : false },
  };
}

/** Parses LiveKit's `key: secret` list (from --keys, LIVEKIT_KEYS or a key file). */
export function parseKeys(text: string): Record<string, string> {
  const keys: Record<string, string> = {};
  for (const part of text.split(/[\n,]/)) {
    const line = part.trim();
    if (!line || line.startsWith('#')) continue;
    const idx = line.indexOf(':');
    if (idx <= 0) throw new ConfigError(`invalid key entry "${line}": expected "key: secret"`);
    const key = line.slice(0, idx).trim();
    const secret = line.slice(idx + 1).trim();
    if (!key || !secret) throw new ConfigError(`invalid key entry "${line}": expected "key: secret"`);
    keys[key] = secret;
  }
  return keys;
}

const X264_PRESETS = ['ultrafast', 'superfast', 'veryfast', 'faster', 'fast', 'medium'];

/** LiveKit's `limit.*` keys Strand enforces. */
const LIMIT_KEYS: Record<string, keyof StrandConfig['limit']> = {
  signal_message_size_limit: 'signalMessageSizeLimit',
  max_metadata_size: 'maxMetadataSize',
  max_attributes_size: 'maxAttributesSize',
  max_room_name_length: 'maxRoomNameLength',
  max_participant_identity_length: 'maxParticipantIdentityLength',
  max_participant_name_length: 'maxParticipantNameLength',
  max_api_request_body_size: 'maxApiRequestBodySize',
  max_request_headers_size: 'maxRequestHeadersSize',
  data_packets_per_second: 'dataPacketsPerSecond',
  data_bytes_per_second: 'dataBytesPerSecond',
  signal_messages_per_second: 'signalMessagesPerSecond',
  media_bytes_per_second: 'mediaBytesPerSecond',
};

/**
 * Applies a LiveKit-style YAML document onto `cfg`. Keys Strand does not implement yet are
 * reported through `warn` rather than rejected, so a LiveKit config file still starts Strand.
 */
export function applyYaml(cfg: StrandConfig, text: string, warn: (msg: string) => void): void {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new ConfigError(`config is not valid YAML: ${(err as Error).message}`);
  }
  if (doc == null) return;
  if (!isObject(doc)) throw new ConfigError('config must be a YAML mapping');
  const unknown = (path: string) => warn(`config key "${path}" is not supported by Strand yet and is ignored`);

  for (const [key, value] of Object.entries(doc)) {
    switch (key) {
      case 'port': cfg.port = num(value, key); break;
      case 'bind_addresses': cfg.bindAddresses = strList(value, key); break;
      case 'development': cfg.development = bool(value, key); break;
      case 'log_level': cfg.logLevel = str(value, key); break;
      case 'keys':
        if (!isObject(value)) throw new ConfigError('keys must be a mapping of key: secret');
        cfg.keys = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, str(v, `keys.${k}`)]));
        break;
      case 'key_file': cfg.keys = parseKeys(readFileSync(str(value, key), 'utf8')); break;
      case 'logging':
        if (!isObject(value)) throw new ConfigError('logging must be a mapping');
        for (const [k, v] of Object.entries(value)) {
          if (k === 'level') cfg.logLevel = str(v, 'logging.level');
          else unknown(`logging.${k}`);
        }
        break;
      case 'rtc':
        if (!isObject(value)) throw new ConfigError('rtc must be a mapping');
        for (const [k, v] of Object.entries(value)) {
          const path = `rtc.${k}`;
          switch (k) {
            case 'udp_port': {
              // LiveKit accepts "7882" or a range "7882-7892"; Strand uses the first port and one port per worker.
              const first = String(v).split('-')[0] ?? '';
              cfg.rtc.udpPort = num(first, path);
              break;
            }
            case 'node_ip': cfg.rtc.nodeIp = str(v, path); break;
            case 'workers': cfg.rtc.workers = Math.max(1, Math.floor(num(v, path))); break;
            case 'stun_servers': cfg.rtc.stunServers = strList(v, path); break;
            case 'max_subscribers_per_worker': cfg.rtc.maxSubscribersPerWorker = Math.floor(num(v, path)); break;
            case 'max_subscribers_per_node': cfg.rtc.maxSubscribersPerNode = Math.max(0, Math.floor(num(v, path))); break;
            case 'ring_buffer_size': cfg.rtc.ringBufferSize = Math.max(64 * 1024, Math.floor(num(v, path))); break;
            case 'worker_young_generation_size': cfg.rtc.workerYoungGenerationSize = Math.max(0, num(v, path)); break;
            case 'turn_servers': {
              if (!Array.isArray(v)) throw new ConfigError(`${path} must be a list`);
              cfg.rtc.turnServers = v.map((t, i) => {
                if (!isObject(t)) throw new ConfigError(`${path}[${i}] must be a mapping`);
                const host = str(t.host, `${path}[${i}].host`);
                const port = num(t.port ?? 3478, `${path}[${i}].port`);
                const proto = typeof t.protocol === 'string' ? t.protocol : 'udp';
                const scheme = proto === 'tls' ? 'turns' : 'turn';
                return {
                  urls: [`${scheme}:${host}:${port}?transport=${proto === 'tls' ? 'tcp' : proto}`],
                  username: typeof t.username === 'string' ? t.username : undefined,
                  credential: typeof t.credential === 'string' ? t.credential : undefined,
                };
              });
              break;
            }
            default: unknown(path);
          }
        }
        break;
      case 'room':
        if (!isObject(value)) throw new ConfigError('room must be a mapping');
        for (const [k, v] of Object.entries(value)) {
          const path = `room.${k}`;
          switch (k) {
            case 'auto_create': cfg.room.autoCreate = bool(v, path); break;
            case 'empty_timeout': cfg.room.emptyTimeout = num(v, path); break;
            case 'departure_timeout': cfg.room.departureTimeout = num(v, path); break;
            case 'max_participants': cfg.room.maxParticipants = num(v, path); break;
            case 'enable_remote_unmute': cfg.room.enableRemoteUnmute = bool(v, path); break;
            default: unknown(path);
          }
        }
        break;
      case 'limit':
        if (!isObject(value)) throw new ConfigError('limit must be a mapping');
        for (const [k, v] of Object.entries(value)) {
          const field = LIMIT_KEYS[k];
          if (field) cfg.limit[field] = num(v, `limit.${k}`);
          else unknown(`limit.${k}`);
        }
        break;
      case 'webhook':
        if (!isObject(value)) throw new ConfigError('webhook must be a mapping');
        for (const [k, v] of Object.entries(value)) {
          const path = `webhook.${k}`;
          switch (k) {
            case 'api_key': cfg.webhook.apiKey = str(v, path); break;
            case 'urls': cfg.webhook.urls = strList(v, path); break;
            case 'max_age': cfg.webhook.maxAgeSeconds = num(v, path); break;
            case 'request_timeout': cfg.webhook.requestTimeoutMs = num(v, path) * 1000; break;
            default: unknown(path);
          }
        }
        break;
      case 'prometheus':
        if (!isObject(value)) throw new ConfigError('prometheus must be a mapping');
        for (const [k, v] of Object.entries(value)) {
          if (k === 'port') cfg.prometheusPort = num(v, 'prometheus.port');
          else unknown(`prometheus.${k}`);
        }
        break;
      case 'prometheus_port': cfg.prometheusPort = num(value, key); break;
      case 'egress':
        if (!isObject(value)) throw new ConfigError('egress must be a mapping');
        for (const [k, v] of Object.entries(value)) {
          const path = `egress.${k}`;
          switch (k) {
            case 'workers': cfg.egress.workers = Math.max(1, Math.floor(num(v, path))); break;
            case 'file_output_dir': cfg.egress.fileOutputDir = str(v, path); break;
            case 'max_concurrent': cfg.egress.maxConcurrent = Math.floor(num(v, path)); break;
            case 'x264_preset': {
              const preset = str(v, path);
              if (!X264_PRESETS.includes(preset)) throw new ConfigError(`${path} must be one of ${X264_PRESETS.join(', ')}`);
              cfg.egress.x264Preset = preset;
              break;
            }
            default: unknown(path);
          }
        }
        break;
      case 'ingress': {
        if (value !== null && !isObject(value)) throw new ConfigError('ingress must be a mapping');
        // The URLs' defaults depend on the port, known only at the end: filled in by validateConfig.
        const ing: IngressConfig = { ...defaultIngress(cfg), rtmpBaseUrl: '', whipBaseUrl: '' };
        for (const [k, v] of Object.entries(value ?? {})) {
          const path = `ingress.${k}`;
          switch (k) {
            case 'rtmp_base_url': ing.rtmpBaseUrl = str(v, path); break;
            case 'whip_base_url': ing.whipBaseUrl = str(v, path); break;
            case 'workers': ing.workers = Math.max(1, Math.floor(num(v, path))); break;
            case 'max_concurrent': ing.maxConcurrent = Math.floor(num(v, path)); break;
            case 'x264_preset': {
              const preset = str(v, path);
              if (!X264_PRESETS.includes(preset)) throw new ConfigError(`${path} must be one of ${X264_PRESETS.join(', ')}`);
              ing.x264Preset = preset;
              break;
            }
            // LiveKit ingress service keys with no meaning here (one process serves everything).
            case 'rtmp_port': case 'whip_port': case 'http_relay_port': break;
            default: unknown(path);
          }
        }
        cfg.ingress = ing;
        break;
      }
      case 'redis': cfg.redis = parseRedis(value, unknown); break;
      case 'node_selector': cfg.nodeSelector = parseNodeSelector(value, unknown); break;
      case 'signal_relay': parseSignalRelay(value, cfg.signalRelay, unknown); break;
      case 'cascade': parseCascade(value, cfg.cascade, unknown); break;
      case 'region': cfg.region = str(value, key); break;
      case 'shutdown_timeout': cfg.shutdownTimeoutMs = durationMs(value, key, 1000); break;
      case 'shutdown':
        if (!isObject(value)) throw new ConfigError('shutdown must be a mapping');
        for (const [k, v] of Object.entries(value)) {
          if (k === 'drain') cfg.shutdown.drain = bool(v, 'shutdown.drain');
          else if (k === 'timeout') cfg.shutdownTimeoutMs = durationMs(v, 'shutdown.timeout', 1000);
          else unknown(`shutdown.${k}`);
        }
        break;
      case 'store':
        if (!isObject(value)) throw new ConfigError('store must be a mapping');
        if (value.path !== undefined) cfg.storePath = str(value.path, 'store.path');
        break;
      default: unknown(key);
    }
  }
}

/** Checks cross-field rules once every source has been applied. */
export function validateConfig(cfg: StrandConfig): void {
  if (Object.keys(cfg.keys).length === 0) {
    throw new ConfigError('no API keys configured: use --keys "key: secret", LIVEKIT_KEYS, keys: in the config file, or --dev');
  }
  if (!cfg.development) {
    for (const [key, secret] of Object.entries(cfg.keys)) {
      if (secret.length < 32) throw new ConfigError(`secret for key "${key}" is shorter than 32 characters`);
    }
  }
  if (cfg.webhook.urls.length > 0) {
    // LiveKit requires webhook.api_key; with a single key there is only one it could be.
    if (!cfg.webhook.apiKey && Object.keys(cfg.keys).length === 1) cfg.webhook.apiKey = Object.keys(cfg.keys)[0]!;
    if (!cfg.webhook.apiKey) throw new ConfigError('webhook.api_key is required when webhook.urls is set');
    if (!(cfg.webhook.apiKey in cfg.keys)) throw new ConfigError(`webhook.api_key "${cfg.webhook.apiKey}" is not one of the configured keys`);
    for (const url of cfg.webhook.urls) {
      if (!/^https?:\/\//.test(url)) throw new ConfigError(`webhook url "${url}" must start with http:// or https://`);
    }
  }
  if (cfg.ingress) {
    // An empty whip_base_url stays empty: the main port under /w, once the port is bound.
    cfg.ingress.rtmpBaseUrl ||= defaultIngress(cfg).rtmpBaseUrl;
    if (!/^rtmp:\/\/[^/:]+(:\d+)?(\/|$)/.test(cfg.ingress.rtmpBaseUrl)) throw new ConfigError(`ingress.rtmp_base_url "${cfg.ingress.rtmpBaseUrl}" must be an rtmp:// URL`);
    if (cfg.ingress.whipBaseUrl && !/^https?:\/\/[^/]+/.test(cfg.ingress.whipBaseUrl)) throw new ConfigError(`ingress.whip_base_url "${cfg.ingress.whipBaseUrl}" must be an http(s):// URL`);
  }
  if (cfg.redis) checkRedis(cfg.redis);
  if (cfg.prometheusPort > 65535) throw new ConfigError('prometheus.port out of range');
  if (cfg.port > 65535 || cfg.rtc.udpPort + cfg.rtc.workers - 1 > 65535) throw new ConfigError('port out of range');
}
