/**
 * The domain vocabulary: every code a record, a driver, the workflow, the wire
 * format and the configuration share. One name per thing, defined here once.
 *
 * It lives in config/ because config is the dependency-free bottom layer
 * (config ← drivers ← station → sync): drivers, the workflow, the wire format
 * (sync/wire) and headquarters all import it; it imports nothing.
 *
 * To add a code, add it to the list (or table) below: the types, the checks
 * (`isX`), the config schema, the record validation and the docs' tables
 * (test/config/domain.test.ts checks docs against these lists) follow.
 * Never rename or remove a code that can be in a sealed record: records are
 * kept for years and headquarters must still read them.
 */

// ───────────────────────── finger positions ─────────────────────────

/** ISO/IEC 19794-2 / ANSI-NIST finger position codes. */
export const FINGER_POSITIONS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] as const;
export type FingerPosition = (typeof FINGER_POSITIONS)[number];

/** English name of each position (messages and logs; the kiosk translates by number). */
export const FINGER_NAMES: Readonly<Record<FingerPosition, string>> = {
  1: 'right thumb', 2: 'right index', 3: 'right middle', 4: 'right ring', 5: 'right little',
  6: 'left thumb', 7: 'left index', 8: 'left middle', 9: 'left ring', 10: 'left little',
};

export function isFingerPosition(v: unknown): v is FingerPosition {
  return typeof v === 'number' && (FINGER_POSITIONS as readonly number[]).includes(v);
}

// ───────────────────────── exceptions ─────────────────────────

/**
 * Why a finger was not captured, as the record carries it
 * (`fingerprints[].exception`, docs/wire-format.md §3).
 */
export const FINGER_EXCEPTIONS = ['missing', 'amputated', 'bandaged', 'unable'] as const;
export type FingerExceptionCode = (typeof FINGER_EXCEPTIONS)[number];

/**
 * Why something could not be captured, as the officer records it at the booth.
 * `device_failure` is the officer's answer to a device that keeps failing; the
 * record has no such code and carries it as `unable` with a reason that starts
 * with "device failure: " (see recordedFingerException).
 */
export const EXCEPTION_CODES = [...FINGER_EXCEPTIONS, 'device_failure'] as const;
export type ExceptionCode = (typeof EXCEPTION_CODES)[number];

/** The exceptions the officer may record, per capture. */
export const CAPTURE_EXCEPTIONS = {
  finger: EXCEPTION_CODES,
  portrait: ['unable', 'device_failure'],
  chip: ['unable', 'device_failure'],
} as const satisfies Record<string, readonly ExceptionCode[]>;
export type CaptureKind = keyof typeof CAPTURE_EXCEPTIONS;

export function isExceptionFor(what: CaptureKind, code: unknown): code is ExceptionCode {
  return typeof code === 'string' && (CAPTURE_EXCEPTIONS[what] as readonly string[]).includes(code);
}

export function isFingerException(v: unknown): v is FingerExceptionCode {
  return typeof v === 'string' && (FINGER_EXCEPTIONS as readonly string[]).includes(v);
}

/** Prefix of the record's reason text for a finger the officer recorded as `device_failure`. */
export const DEVICE_FAILURE_PREFIX = 'device failure: ';

/** The officer's exception → the record's finger exception and reason text. */
export function recordedFingerException(code: ExceptionCode, reason: string): { exception: FingerExceptionCode; reason: string } {
  return code === 'device_failure' ? { exception: 'unable', reason: `${DEVICE_FAILURE_PREFIX}${reason}` } : { exception: code, reason };
}

/**
 * Keys of `details.extra` in the record (text → text) that the station itself
 * writes; docs/wire-format.md §3.1 describes each. A programme may add its own.
 */
export const DETAILS_EXTRA_KEYS = {
  sessionId: 'the kiosk session the record was captured in (id of the booth\'s session, not of the person)',
  fullName: 'the full name exactly as the officer typed it (surname and givenNames are split from it)',
  unitCode: 'administrative unit (ward/commune) code the person is registered in',
  placeOfOrigin: 'place of origin (quê quán), when given',
  documentExpiry: 'e-ID activation: expiry date (YYYY-MM-DD) of the card being activated',
  portraitException: 'when no portrait was taken: "<exception code>: <officer\'s reason>"',
  chipException: 'e-ID activation, when the chip could not be read: "<exception code>: <officer\'s reason>"',
} as const;
export type DetailsExtraKey = keyof typeof DETAILS_EXTRA_KEYS;

