/**
 * DG2 (encoded face): 75 → 7F61 → 7F60 → 5F2E/7F2E biometric data block holding
 * an ISO/IEC 19794-5 facial record, whose image is JPEG or JPEG 2000.
 */
import { CardDataError, expectTlv, readAll, tlv, type Tlv } from './tlv';

export type FaceFormat = 'jpeg' | 'jpeg2000' | 'unknown';

export interface FaceImage {
  format: FaceFormat;
  /** The image exactly as stored on the chip. */
  raw: Buffer;
  width?: number;
  height?: number;
}

const F = 'DG2';

function findDeep(list: Tlv[], tags: number[]): Tlv | undefined {
  for (const t of list) {
    if (tags.includes(t.tag)) return t;
    if (t.constructed && t.value.length) {
      const inner = findDeep(readAll(t.value, F), tags);
      if (inner) return inner;
    }
  }
  return undefined;
}

function sniff(b: Buffer): FaceFormat {
  if (b.length > 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'jpeg';
  if (b.length > 12 && b.readUInt32BE(0) === 12 && b.subarray(4, 8).toString('latin1') === 'jP  ') return 'jpeg2000';
  if (b.length > 4 && b[0] === 0xff && b[1] === 0x4f && b[2] === 0xff && b[3] === 0x51) return 'jpeg2000';
  return 'unknown';
}

/** Extracts the first face image from DG2. Throws CardDataError('DG2') when the structure is wrong. */
export function extractFace(dg2: Buffer): FaceImage {
  const outer = expectTlv(dg2, 0x75, F);
  const bdb = findDeep(readAll(outer.value, F), [0x5f2e, 0x7f2e]);
  if (!bdb) throw new CardDataError(F, 'no biometric data block (5F2E/7F2E) found');
  const b = bdb.value;
  if (b.length < 14 || b.subarray(0, 4).toString('latin1') !== 'FAC\0') throw new CardDataError(F, 'biometric data block is not an ISO 19794-5 face record');
  // General header: 'FAC\0' (4) version (4) record length (4) number of faces (2) = 14
  let p = 14;
  if (b.length < p + 20) throw new CardDataError(F, 'facial record header is truncated');
  const faceLen = b.readUInt32BE(p);
  const featurePoints = b.readUInt16BE(p + 4);
  p += 20 + featurePoints * 8;
  if (b.length < p + 12) throw new CardDataError(F, 'image information is truncated');
  const dataType = b[p + 1]!;
  const width = b.readUInt16BE(p + 2);
  const height = b.readUInt16BE(p + 4);
  p += 12;
  const end = Math.min(b.length, 14 + faceLen);
  if (end <= p) throw new CardDataError(F, 'face record holds no image data');
  const raw = Buffer.from(b.subarray(p, end));
  let format = sniff(raw);
  if (format === 'unknown') format = dataType === 0 ? 'jpeg' : dataType === 1 ? 'jpeg2000' : 'unknown';
  return { format, raw, width, height };
}

/** Builds a DG2 around one face image (used by the emulator and tests). */
export function buildDg2(image: Buffer, width: number, height: number, format: 'jpeg' | 'jpeg2000' = 'jpeg'): Buffer {
  const faceInfo = Buffer.alloc(20); // no feature points, everything unspecified
  const imageInfo = Buffer.alloc(12);
  imageInfo[0] = 1; // full frontal
  imageInfo[1] = format === 'jpeg' ? 0 : 1;
  imageInfo.writeUInt16BE(width, 2);
  imageInfo.writeUInt16BE(height, 4);
  const faceRecord = Buffer.concat([faceInfo, imageInfo, image]);
  faceRecord.writeUInt32BE(faceRecord.length, 0);
  const header = Buffer.alloc(14);
  header.write('FAC\0', 0, 'latin1');
  header.write('010\0', 4, 'latin1');
  header.writeUInt32BE(14 + faceRecord.length, 8);
  header.writeUInt16BE(1, 12);
  const bdb = Buffer.concat([header, faceRecord]);
  const bht = tlv(0xa1, tlv(0x80, Buffer.from([1, 1])), tlv(0x87, Buffer.from([1, 1])), tlv(0x88, Buffer.from([0, 8])));
  const bit = tlv(0x7f60, bht, tlv(0x5f2e, bdb));
  return tlv(0x75, tlv(0x7f61, tlv(0x02, Buffer.from([1])), bit));
}

// ---------------------------------------------------------------------------
// JPEG 2000 → display JPEG. The libvips inside the prebuilt sharp has no JPEG 2000
// decoder, so the codestream is decoded by OpenJPEG compiled to WebAssembly
// (@cornerstonejs/codec-openjpeg), entirely in memory, and the pixels are handed to
// sharp as raw samples. The codec is loaded on first use only.

/** Largest face accepted for decoding: ICAO faces are well under a megapixel. */
export const MAX_FACE_SIDE = 4096;
export const MAX_FACE_PIXELS = 4_000_000;

export interface Jpeg2000Header {
  container: 'jp2' | 'j2k';
  width: number;
  height: number;
  components: number;
  /** Bit depth of each component (1..38 by the standard; we decode 1..16). */
  bits: number[];
  signed: boolean[];
  /** True when some component is subsampled (XRsiz/YRsiz ≠ 1). */
  subsampled: boolean;
  /** JP2 enumerated colour space from the 'colr' box (16 sRGB, 17 grey, 18 sYCC), when given. OpenJPEG turns sYCC into RGB itself. */
  colourSpace?: number;
}

/** The EnumCS of the first 'colr' box (method 1) inside a 'jp2h' super-box. */
function enumeratedColourSpace(jp2h: Buffer): number | undefined {
  let p = 0;
  while (p + 8 <= jp2h.length) {
    const len = jp2h.readUInt32BE(p);
    if (len < 8 || p + len > jp2h.length) return undefined;
    if (jp2h.subarray(p + 4, p + 8).toString('latin1') === 'colr') {
      return len >= 15 && jp2h[p + 8] === 1 ? jp2h.readUInt32BE(p + 11) : undefined;
    }
    p += len;
  }
  return undefined;
}

/** Finds the codestream inside a JP2 file (box 'jp2c') or returns the buffer itself for a raw J2K codestream. */
function codestreamOf(b: Buffer): { container: 'jp2' | 'j2k'; cs: Buffer; colourSpace?: number } {
  if (b.length >= 4 && b[0] === 0xff && b[1] === 0x4f && b[2] === 0xff && b[3] === 0x51) return { container: 'j2k', cs: b };
  if (!(b.length >= 12 && b.readUInt32BE(0) === 12 && b.subarray(4, 8).toString('latin1') === 'jP  ')) {
    throw new CardDataError(F, 'face image is neither a JP2 file nor a JPEG 2000 codestream');
  }
  let p = 0;
  let colourSpace: number | undefined;
  while (p + 8 <= b.length) {
    let len = b.readUInt32BE(p);
    const tb = b.subarray(p + 4, p + 8);
    const type = /^[\x20-\x7e]{4}$/.test(tb.toString('latin1')) ? tb.toString('latin1') : `0x${tb.toString('hex')}`;
    let head = 8;
    if (len === 1) {
      if (p + 16 > b.length) break;
      const big = b.readBigUInt64BE(p + 8);
      if (big > BigInt(b.length)) throw new CardDataError(F, `JP2 box '${type}' is longer than the image`);
      len = Number(big);
      head = 16;
    } else if (len === 0) len = b.length - p;
    if (len < head || p + len > b.length) throw new CardDataError(F, `JP2 box '${type}' at byte ${p} has a bad length`);
    if (type === 'jp2c') return { container: 'jp2', cs: b.subarray(p + head, p + len), ...(colourSpace !== undefined ? { colourSpace } : {}) };
    if (type === 'jp2h') colourSpace = enumeratedColourSpace(b.subarray(p + head, p + len));
    p += len;
  }
  throw new CardDataError(F, 'JP2 file holds no codestream (jp2c box)');
}

/** Reads the image size and sample format from the SIZ marker, without decoding anything. */
export function readJpeg2000Header(image: Buffer): Jpeg2000Header {
  const { container, cs, colourSpace } = codestreamOf(image);
  if (cs.length < 4 || cs.readUInt16BE(0) !== 0xff4f || cs.readUInt16BE(2) !== 0xff51) {
    throw new CardDataError(F, 'JPEG 2000 codestream does not start with SOC and SIZ markers');
  }
  if (cs.length < 42) throw new CardDataError(F, 'JPEG 2000 SIZ marker is truncated');
  const lsiz = cs.readUInt16BE(4);
  const xsiz = cs.readUInt32BE(8), ysiz = cs.readUInt32BE(12), xo = cs.readUInt32BE(16), yo = cs.readUInt32BE(20);
  const csiz = cs.readUInt16BE(40);
  if (csiz < 1 || csiz > 16384 || lsiz !== 38 + 3 * csiz || cs.length < 4 + lsiz) throw new CardDataError(F, 'JPEG 2000 SIZ marker is inconsistent');
  if (xsiz <= xo || ysiz <= yo) throw new CardDataError(F, 'JPEG 2000 image has no area');
  const bits: number[] = [], signed: boolean[] = [];
  let subsampled = false;
  for (let i = 0; i < csiz; i++) {
    const s = cs[42 + 3 * i]!;
    bits.push((s & 0x7f) + 1);
    signed.push((s & 0x80) !== 0);
    if (cs[43 + 3 * i] !== 1 || cs[44 + 3 * i] !== 1) subsampled = true;
  }
  return { container, width: xsiz - xo, height: ysiz - yo, components: csiz, bits, signed, subsampled, ...(colourSpace !== undefined ? { colourSpace } : {}) };
}

interface FrameInfo { width: number; height: number; bitsPerSample: number; componentCount: number; isSigned: boolean }
interface J2kDecoder {
  getEncodedBuffer(length: number): Uint8Array;
  decode(): void;
  getFrameInfo(): FrameInfo;
  getDecodedBuffer(): Uint8Array;
  delete(): void;
}
interface OpenJpegModule { J2KDecoder: new () => J2kDecoder }
type OpenJpegFactory = (arg: { print: (s: string) => void; printErr: (s: string) => void }) => Promise<OpenJpegModule>;

/** Codec messages of the decode in progress (OpenJPEG prints its errors instead of returning them). */
let codecMessages: string[] = [];
let codec: Promise<OpenJpegModule> | undefined;

function loadCodec(): Promise<OpenJpegModule> {
  if (!codec) {
    const keep = (s: string): void => { if (/\[(ERROR|WARNING)\]/.test(s) && codecMessages.length < 20) codecMessages.push(s.replace(/^\[\w+\]\s*/, '').trim()); };
    codec = Promise.resolve().then(() => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- the codec has no typings; loaded only when a JPEG 2000 face is met
      const factory = require('@cornerstonejs/codec-openjpeg/wasmjs') as OpenJpegFactory;
      return factory({ print: keep, printErr: keep });
    });
    codec.catch(() => { codec = undefined; });
  }
  return codec;
}

