/**
 * JPEG 2000 faces (DG2): decoded by OpenJPEG (WebAssembly) in memory and re-encoded as a
 * display JPEG. Test images are made here with the same library's encoder, so nothing is
 * copied from elsewhere and nothing is written to disk.
 */
import { describe, expect, it, beforeAll } from 'vitest';
import sharp from 'sharp';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildDg2, extractFace, faceImageInfo, jpeg2000ToJpeg, MAX_FACE_PIXELS, readJpeg2000Header } from '../../drivers/card/dg2';
import { runCardCli } from './cli-helper';
import { CardDataError } from '../../drivers/card/tlv';
import { createCardReader, SimulatedCardReader } from '../../drivers/card';
import { bacInputFromMrz } from '../../drivers/card/mrz';
import { cscaStoreFrom } from '../../drivers/card/passive-auth';
import { buildDocument } from '../../drivers/card/emulator/document';

interface Encoder { getDecodedBuffer(fi: object): Uint8Array; encode(): void; getEncodedBuffer(): Uint8Array; delete(): void }
let codec: { J2KEncoder: new () => Encoder };
beforeAll(async () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- the codec has no typings; loaded only when a JPEG 2000 face is met
  const factory = require('@cornerstonejs/codec-openjpeg/wasmjs') as (a: object) => Promise<typeof codec>;
  codec = await factory({ print: () => {}, printErr: () => {} });
});

/** A synthetic portrait-like test card: gradient background, bright disc, dark bars. */
function sourceImage(w: number, h: number, channels: 1 | 3, max = 255): number[] {
  const out: number[] = [];
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    const inDisc = (x - w / 2) ** 2 + (y - h / 2.2) ** 2 < (w / 3.2) ** 2;
    const bar = Math.floor(y / 8) % 4 === 0 && x < w / 4;
    const base = bar ? 0.05 : inDisc ? 0.85 : 0.2 + 0.5 * (x / w);
    const rgb = [base, inDisc ? base * 0.7 : 1 - base, bar ? 0.9 : (y / h) * 0.8];
    for (let c = 0; c < channels; c++) out.push(Math.round((channels === 1 ? base : rgb[c]!) * max));
  }
  return out;
}

function encodeJ2k(w: number, h: number, channels: 1 | 3, bits = 8, asYcc = false): { cs: Buffer; samples: number[] } {
  const max = 2 ** bits - 1;
  const rgb = sourceImage(w, h, channels, max);
  const samples = asYcc ? toYcc(rgb) : rgb;
  const e = new codec.J2KEncoder();
  const db = e.getDecodedBuffer({ width: w, height: h, bitsPerSample: bits, componentCount: channels, isSigned: false, isUsingColorTransform: channels === 3 });
  if (bits > 8) {
    const v = new Uint16Array(db.buffer, db.byteOffset, db.length / 2);
    samples.forEach((s, i) => { v[i] = s; });
  } else samples.forEach((s, i) => { db[i] = s; });
  e.encode();
  const cs = Buffer.from(e.getEncodedBuffer());
  e.delete();
  return { cs, samples: bits > 8 ? rgb.map((s) => Math.round((s * 255) / max)) : rgb };
}

/** Full-range BT.601 RGB → YCbCr, as a JP2 file with EnumCS 18 (sYCC) stores it. */
function toYcc(rgb: number[]): number[] {
  const out: number[] = [];
  const c = (v: number): number => Math.max(0, Math.min(255, Math.round(v)));
  for (let i = 0; i < rgb.length; i += 3) {
    const [r, g, b] = [rgb[i]!, rgb[i + 1]!, rgb[i + 2]!];
    out.push(c(0.299 * r + 0.587 * g + 0.114 * b), c(128 - 0.168736 * r - 0.331264 * g + 0.5 * b), c(128 + 0.5 * r - 0.418688 * g - 0.081312 * b));
  }
  return out;
}

function box(type: string, ...body: Buffer[]): Buffer {
  const b = Buffer.concat(body);
  const h = Buffer.alloc(8);
  h.writeUInt32BE(8 + b.length, 0);
  h.write(type, 4, 'latin1');
  return Buffer.concat([h, b]);
}

/** Wraps a codestream in the JP2 file format (ISO 15444-1 annex I): signature, ftyp, jp2h(ihdr, colr), jp2c. */
function toJp2(cs: Buffer, w: number, h: number, channels: number, bits = 8, enumCs = channels === 1 ? 17 : 16): Buffer {
  const ihdr = Buffer.alloc(14);
  ihdr.writeUInt32BE(h, 0); ihdr.writeUInt32BE(w, 4); ihdr.writeUInt16BE(channels, 8);
  ihdr[10] = bits - 1; ihdr[11] = 7;
  const colr = Buffer.from([1, 0, 0, 0, 0, 0, enumCs]);
  return Buffer.concat([
    box('jP  ', Buffer.from('0D0A870A', 'hex')),
    box('ftyp', Buffer.from('jp2 '), Buffer.alloc(4), Buffer.from('jp2 ')),
    box('jp2h', box('ihdr', ihdr), box('colr', colr)),
    box('jp2c', cs),
  ]);
}

