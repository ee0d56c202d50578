/**
 * The small interfaces ("ports") the enrollment workflow needs from the rest of
 * the station. The workflow and the kiosk only ever talk to these; the
 * adapters in ./adapters.ts bind them to the real drivers, vault and uplink,
 * and ./fakes.ts provides in-memory versions for tests, benches and demos.
 */

import type { CloneReasonCode, CloneVerdict, ExceptionCode, FingerPosition, OverrideKind, PaReasonCode, PortraitVerdict, RecordKind } from '../../config/domain';

// Positions, exception codes, verdicts and kinds are the domain's (config/domain.ts).
export type { ExceptionCode, FingerPosition };

/** A progress event while a device works (shown live on the kiosk). */
export interface CaptureProgress {
  /** e.g. 'place_finger', 'lift_finger', 'captured', 'attempt', 'reading_chip', 'capturing' */
  phase: string;
  attempt?: number;
  quality?: number;
}

export interface FingerCaptureResult {
  position: FingerPosition;
  /** 8-bit grey PNG at the sensor's resolution. */
  png: Buffer;
  width: number;
  height: number;
  /** Sensor resolution (pixels per inch); 500 when not given. */
  ppi?: number;
  /** 0–100, higher is better. */
  quality: number;
  attempts: number;
  /** True when quality reached the configured threshold. */
  passed: boolean;
  /** The threshold it was judged against (config devices.fingerprint.qualityThreshold), for the kiosk's gauge. */
  threshold?: number;
}

export interface FingerprintPort {
  /**
   * Runs the per-finger capture flow for one position (up to the configured
   * attempts, best kept). Throws a StationError when the device fails.
   */
  captureFinger(position: FingerPosition, opts: { signal: AbortSignal; onProgress?: (p: CaptureProgress) => void; /** Same-finger-twice check within this session. */ sessionId?: string }): Promise<FingerCaptureResult>;
  /** The finger no longer counts for the session's duplicate check (redone, or recorded as an exception). */
  forgetFinger?(sessionId: string, position: FingerPosition): Promise<void>;
  /** The session is over (sealed, aborted, discarded): the scanner keeps nothing of it. */
  endSession?(sessionId: string): Promise<void>;
}

export interface PortraitReason {
  /** Stable code, e.g. 'too_dark', 'blurred', 'off_centre'. */
  code: string;
  /** Human text in English from the pipeline (the kiosk translates by code when it can). */
  message: string;
}

/**
 * One quality check of the portrait against its threshold, for the kiosk's
 * gauges: `value` measured, the acceptable range [`min`, `max`] (one side may
 * be absent), and the scale of the gauge [`lo`, `hi`].
 */
export interface PortraitCheck {
  /** 'exposure' | 'clipped' | 'contrast' | 'sharpness' | 'centre' | 'headTop' | 'background' | 'subject' */
  id: string;
  value: number;
  min?: number;
  max?: number;
  lo: number;
  hi: number;
  ok: boolean;
}

export interface PortraitResult {
  jpeg: Buffer;
  width: number;
  height: number;
  /** Quality metrics as computed by the pipeline (exposure, contrast, sharpness, …). */
  metrics: Record<string, number>;
  verdict: PortraitVerdict;
  reasons: PortraitReason[];
  /** The same metrics as checks against the thresholds the verdict used (for gauges). */
  checks?: PortraitCheck[];
}

export interface CameraPort {
  capturePortrait(opts: { signal: AbortSignal; onProgress?: (p: CaptureProgress) => void }): Promise<PortraitResult>;
  /** A small, quick JPEG for the live view while the officer positions the person (optional). */
  previewFrame?(opts: { signal: AbortSignal }): Promise<Buffer>;
  /** A still for evidence (the hand for a finger exception), scaled down, without the portrait check. */
  captureEvidence?(opts: { signal: AbortSignal }): Promise<EvidencePhoto>;
}

/** The chip's password: the MRZ information, the card access number (CAN), or both (the CAN is used for PACE; the MRZ for BAC when the chip has no PACE). */
export interface ChipKey {
  mrz?: MrzInfo;
  /** Six digits printed on the card. */
  can?: string;
}

