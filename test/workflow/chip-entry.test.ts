/**
 * What the officer's chip page needs from the workflow (#18 item 7): a refused
 * CAN or MRZ says which password the chip refused and how many tries its counter
 * still allows; a chip read at the details step gives the page the values it
 * pre-fills and marks "read from chip" (DG13 first, with diacritics, else DG1).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { StationError } from '../../drivers/common/errors';
import { consentGiven, GOOD_DETAILS, makeRig, type Rig } from './helpers';

let rig: Rig | null = null;
afterEach(() => { rig?.cleanup(); rig = null; });

async function activationAtDetails(r: Rig): Promise<string> {
  const t = (await r.wf.login('off1', '123456')).token;
  await r.wf.startSession(t);
  r.wf.chooseKind(t, 'eid-activation');
  consentGiven(r.wf, t);
  return t;
}

const DG13 = {
  fullName: 'Nguyễn Thị Thu Hằng', dateOfBirth: '1990-08-12', sex: 'F' as const, nationalId: '079190012345',
  address: '12 Lê Lợi, Phường Bến Nghé, Quận 1, TP. Hồ Chí Minh', placeOfOrigin: 'Tiền Giang',
};

describe('the chip page’s view of a CAN read', () => {
  it('a wrong CAN is CARD_ACCESS_DENIED with password CAN and the attempts the chip still allows; the right one reads', async () => {
    rig = await makeRig();
    rig.chip.can = '123456';
    rig.chip.canAttemptsLeft = 3;
    const t = await activationAtDetails(rig);
    let v = await rig.wf.readChip(t, { can: '000000' });
    expect(v.session!.lastError).toMatchObject({ op: 'chip', code: 'CARD_ACCESS_DENIED', password: 'CAN', attemptsLeft: 2 });
    v = await rig.wf.readChip(t, { can: '111111' });
    expect(v.session!.lastError).toMatchObject({ password: 'CAN', attemptsLeft: 1 });
    v = await rig.wf.readChip(t, { can: '123456' });
    expect(v.session!.lastError).toBeNull();
    expect(v.session!.chip).toMatchObject({ status: 'read', access: { protocol: 'PACE', password: 'CAN' } });
  });

  it('a refusal without a counter has no attemptsLeft; a wrong password of another operation never carries one', async () => {
    rig = await makeRig();
    const t = await activationAtDetails(rig);
    const chip = rig.chip;
    chip.readChip = async () => { throw new StationError('CARD_ACCESS_DENIED', 'access denied — check the document number and dates', { details: { password: 'MRZ', sw: '6300' } }); };
    let v = await rig.wf.readChip(t, { documentNumber: '001090012', birthDate: '900517', expiryDate: '350517' });
    expect(v.session!.lastError).toMatchObject({ code: 'CARD_ACCESS_DENIED', password: 'MRZ' });
    expect(v.session!.lastError).not.toHaveProperty('attemptsLeft');
    // a blocked chip: the code says it, the password which one
    chip.readChip = async () => { throw new StationError('CARD_PACE_BLOCKED', 'blocked', { details: { password: 'CAN' } }); };
    v = await rig.wf.readChip(t, { can: '123456' });
    expect(v.session!.lastError).toMatchObject({ code: 'CARD_PACE_BLOCKED', password: 'CAN' });
    // a suspended MRZ (63C1): the code says it, with the MRZ and its one try, so the page asks for the CAN
    chip.readChip = async () => { throw new StationError('CARD_PACE_SUSPENDED', 'suspended', { details: { password: 'MRZ', attemptsLeft: 1, suspended: true } }); };
    v = await rig.wf.readChip(t, { documentNumber: '001090012', birthDate: '900517', expiryDate: '350517' });
    expect(v.session!.lastError).toMatchObject({ code: 'CARD_PACE_SUSPENDED', password: 'MRZ', attemptsLeft: 1 });
    // junk in the details is not passed on
    chip.readChip = async () => { throw new StationError('CARD_ACCESS_DENIED', 'denied', { details: { password: 'PIN', attemptsLeft: -1 } }); };
    v = await rig.wf.readChip(t, { can: '123456' });
    expect(v.session!.lastError).not.toHaveProperty('password');
    expect(v.session!.lastError).not.toHaveProperty('attemptsLeft');
  });

  it('read at the details step: fromChip holds the DG13 values (diacritics, 12-digit ID) and DG1 the rest; the draft is pre-filled with them', async () => {
    rig = await makeRig();
    rig.chip.can = '123456';
    rig.chip.chipDetails = DG13;
    rig.chip.person = { lastName: 'NGUYEN', firstName: 'THI THU HANG', sex: 'female' };
    const t = await activationAtDetails(rig);
    const v = await rig.wf.readChip(t, { can: '123456', documentNumber: '190012345', birthDate: '900812', expiryDate: '300812' });
    const c = v.session!.chip!;
    expect(c.fromChip).toEqual({
      fullName: DG13.fullName, dateOfBirth: '1990-08-12', sex: 'F', documentNumber: '079190012345', nationalId: '079190012345',
      address: DG13.address, placeOfOrigin: 'Tiền Giang', documentExpiry: '2030-08-12', nationality: 'VNM',
    });
    for (const [k, val] of Object.entries(c.fromChip!)) expect(v.session!.draftDetails![k as keyof typeof DG13], k).toBe(val);
    // the officer confirms them (editable), and the chip stays read for the chip step
    const d = v.session!.draftDetails!;
    expect(rig.wf.submitDetails(t, { ...GOOD_DETAILS, ...d }).errors).toEqual([]);
    await rig.wf.captureFinger(t); await rig.wf.captureFinger(t); rig.wf.next(t);
    await rig.wf.capturePortrait(t); rig.wf.next(t);
    expect(rig.wf.currentStep()).toBe('chip');
    expect(rig.wf.view(t).session!.chip).toMatchObject({ status: 'read', fromChip: { fullName: DG13.fullName } });
  });

  it('a chip without DG13 (a passport): fromChip from DG1, the name in title case for the officer to add the diacritics', async () => {
    rig = await makeRig();
    const t = await activationAtDetails(rig);
    const v = await rig.wf.readChip(t, { documentNumber: 'C1234567', birthDate: '900517', expiryDate: '350517' });
    expect(v.session!.chip!.fromChip).toEqual({
      fullName: 'Nguyen Van An', dateOfBirth: '1990-05-17', sex: 'M', documentNumber: 'C1234567', documentExpiry: '2035-05-17', nationality: 'VNM',
    });
    expect(v.session!.chip!.access).toEqual({ protocol: 'BAC', password: 'MRZ' });
  });
});
