/**
 * Vietnam's chip citizen identity cards: the CCCD (Căn cước công dân, issued
 * from 2021) and the "Căn cước" card (from 1 July 2024). Both are ICAO 9303 TD1
 * cards; the holder's richest data is in DG13, a national data group that
 * ICAO leaves to the issuer. No official description of DG13 is public: the
 * layout below is what public reader implementations describe (see
 * docs/card.md, "Vietnamese citizen cards"), implemented tolerantly.
 *
 * DG13 (tag 6D) holds SEQUENCEs of { INTEGER field number, value… }; a value
 * is a UTF8String (names, places: Vietnamese with diacritics) or a
 * PrintableString (numbers, dates dd/mm/yyyy); the parents' names (field 13)
 * come either as two strings or as two nested SEQUENCEs. Any field may be
 * missing; numbers this reader does not know are kept in `other`.
 */
import { CardDataError, readAll, tlv, type Tlv } from './tlv';
import type { MrzFields } from './mrz';

export interface CccdDetails {
  /** The 12-digit personal identification number (số định danh cá nhân). */
  idNumber?: string;
  /** Full name as printed, with diacritics (NFC). */
  fullName?: string;
  /** As printed (dd/mm/yyyy) and as ISO 8601 when it is a full date. */
  dateOfBirth?: string;
  dateOfBirthIso?: string;
  /** "Nam" / "Nữ" as printed, and M / F. */
  sexText?: string;
  sex?: 'M' | 'F';
  nationality?: string;
  ethnicity?: string;
  religion?: string;
  /** Quê quán (2021 cards) or place of birth registration (2024 cards). */
  placeOfOrigin?: string;
  /** Nơi thường trú (2021) / nơi cư trú (2024). */
  placeOfResidence?: string;
  /** Đặc điểm nhận dạng (identifying marks). */
  identifyingMarks?: string;
  dateOfIssue?: string;
  dateOfIssueIso?: string;
  /** As printed; "Không thời hạn" (no expiry) has no ISO form. */
  dateOfExpiry?: string;
  dateOfExpiryIso?: string;
  fatherName?: string;
  motherName?: string;
  spouseName?: string;
  /** The holder's earlier 9- or 12-digit ID number (CMND / CCCD). */
  oldIdNumber?: string;
  /** Field numbers this reader does not name → their text. */
  other: Record<number, string>;
}

/** Field number → name (fields 13 parents, 14 spouse, 15/16 old ID number handled apart). */
const SIMPLE_FIELDS: Record<number, keyof CccdDetails> = {
  1: 'idNumber', 2: 'fullName', 3: 'dateOfBirth', 4: 'sexText', 5: 'nationality', 6: 'ethnicity', 7: 'religion',
  8: 'placeOfOrigin', 9: 'placeOfResidence', 10: 'identifyingMarks', 11: 'dateOfIssue', 12: 'dateOfExpiry', 14: 'spouseName',
};

const STRING_TAGS = new Set([0x0c /* UTF8String */, 0x13 /* PrintableString */, 0x16 /* IA5String */, 0x1a /* VisibleString */, 0x04 /* OCTET STRING, seen holding UTF-8 */]);
const utf8 = new TextDecoder('utf-8', { fatal: true });

function text(t: Tlv, field: number): string {
  let s: string;
  try { s = utf8.decode(t.value); } catch { throw new CardDataError('DG13', `field ${field} is not valid UTF-8 text`); }
  // Control characters never belong in these fields (a sign of a misparse or a damaged chip).
  if ([...s].some((ch) => { const c = ch.codePointAt(0)!; return (c < 0x20 && c !== 0x09 && c !== 0x0a) || c === 0x7f; })) throw new CardDataError('DG13', `field ${field} contains control characters`);
  return s.normalize('NFC').trim();
}

