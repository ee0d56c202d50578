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
