/**
 * Adapters binding the workflow's ports (./ports.ts) to the real parts:
 * the fingerprint capture flow (drivers/fingerprint), the camera and portrait
 * pipeline (drivers/camera), the chip reader (drivers/card), the vault
 * (station/vault) with the record model of sync/wire/record.ts, and the
 * station's lock / offline policy / disk state.
 */
import { v7 as uuidv7 } from 'uuid';
import type { Logger } from 'pino';
import { StationError } from '../../drivers/common/errors';
import { captureFinger as runCaptureFlow } from '../../drivers/fingerprint/capture-flow';
import type { FingerprintScanner } from '../../drivers/fingerprint/types';
import type { Camera } from '../../drivers/camera/types';
import { DEFAULT_THRESHOLDS, processPortrait, type PortraitMetrics, type PortraitOptions, type PortraitThresholds } from '../../drivers/camera/portrait';
import type { CardReaderDriver } from '../../drivers/card/reader';
import type { CscaStore } from '../../drivers/card/passive-auth';
import type { EnrollmentRecord, FingerprintEntry, RecordClock, PassiveAuthVerdict as WirePaVerdict, PersonalDetails as WireDetails } from '../../sync/wire/record';
import { recordedFingerException, recordPaVerdict, type DetailsExtraKey } from '../../config/domain';
import type { OutboxStats } from '../../sync/outbox';
import { evaluatePolicy } from '../policy';
import type {
  CameraPort, ChipPort, ChipReadResult, EnrollmentDraft, FingerprintPort, GuardVerdict, OfficerCardPort, PersonalDetails, PortraitCheck,
  SealerPort, StationGuardPort, UplinkStatus, UplinkStatusPort, DeviceState, DeviceStatusPort,
} from './ports';

// ───────────────────────── fingerprint ─────────────────────────

export interface FingerprintAdapterOptions {
  maxAttempts: number;
  /** Quality (0–100) at which a capture is accepted. */
  threshold: number;
  /** How long to wait for the finger on each attempt (default 20 s). */
  fingerTimeoutMs?: number;
  /** Between attempts wait for the finger to be lifted (default true; the simulator may not lift). */
  waitForRemoval?: boolean;
  logger?: Logger;
}

/**
 * The per-finger capture flow of drivers/fingerprint behind the workflow's FingerprintPort. With a
 * session id, each finger is compared with the session's other fingers by the scanner's own
 * matcher (the module's reserved slots are emptied when a new session starts and when it ends).
 */
export function fingerprintPort(scanner: FingerprintScanner, o: FingerprintAdapterOptions): FingerprintPort {
  let current: string | null = null;
  return {
    async captureFinger(position, { signal, onProgress, sessionId }) {
      onProgress?.({ phase: 'place_finger', attempt: 1 });
      if (sessionId !== undefined && sessionId !== current) {
        await scanner.sessionBegin();
        current = sessionId;
      }
      const r = await runCaptureFlow(scanner, {
        position, maxAttempts: o.maxAttempts, threshold: o.threshold, fingerTimeoutMs: o.fingerTimeoutMs, waitForRemoval: o.waitForRemoval, signal, logger: o.logger,
        duplicateCheck: sessionId !== undefined,
        onAttempt: (a) => {
          if (a.quality !== undefined && a.quality >= o.threshold) onProgress?.({ phase: 'captured', attempt: a.attempt, quality: a.quality });
          else if (a.attempt < o.maxAttempts) onProgress?.({ phase: 'lift_finger', attempt: a.attempt + 1, ...(a.quality !== undefined ? { quality: a.quality } : {}) });
        },
      });
      return { position, png: r.png, width: r.width, height: r.height, ppi: r.ppi, quality: r.quality, attempts: r.attempts, passed: r.meetsThreshold, threshold: o.threshold };
    },
    async forgetFinger(sessionId, position) {
      if (sessionId === current) await scanner.sessionForget(position);
    },
    async endSession(sessionId) {
      if (sessionId !== current) return;
      current = null;
      await scanner.sessionEnd();
    },
  };
}

