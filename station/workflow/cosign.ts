/**
 * Second-officer override (co-signature): one mechanism for everything the
 * workflow refuses but a second officer may accept on their own PIN — a chip
 * that failed passive authentication, a chip whose DG1 does not match the
 * entered details, and later clone-detection failures and co-signed exceptions.
 *
 * A *blocker* is derived from the session's state by a rule (BLOCKER_RULES); it
 * names its kind (config/domain.ts OVERRIDE_KINDS), a reason code, the step it
 * stops, the words shown to the officer, and a `subject`: a digest of exactly
 * what is being accepted (this chip's SOD, these values). A co-signature resolves
 * the blocker with the same kind and subject only: read another chip or change the
 * details and the refusal is back. Only co-signatures that resolve a blocker
 * present at confirm go into the record.
 */
import { createHash } from 'node:crypto';
import { CHIP_COMPARED_FIELDS, CLONE_REASONS, OVERRIDE_KINDS, PA_REASONS, isCloneReasonCode, isPaReasonCode, type ChipComparedField, type OverrideKind, type OverrideStep } from '../../config/domain';
import type { ChipReadResult, PersonalDetails } from './ports';
import { toYymmdd } from './validate';

export interface FieldMismatch {
  field: ChipComparedField;
  /** As the officer typed it. */
  entered: string;
  /** As DG1 has it ("" when the chip does not carry it). */
  chip: string;
}

export interface Blocker {
  kind: OverrideKind;
  /** Reason code: a passive-authentication reason code, "details-mismatch", or the exception kind. */
  code: string;
  /** The step this refusal stops (it always stops confirm too). */
  step: OverrideStep;
  /** English words for logs and API clients; the kiosk shows the translation of kind/code. */
  message: string;
  fields?: FieldMismatch[];
  /** finger-exception: the finger positions the co-signature covers. */
  positions?: number[];
  /** person-repeat: when the earlier record was sealed, and its short reference. */
  repeat?: { enrolledAt: number; recordRef: string };
  /** Digest of what exactly is accepted when this is overridden. */
  subject: string;
}

/** A second officer's co-signature, as kept in the session until confirm. */
export interface Cosignature {
  kind: OverrideKind;
  code: string;
  subject: string;
  officerId: string;
  at: number;
  reason: string;
  /** chip-details-mismatch: the differing fields; finger-exception: the finger positions (decimal). */
  fields?: string[];
}

/** What the rules look at (a view of the workflow's session). */
export interface CosignState {
  details: PersonalDetails | null;
  chip: { read?: ChipReadResult; exception?: RecordedException } | null | undefined;
  /** Fingers recorded as exceptions (captured ones are left out). */
  fingerExceptions?: readonly { position: number; exception: RecordedException; photoSha256?: string | null }[];
  portrait?: { exception?: RecordedException } | null;
  /** The repeat register knows this national ID number from an earlier record of the campaign. */
  repeat?: { hash: string; enrolledAt: number; recordRef: string } | null;
}

/** An exception as the officer recorded it. */
export interface RecordedException { code: string; reason: string }

export type BlockerRule = (s: CosignState) => Blocker | null;

