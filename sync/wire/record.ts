/**
 * The enrollment record: what a booth captures about one person in one session.
 * It exists in plaintext only in memory; it is serialized (canonical CBOR,
 * docs/wire-format.md §3) and sealed for headquarters before it touches disk.
 */
import { CborError, decodeCbor, encodeCbor, type CborValue } from './cbor';
import {
  CHIP_ACCESS_MAPPINGS, CHIP_ACCESS_PASSWORDS, CHIP_ACCESS_PROTOCOLS, CLONE_REASON_CODES, CLONE_VERDICTS, isCloneReasonCode,
  FINGER_EXCEPTIONS, OVERRIDE_KIND_CODES, RECORD_KINDS, RECORD_PA_VERDICTS, STATION_ID_RE, isFingerException, isOverrideKind, isRecordKind, isValidStationId,
  type CloneVerdict, type FingerExceptionCode, type FingerPosition, type OverrideKind, type RecordKind, type RecordPaVerdict,
} from '../../config/domain';

// The record's codes are the domain's (config/domain.ts); re-exported under the names the wire format uses.
export { STATION_ID_RE, type FingerPosition, type RecordKind };

/** Version of the record layout inside the sealed envelope. */
export const RECORD_FORMAT_VERSION = 1;

export type FingerExceptionReason = FingerExceptionCode;

export interface FingerprintCapture {
  position: FingerPosition;
  status: 'captured';
  /** 8-bit greyscale PNG at the sensor's native resolution. */
  png: Buffer;
  width: number;
  height: number;
  /** Sensor resolution in pixels per inch. */
  ppi: number;
  /** Quality score as reported by the scanner / NFIQ-like scale (integer 0..100). */
  quality: number;
  /** How many attempts the officer made before accepting this capture (>= 1). */
  attempts: number;
}

export interface FingerprintException {
  position: FingerPosition;
  status: 'exception';
  exception: FingerExceptionReason;
  /** The officer's reason, free text. */
  reason: string;
  /** A photo of the hand taken when the exception was recorded (JPEG, no face check), when the booth has a camera that took it. */
  photo?: ExceptionPhoto;
}

export interface ExceptionPhoto {
  jpeg: Buffer;
  width: number;
  height: number;
}

/** The person's consent, given on the touchscreen before any capture (docs/wire-format.md §3). */
export interface RecordConsent {
  /** The consent text's version as configured (consent.version). */
  version: string;
  /** The language the person read and confirmed ("vi", "en"). */
  language: string;
  /** SHA-256 of the exact UTF-8 text shown (32 bytes). */
  sha256: Buffer;
  /** ms since epoch, when the person confirmed. */
  at: number;
}

export type FingerprintEntry = FingerprintCapture | FingerprintException;

export interface PortraitMetrics {
  /** Any numeric quality metric (sharpness, brightness, face box ratio, …). */
  [metric: string]: number;
}

export interface Portrait {
  jpeg: Buffer;
  width: number;
  height: number;
  metrics: PortraitMetrics;
}

export type PassiveAuthVerdict = RecordPaVerdict;

export interface ChipData {
  dg1: Buffer;
  dg2?: Buffer;
  sod: Buffer;
  passiveAuth: {
    verdict: PassiveAuthVerdict;
    /** Why, in a few words (e.g. "DG2 hash mismatch"). */
    reason?: string;
    /** The exact reason code (config/domain.ts PA_REASONS) when the verdict is invalid. */
    reasonCode?: string;
  };
  /** Clone detection (config/domain.ts CLONE_VERDICTS / CLONE_REASONS); absent in records written before it. */
  clone?: { verdict: CloneVerdict; reasonCode?: string; reason?: string; method?: string };
  /** Which access control opened the chip. */
  access?: { protocol: (typeof CHIP_ACCESS_PROTOCOLS)[number]; password: (typeof CHIP_ACCESS_PASSWORDS)[number]; mapping?: (typeof CHIP_ACCESS_MAPPINGS)[number] };
}