// ───────────────────────── camera ─────────────────────────

/**
 * The pipeline's metrics as checks against the thresholds its verdict used,
 * each with a scale for the kiosk's gauge (the same rules as drivers/camera/portrait.ts).
 */
export function portraitChecks(m: PortraitMetrics, th: PortraitThresholds = DEFAULT_THRESHOLDS): PortraitCheck[] {
  const out: PortraitCheck[] = [];
  const add = (id: string, value: number | null, lim: { min?: number; max?: number }, lo: number, hi: number): void => {
    if (value === null || !Number.isFinite(value)) return;
    const ok = (lim.min === undefined || value >= lim.min) && (lim.max === undefined || value <= lim.max);
    out.push({ id, value, ...lim, lo, hi, ok });
  };
  out.push({ id: 'subject', value: m.subjectFound ? 1 : 0, min: 1, lo: 0, hi: 1, ok: m.subjectFound });
  add('faces', m.faceCount, { max: 1 }, 0, 3);
  add('exposure', m.faceExposure ?? m.exposure, { min: th.minExposure, max: th.maxExposure }, 0, 1);
  add('clipped', m.clipped, { max: th.maxClipped }, 0, Math.max(0.5, th.maxClipped * 2));
  add('contrast', m.contrast, { min: th.minContrast }, 0, Math.max(0.3, th.minContrast * 3));
  add('sharpness', m.sharpnessNormalised, { min: th.minSharpness }, 0, th.minSharpness * 4);
  add('centre', m.centreOffset === null ? null : Math.abs(m.centreOffset), { max: th.maxCentreOffset }, 0, Math.max(0.25, th.maxCentreOffset * 4));
  add('eyeLine', m.eyeLine, { min: th.eyeLineRange[0], max: th.eyeLineRange[1] }, 0, 1);
  add('headHeight', m.headHeight, { min: th.headHeightRange[0], max: th.headHeightRange[1] }, 0, 1.2);
  add('roll', m.roll === null ? null : Math.abs(m.roll), { max: th.maxRollDegrees }, 0, Math.max(30, th.maxRollDegrees * 3));
  add('yaw', m.yaw === null ? null : Math.abs(m.yaw), { max: th.maxYaw }, 0, Math.max(0.5, th.maxYaw * 3));
  add('eyes', m.eyeOpening, { min: th.minEyeOpening }, 0, 0.6);
  add('upscale', m.upscale, { max: th.maxUpscale }, 0, Math.max(3, th.maxUpscale * 2));
  add('background', m.backgroundStdDev, { max: th.maxBackgroundStdDev }, 0, Math.max(64, th.maxBackgroundStdDev * 3));
  return out;
}

/** A still from the camera through the portrait pipeline (crop, resize, quality verdict). */
export function cameraPort(camera: Camera, portrait: PortraitOptions = {}): CameraPort {
  return {
    async capturePortrait({ signal, onProgress }) {
      onProgress?.({ phase: 'capturing' });
      const shot = await camera.capture({ signal });
      const p = await processPortrait(shot.jpeg, portrait);
      shot.jpeg.fill(0);
      const metrics: Record<string, number> = {};
      for (const [k, v] of Object.entries(p.metrics)) {
        if (typeof v === 'number' && Number.isFinite(v)) metrics[k] = v;
        else if (typeof v === 'boolean') metrics[k] = v ? 1 : 0;
      }
      metrics.quality = p.quality; // the JPEG quality the encoder settled on (travels with the record; not a score of the photo)
      const checks = portraitChecks(p.metrics, { ...DEFAULT_THRESHOLDS, ...portrait.thresholds });
      return { jpeg: p.jpeg, width: p.width, height: p.height, metrics, checks, verdict: p.verdict, reasons: p.reasons.map((r) => ({ code: r.code, message: r.message })) };
    },
    previewFrame({ signal }) {
      return camera.previewFrame({ signal });
    },
    async captureEvidence({ signal }) {
      const shot = await camera.capture({ signal });
      const { default: sharp } = await import('sharp');
      try {
        // evidence, not a portrait: no face check; scaled so the longer side is at most 1024 px
        const { data, info } = await sharp(shot.jpeg).rotate().resize(1024, 1024, { fit: 'inside', withoutEnlargement: true }).jpeg({ quality: 80 }).toBuffer({ resolveWithObject: true });
        return { jpeg: data, width: info.width, height: info.height };
      } finally {
        shot.jpeg.fill(0);
      }
    },
  };
}