async function pixelsOf(jpeg: Buffer, channels: 1 | 3): Promise<{ data: Buffer; width: number; height: number }> {
  const img = sharp(jpeg);
  const { data, info } = await (channels === 1 ? img.toColourspace('b-w') : img.removeAlpha()).raw().toBuffer({ resolveWithObject: true });
  expect(info.channels).toBe(channels);
  return { data, width: info.width, height: info.height };
}

function meanAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i]! - b[i]!);
  return s / a.length;
}

async function expectFaceOf(jpeg: Buffer, w: number, h: number, channels: 1 | 3, samples: number[]): Promise<void> {
  expect(jpeg.subarray(0, 3).toString('hex')).toBe('ffd8ff');
  const md = await sharp(jpeg).metadata();
  expect(md.format).toBe('jpeg');
  expect([md.width, md.height]).toEqual([w, h]);
  const px = await pixelsOf(jpeg, channels);
  expect(meanAbsDiff(px.data, samples)).toBeLessThan(6);
  // the comparison can tell images apart: the same picture mirrored left to right is far off
  const mirrored: number[] = [];
  for (let y = 0; y < h; y++) for (let x = w - 1; x >= 0; x--) mirrored.push(...samples.slice((y * w + x) * channels, (y * w + x + 1) * channels));
  expect(meanAbsDiff(px.data, mirrored)).toBeGreaterThan(30);
}

describe('JPEG 2000 face → display JPEG', () => {
  for (const channels of [1, 3] as const) {
    for (const container of ['j2k', 'jp2'] as const) {
      it(`${container === 'jp2' ? 'JP2 file' : 'raw J2K codestream'}, ${channels === 1 ? 'grey' : 'colour'}, inside DG2`, async () => {
        const w = 96, h = 120;
        const { cs, samples } = encodeJ2k(w, h, channels);
        const image = container === 'jp2' ? toJp2(cs, w, h, channels) : cs;
        const hdr = readJpeg2000Header(image);
        expect(hdr).toMatchObject({ container, width: w, height: h, components: channels, subsampled: false });
        const face = extractFace(buildDg2(image, w, h, 'jpeg2000'));
        expect(face.format).toBe('jpeg2000');
        const { jpeg, width, height } = await jpeg2000ToJpeg(face.raw);
        expect([width, height]).toEqual([w, h]);
        await expectFaceOf(jpeg, w, h, channels, samples);
      });
    }
  }

  it('scales samples deeper than 8 bits (12-bit grey)', async () => {
    const w = 64, h = 80;
    const { cs, samples } = encodeJ2k(w, h, 1, 12);
    expect(readJpeg2000Header(cs).bits).toEqual([12]);
    const { jpeg } = await jpeg2000ToJpeg(toJp2(cs, w, h, 1, 12));
    await expectFaceOf(jpeg, w, h, 1, samples);
  });

  it('a JP2 file in the sYCC colour space (EnumCS 18) is shown in RGB', async () => {
    const w = 80, h = 96;
    const { cs, samples } = encodeJ2k(w, h, 3, 8, true);
    const jp2 = toJp2(cs, w, h, 3, 8, 18);
    expect(readJpeg2000Header(jp2).colourSpace).toBe(18);
    await expectFaceOf((await jpeg2000ToJpeg(jp2)).jpeg, w, h, 3, samples);
  });

  it('malformed JPEG 2000 gives CARD_BAD_DATA naming DG2, never a crash, and the codec keeps working', async () => {
    const w = 64, h = 64;
    const { cs, samples } = encodeJ2k(w, h, 1);
    const bad: Array<[Buffer, RegExp]> = [
      [Buffer.concat([Buffer.from('0000000C6A5020200D0A870A', 'hex'), Buffer.alloc(40, 3)]), /DG2: .*JP2 box/],
      [toJp2(cs, w, h, 1).subarray(0, 70), /DG2: .*(jp2c|bad length|SIZ)/],
      [cs.subarray(0, 30), /DG2: .*SIZ marker is truncated/],
      [Buffer.concat([cs.subarray(0, 60), Buffer.alloc(200, 0x55)]), /DG2: JPEG 2000 face could not be decoded/],
      [Buffer.from('FF4FFF51', 'hex'), /DG2/],
    ];
    for (const [b, re] of bad) {
      const e = await jpeg2000ToJpeg(b).then(() => undefined, (x: unknown) => x);
      expect(e, re.source).toBeInstanceOf(CardDataError);
      expect((e as CardDataError).code).toBe('CARD_BAD_DATA');
      expect((e as CardDataError).details).toEqual({ file: 'DG2' });
      expect((e as Error).message).toMatch(re);
    }
    // a good image still decodes after all that
    await expectFaceOf((await jpeg2000ToJpeg(cs)).jpeg, w, h, 1, samples);
  });

  it('refuses absurd dimensions before decoding', async () => {
    const { cs } = encodeJ2k(64, 64, 3);
    const huge = Buffer.from(cs);
    huge.writeUInt32BE(60_000, 8); // Xsiz
    huge.writeUInt32BE(50_000, 12); // Ysiz
    expect(60_000 * 50_000).toBeGreaterThan(MAX_FACE_PIXELS);
    // "not decoded" is the refusal from the header check, thrown before the codec is loaded:
    // the message itself proves nothing was decoded, whatever the machine's speed
    await expect(jpeg2000ToJpeg(huge)).rejects.toThrow(/in DG2: JPEG 2000 face is 60000×50000, larger than .* not decoded/);
    await expect(jpeg2000ToJpeg(toJp2(huge, 60_000, 50_000, 3))).rejects.toMatchObject({ code: 'CARD_BAD_DATA', details: { file: 'DG2' }, message: expect.stringMatching(/not decoded/) });
  });
});

