/**
 * What a registrar needs from the booth (#22 items 2–4): the person's consent before
 * anything is captured, exceptions a second officer co-signs (with a photo of the
 * hand for a finger), and a person enrolled twice in one campaign caught before
 * capture starts. Real SQLite files for the repeat register, each test in its own
 * directory.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SAMPLE_CONSENT } from '../../config/consent-sample';
import type { StationError } from '../../drivers/common/errors';
import { RepeatRegister } from '../../station/repeats';
import { GOOD_DETAILS, consentGiven, cosignAs, makeRig, type Rig } from './helpers';

const cleanups: (() => void)[] = [];
afterEach(() => { for (const c of cleanups.splice(0).reverse()) c(); });

async function codeOf(f: () => unknown): Promise<{ code?: string; details?: Record<string, unknown> } | undefined> {
  try { await f(); } catch (e) { return e as StationError; }
  return undefined;
}

async function rig(over: Parameters<typeof makeRig>[0] = {}): Promise<Rig> {
  const r = await makeRig(over);
  cleanups.push(() => r.cleanup());
  return r;
}

async function started(r: Rig, kind: 'enrollment' | 'eid-activation' = 'enrollment'): Promise<string> {
  const t = (await r.wf.login('off1', '123456')).token;
  await r.wf.startSession(t);
  r.wf.chooseKind(t, kind);
  return t;
}

const sha = (s: string): string => createHash('sha256').update(s, 'utf8').digest('hex');

describe('consent before capture', () => {
  it('shows the configured text with its version and hash; nothing about the person is taken before the person agrees', async () => {
    const r = await rig();
    const t = await started(r);
    const v = r.wf.view(t);
    expect(v.session!.step).toBe('consent');
    expect(v.session!.steps.slice(0, 3)).toEqual(['kind', 'consent', 'details']);
    expect(v.session!.consentText).toEqual({
      version: SAMPLE_CONSENT.version,
      texts: [{ language: 'vi', text: SAMPLE_CONSENT.text.vi, sha256: sha(SAMPLE_CONSENT.text.vi) }, { language: 'en', text: SAMPLE_CONSENT.text.en, sha256: sha(SAMPLE_CONSENT.text.en) }],
    });
    // no details, no capture, no chip before consent
    expect((await codeOf(() => r.wf.submitDetails(t, GOOD_DETAILS)))?.code).toBe('WORKFLOW_STEP');
    expect((await codeOf(() => r.wf.captureFinger(t, 2)))?.code).toBe('WORKFLOW_STEP');
    expect(r.fp.calls).toBe(0);
  });

  it('refuses an answer for a text the station did not show (old version, other language, no answer)', async () => {
    const r = await rig();
    const t = await started(r);
    const stale = await codeOf(() => r.wf.giveConsent(t, { accepted: true, language: 'vi', sha256: sha('an older text') }));
    expect(stale).toMatchObject({ code: 'WORKFLOW_INPUT', details: { rule: 'consent_text_changed' } });
    expect((await codeOf(() => r.wf.giveConsent(t, { accepted: true, language: 'fr', sha256: sha(SAMPLE_CONSENT.text.vi) })))?.details).toMatchObject({ rule: 'consent_language' });
    expect((await codeOf(() => r.wf.giveConsent(t, { language: 'vi', sha256: sha(SAMPLE_CONSENT.text.vi) })))?.details).toMatchObject({ rule: 'consent_answer' });
    expect(r.wf.currentStep()).toBe('consent');
    // the English text's hash does not pass for the Vietnamese one
    expect((await codeOf(() => r.wf.giveConsent(t, { accepted: true, language: 'vi', sha256: sha(SAMPLE_CONSENT.text.en) })))?.code).toBe('WORKFLOW_INPUT');
    const v = r.wf.giveConsent(t, { accepted: true, language: 'en', sha256: sha(SAMPLE_CONSENT.text.en) });
    expect(v.session).toMatchObject({ step: 'details', consent: { version: SAMPLE_CONSENT.version, language: 'en' } });
  });

  it('a person who declines ends the session before anything is captured, and the audit says so', async () => {
    const r = await rig();
    const audit: Record<string, unknown>[] = [];
    r.wf.on('audit', (e: Record<string, unknown>) => audit.push(e));
    const t = await started(r);
    const v = r.wf.giveConsent(t, { accepted: false, language: 'vi' });
    expect(v.session).toBeNull();
    expect(audit).toContainEqual(expect.objectContaining({ kind: 'consent', result: 'declined', version: SAMPLE_CONSENT.version }));
    expect(r.sealer.sealed).toHaveLength(0);
  });

  it('the sealed draft carries the version, language, hash and time of the consent', async () => {
    const r = await rig();
    const t = await started(r);
    consentGiven(r.wf, t);
    expect(r.wf.submitDetails(t, GOOD_DETAILS).ok).toBe(true);
    await r.wf.captureFinger(t); await r.wf.captureFinger(t); r.wf.next(t);
    await r.wf.capturePortrait(t); r.wf.next(t);
    await r.wf.confirm(t);
    expect(r.sealer.sealed[0]!.draft.consent).toEqual({ version: SAMPLE_CONSENT.version, language: 'vi', sha256: sha(SAMPLE_CONSENT.text.vi), at: expect.any(Number) });
  });
});

describe('exceptions need a second officer', () => {
  async function atFingers(r: Rig): Promise<string> {
    const t = await started(r);
    consentGiven(r.wf, t);
    expect(r.wf.submitDetails(t, GOOD_DETAILS).ok).toBe(true);
    return t;
  }

  it('a finger exception takes a photo of the hand and blocks the step until a second officer co-signs it, bound to what was recorded', async () => {
    const r = await rig();
    const t = await atFingers(r);
    await r.wf.captureFinger(t);
    let v = await r.wf.fingerException(t, 7, 'amputated', 'lost in an accident');
    expect(r.cam.evidence).toBe(1);
    expect(v.session!.fingers[1]).toMatchObject({ status: 'exception', photo: 'taken' });
    const refused = await codeOf(() => r.wf.next(t));
    expect(refused?.code).toBe('WORKFLOW_BLOCKED');
    expect(refused?.details?.blockers).toEqual([expect.objectContaining({ kind: 'finger-exception', positions: [7], cosigned: null })]);
    // the officer running the session cannot co-sign their own exception
    expect((await codeOf(() => r.wf.override(t, { kind: 'finger-exception', officerId: 'off1', pin: '123456', reason: 'me' })))?.code).toBe('OVERRIDE_REFUSED');
    v = await cosignAs(r, t, 'finger-exception', 'saw the hand');
    expect(v.session!.blockers).toEqual([expect.objectContaining({ kind: 'finger-exception', cosigned: expect.objectContaining({ officerId: 'off2', reason: 'saw the hand' }) })]);
    // recording the exception again (another reason) is another thing to co-sign
    await r.wf.fingerException(t, 7, 'amputated', 'congenital');
    expect((await codeOf(() => r.wf.next(t)))?.code).toBe('WORKFLOW_BLOCKED');
    await cosignAs(r, t, 'finger-exception', 'saw the hand again');
    r.wf.next(t);
    expect(r.wf.currentStep()).toBe('portrait');
    await r.wf.capturePortrait(t); r.wf.next(t);
    await r.wf.confirm(t);
    const d = r.sealer.sealed[0]!.draft;
    expect(d.overrides).toEqual([expect.objectContaining({ kind: 'finger-exception', officerId: 'off2', reason: 'saw the hand again', fields: ['7'] })]);
    const f7 = d.fingerprints.find((f) => f.position === 7)!;
    expect(f7.photo!.jpeg.subarray(0, 2)).toEqual(Buffer.from([0xff, 0xd8]));
  });

  it('a camera that fails the hand photo does not stop the exception: the view says the photo failed, for the co-signer to see', async () => {
    const r = await rig();
    const t = await atFingers(r);
    r.cam.failNext = 1;
    const v = await r.wf.fingerException(t, 2, 'bandaged', 'burn');
    expect(v.session!.fingers[0]).toMatchObject({ status: 'exception', photo: 'failed', photoError: 'CAM_CAPTURE_FAILED' });
  });

  it('a portrait that cannot be taken and a chip that cannot be read are co-signed too', async () => {
    const r = await rig();
    const t = await started(r, 'eid-activation');
    consentGiven(r.wf, t);
    expect(r.wf.submitDetails(t, { ...GOOD_DETAILS, documentNumber: '001090012345', documentExpiry: '2035-05-17' }).ok).toBe(true);
    await r.wf.captureFinger(t); await r.wf.captureFinger(t); r.wf.next(t);
    r.wf.portraitException(t, 'unable', 'person cannot sit up');
    expect((await codeOf(() => r.wf.next(t)))?.details?.blockers).toEqual([expect.objectContaining({ kind: 'portrait-exception' })]);
    await cosignAs(r, t, 'portrait-exception');
    r.wf.next(t);
    r.wf.chipException(t, 'unable', 'chip dead');
    expect((await codeOf(() => r.wf.next(t)))?.details?.blockers).toEqual([expect.objectContaining({ kind: 'chip-exception' })]);
    await cosignAs(r, t, 'chip-exception');
    r.wf.next(t);
    await r.wf.confirm(t);
    expect(r.sealer.sealed[0]!.draft.overrides!.map((o) => o.kind)).toEqual(['portrait-exception', 'chip-exception']);
  });
});

describe('the same person twice in one campaign', () => {
  function register(dir: string, campaign: string): RepeatRegister {
    const reg = new RepeatRegister(join(dir, 'repeats.db'), campaign).open();
    cleanups.push(() => reg.close());
    return reg;
  }
  function dir(): string {
    const d = mkdtempSync(join(tmpdir(), 'repeats-'));
    cleanups.push(() => rmSync(d, { recursive: true, force: true }));
    return d;
  }

  async function enrollOnce(r: Rig): Promise<string> {
    const t = await started(r);
    consentGiven(r.wf, t);
    expect(r.wf.submitDetails(t, GOOD_DETAILS).ok).toBe(true);
    await r.wf.captureFinger(t); await r.wf.captureFinger(t); r.wf.next(t);
    await r.wf.capturePortrait(t); r.wf.next(t);
    const v = await r.wf.confirm(t);
    r.wf.finish(t);
    return v.session!.recordRef!;
  }

  it('keeps keyed hashes only (0600), and the hash depends on the campaign key', () => {
    const d = dir();
    const a = register(d, 'hn-2026-12');
    const h = a.hash('001090012345')!;
    expect(h).toMatch(/^[0-9a-f]{64}$/);
    expect(h).not.toBe(sha('001090012345'));
    expect(statSync(join(d, 'repeats.db')).mode & 0o777).toBe(0o600);
    const other = register(dir(), 'hn-2026-12');
    expect(other.hash('001090012345')).not.toBe(h); // another booth's key
    expect(a.hash('  ')).toBeNull();
  });

  it('a repeat is shown before capture with when and which record; a second officer may let it through', async () => {
    const d = dir();
    const reg = register(d, 'hn-2026-12');
    const r = await rig({ repeats: reg });
    const ref = await enrollOnce(r);
    const t = await started(r);
    consentGiven(r.wf, t);
    const res = r.wf.submitDetails(t, { ...GOOD_DETAILS, phone: '0987654321' });
    expect(res.ok).toBe(false);
    expect(res.errors).toEqual([expect.objectContaining({ field: 'nationalId', code: 'already_enrolled', params: { at: expect.any(Number), ref } })]);
    expect(r.wf.currentStep()).toBe('details');
    expect(res.view.session!.blockers).toEqual([expect.objectContaining({ kind: 'person-repeat', repeat: { enrolledAt: expect.any(Number), recordRef: ref }, cosigned: null })]);
    expect(res.view.session!.draftDetails!.phone).toBe('0987654321'); // nothing typed is lost
    expect(r.fp.calls).toBe(2); // only the first person's two fingers
    await cosignAs(r, t, 'person-repeat', 'first record was rejected at headquarters');
    expect(r.wf.submitDetails(t, { ...GOOD_DETAILS, phone: '0987654321' }).ok).toBe(true);
    await r.wf.captureFinger(t); await r.wf.captureFinger(t); r.wf.next(t);
    await r.wf.capturePortrait(t); r.wf.next(t);
    await r.wf.confirm(t);
    expect(r.sealer.sealed[1]!.draft.overrides).toEqual([expect.objectContaining({ kind: 'person-repeat', code: 'person-repeat', officerId: 'off2' })]);
    // another person is not a repeat
    r.wf.finish(t);
    const t2 = await started(r);
    consentGiven(r.wf, t2);
    expect(r.wf.submitDetails(t2, { ...GOOD_DETAILS, nationalId: '001090054321' }).ok).toBe(true);
  });

  it('a new campaign erases the key and the hashes; the same campaign keeps them across restarts', async () => {
    const d = dir();
    const first = new RepeatRegister(join(d, 'repeats.db'), 'hn-2026-11').open();
    const h = first.hash('001090012345')!;
    first.remember(h, { enrolledAt: 1, recordRef: 'ABCD-0001' });
    first.close();
    const again = new RepeatRegister(join(d, 'repeats.db'), 'hn-2026-11').open();
    expect(again.lookup(again.hash('001090012345')!)).toEqual({ enrolledAt: 1, recordRef: 'ABCD-0001' });
    again.close();
    const next = register(d, 'hn-2026-12');
    expect(next.size()).toBe(0);
    expect(next.hash('001090012345')).not.toBe(h);
  });
});
