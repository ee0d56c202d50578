/**
 * The second-officer override (#14 items 2 and 3, workflow side): a chip that is not
 * proven genuine, or whose DG1 differs from the person's details, stops the session
 * until a second officer co-signs with their own PIN; the co-signature goes into the
 * sealed record and the audit log, bound to exactly what was refused.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { StationError } from '../../drivers/common/errors';
import { compareChipWithDetails, foldName, prefillFromChip } from '../../station/workflow/cosign';
import { normaliseDetails } from '../../station/workflow/validate';
import { draftToRecord } from '../../station/workflow/adapters';
import { decodeRecord, encodeRecord, validateRecord, RecordFormatError } from '../../sync/wire/record';
import { GOOD_DETAILS, makeRig, type Rig, consentGiven } from './helpers';

let rig: Rig | null = null;
afterEach(() => { rig?.cleanup(); rig = null; });

async function codeOf(p: Promise<unknown> | (() => unknown)): Promise<StationError | undefined> {
  try { await (typeof p === 'function' ? p() : p); } catch (e) { return e as StationError; }
  return undefined;
}

const ACTIVATION = { ...GOOD_DETAILS, documentNumber: '001090012345', documentExpiry: '2035-05-17' };
const ERIKSSON = { lastName: 'ERIKSSON', firstName: 'ANNA MARIA', sex: 'female' };

/** Logged in as off1 (off2 exists to co-sign), an activation session up to the chip step. */
async function toChipStep(details: Record<string, string> = ACTIVATION): Promise<{ r: Rig; t: string; audit: Record<string, string>[] }> {
  const r = await makeRig();
  rig = r;
  if (!r.officers.get('off2')) await r.officers.add({ id: 'off2', name: 'Officer Two', pin: '654321' });
  const audit: Record<string, string>[] = [];
  r.wf.on('audit', (e: Record<string, string>) => audit.push(e));
  const t = (await r.wf.login('off1', '123456')).token;
  await r.wf.startSession(t);
  r.wf.chooseKind(t, 'eid-activation');
  consentGiven(r.wf, t);
  expect(r.wf.submitDetails(t, details).ok).toBe(true);
  await r.wf.captureFinger(t); await r.wf.captureFinger(t); r.wf.next(t);
  await r.wf.capturePortrait(t); r.wf.next(t);
  expect(r.wf.currentStep()).toBe('chip');
  return { r, t, audit };
}

