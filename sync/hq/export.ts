/**
 * `hq export [--since T] DIR|-` (docs/export.md): per stored enrollment, its fingerprints as an
 * ISO/IEC 19794-4:2011 finger image record and its portrait as an ISO/IEC 19794-5:2011 face image
 * record, each in a CBEFF patron-format group with the enrollment's metadata, plus the
 * demographics as JSON. Records are opened with headquarters' private key the way `hq open` opens
 * them, and every opening is logged (operator, reason "export …").
 */
import type { Command } from 'commander';
import { chmodSync, existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { userInfo } from 'node:os';
import { StationError, UsageError } from '../../config/errors';
import { loadRecordKeys, RecordOpener } from '../wire';
import { openStoredRecord } from './validate';
import type { EnrollmentRecord } from '../wire/record';
import type { HqStoreApi } from './store-api';
import {
  BIOMETRIC_TYPE, FACE_IMAGE_TYPE, FINGER_COMPRESSION, FORMAT, encodeBir, encodeBirGroup, encodeFaceRecord, encodeFingerRecord, fingerSubtype,
} from './export-iso';

/** Quality algorithm vendor / id 0: the station's own screening score (docs/fingerprint.md), not NFIQ. */
const STATION_QUALITY = { vendor: 0x0000, algorithm: 0x0000 } as const;

export interface ExportedEnrollment {
  recordId: string;
  stationId: string;
  /** CBEFF group of one finger-image BIR per captured finger (null when no finger was captured). */
  fingers: Buffer | null;
  /** CBEFF group of one face-image BIR (null when the portrait was an exception). */
  face: Buffer | null;
  demographics: Record<string, unknown>;
}

/** The metadata every BIR of an enrollment carries (BHT tag 53). */
function metadataOf(r: EnrollmentRecord, receivedAt: number): Record<string, unknown> {
  return {
    recordId: r.recordId, stationId: r.stationId, officerId: r.officerId, kind: r.kind,
    startedAt: new Date(r.startedAt).toISOString(), completedAt: new Date(r.completedAt).toISOString(), receivedAt: new Date(receivedAt).toISOString(),
  };
}

/** One opened enrollment → its standard records. */
export function exportEnrollment(r: EnrollmentRecord, receivedAt: number): ExportedEnrollment {
  const meta = metadataOf(r, receivedAt);
  const fingerBirs: Buffer[] = [];
  for (const f of r.fingerprints) {
    if (f.status !== 'captured') continue;
    const rec = encodeFingerRecord([{
      capturedAt: r.completedAt, deviceTechnology: 0, deviceVendor: 0, deviceType: 0,
      quality: [{ score: f.quality, ...STATION_QUALITY }], position: f.position, representationNumber: 1, scaleUnits: 1,
      captureResolution: { h: f.ppi, v: f.ppi }, imageResolution: { h: f.ppi, v: f.ppi }, bitDepth: 8, compression: FINGER_COMPRESSION.png,
      impression: 0, width: f.width, height: f.height, image: f.png,
    }]);
    fingerBirs.push(encodeBir({ type: BIOMETRIC_TYPE.finger, subtype: fingerSubtype(f.position), createdAt: r.completedAt, creator: r.stationId, formatOwner: FORMAT.owner, formatType: FORMAT.fingerImage, metadata: { ...meta, position: f.position, attempts: f.attempts } }, rec));
  }
  let face: Buffer | null = null;
  if (r.portrait) {
    const p = r.portrait;
    const q = typeof p.metrics.quality === 'number' ? Math.max(0, Math.min(100, Math.round(p.metrics.quality))) : 255;
    const rec = encodeFaceRecord([{
      capturedAt: r.completedAt, deviceTechnology: 0, deviceVendor: 0, deviceType: 0, quality: [{ score: q, ...STATION_QUALITY }], landmarks: [],
      gender: r.details.sex === 'M' ? 1 : r.details.sex === 'F' ? 2 : 3, eyeColour: 0, hairColour: 0, subjectHeight: 0, featureMask: 0, expression: 0,
      pose: [0, 0, 0], poseUncertainty: [0, 0, 0], faceImageType: FACE_IMAGE_TYPE.tokenFrontal, imageDataType: 0, width: p.width, height: p.height,
      spatialSamplingRateLevel: 0, postAcquisition: 0, crossReference: 0, colourSpace: 1 /* 24-bit RGB */, image: p.jpeg,
    }]);
    face = encodeBirGroup([encodeBir({ type: BIOMETRIC_TYPE.face, createdAt: r.completedAt, creator: r.stationId, formatOwner: FORMAT.owner, formatType: FORMAT.faceImage, metadata: meta }, rec)]);
  }
  const { extra, ...details } = r.details;
  const demographics: Record<string, unknown> = {
    ...meta, details: { ...details, ...(extra ? { extra } : {}) },
    fingerprints: r.fingerprints.map((f) => (f.status === 'captured' ? { position: f.position, status: 'captured', quality: f.quality } : { position: f.position, status: 'exception', exception: f.exception, reason: f.reason })),
    portrait: r.portrait ? { status: 'captured', width: r.portrait.width, height: r.portrait.height } : { status: 'exception', reason: r.details.extra?.portraitException ?? null },
    chip: r.chip ? { passiveAuth: r.chip.passiveAuth } : null,
  };
  return { recordId: r.recordId, stationId: r.stationId, fingers: fingerBirs.length ? encodeBirGroup(fingerBirs) : null, face, demographics };
}

/** `--since`: an ISO 8601 time (or date), or a duration back from now (90m, 12h, 7d). */
export function parseSince(v: string | undefined, now = Date.now()): number {
  if (v === undefined) return 0;
  const d = /^(\d+)\s*([mhd])$/.exec(v.trim());
  if (d) return now - Number(d[1]) * { m: 60_000, h: 3_600_000, d: 86_400_000 }[d[2] as 'm' | 'h' | 'd'];
  const t = Date.parse(v);
  if (!Number.isFinite(t)) throw new UsageError(`--since "${v}" is not a time`, 'give an ISO 8601 time (2025-03-01T08:00:00Z), a date (2025-03-01) or a duration back from now (90m, 12h, 7d)');
  return t;
}

const EXPORT_PAGE = 200;

export interface ExportDeps {
  /** The store the settings choose (SQLite file or PostgreSQL). */
  store: HqStoreApi;
  keysDir: string;
  operator: string;
  since: number;
  /** Called for each enrollment, in the order headquarters received them. */
  emit(e: ExportedEnrollment): void;
}

/** Opens every record received since `since` and emits its export. Returns how many. */
export async function exportRecords(d: ExportDeps): Promise<number> {
  const opener = new RecordOpener(loadRecordKeys(d.keysDir));
  let n = 0;
  // Paged in receipt order so that tens of millions of records never sit in memory at once.
  let after: { receivedAt: number; recordId: string } | undefined;
  for (;;) {
    const rows = await d.store.recordsSince(d.since, EXPORT_PAGE, after);
    if (rows.length === 0) break;
    for (const row of rows) {
      let rec: EnrollmentRecord | null = null;
      let lastErr: unknown = null;
      try { rec = (await openStoredRecord(row.envelope, await d.store.stationKeys(row.station_id), opener)).record; } catch (e) { lastErr = e; }
      if (!rec) {
        throw new StationError('HQ_EXPORT_OPEN_FAILED', `record ${row.record_id} of station ${row.station_id} could not be opened: ${(lastErr as Error)?.message ?? 'no station key'}`, {
          hint: `nothing was left half-written for it; check \`hq open ${row.record_id} --reason …\`, then export again with --since to resume`, cause: lastErr,
        });
      }
      // The opening is logged before the biometrics leave: an export the log cannot show does not happen.
      await d.store.logOpening(row.station_id, row.record_id, d.operator, 'export to standard records (hq export)');
      d.emit(exportEnrollment(rec, row.received_at));
      n++;
    }
    const last = rows[rows.length - 1]!;
    after = { receivedAt: last.received_at, recordId: last.record_id };
  }
  return n;
}

/** Writes one enrollment's files into DIR/<recordId>/ (mode 0700 / 0600: they hold biometrics). */
export function writeEnrollmentDir(dir: string, e: ExportedEnrollment): string[] {
  const d = join(dir, e.recordId);
  mkdirSync(d, { recursive: true, mode: 0o700 });
  chmodSync(d, 0o700);
  const files: string[] = [];
  const put = (name: string, data: Buffer | string): void => { writeFileSync(join(d, name), data, { mode: 0o600 }); files.push(join(d, name)); };
  if (e.fingers) put('fingers.cbeff', e.fingers);
  if (e.face) put('face.cbeff', e.face);
  put('demographics.json', `${JSON.stringify(e.demographics, null, 2)}\n`);
  return files;
}

interface Helpers {
  settingsOf(cmd: Command): { dataDir: string; database: { url: string | null } };
  act<A extends unknown[]>(fn: (...args: A) => Promise<number | void> | number | void): (...args: A) => Promise<void>;
  /** The store the settings choose (database.url: PostgreSQL; else dataDir/hq.db). */
  openStore(s: { dataDir: string }): Promise<HqStoreApi>;
}

/** The `hq export` command (the one hook in sync/hq/main.ts). */
export function registerExport(program: Command, h: Helpers): void {
  program.command('export')
    .description('write stored enrollments as ISO/IEC 19794-4/-5:2011 records in CBEFF plus demographics JSON, for an AFIS/ABIS (docs/export.md); every opening is logged')
    .argument('<dir>', 'output directory (one sub-directory per enrollment), or "-" for JSON lines on stdout')
    .option('--since <time>', 'only records received at or after this time (ISO 8601, a date, or 90m / 12h / 7d back)')
    .option('--operator <name>', 'who exports (logged with every opening)', userInfo().username)
    .action(h.act(async (dir: string, opts: { since?: string; operator: string }, cmd: Command) => {
      const s = h.settingsOf(cmd);
      const since = parseSince(opts.since);
      if (s.database.url === null && !existsSync(join(s.dataDir, 'hq.db'))) throw new UsageError(`no headquarters database in ${s.dataDir}`, 'check --data-dir / dataDir');
      if (dir !== '-' && existsSync(dir) && !statDir(dir)) throw new UsageError(`${dir} exists and is not a directory`, 'give a directory (it is created if missing) or "-" for stdout');
      const store = await h.openStore(s);
      try {
        let files = 0;
        const n = await exportRecords({
          store, keysDir: join(s.dataDir, 'keys'), operator: opts.operator, since,
          emit: (e) => {
            if (dir === '-') {
              process.stdout.write(`${JSON.stringify({ recordId: e.recordId, stationId: e.stationId, fingers: e.fingers?.toString('base64') ?? null, face: e.face?.toString('base64') ?? null, demographics: e.demographics })}\n`);
            } else {
              files += writeEnrollmentDir(dir, e).length;
            }
          },
        });
        if (dir !== '-') process.stderr.write(`exported ${n} enrollment(s) into ${dir} (${files} files)${since ? ` received since ${new Date(since).toISOString()}` : ''}; each opening logged for operator ${opts.operator}\n`);
      } finally {
        await store.close();
      }
    }));
}

function statDir(p: string): boolean {
  return statSync(p).isDirectory();
}
