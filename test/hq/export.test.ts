/**
 * `hq export` (#22.6): sealed enrollments stored at headquarters come out as ISO/IEC 19794-4:2011
 * finger image and 19794-5:2011 face image records in CBEFF (7816-11 patron format) with the
 * enrollment's metadata, plus demographics JSON; the decoders read every field back, the images
 * are the very bytes the station captured, and each opening is logged.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { v7 as uuidv7 } from 'uuid';
import { generateHqKeys, loadHqPublicIdentity, loadStationSigningKey, sealRecord, writeHqKeys, writeStationKeyPair, type EnrollmentRecord } from '../../sync/wire';
import { HqStore, openHqDb } from '../../sync/hq/store';
import { BIOMETRIC_TYPE, FACE_IMAGE_TYPE, FINGER_COMPRESSION, FORMAT, decodeBirGroup, encodeFingerRecord, decodeFaceRecord, decodeFingerRecord, fingerSubtype } from '../../sync/hq/export-iso';
import { parseSince } from '../../sync/hq/export';
import { fingerprintPng, makeParts, makeRecord } from '../vault/fixtures';

const HQ = join(__dirname, '..', '..', 'dist', 'sync', 'hq', 'main.js');
let root: string;
let hqData: string;
let full: EnrollmentRecord;
let partial: EnrollmentRecord;
const t0 = Date.parse('2025-03-01T08:00:00Z');

function hq(args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [HQ, '--data-dir', hqData, ...args], { encoding: 'utf8', env: Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('HQ_'))) });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'hq-export-'));
  hqData = join(root, 'hq');
  const stationDir = join(root, 'station');
  const sk = writeStationKeyPair(stationDir);
  const keys = await generateHqKeys('export test');
  const { publicPath } = writeHqKeys(join(hqData, 'keys'), keys);
  const store = new HqStore(openHqDb(join(hqData, 'hq.db')));
  store.registerStation({ stationId: 'ST-EXP-1', unit: '00004', publicKey: sk.publicKeyPem });
  const parts = await makeParts({ fingers: 10 });
  full = makeRecord('ST-EXP-1', parts, { surname: 'Nguyễn' });
  const base = makeRecord('ST-EXP-1', { ...parts, pngs: parts.pngs.slice(0, 2) }, { surname: 'Trần' });
  partial = { ...base, recordId: uuidv7(), fingerprints: [base.fingerprints[0]!, { position: 2, status: 'exception', exception: 'amputated', reason: 'lost in an accident' }], portrait: undefined, details: { ...base.details, sex: 'M', extra: { portraitException: 'unable: no camera' } } };
  const hqPub = loadHqPublicIdentity(publicPath);
  const signingKey = loadStationSigningKey(stationDir);
  const ins = store.db.prepare('INSERT INTO records (station_id, record_id, sha256, envelope, size, sealed_at, received_at, batch_id, worker) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)');
  for (const [rec, at] of [[full, t0], [partial, t0 + 3_600_000]] as const) {
    const s = await sealRecord(rec, { suite: 'x25519-chacha20poly1305', hq: hqPub, signingKey });
    ins.run('ST-EXP-1', s.recordId, s.sha256, s.envelope, s.envelope.length, s.sealedAt, at, 'b1', 'w1');
  }
  store.db.close();
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('hq export', () => {
  it('writes finger and face records in CBEFF plus demographics per enrollment, readable field by field', async () => {
    const out = join(root, 'out');
    const r = hq(['export', out, '--operator', 'afis-feed']);
    expect(r.err).toContain('exported 2 enrollment(s)');
    expect(r.code).toBe(0);
    expect(readdirSync(out).sort()).toEqual([full.recordId, partial.recordId].sort());
    const d = join(out, full.recordId);
    expect(statSync(d).mode & 0o777).toBe(0o700);
    expect(statSync(join(d, 'fingers.cbeff')).mode & 0o777).toBe(0o600);

    const fingers = decodeBirGroup(readFileSync(join(d, 'fingers.cbeff')));
    expect(fingers).toHaveLength(10);
    for (const [i, b] of fingers.entries()) {
      const src = full.fingerprints[i]!;
      if (src.status !== 'captured') throw new Error('fixture');
      expect(b.header).toMatchObject({ type: BIOMETRIC_TYPE.finger, subtype: fingerSubtype(src.position), creator: 'ST-EXP-1', formatOwner: FORMAT.owner, formatType: FORMAT.fingerImage });
      expect(b.header.createdAt).toBe(Math.floor(full.completedAt / 1000) * 1000);
      expect(b.header.metadata).toMatchObject({ recordId: full.recordId, stationId: 'ST-EXP-1', officerId: 'officer-007', kind: 'enrollment', position: src.position, receivedAt: new Date(t0).toISOString() });
      const rec = decodeFingerRecord(b.bdb);
      expect(rec.distinctPositions).toBe(1);
      expect(rec.representations).toHaveLength(1);
      const rep = rec.representations[0]!;
      expect(rep).toMatchObject({
        position: src.position, representationNumber: 1, scaleUnits: 1, captureResolution: { h: 500, v: 500 }, imageResolution: { h: 500, v: 500 },
        bitDepth: 8, compression: FINGER_COMPRESSION.png, impression: 0, width: 256, height: 288, quality: [{ score: src.quality, vendor: 0, algorithm: 0 }],
      });
      expect(rep.capturedAt).toBe(full.completedAt);
      expect(rep.image.equals(src.png)).toBe(true);
    }
    // subtypes: right thumb 0x05, left little 0x16
    expect(fingers[0]!.header.subtype).toBe(0x05);
    expect(fingers[9]!.header.subtype).toBe(0x16);

    const face = decodeBirGroup(readFileSync(join(d, 'face.cbeff')));
    expect(face).toHaveLength(1);
    expect(face[0]!.header).toMatchObject({ type: BIOMETRIC_TYPE.face, formatType: FORMAT.faceImage, creator: 'ST-EXP-1' });
    expect(face[0]!.header.subtype).toBeUndefined();
    const fr = decodeFaceRecord(face[0]!.bdb);
    expect(fr.temporalSemantics).toBe(0);
    expect(fr.representations[0]).toMatchObject({ faceImageType: FACE_IMAGE_TYPE.tokenFrontal, imageDataType: 0, width: 480, height: 640, gender: 2, colourSpace: 1, landmarks: [] });
    expect(fr.representations[0]!.image.equals(full.portrait!.jpeg)).toBe(true);

    const demo = JSON.parse(readFileSync(join(d, 'demographics.json'), 'utf8')) as Record<string, unknown>;
    expect(demo).toMatchObject({ recordId: full.recordId, details: { surname: 'Nguyễn', dateOfBirth: '1991-04-17', sex: 'F' }, portrait: { status: 'captured' } });

    // the enrollment with an exception: one finger record, no face file, the exceptions in the JSON
    const p = join(out, partial.recordId);
    expect(readdirSync(p).sort()).toEqual(['demographics.json', 'fingers.cbeff']);
    expect(decodeBirGroup(readFileSync(join(p, 'fingers.cbeff'))).map((b) => decodeFingerRecord(b.bdb).representations[0]!.position)).toEqual([1]);
    const pd = JSON.parse(readFileSync(join(p, 'demographics.json'), 'utf8')) as { fingerprints: unknown[]; portrait: unknown };
    expect(pd.fingerprints[1]).toEqual({ position: 2, status: 'exception', exception: 'amputated', reason: 'lost in an accident' });
    expect(pd.portrait).toEqual({ status: 'exception', reason: 'unable: no camera' });

    // every opening is logged
    const db = openHqDb(join(hqData, 'hq.db'));
    try {
      const logged = db.prepare('SELECT record_id, operator, reason FROM record_openings ORDER BY at').all() as { record_id: string; operator: string; reason: string }[];
      expect(logged.filter((l) => l.operator === 'afis-feed').map((l) => l.record_id).sort()).toEqual([full.recordId, partial.recordId].sort());
      expect(logged[0]!.reason).toMatch(/hq export/);
    } finally { db.close(); }
  });

  it('--since selects by arrival; "-" streams JSON lines', () => {
    const r = hq(['export', '-', '--since', new Date(t0 + 60_000).toISOString()]);
    expect(r.code).toBe(0);
    const lines = r.out.trim().split('\n').map((l) => JSON.parse(l) as { recordId: string; fingers: string; face: string | null });
    expect(lines.map((l) => l.recordId)).toEqual([partial.recordId]);
    expect(lines[0]!.face).toBeNull();
    expect(decodeBirGroup(Buffer.from(lines[0]!.fingers, 'base64'))).toHaveLength(1);
  });

  it('bad input: an unreadable --since, a file as DIR, a damaged record are clear errors', () => {
    const bad = hq(['export', '-', '--since', 'yesterday-ish']);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/--since "yesterday-ish" is not a time/);
    expect(hq(['export', join(hqData, 'hq.db')]).err).toMatch(/is not a directory/);
    expect(() => decodeFingerRecord(Buffer.from('FIR\u0000010\u0000', 'latin1'))).toThrow(/shorter than its 16-byte general header/);
    expect(() => decodeBirGroup(Buffer.from([0x7f, 0x61, 0x03, 0x02, 0x01, 0x02]))).toThrow(/announces 2 templates and holds 0/);
    expect(parseSince('12h', t0)).toBe(t0 - 12 * 3_600_000);
  });

  it('the encoders are byte-exact on a known finger record header', async () => {
    const png = await fingerprintPng(16, 16);
    const b = encodeFingerRecord([{ capturedAt: Date.UTC(2025, 2, 1, 8, 0, 0, 250), deviceTechnology: 0, deviceVendor: 0, deviceType: 0, quality: [{ score: 80, vendor: 0, algorithm: 0 }], position: 2, representationNumber: 1, scaleUnits: 1, captureResolution: { h: 500, v: 500 }, imageResolution: { h: 500, v: 500 }, bitDepth: 8, compression: 6, impression: 0, width: 16, height: 16, image: png }]);
    // general header: "FIR\0" "020\0", length, 1 representation, no certification, 1 position
    expect(b.subarray(0, 8).toString('latin1')).toBe('FIR\u0000020\u0000');
    expect(b.readUInt32BE(8)).toBe(b.length);
    expect([...b.subarray(12, 16)]).toEqual([0, 1, 0, 1]);
    // representation: length, 2025-03-01 08:00:00.250, quality block, position 2 … image length
    expect(b.readUInt32BE(16)).toBe(b.length - 16);
    expect([...b.subarray(20, 29)]).toEqual([0x07, 0xe9, 3, 1, 8, 0, 0, 0x00, 0xfa]);
    expect(b[16 + 18]).toBe(1);
    expect([...b.subarray(16 + 19, 16 + 24)]).toEqual([80, 0, 0, 0, 0]);
    expect(b[16 + 24]).toBe(2);
    expect(b.readUInt32BE(16 + 24 + 18)).toBe(png.length);
  });
});
