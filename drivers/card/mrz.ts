/**
 * MRZ handling: the BAC key input (MRZ information) from a full MRZ or from the
 * three typed fields, and parsing DG1's MRZ with the `mrz` package.
 */
import { parse as parseMrzLines } from 'mrz';
import { UsageError } from '../common/errors';
import { checkDigit } from './crypto';
import { CardDataError, expectTlv, requireChild } from './tlv';

/** What the officer supplies for BAC. */
export interface BacKeyInput {
  documentNumber: string;
  /** YYMMDD */
  birthDate: string;
  /** YYMMDD */
  expiryDate: string;
}

/** Parsed MRZ fields (same names as the `mrz` package uses). */
export interface MrzFields {
  format: string;
  /** true when every check digit is correct. */
  valid: boolean;
  documentCode: string | null;
  issuingState: string | null;
  documentNumber: string | null;
  birthDate: string | null;
  sex: string | null;
  expirationDate: string | null;
  nationality: string | null;
  lastName: string | null;
  firstName: string | null;
  optional: string | null;
  /** The MRZ lines as printed. */
  lines: string[];
}

const DATE_RE = /^\d{2}(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])$/;

/** Normalises typed fields and checks their shape; throws UsageError naming the bad field. */
export function normaliseBacInput(input: BacKeyInput): BacKeyInput {
  const doc = input.documentNumber.trim().toUpperCase().replace(/\s+/g, '');
  if (!/^[A-Z0-9<]{1,22}$/.test(doc)) {
    throw new UsageError(`document number "${input.documentNumber}" may only contain letters A-Z, digits and "<"`);
  }
  for (const [name, v] of [['birth date', input.birthDate], ['expiry date', input.expiryDate]] as const) {
    if (!DATE_RE.test(v.trim())) throw new UsageError(`${name} "${v}" must be YYMMDD (e.g. 690806)`);
  }
  return { documentNumber: doc, birthDate: input.birthDate.trim(), expiryDate: input.expiryDate.trim() };
}

/** MRZ information = document number (padded to 9) + check digit + birth + check + expiry + check. */
export function mrzInformation(input: BacKeyInput): string {
  const n = normaliseBacInput(input);
  const doc = n.documentNumber.length < 9 ? n.documentNumber.padEnd(9, '<') : n.documentNumber;
  return `${doc}${checkDigit(doc)}${n.birthDate}${checkDigit(n.birthDate)}${n.expiryDate}${checkDigit(n.expiryDate)}`;
}

/** Splits an MRZ typed or scanned as one string (newlines, spaces or nothing between lines). */
export function splitMrz(text: string): string[] {
  const lines = text.split(/[\r\n]+/).map((l) => l.trim().toUpperCase()).filter(Boolean);
  if (lines.length >= 2) return lines;
  const s = text.replace(/\s+/g, '').toUpperCase();
  if (s.length === 90) return [s.slice(0, 30), s.slice(30, 60), s.slice(60)];
  if (s.length === 88) return [s.slice(0, 44), s.slice(44)];
  if (s.length === 72) return [s.slice(0, 36), s.slice(36)];
  return [s];
}

export function parseMrz(text: string | string[]): MrzFields {
  const lines = Array.isArray(text) ? text : splitMrz(text);
  const r = parseMrzLines(lines);
  const f = r.fields;
  const get = (k: keyof typeof f): string | null => f[k] ?? null;
  // The `mrz` package knows ISO states only: ICAO codes such as UTO (the specimen state) or D come back null
  // and mark the MRZ invalid. The state is what is printed; validity is the check digits.
  const raw = (line: number, from: number): string | null => {
    const v = lines[line]?.slice(from, from + 3).replace(/<+$/, '');
    return v ? v : null;
  };
  const natPos: Record<string, [number, number]> = { TD1: [1, 15], TD2: [1, 10], TD3: [1, 10] };
  const stateError = (d: { valid: boolean; error?: string }) => !d.valid && /state code/i.test(d.error ?? '');
  const valid = r.details.every((d) => d.valid || stateError(d));
  const np = natPos[r.format];
  return {
    format: r.format,
    valid,
    documentCode: get('documentCode'),
    issuingState: get('issuingState') ?? raw(0, 2),
    documentNumber: r.documentNumber ?? get('documentNumber'),
    birthDate: get('birthDate'),
    sex: get('sex'),
    expirationDate: get('expirationDate'),
    nationality: get('nationality') ?? (np ? raw(np[0], np[1]) : null),
    lastName: get('lastName'),
    firstName: get('firstName'),
    optional: get('optional1') ?? get('optional') ?? null,
    lines,
  };
}

/**
 * BAC input from a full MRZ (TD1 ID card or TD3 passport). The three fields
 * are cut straight from their fixed positions so a long TD1 document number
 * (continued in the optional data) is handled too.
 */
export function bacInputFromMrz(text: string): BacKeyInput {
  const lines = splitMrz(text);
  let doc: string, birth: string, expiry: string;
  if (lines.length === 3 && lines.every((l) => l.length === 30)) {
    const l1 = lines[0]!, l2 = lines[1]!;
    doc = l1.slice(5, 14);
    if (l1[14] === '<') {
      // Long document number: continues in the optional data, ending with its check digit.
      const rest = l1.slice(15, 30).replace(/<+$/, '');
      doc = doc + rest.slice(0, -1);
    }
    birth = l2.slice(0, 6);
    expiry = l2.slice(8, 14);
  } else if (lines.length === 2 && lines.every((l) => l.length === 44 || l.length === 36)) {
    const l2 = lines[1]!;
    doc = l2.slice(0, 9);
    birth = l2.slice(13, 19);
    expiry = l2.slice(21, 27);
  } else {
    throw new UsageError('the MRZ must be 3 lines of 30 characters (ID card) or 2 lines of 44 (passport)',
      'type it exactly as printed; separate lines with a newline or nothing at all');
  }
  return normaliseBacInput({ documentNumber: doc.replace(/<+$/, '') || doc, birthDate: birth, expiryDate: expiry });
}

/** Extracts and parses the MRZ held in DG1 (tag 61 → 5F1F). */
export function parseDg1(dg1: Buffer): MrzFields {
  const outer = expectTlv(dg1, 0x61, 'DG1');
  const mrzTlv = requireChild(outer.value, 0x5f1f, 'DG1', 'MRZ data object');
  const text = mrzTlv.value.toString('latin1');
  if (!/^[A-Z0-9<]+$/.test(text)) throw new CardDataError('DG1', 'MRZ contains characters outside A-Z, 0-9 and "<"');
  const lines = splitMrz(text);
  try {
    return parseMrz(lines);
  } catch (e) {
    throw new CardDataError('DG1', `MRZ could not be parsed (${(e as Error).message})`, e);
  }
}
