// A webhook receiver built on livekit-server-sdk's WebhookReceiver: every request is verified
// (JWT signature, issuer, body hash) before its event is recorded. It can be stopped and started
// again on the same port, to play a receiver outage.
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { WebhookReceiver, type WebhookEvent } from 'livekit-server-sdk';
import { freePort } from './free-port.js';
import { DEV_KEY, DEV_SECRET } from './tokens.js';
import { waitFor } from './wait.js';

export class WebhookSink {
  readonly events: WebhookEvent[] = [];
  /** The request path of each event (same order): which sender posted it, when senders use their own paths. */
  readonly paths: string[] = [];
  /** Requests that failed verification, with the reason. */
  readonly rejected: string[] = [];
  /** How long the sink waits before answering 200, ms (a slow receiver keeps deliveries in flight). */
  answerDelayMs = 0;
  private readonly receiver = new WebhookReceiver(DEV_KEY, DEV_SECRET);
  private server: Server | null = null;

  private constructor(readonly port: number) {}

  /** A sink on a free port, not listening yet. */
  static async create(): Promise<WebhookSink> {
    return new WebhookSink(await freePort());
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/webhook`;
  }

  async start(): Promise<void> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        if (req.headers['content-type'] !== 'application/webhook+json') {
          this.rejected.push(`content-type ${req.headers['content-type']}`);
          res.writeHead(400).end();
          return;
        }
        this.receiver.receive(body, req.headers.authorization).then((event) => {
          this.events.push(event);
          this.paths.push(req.url ?? '');
          if (this.answerDelayMs > 0) setTimeout(() => res.writeHead(200).end(), this.answerDelayMs);
          else res.writeHead(200).end();
        }, (err: unknown) => {
          this.rejected.push(String((err as Error).message));
          res.writeHead(401).end();
        });
      });
    });
    server.listen(this.port, '127.0.0.1');
    await once(server, 'listening');
    this.server = server;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = null;
    server.closeAllConnections();
    server.close();
    await once(server, 'close');
  }

  /** Events about `room`, in arrival order, as "event" or "event:identity". */
  sequence(room: string): string[] {
    return this.events.filter((e) => e.room?.name === room).map((e) => (e.participant ? `${e.event}:${e.participant.identity}` : e.event));
  }

  async waitForSequence(room: string, expected: string[], timeoutMs: number): Promise<void> {
    await waitFor(() => this.sequence(room).length >= expected.length, timeoutMs,
      `webhooks ${expected.join(', ')} for ${room} (have ${this.sequence(room).join(', ')})`);
  }
}
