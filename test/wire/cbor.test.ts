import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { CborError, decodeCbor, encodeCbor, type CborValue } from '../../sync/wire/cbor';

const hex = (v: CborValue): string => encodeCbor(v).toString('hex');
const dec = (h: string): CborValue => decodeCbor(Buffer.from(h, 'hex'));

function nested(depth: number): CborValue {
  let v: CborValue = [];
  for (let i = 0; i < depth; i++) v = [v];
  return v;
}

describe('canonical CBOR encoding (docs/wire-format.md §2)', () => {
  it('matches the RFC 8949 Appendix A examples for the subset', () => {
    const cases: [CborValue, string][] = [
      [0, '00'],
      [23, '17'],
      [24, '1818'],
      [100, '1864'],
      [1000, '1903e8'],
      [1000000, '1a000f4240'],
      [1000000000000, '1b000000e8d4a51000'],
      [-1, '20'],
      [-10, '29'],
      [-100, '3863'],
      [-1000, '3903e7'],
      [1.1, 'fb3ff199999999999a'],
      [-4.1, 'fbc010666666666666'],
      [false, 'f4'],
      [true, 'f5'],
      [null, 'f6'],
      ['', '60'],
      ['a', '6161'],
      ['IETF', '6449455446'],
      ['\u00fc', '62c3bc'],
      ['\u6c34', '63e6b0b4'],
      ['\u{10151}', '64f0908591'],
      [Buffer.from('01020304', 'hex'), '4401020304'],
      [[], '80'],
      [[1, [2, 3], [4, 5]], '8301820203820405'],
      [{}, 'a0'],
      [{ a: 1, b: [2, 3] }, 'a26161016162820203'],
      [['a', { b: 'c' }], '826161a161626163'],
    ];
    for (const [v, h] of cases) expect(hex(v), JSON.stringify(v)).toBe(h);
  });

  it('uses the shortest form at every length boundary', () => {
    const boundaries: [number, string][] = [
      [23, '17'],
      [24, '1818'],
      [255, '18ff'],
      [256, '190100'],
      [65535, '19ffff'],
      [65536, '1a00010000'],
      [2 ** 32 - 1, '1affffffff'],
      [2 ** 32, '1b0000000100000000'],
      [Number.MAX_SAFE_INTEGER, '1b001fffffffffffff'],
      [-24, '37'],
      [-25, '3818'],
      [-(2 ** 32), '3affffffff'],
      [-(2 ** 32) - 1, '3b0000000100000000'],
      [-Number.MAX_SAFE_INTEGER, '3b001ffffffffffffe'],
    ];
    for (const [n, h] of boundaries) expect(hex(n), String(n)).toBe(h);
    expect(hex('x'.repeat(24)).slice(0, 4)).toBe('7818');
    expect(hex(Buffer.alloc(256)).slice(0, 6)).toBe('590100');
    expect(hex(new Array<CborValue>(65536).fill(0)).slice(0, 10)).toBe('9a00010000');
  });

  it('writes integral numbers as integers, other numbers (and -0) as float64', () => {
    expect(hex(1.0)).toBe('01');
    expect(hex(-2.0)).toBe('21');
    expect(hex(1.5)).toBe('fb3ff8000000000000'); // float16 could hold 1.5; the profile still wants float64
    expect(hex(-0)).toBe('fb8000000000000000');
    expect(hex(5e-324)).toBe('fb0000000000000001');
  });

  it('sorts map keys by their encoded bytes: shorter first, then bytewise', () => {
    // "b" < "aa" because shorter encodings sort first; "\u00e9" is two UTF-8 bytes, so it sorts with "aa".
    expect(hex({ aa: 1, b: 2, a: 3, '\u00e9': 4, ab: 5 })).toBe('a5' + '616103' + '616202' + '62616101' + '62616205' + '62c3a904');
    // Insertion order never matters.
    expect(hex({ z: 1, y: { d: 1, c: 2 } })).toBe(hex({ y: { c: 2, d: 1 }, z: 1 }));
  });

  it('leaves out map entries whose value is undefined, at any depth, without touching the input', () => {
    const input = { b: undefined, a: 1, list: [{ x: undefined, y: 2 }] };
    expect(hex(input)).toBe(hex({ a: 1, list: [{ y: 2 }] }));
    expect(Object.keys(input)).toEqual(['b', 'a', 'list']);
    expect(Object.keys(input.list[0])).toEqual(['x', 'y']);
  });

  it('encodes Buffer and Uint8Array the same (major type 2)', () => {
    const u8 = new Uint8Array([1, 2, 3]);
    expect(hex(u8)).toBe('43010203');
    expect(hex(Buffer.from(u8))).toBe('43010203');
    expect(hex(Buffer.from([9, 1, 2, 3, 9]).subarray(1, 4))).toBe('43010203');
  });

  it('returns a fresh Buffer each time, independent of the input and of later calls', () => {
    const payload = Buffer.alloc(5000, 7);
    const first = encodeCbor({ p: payload, n: 1 });
    const copy = Buffer.from(first);
    payload.fill(0);
    const second = encodeCbor({ p: Buffer.alloc(5000, 9), n: 2 });
    expect(Buffer.isBuffer(first)).toBe(true);
    expect(first.equals(copy)).toBe(true);
    expect(second.equals(first)).toBe(false);
  });

  it('refuses values outside the profile with a CborError', () => {
    const bad: [unknown, RegExp][] = [
      [undefined, /undefined/],
      [[1, undefined], /undefined/],
      [NaN, /non-finite/],
      [Infinity, /non-finite/],
      [-Infinity, /non-finite/],
      [2 ** 53, /safe range/],
      [-(2 ** 53), /safe range/],
      [1e300, /safe range/],
      [new Map([['a', 1]]), /plain objects/],
      [new Date(0), /plain objects/],
      [new (class K { a = 1 })(), /plain objects/],
      [new Float32Array(1), /plain objects/],
      [{ a: 10n }, /bigint/],
      [Symbol('s'), /symbol/],
    ];
    for (const [v, re] of bad) {
      expect(() => encodeCbor(v as CborValue), String(v)).toThrow(CborError);
      expect(() => encodeCbor(v as CborValue), String(v)).toThrow(re);
    }
  });

  it('allows nesting up to 32 levels', () => {
    expect(encodeCbor(nested(32)).length).toBe(33);
    expect(() => encodeCbor(nested(33))).toThrow(/nested too deeply/);
  });
});