/** Interleaved 8-bit samples (1 or 3 channels) from the decoder's output. */
function toEightBit(out: Uint8Array, fi: FrameInfo, hdr: Jpeg2000Header): { pixels: Buffer; channels: 1 | 3 } {
  const { width, height, componentCount: c, bitsPerSample: bits, isSigned } = fi;
  const n = width * height;
  const bytes = bits > 8 ? 2 : 1;
  if (out.length !== n * c * bytes) throw new CardDataError(F, `JPEG 2000 decoder returned ${out.length} bytes for ${width}×${height}×${c} samples${hdr.subsampled ? ' (subsampled components are not supported)' : ''}`);
  const channels: 1 | 3 = c >= 3 ? 3 : 1;
  const pixels = Buffer.alloc(n * channels);
  const max = 2 ** bits - 1;
  const offset = isSigned ? 2 ** (bits - 1) : 0;
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < channels; k++) {
      const at = (i * c + k) * bytes;
      let v = bytes === 2 ? (isSigned ? view.getInt16(at, true) : view.getUint16(at, true)) : isSigned ? view.getInt8(at) : out[at]!;
      v += offset;
      pixels[i * channels + k] = bits === 8 ? v : Math.round((Math.min(Math.max(v, 0), max) * 255) / max);
    }
  }
  return { pixels, channels };
}

