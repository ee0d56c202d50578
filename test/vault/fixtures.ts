/** Shared test fixtures: keys, records (optionally carrying marker bytes), temp dirs. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import sharp from 'sharp';
import { v7 as uuidv7 } from 'uuid';
import {
  generateHqKeys,
  loadStationSigningKey,
  parseHqPrivateKeys,
  writeHqKeys,
  writeStationKeyPair,
  type EnrollmentRecord,
  type FingerPosition,
  type HqPrivateKeys,
  type HqPrivateJson,
  type StationSigningKey,
} from '../../sync/wire';

export interface TestWorld {
  root: string;
  dataDir: string;
  hqDir: string;
  hqPublicPath: string;
  hq: HqPrivateKeys;
  hqPrivateJson: HqPrivateJson;
  station: StationSigningKey;
  cleanup: () => void;
}

/** A temp root with a provisioned station data dir and a separate HQ key dir. */
export async function makeWorld(stationId = 'ST-TEST-01'): Promise<TestWorld & { stationId: string }> {
  const root = mkdtempSync(join(tmpdir(), 'vault-test-'));
  const dataDir = join(root, 'data');
  const hqDir = join(root, 'hq');
  writeStationKeyPair(dataDir);
  const keys = await generateHqKeys('test');
  const { publicPath } = writeHqKeys(hqDir, keys);
  return {
    root,
    dataDir,
    hqDir,
    hqPublicPath: publicPath,
    hq: parseHqPrivateKeys(keys.privateJson, join(hqDir, 'hq-record-keys.json')),
    hqPrivateJson: keys.privateJson,
    station: loadStationSigningKey(dataDir),
    stationId,
    cleanup: () => rmSync(root, { recursive: true, force: true }),
  };
}

/** Random-ish grey fingerprint-like image (noise compresses poorly, like real ridges). */
export async function fingerprintPng(width = 256, height = 288, marker?: Buffer): Promise<Buffer> {
  const px = randomBytes(width * height);
  // Flatten three rows in five so the PNG lands near real fingerprint sizes (~28 KB).
  for (let y = 0; y < height; y++) if (y % 5 < 3) px.fill(px[y * width], y * width, (y + 1) * width);
  const png = await sharp(px, { raw: { width, height, channels: 1 } }).toColourspace('b-w').png().toBuffer();
  return marker ? Buffer.concat([png, marker]) : png;
}

export async function portraitJpeg(width = 480, height = 640, marker?: Buffer): Promise<Buffer> {
  // Coarse noise scaled up: a JPEG of a realistic size for a 480×640 portrait (~90 KB).
  const px = randomBytes((width / 8) * (height / 8) * 3);
  const jpeg = await sharp(px, { raw: { width: width / 8, height: height / 8, channels: 3 } }).resize(width, height, { kernel: 'cubic' }).jpeg({ quality: 85 }).toBuffer();
  return marker ? Buffer.concat([jpeg, marker]) : jpeg;
}

export interface RecordParts {
  pngs: Buffer[];
  jpeg: Buffer;
}

export async function makeParts(opts: { markers?: { png: Buffer; jpeg: Buffer }; fingers?: number } = {}): Promise<RecordParts> {
  const n = opts.fingers ?? 10;
  const pngs: Buffer[] = [];
  for (let i = 0; i < n; i++) pngs.push(await fingerprintPng(256, 288, opts.markers?.png));
  return { pngs, jpeg: await portraitJpeg(480, 640, opts.markers?.jpeg) };
}

export function makeRecord(stationId: string, parts: RecordParts, opts: { surname?: string; recordId?: string } = {}): EnrollmentRecord {
  const t = Date.now();
  return {
    recordId: opts.recordId ?? uuidv7(),
    stationId,
    officerId: 'officer-007',
    kind: 'enrollment',
    startedAt: t - 240_000,
    completedAt: t,
    details: {
      surname: opts.surname ?? 'Okonkwo',
      givenNames: 'Adaeze Chioma',
      dateOfBirth: '1991-04-17',
      sex: 'F',
      nationality: 'NGA',
      placeOfBirth: 'Enugu',
      address: '12 Market Road, Enugu',
    },
    fingerprints: parts.pngs.map((png, i) =>
      i === 9 && parts.pngs.length === 10
        ? { position: 10 as FingerPosition, status: 'captured' as const, png, width: 256, height: 288, ppi: 500, quality: 61, attempts: 3 }
        : { position: (i + 1) as FingerPosition, status: 'captured' as const, png, width: 256, height: 288, ppi: 500, quality: 70 + i, attempts: 1 },
    ),
    portrait: { jpeg: parts.jpeg, width: 480, height: 640, metrics: { sharpness: 0.82, brightness: 0.55, faceRatio: 0.41, faces: 1 } },
  };
}