// ───────────────────────── chip ─────────────────────────

export interface ChipAdapterOptions {
  /** Reader name / pattern for citizen cards (config devices.card.reader); empty = any. */
  reader?: string;
  /** The CSCA store, or a getter (the demo's simulated card brings its own test CSCA once opened). */
  csca?: CscaStore | (() => CscaStore | undefined);
  /** How long to wait for the card to be put on the reader (default 30 s). */
  waitMs?: number;
  logger?: Logger;
}

/** ICAO 9303 read with BAC and passive authentication behind the workflow's ChipPort. */
export function chipPort(reader: CardReaderDriver, o: ChipAdapterOptions = {}): ChipPort {
  return {
    async readChip(key, { signal, onProgress }) {
      if (signal.aborted) throw new StationError('CARD_ABORTED', 'chip read cancelled');
      onProgress?.({ phase: 'reading_chip' });
      const info = await reader.waitForCard({ ...(o.reader ? { reader: o.reader } : {}), timeoutMs: o.waitMs ?? 30_000 });
      const csca = typeof o.csca === 'function' ? o.csca() : o.csca;
      const r = await reader.readDocument({ reader: info.name, ...(key.mrz ? { bac: key.mrz } : {}), ...(key.can ? { can: key.can } : {}), ...(csca ? { csca } : {}), ...(o.logger ? { logger: o.logger } : {}) });
      const mrzFields: Record<string, string | null> = {
        documentNumber: r.mrz.documentNumber, lastName: r.mrz.lastName, firstName: r.mrz.firstName, birthDate: r.mrz.birthDate,
        expirationDate: r.mrz.expirationDate, sex: r.mrz.sex, nationality: r.mrz.nationality, issuingState: r.mrz.issuingState,
        nationalId: r.nationalId ?? null,
      };
      const c = r.cccd;
      const chipDetails: ChipReadResult['chipDetails'] = c ? {
        ...(c.fullName ? { fullName: c.fullName } : {}), ...(c.dateOfBirthIso ? { dateOfBirth: c.dateOfBirthIso } : {}), ...(c.sex ? { sex: c.sex } : {}),
        ...(r.nationalId ? { nationalId: r.nationalId } : {}), ...(c.placeOfResidence ? { address: c.placeOfResidence } : {}), ...(c.placeOfOrigin ? { placeOfOrigin: c.placeOfOrigin } : {}),
      } : undefined;
      const v = r.passiveAuth;
      const code = v.reasonCode ? { reasonCode: v.reasonCode } : {};
      const passiveAuth: ChipReadResult['passiveAuth'] = v.verdict === 'valid' ? { status: 'valid' }
        : { status: 'invalid', reason: v.reason ?? 'passive authentication failed', ...code };
      const clone: ChipReadResult['clone'] = { verdict: r.clone.verdict, ...(r.clone.reasonCode ? { reasonCode: r.clone.reasonCode } : {}), ...(r.clone.reason ? { reason: r.clone.reason } : {}), ...(r.clone.method ? { method: r.clone.method } : {}) };
      return {
        dg1: r.dg1, ...(r.dg2 ? { dg2: r.dg2 } : {}), sod: r.sod, mrzFields, ...(r.faceJpeg ? { faceJpeg: r.faceJpeg } : {}), passiveAuth,
        clone, access: { protocol: r.access.protocol, password: r.access.password, ...(r.access.protocol === 'PACE' && r.access.mapping ? { mapping: r.access.mapping } : {}) }, ...(chipDetails ? { chipDetails } : {}),
      };
    },
  };
}

