import { afterEach, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { StationError } from '../../drivers/common/errors';
import { GOOD_DETAILS, makeRig, type Rig, consentGiven, cosignAs } from './helpers';

let rig: Rig | null = null;
afterEach(() => { rig?.cleanup(); rig = null; });

async function login(r: Rig): Promise<string> {
  return (await r.wf.login('off1', '123456')).token;
}

async function codeOf(p: Promise<unknown> | (() => unknown)): Promise<string | undefined> {
  try { await (typeof p === 'function' ? p() : p); } catch (e) { return (e as StationError).code; }
  return undefined;
}

describe('enrollment workflow', () => {
  it('takes a new enrollment from login to a sealed record and counts it', async () => {
    rig = await makeRig();
    const t = await login(rig);
    await rig.wf.startSession(t);
    expect(rig.wf.currentStep()).toBe('kind');
    expect(existsSync(join(rig.dir, 'session.marker'))).toBe(true);
    rig.wf.chooseKind(t, 'enrollment');
    consentGiven(rig.wf, t);
    const d = rig.wf.submitDetails(t, GOOD_DETAILS);
    expect(d.errors).toEqual([]);
    expect(rig.wf.currentStep()).toBe('fingerprints');
    let v = await rig.wf.captureFinger(t);
    expect(v.session!.fingers[0]).toMatchObject({ position: 2, status: 'captured', quality: 80 });
    expect(v.session!.currentFinger).toBe(7);
    await rig.wf.captureFinger(t);
    rig.wf.next(t);
    expect(rig.wf.currentStep()).toBe('portrait');
    v = await rig.wf.capturePortrait(t);
    expect(v.session!.portrait.status).toBe('captured');
    rig.wf.next(t);
    expect(rig.wf.currentStep()).toBe('review');
    v = await rig.wf.confirm(t);
    expect(v.session!.step).toBe('sealed');
    expect(v.session!.recordId).toBe(rig.sealer.sealed[0]!.recordId);
    const draft = rig.sealer.sealed[0]!.draft;
    expect(draft.kind).toBe('enrollment');
    expect(draft.officerId).toBe('off1');
    expect(draft.details.fullName).toBe('Nguyễn Văn An');
    expect(draft.fingerprints.map((f) => f.position)).toEqual([2, 7]);
    expect(draft.fingerprints[0]!.capture!.png.subarray(1, 4).toString()).toBe('PNG');
    expect(draft.portrait.capture!.jpeg[0]).toBe(0xff);
    expect(rig.progress.today('00004').enrollments).toBe(1);
    // sealed session keeps nothing personal; the marker now names the sealed record (for a restart
    // before the officer moves on) and goes when the officer does
    expect(v.session!.details).toBeNull();
    expect(v.session!.recordRef).toMatch(/^[0-9A-F]{4}-[0-9A-F]{4}$/);
    const marker = JSON.parse(readFileSync(join(rig.dir, 'session.marker'), 'utf8'));
    expect(marker).toMatchObject({ step: 'sealed', recordId: v.session!.recordId });
    rig.wf.finish(t);
    expect(rig.wf.currentStep()).toBeNull();
    expect(existsSync(join(rig.dir, 'session.marker'))).toBe(false);
  });

  it('refuses invalid personal details field by field with the reason, then accepts the corrected ones', async () => {
    rig = await makeRig();
    const t = await login(rig);
    await rig.wf.startSession(t);
    rig.wf.chooseKind(t, 'enrollment');
    consentGiven(rig.wf, t);
    const r = rig.wf.submitDetails(t, { ...GOOD_DETAILS, fullName: 'X1', dateOfBirth: '1990-02-30', nationalId: '001190012345', phone: '12345' });
    expect(r.ok).toBe(false);
    const byField = Object.fromEntries(r.errors.map((e) => [e.field, e.code]));
    expect(byField).toMatchObject({ fullName: 'name_chars', dateOfBirth: 'bad_date', phone: 'phone_format' });
    expect(rig.wf.currentStep()).toBe('details');
    const r2 = rig.wf.submitDetails(t, { ...GOOD_DETAILS, nationalId: '001190012345' });
    expect(r2.errors.map((e) => [e.field, e.code])).toEqual([['nationalId', 'id_sex_mismatch']]);
    const r3 = rig.wf.submitDetails(t, { ...GOOD_DETAILS, nationalId: '001290012345' });
    expect(r3.errors.map((e) => e.code)).toEqual(['id_birth_mismatch']);
    expect(rig.wf.submitDetails(t, GOOD_DETAILS).ok).toBe(true);
  });

  it('offers retry or a recorded exception when the scanner fails mid-session', async () => {
    rig = await makeRig();
    const t = await login(rig);
    await rig.wf.startSession(t);
    rig.wf.chooseKind(t, 'enrollment');
    consentGiven(rig.wf, t);
    rig.wf.submitDetails(t, GOOD_DETAILS);
    rig.fp.failNext = 1;
    let v = await rig.wf.captureFinger(t);
    expect(v.session!.lastError).toMatchObject({ op: 'finger', code: 'FP_TIMEOUT', position: 2 });
    expect(v.session!.fingers[0]!.status).toBe('pending');
    v = await rig.wf.captureFinger(t, 2); // retry works
    expect(v.session!.fingers[0]!.status).toBe('captured');
    expect(v.session!.lastError).toBeNull();
    expect(await codeOf(() => rig!.wf.fingerException(t, 7, 'bandaged', ''))).toBe('WORKFLOW_INPUT');
    expect(await codeOf(() => rig!.wf.fingerException(t, 7, 'lost', 'whatever'))).toBe('WORKFLOW_INPUT');
    v = await rig.wf.fingerException(t, 7, 'bandaged', 'burn on the left hand');
    expect(v.session!.fingers[1]).toMatchObject({ status: 'exception', exception: { code: 'bandaged', reason: 'burn on the left hand' }, photo: 'taken' });
    // an exception needs a second officer before the step is left
    expect(await codeOf(() => rig!.wf.next(t))).toBe('WORKFLOW_BLOCKED');
    await cosignAs(rig, t, 'finger-exception');
    rig.wf.next(t);
    expect(rig.wf.currentStep()).toBe('portrait');
  });

  it('keeps a low-quality capture only when the officer says so, and will not move on with a finger missing', async () => {
    rig = await makeRig();
    rig.fp.qualities = [20, 90];
    const t = await login(rig);
    await rig.wf.startSession(t);
    rig.wf.chooseKind(t, 'enrollment');
    consentGiven(rig.wf, t);
    rig.wf.submitDetails(t, GOOD_DETAILS);
    let v = await rig.wf.captureFinger(t);
    expect(v.session!.fingers[0]).toMatchObject({ status: 'candidate', quality: 20, passed: false });
    expect(await codeOf(() => rig!.wf.next(t))).toBe('WORKFLOW_INCOMPLETE');
    v = rig.wf.keepFinger(t, 2);
    expect(v.session!.fingers[0]!.status).toBe('captured');
    expect(await codeOf(() => rig!.wf.next(t))).toBe('WORKFLOW_INCOMPLETE');
    await rig.wf.captureFinger(t);
    rig.wf.next(t);
  });

  it('rejects a bad portrait with its reasons and needs a good one (or an exception) to continue', async () => {
    rig = await makeRig();
    rig.cam.mode = ['dark', 'good'];
    const t = await login(rig);
    await rig.wf.startSession(t);
    rig.wf.chooseKind(t, 'enrollment');
    consentGiven(rig.wf, t);
    rig.wf.submitDetails(t, GOOD_DETAILS);
    await rig.wf.captureFinger(t); await rig.wf.captureFinger(t); rig.wf.next(t);
    const live = await rig.wf.livePreview(t);
    expect(live!.subarray(0, 2)).toEqual(Buffer.from([0xff, 0xd8]));
    let v = await rig.wf.capturePortrait(t);
    expect(v.session!.portrait).toMatchObject({ status: 'rejected', verdict: 'reject', reasons: [{ code: 'too-dark' }] });
    expect(rig.wf.portraitPreview(t)![0]).toBe(0xff);
    expect(await codeOf(() => rig!.wf.next(t))).toBe('WORKFLOW_INCOMPLETE');
    v = await rig.wf.capturePortrait(t);
    expect(v.session!.portrait.status).toBe('captured');
    rig.wf.next(t);
    expect(rig.wf.currentStep()).toBe('review');
    expect(await rig.wf.livePreview(t)).toBeNull(); // only on the portrait step
  });

  it('e-ID activation reads the chip; a chip failing passive authentication blocks the step', async () => {
    rig = await makeRig();
    rig.chip.verdict = { status: 'invalid', reason: 'DG2 hash does not match the SOD' };
    const t = await login(rig);
    await rig.wf.startSession(t);
    rig.wf.chooseKind(t, 'eid-activation');
    consentGiven(rig.wf, t);
    const bad = rig.wf.submitDetails(t, GOOD_DETAILS);
    expect(bad.errors.map((e) => e.field).sort()).toEqual(['documentExpiry', 'documentNumber']);
    rig.wf.submitDetails(t, { ...GOOD_DETAILS, documentNumber: '001090012345', documentExpiry: '2035-05-17' });
    await rig.wf.captureFinger(t); await rig.wf.captureFinger(t); rig.wf.next(t);
    await rig.wf.capturePortrait(t); rig.wf.next(t);
    expect(rig.wf.currentStep()).toBe('chip');
    let v = await rig.wf.readChip(t);
    expect(v.session!.chip).toMatchObject({ status: 'rejected', passiveAuth: { status: 'invalid' } });
    expect(await codeOf(() => rig!.wf.next(t))).toBe('WORKFLOW_BLOCKED');
    rig.chip.verdict = { status: 'valid' };
    v = await rig.wf.readChip(t);
    expect(v.session!.chip).toMatchObject({ status: 'read', mrzFields: { documentNumber: '001090012345', birthDate: '900517', expirationDate: '350517' } });
    rig.wf.next(t);
    await rig.wf.confirm(t);
    const draft = rig.sealer.sealed[0]!.draft;
    expect(draft.kind).toBe('eid-activation');
    expect(rig.progress.today('00004')).toMatchObject({ activations: 1, enrollments: 0 });
  });

  it('refuses to start a session when the station is locked, saying why', async () => {
    rig = await makeRig();
    rig.guard.lock();
    const t = await login(rig);
    let err: StationError | null = null;
    try { await rig.wf.startSession(t); } catch (e) { err = e as StationError; }
    expect(err?.code).toBe('WORKFLOW_REFUSED');
    expect(err?.details).toMatchObject({ reason: 'locked' });
    expect(err?.message).toMatch(/locked/);
    expect(rig.wf.view(t).guard).toMatchObject({ ok: false, code: 'locked' });
    rig.guard.unlock();
    await rig.wf.startSession(t);
    expect(rig.wf.currentStep()).toBe('kind');
  });

  it('checks the guard again before sealing and keeps the session when sealing fails', async () => {
    rig = await makeRig();
    const t = await login(rig);
    await rig.wf.startSession(t);
    rig.wf.chooseKind(t, 'enrollment');
    consentGiven(rig.wf, t);
    rig.wf.submitDetails(t, GOOD_DETAILS);
    await rig.wf.captureFinger(t); await rig.wf.captureFinger(t); rig.wf.next(t);
    await rig.wf.capturePortrait(t); rig.wf.next(t);
    rig.guard.verdict = { ok: false, code: 'disk_low', message: 'free space 40 MB is below the 500 MB reserve' };
    expect(await codeOf(rig.wf.confirm(t))).toBe('WORKFLOW_REFUSED');
    expect(rig.wf.currentStep()).toBe('review');
    rig.guard.unlock();
    rig.sealer.failNext = 1;
    let v = await rig.wf.confirm(t);
    expect(v.session!.step).toBe('review');
    expect(v.session!.lastError).toMatchObject({ op: 'seal', code: 'VAULT_WRITE' });
    v = await rig.wf.confirm(t);
    expect(v.session!.step).toBe('sealed');
    expect(rig.sealer.sealed).toHaveLength(1);
  });

  it('goes back from review to change details and returns to review', async () => {
    rig = await makeRig();
    const t = await login(rig);
    await rig.wf.startSession(t);
    rig.wf.chooseKind(t, 'enrollment');
    consentGiven(rig.wf, t);
    rig.wf.submitDetails(t, GOOD_DETAILS);
    await rig.wf.captureFinger(t); await rig.wf.captureFinger(t); rig.wf.next(t);
    await rig.wf.capturePortrait(t); rig.wf.next(t);
    rig.wf.goto(t, 'details');
    expect(rig.wf.currentStep()).toBe('details');
    rig.wf.submitDetails(t, { ...GOOD_DETAILS, address: '3 Tràng Tiền' });
    expect(rig.wf.currentStep()).toBe('review');
    await rig.wf.confirm(t);
    expect(rig.sealer.sealed[0]!.draft.details.address).toBe('3 Tràng Tiền');
  });

  it('abort discards everything captured and wipes the image buffers', async () => {
    rig = await makeRig();
    const t = await login(rig);
    await rig.wf.startSession(t);
    rig.wf.chooseKind(t, 'enrollment');
    consentGiven(rig.wf, t);
    rig.wf.submitDetails(t, GOOD_DETAILS);
    await rig.wf.captureFinger(t);
    const png = rig.wf.fingerPreview(t, 2)!;
    expect(png.some((b) => b !== 0)).toBe(true);
    rig.wf.abort(t);
    expect(png.every((b) => b === 0)).toBe(true);
    expect(rig.wf.currentStep()).toBeNull();
    expect(rig.wf.fingerPreview(t, 2)).toBeNull();
    expect(existsSync(join(rig.dir, 'session.marker'))).toBe(false);
  });

  it('logs an idle officer out (the unsealed session is kept for them: kiosk-facing.test.ts)', async () => {
    rig = await makeRig({ idleLogoutMs: 1000 });
    const loggedOut = new Promise<{ reason: string; tokens: string[]; parked: boolean }>((resolve) => rig!.wf.once('logout', resolve));
    const t = await login(rig);
    await rig.wf.startSession(t);
    expect(rig.wf.currentStep()).toBe('kind');
    const ev = await loggedOut;
    expect(ev.reason).toBe('idle');
    expect(ev.tokens).toContain(t);
    expect(ev.parked).toBe(true);
    expect(rig.wf.currentStep()).toBeNull();
    expect(await codeOf(() => rig!.wf.view(t))).toBe('WORKFLOW_AUTH');
  });

  it('after a power cut the next start reports the lost session; the marker holds nothing personal', async () => {
    rig = await makeRig();
    const t = await login(rig);
    await rig.wf.startSession(t);
    rig.wf.chooseKind(t, 'enrollment');
    consentGiven(rig.wf, t);
    rig.wf.submitDetails(t, GOOD_DETAILS);
    await rig.wf.captureFinger(t);
    // Everything in the data directory: nothing of the person may be there.
    for (const f of readdirSync(rig.dir, { recursive: true, withFileTypes: true })) {
      if (!f.isFile()) continue;
      const bytes = readFileSync(join(f.parentPath, f.name));
      expect(bytes.includes(Buffer.from('Nguyễn'))).toBe(false);
      expect(bytes.includes(Buffer.from('001090012345'))).toBe(false);
    }
    const marker = JSON.parse(readFileSync(join(rig.dir, 'session.marker'), 'utf8'));
    expect(marker.step).toBe('fingerprints');
    // "Power cut": the process dies without stop(); a new workflow starts on the same data dir.
    const dir = rig.dir;
    const rig2 = await makeRig({}, dir);
    try {
      expect(rig2.wf.lostSession()).toMatchObject({ sessionId: marker.sessionId, step: 'fingerprints', kind: 'enrollment' });
      const t2 = await login(rig2);
      expect(rig2.wf.view(t2).lostSession?.step).toBe('fingerprints');
      rig2.wf.dismissLost(t2);
      expect(rig2.wf.lostSession()).toBeNull();
    } finally {
      rig2.wf.stop(); rig2.officers.close(); rig2.progress.close();
    }
  });

  it('requires a valid token for every action', async () => {
    rig = await makeRig();
    expect(await codeOf(rig.wf.startSession('nope'))).toBe('WORKFLOW_AUTH');
    expect(await codeOf(() => rig!.wf.view(''))).toBe('WORKFLOW_AUTH');
    const t = await login(rig);
    rig.wf.logout(t);
    expect(await codeOf(rig.wf.startSession(t))).toBe('WORKFLOW_AUTH');
  });

  it('rejects actions out of order', async () => {
    rig = await makeRig();
    const t = await login(rig);
    expect(await codeOf(rig.wf.captureFinger(t))).toBe('WORKFLOW_STEP');
    await rig.wf.startSession(t);
    expect(await codeOf(rig.wf.confirm(t))).toBe('WORKFLOW_STEP');
    expect(await codeOf(rig.wf.startSession(t))).toBe('WORKFLOW_STEP');
    expect(await codeOf(() => rig!.wf.chooseKind(t, 'other' as 'enrollment'))).toBe('WORKFLOW_INPUT');
  });
  it('cannot be aborted while sealing; a record sealed during a logout is still counted', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    rig = await makeRig({ sealer: { seal: async () => { await gate; return { recordId: 'rec-1' }; } } });
    const t = await login(rig);
    await rig.wf.startSession(t);
    rig.wf.chooseKind(t, 'enrollment');
    consentGiven(rig.wf, t);
    rig.wf.submitDetails(t, GOOD_DETAILS);
    await rig.wf.captureFinger(t); await rig.wf.captureFinger(t); rig.wf.next(t);
    await rig.wf.capturePortrait(t); rig.wf.next(t);
    const sealing = rig.wf.confirm(t);
    await expect.poll(() => rig!.wf.currentStep()).toBe('sealing');
    expect(await codeOf(() => rig!.wf.abort(t))).toBe('WORKFLOW_BUSY');
    const sealed = new Promise<{ recordId: string }>((r) => rig!.wf.once('sealed', r));
    rig.wf.logout(t);
    release();
    expect(await codeOf(sealing)).toBe('WORKFLOW_AUTH');
    expect((await sealed).recordId).toBe('rec-1');
    expect(rig.progress.today('00004').enrollments).toBe(1);
  });
  it('changing the document number from review invalidates the chip read and goes straight to the chip step', async () => {
    rig = await makeRig();
    const t = await login(rig);
    await rig.wf.startSession(t);
    rig.wf.chooseKind(t, 'eid-activation');
    consentGiven(rig.wf, t);
    rig.wf.submitDetails(t, { ...GOOD_DETAILS, documentNumber: '001090012345', documentExpiry: '2035-05-17' });
    await rig.wf.captureFinger(t); await rig.wf.captureFinger(t); rig.wf.next(t);
    await rig.wf.capturePortrait(t); rig.wf.next(t);
    await rig.wf.readChip(t); rig.wf.next(t);
    expect(rig.wf.currentStep()).toBe('review');
    rig.wf.goto(t, 'details');
    rig.wf.submitDetails(t, { ...GOOD_DETAILS, address: 'elsewhere', documentNumber: '001090012345', documentExpiry: '2035-05-17' });
    expect(rig.wf.currentStep()).toBe('review'); // unrelated change: chip kept
    rig.wf.goto(t, 'details');
    const v = rig.wf.submitDetails(t, { ...GOOD_DETAILS, documentNumber: 'C0109001', documentExpiry: '2035-05-17' }).view;
    expect(v.session!.step).toBe('chip');
    expect(v.session!.chip!.status).toBe('pending');
    await rig.wf.readChip(t);
    expect(rig.chip.calls).toBe(2);
    rig.wf.next(t);
    expect(rig.wf.currentStep()).toBe('review');
  });
});
