/**
 * Field-by-field validation of personal details. Every problem is reported as
 * { field, code, params } so the kiosk can show the reason next to the field
 * in the officer's language (codes are keys of `errors.*` in the i18n files).
 */
import type { EnrollmentKind, PersonalDetails } from './ports';

export interface FieldError {
  field: keyof PersonalDetails;
  code: string;
  params?: Record<string, string | number>;
  /** English text, for logs-free API clients and tests. */
  message: string;
}

export const DETAIL_FIELDS: readonly (keyof PersonalDetails)[] = [
  'fullName', 'dateOfBirth', 'sex', 'nationalId', 'nationality', 'placeOfOrigin', 'address', 'unitCode', 'phone', 'documentNumber', 'documentExpiry',
];

const LIMITS: Record<string, number> = { fullName: 100, placeOfOrigin: 200, address: 200, nationality: 3, unitCode: 32, phone: 15, documentNumber: 12 };

// Letters (any script, with combining marks for Vietnamese diacritics), spaces, apostrophe, hyphen.
const NAME_RE = /^[\p{L}\p{M}][\p{L}\p{M}' -]*$/u;
const CONTROL_RE = /[\p{Cc}\p{Cf}]/u;

function parseIsoDate(s: string): Date | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
  if (!m) return null;
  const y = Number(m[1]), mo = Number(m[2]), d = Number(m[3]);
  const dt = new Date(Date.UTC(y, mo - 1, d));
  if (dt.getUTCFullYear() !== y || dt.getUTCMonth() !== mo - 1 || dt.getUTCDate() !== d) return null;
  return dt;
}

/**
 * A date as officers type it — DD/MM/YYYY (also with . or - between, one-digit
 * day or month, or the 8 digits alone) — or already YYYY-MM-DD, to YYYY-MM-DD.
 * Anything else is returned as typed (validation then says "not a date").
 */
export function normaliseDate(v: string): string {
  const s = v.trim();
  if (/^\d{4}-\d{2}-\d{2}$/.test(s)) return s;
  const m = /^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$/.exec(s) ?? /^(\d{2})(\d{2})(\d{4})$/.exec(s);
  if (!m) return s;
  return `${m[3]}-${m[2]!.padStart(2, '0')}-${m[1]!.padStart(2, '0')}`;
}

/** Coerces unknown JSON into a PersonalDetails with trimmed strings (missing → ''); dates become YYYY-MM-DD. */
export function normaliseDetails(input: unknown): PersonalDetails {
  const o = (input && typeof input === 'object' ? input : {}) as Record<string, unknown>;
  const s = (k: string): string => (typeof o[k] === 'string' ? (o[k] as string).normalize('NFC').trim().replace(/\s+/g, ' ') : '');
  return {
    fullName: s('fullName'),
    dateOfBirth: normaliseDate(s('dateOfBirth')),
    sex: s('sex').toUpperCase() as PersonalDetails['sex'],
    nationalId: s('nationalId').replace(/\s/g, ''),
    nationality: (s('nationality') || 'VNM').toUpperCase(),
    placeOfOrigin: s('placeOfOrigin'),
    address: s('address'),
    unitCode: s('unitCode'),
    phone: s('phone').replace(/[\s.-]/g, ''),
    documentNumber: s('documentNumber').toUpperCase().replace(/\s/g, ''),
    documentExpiry: normaliseDate(s('documentExpiry')),
  };
}

/**
 * Validates details for a session kind. `now` is injectable for tests.
 * Vietnamese personal identification numbers (12 digits) are cross-checked:
 * digits 1–3 a province code 001–096, digit 4 the century/sex code
 * (0/1 = male/female born 1900s, 2/3 = 2000s, 4/5 = 2100s), digits 5–6 the
 * last two digits of the birth year.
 */