function digest(...parts: (string | Buffer)[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(typeof p === 'string' ? Buffer.from(p, 'utf8') : p).update('\0');
  return h.digest('hex');
}

/** The chip was read but did not pass passive authentication (any reason, any not-valid verdict). */
export const chipAuthenticityRule: BlockerRule = (s) => {
  const r = s.chip?.read;
  if (!r || r.passiveAuth.status === 'valid') return null;
  const pa = r.passiveAuth;
  const code = pa.reasonCode ?? 'invalid';
  const known = isPaReasonCode(code) ? PA_REASONS[code].text : undefined;
  return {
    kind: 'chip-authenticity', code, step: OVERRIDE_KINDS['chip-authenticity'].step,
    message: `the chip is not proven genuine: ${pa.reason || known || code}`,
    subject: digest('chip-authenticity', code, r.sod, r.dg1),
  };
};

/** Clone detection failed (Chip or Active Authentication): a chip that cannot prove it holds its signed key may be a copy. */
export const chipCloneRule: BlockerRule = (s) => {
  const r = s.chip?.read;
  if (!r || !r.clone || r.clone.verdict !== 'failed') return null;
  const code = r.clone.reasonCode ?? 'failed';
  const known = isCloneReasonCode(code) ? CLONE_REASONS[code].text : undefined;
  return {
    kind: 'chip-clone', code, step: OVERRIDE_KINDS['chip-clone'].step,
    message: `the chip may be a copy: ${r.clone.reason || known || code}`,
    subject: digest('chip-clone', code, r.sod, r.dg1),
  };
};

/** Upper-case letters and digits only, diacritics removed (đ/Đ → D), words separated by one space. */
export function foldName(s: string): string {
  return s.normalize('NFD').replace(/\p{M}+/gu, '').replace(/[đĐ]/g, 'D').toUpperCase().replace(/[^A-Z0-9]+/g, ' ').trim();
}

/** TD1 (ID card) MRZ name field: 30 characters; a longer name is truncated on the chip. */
const MRZ_NAME_LENGTH = 30;

function namesMatch(entered: string, chipSurname: string, chipGiven: string): boolean {
  const typed = foldName(entered).split(' ').filter(Boolean);
  const chip = foldName(`${chipSurname} ${chipGiven}`).split(' ').filter(Boolean);
  if (!typed.length || !chip.length) return false;
  // The same words; the order may differ (family name first or last).
  if ([...typed].sort().join(' ') === [...chip].sort().join(' ')) return true;
  // A name longer than the MRZ field is cut: the chip's words are then the typed ones in order, the last one a prefix.
  const mrzLen = `${chipSurname}<<${chipGiven}`.replace(/\s+/g, '<').length;
  if (mrzLen >= MRZ_NAME_LENGTH - 1 && chip.length <= typed.length) {
    return chip.every((w, i) => (i < chip.length - 1 ? w === typed[i] : typed[i]!.startsWith(w)));
  }
  return false;
}

function chipSex(v: string | null | undefined): string {
  const s = (v ?? '').trim().toLowerCase();
  if (s === 'male' || s === 'm') return 'M';
  if (s === 'female' || s === 'f') return 'F';
  if (s === 'nonspecified' || s === 'x' || s === '<') return 'X';
  return '';
}

/** DG1 birth date (YYMMDD, "<" or "X" for unknown parts) against the typed YYYY-MM-DD: every known position equal. */
function birthMatches(entered: string, chip: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(entered) || !/^[\dX<]{6}$/i.test(chip) || !/\d/.test(chip)) return false;
  const typed = toYymmdd(entered);
  return [...chip].every((c, i) => !/\d/.test(c) || c === typed[i]);
}

const docNo = (s: string | null | undefined): string => (s ?? '').toUpperCase().replace(/[<\s]/g, '');

/**
 * DG1's name, date of birth, sex and document number against the entered details;
 * names compared without diacritics and case. A field the chip does not carry counts
 * as different (nothing to compare is not a match).
 */