/** Strings inside a field's values, in order, down to two levels of nesting. */
function strings(items: Tlv[], field: number, depth = 0): string[] {
  const out: string[] = [];
  for (const it of items) {
    if (STRING_TAGS.has(it.tag)) out.push(text(it, field));
    else if ((it.tag === 0x30 || it.tag === 0x31) && depth < 2) out.push(...strings(readAll(it.value, 'DG13'), field, depth + 1));
  }
  return out;
}

function isoDate(s: string | undefined): string | undefined {
  const m = s ? /^(\d{1,2})\/(\d{1,2})\/(\d{4})$/.exec(s) : null;
  if (!m) return undefined;
  const [d, mo, y] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const dt = new Date(Date.UTC(y, mo - 1, d));
  if (dt.getUTCFullYear() !== y || dt.getUTCMonth() !== mo - 1 || dt.getUTCDate() !== d) return undefined;
  return `${m[3]}-${String(mo).padStart(2, '0')}-${String(d).padStart(2, '0')}`;
}

function leadingInt(kids: Tlv[]): number | undefined {
  const first = kids[0];
  return first && first.tag === 0x02 && first.value.length === 1 && first.value[0]! >= 1 && first.value[0]! <= 0x7f ? first.value[0] : undefined;
}

/**
 * Field SEQUENCEs: a SEQUENCE whose first element is a small INTEGER and that
 * holds no field SEQUENCE itself. A SEQUENCE of fields (with or without a
 * leading version INTEGER) is a wrapper and is searched; first occurrence of a
 * field number wins.
 */
function collectFields(items: Tlv[], out: Map<number, Tlv[]>, depth: number): void {
  for (const it of items) {
    if (it.tag !== 0x30 && it.tag !== 0x31) continue;
    const kids = readAll(it.value, 'DG13');
    const n = leadingInt(kids);
    const wrapper = kids.some((k) => (k.tag === 0x30 || k.tag === 0x31) && leadingInt(readAll(k.value, 'DG13')) !== undefined);
    if (n !== undefined && !wrapper) { if (!out.has(n)) out.set(n, kids.slice(1)); }
    else if (depth < 3) collectFields(kids, out, depth + 1);
  }
}

/**
 * Decodes DG13 of a Vietnamese citizen card. Missing fields are absent; a
 * DG13 that is not TLV, or text that is not UTF-8, is CardDataError('DG13').
 */
export function parseCccdDg13(dg13: Buffer): CccdDetails {
  const outer = readAll(dg13, 'DG13');
  if (outer.length !== 1 || outer[0]!.tag !== 0x6d) throw new CardDataError('DG13', 'it does not start with tag 6D');
  const fields = new Map<number, Tlv[]>();
  collectFields(readAll(outer[0]!.value, 'DG13'), fields, 0);
  if (fields.size === 0) throw new CardDataError('DG13', 'it holds no numbered fields (not a Vietnamese citizen card DG13)');
  const d: CccdDetails = { other: {} };
  const set = (k: keyof CccdDetails, v: string | undefined) => { if (v) (d as unknown as Record<string, string>)[k] = v; };
  for (const [n, values] of [...fields].sort((a, b) => a[0] - b[0])) {
    const ss = strings(values, n).filter(Boolean);
    const name = SIMPLE_FIELDS[n];
    if (name) set(name, ss.join(' '));
    else if (n === 13) { set('fatherName', ss[0]); set('motherName', ss[1]); }
    else if (n === 15 || n === 16) { if (!d.oldIdNumber) set('oldIdNumber', ss.join(' ')); }
    else if (ss.length) d.other[n] = ss.join(' ');
  }
  if (d.idNumber !== undefined && !/^\d{9}(\d{3})?$/.test(d.idNumber)) throw new CardDataError('DG13', `the ID number "${d.idNumber}" is not 9 or 12 digits`);
  set('dateOfBirthIso', isoDate(d.dateOfBirth));
  set('dateOfIssueIso', isoDate(d.dateOfIssue));
  set('dateOfExpiryIso', isoDate(d.dateOfExpiry));
  if (d.sexText) {
    const s = d.sexText.toLocaleLowerCase('vi');
    if (s === 'nam') d.sex = 'M';
    else if (s === 'nữ'.normalize('NFC')) d.sex = 'F';
  }
  return d;
}

