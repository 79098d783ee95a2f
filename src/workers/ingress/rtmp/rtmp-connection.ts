// One encoder's RTMP connection, publish only: the handshake, the commands of a publishing
// client (connect, releaseStream, FCPublish, createStream, publish, FCUnpublish, deleteStream)
// and, once the publish is accepted, its audio, video and script messages. Nothing the client
// sends after `publish` is taken as media until the owner has checked the stream key and
// called accept(); reject() answers with an error status and closes.
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { Amf0Error, Amf0Reader, encodeAmf0, type Amf0Object, type Amf0Value } from './amf0.js';
import {
  ChunkReader, DEFAULT_CHUNK_SIZE, MSG_ABORT, MSG_AUDIO, MSG_COMMAND_AMF0, MSG_COMMAND_AMF3, MSG_DATA_AMF0, MSG_DATA_AMF3, MSG_SET_CHUNK_SIZE,
  MSG_SET_PEER_BANDWIDTH, MSG_USER_CONTROL, MSG_VIDEO, MSG_WINDOW_ACK_SIZE, MSG_ACK, RtmpProtocolError, writeMessage, type RtmpMessage,
} from './rtmp-chunks.js';

const HANDSHAKE_BYTES = 1536;
const RTMP_VERSION = 3;
/** Chunk size Strand sends with. */
const OUT_CHUNK_SIZE = 4096;
const WINDOW_ACK_SIZE = 5_000_000;
/** The stream id createStream hands out (one publish per connection). */
const STREAM_ID = 1;
/** A connection must have asked to publish within this long, ms. */
const PUBLISH_TIMEOUT_MS = 15_000;
/** A publishing connection silent for this long is dead, ms. */
const IDLE_TIMEOUT_MS = 20_000;

export interface RtmpConnectionEvents {
  /** The client asked to publish `streamName` in `app`: answer with accept() or reject(). */
  onPublish(app: string, streamName: string): void;
  /** An audio (8), video (9) or script data (18, AMF0) message of the accepted stream. */
  onMedia(type: number, timestamp: number, payload: Buffer): void;
  /** The connection is gone (`reason` says why); called once. */
  onClose(reason: string): void;
}

type State = 'c0c1' | 'c2' | 'commands' | 'deciding' | 'publishing' | 'closed';

export class RtmpConnection {
  private state: State = 'c0c1';
  private handshake: Buffer = Buffer.alloc(0);
  private readonly reader: ChunkReader;
  private app = '';
  private bytesIn = 0;
  private lastAck = 0;
  private peerWindow = 0;
  /** Chunk size of what Strand sends: RTMP's default until connect announces OUT_CHUNK_SIZE. */
  private outChunkSize = DEFAULT_CHUNK_SIZE;
  private timer: NodeJS.Timeout;

  constructor(private readonly socket: Socket, private readonly events: RtmpConnectionEvents) {
    this.reader = new ChunkReader((m) => this.onMessage(m));
    socket.setNoDelay(true);
    socket.on('data', (data: Buffer) => this.onData(data));
    socket.on('error', (err) => this.close(`socket error: ${err.message}`));
    socket.on('close', () => this.close('connection closed by the encoder'));
    this.timer = setTimeout(() => this.close('no publish request in time'), PUBLISH_TIMEOUT_MS);
  }

  get remote(): string {
    return `${this.socket.remoteAddress}:${this.socket.remotePort}`;
  }

  /** Lets the stream in: the client starts sending media. */
  accept(): void {
    if (this.state !== 'deciding') return;
    this.state = 'publishing';
    this.status('status', 'NetStream.Publish.Start', `${this.app} is now published`);
    clearTimeout(this.timer);
    this.socket.setTimeout(IDLE_TIMEOUT_MS, () => this.close('the encoder went silent'));
  }

  /** Refuses the stream (wrong key, disabled ingress, limit reached) and closes. */
  reject(description: string): void {
    if (this.state === 'closed') return;
    this.status('error', 'NetStream.Publish.BadName', description);
    this.close(`refused: ${description}`, true);
  }