// ───────────────────────── record kinds ─────────────────────────

/** What a session produces; the same code in the kiosk API, the workflow, the record and the counters. */
export const RECORD_KINDS = ['enrollment', 'eid-activation'] as const;
export type RecordKind = (typeof RECORD_KINDS)[number];

export function isRecordKind(v: unknown): v is RecordKind {
  return typeof v === 'string' && (RECORD_KINDS as readonly string[]).includes(v);
}

// ───────────────────────── passive authentication ─────────────────────────

/**
 * What the chip check concluded (drivers/card, the workflow, the kiosk, the
 * record). Fails closed: `valid` only when everything was proven; anything
 * else is `invalid` with one of the reasons below. There is no third verdict.
 */
export const PA_VERDICTS = ['valid', 'invalid'] as const;
export type PaVerdict = (typeof PA_VERDICTS)[number];

/**
 * The verdict as the sealed record carries it (`chip.passiveAuth.verdict`,
 * docs/wire-format.md §3). Stations write `valid` or `invalid` with the exact
 * reason code (`chip.passiveAuth.reasonCode`); `no-csca` and `not-checked` are
 * only read, from records sealed before chip trust failed closed.
 */
export const RECORD_PA_VERDICTS = ['valid', 'invalid', 'no-csca', 'not-checked'] as const;
export type RecordPaVerdict = (typeof RECORD_PA_VERDICTS)[number];

/**
 * Every reason a chip is not `valid` (stable codes; drivers/card has the
 * sentence with the details, the kiosk translates the code). Add a row to add
 * a reason.
 */
export const PA_REASONS = {
  'no-security-object': { verdict: 'invalid', record: 'invalid', text: 'the chip holds no document security object (EF.SOD absent or empty)' },
  'malformed-security-object': { verdict: 'invalid', record: 'invalid', text: 'EF.SOD cannot be parsed' },
  'hash-missing': { verdict: 'invalid', record: 'invalid', text: 'a data group read from the chip is not listed in EF.SOD' },
  'hash-mismatch': { verdict: 'invalid', record: 'invalid', text: 'a data group does not match its hash in EF.SOD (data altered)' },
  'message-digest-mismatch': { verdict: 'invalid', record: 'invalid', text: 'the SOD message digest is missing or does not match its content' },
  'no-ds-certificate': { verdict: 'invalid', record: 'invalid', text: 'EF.SOD carries no Document Signer certificate' },
  'malformed-ds-certificate': { verdict: 'invalid', record: 'invalid', text: 'the Document Signer certificate cannot be parsed' },
  'unsupported-algorithm': { verdict: 'invalid', record: 'invalid', text: 'a hash or signature algorithm the reader does not implement' },
  'bad-signature': { verdict: 'invalid', record: 'invalid', text: 'the Document Signer signature over EF.SOD does not verify' },
  'key-usage': { verdict: 'invalid', record: 'invalid', text: 'a certificate is used beyond its key usage (e.g. a SOD signed with a CSCA key)' },
  'no-csca-store': { verdict: 'invalid', record: 'invalid', text: 'no CSCA store is configured' },
  'unknown-issuer': { verdict: 'invalid', record: 'invalid', text: 'no CSCA in the store issued the Document Signer certificate' },
  'expired': { verdict: 'invalid', record: 'invalid', text: 'the Document Signer or CSCA certificate was not valid at signing time' },
  'revoked': { verdict: 'invalid', record: 'invalid', text: 'the Document Signer certificate is on a CRL in the store' },
  'country-mismatch': { verdict: 'invalid', record: 'invalid', text: 'the Document Signer\'s country differs from DG1\'s issuing state (or its CSCA\'s)' },
} as const satisfies Record<string, { verdict: Exclude<PaVerdict, 'valid'>; record: Exclude<RecordPaVerdict, 'valid'>; text: string }>;
export type PaReasonCode = keyof typeof PA_REASONS;
export const PA_REASON_CODES = Object.keys(PA_REASONS) as PaReasonCode[];

