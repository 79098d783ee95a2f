// Reading protojson (JSON bodies of Twirp requests and text signal frames) with the checks
// protojson makes: every value must have its field's JSON type, enums must be known names or
// numbers, int64 may come as strings, and field names may be lowerCamelCase or snake_case.
// protobufjs's fromObject alone coerces anything (an object becomes "[object Object]"), so
// values are checked here, against the schema, before they reach it.
import { readFileSync } from 'node:fs';
import protobuf from 'protobufjs/light.js';

const root = protobuf.Root.fromJSON(
  JSON.parse(readFileSync(new URL('./gen/livekit.json', import.meta.url), 'utf8')) as protobuf.INamespace,
).resolveAll();

export class ProtoJsonError extends Error {}

const INT32 = new Set(['int32', 'sint32', 'sfixed32']);
const UINT32 = new Set(['uint32', 'fixed32']);
const INT64 = new Set(['int64', 'sint64', 'sfixed64', 'uint64', 'fixed64']);
const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;
const INTEGER = /^-?\d+$/;

/**
 * Standard or URL-safe base64, padded or not, as protojson takes it. A length of 4n + 1
 * characters decodes to no whole byte (protobufjs then throws "invalid encoding": found by fuzzing).
 */
function isBase64(s: string): boolean {
  if (!BASE64.test(s)) return false;
  const body = s.replace(/=+$/, '');
  if (body.length % 4 === 1) return false;
  return body.length === s.length || s.length % 4 === 0;
}

const camel = (key: string): string => key.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

function scalar(type: string, value: unknown, path: string, resolved: protobuf.ReflectionObject | null): unknown {
  const fail = (what: string): never => {
    throw new ProtoJsonError(`${path}: ${what} expected, got ${JSON.stringify(value)?.slice(0, 40) ?? typeof value}`);
  };
  if (resolved instanceof protobuf.Enum) {
    if (typeof value === 'string') return value in resolved.values ? value : fail(`a ${resolved.name} name`);
    return Number.isInteger(value) ? value : fail(`a ${resolved.name} name or number`);
  }
  if (resolved instanceof protobuf.Type) {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) fail('an object');
    return message(resolved, value as Record<string, unknown>, path);
  }
  if (type === 'string') return typeof value === 'string' ? value : fail('a string');
  if (type === 'bool') return typeof value === 'boolean' ? value : fail('true or false');
  if (type === 'bytes') return typeof value === 'string' && isBase64(value) ? value : fail('a base64 string');
  if (type === 'double' || type === 'float') {
    if (typeof value === 'number') return value;
    if (typeof value === 'string' && value.trim() !== '' && !Number.isNaN(Number(value))) return Number(value);
    if (value === 'NaN' || value === 'Infinity' || value === '-Infinity') return Number(value);
    return fail('a number');
  }
  const isInt = (typeof value === 'number' && Number.isInteger(value)) || (typeof value === 'string' && INTEGER.test(value));
  if (!isInt) return fail('an integer');
  const n = Number(value);
  if (INT32.has(type)) return n >= -(2 ** 31) && n < 2 ** 31 ? n : fail('a 32-bit integer');
  if (UINT32.has(type)) return n >= 0 && n < 2 ** 32 ? n : fail('an unsigned 32-bit integer');
  if (INT64.has(type)) return (type.startsWith('u') || type === 'fixed64') && n < 0 ? fail('an unsigned integer') : value;
  return fail(`a ${type}`);
}

function message(type: protobuf.Type, obj: Record<string, unknown>, path: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(obj)) {
    const name = camel(key);
    const field = type.fields[name];
    // Unknown fields are ignored, as LiveKit's Twirp server (DiscardUnknown) does.
    if (!field || value === null) continue;
    const at = path ? `${path}.${name}` : name;
    if (field instanceof protobuf.MapField) {
      if (typeof value !== 'object' || Array.isArray(value)) throw new ProtoJsonError(`${at}: an object expected`);
      const map: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) map[k] = scalar(field.type, v, `${at}["${k}"]`, field.resolvedType);
      out[name] = map;
    } else if (field.repeated) {
      if (!Array.isArray(value)) throw new ProtoJsonError(`${at}: an array expected`);
      out[name] = value.map((v, i) => scalar(field.type, v, `${at}[${i}]`, field.resolvedType));
    } else {
      out[name] = scalar(field.type, value, at, field.resolvedType);
    }
  }
  return out;
}

/**
 * Checks a parsed JSON value against message `typeName` (e.g. "livekit.CreateRoomRequest") and
 * returns it with lowerCamelCase field names, ready for the static class's fromObject.
 * Throws ProtoJsonError naming the first offending field.
 */
export function readProtoJson(typeName: string, value: unknown): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new ProtoJsonError('a JSON object expected');
  return message(root.lookupType(typeName), value as Record<string, unknown>, '');
}