/** What BAC needs: typed by the officer or taken from a full MRZ. */
export interface MrzInfo {
  documentNumber: string;
  /** YYMMDD */
  birthDate: string;
  /** YYMMDD */
  expiryDate: string;
}

/**
 * The chip check's verdict (config/domain.ts PA_VERDICTS): passive authentication
 * fails closed, so it is `valid`, or `invalid` with its reason code (PA_REASONS:
 * no-csca-store, unknown-issuer, expired, country-mismatch, hash-mismatch,
 * no-security-object, …) and a sentence for the officer.
 */
export type PassiveAuthVerdict =
  | { status: 'valid' }
  | { status: 'invalid'; reason: string; reasonCode?: PaReasonCode };

export interface ChipReadResult {
  /** Raw data groups as read (kept only in memory, sealed with the record). */
  dg1: Buffer;
  dg2?: Buffer;
  sod: Buffer;
  /** Parsed DG1 fields for display (names, document number, dates, nationality). */
  mrzFields: Record<string, string | null>;
  /** The face from DG2 as JPEG, for display, when it could be converted. */
  faceJpeg?: Buffer;
  passiveAuth: PassiveAuthVerdict;
  /** Clone detection (Chip / Active Authentication); `failed` blocks like a failed passive authentication. */
  clone?: { verdict: CloneVerdict; reasonCode?: CloneReasonCode; reason?: string; method?: string };
  /** Holder details from DG13 (Vietnamese citizen card), with diacritics as on the card; used to pre-fill. */
  chipDetails?: { fullName?: string; dateOfBirth?: string; sex?: 'M' | 'F'; nationalId?: string; address?: string; placeOfOrigin?: string };
  /** Which access control opened the chip (carried in the record). */
  access?: { protocol: 'PACE' | 'BAC'; password: 'MRZ' | 'CAN'; mapping?: 'GM' | 'IM' | 'CAM' };
}

export interface ChipPort {
  /** Opens the chip with the MRZ information (BAC, or PACE with the MRZ) or the 6-digit CAN (PACE), whichever the officer entered. */
  readChip(key: ChipKey, opts: { signal: AbortSignal; onProgress?: (p: CaptureProgress) => void }): Promise<ChipReadResult>;
}

/** One captured finger or the reason it is missing. */
export type FingerEntry =
  | { position: FingerPosition; capture: FingerCaptureResult; exception?: undefined; photo?: undefined; photoError?: undefined }
  | { position: FingerPosition; capture?: undefined; exception: { code: ExceptionCode; reason: string }; photo?: EvidencePhoto | null; photoError?: string };

/** A plain photo taken as evidence (e.g. of the hand for a finger exception): no face check. */
export interface EvidencePhoto { jpeg: Buffer; width: number; height: number }

export interface PersonalDetails {
  fullName: string;
  /** YYYY-MM-DD */
  dateOfBirth: string;
  sex: 'M' | 'F' | 'X';
  /** 12-digit personal identification number (may be empty for a first-time enrollment of a child). */
  nationalId: string;
  nationality: string;
  placeOfOrigin: string;
  address: string;
  /** Administrative unit (ward/commune) code the person is registered in. */
  unitCode: string;
  phone: string;
  /** e-ID activation only: document number of the card being activated. */
  documentNumber: string;
  /** e-ID activation only: YYYY-MM-DD. */
  documentExpiry: string;
}

/** The session's kind is the record's kind (config/domain.ts RECORD_KINDS). */
export type EnrollmentKind = RecordKind;

/** Everything the officer confirmed; handed to the sealer (memory only). */
/** A second officer's co-signature as the record carries it (record `overrides[]`). */
export interface OverrideEntry {
  kind: OverrideKind;
  code: string;
  /** The second officer. */
  officerId: string;
  at: number;
  reason: string;
  /** chip-details-mismatch: the compared fields that differ; finger-exception: the finger positions (decimal). */
  fields?: string[];
}

