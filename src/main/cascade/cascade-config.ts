// Strand's keys for rooms that span nodes (cascading), in a `cascade:` section of their own;
// the cap that sends participants to other nodes is `rtc.max_subscribers_per_node`, beside
// `rtc.max_subscribers_per_worker`. Cascading needs `redis` (nodes find each other there).
import { ConfigError, bool, isObject, num, str } from '../config-error.js';

export interface CascadeConfig {
  /** Address the media (UDP) and control (TCP) links listen on; empty: the node's IP, else all. */
  bind: string;
  /** UDP port of the media link (0: any free port, advertised in Redis). */
  udpPort: number;
  /** TCP port of the control link (0: any free port). */
  tcpPort: number;
  /** AES-256-GCM on the media link; otherwise datagrams are authenticated only. */
  encrypt: boolean;
}

export function defaultCascade(): CascadeConfig {
  return { bind: '', udpPort: 0, tcpPort: 0, encrypt: false };
}

export function parseCascade(value: unknown, into: CascadeConfig, unknown: (path: string) => void): void {
  if (!isObject(value)) throw new ConfigError('cascade must be a mapping');
  for (const [k, v] of Object.entries(value)) {
    const path = `cascade.${k}`;
    switch (k) {
      case 'bind': into.bind = str(v, path); break;
      case 'udp_port': into.udpPort = port(v, path); break;
      case 'tcp_port': into.tcpPort = port(v, path); break;
      case 'encrypt': into.encrypt = bool(v, path); break;
      default: unknown(path);
    }
  }
}

function port(v: unknown, path: string): number {
  const n = num(v, path);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new ConfigError(`${path} must be a port number (0: any free port)`);
  return n;
}