/**
 * The officer's card (scheme card-bound v1, docs/local-api.md): its ATR and,
 * on readers that answer PC/SC GET DATA (FF CA 00 00 00), its UID.
 */
export function officerCardPort(reader: CardReaderDriver, readerName?: string, waitMs = 3000): OfficerCardPort {
  return {
    async readIdentity() {
      const info = await reader.waitForCard({ ...(readerName ? { reader: readerName } : {}), timeoutMs: waitMs });
      let uid: string | null = null;
      try {
        const ch = await reader.connect(info.name);
        try {
          const r = await ch.transmit(Buffer.from('FFCA000000', 'hex'));
          if (r.sw === 0x9000 && r.data.length > 0) uid = r.data.toString('hex');
        } finally {
          await ch.close();
        }
      } catch { /* contact cards have no UID: ATR only */ }
      return { atr: (info.atr ?? '').toLowerCase(), uid };
    },
  };
}

// ───────────────────────── vault ─────────────────────────

/** Splits a Vietnamese-order full name: family name first, then middle and given names. */
export function splitName(fullName: string): { surname: string; givenNames: string } {
  const parts = fullName.trim().split(/\s+/);
  return { surname: parts[0] ?? '', givenNames: parts.slice(1).join(' ') };
}

/** `details.extra` as the station writes it: only the documented keys (config/domain.ts DETAILS_EXTRA_KEYS). */
type StationExtra = Partial<Record<DetailsExtraKey, string>>;

function wireDetails(d: PersonalDetails, extra: StationExtra): WireDetails {
  const n = splitName(d.fullName);
  const out: WireDetails = { surname: n.surname, givenNames: n.givenNames, dateOfBirth: d.dateOfBirth, sex: d.sex };
  if (d.nationality) out.nationality = d.nationality;
  if (d.address) out.address = d.address;
  if (d.documentNumber) out.documentNumber = d.documentNumber;
  if (d.nationalId) out.nationalId = d.nationalId;
  if (d.phone) out.phone = d.phone;
  const x: StationExtra = { fullName: d.fullName, unitCode: d.unitCode, ...extra };
  if (d.placeOfOrigin) x.placeOfOrigin = d.placeOfOrigin;
  if (d.documentExpiry) x.documentExpiry = d.documentExpiry;
  out.extra = x as Record<string, string>;
  return out;
}

/** The chip check → the record's verdict, by reason code (config/domain.ts PA_REASONS); the sentence travels as it was. */
function wirePa(v: ChipReadResult['passiveAuth']): { verdict: WirePaVerdict; reason?: string } {
  if (v.status === 'valid') return { verdict: 'valid' };
  return { verdict: recordPaVerdict(v.status, v.reasonCode), reason: v.reason, ...(v.reasonCode ? { reasonCode: v.reasonCode } : {}) };
}