describe('strict CBOR decoding', () => {
  it('returns byte strings as Buffers and maps as plain objects', () => {
    const v = dec('a2616142010261628143ffeedd') as { a: Buffer; b: Buffer[] };
    expect(Buffer.isBuffer(v.a)).toBe(true);
    expect(v.a.toString('hex')).toBe('0102');
    expect(Buffer.isBuffer(v.b[0])).toBe(true);
    expect(v.b[0].toString('hex')).toBe('ffeedd');
    expect(Object.getPrototypeOf(v)).toBe(Object.prototype);
  });

  it('decoded byte strings do not alias the input', () => {
    const input = Buffer.from('4401020304', 'hex');
    const out = decodeCbor(input) as Buffer;
    input[1] = 0xff;
    expect(out.toString('hex')).toBe('01020304');
  });

  it('accepts -0 as float64 and the RFC examples back', () => {
    expect(Object.is(dec('fb8000000000000000'), -0)).toBe(true);
    expect(dec('a26161016162820203')).toEqual({ a: 1, b: [2, 3] });
    expect(dec('3b001ffffffffffffe')).toBe(-Number.MAX_SAFE_INTEGER);
  });

  const rejects: [string, string, RegExp][] = [
    ['non-shortest integer', '1817', /more bytes than necessary/],
    ['non-shortest 16-bit integer', '190017', /more bytes than necessary/],
    ['non-shortest length', '5a0000000201ff', /more bytes than necessary/],
    ['non-shortest array length', '980101', /more bytes than necessary/],
    ['indefinite array', '9f01ff', /indefinite/],
    ['indefinite map', 'bf616101ff', /indefinite/],
    ['indefinite byte string', '5f420102ff', /indefinite/],
    ['indefinite text string', '7f6161ff', /indefinite/],
    ['unsorted map keys', 'a2616201616101', /canonical order/],
    ['longer key before shorter key', 'a262616101616202', /canonical order/],
    ['duplicate map key', 'a2616101616102', /repeat map key/],
    ['non-text map key', 'a1016161', /non-string keys/],
    ['trailing bytes', '0100', /trailing/],
    ['undefined', 'f7', /undefined/],
    ['NaN', 'fb7ff8000000000000', /NaN/],
    ['NaN as float16', 'f97e00', /NaN/],
    ['Infinity', 'fb7ff0000000000000', /Infinity/],
    ['float64 holding an integer', 'fb3ff0000000000000', /not canonical/],
    ['float16', 'f93e00', /not canonical/],
    ['float32', 'fa3fc00000', /not canonical/],
    ['tag', 'c11a514b67b0', /tag/],
    ['simple value', 'e0', /simple/],
    ['integer beyond 2^53-1', '1b0020000000000000', /safe integer range/],
    ['reserved additional info', '1c', /invalid minor/],
    ['invalid UTF-8', '62c328', /not canonical/],
    ['truncated array', '8201', /not enough/],
    ['truncated byte string', '4401', /not enough data/],
    ['"__proto__" map key', 'a1695f5f70726f746f5f5fa0', /__proto__/],
  ];
  for (const [what, h, re] of rejects) {
    it(`rejects ${what} (${h})`, () => {
      let err: unknown;
      try {
        dec(h);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(CborError);
      expect((err as Error).message).toMatch(re);
    });
  }

  it('rejects empty input', () => {
    expect(() => decodeCbor(Buffer.alloc(0))).toThrow(CborError);
  });

  it('accepts 32 levels of nesting, rejects 33, and survives absurd depth with a CborError', () => {
    expect(decodeCbor(encodeCbor(nested(32)))).toEqual(nested(32));
    const deep = (n: number): Buffer => Buffer.concat([Buffer.alloc(n, 0x81), Buffer.from([0x80])]);
    expect(() => decodeCbor(deep(33))).toThrow(/nested too deeply/);
    expect(() => decodeCbor(deep(1_000_000))).toThrow(CborError);
  });
});

describe('canonical round trip (property)', () => {
  /** Bytes as tagged hex, maps as plain objects, so Buffer vs Uint8Array and prototypes do not matter. */
  const comparable = (v: CborValue): unknown => {
    if (v instanceof Uint8Array) return { bytes: Buffer.from(v).toString('hex') };
    if (Array.isArray(v)) return v.map(comparable);
    if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, comparable(x as CborValue)]));
    return v;
  };
  const value: fc.Arbitrary<CborValue> = fc.letrec<{ v: CborValue }>((tie) => ({
    v: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      fc.maxSafeInteger(),
      fc.double({ noNaN: true, noDefaultInfinity: true }).filter((d) => !Number.isInteger(d) || Object.is(d, -0)),
      fc.string({ unit: 'binary' }),
      fc.boolean(),
      fc.constant(null),
      fc.uint8Array({ maxLength: 40 }),
      fc.array(tie('v'), { maxLength: 5 }),
      fc.dictionary(fc.string({ unit: 'binary', maxLength: 6 }), tie('v'), { maxKeys: 5 }).filter((o) => !('__proto__' in o && Object.hasOwn(o, '__proto__'))),
    ),
  })).v;

  it('decode(encode(v)) re-encodes to the same bytes, and equals v', () => {
    fc.assert(
      fc.property(value, (v) => {
        const b = encodeCbor(v);
        const back = decodeCbor(b);
        expect(encodeCbor(back).equals(b)).toBe(true);
        expect(comparable(back)).toEqual(comparable(v));
      }),
      { numRuns: 300 },
    );
  });

  it('any one-byte change is either rejected or is itself the canonical encoding of what it decodes to', () => {
    fc.assert(
      fc.property(value, fc.nat(), fc.integer({ min: 1, max: 255 }), (v, at, flip) => {
        const b = Buffer.from(encodeCbor(v));
        const i = at % b.length;
        b[i] ^= flip;
        let back: CborValue;
        try {
          back = decodeCbor(b);
        } catch (e) {
          expect(e).toBeInstanceOf(CborError);
          return;
        }
        expect(encodeCbor(back).equals(b)).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });
});