describe('chip compared with the entered details', () => {
  it('folds diacritics and case; "Lê Văn Ba, M, 1990" is not "ERIKSSON ANNA MARIA, F, 1974"', () => {
    expect(foldName('Nguyễn Văn An')).toBe('NGUYEN VAN AN');
    expect(foldName('Đặng Thị Hà')).toBe('DANG THI HA');
    const d = normaliseDetails({ fullName: 'Lê Văn Ba', dateOfBirth: '1990-03-04', sex: 'M', documentNumber: '079090001234' });
    const m = compareChipWithDetails(d, { ...ERIKSSON, birthDate: '740812', documentNumber: 'D23145890' });
    expect(m.map((f) => f.field)).toEqual(['fullName', 'dateOfBirth', 'sex', 'documentNumber']);
    expect(m[0]).toEqual({ field: 'fullName', entered: 'Lê Văn Ba', chip: 'ERIKSSON ANNA MARIA' });
    expect(m[2]).toEqual({ field: 'sex', entered: 'M', chip: 'F' });
  });

  it('matches the same person however the name is written, and a name the MRZ had to cut', () => {
    const d = normaliseDetails({ fullName: 'Đặng thị HÀ', dateOfBirth: '1988-11-02', sex: 'F', documentNumber: '0010880 12345' });
    expect(compareChipWithDetails(d, { lastName: 'DANG', firstName: 'THI HA', birthDate: '881102', sex: 'female', documentNumber: '001088012345' })).toEqual([]);
    // given names first: the same words
    expect(compareChipWithDetails({ ...d, fullName: 'Thị Hà Đặng' }, { lastName: 'DANG', firstName: 'THI HA', birthDate: '881102', sex: 'F', documentNumber: '001088012345' })).toEqual([]);
    // unknown day in DG1 ("<<"): the known parts must agree
    expect(compareChipWithDetails(d, { lastName: 'DANG', firstName: 'THI HA', birthDate: '8811<<', sex: 'F', documentNumber: '001088012345' })).toEqual([]);
    expect(compareChipWithDetails(d, { lastName: 'DANG', firstName: 'THI HA', birthDate: '8812<<', sex: 'F', documentNumber: '001088012345' }).map((f) => f.field)).toEqual(['dateOfBirth']);
    // a 30-character MRZ name field cuts a long name: the chip has a prefix of the last word
    const long = { ...d, fullName: 'Tôn Nữ Hoàng Phương Thảo Nguyên Vi' };
    const mrzName = 'TON<<NU<HOANG<PHUONG<THAO<NGUY'; // 30 characters
    expect(mrzName).toHaveLength(30);
    expect(compareChipWithDetails(long, { lastName: 'TON', firstName: 'NU HOANG PHUONG THAO NGUY', birthDate: '881102', sex: 'F', documentNumber: '001088012345' })).toEqual([]);
    // …but a short name that is only a prefix is not the same name
    expect(compareChipWithDetails({ ...d, fullName: 'Đặng Thị Hằng' }, { lastName: 'DANG', firstName: 'THI HA', birthDate: '881102', sex: 'F', documentNumber: '001088012345' }).map((f) => f.field)).toEqual(['fullName']);
  });

  it('a field the chip does not carry is a difference, not a match', () => {
    const d = normaliseDetails(ACTIVATION);
    expect(compareChipWithDetails(d, { documentNumber: '001090012345', birthDate: '900517' }).map((f) => f.field)).toEqual(['fullName', 'sex']);
  });

  it('pre-fills only what is not typed', () => {
    const mrz = { ...ERIKSSON, birthDate: '740812', expirationDate: '340415', documentNumber: 'D23145890', nationality: 'UTO' };
    const fresh = prefillFromChip(normaliseDetails({}), mrz, false, Date.parse('2026-12-01'));
    expect(fresh.details).toMatchObject({ fullName: 'Eriksson Anna Maria', dateOfBirth: '1974-08-12', sex: 'F', documentNumber: 'D23145890', documentExpiry: '2034-04-15', nationality: 'UTO' });
    const typed = prefillFromChip(normaliseDetails({ fullName: 'Anna Eriksson', sex: 'F' }), mrz, true, Date.parse('2026-12-01'));
    expect(typed.details.fullName).toBe('Anna Eriksson');
    expect(typed.details.nationality).toBe('VNM');
    expect(typed.filled).toEqual(['dateOfBirth', 'documentNumber', 'documentExpiry']);
  });
});

