/**
 * BER-TLV as used by ISO 7816-4 and ICAO 9303 (multi-byte tags, definite lengths).
 * Every parse error is a CardDataError naming the file the bytes came from.
 */
import { StationError } from '../common/errors';

export class CardDataError extends StationError {
  constructor(file: string, what: string, cause?: unknown) {
    super('CARD_BAD_DATA', `the chip returned malformed data in ${file}: ${what}`, {
      hint: 'the chip may be damaged or not an ICAO 9303 document; try reading again, then inspect the document manually',
      cause,
      details: { file },
    });
    this.name = 'CardDataError';
  }
}

export interface Tlv {
  tag: number;
  /** Offset of the first tag byte inside the parsed buffer. */
  start: number;
  /** Offset of the first value byte. */
  valueStart: number;
  /** Offset one past the last value byte. */
  end: number;
  value: Buffer;
  /** Tag, length and value bytes exactly as found. */
  raw: Buffer;
  constructed: boolean;
}

/** Reads one TLV at `offset`. Throws CardDataError (naming `file`) on truncated or invalid encodings. */
export function readTlv(buf: Buffer, offset: number, file: string): Tlv {
  let p = offset;
  if (p >= buf.length) throw new CardDataError(file, `TLV expected at offset ${offset} but the data ends`);
  const first = buf[p++]!;
  let tag = first;
  if ((first & 0x1f) === 0x1f) {
    let n = 0;
    for (;;) {
      if (p >= buf.length) throw new CardDataError(file, `tag truncated at offset ${offset}`);
      const b = buf[p++]!;
      tag = tag * 256 + b;
      if (++n > 3) throw new CardDataError(file, `tag longer than 4 bytes at offset ${offset}`);
      if ((b & 0x80) === 0) break;
    }
  }
  if (p >= buf.length) throw new CardDataError(file, `length missing for tag ${tag.toString(16)} at offset ${offset}`);
  let len = buf[p++]!;
  if (len === 0x80) throw new CardDataError(file, `indefinite length (tag ${tag.toString(16)}) is not allowed`);
  if (len > 0x80) {
    const n = len & 0x7f;
    if (n > 4) throw new CardDataError(file, `length field of ${n} bytes (tag ${tag.toString(16)}) is too long`);
    if (p + n > buf.length) throw new CardDataError(file, `length truncated for tag ${tag.toString(16)}`);
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[p++]!;
  }
  const end = p + len;
  if (end > buf.length) {
    throw new CardDataError(file, `tag ${tag.toString(16)} at offset ${offset} declares ${len} bytes but only ${buf.length - p} remain`);
  }
  return {
    tag, start: offset, valueStart: p, end,
    value: buf.subarray(p, end), raw: buf.subarray(offset, end),
    constructed: (first & 0x20) !== 0,
  };
}

/** All TLVs laid end to end in `buf` (children of a constructed value). */
export function readAll(buf: Buffer, file: string): Tlv[] {
  const out: Tlv[] = [];
  let p = 0;
  while (p < buf.length) {
    // ISO 7816 allows 00/FF padding between objects; DER does not, so only skip when asked.
    const t = readTlv(buf, p, file);
    out.push(t);
    p = t.end;
  }
  return out;
}

/** Reads the single TLV filling `buf`, checking its tag. */
export function expectTlv(buf: Buffer, tag: number, file: string): Tlv {
  const t = readTlv(buf, 0, file);
  if (t.tag !== tag) throw new CardDataError(file, `expected tag ${tag.toString(16)} but found ${t.tag.toString(16)}`);
  return t;
}

export function findChild(parent: Buffer, tag: number, file: string): Tlv | undefined {
  return readAll(parent, file).find((t) => t.tag === tag);
}

export function requireChild(parent: Buffer, tag: number, file: string, what: string): Tlv {
  const t = findChild(parent, tag, file);
  if (!t) throw new CardDataError(file, `${what} (tag ${tag.toString(16)}) is missing`);
  return t;
}

/** Total length (header + value) announced by the TLV header at the start of `head`, or undefined if more bytes are needed. */
export function tlvTotalLength(head: Buffer, file: string): number {
  if (head.length < 2) throw new CardDataError(file, 'file is shorter than a TLV header');
  let p = 1;
  if ((head[0]! & 0x1f) === 0x1f) {
    while (p < head.length && (head[p]! & 0x80) !== 0) p++;
    p++;
  }
  if (p >= head.length) throw new CardDataError(file, 'TLV header truncated');
  const l = head[p++]!;
  if (l < 0x80) return p + l;
  const n = l & 0x7f;
  if (n === 0 || n > 4) throw new CardDataError(file, `unsupported length encoding 0x${l.toString(16)}`);
  if (p + n > head.length) throw new CardDataError(file, 'TLV length truncated');
  let len = 0;
  for (let i = 0; i < n; i++) len = len * 256 + head[p++]!;
  return p + len;
}

export function encodeLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  if (n < 0x100) return Buffer.from([0x81, n]);
  if (n < 0x10000) return Buffer.from([0x82, n >> 8, n & 0xff]);
  if (n < 0x1000000) return Buffer.from([0x83, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff]);
  return Buffer.from([0x84, (n >>> 24) & 0xff, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff]);
}

export function encodeTag(tag: number): Buffer {
  const bytes: number[] = [];
  let t = tag;
  do { bytes.unshift(t & 0xff); t = Math.floor(t / 256); } while (t > 0);
  return Buffer.from(bytes);
}

export function tlv(tag: number, ...values: Buffer[]): Buffer {
  const v = Buffer.concat(values);
  return Buffer.concat([encodeTag(tag), encodeLength(v.length), v]);
}