export function compareChipWithDetails(d: PersonalDetails, mrz: Record<string, string | null>): FieldMismatch[] {
  const out: FieldMismatch[] = [];
  const chipName = [mrz.lastName, mrz.firstName].filter(Boolean).join(' ');
  const checks: Record<ChipComparedField, { ok: boolean; entered: string; chip: string }> = {
    fullName: { ok: namesMatch(d.fullName, mrz.lastName ?? '', mrz.firstName ?? ''), entered: d.fullName, chip: chipName },
    dateOfBirth: { ok: birthMatches(d.dateOfBirth, mrz.birthDate ?? ''), entered: d.dateOfBirth, chip: mrz.birthDate ?? '' },
    sex: { ok: chipSex(mrz.sex) !== '' && chipSex(mrz.sex) === d.sex, entered: d.sex, chip: chipSex(mrz.sex) || (mrz.sex ?? '') },
    // A Vietnamese citizen card prints its 12-digit ID; DG1's document number field holds the last 9 (the 12 are in the optional data).
    documentNumber: { ok: docNo(d.documentNumber) !== '' && (docNo(d.documentNumber) === docNo(mrz.documentNumber) || docNo(d.documentNumber) === docNo(mrz.nationalId)), entered: d.documentNumber, chip: mrz.nationalId ?? mrz.documentNumber ?? '' },
  };
  for (const f of CHIP_COMPARED_FIELDS) if (!checks[f].ok) out.push({ field: f, entered: checks[f].entered, chip: checks[f].chip });
  return out;
}

/** The chip's DG1 differs from the details entered for this session. */
export const chipDetailsRule: BlockerRule = (s) => {
  const r = s.chip?.read;
  if (!r || !s.details) return null;
  const fields = compareChipWithDetails(s.details, r.mrzFields);
  if (!fields.length) return null;
  return {
    kind: 'chip-details-mismatch', code: 'details-mismatch', step: OVERRIDE_KINDS['chip-details-mismatch'].step,
    message: `the chip does not match the details entered: ${fields.map((f) => `${f.field} "${f.entered}" ≠ chip "${f.chip}"`).join(', ')}`,
    fields,
    subject: digest('chip-details-mismatch', r.dg1, ...fields.flatMap((f) => [f.field, f.entered, f.chip])),
  };
};

/**
 * Fingers recorded as exceptions: one co-signature covers every exception recorded
 * so far (with its code, reason and photo); recording another, or changing one,
 * asks again.
 */
export const fingerExceptionRule: BlockerRule = (s) => {
  const ex = [...(s.fingerExceptions ?? [])].sort((a, b) => a.position - b.position);
  if (!ex.length) return null;
  const words = ex.map((e) => `finger ${e.position} (${e.exception.code}: ${e.exception.reason})`).join(', ');
  return {
    kind: 'finger-exception', code: 'finger-exception', step: OVERRIDE_KINDS['finger-exception'].step,
    message: `a second officer must confirm the finger exceptions: ${words}`,
    positions: ex.map((e) => e.position),
    subject: digest('finger-exception', ...ex.flatMap((e) => [String(e.position), e.exception.code, e.exception.reason, e.photoSha256 ?? ''])),
  };
};

/** The person was already enrolled at this booth in this campaign. */
export const personRepeatRule: BlockerRule = (s) => {
  const r = s.repeat;
  if (!r) return null;
  return {
    kind: 'person-repeat', code: 'person-repeat', step: OVERRIDE_KINDS['person-repeat'].step,
    message: `this national ID number was already enrolled at this booth in this campaign on ${new Date(r.enrolledAt).toISOString()} (record ${r.recordRef})`,
    repeat: { enrolledAt: r.enrolledAt, recordRef: r.recordRef },
    subject: digest('person-repeat', r.hash, String(r.enrolledAt)),
  };
};

/** A portrait recorded as not possible. */
export const portraitExceptionRule: BlockerRule = (s) => {
  const e = s.portrait?.exception;
  if (!e) return null;
  return {
    kind: 'portrait-exception', code: 'portrait-exception', step: OVERRIDE_KINDS['portrait-exception'].step,
    message: `a second officer must confirm that the portrait cannot be taken (${e.code}: ${e.reason})`,
    subject: digest('portrait-exception', e.code, e.reason),
  };
};

/** A chip recorded as not readable. */
export const chipExceptionRule: BlockerRule = (s) => {
  const e = s.chip?.exception;
  if (!e) return null;
  return {
    kind: 'chip-exception', code: 'chip-exception', step: OVERRIDE_KINDS['chip-exception'].step,
    message: `a second officer must confirm that the chip cannot be read (${e.code}: ${e.reason})`,
    subject: digest('chip-exception', e.code, e.reason),
  };
};

