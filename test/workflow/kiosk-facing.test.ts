/**
 * The workflow as the officer's screen needs it (issue #15): idle warning and
 * activity, the session kept across an idle logout for the same officer, the
 * interrupted-session notice after a restart (sealed or not, asked of the
 * sealer by the record id the marker holds), honest device state from the last
 * operations, and input errors carrying a rule the kiosk translates.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { StationError } from '../../drivers/common/errors';
import { MemorySealer } from '../../station/workflow/fakes';
import type { EnrollmentDraft } from '../../station/workflow/ports';
import { GOOD_DETAILS, makeRig, type Rig, consentGiven } from './helpers';

const rigs: Rig[] = [];
afterEach(() => { for (const r of rigs.splice(0)) r.cleanup(); });
async function rigOf(...a: Parameters<typeof makeRig>): Promise<Rig> { const r = await makeRig(...a); rigs.push(r); return r; }
async function login(r: Rig, id = 'off1', pin = '123456'): Promise<string> { return (await r.wf.login(id, pin)).token; }
function next<T>(r: Rig, ev: string): Promise<T> { return new Promise((resolve) => r.wf.once(ev, resolve)); }

async function toReview(r: Rig, t: string): Promise<void> {
  await r.wf.startSession(t);
  r.wf.chooseKind(t, 'enrollment');
  consentGiven(r.wf, t);
  r.wf.submitDetails(t, GOOD_DETAILS);
  await r.wf.captureFinger(t);
  await r.wf.captureFinger(t);
  r.wf.next(t);
  await r.wf.capturePortrait(t);
  r.wf.next(t);
}

/** A "power cut": the process is gone without stop(); a new workflow starts on the same data directory. */
async function restart(r: Rig, sealer: MemorySealer): Promise<Rig> {
  r.wf.removeAllListeners();
  return rigOf({ sealer }, r.dir);
}

