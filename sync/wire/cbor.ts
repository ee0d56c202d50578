/**
 * Strict, deterministic CBOR (RFC 8949) for the subset the wire format uses:
 * unsigned/negative integers, byte strings, text strings, arrays, maps with text
 * keys, false/true/null, and float64 for non-integer numbers.
 *
 * The byte-level work is done by the `cborg` library; this module pins down the
 * canonical profile of docs/wire-format.md §2 on top of it:
 *
 * - Encoding: shortest-form lengths and integers and definite lengths (cborg's
 *   own behaviour), map keys sorted by their encoded bytes (cborg's default map
 *   sorter: for text keys, shorter first, then bytewise — the same order as RFC
 *   8949 §4.2.1), float64 for non-integers (`float64: true`), `-0` as float64,
 *   and map entries whose value is `undefined` left out. Anything outside the
 *   subset (undefined elsewhere, NaN/±Infinity, integers beyond ±(2^53−1),
 *   non-plain objects, nesting deeper than 32) is refused before cborg sees it.
 * - Decoding: cborg in strict mode refuses non-shortest integers and lengths,
 *   indefinite lengths, undefined, NaN/Infinity, big integers, tags, duplicate
 *   keys, non-text keys and trailing bytes. Nesting deeper than 32 is refused
 *   while the decoded value is taken over. What cborg does not check (map key
 *   order, floats that should have been integers or float64, invalid UTF-8) is
 *   caught by re-encoding the decoded value and requiring the exact input bytes
 *   back, so one value has exactly one accepted encoding.
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

/*
 * cborg 2.x is the last release line with a CommonJS build (3.x and later only
 * declare an "import" export, which `require` cannot resolve even with Node's
 * require(esm)). Its CommonJS entry ships no type declarations, so the part of
 * its API used here is described locally.
 */
interface CborgType {
  readonly major: number;
}
interface CborgApi {
  encode(value: unknown, options?: CborgEncodeOptions): Uint8Array;
  decode(data: Uint8Array, options?: CborgDecodeOptions): unknown;
  Token: new (type: CborgType, value: unknown, encodedLength?: number) => object;
  Type: { float: CborgType };
}
interface CborgEncodeOptions {
  float64?: boolean;
  typeEncoders?: Record<string, (value: unknown) => object | null>;
}
interface CborgDecodeOptions {
  strict?: boolean;
  allowIndefinite?: boolean;
  allowUndefined?: boolean;
  allowInfinity?: boolean;
  allowNaN?: boolean;
  allowBigInt?: boolean;
  useMaps?: boolean;
  rejectDuplicateMapKeys?: boolean;
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
const cborg = require('cborg') as CborgApi;

const MAX_DEPTH = 32;

const ENCODE_OPTIONS: CborgEncodeOptions = {
  float64: true,
  typeEncoders: {
    // cborg would write -0 as the integer 0; the profile keeps its sign as float64.
    number: (n) => (Object.is(n, -0) ? new cborg.Token(cborg.Type.float, -0) : null),
  },
};

const DECODE_OPTIONS: CborgDecodeOptions = {
  strict: true,
  allowIndefinite: false,
  allowUndefined: false,
  allowInfinity: false,
  allowNaN: false,
  allowBigInt: false,
  useMaps: false,
  rejectDuplicateMapKeys: true,
};

/**
 * Checks that `v` is inside the profile and returns it in the shape cborg
 * should encode: the same value, except that maps holding `undefined` entries
 * (at any depth) are copied without them — the caller's value is never modified.
 */
function prepare(v: CborValue | undefined, depth: number): CborValue {
  if (depth > MAX_DEPTH) throw new CborError('value nested too deeply');
  if (v === null || v === true || v === false || typeof v === 'string') return v;
  if (v === undefined) throw new CborError('undefined is not encodable (omit the map entry instead)');
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new CborError(`non-finite number ${v} is not encodable`);
    if (Number.isInteger(v) && !Number.isSafeInteger(v)) throw new CborError(`integer ${v} is outside the safe range`);
    return v;
  }
  if (v instanceof Uint8Array) return v;
  if (Array.isArray(v)) {
    let out: CborValue[] | null = null;
    for (let i = 0; i < v.length; i++) {
      const item = prepare(v[i], depth + 1);
      if (item !== v[i]) (out ??= v.slice())[i] = item;
    }
    return out ?? v;
  }
  if (typeof v === 'object') {
    const proto = Object.getPrototypeOf(v) as unknown;
    if (proto !== Object.prototype && proto !== null) throw new CborError('only plain objects are encodable as maps');
    let out: { [key: string]: CborValue } | null = null;
    const keys = Object.keys(v);
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i];
      const item = v[k];
      const prepared = item === undefined ? undefined : prepare(item, depth + 1);
      if (out === null && (item === undefined || prepared !== item)) {
        // First change: copy the entries before this one, then carry on into the copy.
        out = {};
        for (let j = 0; j < i; j++) out[keys[j]] = v[keys[j]] as CborValue;
      }
      if (out !== null && prepared !== undefined) out[k] = prepared;
    }
    return out ?? v;
  }
  throw new CborError(`type ${typeof v} is not encodable`);
}

