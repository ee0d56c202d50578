/**
 * The enrollment workflow: officer login and one explicit state machine per
 * session. Everything personal or biometric lives in this process's memory
 * only; the one thing written to disk is a marker naming the session in
 * progress (id, officer, kind, step, times and — from confirm on — the record
 * id it is sealed under; nothing about the person) so that after a power cut
 * the kiosk can say what happened to it: the vault is asked whether that
 * record id was sealed.
 *
 *   (no session) ──start──▶ kind ──choose──▶ details ──valid──▶ fingerprints ──all done──▶ portrait
 *        ▲                                                                                  │
 *        │                                    activation: chip ◀───────────────────────────┤
 *        │                                                  │                               │ enrollment
 *        └──finish── sealed ◀──seal ok── sealing ◀─confirm── review ◀─────────────────────────┘
 *   abort from any step discards the session; review can go back to any completed step.
 */
import { EventEmitter } from 'node:events';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { existsSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { writeFileDurable } from '../../config/durable';
import { v7 as uuidv7 } from 'uuid';
import type { Logger } from 'pino';
import { StationError } from '../../drivers/common/errors';
import type { ErrorCode } from '../../config/error-codes';
import type { LoginResult, Officer } from '../officers/store';
import type { ProgressCounters } from '../progress';
import { CAPTURE_EXCEPTIONS, FINGER_POSITIONS, OVERRIDE_KIND_CODES, RECORD_KINDS, isExceptionFor, isFingerPosition, isOverrideKind, isRecordKind, type OverrideStep } from '../../config/domain';
import type { RepeatRegisterPort } from '../repeats';
import { blockersOf, cosignFor, prefillFromChip, type Blocker, type Cosignature } from './cosign';
import {
  type CameraPort, type CaptureProgress, type ChipPort, type ChipReadResult, type DeviceState, type DeviceStatusPort, type EnrollmentDraft, type EvidencePhoto, type ConsentGiven, type ConsentText,
  type EnrollmentKind, type ExceptionCode, type FingerCaptureResult, type FingerEntry, type FingerPosition, type FingerprintPort,
  type ChipKey, type GuardVerdict, type MrzInfo, type OfficerCardPort, type PersonalDetails, type PortraitResult, type SealerPort,
  type StationGuardPort, type UplinkStatus, type UplinkStatusPort,
} from './ports';
import { normaliseDetails, toYymmdd, validateDetails, type FieldError } from './validate';
import { DeviceHealth, type DeviceName } from './device-health';

export type Step = 'kind' | 'consent' | 'details' | 'fingerprints' | 'portrait' | 'chip' | 'review' | 'sealing' | 'sealed';

// The person consents before anything about them is typed, read from a chip or captured.
export const STEPS_ENROLLMENT: readonly Step[] = ['kind', 'consent', 'details', 'fingerprints', 'portrait', 'review', 'sealed'];
export const STEPS_ACTIVATION: readonly Step[] = ['kind', 'consent', 'details', 'fingerprints', 'portrait', 'chip', 'review', 'sealed'];

/** What the workflow needs from the officer store (OfficerStore implements it). */
export interface OfficerDirectory {
  verify(id: string, pin: string, readCard?: () => Promise<{ atr: string; uid: string | null }>): Promise<LoginResult>;
  /** The officers (only their ids are used: whether they are all digits, for the login keypad). */
  list?(): Array<{ id: string }>;
}

export interface WorkflowDeps {
  /** The consent text shown to the person before capture (config `consent`). Required: no consent, no capture. */
  consent: ConsentText;
  /** The campaign's repeat register (station/repeats.ts); without it no repeat check runs (benches). */
  repeats?: RepeatRegisterPort;
  officers: OfficerDirectory;
  fingerprint: FingerprintPort;
  camera: CameraPort;
  chip?: ChipPort;
  sealer: SealerPort;
  guard: StationGuardPort;
  uplink?: UplinkStatusPort;
  devices?: DeviceStatusPort;
  officerCard?: OfficerCardPort;
  progress?: Pick<ProgressCounters, 'record'> & Partial<Pick<ProgressCounters, 'today'>>;
  /** The unit's daily quota (config station.unit.dailyQuota; 0 = none), shown with today's count. */
  dailyQuota?: number;
  /** Finger positions to capture, in order (config devices.fingerprint.positions). */
  positions: readonly FingerPosition[] | readonly number[];
  /** Default administrative unit code for the details form (config station.unit.code). */
  defaultUnit: string;
  /** Idle officer sessions are logged out after this (config kiosk.idleLogoutSeconds × 1000). */
  idleLogoutMs: number;
  /**
   * Absolute lifetime of an officer login, however active (config kiosk.loginLifetimeMinutes;
   * default 4 h). At the end the officer is logged out, except that a person's session in
   * progress may be finished for up to LOGIN_GRACE_MS more; no new session starts meanwhile.
   */
  loginLifetimeMs?: number;
  /**
   * A session in progress when its officer is logged out for inactivity is kept
   * (in memory) this long for the same officer to log back in and continue;
   * another officer's login discards it at once. Default 30 minutes.
   */
  parkedSessionMs?: number;
  /** `<dataDir>/session.marker`; null disables the lost-session marker (benches). */
  markerFile: string | null;
  logger: Logger;
  now?: () => number;
}

export interface ErrorInfo {
  op: string; code: string; message: string; hint?: string; position?: number; /** FP_DUPLICATE_FINGER: the finger of this session it matched. */ matchedPosition?: number;
  /** CARD_ACCESS_DENIED / CARD_PACE_BLOCKED: the password the chip refused (the 6-digit CAN or the MRZ information). */
  password?: 'CAN' | 'MRZ';
  /** CARD_ACCESS_DENIED: the tries the chip's retry counter still allows, when the chip reports it (63Cx). */
  attemptsLeft?: number;
}

/**
 * The session a previous run of the station was in when it stopped. `sealed`
 * comes from the vault, asked about the record id the marker held: true means
 * the person's record is safe and must NOT be enrolled again.
 */
export interface LostSessionInfo {
  sessionId: string; officerId: string; kind: EnrollmentKind | null; step: Step; startedAt: number; lostDetectedAt: number;
  recordId: string | null;
  sealed: boolean;
  sealedAt: number | null;
  /** Short reference of the sealed record (as on the sealed screen), or null. */
  recordRef: string | null;
}

/** The officer-facing short reference of a record id: its last 8 hex digits, "ABCD-1234". */
export function recordRef(recordId: string): string {
  const hex = recordId.replace(/[^0-9a-fA-F]/g, '').toUpperCase();
  const tail = hex.slice(-8);
  return `${tail.slice(0, 4)}-${tail.slice(4)}`;
}

interface Session {
  id: string;
  officerId: string;
  kind: EnrollmentKind | null;
  step: Step;
  startedAt: number;
  completed: Set<Step>;
  editingFromReview: boolean;
  details: PersonalDetails | null;
  draftDetails: PersonalDetails | null;
  detailErrors: FieldError[];
  fingers: Map<FingerPosition, FingerEntry>;
  fingerCandidates: Map<FingerPosition, FingerCaptureResult>;
  portrait: EnrollmentDraft['portrait'] | null;
  portraitCandidate: PortraitResult | null;
  chip: EnrollmentDraft['chip'] | null;
  chipCandidate: ChipReadResult | null;
  /** Second officers' co-signatures given in this session (station/workflow/cosign.ts). */
  cosigns: Cosignature[];
  /** The person's consent (the consent step); nothing is captured without it. */
  consent: ConsentGiven | null;
  /** The repeat register's entry for the details' national ID number, when it has one. */
  repeat: { hash: string; enrolledAt: number; recordRef: string } | null;
  /** The keyed hash of the details' national ID number (remembered once sealed). */
  personHash: string | null;
  busy: null | { op: 'finger' | 'portrait' | 'chip' | 'seal'; position?: number; progress?: CaptureProgress };
  abort: AbortController | null;
  lastError: ErrorInfo | null;
  /** Chosen at confirm (before sealing) and kept in the marker; the record's id once sealed. */
  recordId: string | null;
  sealedAt: number | null;
}

interface OfficerSession { token: string; officer: { id: string; name: string }; createdAt: number; expiresAt: number }

export const DEFAULT_LOGIN_LIFETIME_MS = 4 * 3_600_000;
/** After a login's lifetime, how long a session already in progress may still be finished. */
export const LOGIN_GRACE_MS = 30 * 60_000;

/** Everything the kiosk shows, without images (those come from the preview calls). */
export interface WorkflowView {
  officer: { id: string; name: string } | null;
  idleLogoutMs: number;
  /** When this login ends regardless of activity (ms since epoch); past it only the session in progress may be finished. */
  loginExpiresAt: number | null;
  /** How long before the idle logout the kiosk shows its countdown. */
  idleWarnMs: number;
  /** While the countdown runs: ms left before the idle logout; otherwise null. */
  idleRemainingMs: number | null;
  positions: FingerPosition[];
  defaultUnit: string;
  guard: GuardVerdict;
  lostSession: LostSessionInfo | null;
  /** Today's sealed records for the station's unit (campaign progress), when counters are wired. */
  today: { day: string; enrollments: number; activations: number; quota: number } | null;
  session: null | {
    id: string;
    kind: EnrollmentKind | null;
    step: Step;
    steps: readonly Step[];
    completed: Step[];
    startedAt: number;
    details: PersonalDetails | null;
    draftDetails: PersonalDetails | null;
    detailErrors: FieldError[];
    /** The consent the person gave in this session (the text itself: consentText()). */
    consent: { version: string; language: 'vi' | 'en'; at: number } | null;
    /** At the consent step: the texts to show, each with the SHA-256 to send back with the answer. */
    consentText: { version: string; texts: { language: 'vi' | 'en'; text: string; sha256: string }[] } | null;
    fingers: Array<{
      position: FingerPosition; status: 'pending' | 'captured' | 'candidate' | 'exception'; quality?: number; threshold?: number; attempts?: number; passed?: boolean; exception?: { code: ExceptionCode; reason: string };
      /** For an exception: whether the evidence photo of the hand was taken (`failed`: the camera's error code is in photoError). */
      photo?: 'taken' | 'failed' | 'none'; photoError?: string;
    }>;
    currentFinger: FingerPosition | null;
    portrait: { status: 'pending' | 'captured' | 'rejected' | 'exception'; verdict?: string; metrics?: Record<string, number>; checks?: PortraitResult['checks']; reasons?: { code: string; message: string }[]; exception?: { code: ExceptionCode; reason: string } };
    chip: null | {
      status: 'pending' | 'read' | 'rejected' | 'exception'; mrzFields?: Record<string, string | null>; passiveAuth?: ChipReadResult['passiveAuth']; hasFace?: boolean; exception?: { code: ExceptionCode; reason: string };
      /**
       * The person's details as the chip gives them (DG13 of a Vietnamese citizen card first, with
       * diacritics, else DG1), keyed like the details form: what the page pre-fills and marks
       * "read from chip" while a field still holds that value. Display only; the record keeps DG1/SOD.
       */
      fromChip?: Partial<Record<keyof PersonalDetails, string>>;
      /** Which access control opened the chip (PACE or BAC, with the CAN or the MRZ). */
      access?: ChipReadResult['access'];
    };
    /**
     * What the booth refuses in this session until a second officer co-signs: kind and
     * reason code (the kiosk shows them in words), the step it stops, for a mismatch the
     * fields side by side, and the co-signature once given.
     */
    blockers: Array<Omit<Blocker, 'subject'> & { cosigned: null | { officerId: string; at: number; reason: string } }>;
    busy: Session['busy'];
    lastError: ErrorInfo | null;
    /** Set once sealed. */
    recordId: string | null;
    recordRef: string | null;
    sealedAt: number | null;
    /** Finger quality threshold of the configured scanner, when known (for the gauge). */
    fingerThreshold: number | null;
  };
}

function httpish(code: ErrorCode, message: string, hint?: string, details?: Record<string, unknown>): StationError {
  return new StationError(code, message, { hint, details });
}

/** A WORKFLOW_INPUT error with a stable `rule` the kiosk translates (`input.<rule>`). */
function inputError(rule: string, message: string, hint?: string): StationError {
  return httpish('WORKFLOW_INPUT', message, hint, { rule });
}

const DEVICE_OF: Record<'finger' | 'portrait' | 'chip', DeviceName> = { finger: 'fingerprint', portrait: 'camera', chip: 'card' };

interface Marker {
  sessionId: string; officerId: string; kind: EnrollmentKind | null; step: Step; startedAt: number; updatedAt: number;
  recordId?: string | null; sealedAt?: number | null;
}

function wipe(b: Buffer | undefined): void { if (b) b.fill(0); }

function sha256Hex(text: string): string { return createHash('sha256').update(text, 'utf8').digest('hex'); }

export class Workflow extends EventEmitter {
  private readonly positions: FingerPosition[];
  private readonly now: () => number;
  private readonly log: Logger;
  private officerSessions = new Map<string, OfficerSession>();
  private activeOfficer: { id: string; name: string } | null = null;
  private session: Session | null = null;
  private lastActivity = 0;
  private idleTimer: NodeJS.Timeout | null = null;
  private lifetimeTimer: NodeJS.Timeout | null = null;
  private idleWarnTimer: NodeJS.Timeout | null = null;
  private idleWarned = false;
  /** A session whose officer was logged out for inactivity, kept for that officer's return. */
  private parked: { session: Session; officerId: string; at: number; timer: NodeJS.Timeout } | null = null;
  private readonly health = new DeviceHealth();
  private lost: LostSessionInfo | null = null;
  private guardCache: GuardVerdict = { ok: true };
  private stopped = false;

  constructor(private readonly deps: WorkflowDeps) {
    super();
    this.setMaxListeners(100);
    const pos = (deps.positions.length ? deps.positions : FINGER_POSITIONS) as number[];
    for (const p of pos) if (!isFingerPosition(p)) throw new StationError('WORKFLOW_CONFIG', `finger position ${p} is not an ISO/IEC 19794-4 code 1–10`, { exitCode: 2 });
    this.positions = [...new Set(pos)] as FingerPosition[];
    this.now = deps.now ?? Date.now;
    this.log = deps.logger;
  }

  /** Reads the lost-session marker left by a previous run (call once at start). */
  async start(): Promise<void> {
    const f = this.deps.markerFile;
    if (f) {
      const lostFile = `${f}.lost`;
      try {
        if (existsSync(f)) {
          const m = JSON.parse(readFileSync(f, 'utf8')) as Marker;
          const recordId = typeof m.recordId === 'string' && m.recordId ? m.recordId : null;
          // The vault, not the marker, says whether the record was sealed: the process may have died
          // after the vault's commit and before the marker was updated, or the other way round.
          const found = recordId ? this.lookupSealed(recordId) : null;
          this.lost = {
            sessionId: String(m.sessionId), officerId: String(m.officerId), kind: markerKind(m.kind), step: m.step, startedAt: Number(m.startedAt), lostDetectedAt: this.now(),
            recordId, sealed: found !== null, sealedAt: found?.sealedAt ?? null, recordRef: found && recordId ? recordRef(recordId) : null,
          };
          writeFileDurable(lostFile, JSON.stringify(this.lost));
          unlinkSync(f);
          if (this.lost.sealed) this.log.warn({ sessionId: this.lost.sessionId, recordId }, 'the station stopped after this session\'s record was sealed; the officer is told it is safe');
          else this.log.warn({ sessionId: this.lost.sessionId, step: this.lost.step }, 'an unsealed session was lost when the station stopped');
        } else if (existsSync(lostFile)) {
          const l = JSON.parse(readFileSync(lostFile, 'utf8')) as Partial<LostSessionInfo> & Omit<LostSessionInfo, 'recordId' | 'sealed' | 'sealedAt' | 'recordRef'>;
          this.lost = { recordId: null, sealed: false, sealedAt: null, recordRef: null, ...l };
        }
      } catch (e) {
        this.log.error({ err: e, file: f }, 'could not read the session marker');
        this.lost = { sessionId: 'unknown', officerId: 'unknown', kind: null, step: 'kind', startedAt: 0, lostDetectedAt: this.now(), recordId: null, sealed: false, sealedAt: null, recordRef: null };
        try { unlinkSync(f); } catch { /* already gone */ }
      }
    }
    await this.refreshGuard();
  }

  private lookupSealed(recordId: string): { sealedAt: number } | null {
    try {
      return this.deps.sealer.lookup?.(recordId) ?? null;
    } catch (e) {
      this.log.error({ err: e, recordId }, 'could not ask the vault whether a record was sealed');
      return null;
    }
  }

  /**
   * Wipes any session in memory and stops timers. The marker stays: after the
   * restart the officer is told what happened to the session (sealed or not).
   */
  stop(): void {
    this.stopped = true;
    if (this.session) this.discard('station stopping', { keepMarker: true });
    if (this.parked) this.discardParked('station stopping', { keepMarker: true });
    this.clearIdleTimers();
    if (this.lifetimeTimer) clearTimeout(this.lifetimeTimer);
    this.lifetimeTimer = null;
    this.officerSessions.clear();
    this.activeOfficer = null;
    this.removeAllListeners();
  }

  // ───────────────────────── officers ─────────────────────────

  async login(officerId: string, pin: string): Promise<{ token: string; officer: { id: string; name: string }; restored: boolean }> {
    if (typeof officerId !== 'string' || typeof pin !== 'string' || !officerId.trim() || !pin) {
      throw inputError(!officerId || !String(officerId).trim() ? 'login_no_id' : 'login_no_pin', 'officer id and PIN are required', 'type the officer id and the PIN');
    }
    const card = this.deps.officerCard;
    const res = await this.deps.officers.verify(officerId, pin, card ? () => card.readIdentity() : undefined);
    if (!res.ok) {
      this.log.warn({ officerId, code: res.code }, 'officer login refused');
      this.emit('audit', { kind: 'login', officerId: officerId.slice(0, 64), result: 'refused', reason: res.code });
      const msg: Record<string, string> = {
        OFFICER_BAD_CREDENTIALS: 'wrong officer id or PIN',
        OFFICER_LOCKED: 'this officer is locked after too many wrong PINs',
        OFFICER_RATE_LIMITED: 'too many login attempts on this station; wait before trying again',
        OFFICER_CARD_REQUIRED: 'this officer must also present their officer card in the officer reader',
        OFFICER_CARD_MISMATCH: 'the card in the officer reader is not this officer’s card',
      };
      throw httpish(res.code, msg[res.code] ?? 'login refused', undefined, { ...res });
    }
    const officer: Officer = res.officer;
    if (this.activeOfficer && this.activeOfficer.id !== officer.id) {
      this.log.info({ previous: this.activeOfficer.id, officerId: officer.id }, 'another officer logged in; previous officer logged out');
      this.logoutAll('replaced');
    }
    let restored = false;
    if (this.parked) {
      if (this.parked.officerId === officer.id && !this.session) {
        clearTimeout(this.parked.timer);
        this.session = this.parked.session;
        this.parked = null;
        restored = true;
        this.log.info({ officerId: officer.id, sessionId: this.session.id, step: this.session.step }, 'session restored for its officer after an idle logout');
      } else {
        this.discardParked('another officer logged in');
      }
    }
    const token = randomBytes(32).toString('base64url');
    const createdAt = this.now();
    this.officerSessions.set(token, { token, officer: { id: officer.id, name: officer.name }, createdAt, expiresAt: createdAt + this.lifetimeMs });
    this.activeOfficer = { id: officer.id, name: officer.name };
    this.touch();
    this.scheduleLifetime();
    this.log.info({ officerId: officer.id }, 'officer logged in');
    this.emit('audit', { kind: 'login', officerId: officer.id, result: 'ok' });
    this.changed();
    return { token, officer: { id: officer.id, name: officer.name }, restored };
  }

  /** Whether every officer id is made of digits (the login page then offers a numeric keypad for it). */
  officerIdsNumeric(): boolean {
    try {
      const list = this.deps.officers.list?.();
      return !!list && list.length > 0 && list.every((o) => /^\d+$/.test(o.id));
    } catch {
      return false;
    }
  }

  /** Any input on the kiosk page (a key, a tap): counts as activity. */
  activity(token: string): { idleLogoutMs: number } {
    this.auth(token);
    return { idleLogoutMs: this.deps.idleLogoutMs };
  }

  /** Returns the officer for a valid token, or throws WORKFLOW_AUTH. Counts as activity unless `passive`. */
  auth(token: string | undefined | null, passive = false): { id: string; name: string } {
    const s = token ? this.officerSessions.get(token) : undefined;
    if (!s) throw httpish('WORKFLOW_AUTH', 'no valid officer session', 'log in again');
    const t = this.now();
    if (t >= s.expiresAt && (t >= s.expiresAt + LOGIN_GRACE_MS || !this.sessionInProgress())) {
      this.expireLogins();
      throw httpish('WORKFLOW_AUTH', 'the officer login has reached its maximum lifetime', 'log in again with your PIN');
    }
    if (!passive) this.touch();
    return s.officer;
  }

  private get lifetimeMs(): number { return this.deps.loginLifetimeMs ?? DEFAULT_LOGIN_LIFETIME_MS; }

  /** A person's session that logging out now would discard. */
  private sessionInProgress(): boolean { return this.session !== null && this.session.step !== 'sealed'; }

  private expireLogins(): void {
    if (!this.officerSessions.size) return;
    this.log.info({ officerId: this.activeOfficer?.id }, 'officer login reached its maximum lifetime');
    this.logoutAll('expired');
    this.changed();
  }

  /** Wakes at the end of the oldest login's lifetime (and of its grace while a session is in progress). */
  private scheduleLifetime(): void {
    if (this.lifetimeTimer) clearTimeout(this.lifetimeTimer);
    this.lifetimeTimer = null;
    if (this.stopped || !this.officerSessions.size) return;
    const first = Math.min(...[...this.officerSessions.values()].map((o) => o.expiresAt));
    const t = this.now();
    const due = t < first ? first : this.sessionInProgress() ? first + LOGIN_GRACE_MS : t;
    this.lifetimeTimer = setTimeout(() => {
      this.lifetimeTimer = null;
      const now = this.now();
      if (now >= first && (now >= first + LOGIN_GRACE_MS || !this.sessionInProgress())) this.expireLogins();
      else this.scheduleLifetime();
    }, Math.max(0, due - t) + 5);
    this.lifetimeTimer.unref();
  }

  logout(token: string): void {
    this.auth(token, true);
    const s = this.officerSessions.get(token)!;
    this.officerSessions.delete(token);
    if (![...this.officerSessions.values()].some((o) => o.officer.id === s.officer.id)) {
      if (this.session) this.discard('officer logged out');
      this.activeOfficer = null;
    }
    this.log.info({ officerId: s.officer.id }, 'officer logged out');
    this.emit('audit', { kind: 'logout', officerId: s.officer.id, result: 'ok', reason: 'logout' });
    this.emit('logout', { reason: 'logout', tokens: [token] });
    this.changed();
  }

  private logoutAll(reason: 'idle' | 'replaced' | 'expired'): void {
    const tokens = [...this.officerSessions.keys()];
    if (this.activeOfficer) this.emit('audit', { kind: 'logout', officerId: this.activeOfficer.id, result: 'ok', reason });
    let parked = false;
    const s = this.session;
    if (s && reason === 'idle' && s.step !== 'sealed' && !s.busy) {
      // Kept for the same officer: typing the PIN again must not cost the person their fingerprints.
      const ms = this.deps.parkedSessionMs ?? 30 * 60_000;
      const timer = setTimeout(() => { if (this.parked?.session === s) { this.discardParked('not resumed in time'); this.changed(); } }, ms);
      timer.unref();
      this.parked = { session: s, officerId: s.officerId, at: this.now(), timer };
      this.session = null;
      parked = true;
      this.log.info({ sessionId: s.id, officerId: s.officerId, step: s.step, keepMs: ms }, 'session kept for its officer after an idle logout');
    } else if (s) {
      this.discard(reason === 'idle' ? 'idle logout' : reason === 'expired' ? 'officer login expired' : 'another officer logged in');
    }
    this.officerSessions.clear();
    this.activeOfficer = null;
    this.clearIdleTimers();
    this.emit('logout', { reason, tokens, parked });
  }

  /** How long before the idle logout the countdown shows: a quarter of the limit, 10 s to 60 s, at most half of it. */
  private idleWarnMs(): number {
    const i = this.deps.idleLogoutMs;
    return Math.min(60_000, Math.max(10_000, i / 4), i / 2);
  }

  private clearIdleTimers(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    if (this.idleWarnTimer) clearTimeout(this.idleWarnTimer);
    this.idleTimer = null;
    this.idleWarnTimer = null;
    this.idleWarned = false;
  }

  private touch(): void {
    this.lastActivity = this.now();
    if (this.stopped) return;
    if (this.idleWarned) {
      this.idleWarned = false;
      this.emit('idle', { tokens: [...this.officerSessions.keys()], remainingMs: null, warnMs: this.idleWarnMs() });
    }
    this.scheduleIdle();
  }

  private scheduleIdle(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    if (this.idleWarnTimer) clearTimeout(this.idleWarnTimer);
    this.idleTimer = this.idleWarnTimer = null;
    if (this.stopped || !this.officerSessions.size) return;
    const limit = this.deps.idleLogoutMs;
    const since = this.now() - this.lastActivity;
    this.idleTimer = setTimeout(() => this.checkIdle(), Math.max(0, limit - since) + 5);
    this.idleTimer.unref();
    if (!this.idleWarned) {
      this.idleWarnTimer = setTimeout(() => this.checkIdleWarning(), Math.max(0, limit - this.idleWarnMs() - since) + 5);
      this.idleWarnTimer.unref();
    }
  }

  private checkIdleWarning(): void {
    this.idleWarnTimer = null;
    if (!this.officerSessions.size || this.idleWarned) return;
    if (this.session?.busy) { this.touch(); return; }
    const limit = this.deps.idleLogoutMs;
    const warn = this.idleWarnMs();
    const since = this.now() - this.lastActivity;
    if (since < limit - warn) { this.scheduleIdle(); return; }
    this.idleWarned = true;
    this.emit('idle', { tokens: [...this.officerSessions.keys()], remainingMs: Math.max(0, limit - since), warnMs: warn });
  }

  private checkIdle(): void {
    this.idleTimer = null;
    if (!this.officerSessions.size) return;
    const idle = this.now() - this.lastActivity;
    if (this.session?.busy) { this.touch(); return; }
    if (idle >= this.deps.idleLogoutMs) {
      this.log.info({ officerId: this.activeOfficer?.id, idleMs: idle }, 'idle logout');
      this.logoutAll('idle');
      this.changed();
    } else {
      this.idleTimer = setTimeout(() => this.checkIdle(), this.deps.idleLogoutMs - idle + 5);
      this.idleTimer.unref();
    }
  }

  // ───────────────────────── station status ─────────────────────────

  async refreshGuard(): Promise<GuardVerdict> {
    try {
      this.guardCache = await this.deps.guard.canEnroll();
    } catch (e) {
      this.guardCache = { ok: false, code: 'GUARD_ERROR', message: `could not check whether the station may enroll: ${(e as Error).message}` };
    }
    return this.guardCache;
  }

  async uplinkStatus(): Promise<UplinkStatus | null> {
    if (!this.deps.uplink) return null;
    try { return await this.deps.uplink.status(); } catch { return null; }
  }

  /** Device states with the last operations' outcomes applied (device-health.ts). */
  deviceStates(): DeviceState[] {
    let base: DeviceState[] = [];
    try { base = this.deps.devices?.states() ?? []; } catch { /* none */ }
    return this.health.merge(base);
  }

  /** Something outside the workflow changed what the kiosk shows (upload count, connection): push it now. */
  statusChanged(): void { this.changed(); }

  private deviceResult(device: DeviceName, e: unknown): void {
    const at = this.now();
    const o = e === undefined ? { ok: true as const, at }
      : { ok: false as const, at, code: e instanceof StationError ? e.code : 'DEVICE_ERROR', message: e instanceof Error ? e.message : String(e) };
    if (this.health.record(device, o)) {
      this.emit('device', { device, ...o });
      this.changed();
    }
  }

  lostSession(): LostSessionInfo | null { return this.lost; }

  dismissLost(token: string): void {
    this.auth(token);
    if (this.lost) this.log.info({ sessionId: this.lost.sessionId, sealed: this.lost.sealed }, 'officer acknowledged the interrupted-session notice');
    this.lost = null;
    if (this.deps.markerFile) { try { unlinkSync(`${this.deps.markerFile}.lost`); } catch { /* none */ } }
    this.changed();
  }

  // ───────────────────────── session transitions ─────────────────────────

  async startSession(token: string): Promise<WorkflowView> {
    const officer = this.auth(token);
    if (this.session && this.session.step !== 'sealed') throw httpish('WORKFLOW_STEP', 'a session is already in progress', 'finish or abort it first', { rule: 'session_in_progress' });
    if (this.session) this.clearSession();
    const g = await this.refreshGuard();
    if (!g.ok) {
      this.log.warn({ code: g.code }, 'session refused by the station guard');
      this.changed();
      throw httpish('WORKFLOW_REFUSED', g.message, g.hint, { reason: g.code });
    }
    this.session = {
      id: randomUUID(), officerId: officer.id, kind: null, step: 'kind', startedAt: this.now(), completed: new Set(),
      editingFromReview: false, details: null, draftDetails: null, detailErrors: [], fingers: new Map(), fingerCandidates: new Map(),
      portrait: null, portraitCandidate: null, chip: null, chipCandidate: null, cosigns: [], consent: null, repeat: null, personHash: null, busy: null, abort: null, lastError: null, recordId: null, sealedAt: null,
    };
    this.log.info({ sessionId: this.session.id, officerId: officer.id }, 'session started');
    this.writeMarker({ durable: true });
    this.changed();
    return this.view(token);
  }

  chooseKind(token: string, kind: EnrollmentKind): WorkflowView {
    const s = this.expect(token, ['kind']);
    if (!isRecordKind(kind)) throw inputError('kind', `unknown session kind "${String(kind)}"`, `choose one of ${RECORD_KINDS.join(', ')}`);
    if (kind === 'eid-activation' && !this.deps.chip) throw httpish('WORKFLOW_REFUSED', 'e-ID activation needs a card reader, and none is configured', 'configure devices.card', { reason: 'no_card_reader' });
    s.kind = kind;
    this.complete(s, 'kind', 'consent');
    return this.view(token);
  }

  /**
   * The person read the consent text on the screen and confirmed (or declined).
   * `sha256` is the hash of the text the page showed (from the view): a page that
   * showed another version or language is refused, so the record's hash is the
   * text the person saw. Declining ends the session: nothing has been captured.
   */
  giveConsent(token: string, input: { accepted?: unknown; language?: unknown; sha256?: unknown }): WorkflowView {
    const s = this.expect(token, ['consent']);
    const lang = input.language === undefined ? 'vi' : input.language;
    if (lang !== 'vi' && lang !== 'en') throw inputError('consent_language', `consent language "${String(lang)}" is not one of vi, en`);
    const text = this.deps.consent.text[lang];
    if (!text) throw inputError('consent_language', `there is no ${lang} consent text in the configuration`, 'show the Vietnamese text');
    const sha = sha256Hex(text);
    if (input.accepted === false) {
      this.log.info({ sessionId: s.id, version: this.deps.consent.version, language: lang }, 'the person declined consent; session ended before any capture');
      this.emit('audit', { kind: 'consent', sessionId: s.id, officerId: s.officerId, version: this.deps.consent.version, language: lang, result: 'declined' });
      this.discard('consent declined');
      this.changed();
      return this.view(token);
    }
    if (input.accepted !== true) throw inputError('consent_answer', 'the consent answer must be accepted: true or false', 'the person taps "agree" or "do not agree"');
    if (input.sha256 !== sha) {
      throw httpish('WORKFLOW_INPUT', 'the consent text on the screen is not the configured one (another version or language)', 'reload the page and let the person read the text again', { rule: 'consent_text_changed' });
    }
    s.consent = { version: this.deps.consent.version, language: lang, sha256: sha, at: this.now() };
    this.log.info({ sessionId: s.id, version: s.consent.version, language: lang }, 'consent given');
    this.complete(s, 'consent', 'details');
    return this.view(token);
  }

  /** The configured consent text, for the page (no token needed: it is public). */
  consentText(): { version: string; texts: { language: 'vi' | 'en'; text: string; sha256: string }[] } {
    const c = this.deps.consent;
    return { version: c.version, texts: (['vi', 'en'] as const).flatMap((l) => (c.text[l] ? [{ language: l, text: c.text[l]!, sha256: sha256Hex(c.text[l]!) }] : [])) };
  }

  /** Validates details field by field; on errors the session stays on the details step and the reasons are returned. */
  submitDetails(token: string, input: unknown): { ok: boolean; errors: FieldError[]; view: WorkflowView } {
    const s = this.expect(token, ['details']);
    const d = normaliseDetails(input);
    if (!d.unitCode) d.unitCode = this.deps.defaultUnit;
    const errors = validateDetails(d, s.kind!, this.now());
    s.draftDetails = d;
    s.detailErrors = errors;
    if (errors.length) {
      this.changed();
      return { ok: false, errors, view: this.view(token) };
    }
    // A chip read with other MRZ data (document number, dates) no longer belongs to this person's details.
    const prev = s.details;
    if (prev && (s.chip || s.chipCandidate) && (prev.documentNumber !== d.documentNumber || prev.dateOfBirth !== d.dateOfBirth || prev.documentExpiry !== d.documentExpiry)) {
      this.wipeChip(s);
      s.completed.delete('chip');
    }
    s.details = d;
    this.checkRepeat(s, d);
    if (this.unresolved(s).some((b) => b.step === 'details')) {
      // before any capture: the officer sees when this person was enrolled and may stop, or a second officer co-signs
      const r = s.repeat!;
      s.detailErrors = [{ field: 'nationalId', code: 'already_enrolled', params: { at: r.enrolledAt, ref: r.recordRef }, message: `already enrolled at this booth in this campaign (record ${r.recordRef})` }];
      this.log.warn({ sessionId: s.id, recordRef: r.recordRef }, 'person already enrolled in this campaign; waiting for a second officer or a cancel');
      this.changed();
      return { ok: false, errors: s.detailErrors, view: this.view(token) };
    }
    this.complete(s, 'details', 'fingerprints');
    return { ok: true, errors: [], view: this.view(token) };
  }

  async captureFinger(token: string, position?: number): Promise<WorkflowView> {
    const s = this.expect(token, ['fingerprints']);
    const pos = (position ?? this.currentFinger(s)) as FingerPosition | null;
    if (pos === null || !this.positions.includes(pos)) throw inputError('finger_position', `finger position ${String(position)} is not one of the configured positions ${this.positions.join(', ')}`);
    await this.runDevice(s, 'finger', pos, async (signal, onProgress) => {
      const r = await this.deps.fingerprint.captureFinger(pos, { signal, onProgress, sessionId: s.id });
      const prevCandidate = s.fingerCandidates.get(pos);
      if (prevCandidate) wipe(prevCandidate.png);
      s.fingerCandidates.delete(pos);
      const prev = s.fingers.get(pos);
      if (prev?.capture) wipe(prev.capture.png);
      s.fingers.delete(pos);
      if (r.passed) s.fingers.set(pos, { position: pos, capture: r });
      else s.fingerCandidates.set(pos, r);
    });
    return this.view(token);
  }

  /** Keeps a below-threshold capture anyway (the officer's decision; quality travels with it). */
  keepFinger(token: string, position: number): WorkflowView {
    const s = this.expect(token, ['fingerprints']);
    const c = s.fingerCandidates.get(position as FingerPosition);
    if (!c) throw inputError('nothing_to_keep', `there is no capture of finger ${position} to keep`, 'capture the finger first');
    s.fingerCandidates.delete(c.position);
    s.fingers.set(c.position, { position: c.position, capture: c });
    this.changed();
    return this.view(token);
  }

  /**
   * Records why a finger cannot be captured. With a camera that can take evidence
   * stills, a photo of the hand is taken now and travels with the exception (a camera
   * failure is recorded instead of the photo, for the co-signing officer to see).
   * Leaving the step then needs a second officer's co-signature (cosign.ts).
   */
  async fingerException(token: string, position: number, code: string, reason: unknown): Promise<WorkflowView> {
    const s = this.expect(token, ['fingerprints']);
    const pos = position as FingerPosition;
    if (!this.positions.includes(pos)) throw inputError('finger_position', `finger position ${position} is not one of the configured positions`);
    if (!isExceptionFor('finger', code)) throw inputError('exception_code', `exception "${code}" is not one of ${CAPTURE_EXCEPTIONS.finger.join(', ')}`, 'choose why the finger cannot be captured');
    const text = this.reasonText(reason);
    let photo: EvidencePhoto | null = null;
    let photoError: string | undefined;
    const cam = this.deps.camera;
    if (cam.captureEvidence) {
      if (s.busy) throw httpish('WORKFLOW_BUSY', `the ${s.busy.op} device is still working`, 'wait for it to finish');
      const abort = new AbortController();
      s.busy = { op: 'portrait' };
      s.abort = abort;
      this.changed();
      try {
        photo = await cam.captureEvidence({ signal: abort.signal });
      } catch (e) {
        photoError = this.errorInfo('portrait', e).code;
        this.log.warn({ sessionId: s.id, position: pos, code: photoError }, 'no photo for the finger exception: the camera failed');
      } finally {
        if (s.abort === abort) { s.busy = null; s.abort = null; }
      }
      if (this.session !== s) { if (photo) wipe(photo.jpeg); return this.view(token); }
    }
    const cand = s.fingerCandidates.get(pos);
    if (cand) { wipe(cand.png); s.fingerCandidates.delete(pos); }
    const prev = s.fingers.get(pos);
    if (prev?.capture) wipe(prev.capture.png);
    if (prev?.photo) wipe(prev.photo.jpeg);
    s.fingers.set(pos, { position: pos, exception: { code, reason: text }, photo, ...(photoError ? { photoError } : {}) });
    this.forgetFinger(s, pos);
    if (s.lastError?.op === 'finger') s.lastError = null;
    this.changed();
    return this.view(token);
  }

  redoFinger(token: string, position: number): WorkflowView {
    const s = this.expect(token, ['fingerprints']);
    const e = s.fingers.get(position as FingerPosition);
    if (e?.capture) wipe(e.capture.png);
    if (e?.photo) wipe(e.photo.jpeg);
    s.fingers.delete(position as FingerPosition);
    this.forgetFinger(s, position as FingerPosition);
    this.changed();
    return this.view(token);
  }

  async capturePortrait(token: string): Promise<WorkflowView> {
    const s = this.expect(token, ['portrait']);
    await this.runDevice(s, 'portrait', undefined, async (signal, onProgress) => {
      const r = await this.deps.camera.capturePortrait({ signal, onProgress });
      if (s.portraitCandidate) wipe(s.portraitCandidate.jpeg);
      if (s.portrait?.capture) wipe(s.portrait.capture.jpeg);
      s.portraitCandidate = null;
      s.portrait = null;
      if (r.verdict === 'accept') s.portrait = { capture: r };
      else s.portraitCandidate = r;
    });
    return this.view(token);
  }

  portraitException(token: string, code: string, reason: unknown): WorkflowView {
    const s = this.expect(token, ['portrait']);
    if (!isExceptionFor('portrait', code)) throw inputError('exception_code', `portrait exception "${code}" is not one of ${CAPTURE_EXCEPTIONS.portrait.join(', ')}`, 'choose why the portrait cannot be taken');
    const text = this.reasonText(reason);
    if (s.portraitCandidate) { wipe(s.portraitCandidate.jpeg); s.portraitCandidate = null; }
    s.portrait = { exception: { code, reason: text } };
    s.lastError = null;
    this.changed();
    return this.view(token);
  }

  /**
   * Reads the chip (e-ID activation) at the chip step, or already at the details step
   * (MRZ information from the request or from what is typed so far): the details not
   * typed yet are then pre-filled from DG1. A chip that is not proven genuine, or whose
   * DG1 differs from the details, is kept with its refusal (see blockers in the view)
   * until another chip is read or a second officer co-signs.
   */
  async readChip(token: string, mrz?: Partial<MrzInfo> & { can?: string }): Promise<WorkflowView> {
    const s = this.expect(token, ['details', 'chip']);
    if (s.kind !== 'eid-activation') throw httpish('WORKFLOW_STEP', 'the chip is read only for an e-ID activation', undefined, { step: s.step });
    const chip = this.deps.chip;
    if (!chip) throw httpish('WORKFLOW_REFUSED', 'no card reader is configured');
    const d = s.step === 'details' ? (s.draftDetails ?? s.details) : s.details!;
    const info: MrzInfo = {
      documentNumber: (mrz?.documentNumber ?? d?.documentNumber ?? '').toUpperCase(),
      birthDate: mrz?.birthDate ?? (d?.dateOfBirth ? toYymmdd(d.dateOfBirth) : ''),
      expiryDate: mrz?.expiryDate ?? (d?.documentExpiry ? toYymmdd(d.documentExpiry) : ''),
    };
    const mrzOk = /^[A-Z0-9<]{1,20}$/.test(info.documentNumber) && /^\d{6}$/.test(info.birthDate) && /^\d{6}$/.test(info.expiryDate);
    let can: string | undefined;
    if (mrz?.can !== undefined) {
      can = String(mrz.can).replace(/\s+/g, '');
      if (!/^\d{6}$/.test(can)) throw inputError('can_format', 'the card access number (CAN) is the 6 digits printed on the front of the card', 'type the six digits on the front of the card');
    } else if (!mrzOk) {
      throw inputError('mrz_format', 'MRZ information must be a document number and two YYMMDD dates', 'type them as printed on the card (birth and expiry as YYMMDD), or enter the 6-digit CAN');
    }
    const key: ChipKey = { ...(mrzOk ? { mrz: info } : {}), ...(can ? { can } : {}) };
    await this.runDevice(s, 'chip', undefined, async (signal, onProgress) => {
      const r = await chip.readChip(key, { signal, onProgress });
      this.wipeChip(s);
      s.chip = { read: r };
      if (s.step === 'details') {
        // the officer has not confirmed details yet: fill in what is still empty from DG1
        const typed = s.draftDetails !== null;
        const { details, filled } = prefillFromChip(s.draftDetails ?? normaliseDetails({}), r.mrzFields, typed, this.now(), r.chipDetails);
        if (!details.unitCode) details.unitCode = this.deps.defaultUnit;
        s.draftDetails = details;
        s.detailErrors = s.detailErrors.filter((e) => !filled.includes(e.field));
        this.log.info({ sessionId: s.id, filled }, 'details pre-filled from the chip');
      }
      for (const b of this.blockers(s)) if (!cosignFor(b, s.cosigns)) this.log.warn({ sessionId: s.id, kind: b.kind, code: b.code, fields: b.fields?.map((f) => f.field) }, 'chip refused until a second officer co-signs');
    });
    return this.view(token);
  }

  chipException(token: string, code: string, reason: unknown): WorkflowView {
    const s = this.expect(token, ['chip']);
    if (!isExceptionFor('chip', code)) throw inputError('exception_code', `chip exception "${code}" is not one of ${CAPTURE_EXCEPTIONS.chip.join(', ')}`, 'choose why the chip cannot be read');
    // "cannot be read" must not hide a chip that was read and refused
    const open = this.unresolved(s);
    if (open.length) {
      throw httpish('WORKFLOW_BLOCKED', `a chip was read and refused (${open.map((b) => b.message).join('; ')}); recording it as not readable would hide that`,
        'read a genuine chip that matches the person, or have a second officer co-sign the refusal', { blockers: this.blockerView(s).filter((b) => !b.cosigned) });
    }
    const text = this.reasonText(reason);
    this.wipeChip(s);
    s.chip = { exception: { code, reason: text } };
    s.lastError = null;
    this.changed();
    return this.view(token);
  }

  /** Moves on from fingerprints / portrait / chip when the step is complete. */
  next(token: string): WorkflowView {
    const s = this.expect(token, ['fingerprints', 'portrait', 'chip']);
    if (s.step === 'fingerprints') {
      const missing = this.positions.filter((p) => !s.fingers.has(p));
      if (missing.length) throw httpish('WORKFLOW_INCOMPLETE', `fingers ${missing.join(', ')} are neither captured nor recorded as exceptions`, 'capture each finger or record why it cannot be captured');
      this.refuseIfBlocked(s, 'fingerprints');
      this.complete(s, 'fingerprints', 'portrait');
    } else if (s.step === 'portrait') {
      if (!s.portrait) throw httpish('WORKFLOW_INCOMPLETE', s.portraitCandidate ? 'the portrait was rejected; take it again' : 'no portrait yet', 'take an acceptable portrait or record why it cannot be taken');
      this.refuseIfBlocked(s, 'portrait');
      this.complete(s, 'portrait', s.kind === 'eid-activation' ? 'chip' : 'review');
    } else {
      if (!s.chip) throw httpish('WORKFLOW_INCOMPLETE', 'the chip has not been read', 'read the chip or record why it cannot be read');
      this.refuseIfBlocked(s, 'chip');
      this.complete(s, 'chip', 'review');
    }
    return this.view(token);
  }

  /** From review: go back to a completed step to change it (then return to review). */
  goto(token: string, step: Step): WorkflowView {
    const s = this.expect(token, ['review']);
    if (!['details', 'fingerprints', 'portrait', 'chip'].includes(step) || !s.completed.has(step)) throw inputError('goto_step', `cannot go back to "${step}"`);
    s.step = step;
    s.editingFromReview = true;
    this.writeMarker();
    this.changed();
    return this.view(token);
  }

  /** The officer confirms: seals the record into the vault. */
  async confirm(token: string): Promise<WorkflowView> {
    const s = this.expect(token, ['review']);
    if (!s.consent) throw httpish('WORKFLOW_INCOMPLETE', 'the person has not given consent', 'start a new session and show the consent text');
    this.refuseIfBlocked(s, 'review');
    const g = await this.refreshGuard();
    if (!g.ok) {
      s.lastError = { op: 'seal', code: g.code, message: g.message, hint: g.hint };
      this.changed();
      throw httpish('WORKFLOW_REFUSED', g.message, g.hint, { reason: g.code });
    }
    // The record id is chosen now and reaches the marker (fsync) before the vault sees the record:
    // whenever the station dies from here on, the next start can ask the vault whether it was sealed.
    // A retry after a failed seal reuses it, so a seal that did commit cannot be sealed twice.
    s.recordId ??= uuidv7();
    const draft: EnrollmentDraft = {
      sessionId: s.id, recordId: s.recordId, kind: s.kind!, officerId: s.officerId, startedAt: s.startedAt, confirmedAt: this.now(), details: s.details!,
      fingerprints: this.positions.map((p) => s.fingers.get(p)!), portrait: s.portrait!, ...(s.kind === 'eid-activation' ? { chip: s.chip! } : {}), consent: s.consent!,
      ...this.draftOverrides(s),
    };
    s.step = 'sealing';
    s.busy = { op: 'seal' };
    s.lastError = null;
    this.writeMarker({ durable: true });
    this.changed();
    try {
      let recordId: string;
      try {
        ({ recordId } = await this.deps.sealer.seal(draft));
      } catch (e) {
        // A seal that committed but reported failure (or a retry of one): the vault knows.
        if (!this.lookupSealed(draft.recordId!)) throw e;
        recordId = draft.recordId!;
        this.log.warn({ err: e, recordId }, 'the seal reported an error but the record is in the vault; treating it as sealed');
      }
      // The record is durable now, whatever happened to the session meanwhile (logout, stop).
      try { this.deps.progress?.record(draft.kind, draft.details.unitCode || this.deps.defaultUnit, this.now()); } catch (e) { this.log.error({ err: e }, 'could not count the record in progress counters'); }
      if (s.personHash) {
        try { this.deps.repeats?.remember(s.personHash, { enrolledAt: this.now(), recordRef: recordRef(recordId) }); } catch (e) { this.log.error({ err: e }, 'could not add the person to the repeat register'); }
      }
      this.log.info({ sessionId: s.id, recordId, kind: draft.kind }, 'record sealed');
      this.emit('sealed', { recordId, kind: draft.kind });
      if (this.session !== s) return this.view(token);
      s.recordId = recordId;
      s.sealedAt = this.lookupSealed(recordId)?.sealedAt ?? this.now();
      s.busy = null;
      s.completed.add('review');
      s.step = 'sealed';
      this.wipeSession(s);
      // The marker now says "sealed" and stays until the officer moves on to the next person.
      this.writeMarker({ durable: true });
      void this.refreshGuard();
      this.changed();
    } catch (e) {
      if (this.session !== s) return this.view(token);
      s.busy = null;
      s.step = 'review';
      s.lastError = this.errorInfo('seal', e);
      this.log.error({ err: e, sessionId: s.id }, 'sealing failed; the session is kept in memory for a retry');
      this.changed();
    }
    return this.view(token);
  }

  /** After a sealed record: back to "no session", ready for the next person. */
  finish(token: string): WorkflowView {
    this.expect(token, ['sealed']);
    this.clearSession();
    this.changed();
    return this.view(token);
  }

  abort(token: string): WorkflowView {
    this.auth(token);
    if (this.session?.busy?.op === 'seal') throw httpish('WORKFLOW_BUSY', 'the record is being sealed and can no longer be aborted', 'wait a moment');
    if (this.session) this.discard('aborted by the officer');
    this.changed();
    return this.view(token);
  }

  // ───────────────────────── second-officer override ─────────────────────────

  /**
   * A second officer co-signs one of the session's refusals with their own PIN (and
   * officer card, when theirs is bound): the refusal is lifted for exactly what was
   * refused (this chip, these values), and the co-signature goes into the record and
   * the audit log. The PIN check is a login attempt like any other (counted first,
   * lockout, rate limit); it does not log the second officer in.
   */
  async override(token: string, input: { kind: unknown; officerId: unknown; pin: unknown; reason: unknown }): Promise<WorkflowView> {
    const s = this.expect(token, ['details', 'fingerprints', 'portrait', 'chip', 'review']);
    const kind = input.kind;
    if (!isOverrideKind(kind)) throw inputError('override_kind', `"${String(kind)}" is not something a second officer can override (one of ${OVERRIDE_KIND_CODES.join(', ')})`);
    const b = this.unresolved(s).find((x) => x.kind === kind);
    if (!b) throw inputError('override_nothing', `nothing to override: the session has no open "${kind}" refusal`, 'refresh the page');
    const second = typeof input.officerId === 'string' ? input.officerId.trim() : '';
    if (!second) throw inputError('override_no_id', 'the second officer\'s id is required');
    if (second === s.officerId || second === this.activeOfficer?.id) {
      throw httpish('OVERRIDE_REFUSED', 'an override needs a second officer: the officer running the session cannot co-sign it', 'ask another officer to enter their id and PIN', { cause: 'same_officer' });
    }
    if (typeof input.pin !== 'string' || !input.pin) throw inputError('override_no_pin', 'the second officer\'s PIN is required');
    const reason = this.reasonText(input.reason, 'type why the refusal is overridden');
    const card = this.deps.officerCard;
    const res = await this.deps.officers.verify(second, input.pin, card ? () => card.readIdentity() : undefined);
    const covered = b.fields ? b.fields.map((f) => f.field as string) : b.positions ? b.positions.map(String) : undefined;
    const base = { kind: 'override' as const, officerId: second.slice(0, 64), primaryOfficerId: s.officerId, sessionId: s.id, overrideKind: kind, code: b.code, ...(covered ? { fields: covered.join(',') } : {}) };
    if (!res.ok) {
      this.log.warn({ sessionId: s.id, overrideKind: kind, code: res.code }, 'override refused: the second officer was not verified');
      this.emit('audit', { ...base, result: 'refused', reason: res.code });
      const words: Record<string, string> = {
        OFFICER_BAD_CREDENTIALS: 'wrong officer id or PIN for the second officer',
        OFFICER_LOCKED: 'the second officer is locked after too many wrong PINs',
        OFFICER_RATE_LIMITED: 'too many PIN attempts on this station; wait before trying again',
        OFFICER_CARD_REQUIRED: 'the second officer must also present their officer card in the officer reader',
        OFFICER_CARD_MISMATCH: 'the card in the officer reader is not the second officer\'s card',
      };
      const { ok: _ok, ...why } = res;
      throw httpish('OVERRIDE_REFUSED', words[res.code] ?? 'the second officer could not be verified', 'the second officer enters their own id and PIN', { cause: res.code, ...why });
    }
    if (this.session !== s || !this.unresolved(s).some((x) => x.kind === kind && x.subject === b.subject)) {
      throw httpish('WORKFLOW_STEP', 'the session changed while the second officer was being checked', 'look at the refusal again');
    }
    const c: Cosignature = { kind, code: b.code, subject: b.subject, officerId: res.officer.id, at: this.now(), reason, ...(covered ? { fields: covered } : {}) };
    s.cosigns.push(c);
    this.log.info({ sessionId: s.id, overrideKind: kind, code: b.code, officerId: c.officerId }, 'refusal overridden by a second officer');
    this.emit('audit', { ...base, officerId: c.officerId, result: 'ok' });
    this.touch();
    this.changed();
    return this.view(token);
  }

  private blockers(s: Session): Blocker[] {
    const fingerExceptions = [...s.fingers.values()].flatMap((f) => (f.exception ? [{
      position: f.position, exception: f.exception, photoSha256: f.photo ? createHash('sha256').update(f.photo.jpeg).digest('hex') : null,
    }] : []));
    return blockersOf({ details: s.details, chip: s.chip, fingerExceptions, portrait: s.portrait, repeat: s.repeat });
  }

  private checkRepeat(s: Session, d: PersonalDetails): void {
    const reg = this.deps.repeats;
    s.personHash = null;
    s.repeat = null;
    if (!reg || !d.nationalId) return;
    const hash = reg.hash(d.nationalId);
    if (!hash) return;
    s.personHash = hash;
    const hit = reg.lookup(hash);
    if (hit) s.repeat = { hash, ...hit };
  }

  /** Refusals of the session that no second officer has co-signed. */
  private unresolved(s: Session): Blocker[] {
    return this.blockers(s).filter((b) => !cosignFor(b, s.cosigns));
  }

  /** Leaving `step` (and confirming, which every refusal stops) needs every refusal there co-signed. */
  private refuseIfBlocked(s: Session, step: OverrideStep): void {
    const open = this.unresolved(s).filter((b) => step === 'review' || b.step === step);
    if (!open.length) return;
    // Not kept as the session's lastError: the refusals are in the snapshot (session.blockers) for as long as
    // they stand, and a stale "device error" with Retry would outlive the co-signature that resolves them.
    // details.reason names which refusal stops it, so the page can say "the details differ" rather than "the chip".
    const reason = open.length > 1 ? 'chip-refusals' : open[0]!.kind;
    const onlyExceptions = open.every((b) => b.kind.endsWith('-exception'));
    throw httpish('WORKFLOW_BLOCKED', open.map((b) => b.message).join('; '),
      onlyExceptions ? 'a second officer confirms the exception with their own id and PIN, giving a reason — or capture instead'
        : 'read another chip or correct the details — or a second officer overrides with their own id and PIN, giving a reason', { reason, blockers: this.blockerView(s).filter((b) => !b.cosigned) });
  }

  private blockerView(s: Session): NonNullable<WorkflowView['session']>['blockers'] {
    return this.blockers(s).map(({ subject: _subject, ...b }) => {
      const c = cosignFor({ ...b, subject: _subject }, s.cosigns);
      return { ...b, cosigned: c ? { officerId: c.officerId, at: c.at, reason: c.reason } : null };
    });
  }

  /** The co-signatures that resolve a refusal present now: what the record carries. */
  private draftOverrides(s: Session): Pick<EnrollmentDraft, 'overrides'> {
    const used = this.blockers(s).map((b) => cosignFor(b, s.cosigns)).filter((c): c is Cosignature => c !== undefined);
    return used.length ? { overrides: used.map(({ subject: _s, ...c }) => c) } : {};
  }

  /** Clears the last device error so the officer can retry. */
  dismissError(token: string): WorkflowView {
    const s = this.expect(token, ['fingerprints', 'portrait', 'chip', 'review']);
    s.lastError = null;
    this.changed();
    return this.view(token);
  }

  // ───────────────────────── previews ─────────────────────────

  fingerPreview(token: string, position: number): Buffer | null {
    this.auth(token, true);
    const s = this.session;
    if (!s) return null;
    const p = position as FingerPosition;
    return s.fingers.get(p)?.capture?.png ?? s.fingerCandidates.get(p)?.png ?? null;
  }

  portraitPreview(token: string): Buffer | null {
    this.auth(token, true);
    const s = this.session;
    return s?.portrait?.capture?.jpeg ?? s?.portraitCandidate?.jpeg ?? null;
  }

  private preview: { inflight: Promise<Buffer | null> | null; last: Buffer | null; sessionId: string | null } = { inflight: null, last: null, sessionId: null };

  /**
   * A live camera frame while the portrait step is open (not while a still is
   * being taken, so the still never waits behind a preview). Concurrent callers
   * share one frame; failures return null — the live view is a convenience.
   * Does not count as officer activity.
   */
  async livePreview(token: string): Promise<Buffer | null> {
    this.auth(token, true);
    const s = this.session;
    const cam = this.deps.camera;
    if (!s || s.step !== 'portrait' || s.busy || !cam.previewFrame) return null;
    if (this.preview.sessionId !== s.id) this.preview = { inflight: null, last: null, sessionId: s.id };
    if (!this.preview.inflight) {
      const ac = new AbortController();
      const timer = setTimeout(() => ac.abort(), 10_000);
      timer.unref();
      const p = this.preview;
      p.inflight = cam.previewFrame({ signal: ac.signal })
        .then((b) => { p.last = b; this.deviceResult('camera', undefined); return b; }, (e: unknown) => {
          this.log.debug({ err: e }, 'live preview frame failed');
          this.deviceResult('camera', e);
          p.last = null;
          return null;
        })
        .finally(() => { clearTimeout(timer); p.inflight = null; });
    }
    return (await this.preview.inflight) ?? null;
  }

  chipFace(token: string): Buffer | null {
    this.auth(token, true);
    const s = this.session;
    return s?.chip?.read?.faceJpeg ?? s?.chipCandidate?.faceJpeg ?? null;
  }

  // ───────────────────────── view ─────────────────────────

  view(token: string): WorkflowView {
    const officer = this.auth(token, true);
    const s = this.session;
    return {
      officer, idleLogoutMs: this.deps.idleLogoutMs, loginExpiresAt: this.officerSessions.get(token)?.expiresAt ?? null, idleWarnMs: this.idleWarnMs(),
      idleRemainingMs: this.idleWarned ? Math.max(0, this.lastActivity + this.deps.idleLogoutMs - this.now()) : null,
      positions: this.positions, defaultUnit: this.deps.defaultUnit,
      guard: this.guardCache, lostSession: this.lost, today: this.todayProgress(),
      session: s && {
        id: s.id, kind: s.kind, step: s.step, steps: s.kind === 'eid-activation' ? STEPS_ACTIVATION : STEPS_ENROLLMENT, completed: [...s.completed], startedAt: s.startedAt,
        details: s.details, draftDetails: s.draftDetails, detailErrors: s.detailErrors,
        consent: s.consent ? { version: s.consent.version, language: s.consent.language, at: s.consent.at } : null,
        consentText: s.step === 'consent' ? this.consentText() : null,
        fingers: this.positions.map((p) => {
          const e = s.fingers.get(p);
          const c = s.fingerCandidates.get(p);
          const th = (r: FingerCaptureResult) => (r.threshold !== undefined ? { threshold: r.threshold } : {});
          if (e?.capture) return { position: p, status: 'captured' as const, quality: e.capture.quality, ...th(e.capture), attempts: e.capture.attempts, passed: e.capture.passed };
          if (e?.exception) return { position: p, status: 'exception' as const, exception: e.exception, photo: e.photo ? 'taken' as const : e.photoError ? 'failed' as const : 'none' as const, ...(e.photoError ? { photoError: e.photoError } : {}) };
          if (c) return { position: p, status: 'candidate' as const, quality: c.quality, ...th(c), attempts: c.attempts, passed: c.passed };
          return { position: p, status: 'pending' as const };
        }),
        currentFinger: this.currentFinger(s),
        portrait: s.portrait?.capture
          ? { status: 'captured', verdict: s.portrait.capture.verdict, metrics: s.portrait.capture.metrics, checks: s.portrait.capture.checks, reasons: s.portrait.capture.reasons }
          : s.portrait?.exception ? { status: 'exception', exception: s.portrait.exception }
            : s.portraitCandidate ? { status: 'rejected', verdict: s.portraitCandidate.verdict, metrics: s.portraitCandidate.metrics, checks: s.portraitCandidate.checks, reasons: s.portraitCandidate.reasons }
              : { status: 'pending' },
        chip: s.kind !== 'eid-activation' ? null
          : s.chip?.read ? {
            status: this.unresolved(s).some((b) => b.kind === 'chip-authenticity' || b.kind === 'chip-clone') ? 'rejected' : 'read',
            ...this.chipReadView(s.chip.read),
          }
            : s.chip?.exception ? { status: 'exception', exception: s.chip.exception }
              : s.chipCandidate ? { status: 'rejected', ...this.chipReadView(s.chipCandidate) }
                : { status: 'pending' },
        blockers: this.blockerView(s),
        busy: s.busy, lastError: s.lastError,
        recordId: s.step === 'sealed' ? s.recordId : null, recordRef: s.step === 'sealed' && s.recordId ? recordRef(s.recordId) : null, sealedAt: s.sealedAt,
        fingerThreshold: this.fingerThreshold(s),
      },
    };
  }

  private chipReadView(r: ChipReadResult): { mrzFields: Record<string, string | null>; passiveAuth: ChipReadResult['passiveAuth']; hasFace: boolean; fromChip: Partial<Record<keyof PersonalDetails, string>>; access?: ChipReadResult['access'] } {
    // the same rules as the pre-fill at the details step, applied to an empty form: every value the chip gives
    const { details, filled } = prefillFromChip({ ...normaliseDetails({}), nationality: '' }, r.mrzFields, false, this.now(), r.chipDetails);
    const fromChip: Partial<Record<keyof PersonalDetails, string>> = {};
    for (const k of filled) fromChip[k] = details[k];
    return { mrzFields: r.mrzFields, passiveAuth: r.passiveAuth, hasFace: Boolean(r.faceJpeg), fromChip, ...(r.access ? { access: r.access } : {}) };
  }

  private fingerThreshold(s: Session): number | null {
    for (const e of s.fingers.values()) if (e.capture?.threshold !== undefined) return e.capture.threshold;
    for (const c of s.fingerCandidates.values()) if (c.threshold !== undefined) return c.threshold;
    return null;
  }

  private todayProgress(): WorkflowView['today'] {
    try {
      const t = this.deps.progress?.today?.(this.deps.defaultUnit, this.deps.dailyQuota ?? 0, this.now());
      return t ? { day: t.day, enrollments: t.enrollments, activations: t.activations, quota: t.quota } : null;
    } catch {
      return null;
    }
  }

  /** The current step, for tests and status lines (no token needed, no personal data). */
  currentStep(): Step | null { return this.session?.step ?? null; }

  // ───────────────────────── internals ─────────────────────────

  private expect(token: string, steps: Step[]): Session {
    this.auth(token);
    const s = this.session;
    if (!s) throw httpish('WORKFLOW_STEP', 'no session in progress', 'start a session first');
    if (s.busy) throw httpish('WORKFLOW_BUSY', `the station is busy (${s.busy.op})`, 'wait for the device to finish or abort');
    if (!steps.includes(s.step)) throw httpish('WORKFLOW_STEP', `this action is not possible at step "${s.step}"`, undefined, { step: s.step });
    return s;
  }

  private complete(s: Session, done: Step, next: Step): void {
    s.completed.add(done);
    s.lastError = null;
    if (s.editingFromReview && done !== 'kind') {
      // Editing from review: go to the first step that is no longer complete, or back to review.
      const needed = (s.kind === 'eid-activation' ? STEPS_ACTIVATION : STEPS_ENROLLMENT).filter((x) => x !== 'review' && x !== 'sealed');
      const open = needed.find((x) => !s.completed.has(x));
      if (open === undefined) { next = 'review'; s.editingFromReview = false; } else next = open;
    }
    s.step = next;
    this.writeMarker();
    this.changed();
  }

  private currentFinger(s: Session): FingerPosition | null {
    return this.positions.find((p) => !s.fingers.has(p)) ?? null;
  }

  private reasonText(reason: unknown, hint = 'type why it cannot be captured'): string {
    const t = typeof reason === 'string' ? reason.normalize('NFC').trim() : '';
    if (t.length < 3) throw inputError('reason_required', 'the officer’s reason is required (at least 3 characters)', hint);
    if (t.length > 300 || /[\p{Cc}]/u.test(t)) throw inputError('reason_invalid', 'the reason must be at most 300 characters of plain text');
    return t;
  }

  private async runDevice(s: Session, op: 'finger' | 'portrait' | 'chip', position: number | undefined,
    fn: (signal: AbortSignal, onProgress: (p: CaptureProgress) => void) => Promise<void>): Promise<void> {
    const ac = new AbortController();
    s.abort = ac;
    s.busy = { op, ...(position !== undefined ? { position } : {}) };
    s.lastError = null;
    this.changed();
    const onProgress = (p: CaptureProgress): void => {
      if (this.session !== s || !s.busy) return;
      s.busy.progress = p;
      this.touch();
      this.emit('progress', { op, position, ...p });
    };
    try {
      await fn(ac.signal, onProgress);
      this.deviceResult(DEVICE_OF[op], undefined);
    } catch (e) {
      if (!ac.signal.aborted) this.deviceResult(DEVICE_OF[op], e);
      if (this.session === s && !ac.signal.aborted) {
        s.lastError = this.errorInfo(op, e, position);
        this.log.warn({ op, position, code: s.lastError.code }, 'device operation failed; officer may retry or record an exception');
      }
    } finally {
      if (this.session === s) { s.busy = null; s.abort = null; }
      this.touch();
      this.changed();
    }
  }

  private errorInfo(op: string, e: unknown, position?: number): ErrorInfo {
    if (e instanceof StationError) {
      const d = (e.details ?? {}) as { matchedPosition?: unknown; password?: unknown; attemptsLeft?: unknown };
      const matched = d.matchedPosition;
      // a refused password: which one, and the tries the chip still allows, so the page can say so in words
      const chipAccess: Pick<ErrorInfo, 'password'> = op === 'chip' && (d.password === 'CAN' || d.password === 'MRZ') ? { password: d.password } : {};
      const left = op === 'chip' && typeof d.attemptsLeft === 'number' && Number.isInteger(d.attemptsLeft) && d.attemptsLeft >= 0 ? { attemptsLeft: d.attemptsLeft } : {};
      return {
        op, code: e.code, message: e.message, ...(e.hint ? { hint: e.hint } : {}), ...(position !== undefined ? { position } : {}), ...(typeof matched === 'number' ? { matchedPosition: matched } : {}),
        ...chipAccess, ...left,
      };
    }
    return { op, code: 'DEVICE_ERROR', message: e instanceof Error ? e.message : String(e), ...(position !== undefined ? { position } : {}) };
  }

  private wipeChip(s: Session): void {
    for (const r of [s.chip?.read, s.chipCandidate]) if (r) { wipe(r.dg1); wipe(r.dg2); wipe(r.sod); wipe(r.faceJpeg); }
    s.chip = null;
    s.chipCandidate = null;
  }

  /** The scanner's duplicate check drops a finger that no longer stands (commands run in the scanner's order). */
  private forgetFinger(s: Session, p: FingerPosition): void {
    this.deps.fingerprint.forgetFinger?.(s.id, p).catch((e: unknown) => this.log.warn({ err: e, position: p }, 'could not drop the finger from the scanner\'s duplicate check'));
  }

  /** Overwrites biometric buffers; the (sealed or abandoned) session keeps only its ids. */
  private wipeSession(s: Session): void {
    // the scanner's session templates go too (best effort: the next session empties them again)
    this.deps.fingerprint.endSession?.(s.id).catch((e: unknown) => this.log.warn({ err: e }, 'could not empty the scanner\'s session templates'));
    if (this.preview.sessionId === s.id) { this.preview.last?.fill(0); this.preview = { inflight: null, last: null, sessionId: null }; }
    for (const e of s.fingers.values()) { wipe(e.capture?.png); wipe(e.photo?.jpeg ?? undefined); }
    for (const c of s.fingerCandidates.values()) wipe(c.png);
    wipe(s.portrait?.capture?.jpeg);
    wipe(s.portraitCandidate?.jpeg);
    this.wipeChip(s);
    s.fingers.clear();
    s.fingerCandidates.clear();
    s.portrait = null;
    s.portraitCandidate = null;
    s.details = null;
    s.draftDetails = null;
    s.detailErrors = [];
  }

  private discard(why: string, o: { keepMarker?: boolean } = {}): void {
    const s = this.session;
    if (!s) return;
    s.abort?.abort();
    this.wipeSession(s);
    this.session = null;
    if (!o.keepMarker) this.removeMarker();
    this.log.info({ sessionId: s.id, why }, 'session discarded');
  }

  private discardParked(why: string, o: { keepMarker?: boolean } = {}): void {
    const p = this.parked;
    if (!p) return;
    clearTimeout(p.timer);
    this.parked = null;
    this.wipeSession(p.session);
    if (!o.keepMarker && !this.session) this.removeMarker();
    this.log.info({ sessionId: p.session.id, officerId: p.officerId, why }, 'kept session discarded');
  }

  private clearSession(): void {
    if (this.session) this.wipeSession(this.session);
    this.session = null;
    this.removeMarker();
  }

  /**
   * Writes the session marker. Durable (fsync of the file and its directory) where a power cut
   * must find it: when the session starts (so the officer is told a session was lost) and from
   * confirm on (the record id must be on disk before the vault sees the record). The steps in
   * between only change which step the notice names: replaced atomically (temporary file and
   * rename) without waiting for the disk — at worst the notice names an earlier step. That is
   * four fewer pairs of fsyncs per enrollment (`npm run bench -- workflow`).
   */
  private writeMarker(o: { durable?: boolean } = {}): void {
    const f = this.deps.markerFile;
    const s = this.session;
    if (!f || !s) return;
    const m: Marker = { sessionId: s.id, officerId: s.officerId, kind: s.kind, step: s.step, startedAt: s.startedAt, updatedAt: this.now(), recordId: s.recordId, sealedAt: s.sealedAt };
    const body = JSON.stringify(m);
    try {
      if (o.durable || s.recordId) writeFileDurable(f, body);
      else {
        const tmp = `${f}.tmp-${process.pid}`;
        writeFileSync(tmp, body, { mode: 0o600 });
        renameSync(tmp, f);
      }
    } catch (e) {
      this.log.error({ err: e, file: f }, 'could not write the session marker');
    }
  }

  private removeMarker(): void {
    const f = this.deps.markerFile;
    if (!f) return;
    try { unlinkSync(f); } catch { /* none */ }
  }

  private changed(): void {
    // a login past its lifetime ends as soon as no person's session needs it any more
    if (this.officerSessions.size && !this.sessionInProgress()) {
      const t = this.now();
      for (const o of this.officerSessions.values()) if (t >= o.expiresAt) { this.scheduleLifetime(); break; }
    }
    this.emit('change');
  }
}

export function createWorkflow(deps: WorkflowDeps): Workflow {
  return new Workflow(deps);
}

/** A marker's kind; markers written before the one vocabulary (config/domain.ts) said 'activation'. */
function markerKind(k: unknown): EnrollmentKind | null {
  if (isRecordKind(k)) return k;
  return k === 'activation' ? 'eid-activation' : null;
}