describe('idle logout', () => {
  it('warns before the logout; any activity cancels the warning and starts the time again', async () => {
    const r = await rigOf({ idleLogoutMs: 1200 });
    const t = await login(r);
    const warned = await next<{ tokens: string[]; remainingMs: number; warnMs: number }>(r, 'idle');
    expect(warned.tokens).toEqual([t]);
    expect(warned.remainingMs).toBeGreaterThan(0);
    expect(warned.warnMs).toBe(600); // half of a short limit
    expect(r.wf.view(t).idleRemainingMs).not.toBeNull();
    const cleared = next<{ remainingMs: number | null }>(r, 'idle');
    r.wf.activity(t);
    expect((await cleared).remainingMs).toBeNull();
    expect(r.wf.view(t).idleRemainingMs).toBeNull();
    // the next event is a new warning, not the logout: the activity restarted the time
    const order: string[] = [];
    r.wf.on('idle', () => order.push('idle'));
    r.wf.on('logout', () => order.push('logout'));
    await next(r, 'logout');
    expect(order).toEqual(['idle', 'logout']);
  });

  it('keeps the session of an officer logged out for inactivity and gives it back to the same officer', async () => {
    const r = await rigOf({ idleLogoutMs: 1000 });
    await r.officers.add({ id: 'off2', name: 'Officer Two', pin: '654321' });
    const t = await login(r);
    await r.wf.startSession(t);
    r.wf.chooseKind(t, 'enrollment');
    consentGiven(r.wf, t);
    r.wf.submitDetails(t, GOOD_DETAILS);
    await r.wf.captureFinger(t);
    const png = r.wf.fingerPreview(t, 2)!;
    const ev = await next<{ reason: string; parked: boolean }>(r, 'logout');
    expect(ev).toMatchObject({ reason: 'idle', parked: true });
    expect(existsSync(join(r.dir, 'session.marker'))).toBe(true);
    const back = await r.wf.login('off1', '123456');
    expect(back.restored).toBe(true);
    const v = r.wf.view(back.token);
    expect(v.session).toMatchObject({ step: 'fingerprints', details: { fullName: GOOD_DETAILS.fullName } });
    expect(v.session!.fingers[0]).toMatchObject({ position: 2, status: 'captured' });
    // idle again; this time another officer logs in: the kept session is wiped, not handed over
    await next(r, 'logout');
    const other = await r.wf.login('off2', '654321');
    expect(other.restored).toBe(false);
    expect(r.wf.view(other.token).session).toBeNull();
    expect(png.every((b) => b === 0)).toBe(true);
    expect(existsSync(join(r.dir, 'session.marker'))).toBe(false);
  });

  it('counts any activity: an officer who keeps typing is never warned nor logged out', async () => {
    const r = await rigOf({ idleLogoutMs: 1500, now: () => Date.now() }); // reads the (fake) clock at each call
    // Time is the subject: on fake timers a loaded machine cannot stretch the gap between two
    // keystrokes past the warning, and every idle timer due in the 4.5 s has really been run.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    try {
      const t = await login(r);
      let warned = false;
      r.wf.on('idle', () => { warned = true; });
      r.wf.on('logout', () => { warned = true; });
      // activity every 100 ms for three idle limits; a warning would come after 750 ms without it
      for (let ms = 0; ms < 4500; ms += 100) { r.wf.activity(t); await vi.advanceTimersByTimeAsync(100); }
      expect(warned).toBe(false);
      expect(r.wf.view(t).officer?.id).toBe('off1');
      // and without activity the warning does come: the timers above were live
      await vi.advanceTimersByTimeAsync(1500);
      expect(warned).toBe(true);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('after a restart', () => {
  it('a record sealed before the power cut is reported sealed (when, short reference); nothing personal in the marker', async () => {
    const sealer = new MemorySealer();
    const r = await rigOf({ sealer });
    const t = await login(r);
    await toReview(r, t);
    const v = await r.wf.confirm(t);
    const recordId = v.session!.recordId!;
    const marker = readFileSync(join(r.dir, 'session.marker'), 'utf8');
    expect(marker).not.toContain('Nguyễn');
    expect(marker).not.toContain(GOOD_DETAILS.nationalId);
    expect(JSON.parse(marker)).toMatchObject({ step: 'sealed', recordId });
    const r2 = await restart(r, sealer);
    const lost = r2.wf.lostSession()!;
    expect(lost).toMatchObject({ sealed: true, recordId, recordRef: v.session!.recordRef, sealedAt: sealer.sealed[0]!.sealedAt });
    const t2 = await login(r2);
    expect(r2.wf.view(t2).lostSession?.sealed).toBe(true);
  });

  it('a power cut after the record id reached the marker but before the vault had it: not sealed, enroll again', async () => {
    const sealer = new MemorySealer();
    let release!: () => void;
    const hanging = { ...sealer, seal: (d: EnrollmentDraft) => new Promise<{ recordId: string }>((res) => { release = () => res({ recordId: d.recordId! }); }), lookup: sealer.lookup.bind(sealer) };
    const r = await rigOf({ sealer: hanging });
    const t = await login(r);
    await toReview(r, t);
    const confirming = r.wf.confirm(t);
    await new Promise((res) => setImmediate(res));
    const m = JSON.parse(readFileSync(join(r.dir, 'session.marker'), 'utf8'));
    expect(m.step).toBe('sealing');
    expect(m.recordId).toMatch(/^[0-9a-f-]{36}$/);
    const r2 = await restart(r, sealer);
    expect(r2.wf.lostSession()).toMatchObject({ sealed: false, recordId: m.recordId, recordRef: null, step: 'sealing' });
    release();
    await confirming;
  });

  it('a seal that committed but reported an error is not sealed twice: the retry finds it', async () => {
    const sealer = new MemorySealer();
    const flaky = { seal: async (d: EnrollmentDraft) => { await sealer.seal(d); throw new StationError('VAULT_WRITE', 'the write answered late'); }, lookup: sealer.lookup.bind(sealer) };
    const r = await rigOf({ sealer: flaky });
    const t = await login(r);
    await toReview(r, t);
    const v = await r.wf.confirm(t);
    expect(v.session!.step).toBe('sealed');
    expect(sealer.sealed).toHaveLength(1);
    expect(v.session!.recordId).toBe(sealer.sealed[0]!.recordId);
  });

  it('a clean stop in the middle of a session keeps the marker, so the next start tells the officer', async () => {
    const sealer = new MemorySealer();
    const r = await rigOf({ sealer });
    const t = await login(r);
    await r.wf.startSession(t);
    r.wf.chooseKind(t, 'enrollment');
    consentGiven(r.wf, t);
    r.wf.stop();
    const r2 = await rigOf({ sealer }, r.dir);
    expect(r2.wf.lostSession()).toMatchObject({ sealed: false, step: 'details', kind: 'enrollment' });
  });
});

describe('device state', () => {
  it('a camera whose capture fails goes red (missing) or amber (failing) with the code; the person’s doing changes nothing', async () => {
    const r = await rigOf();
    const t = await login(r);
    await r.wf.startSession(t);
    r.wf.chooseKind(t, 'enrollment');
    consentGiven(r.wf, t);
    r.wf.submitDetails(t, GOOD_DETAILS);
    await r.wf.captureFinger(t);
    await r.wf.captureFinger(t);
    r.wf.next(t);
    const cam = () => r.wf.deviceStates().find((d) => d.device === 'camera')!;
    expect(cam().state).toBe('simulated');
    r.cam.failNext = 1;
    r.cam.failCode = 'CAM_NOT_FOUND';
    await r.wf.capturePortrait(t);
    expect(cam()).toMatchObject({ state: 'error', code: 'CAM_NOT_FOUND' });
    r.cam.failNext = 1;
    r.cam.failCode = 'CAM_TIMEOUT';
    await r.wf.capturePortrait(t);
    expect(cam()).toMatchObject({ state: 'degraded', code: 'CAM_TIMEOUT' });
    await r.wf.capturePortrait(t);
    expect(cam().state).toBe('simulated');
    expect(cam().code).toBeUndefined();
  });

  it('input errors carry a rule the kiosk translates', async () => {
    const r = await rigOf();
    const rule = async (f: () => unknown): Promise<unknown> => { try { await f(); } catch (e) { return (e as StationError).details?.rule; } return undefined; };
    expect(await rule(() => r.wf.login('', '123456'))).toBe('login_no_id');
    expect(await rule(() => r.wf.login('off1', ''))).toBe('login_no_pin');
    const t = await login(r);
    await r.wf.startSession(t);
    r.wf.chooseKind(t, 'enrollment');
    consentGiven(r.wf, t);
    r.wf.submitDetails(t, GOOD_DETAILS);
    expect(await rule(() => r.wf.fingerException(t, 2, 'amputated', ''))).toBe('reason_required');
    expect(await rule(() => r.wf.fingerException(t, 2, '', 'a reason'))).toBe('exception_code');
  });

  it('dates typed DD/MM/YYYY are taken as such', async () => {
    const r = await rigOf();
    const t = await login(r);
    await r.wf.startSession(t);
    r.wf.chooseKind(t, 'enrollment');
    consentGiven(r.wf, t);
    const d = r.wf.submitDetails(t, { ...GOOD_DETAILS, dateOfBirth: '17/05/1990' });
    expect(d.errors).toEqual([]);
    expect(d.view.session!.details!.dateOfBirth).toBe('1990-05-17');
    const bad = await rigOf();
    const t2 = await login(bad);
    await bad.wf.startSession(t2);
    bad.wf.chooseKind(t2, 'enrollment');
    consentGiven(bad.wf, t2);
    expect(bad.wf.submitDetails(t2, { ...GOOD_DETAILS, dateOfBirth: '31/02/1990' }).errors.map((e) => e.code)).toEqual(['bad_date']);
  });
});
