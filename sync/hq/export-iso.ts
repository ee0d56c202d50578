/**
 * Standard biometric records for an AFIS/ABIS (docs/export.md): ISO/IEC 19794-4:2011 finger image
 * records, ISO/IEC 19794-5:2011 face image records, each wrapped as a CBEFF Biometric Data Block
 * in the ISO/IEC 7816-11 / ICAO 9303-10 patron format (Biometric Information Group Template 7F61
 * of Biometric Information Templates 7F60, as eMRTD data groups 2 and 3 carry them), with the
 * enrollment's metadata in the Biometric Header Template. Encoders and the decoders that read every
 * field back. All multi-byte fields are big-endian.
 */

// ───────────────────────── BER-TLV (just what the patron format needs) ─────────────────────────

export interface Tlv { tag: number; value: Buffer; children?: Tlv[] }

function tagBytes(tag: number): Buffer {
  const out: number[] = [];
  for (let t = tag; t > 0; t >>>= 8) out.unshift(t & 0xff);
  return Buffer.from(out.length ? out : [0]);
}
function lenBytes(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const b: number[] = [];
  for (let x = n; x > 0; x >>>= 8) b.unshift(x & 0xff);
  return Buffer.from([0x80 | b.length, ...b]);
}
export function tlv(tag: number, value: Buffer | Buffer[]): Buffer {
  const v = Array.isArray(value) ? Buffer.concat(value) : value;
  return Buffer.concat([tagBytes(tag), lenBytes(v.length), v]);
}
const CONSTRUCTED = new Set([0x7f61, 0x7f60, 0xa1]);

/** Parses a sequence of TLVs; throws ExportFormatError on anything malformed. */
export function parseTlv(buf: Buffer, at = 'record'): Tlv[] {
  const out: Tlv[] = [];
  let i = 0;
  while (i < buf.length) {
    let tag = buf[i++]!;
    if ((tag & 0x1f) === 0x1f) {
      do {
        if (i >= buf.length) throw new ExportFormatError(`${at}: tag runs past the end`);
        tag = (tag << 8) | buf[i]!;
      } while (buf[i++]! & 0x80);
    }
    if (i >= buf.length) throw new ExportFormatError(`${at}: tag 0x${tag.toString(16)} has no length`);
    let len = buf[i++]!;
    if (len & 0x80) {
      const n = len & 0x7f;
      if (n === 0 || n > 4 || i + n > buf.length) throw new ExportFormatError(`${at}: bad length field of tag 0x${tag.toString(16)}`);
      len = 0;
      for (let k = 0; k < n; k++) len = len * 256 + buf[i++]!;
    }
    if (i + len > buf.length) throw new ExportFormatError(`${at}: tag 0x${tag.toString(16)} claims ${len} bytes, ${buf.length - i} left`);
    const value = buf.subarray(i, i + len);
    i += len;
    out.push(CONSTRUCTED.has(tag) ? { tag, value, children: parseTlv(value, `${at}/${tag.toString(16)}`) } : { tag, value });
  }
  return out;
}

export class ExportFormatError extends Error {
  constructor(message: string) { super(message); this.name = 'ExportFormatError'; }
}

// ───────────────────────── shared fields ─────────────────────────

/** ISO/IEC 19794-1:2011 capture date and time, 9 bytes: year 2, month, day, hour, minute, second, millisecond 2 (UTC). */
export function dateTime9(ms: number): Buffer {
  const d = new Date(ms);
  const b = Buffer.alloc(9);
  b.writeUInt16BE(d.getUTCFullYear(), 0);
  b[2] = d.getUTCMonth() + 1; b[3] = d.getUTCDate(); b[4] = d.getUTCHours(); b[5] = d.getUTCMinutes(); b[6] = d.getUTCSeconds();
  b.writeUInt16BE(d.getUTCMilliseconds(), 7);
  return b;
}
export function readDateTime9(b: Buffer, o: number): number {
  return Date.UTC(b.readUInt16BE(o), b[o + 2]! - 1, b[o + 3]!, b[o + 4]!, b[o + 5]!, b[o + 6]!, b.readUInt16BE(o + 7));
}