/** The workflow's draft → the wire record (sync/wire/record.ts). */
export function draftToRecord(draft: EnrollmentDraft, stationId: string, recordId: string, completedAt = Date.now(), clock?: RecordClock): EnrollmentRecord {
  const extra: StationExtra = { sessionId: draft.sessionId };
  const fingerprints: FingerprintEntry[] = draft.fingerprints.map((f) => {
    if (f.capture) {
      const c = f.capture;
      return { position: f.position, status: 'captured', png: c.png, width: c.width, height: c.height, ppi: c.ppi ?? 500, quality: Math.round(c.quality), attempts: Math.max(1, c.attempts) };
    }
    // The record knows missing | amputated | bandaged | unable; a device failure is "unable" with the reason saying so.
    const e = f.exception!;
    return { position: f.position, status: 'exception', ...recordedFingerException(e.code, e.reason), ...(f.photo ? { photo: { jpeg: f.photo.jpeg, width: f.photo.width, height: f.photo.height } } : {}) };
  });
  let portrait: EnrollmentRecord['portrait'];
  if (draft.portrait.capture) {
    const p = draft.portrait.capture;
    portrait = { jpeg: p.jpeg, width: p.width, height: p.height, metrics: p.metrics };
  } else {
    extra.portraitException = `${draft.portrait.exception.code}: ${draft.portrait.exception.reason}`;
  }
  let chip: EnrollmentRecord['chip'];
  if (draft.chip?.read) {
    const c = draft.chip.read;
    chip = { dg1: c.dg1, ...(c.dg2 ? { dg2: c.dg2 } : {}), sod: c.sod, passiveAuth: wirePa(c.passiveAuth), ...(c.clone ? { clone: c.clone } : {}), ...(c.access ? { access: c.access } : {}) };
  } else if (draft.chip?.exception) {
    extra.chipException = `${draft.chip.exception.code}: ${draft.chip.exception.reason}`;
  }
  return {
    recordId, stationId, officerId: draft.officerId, kind: draft.kind,
    startedAt: draft.startedAt, completedAt, details: wireDetails(draft.details, extra), fingerprints,
    ...(portrait ? { portrait } : {}), ...(chip ? { chip } : {}),
    ...(draft.consent ? { consent: { version: draft.consent.version, language: draft.consent.language, sha256: Buffer.from(draft.consent.sha256, 'hex'), at: draft.consent.at } } : {}),
    ...(draft.overrides?.length ? { overrides: draft.overrides.map((o) => ({ kind: o.kind, code: o.code, officerId: o.officerId, at: o.at, reason: o.reason, ...(o.fields ? { fields: [...o.fields] } : {}) })) } : {}),
    ...(clock ? { clock } : {}),
  };
}

/** The record's `clock` from a trusted-time reading (station/clock.ts StationClock.trusted()): its offset and uncertainty, or "none". */
export function recordClock(t: { offsetMs: number; uncertaintyMs: number } | null): RecordClock {
  return t ? { source: 'hq', offsetMs: Math.round(t.offsetMs), uncertaintyMs: Math.max(0, Math.round(t.uncertaintyMs)) } : { source: 'none' };
}

/** What the sealer needs from station/vault's Vault. */
export interface VaultLike {
  readonly stationId: string;
  seal(record: EnrollmentRecord): Promise<{ recordId: string; sha256: string }>;
  recordState?(recordId: string): { sealedAt?: number } | null;
}

/** Seals drafts into the vault under the record id the workflow chose (a fresh UUIDv7 otherwise). */
export function vaultSealer(vault: VaultLike, now: () => number = Date.now, trusted?: () => { offsetMs: number; uncertaintyMs: number } | null): SealerPort {
  return {
    async seal(draft) {
      // the local clock's reading and, taken at the same moment, how far it is from headquarters' signed time
      const rec = draftToRecord(draft, vault.stationId, draft.recordId ?? uuidv7(), now(), trusted ? recordClock(trusted()) : undefined);
      const r = await vault.seal(rec);
      return { recordId: r.recordId };
    },
    lookup(recordId) {
      const r = vault.recordState?.(recordId);
      return r ? { sealedAt: r.sealedAt ?? 0 } : null;
    },
  };
}

// ───────────────────────── station guard and status ─────────────────────────

export interface GuardSources {
  /** Reason text (or who, when and why) when headquarters, the tamper switch or a technician locked the station, else null. */
  locked(): string | { reason: string; by: string; at?: number | null } | null;
  /** Offline limits from set-policy; null fields = no limit. */
  policy(): { maxUnacked: number | null; maxDaysSinceReceipt: number | null } | null;
  /** The vault (or anything with the same checks). */
  vault: {
    requireSealable(): void;
    checkDisk(extraBytes?: number): { ok: boolean; freeBytes: number; reserveBytes: number; path: string };
    stats(now?: number): OutboxStats;
  };
  now?: () => number;
}

/**
 * Whether a session may start (and a record be sealed): not locked, the
 * headquarters key usable, free disk above the reserve, within the offline policy.
 */
