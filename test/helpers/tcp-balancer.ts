// A load balancer for tests: one loopback port in front of several nodes, each TCP connection
// to the next node in turn, skipping nodes that refuse. It knows nothing of rooms, as a real one.
import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';

export class TcpBalancer {
  private next = 0;
  private readonly sockets = new Set<Socket>();

  private constructor(private readonly server: Server, readonly port: number, private readonly backends: () => number[]) {}

  /** `backends` is read at each connection: the ports of the nodes behind it. */
  static async start(backends: () => number[]): Promise<TcpBalancer> {
    let self!: TcpBalancer;
    const server = createServer((client) => self.accept(client));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    self = new TcpBalancer(server, (server.address() as { port: number }).port, backends);
    return self;
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}`;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    this.server.close();
    await once(this.server, 'close');
  }

  private accept(client: Socket): void {
    this.sockets.add(client);
    client.on('close', () => this.sockets.delete(client));
    client.on('error', () => client.destroy());
    client.pause();
    const ports = this.backends();
    const start = this.next++;
    const attempt = (i: number) => {
      if (i >= ports.length) {
        client.destroy();
        return;
      }
      const upstream = connect(ports[(start + i) % ports.length]!, '127.0.0.1');
      let connected = false;
      upstream.on('error', () => {
        upstream.destroy();
        if (connected) client.destroy();
        else attempt(i + 1); // refused: the next node
      });
      upstream.once('connect', () => {
        connected = true;
        this.sockets.add(upstream);
        upstream.on('close', () => { this.sockets.delete(upstream); client.destroy(); });
        client.on('close', () => upstream.destroy());
        client.pipe(upstream);
        upstream.pipe(client);
        client.resume();
      });
    };
    attempt(0);
  }
}