export interface QualityBlock { score: number; vendor: number; algorithm: number }

// ───────────────────────── ISO/IEC 19794-4:2011 finger image ─────────────────────────

export const FIR = { format: 0x46495200 /* "FIR\0" */, version: 0x30323000 /* "020\0" */ } as const;
/** Image compression algorithm codes (19794-4:2011, representation header). */
export const FINGER_COMPRESSION = { uncompressed: 0, bitPacked: 1, wsq: 2, jpeg: 3, jpeg2000Lossy: 4, jpeg2000Lossless: 5, png: 6 } as const;

export interface FingerRepresentation {
  capturedAt: number;
  /** Capture device technology (0 unknown … 3 optical TIR bright field…); vendor and type ids (0 = not reported). */
  deviceTechnology: number;
  deviceVendor: number;
  deviceType: number;
  quality: QualityBlock[];
  /** Finger position code 1–10 (right thumb … left little). */
  position: number;
  representationNumber: number;
  /** 1 = pixels per inch, 2 = pixels per centimetre. */
  scaleUnits: number;
  captureResolution: { h: number; v: number };
  imageResolution: { h: number; v: number };
  bitDepth: number;
  compression: number;
  /** 0 live-scan plain, 1 live-scan rolled … */
  impression: number;
  width: number;
  height: number;
  image: Buffer;
}

export function encodeFingerRecord(reps: FingerRepresentation[]): Buffer {
  const bodies = reps.map((r) => {
    const q = Buffer.concat(r.quality.map((x) => { const b = Buffer.alloc(5); b[0] = x.score; b.writeUInt16BE(x.vendor, 1); b.writeUInt16BE(x.algorithm, 3); return b; }));
    const head = Buffer.alloc(4 + 9 + 5 + 1);
    dateTime9(r.capturedAt).copy(head, 4);
    head[13] = r.deviceTechnology; head.writeUInt16BE(r.deviceVendor, 14); head.writeUInt16BE(r.deviceType, 16);
    head[18] = r.quality.length;
    // certification flag 0 in the general header: no certification block count here
    const tail = Buffer.alloc(18 + 4);
    tail[0] = r.position; tail[1] = r.representationNumber; tail[2] = r.scaleUnits;
    tail.writeUInt16BE(r.captureResolution.h, 3); tail.writeUInt16BE(r.captureResolution.v, 5);
    tail.writeUInt16BE(r.imageResolution.h, 7); tail.writeUInt16BE(r.imageResolution.v, 9);
    tail[11] = r.bitDepth; tail[12] = r.compression; tail[13] = r.impression;
    tail.writeUInt16BE(r.width, 14); tail.writeUInt16BE(r.height, 16);
    tail.writeUInt32BE(r.image.length, 18);
    const rep = Buffer.concat([head, q, tail, r.image]);
    rep.writeUInt32BE(rep.length, 0);
    return rep;
  });
  const gh = Buffer.alloc(16);
  gh.writeUInt32BE(FIR.format, 0); gh.writeUInt32BE(FIR.version, 4);
  gh.writeUInt32BE(16 + bodies.reduce((s, b) => s + b.length, 0), 8);
  gh.writeUInt16BE(reps.length, 12);
  gh[14] = 0; // certification flag
  gh[15] = new Set(reps.map((r) => r.position)).size; // number of distinct finger positions
  return Buffer.concat([gh, ...bodies]);
}

