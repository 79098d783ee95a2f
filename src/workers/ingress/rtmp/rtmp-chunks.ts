// RTMP's chunk stream (Adobe RTMP 1.0 §5.3): messages are cut into chunks of at most the
// sender's chunk size, interleaved by chunk stream id, each with a header that repeats only
// what changed since the last chunk of its stream. ChunkReader reassembles messages from the
// bytes of a socket; writeMessage cuts one message into chunks.

/** A message larger than this is refused (a video frame of a 1080p stream is a few hundred kB). */
export const MAX_MESSAGE_BYTES = 8 * 1024 * 1024;
/** RTMP's default chunk size, until a Set Chunk Size message. */
export const DEFAULT_CHUNK_SIZE = 128;
const MAX_CHUNK_SIZE = 16 * 1024 * 1024;
/** Chunk streams a peer may open (ids are up to 65599); more is treated as an attack. */
const MAX_CHUNK_STREAMS = 64;

export const MSG_SET_CHUNK_SIZE = 1;
export const MSG_ABORT = 2;
export const MSG_ACK = 3;
export const MSG_USER_CONTROL = 4;
export const MSG_WINDOW_ACK_SIZE = 5;
export const MSG_SET_PEER_BANDWIDTH = 6;
export const MSG_AUDIO = 8;
export const MSG_VIDEO = 9;
export const MSG_DATA_AMF3 = 15;
export const MSG_COMMAND_AMF3 = 17;
export const MSG_DATA_AMF0 = 18;
export const MSG_COMMAND_AMF0 = 20;

export class RtmpProtocolError extends Error {}

export interface RtmpMessage {
  type: number;
  streamId: number;
  /** Milliseconds, as the sender counts them (32 bits). */
  timestamp: number;
  payload: Buffer;
}

interface ChunkStream {
  timestamp: number;
  delta: number;
  length: number;
  type: number;
  streamId: number;
  extended: boolean;
  /** The message being reassembled, and how much of it has arrived. */
  body: Buffer | null;
  received: number;
}

const HEADER_BYTES = [11, 7, 3, 0];

export class ChunkReader {
  private pending: Buffer = Buffer.alloc(0);
  private readonly streams = new Map<number, ChunkStream>();
  chunkSize = DEFAULT_CHUNK_SIZE;

  constructor(private readonly onMessage: (m: RtmpMessage) => void) {}

  /** Parses what `data` completes; throws RtmpProtocolError on a stream that cannot be RTMP. */
  push(data: Buffer): void {
    const buf = this.pending.length === 0 ? data : Buffer.concat([this.pending, data]);
    let pos = 0;
    for (;;) {
      const used = this.chunk(buf, pos);
      if (used === 0) break;
      pos += used;
    }
    this.pending = pos >= buf.length ? Buffer.alloc(0) : Buffer.from(buf.subarray(pos));
  }

  /** Aborts the message in progress on a chunk stream (Abort Message). */
  abort(csid: number): void {
    const s = this.streams.get(csid);
    if (s) {
      s.body = null;
      s.received = 0;
    }
  }

  setChunkSize(size: number): void {
    if (size < 1 || size > MAX_CHUNK_SIZE) throw new RtmpProtocolError(`chunk size ${size} is out of range`);
    this.chunkSize = size;
  }

  /** Reads one chunk at `pos`; returns its length, or 0 when it has not fully arrived. */
  private chunk(buf: Buffer, pos: number): number {
    const avail = buf.length - pos;
    if (avail < 1) return 0;
    const b0 = buf[pos]!;
    const fmt = b0 >> 6;
    let csid = b0 & 0x3f;
    let at = pos + 1;
    if (csid === 0) {
      if (avail < 2) return 0;
      csid = buf[pos + 1]! + 64;
      at = pos + 2;
    } else if (csid === 1) {
      if (avail < 3) return 0;
      csid = buf[pos + 1]! + buf[pos + 2]! * 256 + 64;
      at = pos + 3;
    }
    const headerLen = HEADER_BYTES[fmt]!;
    if (buf.length < at + headerLen) return 0;
    let s = this.streams.get(csid);
    if (!s) {
      if (fmt !== 0) throw new RtmpProtocolError(`chunk stream ${csid} starts without a full header`);
      if (this.streams.size >= MAX_CHUNK_STREAMS) throw new RtmpProtocolError('too many chunk streams');
      s = { timestamp: 0, delta: 0, length: 0, type: 0, streamId: 0, extended: false, body: null, received: 0 };
      this.streams.set(csid, s);
    }
    let tsField = 0;
    let length = s.length;
    let type = s.type;
    let streamId = s.streamId;
    if (fmt <= 2) tsField = buf.readUIntBE(at, 3);
    if (fmt <= 1) {
      length = buf.readUIntBE(at + 3, 3);
      type = buf[at + 6]!;
    }
    if (fmt === 0) streamId = buf.readUInt32LE(at + 7);
    at += headerLen;
    const extended = fmt <= 2 ? tsField === 0xffffff : s.extended;
    if (extended) {
      if (buf.length < at + 4) return 0;
      tsField = buf.readUInt32BE(at);
      at += 4;
    }
    const starting = s.received === 0;
    if (starting && length > MAX_MESSAGE_BYTES) throw new RtmpProtocolError(`a ${length}-byte message is over the limit`);
    const take = Math.min(this.chunkSize, length - s.received);
    if (buf.length < at + take) return 0;
    // Commit the header only now that the whole chunk is here.
    if (fmt === 0) {
      s.timestamp = tsField;
      s.delta = 0;
    } else if (fmt <= 2) {
      s.delta = tsField;
      if (starting) s.timestamp = (s.timestamp + tsField) >>> 0;
    } else if (starting) {
      s.timestamp = (s.timestamp + s.delta) >>> 0;
    }
    if (fmt <= 2) s.extended = extended;
    s.length = length;
    s.type = type;
    s.streamId = streamId;
    if (starting) s.body = Buffer.allocUnsafe(length);
    buf.copy(s.body!, s.received, at, at + take);
    s.received += take;
    if (s.received >= length) {
      const payload = s.body!;
      s.body = null;
      s.received = 0;
      this.onMessage({ type, streamId, timestamp: s.timestamp, payload });
    }
    return at + take - pos;
  }
}

/** One message as chunks of `chunkSize` on chunk stream `csid` (2..63). */
export function writeMessage(csid: number, m: RtmpMessage, chunkSize: number): Buffer {
  const parts: Buffer[] = [];
  const head = Buffer.alloc(12);
  head[0] = csid & 0x3f;
  const ts = Math.min(m.timestamp, 0xfffffe);
  head.writeUIntBE(ts, 1, 3);
  head.writeUIntBE(m.payload.length, 4, 3);
  head[7] = m.type;
  head.writeUInt32LE(m.streamId, 8);
  parts.push(head);
  for (let off = 0; off < m.payload.length || off === 0; off += chunkSize) {
    if (off > 0) parts.push(Buffer.from([0xc0 | (csid & 0x3f)]));
    parts.push(m.payload.subarray(off, off + chunkSize));
    if (m.payload.length === 0) break;
  }
  return Buffer.concat(parts);
}
