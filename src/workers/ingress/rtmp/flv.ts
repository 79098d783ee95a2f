// RTMP media messages as an FLV byte stream (what ffmpeg reads on its stdin): the file header,
// then each message as a tag (type, size, timestamp, body, previous tag size). Also what a
// stream's metadata says it carries, to know which outputs to transcode.
import { Amf0Reader, type Amf0Object } from './amf0.js';
import { MSG_AUDIO, MSG_DATA_AMF0, MSG_VIDEO } from './rtmp-chunks.js';

/** "FLV", version 1, audio + video flags, header size 9, then PreviousTagSize0. */
export const FLV_HEADER = Buffer.from([0x46, 0x4c, 0x56, 0x01, 0x05, 0, 0, 0, 9, 0, 0, 0, 0]);

/** The AMF0 string "@setDataFrame" that encoders put before onMetaData (absent from files). */
const SET_DATA_FRAME = Buffer.from([0x02, 0x00, 0x0d, ...Buffer.from('@setDataFrame')]);

/** The body of a script message as a file carries it. */
export function scriptBody(payload: Buffer): Buffer {
  return payload.subarray(0, SET_DATA_FRAME.length).equals(SET_DATA_FRAME) ? payload.subarray(SET_DATA_FRAME.length) : payload;
}

/** One FLV tag: 11-byte header, body, 4-byte previous tag size. */
export function flvTag(type: number, timestamp: number, body: Buffer): Buffer {
  const tag = Buffer.allocUnsafe(11 + body.length + 4);
  tag[0] = type;
  tag.writeUIntBE(body.length, 1, 3);
  tag.writeUIntBE(timestamp & 0xffffff, 4, 3);
  tag[7] = (timestamp >>> 24) & 0xff;
  tag.writeUIntBE(0, 8, 3);
  body.copy(tag, 11);
  tag.writeUInt32BE(11 + body.length, 11 + body.length);
  return tag;
}

export interface StreamKinds {
  audio: boolean;
  video: boolean;
}

/** What an onMetaData script body announces, or null when it is not one (or unreadable). */
export function metadataKinds(body: Buffer): StreamKinds | null {
  try {
    const r = new Amf0Reader(body);
    if (r.read() !== 'onMetaData') return null;
    const meta = r.read();
    if (!meta || typeof meta !== 'object' || Array.isArray(meta)) return null;
    const m = meta as Amf0Object;
    return { audio: 'audiocodecid' in m, video: 'videocodecid' in m };
  } catch {
    return null;
  }
}

export function isMediaType(type: number): boolean {
  return type === MSG_AUDIO || type === MSG_VIDEO || type === MSG_DATA_AMF0;
}
