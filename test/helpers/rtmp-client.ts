// A minimal publishing RTMP client for tests that need to send what no encoder would: the
// handshake, connect / createStream / publish, then messages of the test's choosing.
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { Amf0Reader, encodeAmf0, type Amf0Value } from '../../src/workers/ingress/rtmp/amf0.js';
import { ChunkReader, MSG_COMMAND_AMF0, writeMessage } from '../../src/workers/ingress/rtmp/rtmp-chunks.js';

export class RtmpTestClient {
  private readonly reader: ChunkReader;
  /** Commands received (name and arguments). */
  readonly commands: Amf0Value[][] = [];
  private handshake: Buffer = Buffer.alloc(0);
  private shaken = false;
  readonly closed: Promise<void>;
  private shakenResolve!: () => void;
  /** The handshake is done (C2 sent): messages may follow. */
  readonly ready = new Promise<void>((resolve) => { this.shakenResolve = resolve; });

  private constructor(readonly socket: Socket) {
    this.reader = new ChunkReader((m) => {
      if (m.type === 1) this.reader.setChunkSize(m.payload.readUInt32BE(0));
      if (m.type === MSG_COMMAND_AMF0) this.commands.push(new Amf0Reader(m.payload).readAll());
    });
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('error', () => undefined);
    socket.on('data', (d: Buffer) => {
      if (this.shaken) return this.reader.push(d);
      this.handshake = Buffer.concat([this.handshake, d]);
      if (this.handshake.length < 1 + 2 * 1536) return;
      this.shaken = true;
      socket.write(this.handshake.subarray(1, 1 + 1536)); // C2 = S1
      this.shakenResolve();
      const rest = this.handshake.subarray(1 + 2 * 1536);
      if (rest.length > 0) this.reader.push(rest);
    });
  }

  static async open(port: number): Promise<RtmpTestClient> {
    const socket = connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    const client = new RtmpTestClient(socket);
    socket.write(Buffer.concat([Buffer.from([3]), randomBytes(1536)]));
    await Promise.race([client.ready, client.closed]);
    return client;
  }

  send(type: number, payload: Buffer, timestamp = 0, streamId = 0, csid = 3): void {
    this.socket.write(writeMessage(csid, { type, streamId, timestamp, payload }, 128));
  }

  command(...values: Amf0Value[]): void {
    this.send(MSG_COMMAND_AMF0, encodeAmf0(...values), 0, values[0] === 'publish' ? 1 : 0);
  }

  /** connect, createStream, publish: resolves with the onStatus code the server answers. */
  async publish(app: string, key: string, timeoutMs = 10_000): Promise<string> {
    this.command('connect', 1, { app, type: 'nonprivate', tcUrl: `rtmp://127.0.0.1/${app}` });
    this.command('createStream', 2, null);
    this.command('publish', 3, null, key, 'live');
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const status = this.commands.find((c) => c[0] === 'onStatus');
      if (status) return String((status[3] as Record<string, Amf0Value>).code);
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error('no onStatus from the server');
  }

  close(): void {
    this.socket.destroy();
  }
}
