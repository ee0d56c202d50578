/**
 * The workflow against the real parts: the simulated camera through the
 * portrait pipeline, the simulated chip reader (same APDUs as over PC/SC) with
 * BAC and passive authentication, and the real vault sealing for a
 * headquarters key — the sealed envelope is opened with the HQ private key.
 */
import { createHash } from 'node:crypto';
import { SAMPLE_CONSENT } from '../../config/consent-sample';
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nullLogger } from '../../station/log';
import { Vault } from '../../station/vault';
import { createCamera } from '../../drivers/camera';
import { createCardReader, cscaStoreFrom, type SimulatedCardReader } from '../../drivers/card';
import { createTestPki } from '../../drivers/card/emulator';
import {
  generateHqKeys, loadStationSigningKey, openEnvelope, parseHqPrivateKeys, writeHqKeys, writeStationKeyPair, type HqPrivateKeys, type StationSigningKey,
} from '../../sync/wire';
import { cameraPort, chipPort, officerCardPort, stationGuard, vaultSealer, vaultUplinkStatus, auditOfficerEvents, draftToRecord, splitName } from '../../station/workflow/adapters';
import { FakeFingerprint } from '../../station/workflow/fakes';
import { OfficerStore } from '../../station/officers/store';
import { FAST_SCRYPT, GOOD_DETAILS, makeRig, type Rig, consentGiven, cosignAs } from './helpers';

interface World { root: string; dataDir: string; hqPublicPath: string; hq: HqPrivateKeys; station: StationSigningKey }

async function world(): Promise<World> {
  const root = mkdtempSync(join(tmpdir(), 'wf-adapters-'));
  const dataDir = join(root, 'data');
  writeStationKeyPair(dataDir);
  const keys = await generateHqKeys('workflow test');
  const { publicPath } = writeHqKeys(join(root, 'hq'), keys);
  return { root, dataDir, hqPublicPath: publicPath, hq: parseHqPrivateKeys(keys.privateJson), station: loadStationSigningKey(dataDir) };
}

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => { while (cleanups.length) await cleanups.pop()!(); });

async function realRig(opts: { free?: number } = {}): Promise<{ rig: Rig; vault: Vault; w: World; card: SimulatedCardReader; locked: { v: string | null }; policy: { v: { maxUnacked: number | null; maxDaysSinceReceipt: number | null } | null } }> {
  const w = await world();
  cleanups.push(() => rmSync(w.root, { recursive: true, force: true }));
  const vault = await Vault.open({
    dataDir: w.dataDir, stationId: 'ST-WF-01', signingKey: w.station, hqIdentity: w.hqPublicPath, logger: nullLogger(), reserveBytes: 64 * 1024 * 1024,
    ...(opts.free !== undefined ? { diskSpace: () => ({ freeBytes: opts.free!, totalBytes: 10 * opts.free! }) as never } : {}),
  });
  cleanups.push(() => vault.close());
  const camera = createCamera({ backend: 'simulated', timeoutMs: 10_000, logger: nullLogger() });
  await camera.open();
  cleanups.push(() => camera.close());
  const pki = createTestPki('VNM');
  const card = createCardReader({ mode: 'simulated', pki, person: { documentNumber: '001090012', birthDate: '900517', expiryDate: '350517', surname: 'NGUYEN', givenNames: 'VAN AN', sex: 'M', nationality: 'VNM', issuingState: 'VNM' } }) as SimulatedCardReader;
  await card.open();
  cleanups.push(() => card.close());
  const locked = { v: null as string | null };
  const policy = { v: null as { maxUnacked: number | null; maxDaysSinceReceipt: number | null } | null };
  const rig = await makeRig({
    fingerprint: new FakeFingerprint(),
    camera: cameraPort(camera),
    chip: chipPort(card, { csca: cscaStoreFrom([pki.csca.cert]), waitMs: 5000 }),
    sealer: vaultSealer(vault),
    guard: stationGuard({ locked: () => locked.v, policy: () => policy.v, vault }),
    uplink: vaultUplinkStatus(vault),
  });
  cleanups.push(() => rig.cleanup());
  auditOfficerEvents(rig.wf, vault.audit);
  return { rig, vault, w, card, locked, policy };
}

async function toReview(r: Rig, kind: 'enrollment' | 'eid-activation', details: Record<string, string> = GOOD_DETAILS): Promise<string> {
  const t = (await r.wf.login('off1', '123456')).token;
  await r.wf.startSession(t);
  r.wf.chooseKind(t, kind);
  consentGiven(r.wf, t);
  expect(r.wf.submitDetails(t, details).errors).toEqual([]);
  await r.wf.captureFinger(t);
  await r.wf.fingerException(t, 7, 'bandaged', 'burn, bandaged this week');
  await cosignAs(r, t, 'finger-exception', 'saw the bandage');
  r.wf.next(t);
  const v = await r.wf.capturePortrait(t);
  expect(v.session!.portrait.status).toBe('captured');
  r.wf.next(t);
  return t;
}

