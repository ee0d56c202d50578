import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nullLogger } from '../../station/log';
import { OfficerStore } from '../../station/officers/store';
import { ProgressCounters } from '../../station/progress';
import { createWorkflow, type Workflow, type WorkflowDeps, type WorkflowView } from '../../station/workflow/machine';
import { SAMPLE_CONSENT } from '../../config/consent-sample';
import { FakeCamera, FakeChip, FakeDevices, FakeFingerprint, FakeGuard, FakeOfficerCard, FakeUplink, MemorySealer } from '../../station/workflow/fakes';

export const FAST_SCRYPT = { N: 1024, r: 8, p: 1 };

export interface Rig {
  dir: string;
  officers: OfficerStore;
  progress: ProgressCounters;
  fp: FakeFingerprint;
  cam: FakeCamera;
  chip: FakeChip;
  sealer: MemorySealer;
  guard: FakeGuard;
  uplink: FakeUplink;
  card: FakeOfficerCard;
  wf: Workflow;
  deps: WorkflowDeps;
  cleanup(): void;
}

export async function makeRig(over: Partial<WorkflowDeps> = {}, dir = mkdtempSync(join(tmpdir(), 'wf-'))): Promise<Rig> {
  const officers = new OfficerStore(join(dir, 'officers.db'), { scrypt: FAST_SCRYPT, maxFailures: 3, lockoutMs: 60_000 }).open();
  if (!officers.get('off1')) await officers.add({ id: 'off1', name: 'Officer One', pin: '123456' });
  const progress = new ProgressCounters(join(dir, 'progress.db')).open();
  const fp = new FakeFingerprint();
  const cam = new FakeCamera();
  const chip = new FakeChip();
  const sealer = new MemorySealer();
  const guard = new FakeGuard();
  const uplink = new FakeUplink(sealer);
  const card = new FakeOfficerCard();
  const deps: WorkflowDeps = {
    consent: SAMPLE_CONSENT, officers, fingerprint: fp, camera: cam, chip, sealer, guard, uplink, devices: new FakeDevices(), officerCard: card, progress,
    positions: [2, 7], defaultUnit: '00004', dailyQuota: 40, idleLogoutMs: 60_000, markerFile: join(dir, 'session.marker'), logger: nullLogger(), ...over,
  };
  const wf = createWorkflow(deps);
  await wf.start();
  return {
    dir, officers, progress, fp, cam, chip, sealer, guard, uplink, card, wf, deps,
    cleanup() { wf.stop(); officers.close(); progress.close(); rmSync(dir, { recursive: true, force: true }); },
  };
}

/** Details that pass validation (a man born 1990 in Hà Nội: province 001, century/sex 0, year 90). */
export const GOOD_DETAILS = {
  fullName: 'Nguyễn Văn An', dateOfBirth: '1990-05-17', sex: 'M', nationalId: '001090012345', nationality: 'VNM',
  placeOfOrigin: 'Hà Nội', address: '12 Phố Huế, Hai Bà Trưng, Hà Nội', unitCode: '00004', phone: '0912345678',
};

/** The person reads the consent text the view offers (first language: Vietnamese) and agrees. */
export function consentGiven(wf: Workflow, token: string): WorkflowView {
  const t = wf.view(token).session?.consentText?.texts[0];
  if (!t) throw new Error('the session is not at the consent step');
  return wf.giveConsent(token, { accepted: true, language: t.language, sha256: t.sha256 });
}

/** A second officer (off2, added to the rig's store when missing) co-signs the session's open refusal of this kind. */
export async function cosignAs(rig: Rig, token: string, kind: string, reason = 'checked in person by the second officer'): Promise<WorkflowView> {
  if (!rig.officers.get('off2')) await rig.officers.add({ id: 'off2', name: 'Officer Two', pin: '654321' });
  return rig.wf.override(token, { kind, officerId: 'off2', pin: '654321', reason });
}