export function isPaReasonCode(v: unknown): v is PaReasonCode {
  return typeof v === 'string' && Object.prototype.hasOwnProperty.call(PA_REASONS, v);
}

/** The record's verdict for a chip check: `valid` only for a valid check, `invalid` for everything else. */
export function recordPaVerdict(verdict: PaVerdict, _reasonCode?: string): RecordPaVerdict {
  return verdict === 'valid' ? 'valid' : 'invalid';
}

// ───────────────────────── second-officer overrides ─────────────────────────

/**
 * What the workflow refuses until a second officer co-signs with their PIN, and
 * how the record carries the co-signature (`overrides[]`, docs/wire-format.md §3):
 * `{kind, code, officerId, at, reason, fields?}`. `step` is where the refusal
 * stops the session. Add a row to add one (clone detection, co-signed
 * exceptions, …); the workflow's blocker rules (station/workflow/cosign.ts)
 * decide when each applies.
 */
export const OVERRIDE_KINDS = {
  'chip-authenticity': { step: 'chip', text: 'the chip did not pass passive authentication; `code` is its reason code (see Passive authentication)' },
  'chip-clone': { step: 'chip', text: 'clone detection failed (Chip Authentication with DG14 or Active Authentication with DG15); `code` is its reason code (see Clone detection)' },
  'chip-details-mismatch': { step: 'review', text: 'DG1 on the chip and the details entered differ; `code` is `details-mismatch`, `fields` names the compared fields that differ' },
  'person-repeat': { step: 'details', text: 'this booth already enrolled the national ID number in the current campaign (repeat register); `code` is `person-repeat`' },
  'finger-exception': { step: 'fingerprints', text: 'fingers recorded as exceptions (missing, amputated, unusable, device failure); `code` is `finger-exception`, `fields` lists the finger positions (decimal ISO/IEC 19794-4 codes) the co-signature covers' },
  'portrait-exception': { step: 'portrait', text: 'the portrait could not be taken; `code` is `portrait-exception` (the portrait entry says why)' },
  'chip-exception': { step: 'chip', text: 'the chip could not be read; `code` is `chip-exception` (the chip exception says why)' },
} as const satisfies Record<string, { step: OverrideStep; text: string }>;

/** The workflow step a co-signable refusal stops (it always stops confirm too). */
export type OverrideStep = 'details' | 'fingerprints' | 'portrait' | 'chip' | 'review';
export type OverrideKind = keyof typeof OVERRIDE_KINDS;
export const OVERRIDE_KIND_CODES = Object.keys(OVERRIDE_KINDS) as OverrideKind[];

export function isOverrideKind(v: unknown): v is OverrideKind {
  return typeof v === 'string' && Object.prototype.hasOwnProperty.call(OVERRIDE_KINDS, v);
}

/**
 * The entered details compared with the chip's DG1 (names without diacritics and
 * case); the names `overrides[].fields` uses.
 */
export const CHIP_COMPARED_FIELDS = ['fullName', 'dateOfBirth', 'sex', 'documentNumber'] as const;
export type ChipComparedField = (typeof CHIP_COMPARED_FIELDS)[number];

// ───────────────────────── clone detection ─────────────────────────

/**
 * Chip Authentication (DG14) / Active Authentication (DG15): whether the chip
 * proved it holds the private key of its signed public key (a full copy of a
 * genuine chip passes passive authentication but fails these).
 */
export const CLONE_VERDICTS = ['chip-authenticated', 'active-authenticated', 'not-supported', 'failed'] as const;
export type CloneVerdict = (typeof CLONE_VERDICTS)[number];