describe('workflow with the real camera pipeline, chip reader and vault', () => {
  it('seals a new enrollment into the vault; headquarters opens exactly what the officer confirmed', async () => {
    const { rig, vault, w } = await realRig();
    const t = await toReview(rig, 'enrollment');
    const v = await rig.wf.confirm(t);
    expect(v.session!.step).toBe('sealed');
    const recordId = v.session!.recordId!;
    expect(recordId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7/);
    const batch = vault.openBatch(10, 10 * 1024 * 1024)!;
    expect(batch.items.map((i) => i.recordId)).toEqual([recordId]);
    const { record } = await openEnvelope(batch.items[0]!.envelope, { stationPublicKey: w.station.publicKey, hq: w.hq });
    expect(record).toMatchObject({
      recordId, stationId: 'ST-WF-01', officerId: 'off1', kind: 'enrollment',
      details: { surname: 'Nguyễn', givenNames: 'Văn An', dateOfBirth: '1990-05-17', sex: 'M', nationalId: '001090012345', extra: { unitCode: '00004', placeOfOrigin: 'Hà Nội' } },
    });
    expect(record.fingerprints[0]).toMatchObject({ position: 2, status: 'captured', quality: 80, width: 256, height: 288 });
    // the exception travels with the photo of the hand the camera took, and the second officer's co-signature
    expect(record.fingerprints[1]).toMatchObject({ position: 7, status: 'exception', exception: 'bandaged', reason: 'burn, bandaged this week' });
    const photo = (record.fingerprints[1] as { photo?: { jpeg: Buffer; width: number; height: number } }).photo!;
    expect(photo.jpeg.subarray(0, 2)).toEqual(Buffer.from([0xff, 0xd8]));
    expect(Math.max(photo.width, photo.height)).toBeLessThanOrEqual(1024);
    expect(record.overrides).toEqual([expect.objectContaining({ kind: 'finger-exception', code: 'finger-exception', officerId: 'off2', reason: 'saw the bandage', fields: ['7'] })]);
    // the consent the person gave: version, language and the hash of the exact text shown
    expect(record.consent).toMatchObject({ version: SAMPLE_CONSENT.version, language: 'vi' });
    expect(Buffer.from(record.consent!.sha256).toString('hex')).toBe(createHash('sha256').update(SAMPLE_CONSENT.text.vi, 'utf8').digest('hex'));
    expect(record.portrait!.jpeg.subarray(0, 2)).toEqual(Buffer.from([0xff, 0xd8]));
    expect(record.portrait!.metrics.quality).toBeGreaterThan(0);
    // login went into the audit chain
    const kinds = vault.audit.entriesSince(0).map((e) => e.kind);
    expect(kinds).toContain('login');
    expect(kinds).toContain('record_sealed');
    expect((await rig.deps.uplink!.status()).waiting).toBe(1);
  });

  it('e-ID activation reads the simulated chip with BAC and passive authentication and seals the chip data', async () => {
    const { rig, vault, w } = await realRig();
    const t = await toReview(rig, 'eid-activation', { ...GOOD_DETAILS, documentNumber: '001090012', documentExpiry: '2035-05-17' });
    expect(rig.wf.currentStep()).toBe('chip');
    const v = await rig.wf.readChip(t);
    expect(v.session!.lastError).toBeNull();
    expect(v.session!.chip).toMatchObject({ status: 'read', passiveAuth: { status: 'valid' }, mrzFields: { documentNumber: '001090012', lastName: 'NGUYEN' }, hasFace: true });
    expect(rig.wf.chipFace(t)!.subarray(0, 2)).toEqual(Buffer.from([0xff, 0xd8]));
    rig.wf.next(t);
    await rig.wf.confirm(t);
    const batch = vault.openBatch(10, 10 * 1024 * 1024)!;
    const { record } = await openEnvelope(batch.items[0]!.envelope, { stationPublicKey: w.station.publicKey, hq: w.hq });
    expect(record.kind).toBe('eid-activation');
    expect(record.chip!.passiveAuth.verdict).toBe('valid');
    expect(record.chip!.dg1.length).toBeGreaterThan(50);
  });

  it('a wrong document number is refused by the chip once, with retry or exception offered', async () => {
    const { rig } = await realRig();
    const t = await toReview(rig, 'eid-activation', { ...GOOD_DETAILS, documentNumber: '001090099', documentExpiry: '2035-05-17' });
    const v = await rig.wf.readChip(t);
    expect(v.session!.lastError).toMatchObject({ op: 'chip', code: 'CARD_ACCESS_DENIED' });
    expect(v.session!.lastError!.message).toMatch(/access denied/);
    const v2 = await rig.wf.readChip(t, { documentNumber: '001090012' });
    expect(v2.session!.chip!.status).toBe('read');
  });

  it('the simulated camera’s dark photo is rejected by the pipeline with its reason', async () => {
    const { rig } = await realRig();
    const t = (await rig.wf.login('off1', '123456')).token;
    await rig.wf.startSession(t);
    rig.wf.chooseKind(t, 'enrollment');
    consentGiven(rig.wf, t);
    rig.wf.submitDetails(t, GOOD_DETAILS);
    await rig.wf.captureFinger(t); await rig.wf.captureFinger(t); rig.wf.next(t);
    // reach into the simulated camera through a second adapter bound to a dark camera
    const dark = createCamera({ backend: 'simulated', timeoutMs: 10_000, logger: nullLogger(), sim: { fault: 'dark' } });
    await dark.open();
    const r = await cameraPort(dark).capturePortrait({ signal: new AbortController().signal });
    await dark.close();
    expect(r.verdict).toBe('reject');
    expect(r.reasons.map((x) => x.code)).toContain('too-dark');
  });

  it('the guard refuses when locked, when the disk is below the reserve, and past the offline policy', async () => {
    const a = await realRig();
    const t = (await a.rig.wf.login('off1', '123456')).token;
    a.locked.v = 'ordered by ops';
    await expect(a.rig.wf.startSession(t)).rejects.toMatchObject({ code: 'WORKFLOW_REFUSED', details: { reason: 'locked' } });
    a.locked.v = null;
    a.policy.v = { maxUnacked: 0, maxDaysSinceReceipt: null };
    await expect(a.rig.wf.startSession(t)).rejects.toMatchObject({ code: 'WORKFLOW_REFUSED', details: { reason: 'offline_policy' } });
    a.policy.v = null;
    await a.rig.wf.startSession(t);

    const b = await realRig({ free: 10 * 1024 * 1024 });
    const t2 = (await b.rig.wf.login('off1', '123456')).token;
    const err = await b.rig.wf.startSession(t2).catch((e: unknown) => e as { code: string; message: string; details: { reason: string } });
    expect(err).toMatchObject({ code: 'WORKFLOW_REFUSED', details: { reason: 'disk_low' } });
    expect((err as { message: string }).message).toMatch(/MB free/);
  });

  it('maps names and exceptions onto the wire record', () => {
    expect(splitName('Trần Thị Mai Anh')).toEqual({ surname: 'Trần', givenNames: 'Thị Mai Anh' });
    const rec = draftToRecord({
      sessionId: 's1', kind: 'enrollment', officerId: 'o', startedAt: 1, confirmedAt: 2,
      details: { ...GOOD_DETAILS, sex: 'M', documentNumber: '', documentExpiry: '' } as never,
      fingerprints: [{ position: 1, exception: { code: 'device_failure', reason: 'scanner dead' } }],
      portrait: { exception: { code: 'unable', reason: 'person cannot sit' } },
    }, 'ST-1', '01890000-0000-7000-8000-000000000000', 3);
    expect(rec.fingerprints[0]).toEqual({ position: 1, status: 'exception', exception: 'unable', reason: 'device failure: scanner dead' });
    expect(rec.portrait).toBeUndefined();
    expect(rec.details.extra!.portraitException).toBe('unable: person cannot sit');
  });
  it('binds an officer card read through the card driver (ATR, and the UID where the reader gives one)', async () => {
    const { card, w } = await realRig();
    const port = officerCardPort(card, undefined, 2000);
    const id = await port.readIdentity();
    expect(id.atr).toBe(card.readers()[0]!.atr!.toLowerCase());
    expect(id.atr).toMatch(/^3b[0-9a-f]+$/);
    const store = new OfficerStore(join(w.root, 'card-officers.db'), { scrypt: FAST_SCRYPT }).open();
    try {
      await store.add({ id: 'carded', name: 'Carded Officer', pin: '135790', card: id });
      expect((await store.verify('carded', '135790', () => port.readIdentity())).ok).toBe(true);
      card.remove();
      expect(await store.verify('carded', '135790', () => officerCardPort(card, undefined, 200).readIdentity())).toMatchObject({ ok: false, code: 'OFFICER_CARD_REQUIRED' });
    } finally {
      store.close();
    }
  });
});