describe('a chip not proven genuine', () => {
  it('blocks the step in words; the same officer cannot co-sign; a wrong PIN is refused and counted; a second officer\'s PIN lets it through into the record', async () => {
    const { r, t, audit } = await toChipStep();
    r.chip.verdict = { status: 'invalid', reason: 'no CSCA store is configured', reasonCode: 'no-csca-store' };
    let v = await r.wf.readChip(t);
    expect(v.session!.chip!.status).toBe('rejected');
    expect(v.session!.blockers).toEqual([expect.objectContaining({ kind: 'chip-authenticity', code: 'no-csca-store', step: 'chip', cosigned: null, message: expect.stringMatching(/not proven genuine: no CSCA store/) })]);
    const blocked = await codeOf(() => r.wf.next(t));
    expect(blocked?.code).toBe('WORKFLOW_BLOCKED');
    expect(blocked?.hint).toMatch(/second officer/);
    expect(blocked?.details).toMatchObject({ blockers: [{ kind: 'chip-authenticity', code: 'no-csca-store' }] });
    // recording "cannot be read" would hide the refused chip
    expect((await codeOf(() => r.wf.chipException(t, 'unable', 'reader broken')))?.code).toBe('WORKFLOW_BLOCKED');

    const over = (officerId: string, pin: string, reason = 'CSCA list not yet installed; card checked by hand') => r.wf.override(t, { kind: 'chip-authenticity', officerId, pin, reason });
    const self = await codeOf(over('off1', '123456'));
    expect(self).toMatchObject({ code: 'OVERRIDE_REFUSED', details: { cause: 'same_officer' } });
    const wrong = await codeOf(over('off2', '000000'));
    expect(wrong).toMatchObject({ code: 'OVERRIDE_REFUSED', details: { cause: 'OFFICER_BAD_CREDENTIALS', remaining: 2 } });
    expect(r.officers.get('off2')!.failedAttempts).toBe(1);
    expect((await codeOf(over('off2', '654321', 'ok')))?.code).toBe('WORKFLOW_INPUT'); // a reason is required
    expect((await codeOf(r.wf.override(t, { kind: 'chip-details-mismatch', officerId: 'off2', pin: '654321', reason: 'whatever it is' })))?.code).toBe('WORKFLOW_INPUT');

    v = await over('off2', '654321');
    expect(v.session!.chip!.status).toBe('read');
    expect(v.session!.blockers[0]!.cosigned).toMatchObject({ officerId: 'off2', reason: 'CSCA list not yet installed; card checked by hand' });
    expect(r.officers.get('off2')!.failedAttempts).toBe(0);
    expect(r.wf.view(t).officer!.id).toBe('off1'); // the second officer is not logged in
    r.wf.next(t);
    await r.wf.confirm(t);
    const draft = r.sealer.sealed[0]!.draft;
    expect(draft.overrides).toEqual([{ kind: 'chip-authenticity', code: 'no-csca-store', officerId: 'off2', at: expect.any(Number), reason: 'CSCA list not yet installed; card checked by hand' }]);
    // into the wire record and back
    const rec = decodeRecord(encodeRecord(draftToRecord(draft, 'ST-1', '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b')));
    expect(rec.overrides).toEqual([{ kind: 'chip-authenticity', code: 'no-csca-store', officerId: 'off2', at: draft.overrides![0]!.at, reason: 'CSCA list not yet installed; card checked by hand' }]);
    expect(rec.chip!.passiveAuth.verdict).not.toBe('valid');
    // the audit log: refused and accepted co-signatures, ids and codes only
    const o = audit.filter((e) => e.kind === 'override');
    // (the session's own officer was turned away before any PIN check)
    expect(o.map((e) => [e.officerId, e.result, e.reason])).toEqual([['off2', 'refused', 'OFFICER_BAD_CREDENTIALS'], ['off2', 'ok', undefined]]);
    expect(o.at(-1)).toMatchObject({ primaryOfficerId: 'off1', overrideKind: 'chip-authenticity', code: 'no-csca-store', sessionId: draft.sessionId });
    expect(JSON.stringify(o)).not.toMatch(/checked by hand/);
  });

  it('an invalid chip blocks too, whatever its reason; the co-signature covers that chip only', async () => {
    const { r, t } = await toChipStep();
    r.chip.verdict = { status: 'invalid', reason: 'DG2 does not match its hash in EF.SOD', reasonCode: 'hash-mismatch' };
    await r.wf.readChip(t);
    await r.wf.override(t, { kind: 'chip-authenticity', officerId: 'off2', pin: '654321', reason: 'chip damaged, photo compared by eye' });
    expect(r.wf.view(t).session!.blockers[0]!.cosigned).not.toBeNull();
    // another read of another chip (here: different SOD bytes) is refused again
    const orig = r.chip.readChip.bind(r.chip);
    r.chip.readChip = async (m, o) => ({ ...(await orig(m, o)), sod: Buffer.from('ANOTHER-SOD') });
    const v = await r.wf.readChip(t);
    expect(v.session!.chip!.status).toBe('rejected');
    expect(v.session!.blockers).toEqual([expect.objectContaining({ code: 'hash-mismatch', cosigned: null })]);
    expect((await codeOf(() => r.wf.next(t)))?.code).toBe('WORKFLOW_BLOCKED');
  });
});