export function decodeFingerRecord(b: Buffer): { distinctPositions: number; representations: FingerRepresentation[] } {
  if (b.length < 16) throw new ExportFormatError(`finger record of ${b.length} bytes is shorter than its 16-byte general header`);
  if (b.readUInt32BE(0) !== FIR.format) throw new ExportFormatError('finger record does not start with "FIR\\0"');
  if (b.readUInt32BE(4) !== FIR.version) throw new ExportFormatError(`finger record version 0x${b.readUInt32BE(4).toString(16)} is not "020\\0" (19794-4:2011)`);
  if (b.readUInt32BE(8) !== b.length) throw new ExportFormatError(`finger record length field ${b.readUInt32BE(8)} ≠ ${b.length} bytes`);
  const n = b.readUInt16BE(12);
  if (b[14] !== 0) throw new ExportFormatError('certification flag set, but this exporter writes no certification blocks');
  const reps: FingerRepresentation[] = [];
  let o = 16;
  for (let i = 0; i < n; i++) {
    const len = b.readUInt32BE(o);
    if (len < 40 || o + len > b.length) throw new ExportFormatError(`finger representation ${i + 1}: length ${len} does not fit`);
    const capturedAt = readDateTime9(b, o + 4);
    const nq = b[o + 18]!;
    const quality: QualityBlock[] = [];
    let p = o + 19;
    for (let k = 0; k < nq; k++, p += 5) quality.push({ score: b[p]!, vendor: b.readUInt16BE(p + 1), algorithm: b.readUInt16BE(p + 3) });
    const imgLen = b.readUInt32BE(p + 18);
    if (p + 22 + imgLen !== o + len) throw new ExportFormatError(`finger representation ${i + 1}: image data length ${imgLen} does not match the representation length`);
    reps.push({
      capturedAt, deviceTechnology: b[o + 13]!, deviceVendor: b.readUInt16BE(o + 14), deviceType: b.readUInt16BE(o + 16), quality,
      position: b[p]!, representationNumber: b[p + 1]!, scaleUnits: b[p + 2]!,
      captureResolution: { h: b.readUInt16BE(p + 3), v: b.readUInt16BE(p + 5) }, imageResolution: { h: b.readUInt16BE(p + 7), v: b.readUInt16BE(p + 9) },
      bitDepth: b[p + 11]!, compression: b[p + 12]!, impression: b[p + 13]!, width: b.readUInt16BE(p + 14), height: b.readUInt16BE(p + 16),
      image: Buffer.from(b.subarray(p + 22, p + 22 + imgLen)),
    });
    o += len;
  }
  if (o !== b.length) throw new ExportFormatError(`${b.length - o} bytes after the last finger representation`);
  return { distinctPositions: b[15]!, representations: reps };
}

// ───────────────────────── ISO/IEC 19794-5:2011 face image ─────────────────────────

export const FAC = { format: 0x46414300 /* "FAC\0" */, version: 0x30333000 /* "030\0" */ } as const;
/** Face image type (19794-5:2011): 0 basic, 1 full frontal, 2 token frontal. Image data type: 0 JPEG, 1 JPEG 2000 lossy, 2 JPEG 2000 lossless, 3 PNG. */
export const FACE_IMAGE_TYPE = { basic: 0, fullFrontal: 1, tokenFrontal: 2 } as const;

export interface FaceLandmark { type: number; code: number; x: number; y: number; z: number }
export interface FaceRepresentation {
  capturedAt: number;
  deviceTechnology: number;
  deviceVendor: number;
  deviceType: number;
  quality: QualityBlock[];
  landmarks: FaceLandmark[];
  /** 0 unspecified, 1 male, 2 female, 3 unknown. */
  gender: number;
  eyeColour: number;
  hairColour: number;
  subjectHeight: number;
  featureMask: number;
  expression: number;
  /** Yaw, pitch, roll and their uncertainties, encoded as the standard says (0 = unspecified). */
  pose: [number, number, number];
  poseUncertainty: [number, number, number];
  faceImageType: number;
  imageDataType: number;
  width: number;
  height: number;
  spatialSamplingRateLevel: number;
  postAcquisition: number;
  crossReference: number;
  colourSpace: number;
  image: Buffer;
}

