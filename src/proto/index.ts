// The LiveKit wire types (static protobufjs code generated from proto/) and the codec the
// signaling layer uses: binary protobuf, or protojson-style JSON for text frames.
import protobuf from 'protobufjs/minimal.js';
import { livekit, strand } from './gen/livekit.js';
import { readProtoJson } from './protojson.js';

export { livekit, strand };

/** Options that make protobufjs objects look like protojson: enums by name, int64 as strings. */
export const JSON_OPTIONS: protobuf.IConversionOptions = { enums: String, longs: String, bytes: String, defaults: false };

/** Decodes one client signal frame. Throws a descriptive Error on malformed input. */
export function decodeSignalRequest(data: ArrayBuffer, isBinary: boolean): livekit.SignalRequest {
  if (isBinary) return livekit.SignalRequest.decode(new Uint8Array(data));
  const text = Buffer.from(data).toString('utf8');
  return livekit.SignalRequest.fromObject(readProtoJson('livekit.SignalRequest', JSON.parse(text)));
}

/** Encodes a server signal frame in the mode the client uses. */
export function encodeSignalResponse(msg: livekit.ISignalResponse, binary: boolean): Uint8Array | string {
  if (binary) return livekit.SignalResponse.encode(msg).finish();
  const m = livekit.SignalResponse.fromObject(msg as Record<string, unknown>);
  return JSON.stringify(livekit.SignalResponse.toObject(m, JSON_OPTIONS));
}
