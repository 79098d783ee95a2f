// Whether a TCP port refuses connections: the one sign, short of a registry entry aging out,
// that a peer node's process is gone. A host that is up answers a connection to a port nobody
// listens on with a reset at once; anything else (it connects, it times out, the host or
// network is unreachable) says nothing certain and counts as "not refused".
import { createConnection } from 'node:net';

export function portRefuses(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    const done = (refused: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(refused);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    timer.unref();
    socket.once('connect', () => done(false));
    socket.once('error', (err: NodeJS.ErrnoException) => done(err.code === 'ECONNREFUSED'));
  });
}