export function encodeFaceRecord(reps: FaceRepresentation[]): Buffer {
  const bodies = reps.map((r) => {
    const head = Buffer.alloc(4 + 9 + 5 + 1);
    dateTime9(r.capturedAt).copy(head, 4);
    head[13] = r.deviceTechnology; head.writeUInt16BE(r.deviceVendor, 14); head.writeUInt16BE(r.deviceType, 16);
    head[18] = r.quality.length;
    const q = Buffer.concat(r.quality.map((x) => { const b = Buffer.alloc(5); b[0] = x.score; b.writeUInt16BE(x.vendor, 1); b.writeUInt16BE(x.algorithm, 3); return b; }));
    const fi = Buffer.alloc(17);
    fi.writeUInt16BE(r.landmarks.length, 0);
    fi[2] = r.gender; fi[3] = r.eyeColour; fi[4] = r.hairColour; fi[5] = r.subjectHeight;
    fi[6] = (r.featureMask >> 16) & 0xff; fi.writeUInt16BE(r.featureMask & 0xffff, 7);
    fi.writeUInt16BE(r.expression, 9);
    fi[11] = r.pose[0]; fi[12] = r.pose[1]; fi[13] = r.pose[2];
    fi[14] = r.poseUncertainty[0]; fi[15] = r.poseUncertainty[1]; fi[16] = r.poseUncertainty[2];
    const lm = Buffer.concat(r.landmarks.map((l) => { const b = Buffer.alloc(8); b[0] = l.type; b[1] = l.code; b.writeUInt16BE(l.x, 2); b.writeUInt16BE(l.y, 4); b.writeUInt16BE(l.z, 6); return b; }));
    const ii = Buffer.alloc(11 + 4);
    ii[0] = r.faceImageType; ii[1] = r.imageDataType; ii.writeUInt16BE(r.width, 2); ii.writeUInt16BE(r.height, 4);
    ii[6] = r.spatialSamplingRateLevel; ii.writeUInt16BE(r.postAcquisition, 7); ii[9] = r.crossReference; ii[10] = r.colourSpace;
    ii.writeUInt32BE(r.image.length, 11);
    const rep = Buffer.concat([head, q, fi, lm, ii, r.image]);
    rep.writeUInt32BE(rep.length, 0);
    return rep;
  });
  const gh = Buffer.alloc(17);
  gh.writeUInt32BE(FAC.format, 0); gh.writeUInt32BE(FAC.version, 4);
  gh.writeUInt32BE(17 + bodies.reduce((s, b) => s + b.length, 0), 8);
  gh.writeUInt16BE(reps.length, 12);
  gh[14] = 0; // certification flag
  gh.writeUInt16BE(0, 15); // temporal semantics: one image, no sequence
  return Buffer.concat([gh, ...bodies]);
}

