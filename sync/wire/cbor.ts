/**
 * A small, strict, deterministic CBOR (RFC 8949) codec for the subset the wire
 * format uses: unsigned/negative integers, byte strings, text strings, arrays,
 * maps with text keys, false/true/null, and float64 for non-integer numbers.
 *
 * Encoding is canonical (docs/wire-format.md §2): shortest-form lengths and
 * integers, definite lengths only, map keys sorted by their encoded bytes
 * (RFC 8949 §4.2.1 — for text keys: shorter first, then bytewise), map entries
 * whose value is `undefined` omitted. The decoder rejects indefinite lengths,
 * non-shortest integers, duplicate or unsorted map keys and trailing bytes, so
 * one value has exactly one encoding.
 */

export type CborValue =
  | number
  | string
  | boolean
  | null
  | Uint8Array
  | CborValue[]
  | { [key: string]: CborValue | undefined };

export class CborError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CborError';
  }
}

const MAX_DEPTH = 32;

/** Collects output chunks; big byte strings are referenced, not copied, until the final concat. */
class Writer {
  private readonly chunks: Uint8Array[] = [];
  private buf = Buffer.allocUnsafe(4096);
  private pos = 0;
  length = 0;

  private ensure(n: number): void {
    if (this.pos + n > this.buf.length) {
      this.flush();
      if (n > this.buf.length) this.buf = Buffer.allocUnsafe(Math.max(n, 4096));
    }
  }
  private flush(): void {
    if (this.pos > 0) {
      this.chunks.push(this.buf.subarray(0, this.pos));
      this.buf = Buffer.allocUnsafe(4096);
      this.pos = 0;
    }
  }
  head(major: number, n: number): void {
    this.ensure(9);
    const m = major << 5;
    if (n < 24) {
      this.buf[this.pos++] = m | n;
      this.length += 1;
    } else if (n < 0x100) {
      this.buf[this.pos++] = m | 24;
      this.buf[this.pos++] = n;
      this.length += 2;
    } else if (n < 0x10000) {
      this.buf[this.pos++] = m | 25;
      this.buf.writeUInt16BE(n, this.pos);
      this.pos += 2;
      this.length += 3;
    } else if (n < 0x100000000) {
      this.buf[this.pos++] = m | 26;
      this.buf.writeUInt32BE(n, this.pos);
      this.pos += 4;
      this.length += 5;
    } else {
      this.buf[this.pos++] = m | 27;
      this.buf.writeBigUInt64BE(BigInt(n), this.pos);
      this.pos += 8;
      this.length += 9;
    }
  }
  byte(b: number): void {
    this.ensure(1);
    this.buf[this.pos++] = b;
    this.length += 1;
  }
  float64(v: number): void {
    this.ensure(9);
    this.buf[this.pos++] = 0xfb;
    this.buf.writeDoubleBE(v, this.pos);
    this.pos += 8;
    this.length += 9;
  }
  bytes(b: Uint8Array): void {
    if (b.length <= 256) {
      this.ensure(b.length);
      this.buf.set(b, this.pos);
      this.pos += b.length;
    } else {
      this.flush();
      this.chunks.push(b);
    }
    this.length += b.length;
  }
  finish(): Buffer {
    this.flush();
    return Buffer.concat(this.chunks, this.length);
  }
}

const textEncoder = new TextEncoder();

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b);
}

const keyCache = new Map<string, Buffer>();

/** Encoded form of a text map key (used for ordering); short keys are cached. */
function keyBytes(k: string): Buffer {
  const hit = keyCache.get(k);
  if (hit) return hit;
  const b = Buffer.from(k, 'utf8');
  let head: Buffer;
  if (b.length < 24) head = Buffer.from([0x60 | b.length]);
  else if (b.length < 0x100) head = Buffer.from([0x78, b.length]);
  else if (b.length < 0x10000) head = Buffer.from([0x79, b.length >> 8, b.length & 0xff]);
  else {
    head = Buffer.alloc(5);
    head[0] = 0x7a;
    head.writeUInt32BE(b.length, 1);
  }
  const out = Buffer.concat([head, b]);
  if (k.length <= 32 && keyCache.size < 4096) keyCache.set(k, out);
  return out;
}

function encodeInto(w: Writer, v: CborValue | undefined, depth: number): void {
  if (depth > MAX_DEPTH) throw new CborError('value nested too deeply');
  if (v === null) return w.byte(0xf6);
  if (v === true) return w.byte(0xf5);
  if (v === false) return w.byte(0xf4);
  if (v === undefined) throw new CborError('undefined is not encodable (omit the map entry instead)');
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new CborError(`non-finite number ${v} is not encodable`);
    if (Number.isInteger(v) && !Object.is(v, -0)) {
      if (!Number.isSafeInteger(v)) throw new CborError(`integer ${v} is outside the safe range`);
      if (v >= 0) w.head(0, v);
      else w.head(1, -1 - v);
      return;
    }
    return w.float64(v);
  }
  if (typeof v === 'string') {
    const b = textEncoder.encode(v);
    w.head(3, b.length);
    w.bytes(b);
    return;
  }
  if (v instanceof Uint8Array) {
    w.head(2, v.length);
    w.bytes(v);
    return;
  }
  if (Array.isArray(v)) {
    w.head(4, v.length);
    for (const item of v) encodeInto(w, item, depth + 1);
    return;
  }
  if (typeof v === 'object') {
    const proto = Object.getPrototypeOf(v);
    if (proto !== Object.prototype && proto !== null) throw new CborError('only plain objects are encodable as maps');
    const entries = Object.keys(v)
      .filter((k) => v[k] !== undefined)
      .map((k) => ({ k, kb: keyBytes(k) }))
      .sort((a, b) => compareBytes(a.kb, b.kb));
    w.head(5, entries.length);
    for (const e of entries) {
      w.bytes(e.kb);
      encodeInto(w, v[e.k], depth + 1);
    }
    return;
  }
  throw new CborError(`type ${typeof v} is not encodable`);
}