export interface PersonalDetails {
  surname: string;
  givenNames: string;
  /** YYYY-MM-DD, or partial (YYYY, YYYY-MM) when unknown. */
  dateOfBirth: string;
  sex: 'F' | 'M' | 'X';
  /** ISO 3166-1 alpha-3. */
  nationality?: string;
  placeOfBirth?: string;
  address?: string;
  documentNumber?: string;
  nationalId?: string;
  phone?: string;
  /** Programme-specific fields, text only. */
  extra?: Record<string, string>;
}

export interface EnrollmentRecord {
  /** UUIDv7, lower-case canonical text form. */
  recordId: string;
  stationId: string;
  officerId: string;
  kind: RecordKind;
  /** ms since epoch (UTC). */
  startedAt: number;
  completedAt: number;
  details: PersonalDetails;
  fingerprints: FingerprintEntry[];
  portrait?: Portrait;
  chip?: ChipData;
  /** Refusals a second officer overrode with their PIN (co-signed), in the order they were given. */
  overrides?: RecordOverride[];
  /** The consent the person gave before capture (every record a booth of this version seals carries it). */
  consent?: RecordConsent;
  /**
   * The booth's trusted time when it sealed the record (#21): the local clock may be unset or wrong
   * (no real-time clock), so `startedAt`/`completedAt` stay the local clock's readings and this says
   * how far they are from headquarters' signed time. Absent in records sealed before it existed.
   */
  clock?: RecordClock;
}

/** Trusted-time estimate at sealing (docs/wire-format.md §3 `clock`). */
export type RecordClock =
  /** Estimate from headquarters' signed time: true time ≈ local time + offsetMs, ± uncertaintyMs. */
  | { source: 'hq'; offsetMs: number; uncertaintyMs: number }
  /** The booth had no trusted time (no signed time from headquarters since it started). */
  | { source: 'none' };

/** A second officer's co-signature of something the booth refused (config/domain.ts OVERRIDE_KINDS). */
export interface RecordOverride {
  /** What was overridden, e.g. "chip-authenticity". */
  kind: OverrideKind;
  /** The refusal's reason code, e.g. a passive-authentication reason code, or "details-mismatch". */
  code: string;
  /** The second officer, who co-signed with their own PIN (never the record's officerId). */
  officerId: string;
  /** ms since epoch. */
  at: number;
  /** Why, in the second officer's words. */
  reason: string;
  /** For a details mismatch: the compared fields that differ; for finger exceptions: the finger positions (decimal). */
  fields?: string[];
}

export class RecordFormatError extends Error {
  /** Set by decodeRecordStrict: which of headquarters' refusal reasons applies. */
  code?: 'not-canonical' | 'record-invalid';
  constructor(message: string) {
    super(message);
    this.name = 'RecordFormatError';
  }
}

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

export function isUuidV7(s: string): boolean {
  return UUID_V7.test(s);
}

function fail(path: string, what: string): never {
  throw new RecordFormatError(`record field ${path}: ${what}`);
}
function str(v: unknown, path: string, opt = false): string | undefined {
  if (v === undefined && opt) return undefined;
  if (typeof v !== 'string') fail(path, 'expected text');
  return v;
}
function int(v: unknown, path: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) fail(path, `expected an integer in ${min}..${max}`);
  return v;
}
function bytes(v: unknown, path: string): Buffer {
  if (!(v instanceof Uint8Array)) fail(path, 'expected bytes');
  return Buffer.isBuffer(v) ? v : Buffer.from(v);
}
function obj(v: unknown, path: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v) || v instanceof Uint8Array) fail(path, 'expected a map');
  return v as Record<string, unknown>;
}

/** Checks a record's shape and ranges; throws RecordFormatError naming the first bad field (never its value). */
export function validateRecord(r: EnrollmentRecord): void {
  toCborValue(r);
}