export function stationGuard(src: GuardSources): StationGuardPort {
  return {
    canEnroll(): GuardVerdict {
      const l = src.locked();
      if (l !== null) {
        const lock = typeof l === 'string' ? { reason: l, by: 'headquarters', at: null } : { reason: l.reason, by: l.by, at: l.at ?? null };
        const hint = lock.by === 'tamper' ? 'close the case; headquarters must then unlock the station' : 'ask headquarters to unlock it';
        return { ok: false, code: 'locked', message: `the station is locked${lock.reason ? `: ${lock.reason}` : ''}`, hint, lock };
      }
      try { src.vault.requireSealable(); } catch (e) {
        return { ok: false, code: 'hq_key', message: (e as Error).message, hint: (e as StationError).hint ?? 'install a valid headquarters public key' };
      }
      const disk = src.vault.checkDisk();
      if (!disk.ok) {
        return { ok: false, code: 'disk_low', message: `only ${Math.floor(disk.freeBytes / 1048576)} MB free on ${disk.path}; the reserve is ${Math.floor(disk.reserveBytes / 1048576)} MB`, hint: 'connect the booth so its backlog uploads and is released' };
      }
      const p = src.policy();
      if (p) {
        const r = evaluatePolicy(src.vault.stats((src.now ?? Date.now)()), p, (src.now ?? Date.now)());
        if (r.level === 'reached') {
          const byCount = p.maxUnacked !== null && r.unacknowledged >= p.maxUnacked;
          return byCount
            ? { ok: false, code: 'offline_policy', message: `${r.unacknowledged} records are waiting for headquarters; the offline policy allows at most ${p.maxUnacked}`, hint: 'connect the booth to the network so it can upload' }
            : { ok: false, code: 'offline_policy', message: `no receipt from headquarters for ${r.daysSinceReceipt.toFixed(1)} days; the offline policy allows ${p.maxDaysSinceReceipt}`, hint: 'connect the booth to the network so it can upload' };
        }
      }
      return { ok: true };
    },
  };
}

/** Waiting count and last sync from the vault's outbox statistics; connection and last contact from the uplink. */
export function vaultUplinkStatus(vault: { stats(now?: number): OutboxStats }, connected?: () => boolean, lastContactAt?: () => number | null, clock?: () => UplinkStatus['clock']): UplinkStatusPort {
  return {
    status(): UplinkStatus {
      const s = vault.stats();
      const c = connected?.();
      const contact = c ? Date.now() : Math.max(lastContactAt?.() ?? 0, s.lastReceiptAt ?? 0) || null;
      const k = clock?.();
      return { waiting: s.sealed + s.inFlight + s.held, lastSyncAt: s.lastReceiptAt, ...(connected ? { connected: c } : {}), lastContactAt: contact, ...(k ? { clock: k } : {}) };
    },
  };
}

/** The kiosk's clock banner from station/clock.ts's status: skewed (in whole minutes), or unset with nothing to correct it yet. */
export function kioskClock(c: { unset: boolean; skewed: boolean; trusted: { offsetMs: number } | null }): NonNullable<UplinkStatus['clock']> {
  return { skewed: c.skewed, offsetMin: c.trusted ? Math.round(c.trusted.offsetMs / 60_000) : null, unset: c.unset && c.trusted === null };
}

/** Device states from a function the composition root provides (kept small on purpose). */
export function deviceStatus(fn: () => DeviceState[]): DeviceStatusPort {
  return { states: fn };
}

/**
 * Writes officer login/logout and second-officer overrides into the vault's
 * audit chain. Only ids, codes and field names — never names, PINs, the
 * override's free-text reason (that is sealed in the record) or anything
 * about the enrolled person.
 */
export function auditOfficerEvents(wf: { on(ev: 'audit', fn: (e: { kind: 'login' | 'logout' | 'override'; officerId: string; result: string; reason?: string; [k: string]: string | undefined }) => void): unknown },
  audit: { append(kind: 'login' | 'logout' | 'override', data?: Record<string, string | number | boolean | null>): unknown }, log?: Logger): void {
  wf.on('audit', (e) => {
    const { kind, ...data } = e;
    const flat: Record<string, string> = {};
    for (const [k, v] of Object.entries(data)) if (typeof v === 'string') flat[k] = v;
    try { audit.append(kind, flat); } catch (err) { log?.error({ err }, 'could not write the audit entry'); }
  });
}