/** Every rule, in the order their refusals are shown. Add one to add a co-signable refusal. */
export const BLOCKER_RULES: readonly BlockerRule[] = [personRepeatRule, fingerExceptionRule, portraitExceptionRule, chipAuthenticityRule, chipCloneRule, chipExceptionRule, chipDetailsRule];

export function blockersOf(s: CosignState, rules: readonly BlockerRule[] = BLOCKER_RULES): Blocker[] {
  return rules.map((r) => r(s)).filter((b): b is Blocker => b !== null);
}

/** The co-signature that resolves a blocker, if any. */
export function cosignFor(b: Blocker, cosigns: readonly Cosignature[]): Cosignature | undefined {
  return cosigns.find((c) => c.kind === b.kind && c.subject === b.subject);
}

/**
 * Pre-fill from DG1: the details the officer has not typed yet (a typed value is
 * never overwritten). `typed` is false when the details form is still untouched,
 * so its defaults (nationality VNM) give way to the chip too.
 */
export function prefillFromChip(draft: PersonalDetails, mrz: Record<string, string | null>, typed: boolean, now = Date.now(), dg13?: ChipReadResult['chipDetails']): { details: PersonalDetails; filled: (keyof PersonalDetails)[] } {
  const out = { ...draft };
  const filled: (keyof PersonalDetails)[] = [];
  const set = (k: keyof PersonalDetails, v: string | null | undefined): void => {
    if (v && !out[k]) { (out as Record<string, string>)[k] = v; filled.push(k); }
  };
  // DG13 (Vietnamese citizen card) first: the name with its diacritics, the 12-digit ID, residence and place of origin as printed.
  if (dg13) {
    set('fullName', dg13.fullName);
    set('dateOfBirth', dg13.dateOfBirth);
    if (dg13.sex && !out.sex) { out.sex = dg13.sex; filled.push('sex'); }
    set('documentNumber', dg13.nationalId);
    set('nationalId', dg13.nationalId);
    set('address', dg13.address);
    set('placeOfOrigin', dg13.placeOfOrigin);
  }
  // DG1 names are upper-case ASCII: "NGUYEN VAN AN" → "Nguyen Van An" for the officer to add the diacritics
  const name = [mrz.lastName, mrz.firstName].filter(Boolean).join(' ').replace(/\s+/g, ' ').trim();
  set('fullName', name ? name.toLowerCase().replace(/(^|\s)\p{L}/gu, (c) => c.toUpperCase()) : null);
  const nowYy = new Date(now).getUTCFullYear() % 100;
  const iso = (yymmdd: string | null | undefined, future: boolean): string | null => {
    if (!yymmdd || !/^\d{6}$/.test(yymmdd)) return null;
    const yy = Number(yymmdd.slice(0, 2));
    // a birth date is in the past; an expiry date within ~50 years ahead
    const century = future ? (yy < nowYy - 50 ? 2100 : 2000) : yy > nowYy ? 1900 : 2000;
    return `${century + yy}-${yymmdd.slice(2, 4)}-${yymmdd.slice(4, 6)}`;
  };
  set('dateOfBirth', iso(mrz.birthDate, false));
  const sex = chipSex(mrz.sex);
  if (sex && !out.sex) { out.sex = sex as PersonalDetails['sex']; filled.push('sex'); }
  set('documentNumber', docNo(mrz.nationalId) || docNo(mrz.documentNumber) || null);
  set('documentExpiry', iso(mrz.expirationDate ?? mrz.expiryDate, true));
  if (!typed && mrz.nationality && /^[A-Z]{3}$/.test(mrz.nationality) && out.nationality !== mrz.nationality) {
    out.nationality = mrz.nationality;
    filled.push('nationality');
  }
  return { details: out, filled };
}
