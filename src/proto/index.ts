// The LiveKit wire types (static protobufjs code generated from proto/) and the codec the
// signaling layer uses: binary protobuf, or protojson-style JSON for text frames.
import protobuf from 'protobufjs/minimal.js';
import { livekit } from './gen/livekit.js';

export { livekit };

/** Options that make protobufjs objects look like protojson: enums by name, int64 as strings. */
export const JSON_OPTIONS: protobuf.IConversionOptions = { enums: String, longs: String, bytes: String, defaults: false };

/** Map fields (string keys chosen by users), whose keys must reach the message unchanged. */
const MAP_FIELDS = new Set(['attributes', 'tags']);

/**
 * protojson accepts snake_case field names too; protobufjs objects use lowerCamelCase. Keys of
 * map fields are data, not field names, and are kept as they are.
 */
export function camelizeKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(camelizeKeys);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    const name = k.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
    out[name] = MAP_FIELDS.has(name) ? v : camelizeKeys(v);
  }
  return out;
}

/** Decodes one client signal frame. Throws a descriptive Error on malformed input. */
export function decodeSignalRequest(data: ArrayBuffer, isBinary: boolean): livekit.SignalRequest {
  if (isBinary) return livekit.SignalRequest.decode(new Uint8Array(data));
  const text = Buffer.from(data).toString('utf8');
  const parsed: unknown = JSON.parse(text);
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('signal JSON must be an object');
  return livekit.SignalRequest.fromObject(camelizeKeys(parsed) as Record<string, unknown>);
}

/** Encodes a server signal frame in the mode the client uses. */
export function encodeSignalResponse(msg: livekit.ISignalResponse, binary: boolean): Uint8Array | string {
  if (binary) return livekit.SignalResponse.encode(msg).finish();
  const m = livekit.SignalResponse.fromObject(msg as Record<string, unknown>);
  return JSON.stringify(livekit.SignalResponse.toObject(m, JSON_OPTIONS));
}
