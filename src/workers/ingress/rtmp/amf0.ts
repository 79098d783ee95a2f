// AMF0 (Adobe's Action Message Format, version 0): the encoding of RTMP commands (connect,
// publish, onStatus…) and of FLV script data. Only what a publishing encoder sends and what
// the server answers: numbers, booleans, strings, objects, arrays, null and undefined.
export type Amf0Value = number | boolean | string | null | undefined | Amf0Object | Amf0Value[];
export interface Amf0Object {
  [key: string]: Amf0Value;
}

const NUMBER = 0x00;
const BOOLEAN = 0x01;
const STRING = 0x02;
const OBJECT = 0x03;
const NULL = 0x05;
const UNDEFINED = 0x06;
const REFERENCE = 0x07;
const ECMA_ARRAY = 0x08;
const OBJECT_END = 0x09;
const STRICT_ARRAY = 0x0a;
const DATE = 0x0b;
const LONG_STRING = 0x0c;
const XML_DOCUMENT = 0x0f;
const TYPED_OBJECT = 0x10;
/** AMF3 switch: not sent by the encoders Strand serves. */
const AVMPLUS = 0x11;

export class Amf0Error extends Error {}

/** A reader over one AMF0 payload; every read checks the bounds (bad input throws Amf0Error). */
export class Amf0Reader {
  private pos = 0;
  private depth = 0;

  constructor(private readonly buf: Buffer) {}

  get done(): boolean {
    return this.pos >= this.buf.length;
  }

  private need(n: number): void {
    if (this.pos + n > this.buf.length) throw new Amf0Error('AMF0 value runs past the end of the message');
  }

  private shortString(): string {
    this.need(2);
    const len = this.buf.readUInt16BE(this.pos);
    this.need(2 + len);
    const s = this.buf.toString('utf8', this.pos + 2, this.pos + 2 + len);
    this.pos += 2 + len;
    return s;
  }

  private properties(): Amf0Object {
    const out: Amf0Object = {};
    for (;;) {
      const key = this.shortString();
      this.need(1);
      if (key === '' && this.buf[this.pos] === OBJECT_END) {
        this.pos++;
        return out;
      }
      out[key] = this.read();
    }
  }

  read(): Amf0Value {
    this.need(1);
    const marker = this.buf[this.pos++]!;
    if (++this.depth > 32) throw new Amf0Error('AMF0 nesting is too deep');
    try {
      switch (marker) {
        case NUMBER: {
          this.need(8);
          const v = this.buf.readDoubleBE(this.pos);
          this.pos += 8;
          return v;
        }
        case BOOLEAN:
          this.need(1);
          return this.buf[this.pos++] !== 0;
        case STRING: return this.shortString();
        case LONG_STRING: {
          this.need(4);
          const len = this.buf.readUInt32BE(this.pos);
          this.need(4 + len);
          const s = this.buf.toString('utf8', this.pos + 4, this.pos + 4 + len);
          this.pos += 4 + len;
          return s;
        }
        case OBJECT: return this.properties();
        case TYPED_OBJECT:
          this.shortString();
          return this.properties();
        case ECMA_ARRAY:
          this.need(4);
          this.pos += 4; // an approximate count; the properties end with OBJECT_END anyway
          return this.properties();
        case STRICT_ARRAY: {
          this.need(4);
          const n = this.buf.readUInt32BE(this.pos);
          this.pos += 4;
          if (n > this.buf.length - this.pos) throw new Amf0Error('AMF0 array is longer than its message');
          const out: Amf0Value[] = [];
          for (let i = 0; i < n; i++) out.push(this.read());
          return out;
        }
        case DATE: {
          this.need(10);
          const v = this.buf.readDoubleBE(this.pos);
          this.pos += 10;
          return v;
        }
        case XML_DOCUMENT: {
          this.need(4);
          const len = this.buf.readUInt32BE(this.pos);
          this.need(4 + len);
          this.pos += 4 + len;
          return undefined;
        }
        case NULL: return null;
        case UNDEFINED: return undefined;
        case REFERENCE:
          this.need(2);
          this.pos += 2;
          return undefined;
        case AVMPLUS: throw new Amf0Error('AMF3 values are not supported');
        default: throw new Amf0Error(`unknown AMF0 marker 0x${marker.toString(16)}`);
      }
    } finally {
      this.depth--;
    }
  }

  /** Every value left in the payload (a command: name, transaction id, arguments). */
  readAll(): Amf0Value[] {
    const out: Amf0Value[] = [];
    while (!this.done) out.push(this.read());
    return out;
  }
}

function writeShortString(parts: Buffer[], s: string): void {
  const b = Buffer.from(s, 'utf8');
  const len = Buffer.alloc(2);
  len.writeUInt16BE(b.length);
  parts.push(len, b);
}

function writeValue(parts: Buffer[], v: Amf0Value): void {
  if (typeof v === 'number') {
    const b = Buffer.alloc(9);
    b[0] = NUMBER;
    b.writeDoubleBE(v, 1);
    parts.push(b);
  } else if (typeof v === 'boolean') {
    parts.push(Buffer.from([BOOLEAN, v ? 1 : 0]));
  } else if (typeof v === 'string') {
    parts.push(Buffer.from([STRING]));
    writeShortString(parts, v);
  } else if (v === null) {
    parts.push(Buffer.from([NULL]));
  } else if (v === undefined) {
    parts.push(Buffer.from([UNDEFINED]));
  } else if (Array.isArray(v)) {
    const head = Buffer.alloc(5);
    head[0] = STRICT_ARRAY;
    head.writeUInt32BE(v.length, 1);
    parts.push(head);
    for (const item of v) writeValue(parts, item);
  } else {
    parts.push(Buffer.from([OBJECT]));
    for (const [k, item] of Object.entries(v)) {
      writeShortString(parts, k);
      writeValue(parts, item);
    }
    parts.push(Buffer.from([0, 0, OBJECT_END]));
  }
}

/** The AMF0 encoding of `values`, one after another (a command's payload). */
export function encodeAmf0(...values: Amf0Value[]): Buffer {
  const parts: Buffer[] = [];
  for (const v of values) writeValue(parts, v);
  return Buffer.concat(parts);
}