describe('face images given to the card emulator (station card emulate --face)', () => {
  it('are sized from the image itself: JPEG through sharp, JP2 and raw codestreams from their SIZ marker', async () => {
    const { cs } = encodeJ2k(72, 90, 3);
    expect(await faceImageInfo(toJp2(cs, 72, 90, 3))).toEqual({ format: 'jpeg2000', width: 72, height: 90 });
    expect(await faceImageInfo(cs)).toEqual({ format: 'jpeg2000', width: 72, height: 90 });
    const jpeg = await sharp({ create: { width: 64, height: 80, channels: 3, background: '#808080' } }).jpeg().toBuffer();
    expect(await faceImageInfo(jpeg)).toEqual({ format: 'jpeg', width: 64, height: 80 });
  });

  it('anything else is a usage error naming the file (exit 2), before a card is emulated', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'face-'));
    try {
      const txt = join(dir, 'face.txt');
      writeFileSync(txt, 'not an image');
      const bad = await runCardCli(['card', 'emulate', '--port', '1', '--face', txt]);
      expect(bad.code).toBe(2);
      expect(bad.err).toContain(`--face ${txt}: not a readable JPEG or JPEG 2000 image`);
      const missing = await runCardCli(['card', 'emulate', '--port', '1', '--face', join(dir, 'nope.jp2')]);
      expect(missing.code).toBe(2);
      expect(missing.err).toContain('cannot read the file (ENOENT)');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('JPEG 2000 face through the simulated reader', () => {
  it('readDocument returns a display JPEG for a JP2 face, the raw bytes, and a valid verdict', async () => {
    const w = 90, h = 112;
    const { cs, samples } = encodeJ2k(w, h, 3);
    const jp2 = toJp2(cs, w, h, 3);
    const r = createCardReader({ mode: 'simulated', face: { image: jp2, width: w, height: h, format: 'jpeg2000' } });
    await r.open();
    try {
      const contents = await (r as SimulatedCardReader).document();
      const res = await r.readDocument({ bac: bacInputFromMrz(contents.mrzLines.join('\n')), csca: cscaStoreFrom([contents.pki.csca.cert]) });
      expect(res.face).toMatchObject({ format: 'jpeg2000', width: w, height: h });
      expect(res.face!.raw.equals(jp2)).toBe(true);
      expect(res.face!.note).toBeUndefined();
      expect(res.faceJpeg).toBeDefined();
      await expectFaceOf(res.faceJpeg!, w, h, 3, samples);
      expect(res.passiveAuth.verdict).toBe('valid');
    } finally {
      await r.close();
    }
  });

  it('a malformed JPEG 2000 face leaves the rest of the read intact, with a note naming DG2', async () => {
    const { cs } = encodeJ2k(64, 64, 1);
    const broken = Buffer.concat([cs.subarray(0, 60), Buffer.alloc(300, 0x55)]);
    const doc = await buildDocument({ face: { image: broken, width: 64, height: 64, format: 'jpeg2000' } });
    const r = new SimulatedCardReader({ contents: doc });
    await r.open();
    try {
      const res = await r.readDocument({ bac: bacInputFromMrz(doc.mrzLines.join('\n')), csca: cscaStoreFrom([doc.pki.csca.cert]) });
      expect(res.faceJpeg).toBeUndefined();
      expect(res.face!.raw.equals(broken)).toBe(true);
      expect(res.face!.errorCode).toBe('CARD_BAD_DATA');
      expect(res.face!.note).toMatch(/malformed data in DG2: JPEG 2000 face could not be decoded .*raw bytes kept/);
      expect(res.mrz.documentNumber).toBe(doc.mrzLines[0]!.slice(5, 14).replace(/<+$/, ''));
      expect(res.passiveAuth.verdict).toBe('valid');
    } finally {
      await r.close();
    }
  });
});