export function validateDetails(d: PersonalDetails, kind: EnrollmentKind, now = Date.now()): FieldError[] {
  const errors: FieldError[] = [];
  const err = (field: keyof PersonalDetails, code: string, message: string, params?: Record<string, string | number>): void => {
    if (!errors.some((e) => e.field === field)) errors.push({ field, code, message, ...(params ? { params } : {}) });
  };

  for (const f of DETAIL_FIELDS) {
    const v = d[f];
    if (typeof v !== 'string') { err(f, 'invalid', `${f} must be text`); continue; }
    if (CONTROL_RE.test(v)) err(f, 'bad_chars', `${f} contains control characters`);
    const max = LIMITS[f];
    if (max !== undefined && v.length > max) err(f, 'too_long', `${f} is longer than ${max} characters`, { max });
  }

  if (!d.fullName) err('fullName', 'required', 'full name is required');
  else if (d.fullName.length < 2) err('fullName', 'too_short', 'full name is too short', { min: 2 });
  else if (!NAME_RE.test(d.fullName)) err('fullName', 'name_chars', 'full name may contain only letters, spaces, apostrophes and hyphens');

  const dob = d.dateOfBirth ? parseIsoDate(d.dateOfBirth) : null;
  if (!d.dateOfBirth) err('dateOfBirth', 'required', 'date of birth is required');
  else if (!dob) err('dateOfBirth', 'bad_date', 'date of birth must be a real date written DD/MM/YYYY (or YYYY-MM-DD)');
  else if (dob.getTime() > now) err('dateOfBirth', 'in_future', 'date of birth is in the future');
  else if (new Date(now).getUTCFullYear() - dob.getUTCFullYear() > 130) err('dateOfBirth', 'too_old', 'date of birth is more than 130 years ago', { max: 130 });

  if (!d.sex) err('sex', 'required', 'sex is required');
  else if (!['M', 'F', 'X'].includes(d.sex)) err('sex', 'invalid_choice', 'sex must be M, F or X');

  if (d.nationalId) {
    if (!/^\d{12}$/.test(d.nationalId)) err('nationalId', 'id_format', 'personal identification number must be exactly 12 digits', { len: 12 });
    else {
      const province = Number(d.nationalId.slice(0, 3));
      const cs = Number(d.nationalId[3]);
      const yy = d.nationalId.slice(4, 6);
      if (province < 1 || province > 96) err('nationalId', 'id_province', 'the first three digits are not a province code (001–096)');
      else if (cs > 5) err('nationalId', 'id_century', 'the fourth digit (century and sex) must be 0–5');
      else if (dob) {
        const century = 1900 + Math.floor(cs / 2) * 100;
        const year = dob.getUTCFullYear();
        if (Math.floor(year / 100) * 100 !== century || String(year % 100).padStart(2, '0') !== yy) {
          err('nationalId', 'id_birth_mismatch', 'the number does not match the date of birth (digits 4–6 encode the birth year)');
        } else if ((d.sex === 'M' && cs % 2 !== 0) || (d.sex === 'F' && cs % 2 !== 1)) {
          err('nationalId', 'id_sex_mismatch', 'the number does not match the sex (digit 4 is even for male, odd for female)');
        }
      }
    }
  } else if (kind === 'eid-activation') {
    err('nationalId', 'required', 'personal identification number is required for an e-ID activation');
  }

  if (!/^[A-Z]{3}$/.test(d.nationality)) err('nationality', 'nationality_format', 'nationality must be a three-letter ICAO code such as VNM');

  if (!d.address) err('address', 'required', 'address is required');
  if (!d.unitCode) err('unitCode', 'required', 'administrative unit code is required');
  else if (!/^[0-9A-Za-z-]{1,32}$/.test(d.unitCode)) err('unitCode', 'unit_format', 'administrative unit code may contain only digits, letters and hyphens');

  if (d.phone && !/^(\+84|0)\d{9,10}$/.test(d.phone)) err('phone', 'phone_format', 'phone must be a Vietnamese number: 0 or +84 followed by 9–10 digits');

  if (kind === 'eid-activation') {
    if (!d.documentNumber) err('documentNumber', 'required', 'document number of the card is required for activation');
    else if (!/^[A-Z0-9]{6,12}$/.test(d.documentNumber)) err('documentNumber', 'doc_format', 'document number must be 6–12 letters or digits');
    const exp = d.documentExpiry ? parseIsoDate(d.documentExpiry) : null;
    if (!d.documentExpiry) err('documentExpiry', 'required', 'card expiry date is required for activation');
    else if (!exp) err('documentExpiry', 'bad_date', 'card expiry must be a real date written DD/MM/YYYY (or YYYY-MM-DD)');
    else if (exp.getTime() < now - 86_400_000) err('documentExpiry', 'expired', 'the card has expired');
  }
  return errors;
}

/** YYYY-MM-DD → YYMMDD for BAC. */
export function toYymmdd(iso: string): string {
  return iso.slice(2, 4) + iso.slice(5, 7) + iso.slice(8, 10);
}