/** Why clone detection did not succeed (stable codes, with `failed`, or `not-supported`). */
export const CLONE_REASONS = {
  'no-dg14-dg15': { verdict: 'not-supported', text: 'the chip offers neither Chip Authentication (DG14) nor Active Authentication (DG15)' },
  'unsupported-algorithm': { verdict: 'not-supported', text: 'the chip uses a Chip/Active Authentication algorithm outside ICAO 9303-11 (or a curve, hash or key size it does not allow): it cannot be checked' },
  'not-signed': { verdict: 'failed', text: 'DG14/DG15 is not covered by a valid passive authentication' },
  'malformed-key': { verdict: 'failed', text: 'the public key in DG14/DG15 cannot be parsed' },
  'ca-refused': { verdict: 'failed', text: 'the chip refused Chip Authentication' },
  'ca-key-mismatch': { verdict: 'failed', text: 'after Chip Authentication the chip does not speak with the keys DG14 implies (cloned or faulty chip)' },
  'cam-mismatch': { verdict: 'failed', text: 'the chip authentication data of PACE-CAM does not match the DG14 key (cloned or faulty chip)' },
  'aa-refused': { verdict: 'failed', text: 'the chip refused INTERNAL AUTHENTICATE' },
  'aa-bad-signature': { verdict: 'failed', text: 'the Active Authentication signature does not verify with the DG15 key (cloned or faulty chip)' },
} as const satisfies Record<string, { verdict: Exclude<CloneVerdict, 'chip-authenticated' | 'active-authenticated'>; text: string }>;
export type CloneReasonCode = keyof typeof CLONE_REASONS;
export const CLONE_REASON_CODES = Object.keys(CLONE_REASONS) as CloneReasonCode[];

export function isCloneReasonCode(v: unknown): v is CloneReasonCode {
  return typeof v === 'string' && Object.prototype.hasOwnProperty.call(CLONE_REASONS, v);
}

/** Access control that opened the chip, as the record carries it (`chip.access`). */
export const CHIP_ACCESS_PROTOCOLS = ['PACE', 'BAC'] as const;
export const CHIP_ACCESS_PASSWORDS = ['MRZ', 'CAN'] as const;
/** PACE mapping that ran (ICAO 9303-11 §4.4.3.3): Generic, Integrated, Chip Authentication Mapping; PACE only. */
export const CHIP_ACCESS_MAPPINGS = ['GM', 'IM', 'CAM'] as const;

// ───────────────────────── portrait ─────────────────────────

/** The portrait pipeline's verdict on a photo (drivers/camera, the workflow, the kiosk). */
export const PORTRAIT_VERDICTS = ['accept', 'reject'] as const;
export type PortraitVerdict = (typeof PORTRAIT_VERDICTS)[number];

/** Why a portrait was rejected (stable codes; the kiosk translates them, drivers/camera has the English text). */
export const PORTRAIT_REASON_CODES = [
  'too-dark', 'too-bright', 'low-contrast', 'no-face', 'several-faces', 'face-too-small', 'face-too-large', 'off-centre', 'tilted', 'eyes-closed',
  'blurred', 'background-not-uniform',
] as const;
export type PortraitReasonCode = (typeof PORTRAIT_REASON_CODES)[number];

// ───────────────────────── station id ─────────────────────────

/**
 * One rule for a station id everywhere: the configuration, the record and its
 * envelope header, MQTT topics, headquarters' registry. 1–64 ASCII letters,
 * digits, `.`, `_`, `-`, the first a letter or digit: a valid MQTT topic level
 * (no `+`, `#`, `/`, `$`), a safe file name (never `.` or `..`), and every id
 * format version 1 could already carry.
 */
export const STATION_ID_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$';
export const STATION_ID_RE = new RegExp(STATION_ID_PATTERN);
export const STATION_ID_RULE = '1–64 characters of letters, digits, ".", "_" and "-", starting with a letter or digit';

export function isValidStationId(v: unknown): v is string {
  return typeof v === 'string' && STATION_ID_RE.test(v);
}

// ───────────────────────── HPKE suites ─────────────────────────

/**
 * HPKE suites a station can seal with (config `vault.suite`, docs/wire-format.md).
 * sync/wire/suites.ts binds each name to its algorithm ids and implementation.
 */
export const SUITE_NAMES = ['x25519-chacha20poly1305', 'xwing-chacha20poly1305', 'x25519-aes256gcm', 'xwing-aes256gcm'] as const;
export type SuiteName = (typeof SUITE_NAMES)[number];
export const DEFAULT_SUITE: SuiteName = 'x25519-chacha20poly1305';

export function isSuiteName(v: unknown): v is SuiteName {
  return typeof v === 'string' && (SUITE_NAMES as readonly string[]).includes(v);
}
