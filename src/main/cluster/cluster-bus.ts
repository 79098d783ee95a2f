// Node-to-node messages over Redis pub/sub: every node subscribes to its own channel and
// publishes to the others'. Redis is the only path between nodes (as in LiveKit), so no port
// is opened for it. Messages are strand.ClusterMessage protobufs; delivery is at most once, and
// whoever needs more (the signal relay) numbers and acknowledges its own.
import { strand } from '../../proto/index.js';
import type { Logger } from '../logger.js';
import type { RedisConnection } from './redis-client.js';

export const nodeChannel = (nodeId: string): string => `strand:node:${nodeId}`;

export interface BusHandlers {
  relay(from: string, packet: strand.RelayPacket): void;
  apiCall(from: string, call: strand.ApiCall): void;
  apiResult(from: string, result: strand.ApiResult): void;
}

export class ClusterBus {
  private handlers: BusHandlers | null = null;
  private readonly onMessage = (channel: Buffer, message: Buffer) => this.dispatch(channel, message);

  constructor(
    readonly nodeId: string,
    private readonly command: RedisConnection,
    private readonly subscriber: RedisConnection,
    private readonly log: Logger,
  ) {}

  async start(handlers: BusHandlers): Promise<void> {
    this.handlers = handlers;
    this.subscriber.on('messageBuffer', this.onMessage);
    await this.subscriber.subscribe(nodeChannel(this.nodeId));
  }

  /** Publishes to `nodeId`; a failure is logged, and whoever sent decides whether to retry. */
  send(nodeId: string, body: Omit<strand.IClusterMessage, 'from'>): void {
    const bytes = strand.ClusterMessage.encode({ from: this.nodeId, ...body }).finish();
    this.command.publish(nodeChannel(nodeId), Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)).catch((err: unknown) => {
      this.log.debug({ to: nodeId, err: (err as Error).message }, 'cluster message not published');
    });
  }

  async close(): Promise<void> {
    this.subscriber.off('messageBuffer', this.onMessage);
    this.handlers = null;
    await this.subscriber.unsubscribe(nodeChannel(this.nodeId)).catch(() => {});
  }

  private dispatch(channel: Buffer, message: Buffer): void {
    const h = this.handlers;
    if (!h || channel.toString() !== nodeChannel(this.nodeId)) return;
    let msg: strand.ClusterMessage;
    try {
      msg = strand.ClusterMessage.decode(message);
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'undecodable cluster message dropped');
      return;
    }
    try {
      if (msg.relay) h.relay(msg.from, msg.relay as strand.RelayPacket);
      else if (msg.apiCall) h.apiCall(msg.from, msg.apiCall as strand.ApiCall);
      else if (msg.apiResult) h.apiResult(msg.from, msg.apiResult as strand.ApiResult);
    } catch (err) {
      this.log.error({ err }, 'cluster message handler failed');
    }
  }
}
