/**
 * Vietnam's citizen cards (CCCD 2021, Căn cước 2024): DG13 decoding (both
 * layouts, missing fields, NFC, malformed input), the TD1 MRZ with the 12-digit
 * ID number, and a whole read of the CCCD profile with PACE-CAN in process
 * (the same read through pcscd + vpcd is in pcsc.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { buildCccdDg13, cccdIdFromMrz, parseCccdDg13, SPECIMEN_CCCD } from '../../drivers/card/cccd';
import { buildDocument, mrzTransliterate } from '../../drivers/card/emulator/document';
import { bacInputFromMrz, parseMrz } from '../../drivers/card/mrz';
import { SimulatedCardReader } from '../../drivers/card/simulated';
import { cscaStoreFrom } from '../../drivers/card/passive-auth';
import { CardDataError, tlv } from '../../drivers/card/tlv';
import type { StationError } from '../../drivers/common/errors';

const u = (s: string) => tlv(0x0c, Buffer.from(s, 'utf8'));
const p = (s: string) => tlv(0x13, Buffer.from(s, 'latin1'));
const f = (n: number, ...v: Buffer[]) => tlv(0x30, tlv(0x02, Buffer.from([n])), ...v);

function dataError(fn: () => unknown): CardDataError {
  try { fn(); } catch (e) { return e as CardDataError; }
  throw new Error('expected a CardDataError');
}

describe('DG13 of Vietnamese citizen cards', () => {
  it('2021 layout: every field named, parents from nested SEQUENCEs, old ID in field 15, dates also as ISO', () => {
    const d = parseCccdDg13(buildCccdDg13(SPECIMEN_CCCD, '2021'));
    expect(d).toEqual({
      ...SPECIMEN_CCCD, sex: 'F', dateOfBirthIso: '1990-08-12', dateOfIssueIso: '2021-03-15', dateOfExpiryIso: '2030-08-12', other: {},
    });
  });

  it('2024 layout: parents as two strings, no identifying marks, old ID in field 16, "Không thời hạn" expiry kept as text', () => {
    const d = parseCccdDg13(buildCccdDg13({ ...SPECIMEN_CCCD, sexText: 'Nam', dateOfExpiry: 'Không thời hạn' }, '2024'));
    expect(d.identifyingMarks).toBeUndefined();
    expect(d.fatherName).toBe('Nguyễn Văn Đức');
    expect(d.motherName).toBe('Trần Thị Lụa');
    expect(d.oldIdNumber).toBe('025123456');
    expect(d.sex).toBe('M');
    expect(d.dateOfExpiry).toBe('Không thời hạn');
    expect(d.dateOfExpiryIso).toBeUndefined();
  });

  it('tolerates missing fields, no wrapper SEQUENCE, unknown field numbers, and returns NFC text from decomposed UTF-8', () => {
    const nfd = 'Lê Văn Tám'.normalize('NFD');
    expect(nfd).not.toBe('Lê Văn Tám'.normalize('NFC'));
    const dg13 = tlv(0x6d, f(1, p('001203004567')), f(2, u(nfd)), f(21, u('thông tin khác')));
    const d = parseCccdDg13(dg13);
    expect(d.fullName).toBe('Lê Văn Tám'.normalize('NFC'));
    expect(d.idNumber).toBe('001203004567');
    expect(d.other).toEqual({ 21: 'thông tin khác' });
    for (const k of ['dateOfBirth', 'sex', 'fatherName', 'placeOfResidence', 'oldIdNumber'] as const) expect(d[k]).toBeUndefined();
  });

  it('malformed DG13 is a CardDataError naming DG13, never another exception', () => {
    const cases: [Buffer, RegExp][] = [
      [tlv(0x6b, f(1, p('001203004567'))), /tag 6D/],
      [tlv(0x6d, f(2, tlv(0x0c, Buffer.from([0xc3, 0x28])))), /field 2 is not valid UTF-8/],
      [tlv(0x6d, f(2, u('a\u0001b'))), /control characters/],
      [tlv(0x6d, tlv(0x04, Buffer.from('x'))), /no numbered fields/],
      [tlv(0x6d, f(1, p('12345'))), /not 9 or 12 digits/],
      [Buffer.from([0x6d, 0x82, 0x01]), /./],
    ];
    for (const [b, re] of cases) {
      const e = dataError(() => parseCccdDg13(b));
      expect(e).toBeInstanceOf(CardDataError);
      expect(e.code).toBe('CARD_BAD_DATA');
      expect(e.message).toContain('DG13');
      expect(e.message).toMatch(re);
    }
    // random corruption of a real DG13: decoded or refused by name, nothing else
    const good = buildCccdDg13(SPECIMEN_CCCD);
    let refused = 0;
    for (let i = 0; i < 2000; i++) {
      const b = Buffer.from(good);
      for (let k = 0; k < 3; k++) b[(i * 7919 + k * 104729) % b.length] = (i * 31 + k * 17) & 0xff;
      try { parseCccdDg13(b.subarray(0, b.length - (i % 5))); } catch (e) { expect(e).toBeInstanceOf(CardDataError); refused++; }
    }
    expect(refused).toBeGreaterThan(0);
  });
});

describe('the CCCD profile', () => {
  it('TD1 MRZ "IDVNM": the last 9 digits of the ID in the document number, all 12 in the optional data; BAC keys from the 9', async () => {
    const doc = await buildDocument({ cccd: {}, face: false });
    const [l1, l2, l3] = doc.mrzLines;
    expect(l1).toMatch(/^IDVNM190012345\d079190012345<<<$/);
    expect(l2).toMatch(/^900812\dF300812\dVNM<{11}\d$/);
    expect(l3).toBe('NGUYEN<<THI<THU<HANG<<<<<<<<<<');
    const m = parseMrz(doc.mrzLines);
    expect(m.valid).toBe(true);
    expect(cccdIdFromMrz(m)).toBe('079190012345');
    expect(bacInputFromMrz(doc.mrzLines.join('\n'))).toEqual({ documentNumber: '190012345', birthDate: '900812', expiryDate: '300812' });
    expect(doc.can).toBe('012345');
    expect(mrzTransliterate('Đặng Thị Ngọc Hân')).toBe('DANG THI NGOC HAN');
  });

  it('reads a CCCD-profile card with PACE and the CAN (no MF select): DG13 decoded, DG13 covered by passive authentication', async () => {
    const doc = await buildDocument({ cccd: { generation: '2024' }, faceBytes: 2500 });
    const r = new SimulatedCardReader({ contents: doc, pace: { can: doc.can, only: true }, noMfSelect: true });
    await r.open();
    try {
      const res = await r.readDocument({ can: doc.can, csca: cscaStoreFrom([doc.pki.csca.cert]) });
      expect(res.access).toMatchObject({ protocol: 'PACE', password: 'CAN' });
      expect(res.dataGroupsPresent).toEqual([1, 2, 13]);
      expect(res.passiveAuth.verdict).toBe('valid');
      expect(res.passiveAuth.checkedDataGroups).toEqual([1, 2, 13]);
      expect(res.nationalId).toBe('079190012345');
      expect(res.cccd).toMatchObject({ fullName: 'Nguyễn Thị Thu Hằng', placeOfResidence: SPECIMEN_CCCD.placeOfResidence, motherName: 'Trần Thị Lụa', oldIdNumber: '025123456' });
      // a DG13 changed after signing fails passive authentication by name
      r.card!.setFaults({ tamperDataGroup: 13 });
      const bad = await r.readDocument({ can: doc.can, csca: cscaStoreFrom([doc.pki.csca.cert]) });
      expect(bad.passiveAuth).toMatchObject({ verdict: 'invalid', reasonCode: 'hash-mismatch' });
      // the wrong CAN is refused once, with the CAN message
      const e = await r.readDocument({ can: '999999' }).then(() => undefined, (x: StationError) => x);
      expect(e?.code).toBe('CARD_ACCESS_DENIED');
    } finally { await r.close(); }
  });
});