/**
 * The 12-digit ID number from a Vietnamese TD1 MRZ: the optional data of line 1
 * starts with it; the document number field holds its last 9 digits.
 * Undefined when the MRZ is not laid out that way.
 */
export function cccdIdFromMrz(mrz: Pick<MrzFields, 'lines' | 'documentNumber'>): string | undefined {
  const l1 = mrz.lines[0];
  if (!l1 || l1.length !== 30 || l1.slice(2, 5) !== 'VNM') return undefined;
  const id = /^\d{12}/.exec(l1.slice(15))?.[0];
  if (!id || id.slice(3) !== l1.slice(5, 14)) return undefined;
  return id;
}

// ───────────────────────── emulator side ─────────────────────────

export type CccdGeneration = '2021' | '2024';

/** A specimen holder (invented person, Vietnamese text with diacritics). */
export const SPECIMEN_CCCD: Omit<CccdDetails, 'other'> = {
  idNumber: '079190012345',
  fullName: 'Nguyễn Thị Thu Hằng',
  dateOfBirth: '12/08/1990',
  sexText: 'Nữ',
  nationality: 'Việt Nam',
  ethnicity: 'Kinh',
  religion: 'Không',
  placeOfOrigin: 'Xã Hòa Phước, Huyện Hòa Vang, Đà Nẵng',
  placeOfResidence: '12 Lê Lợi, Phường Bến Nghé, Quận 1, TP. Hồ Chí Minh',
  identifyingMarks: 'Nốt ruồi C:2cm trên trước đầu mày phải',
  dateOfIssue: '15/03/2021',
  dateOfExpiry: '12/08/2030',
  fatherName: 'Nguyễn Văn Đức',
  motherName: 'Trần Thị Lụa',
  oldIdNumber: '025123456',
};

/**
 * Builds a DG13 the way the two card generations are described: 2021 cards
 * nest the parents' names in SEQUENCEs and put the old ID number in field 15;
 * 2024 cards give the parents as two strings, leave out the identifying marks
 * and put the old ID number in field 16. Fields left undefined are left out.
 */
export function buildCccdDg13(d: Partial<CccdDetails>, generation: CccdGeneration = '2021'): Buffer {
  const u = (s: string) => tlv(0x0c, Buffer.from(s.normalize('NFC'), 'utf8'));
  const p = (s: string) => tlv(0x13, Buffer.from(s, 'latin1'));
  const f = (n: number, ...v: Buffer[]) => tlv(0x30, tlv(0x02, Buffer.from([n])), ...v);
  const items: Buffer[] = [tlv(0x02, Buffer.from([0x01]))];
  const add = (n: number, v: string | undefined, enc: (s: string) => Buffer = u) => { if (v !== undefined) items.push(f(n, enc(v))); };
  add(1, d.idNumber, p);
  add(2, d.fullName);
  add(3, d.dateOfBirth, p);
  add(4, d.sexText);
  add(5, d.nationality);
  add(6, d.ethnicity);
  add(7, d.religion);
  add(8, d.placeOfOrigin);
  add(9, d.placeOfResidence);
  if (generation === '2021') add(10, d.identifyingMarks);
  add(11, d.dateOfIssue, p);
  add(12, d.dateOfExpiry, d.dateOfExpiry && /^[\x20-\x7e]*$/.test(d.dateOfExpiry) ? p : u);
  if (d.fatherName !== undefined || d.motherName !== undefined) {
    const names = [d.fatherName ?? '', d.motherName ?? ''];
    items.push(generation === '2021' ? f(13, ...names.map((n) => tlv(0x30, u(n)))) : f(13, ...names.map(u)));
  }
  add(14, d.spouseName);
  add(generation === '2021' ? 15 : 16, d.oldIdNumber, p);
  for (const [n, v] of Object.entries(d.other ?? {})) add(Number(n), v);
  return tlv(0x6d, tlv(0x30, ...items));
}