/** Canonical CBOR encoding of `v`. */
export function encodeCbor(v: CborValue): Buffer {
  const w = new Writer();
  encodeInto(w, v, 0);
  return w.finish();
}

const textDecoder = new TextDecoder('utf-8', { fatal: true });

class Reader {
  pos = 0;
  constructor(private readonly b: Buffer) {}

  private need(n: number): void {
    if (this.pos + n > this.b.length) throw new CborError(`truncated at byte ${this.pos}`);
  }

  /** Reads an argument and checks it is in shortest form. */
  private arg(ai: number): number {
    if (ai < 24) return ai;
    let n: number;
    let min: number;
    if (ai === 24) {
      this.need(1);
      n = this.b[this.pos];
      this.pos += 1;
      min = 24;
    } else if (ai === 25) {
      this.need(2);
      n = this.b.readUInt16BE(this.pos);
      this.pos += 2;
      min = 0x100;
    } else if (ai === 26) {
      this.need(4);
      n = this.b.readUInt32BE(this.pos);
      this.pos += 4;
      min = 0x10000;
    } else if (ai === 27) {
      this.need(8);
      const big = this.b.readBigUInt64BE(this.pos);
      this.pos += 8;
      if (big > BigInt(Number.MAX_SAFE_INTEGER)) throw new CborError('integer outside the safe range');
      n = Number(big);
      min = 0x100000000;
    } else {
      throw new CborError(`indefinite or reserved length (additional info ${ai}) at byte ${this.pos - 1}`);
    }
    if (n < min) throw new CborError(`non-shortest encoding at byte ${this.pos}`);
    return n;
  }

  value(depth: number): CborValue {
    if (depth > MAX_DEPTH) throw new CborError('value nested too deeply');
    this.need(1);
    const ib = this.b[this.pos++];
    const major = ib >> 5;
    const ai = ib & 0x1f;
    switch (major) {
      case 0:
        return this.arg(ai);
      case 1:
        return -1 - this.arg(ai);
      case 2: {
        const n = this.arg(ai);
        this.need(n);
        // A copy, so decoded values never alias (and keep alive) the input buffer.
        const out = Buffer.from(this.b.subarray(this.pos, this.pos + n));
        this.pos += n;
        return out;
      }
      case 3: {
        const n = this.arg(ai);
        this.need(n);
        let s: string;
        try {
          s = textDecoder.decode(this.b.subarray(this.pos, this.pos + n));
        } catch {
          throw new CborError(`invalid UTF-8 in text string at byte ${this.pos}`);
        }
        this.pos += n;
        return s;
      }
      case 4: {
        const n = this.arg(ai);
        const out: CborValue[] = [];
        for (let i = 0; i < n; i++) out.push(this.value(depth + 1));
        return out;
      }
      case 5: {
        const n = this.arg(ai);
        const out: Record<string, CborValue> = Object.create(null);
        let prevKey: Buffer | null = null;
        for (let i = 0; i < n; i++) {
          const kStart = this.pos;
          const k = this.value(depth + 1);
          if (typeof k !== 'string') throw new CborError(`map key at byte ${kStart} is not a text string`);
          const kb = this.b.subarray(kStart, this.pos);
          if (prevKey && compareBytes(prevKey, kb) >= 0) throw new CborError(`map keys not in canonical order or duplicated at byte ${kStart}`);
          prevKey = kb;
          out[k] = this.value(depth + 1);
        }
        return Object.assign({}, out);
      }
      case 7: {
        if (ai === 20) return false;
        if (ai === 21) return true;
        if (ai === 22) return null;
        if (ai === 27) {
          this.need(8);
          const v = this.b.readDoubleBE(this.pos);
          this.pos += 8;
          if (!Number.isFinite(v) || (Number.isInteger(v) && !Object.is(v, -0))) throw new CborError('float64 holding an integer or non-finite value is not canonical');
          return v;
        }
        throw new CborError(`unsupported simple/float value (additional info ${ai}) at byte ${this.pos - 1}`);
      }
      default:
        throw new CborError(`unsupported major type ${major} at byte ${this.pos - 1}`);
    }
  }

  done(): void {
    if (this.pos !== this.b.length) throw new CborError(`${this.b.length - this.pos} trailing bytes after the value`);
  }
}

/** Strict decoding of one canonical CBOR value occupying all of `b`. */
export function decodeCbor(b: Uint8Array): CborValue {
  const buf = Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  const r = new Reader(buf);
  const v = r.value(0);
  r.done();
  return v;
}