describe('clone detection failed (Chip or Active Authentication)', () => {
  it('blocks like a failed passive authentication; a second officer co-signs kind chip-clone; the record carries the verdict, the access control and the override', async () => {
    const { r, t } = await toChipStep();
    r.chip.clone = { verdict: 'failed', reasonCode: 'ca-key-mismatch', reason: 'after Chip Authentication the chip does not speak with the keys DG14 implies (cloned or faulty chip)', method: 'CA ECDH AES-128 on brainpoolP256r1' };
    let v = await r.wf.readChip(t);
    expect(v.session!.chip!.status).toBe('rejected');
    expect(v.session!.blockers).toEqual([expect.objectContaining({ kind: 'chip-clone', code: 'ca-key-mismatch', step: 'chip', cosigned: null, message: expect.stringMatching(/may be a copy/) })]);
    expect((await codeOf(() => r.wf.next(t)))?.code).toBe('WORKFLOW_BLOCKED');
    // a co-signature of the other chip kind does not resolve it
    expect((await codeOf(r.wf.override(t, { kind: 'chip-authenticity', officerId: 'off2', pin: '654321', reason: 'chip checked under UV light' })))?.code).toBe('WORKFLOW_INPUT');
    v = await r.wf.override(t, { kind: 'chip-clone', officerId: 'off2', pin: '654321', reason: 'chip checked under UV light' });
    expect(v.session!.chip!.status).toBe('read');
    r.wf.next(t);
    await r.wf.confirm(t);
    const draft = r.sealer.sealed[0]!.draft;
    expect(draft.overrides).toEqual([expect.objectContaining({ kind: 'chip-clone', code: 'ca-key-mismatch', officerId: 'off2' })]);
    const rec = decodeRecord(encodeRecord(draftToRecord(draft, 'ST-1', '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b')));
    expect(rec.chip!.clone).toEqual(r.chip.clone);
    expect(rec.overrides![0]).toMatchObject({ kind: 'chip-clone', code: 'ca-key-mismatch' });
    // the record refuses a clone verdict or reason outside the vocabulary, and access values it does not know
    const good = draftToRecord(draft, 'ST-1', '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b');
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ clone: { verdict: 'genuine' } }, /chip\.clone\.verdict/],
      [{ clone: { verdict: 'failed' } }, /chip\.clone\.reasonCode: required/],
      [{ clone: { verdict: 'failed', reasonCode: 'looks-odd' } }, /chip\.clone\.reasonCode/],
      [{ clone: { verdict: 'chip-authenticated', extra: 1 } }, /chip\.clone\.extra/],
      [{ access: { protocol: 'SAC', password: 'CAN' } }, /chip\.access\.protocol/],
      [{ access: { protocol: 'PACE', password: 'PIN' } }, /chip\.access\.password/],
      [{ access: { protocol: 'PACE', password: 'CAN', mapping: 'XM' } }, /chip\.access\.mapping/],
      [{ access: { protocol: 'BAC', password: 'MRZ', mapping: 'GM' } }, /chip\.access\.mapping: only with protocol PACE/],
    ];
    for (const [chip, re] of bad) {
      let err: unknown;
      try { validateRecord({ ...good, chip: { ...good.chip!, ...chip } } as never); } catch (e) { err = e; }
      expect(err).toBeInstanceOf(RecordFormatError);
      expect((err as Error).message).toMatch(re);
    }
    validateRecord({ ...good, chip: { ...good.chip!, access: { protocol: 'PACE', password: 'CAN' } } });
    validateRecord({ ...good, chip: { ...good.chip!, access: { protocol: 'PACE', password: 'CAN', mapping: 'CAM' } } });
  });

  it('not-supported (a chip without DG14/DG15) and a successful check do not block', async () => {
    for (const clone of [{ verdict: 'not-supported' as const, reasonCode: 'no-dg14-dg15' as const }, { verdict: 'chip-authenticated' as const, method: 'CA ECDH AES-128 on brainpoolP256r1' }]) {
      const { r, t } = await toChipStep();
      r.chip.clone = clone;
      const v = await r.wf.readChip(t);
      expect(v.session!.chip!.status).toBe('read');
      expect(v.session!.blockers).toEqual([]);
      r.cleanup(); rig = null;
    }
  });

});