function toCborValue(r: EnrollmentRecord): CborValue {
  if (!isUuidV7(r.recordId)) fail('recordId', 'expected a lower-case UUIDv7');
  if (!isValidStationId(r.stationId)) fail('stationId', 'expected 1..64 chars [A-Za-z0-9._-]');
  str(r.officerId, 'officerId');
  if (!isRecordKind(r.kind)) fail('kind', `expected ${RECORD_KINDS.map((k) => `'${k}'`).join(' or ')}`);
  int(r.startedAt, 'startedAt', 0, Number.MAX_SAFE_INTEGER);
  int(r.completedAt, 'completedAt', 0, Number.MAX_SAFE_INTEGER);
  const d = obj(r.details, 'details') as unknown as PersonalDetails;
  const details: Record<string, CborValue | undefined> = {
    surname: str(d.surname, 'details.surname'),
    givenNames: str(d.givenNames, 'details.givenNames'),
    dateOfBirth: str(d.dateOfBirth, 'details.dateOfBirth'),
    sex: d.sex === 'F' || d.sex === 'M' || d.sex === 'X' ? d.sex : fail('details.sex', "expected 'F', 'M' or 'X'"),
    nationality: str(d.nationality, 'details.nationality', true),
    placeOfBirth: str(d.placeOfBirth, 'details.placeOfBirth', true),
    address: str(d.address, 'details.address', true),
    documentNumber: str(d.documentNumber, 'details.documentNumber', true),
    nationalId: str(d.nationalId, 'details.nationalId', true),
    phone: str(d.phone, 'details.phone', true),
  };
  if (d.extra !== undefined) {
    const e = obj(d.extra, 'details.extra');
    const extra: Record<string, CborValue> = {};
    for (const k of Object.keys(e)) extra[k] = str(e[k], `details.extra.${k}`) as string;
    details.extra = extra;
  }
  if (!Array.isArray(r.fingerprints)) fail('fingerprints', 'expected a list');
  const seen = new Set<number>();
  const fingerprints: CborValue[] = r.fingerprints.map((f, i) => {
    const p = `fingerprints[${i}]`;
    const position = int(f.position, `${p}.position`, 1, 10);
    if (seen.has(position)) fail(`${p}.position`, `finger position ${position} appears twice`);
    seen.add(position);
    if (f.status === 'captured') {
      return {
        position,
        status: 'captured',
        png: bytes(f.png, `${p}.png`),
        width: int(f.width, `${p}.width`, 1, 65535),
        height: int(f.height, `${p}.height`, 1, 65535),
        ppi: int(f.ppi, `${p}.ppi`, 1, 10000),
        quality: int(f.quality, `${p}.quality`, 0, 100),
        attempts: int(f.attempts, `${p}.attempts`, 1, 1000),
      };
    }
    if (f.status === 'exception') {
      const ex = f.exception;
      if (!isFingerException(ex)) fail(`${p}.exception`, `expected ${FINGER_EXCEPTIONS.join('|')}`);
      const e: Record<string, CborValue> = { position, status: 'exception', exception: ex, reason: str(f.reason, `${p}.reason`) as string };
      if (f.photo !== undefined) {
        const ph = obj(f.photo, `${p}.photo`) as unknown as ExceptionPhoto;
        e.photo = { jpeg: bytes(ph.jpeg, `${p}.photo.jpeg`), width: int(ph.width, `${p}.photo.width`, 1, 65535), height: int(ph.height, `${p}.photo.height`, 1, 65535) };
      }
      return e;
    }
    return fail(`${p}.status`, "expected 'captured' or 'exception'");
  });
  const out: Record<string, CborValue | undefined> = {
    v: RECORD_FORMAT_VERSION,
    recordId: r.recordId,
    stationId: r.stationId,
    officerId: r.officerId,
    kind: r.kind,
    startedAt: r.startedAt,
    completedAt: r.completedAt,
    details,
    fingerprints,
  };
  if (r.portrait !== undefined) {
    const pm = obj(r.portrait.metrics, 'portrait.metrics');
    const metrics: Record<string, CborValue> = {};
    for (const k of Object.keys(pm)) {
      const m = pm[k];
      if (typeof m !== 'number' || !Number.isFinite(m)) fail(`portrait.metrics.${k}`, 'expected a finite number');
      metrics[k] = m;
    }
    out.portrait = {
      jpeg: bytes(r.portrait.jpeg, 'portrait.jpeg'),
      width: int(r.portrait.width, 'portrait.width', 1, 65535),
      height: int(r.portrait.height, 'portrait.height', 1, 65535),
      metrics,
    };
  }
  if (r.chip !== undefined) {
    const c = r.chip;
    const v = c.passiveAuth?.verdict;
    if (!(RECORD_PA_VERDICTS as readonly unknown[]).includes(v)) fail('chip.passiveAuth.verdict', `expected ${RECORD_PA_VERDICTS.join('|')}`);
    out.chip = {
      dg1: bytes(c.dg1, 'chip.dg1'),
      dg2: c.dg2 === undefined ? undefined : bytes(c.dg2, 'chip.dg2'),
      sod: bytes(c.sod, 'chip.sod'),
      passiveAuth: { verdict: v, reason: str(c.passiveAuth.reason, 'chip.passiveAuth.reason', true), reasonCode: str(c.passiveAuth.reasonCode, 'chip.passiveAuth.reasonCode', true) },
    };
    if (c.clone !== undefined) {
      const cl = obj(c.clone, 'chip.clone') as unknown as NonNullable<ChipData['clone']>;
      if (!(CLONE_VERDICTS as readonly unknown[]).includes(cl.verdict)) fail('chip.clone.verdict', `expected ${CLONE_VERDICTS.join('|')}`);
      if (cl.reasonCode !== undefined && !isCloneReasonCode(cl.reasonCode)) fail('chip.clone.reasonCode', `expected ${CLONE_REASON_CODES.join('|')}`);
      if ((cl.verdict === 'failed' || cl.verdict === 'not-supported') && cl.reasonCode === undefined) fail('chip.clone.reasonCode', `required when the verdict is ${cl.verdict}`);
      for (const k of Object.keys(cl)) if (!['verdict', 'reasonCode', 'reason', 'method'].includes(k)) fail(`chip.clone.${k}`, 'unknown field');
      (out.chip as Record<string, CborValue>).clone = { verdict: cl.verdict, reasonCode: str(cl.reasonCode, 'chip.clone.reasonCode', true), reason: str(cl.reason, 'chip.clone.reason', true), method: str(cl.method, 'chip.clone.method', true) };
    }
    if (c.access !== undefined) {
      const a = obj(c.access, 'chip.access') as unknown as NonNullable<ChipData['access']>;
      if (!(CHIP_ACCESS_PROTOCOLS as readonly unknown[]).includes(a.protocol)) fail('chip.access.protocol', `expected ${CHIP_ACCESS_PROTOCOLS.join('|')}`);
      if (!(CHIP_ACCESS_PASSWORDS as readonly unknown[]).includes(a.password)) fail('chip.access.password', `expected ${CHIP_ACCESS_PASSWORDS.join('|')}`);
      if (a.mapping !== undefined) {
        if (!(CHIP_ACCESS_MAPPINGS as readonly unknown[]).includes(a.mapping)) fail('chip.access.mapping', `expected ${CHIP_ACCESS_MAPPINGS.join('|')}`);
        if (a.protocol !== 'PACE') fail('chip.access.mapping', 'only with protocol PACE');
      }
      for (const k of Object.keys(a)) if (!['protocol', 'password', 'mapping'].includes(k)) fail(`chip.access.${k}`, 'unknown field');
      (out.chip as Record<string, CborValue>).access = { protocol: a.protocol, password: a.password, ...(a.mapping !== undefined ? { mapping: a.mapping } : {}) };
    }
  }
  if (r.consent !== undefined) {
    const c = obj(r.consent, 'consent') as unknown as RecordConsent;
    const version = str(c.version, 'consent.version') as string;
    if (version.trim() === '') fail('consent.version', 'expected the consent text\'s version');
    const language = str(c.language, 'consent.language') as string;
    if (!/^[a-z]{2,3}$/.test(language)) fail('consent.language', 'expected a language code such as "vi"');
    const sha = bytes(c.sha256, 'consent.sha256');
    if (sha.length !== 32) fail('consent.sha256', 'expected 32 bytes (SHA-256 of the text shown)');
    out.consent = { version, language, sha256: sha, at: int(c.at, 'consent.at', 0, Number.MAX_SAFE_INTEGER) };
  }
  if (r.clock !== undefined) {
    const c = obj(r.clock, 'clock') as Record<string, unknown>;
    if (c.source === 'hq') {
      for (const k of Object.keys(c)) if (!['source', 'offsetMs', 'uncertaintyMs'].includes(k)) fail(`clock.${k}`, 'unknown field');
      out.clock = { source: 'hq', offsetMs: int(c.offsetMs, 'clock.offsetMs', -Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER), uncertaintyMs: int(c.uncertaintyMs, 'clock.uncertaintyMs', 0, Number.MAX_SAFE_INTEGER) };
    } else if (c.source === 'none') {
      for (const k of Object.keys(c)) if (k !== 'source') fail(`clock.${k}`, 'not allowed without a trusted estimate (source "none")');
      out.clock = { source: 'none' };
    } else fail('clock.source', "expected 'hq' or 'none'");
  }
  if (r.overrides !== undefined) {
    if (!Array.isArray(r.overrides)) fail('overrides', 'expected a list');
    out.overrides = r.overrides.map((o, i): CborValue => {
      const p = `overrides[${i}]`;
      const m = obj(o, p) as unknown as RecordOverride;
      if (!isOverrideKind(m.kind)) fail(`${p}.kind`, `expected ${OVERRIDE_KIND_CODES.join('|')}`);
      const code = str(m.code, `${p}.code`) as string;
      if (!/^[a-z0-9][a-z0-9-]{0,63}$/.test(code)) fail(`${p}.code`, 'expected a reason code (lower-case letters, digits and "-")');
      const officerId = str(m.officerId, `${p}.officerId`) as string;
      if (officerId === '') fail(`${p}.officerId`, 'expected the second officer\'s id');
      if (officerId === r.officerId) fail(`${p}.officerId`, 'the second officer must not be the record\'s officer');
      const reason = str(m.reason, `${p}.reason`) as string;
      if (reason.trim() === '') fail(`${p}.reason`, 'expected the officer\'s reason');
      let fields: CborValue[] | undefined;
      if (m.fields !== undefined) {
        if (!Array.isArray(m.fields)) fail(`${p}.fields`, 'expected a list of field names');
        fields = m.fields.map((f, j) => str(f, `${p}.fields[${j}]`) as string);
      }
      return { kind: m.kind, code, officerId, at: int(m.at, `${p}.at`, 0, Number.MAX_SAFE_INTEGER), reason, ...(fields ? { fields } : {}) };
    });
  }
  return out;
}