  /** Flow control: pauses reading while the transcoder is behind. */
  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  close(reason: string, flush = false): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    clearTimeout(this.timer);
    if (flush) this.socket.end();
    else this.socket.destroy();
    this.events.onClose(reason);
  }

  private onData(data: Buffer): void {
    if (this.state === 'closed') return;
    try {
      if (this.state === 'c0c1' || this.state === 'c2') {
        this.handshake = Buffer.concat([this.handshake, data]);
        data = this.takeHandshake();
        if (data.length === 0) return;
      }
      this.bytesIn += data.length;
      if (this.peerWindow > 0 && this.bytesIn - this.lastAck >= this.peerWindow) {
        this.lastAck = this.bytesIn;
        const ack = Buffer.alloc(4);
        ack.writeUInt32BE(this.bytesIn >>> 0);
        this.send(2, MSG_ACK, 0, ack);
      }
      this.reader.push(data);
    } catch (err) {
      const what = err instanceof RtmpProtocolError || err instanceof Amf0Error ? err.message : `internal error: ${(err as Error).message}`;
      this.close(`protocol error: ${what}`);
    }
  }

  /** Consumes C0+C1, answers S0+S1+S2, then consumes C2; returns the bytes after the handshake. */
  private takeHandshake(): Buffer {
    if (this.state === 'c0c1') {
      if (this.handshake.length < 1 + HANDSHAKE_BYTES) return Buffer.alloc(0);
      if (this.handshake[0] !== RTMP_VERSION) throw new RtmpProtocolError(`RTMP version ${this.handshake[0]} is not supported`);
      const c1 = this.handshake.subarray(1, 1 + HANDSHAKE_BYTES);
      // The simple handshake: S1 is our time, zeros and random bytes (no digest, which a
      // publishing client does not check), S2 echoes C1.
      const s1 = Buffer.alloc(HANDSHAKE_BYTES);
      s1.writeUInt32BE(0, 0);
      randomBytes(HANDSHAKE_BYTES - 8).copy(s1, 8);
      this.socket.write(Buffer.concat([Buffer.from([RTMP_VERSION]), s1, c1]));
      this.handshake = this.handshake.subarray(1 + HANDSHAKE_BYTES);
      this.state = 'c2';
    }
    if (this.handshake.length < HANDSHAKE_BYTES) return Buffer.alloc(0);
    const rest = this.handshake.subarray(HANDSHAKE_BYTES);
    this.handshake = Buffer.alloc(0);
    this.state = 'commands';
    return rest;
  }

  private onMessage(m: RtmpMessage): void {
    switch (m.type) {
      case MSG_SET_CHUNK_SIZE:
        if (m.payload.length < 4) throw new RtmpProtocolError('short Set Chunk Size');
        this.reader.setChunkSize(m.payload.readUInt32BE(0) & 0x7fffffff);
        return;
      case MSG_ABORT:
        if (m.payload.length >= 4) this.reader.abort(m.payload.readUInt32BE(0));
        return;
      case MSG_WINDOW_ACK_SIZE:
        if (m.payload.length >= 4) this.peerWindow = m.payload.readUInt32BE(0);
        return;
      case MSG_ACK: case MSG_USER_CONTROL: case MSG_SET_PEER_BANDWIDTH:
        return;
      case MSG_COMMAND_AMF0:
        this.onCommand(new Amf0Reader(m.payload).readAll());
        return;
      case MSG_COMMAND_AMF3:
        this.onCommand(new Amf0Reader(m.payload.subarray(1)).readAll());
        return;
      case MSG_AUDIO: case MSG_VIDEO: case MSG_DATA_AMF0:
        if (this.state === 'publishing') this.events.onMedia(m.type, m.timestamp, m.payload);
        return;
      case MSG_DATA_AMF3:
        if (this.state === 'publishing') this.events.onMedia(MSG_DATA_AMF0, m.timestamp, m.payload.subarray(1));
        return;
      default:
        return; // shared objects, aggregates: not sent by encoders that publish
    }
  }

  private onCommand(values: Amf0Value[]): void {
    const [name, tid] = values;
    const transaction = typeof tid === 'number' ? tid : 0;
    switch (name) {
      case 'connect': {
        const cmd = (values[2] ?? {}) as Amf0Object;
        this.app = typeof cmd.app === 'string' ? cmd.app : '';
        const ws = Buffer.alloc(4);
        ws.writeUInt32BE(WINDOW_ACK_SIZE);
        this.send(2, MSG_WINDOW_ACK_SIZE, 0, ws);
        const bw = Buffer.alloc(5);
        bw.writeUInt32BE(WINDOW_ACK_SIZE);
        bw[4] = 2; // dynamic
        this.send(2, MSG_SET_PEER_BANDWIDTH, 0, bw);
        const cs = Buffer.alloc(4);
        cs.writeUInt32BE(OUT_CHUNK_SIZE);
        this.send(2, MSG_SET_CHUNK_SIZE, 0, cs);
        this.outChunkSize = OUT_CHUNK_SIZE;
        this.command('_result', transaction, { fmsVer: 'FMS/3,0,1,123', capabilities: 31 }, {
          level: 'status', code: 'NetConnection.Connect.Success', description: 'Connection succeeded.', objectEncoding: 0,
        });
        return;
      }
      case 'createStream':
        this.command('_result', transaction, null, STREAM_ID);
        return;
      case 'publish': {
        if (this.state !== 'commands') return;
        const streamName = typeof values[3] === 'string' ? values[3] : '';
        this.state = 'deciding';
        this.events.onPublish(this.app, streamName);
        return;
      }
      case 'FCUnpublish': case 'deleteStream': case 'closeStream':
        if (this.state === 'publishing' || this.state === 'deciding') this.close('the encoder stopped publishing', true);
        return;
      case 'play':
        this.status('error', 'NetStream.Play.Failed', 'this server only accepts published streams');
        this.close('a client tried to play', true);
        return;
      default:
        return; // releaseStream, FCPublish, _checkbw, getStreamLength: nothing to answer
    }
  }

  private send(csid: number, type: number, streamId: number, payload: Buffer): void {
    if (this.socket.destroyed) return;
    this.socket.write(writeMessage(csid, { type, streamId, timestamp: 0, payload }, this.outChunkSize));
  }

  private command(name: string, transaction: number, ...args: Amf0Value[]): void {
    this.send(3, MSG_COMMAND_AMF0, 0, encodeAmf0(name, transaction, ...args));
  }

  private status(level: string, code: string, description: string): void {
    this.send(5, MSG_COMMAND_AMF0, STREAM_ID, encodeAmf0('onStatus', 0, null, { level, code, description }));
  }
}