export interface EnrollmentDraft {
  sessionId: string;
  /**
   * The record id the workflow chose before sealing (and wrote into the session
   * marker, so that after a power cut the vault can be asked whether it was sealed).
   */
  recordId?: string;
  kind: EnrollmentKind;
  officerId: string;
  startedAt: number;
  confirmedAt: number;
  details: PersonalDetails;
  fingerprints: FingerEntry[];
  portrait: { capture: PortraitResult; exception?: undefined } | { capture?: undefined; exception: { code: ExceptionCode; reason: string } };
  chip?: { read: ChipReadResult; exception?: undefined } | { read?: undefined; exception: { code: ExceptionCode; reason: string } };
  /** Refusals a second officer overrode with their PIN (station/workflow/cosign.ts), in the order given. */
  overrides?: OverrideEntry[];
  /** The person's consent, given on the touchscreen before capture (config consent). */
  consent?: ConsentGiven;
}

/** The consent text the station shows before capture (config `consent`), per language. */
export interface ConsentText {
  version: string;
  text: Partial<Record<'vi' | 'en', string>> & { vi: string };
}

/** What the person confirmed: the text's version, language and SHA-256 (hex), and when. */
export interface ConsentGiven { version: string; language: 'vi' | 'en'; sha256: string; at: number }

export interface SealerPort {
  /** Seals the draft into the vault (under draft.recordId when given); resolves once it is durable. */
  seal(draft: EnrollmentDraft): Promise<{ recordId: string }>;
  /** Whether a record with this id is in the vault, and when it was sealed (null: never sealed). */
  lookup?(recordId: string): { sealedAt: number } | null;
}

export type GuardVerdict = { ok: true } | {
  ok: false; code: string; message: string; hint?: string;
  /** For `locked`: who locked the station, when, and the reason they gave (free text from headquarters or the tamper switch). */
  lock?: { by: string; at: number | null; reason: string };
};

export interface StationGuardPort {
  /** Whether a new session may start (and whether sealing may proceed): locked, offline policy, disk reserve, keys. */
  canEnroll(): GuardVerdict | Promise<GuardVerdict>;
}

export interface UplinkStatus {
  /** Records sealed but not yet acknowledged by headquarters. */
  waiting: number;
  /** ms since epoch of the last valid receipt, or null. */
  lastSyncAt: number | null;
  connected?: boolean;
  /** ms since epoch of the last moment the station was in contact with the broker (now while connected), or null. */
  lastContactAt?: number | null;
  /**
   * The station clock against headquarters' signed time (station/clock.ts): `skewed` when it is further
   * off than headquarters.maxClockSkewMinutes (`offsetMin`: trusted minus local, whole minutes);
   * `unset` when it reads before this release and no signed time has arrived yet.
   */
  clock?: { skewed: boolean; offsetMin: number | null; unset: boolean };
}

export interface UplinkStatusPort {
  status(): UplinkStatus | Promise<UplinkStatus>;
}

/**
 * ready/simulated: green; busy: working; degraded (amber): present but its last
 * operation failed; error/absent (red): missing, disconnected or failing to open.
 */
export type DeviceStateName = 'ready' | 'busy' | 'degraded' | 'error' | 'absent' | 'simulated';

export interface DeviceState {
  /** 'fingerprint' | 'camera' | 'card' | 'gpio' | … */
  device: string;
  state: DeviceStateName;
  /** Driver text (English, for logs and technicians). */
  detail?: string;
  /** Error code of the failure (FP_*, CAM_*, CARD_*), which the kiosk translates. */
  code?: string;
  /** Since when (ms since epoch) the device is in this state, when known. */
  since?: number;
}

export interface DeviceStatusPort {
  states(): DeviceState[];
}

/** The officer's own smart card (optional second factor at login). */
export interface OfficerCardPort {
  /** Reads the card in the officer reader: its ATR and (where the reader gives one) UID, as hex. */
  readIdentity(opts?: { signal?: AbortSignal }): Promise<{ atr: string; uid: string | null }>;
}