describe('a chip of someone else', () => {
  it('"Lê Văn Ba, M, 1990" with the chip of "ERIKSSON ANNA MARIA, F, 1974": shown field by field, confirm refused, then co-signed into the record', async () => {
    const { r, t } = await toChipStep({ ...ACTIVATION, fullName: 'Lê Văn Ba', nationalId: '001090012346' });
    r.chip.person = ERIKSSON;
    let v = await r.wf.readChip(t, { birthDate: '740812' });
    expect(v.session!.chip!.status).toBe('read'); // genuine chip…
    const b = v.session!.blockers;
    expect(b).toHaveLength(1); // …of another person
    expect(b[0]).toMatchObject({ kind: 'chip-details-mismatch', code: 'details-mismatch', step: 'review' });
    expect(b[0]!.fields).toEqual([
      { field: 'fullName', entered: 'Lê Văn Ba', chip: 'ERIKSSON ANNA MARIA' },
      { field: 'dateOfBirth', entered: '1990-05-17', chip: '740812' },
      { field: 'sex', entered: 'M', chip: 'F' },
    ]);
    r.wf.next(t);
    const refused = await codeOf(r.wf.confirm(t));
    expect(refused?.code).toBe('WORKFLOW_BLOCKED');
    expect(refused?.message).toMatch(/fullName "Lê Văn Ba" ≠ chip "ERIKSSON ANNA MARIA"/);
    expect(r.sealer.sealed).toHaveLength(0);
    // nothing entered is lost by the refusal
    v = r.wf.view(t);
    expect(v.session!.step).toBe('review');
    expect(v.session!.details!.fullName).toBe('Lê Văn Ba');
    expect(v.session!.fingers.every((f) => f.status === 'captured')).toBe(true);

    await r.wf.override(t, { kind: 'chip-details-mismatch', officerId: 'off2', pin: '654321', reason: 'card of the person\'s mother, activation requested by her in writing' });
    await r.wf.confirm(t);
    expect(r.sealer.sealed[0]!.draft.overrides).toEqual([expect.objectContaining({ kind: 'chip-details-mismatch', code: 'details-mismatch', officerId: 'off2', fields: ['fullName', 'dateOfBirth', 'sex'] })]);
  });

  it('correcting the details instead clears the refusal; a co-signature for other values does not carry over', async () => {
    const { r, t } = await toChipStep({ ...ACTIVATION, fullName: 'Nguyễn Văn Ân' });
    // "Ân" and "An" fold to the same: no mismatch at all
    let v = await r.wf.readChip(t);
    expect(v.session!.blockers).toEqual([]);
    r.wf.next(t);
    r.wf.goto(t, 'details');
    r.wf.submitDetails(t, { ...ACTIVATION, fullName: 'Nguyễn Văn Anh' });
    v = r.wf.view(t);
    expect(v.session!.step).toBe('review');
    expect(v.session!.blockers.map((x) => x.fields?.map((f) => f.field))).toEqual([['fullName']]);
    await r.wf.override(t, { kind: 'chip-details-mismatch', officerId: 'off2', pin: '654321', reason: 'name spelt differently on the card' });
    r.wf.goto(t, 'details');
    r.wf.submitDetails(t, { ...ACTIVATION, fullName: 'Trần Văn Bình' });
    expect((await codeOf(r.wf.confirm(t)))?.code).toBe('WORKFLOW_BLOCKED');
    r.wf.goto(t, 'details');
    r.wf.submitDetails(t, ACTIVATION);
    await r.wf.confirm(t);
    // the stale co-signature (for "Anh") resolved nothing present at confirm: not in the record
    expect(r.sealer.sealed[0]!.draft.overrides).toBeUndefined();
  });
});