/** Canonical CBOR encoding of `v`. */
export function encodeCbor(v: CborValue): Buffer {
  const prepared = prepare(v, 0);
  let out: Uint8Array;
  try {
    out = cborg.encode(prepared, ENCODE_OPTIONS);
  } catch (e) {
    throw new CborError(`cannot encode value: ${(e as Error).message}`);
  }
  return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
}

/**
 * Rebuilds a decoded value in the shapes callers expect: byte strings as
 * Buffer (cborg hands out fresh Uint8Array copies, so they are wrapped, not
 * copied again) and maps as ordinary objects holding only own keys.
 */
function adopt(v: unknown, depth: number): CborValue {
  if (depth > MAX_DEPTH) throw new CborError('value nested too deeply');
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  if (Array.isArray(v)) return v.map((item) => adopt(item, depth + 1));
  if (v !== null && typeof v === 'object') {
    const out: { [key: string]: CborValue } = {};
    // Only own keys are carried over. (A "__proto__" map key is already refused
    // by cborg as a repeated key; were it ever let through, it would not become
    // an own key here and the re-encoding check would reject the input.)
    for (const k of Object.keys(v)) out[k] = adopt((v as Record<string, unknown>)[k], depth + 1);
    return out;
  }
  return v as CborValue;
}

function libraryMessage(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  // cborg decodes recursively: absurdly deep input exhausts the stack first.
  if (e instanceof RangeError && /call stack/i.test(m)) return 'value nested too deeply';
  if (/too many terminals/.test(m)) return 'trailing bytes after the value';
  return m.replace(/^CBOR decode error:\s*/, '');
}

/** Strict decoding of one canonical CBOR value occupying all of `b`. */
export function decodeCbor(b: Uint8Array): CborValue {
  let raw: unknown;
  try {
    raw = cborg.decode(b, DECODE_OPTIONS);
  } catch (e) {
    throw new CborError(`invalid CBOR: ${libraryMessage(e)}`);
  }
  const v = adopt(raw, 0);
  let again: Buffer;
  try {
    again = encodeCbor(v);
  } catch (e) {
    throw new CborError(`invalid CBOR: ${(e as Error).message}`);
  }
  if (Buffer.compare(again, b) !== 0) {
    let at = 0;
    while (at < again.length && at < b.length && again[at] === b[at]) at++;
    throw new CborError(
      `not canonical CBOR (first difference at byte ${at}): map keys not in canonical order, ` +
        'a float where an integer or float64 belongs, or invalid UTF-8 in a text string',
    );
  }
  return v;
}