export function decodeFaceRecord(b: Buffer): { temporalSemantics: number; representations: FaceRepresentation[] } {
  if (b.length < 17) throw new ExportFormatError(`face record of ${b.length} bytes is shorter than its 17-byte general header`);
  if (b.readUInt32BE(0) !== FAC.format) throw new ExportFormatError('face record does not start with "FAC\\0"');
  if (b.readUInt32BE(4) !== FAC.version) throw new ExportFormatError(`face record version 0x${b.readUInt32BE(4).toString(16)} is not "030\\0" (19794-5:2011)`);
  if (b.readUInt32BE(8) !== b.length) throw new ExportFormatError(`face record length field ${b.readUInt32BE(8)} ≠ ${b.length} bytes`);
  const n = b.readUInt16BE(12);
  const reps: FaceRepresentation[] = [];
  let o = 17;
  for (let i = 0; i < n; i++) {
    const len = b.readUInt32BE(o);
    if (len < 51 || o + len > b.length) throw new ExportFormatError(`face representation ${i + 1}: length ${len} does not fit`);
    const nq = b[o + 18]!;
    const quality: QualityBlock[] = [];
    let p = o + 19;
    for (let k = 0; k < nq; k++, p += 5) quality.push({ score: b[p]!, vendor: b.readUInt16BE(p + 1), algorithm: b.readUInt16BE(p + 3) });
    const nl = b.readUInt16BE(p);
    const f = p;
    p += 17;
    const landmarks: FaceLandmark[] = [];
    for (let k = 0; k < nl; k++, p += 8) landmarks.push({ type: b[p]!, code: b[p + 1]!, x: b.readUInt16BE(p + 2), y: b.readUInt16BE(p + 4), z: b.readUInt16BE(p + 6) });
    const imgLen = b.readUInt32BE(p + 11);
    if (p + 15 + imgLen !== o + len) throw new ExportFormatError(`face representation ${i + 1}: image data length ${imgLen} does not match the representation length`);
    reps.push({
      capturedAt: readDateTime9(b, o + 4), deviceTechnology: b[o + 13]!, deviceVendor: b.readUInt16BE(o + 14), deviceType: b.readUInt16BE(o + 16), quality, landmarks,
      gender: b[f + 2]!, eyeColour: b[f + 3]!, hairColour: b[f + 4]!, subjectHeight: b[f + 5]!, featureMask: (b[f + 6]! << 16) | b.readUInt16BE(f + 7),
      expression: b.readUInt16BE(f + 9), pose: [b[f + 11]!, b[f + 12]!, b[f + 13]!], poseUncertainty: [b[f + 14]!, b[f + 15]!, b[f + 16]!],
      faceImageType: b[p]!, imageDataType: b[p + 1]!, width: b.readUInt16BE(p + 2), height: b.readUInt16BE(p + 4), spatialSamplingRateLevel: b[p + 6]!,
      postAcquisition: b.readUInt16BE(p + 7), crossReference: b[p + 9]!, colourSpace: b[p + 10]!, image: Buffer.from(b.subarray(p + 15, p + 15 + imgLen)),
    });
    o += len;
  }
  if (o !== b.length) throw new ExportFormatError(`${b.length - o} bytes after the last face representation`);
  return { temporalSemantics: b.readUInt16BE(15), representations: reps };
}

// ───────────────────────── CBEFF (ISO/IEC 7816-11 patron format) ─────────────────────────

/** Biometric type (BHT tag 81): face 0x02, finger 0x08. */
export const BIOMETRIC_TYPE = { face: 0x02, finger: 0x08 } as const;
/** CBEFF format owner ISO/IEC JTC 1/SC 37 and its format types for finger and face image data. */
export const FORMAT = { owner: 0x0101, fingerImage: 0x0007, faceImage: 0x0008 } as const;

/** Biometric subtype of a finger position: bit 0 right, bit 1 left; bits 2–4 thumb 1, index 2, middle 3, ring 4, little 5. */
export function fingerSubtype(position: number): number {
  const side = position <= 5 ? 0x01 : 0x02;
  const finger = ((position - 1) % 5) + 1;
  return side | (finger << 2);
}

export interface BirHeader {
  type: number;
  subtype?: number;
  /** Creation time (BHT tag 83, 7 bytes BCD YYYYMMDDhhmmss, UTC). */
  createdAt: number;
  /** Creator (tag 84): the station that captured it. */
  creator: string;
  formatOwner: number;
  formatType: number;
  /** The enrollment's metadata (tag 53, discretionary data: UTF-8 JSON). */
  metadata: Record<string, unknown>;
}

function bcd(n: number, digits: number): number[] {
  const s = String(n).padStart(digits, '0');
  const out: number[] = [];
  for (let i = 0; i < s.length; i += 2) out.push((Number(s[i]) << 4) | Number(s[i + 1]));
  return out;
}
function fromBcd(b: Buffer): string {
  return [...b].map((x) => `${x >> 4}${x & 15}`).join('');
}