describe('pre-filling from the chip', () => {
  it('reads the chip at the details step and fills in what is not typed yet', async () => {
    const r = await makeRig();
    rig = r;
    const t = (await r.wf.login('off1', '123456')).token;
    await r.wf.startSession(t);
    r.wf.chooseKind(t, 'eid-activation');
    consentGiven(r.wf, t);
    expect((await codeOf(r.wf.readChip(t, { documentNumber: '001090012345' })))?.code).toBe('WORKFLOW_INPUT'); // dates missing
    let v = await r.wf.readChip(t, { documentNumber: '001090012345', birthDate: '900517', expiryDate: '350517' });
    expect(v.session!.step).toBe('details');
    expect(v.session!.draftDetails).toMatchObject({ fullName: 'Nguyen Van An', dateOfBirth: '1990-05-17', sex: 'M', documentNumber: '001090012345', documentExpiry: '2035-05-17', unitCode: '00004' });
    // the officer adds the diacritics and what the chip does not have, then goes on; the chip is already read
    const d = { ...v.session!.draftDetails!, fullName: 'Nguyễn Văn An', nationalId: '001090012345', address: GOOD_DETAILS.address };
    expect(r.wf.submitDetails(t, d).ok).toBe(true);
    await r.wf.captureFinger(t); await r.wf.captureFinger(t); r.wf.next(t);
    await r.wf.capturePortrait(t); r.wf.next(t);
    v = r.wf.view(t);
    expect(v.session!.chip!.status).toBe('read');
    r.wf.next(t);
    await r.wf.confirm(t);
    expect(r.sealer.sealed).toHaveLength(1);
    expect(r.chip.calls).toBe(1);
  });

  it('typed details are kept, and an enrollment (no chip) cannot read one', async () => {
    const r = await makeRig();
    rig = r;
    const t = (await r.wf.login('off1', '123456')).token;
    await r.wf.startSession(t);
    r.wf.chooseKind(t, 'eid-activation');
    consentGiven(r.wf, t);
    r.wf.submitDetails(t, { fullName: 'Nguyễn Văn An', documentNumber: '001090012345', dateOfBirth: '1990-05-17', documentExpiry: '2035-05-17' }); // incomplete: stays on details
    const v = await r.wf.readChip(t);
    expect(v.session!.draftDetails).toMatchObject({ fullName: 'Nguyễn Văn An', sex: 'M' });
    expect(v.session!.detailErrors.map((e) => e.field)).not.toContain('sex');
    const r2 = await makeRig();
    const t2 = (await r2.wf.login('off1', '123456')).token;
    await r2.wf.startSession(t2);
    r2.wf.chooseKind(t2, 'enrollment');
    consentGiven(r2.wf, t2);
    expect((await codeOf(r2.wf.readChip(t2, { documentNumber: 'X1', birthDate: '900517', expiryDate: '350517' })))?.code).toBe('WORKFLOW_STEP');
    r2.cleanup();
  });
});

describe('record format: overrides', () => {
  const base = () => draftToRecord({
    sessionId: 's', kind: 'eid-activation', officerId: 'off1', startedAt: 1, confirmedAt: 2,
    details: normaliseDetails(ACTIVATION), fingerprints: [], portrait: { exception: { code: 'unable', reason: 'n/a' } },
  }, 'ST-1', '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b', 3);

  it('refuses an override of an unknown kind, by the record\'s own officer, or without a reason', () => {
    const ok = { kind: 'chip-authenticity' as const, code: 'unknown-issuer', officerId: 'off2', at: 5, reason: 'checked' };
    expect(() => validateRecord({ ...base(), overrides: [ok] })).not.toThrow();
    expect(() => validateRecord({ ...base(), overrides: [{ ...ok, kind: 'anything' as never }] })).toThrow(/overrides\[0\]\.kind/);
    expect(() => validateRecord({ ...base(), overrides: [{ ...ok, officerId: 'off1' }] })).toThrow(RecordFormatError);
    expect(() => validateRecord({ ...base(), overrides: [{ ...ok, reason: ' ' }] })).toThrow(/overrides\[0\]\.reason/);
    expect(() => validateRecord({ ...base(), overrides: [{ ...ok, code: 'Not A Code' }] })).toThrow(/overrides\[0\]\.code/);
  });
});