/**
 * Decodes a JPEG 2000 face (JP2 file or raw J2K codestream) and re-encodes it as a JPEG
 * for display. Never touches the disk. Throws CardDataError('DG2') when the image is
 * malformed, too large, or in a sample layout we cannot display.
 */
export async function jpeg2000ToJpeg(image: Buffer, quality = 90): Promise<{ jpeg: Buffer; width: number; height: number }> {
  const hdr = readJpeg2000Header(image);
  if (hdr.width > MAX_FACE_SIDE || hdr.height > MAX_FACE_SIDE || hdr.width * hdr.height > MAX_FACE_PIXELS) {
    throw new CardDataError(F, `JPEG 2000 face is ${hdr.width}×${hdr.height}, larger than the ${MAX_FACE_SIDE}×${MAX_FACE_SIDE} / ${MAX_FACE_PIXELS} pixel limit; not decoded`);
  }
  if (hdr.components > 4) throw new CardDataError(F, `JPEG 2000 face has ${hdr.components} components; at most 4 are displayed`);
  if (hdr.bits.some((b) => b > 16)) throw new CardDataError(F, `JPEG 2000 face has ${Math.max(...hdr.bits)}-bit samples; at most 16 are supported`);
  if (hdr.bits.some((b) => b !== hdr.bits[0]) || hdr.signed.some((s) => s !== hdr.signed[0])) throw new CardDataError(F, 'JPEG 2000 face components differ in bit depth; not supported');
  if (hdr.subsampled) throw new CardDataError(F, 'JPEG 2000 face has subsampled components; not supported for display');

  const mod = await loadCodec();
  codecMessages = [];
  let dec: J2kDecoder | undefined;
  let fi: FrameInfo;
  let decoded: Uint8Array;
  let input: Uint8Array | undefined;
  try {
    dec = new mod.J2KDecoder();
    input = dec.getEncodedBuffer(image.length);
    input.set(image);
    dec.decode();
    fi = dec.getFrameInfo();
    // copy out of the WebAssembly heap, then wipe the heap copy (it is a face)
    const heapOut = fi.width > 0 ? dec.getDecodedBuffer() : new Uint8Array(0);
    decoded = new Uint8Array(heapOut);
    heapOut.fill(0);
  } catch (e) {
    // an exception thrown inside the codec may leave its heap in an unknown state: start afresh next time
    codec = undefined;
    const why = codecMessages.join('; ') || (e instanceof Error ? e.message : `codec exception ${String(e)}`);
    throw new CardDataError(F, `JPEG 2000 face could not be decoded (${why})`, e);
  } finally {
    try { input?.fill(0); dec?.delete(); } catch { codec = undefined; }
  }
  if (!fi.width || !fi.height || !fi.componentCount) {
    throw new CardDataError(F, `JPEG 2000 face could not be decoded (${codecMessages.join('; ') || 'the decoder produced no image'})`);
  }
  if (fi.width !== hdr.width || fi.height !== hdr.height) throw new CardDataError(F, `JPEG 2000 decoder returned ${fi.width}×${fi.height}, header says ${hdr.width}×${hdr.height}`);
  const { pixels, channels } = toEightBit(decoded, fi, hdr);
  decoded.fill(0);
  const sharp = (await import('sharp')).default;
  try {
    const jpeg = await sharp(pixels, { raw: { width: fi.width, height: fi.height, channels } }).jpeg({ quality }).toBuffer();
    return { jpeg, width: fi.width, height: fi.height };
  } finally {
    pixels.fill(0);
  }
}

/**
 * Format and size of a face image for DG2 (the emulator's `--face`): JPEG through sharp, JPEG 2000
 * from its SIZ marker (nothing decoded). Throws CardDataError when it is neither, or has no size.
 */
export async function faceImageInfo(image: Buffer): Promise<{ format: 'jpeg' | 'jpeg2000'; width: number; height: number }> {
  if (image.length >= 2 && image[0] === 0xff && image[1] === 0xd8) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- sharp only when a JPEG face is given
    const sharp = require('sharp') as typeof import('sharp');
    let md: { width?: number; height?: number };
    try {
      md = await sharp(image).metadata();
    } catch (e) {
      throw new CardDataError(F, `JPEG face image is unreadable (${(e as Error).message})`);
    }
    if (!md.width || !md.height) throw new CardDataError(F, 'JPEG face image has no size');
    return { format: 'jpeg', width: md.width, height: md.height };
  }
  const h = readJpeg2000Header(image);
  return { format: 'jpeg2000', width: h.width, height: h.height };
}