export function encodeBir(h: BirHeader, bdb: Buffer): Buffer {
  const d = new Date(h.createdAt);
  const created = Buffer.from([...bcd(d.getUTCFullYear(), 4), ...bcd(d.getUTCMonth() + 1, 2), ...bcd(d.getUTCDate(), 2), ...bcd(d.getUTCHours(), 2), ...bcd(d.getUTCMinutes(), 2), ...bcd(d.getUTCSeconds(), 2)]);
  const u16 = (v: number): Buffer => { const b = Buffer.alloc(2); b.writeUInt16BE(v); return b; };
  const bht = tlv(0xa1, [
    tlv(0x80, Buffer.from([0x01, 0x01])), // patron header version 1.1
    tlv(0x81, Buffer.from([h.type])),
    ...(h.subtype !== undefined ? [tlv(0x82, Buffer.from([h.subtype]))] : []),
    tlv(0x83, created),
    tlv(0x84, Buffer.from(h.creator, 'utf8')),
    tlv(0x87, u16(h.formatOwner)),
    tlv(0x88, u16(h.formatType)),
    tlv(0x53, Buffer.from(JSON.stringify(h.metadata), 'utf8')),
  ]);
  return tlv(0x7f60, [bht, tlv(0x5f2e, bdb)]);
}

/** Biometric Information Group Template: the number of BITs (tag 02) then the BITs. */
export function encodeBirGroup(birs: Buffer[]): Buffer {
  return tlv(0x7f61, [tlv(0x02, Buffer.from([birs.length])), ...birs]);
}

export function decodeBirGroup(buf: Buffer): { header: BirHeader; bdb: Buffer }[] {
  const top = parseTlv(buf, 'CBEFF');
  if (top.length !== 1 || top[0]!.tag !== 0x7f61) throw new ExportFormatError('CBEFF file is not one Biometric Information Group Template (7F61)');
  const kids = top[0]!.children!;
  if (kids[0]?.tag !== 0x02 || kids[0].value.length !== 1) throw new ExportFormatError('7F61 does not start with the number of templates (02)');
  const bits = kids.slice(1);
  if (bits.length !== kids[0].value[0]) throw new ExportFormatError(`7F61 announces ${kids[0].value[0]} templates and holds ${bits.length}`);
  return bits.map((bit, i) => {
    if (bit.tag !== 0x7f60) throw new ExportFormatError(`template ${i + 1} is not a Biometric Information Template (7F60)`);
    const bht = bit.children!.find((c) => c.tag === 0xa1);
    const bdb = bit.children!.find((c) => c.tag === 0x5f2e);
    if (!bht || !bdb) throw new ExportFormatError(`template ${i + 1} lacks its header (A1) or data block (5F2E)`);
    const get = (t: number): Buffer | undefined => bht.children!.find((c) => c.tag === t)?.value;
    const req = (t: number): Buffer => { const v = get(t); if (!v) throw new ExportFormatError(`template ${i + 1}: header tag ${t.toString(16)} missing`); return v; };
    const c = fromBcd(req(0x83));
    return {
      header: {
        type: req(0x81)[0]!, ...(get(0x82) ? { subtype: get(0x82)![0]! } : {}),
        createdAt: Date.UTC(+c.slice(0, 4), +c.slice(4, 6) - 1, +c.slice(6, 8), +c.slice(8, 10), +c.slice(10, 12), +c.slice(12, 14)),
        creator: req(0x84).toString('utf8'), formatOwner: req(0x87).readUInt16BE(0), formatType: req(0x88).readUInt16BE(0),
        metadata: JSON.parse(req(0x53).toString('utf8')) as Record<string, unknown>,
      },
      bdb: Buffer.from(bdb.value),
    };
  });
}