/** Canonical serialization of a record (the HPKE plaintext). */
export function encodeRecord(r: EnrollmentRecord): Buffer {
  return encodeCbor(toCborValue(r));
}

/** Parses and validates a serialized record. */
export function decodeRecord(b: Uint8Array): EnrollmentRecord {
  let v: CborValue;
  try {
    v = decodeCbor(b);
  } catch (e) {
    throw new RecordFormatError(`record is not canonical CBOR: ${(e as CborError).message}`);
  }
  const m = obj(v, '(root)');
  if (m.v !== RECORD_FORMAT_VERSION) fail('v', `unsupported record format version ${String(m.v)}`);
  const { v: _v, ...rest } = m;
  const r = rest as unknown as EnrollmentRecord;
  // Re-run validation on the decoded shape (same rules as encoding).
  toCborValue(r);
  return r;
}

/**
 * Headquarters' check of an opened plaintext: decodes it strictly (canonical
 * CBOR, §2), validates it against the record model (§3), and refuses any field
 * the model does not have — the record rebuilt from the validated fields must
 * encode to exactly the bytes received. Throws RecordFormatError whose `code`
 * says which rule failed: `not-canonical` (the bytes are not canonical CBOR) or
 * `record-invalid` (canonical CBOR, but not a record).
 */
export function decodeRecordStrict(b: Uint8Array): EnrollmentRecord {
  let r: EnrollmentRecord;
  try {
    r = decodeRecord(b);
  } catch (e) {
    const err = e as RecordFormatError;
    err.code = /not canonical CBOR|invalid CBOR/.test(err.message) ? 'not-canonical' : 'record-invalid';
    throw err;
  }
  const again = encodeRecord(r);
  const same = Buffer.compare(again, Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0;
  again.fill(0); // a second copy of the biometrics
  if (!same) {
    const e = new RecordFormatError('record has fields the record model does not define');
    e.code = 'record-invalid';
    throw e;
  }
  return r;
}
