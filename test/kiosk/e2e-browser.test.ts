/**
 * The whole booth, clicked through in Chromium: the R307 protocol simulator on
 * a pseudo-terminal read by the real driver and capture flow, the simulated
 * camera through the portrait pipeline, the simulated chip reader, the real
 * vault, the real uplink over a real Mosquitto, and the headquarters ingest.
 * The record the officer confirms must end up stored at headquarters, and
 * headquarters' private key must open it to exactly what was typed.
 */
import { SAMPLE_CONSENT } from '../../config/consent-sample';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { nullLogger } from '../../station/log';
import { Vault } from '../../station/vault';
import { OfficerStore } from '../../station/officers/store';
import { ProgressCounters } from '../../station/progress';
import { createWorkflow, type Workflow } from '../../station/workflow/machine';
import { cameraPort, chipPort, fingerprintPort, stationGuard, vaultSealer, vaultUplinkStatus, deviceStatus } from '../../station/workflow/adapters';
import { startKiosk, type KioskHandle } from '../../station/kiosk/server';
import { createScanner, startSimulator, type FingerprintScanner, type SimulatorHandle } from '../../drivers/fingerprint';
import { createCamera, type Camera } from '../../drivers/camera';
import { createCardReader, cscaStoreFrom, type CardReaderDriver } from '../../drivers/card';
import { createTestPki } from '../../drivers/card/emulator';
import { generateHqKeys, writeHqKeys, loadHqPrivateKeys, loadHqPublicIdentity, writeStationKeyPair, loadStationSigningKey, openEnvelope } from '../../sync/wire';
import { startHq, type HqHandle } from '../../sync/hq/ingest';
import { Uplink } from '../../sync/uplink';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto';
import { fillDetails, launchBrowser } from './browser';
import { FAST_SCRYPT, GOOD_DETAILS } from '../workflow/helpers';

const STATION = 'ST-E2E-01';
let root: string;
let broker: Mosquitto;
let hq: HqHandle;
let vault: Vault;
let uplink: Uplink;
let sim: SimulatorHandle;
let scanner: FingerprintScanner;
let camera: Camera;
let card: CardReaderDriver;
let officers: OfficerStore;
let progress: ProgressCounters;
let wf: Workflow;
let kiosk: KioskHandle;
let b: Awaited<ReturnType<typeof launchBrowser>>;
const stored = new Map<string, string>();

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'kiosk-e2e-'));
  const dataDir = join(root, 'station');
  const hqDir = join(root, 'hq');
  broker = await startMosquitto();
  const keys = await generateHqKeys('e2e');
  writeHqKeys(join(hqDir, 'keys'), keys);
  const hqPublicPath = join(hqDir, 'keys', 'hq-public.json');
  writeStationKeyPair(dataDir);
  const station = loadStationSigningKey(dataDir);
  hq = await startHq({ brokerUrl: broker.url, dataDir: hqDir, workerId: 'e2e' });
  hq.store.registerStation({ stationId: STATION, unit: '00004', publicKey: station.publicKey.export({ type: 'spki', format: 'pem' }).toString() });
  hq.events.on('record', (e: { recordId: string; status: string }) => stored.set(e.recordId, e.status));

  vault = await Vault.open({ dataDir, stationId: STATION, signingKey: station, hqIdentity: hqPublicPath, reserveBytes: 16 * 1024 * 1024, logger: nullLogger() });
  uplink = new Uplink({ brokerUrl: broker.url, stationId: STATION, outbox: vault, signingKey: station.privateKey, hqIdentity: loadHqPublicIdentity(hqPublicPath), dataDir, receiptTimeoutMs: 5_000 });
  await uplink.start();

  sim = await startSimulator({ model: 'r307', autoFinger: true, autoFingerDelayMs: 30, dir: root });
  scanner = createScanner({ model: 'r307', port: sim.path, baud: 57600, logger: nullLogger() });
  await scanner.open();
  camera = createCamera({ backend: 'simulated', timeoutMs: 15_000, logger: nullLogger() });
  await camera.open();
  const pki = createTestPki('VNM');
  card = createCardReader({ mode: 'simulated', pki, person: { documentNumber: '001090012', birthDate: '900517', expiryDate: '350517', surname: 'NGUYEN', givenNames: 'VAN AN', sex: 'M', nationality: 'VNM', issuingState: 'VNM' } });
  await card.open();

  officers = new OfficerStore(join(dataDir, 'officers.db'), { scrypt: FAST_SCRYPT }).open();
  await officers.add({ id: 'off1', name: 'Officer One', pin: '123456' });
  await officers.add({ id: 'off2', name: 'Officer Two', pin: '654321' });
  progress = new ProgressCounters(join(dataDir, 'progress.db')).open();
  const locked = { v: null as string | null };
  wf = createWorkflow({
    consent: SAMPLE_CONSENT, officers, progress,
    fingerprint: fingerprintPort(scanner, { maxAttempts: 3, threshold: 40, fingerTimeoutMs: 15_000 }),
    camera: cameraPort(camera),
    chip: chipPort(card, { csca: cscaStoreFrom([pki.csca.cert]), waitMs: 5_000 }),
    sealer: vaultSealer(vault),
    guard: stationGuard({ locked: () => locked.v, policy: () => null, vault }),
    uplink: vaultUplinkStatus(vault, () => uplink.status().connected),
    devices: deviceStatus(() => [
      { device: 'fingerprint', state: scanner.connected ? 'ready' : 'absent' },
      { device: 'camera', state: 'simulated' },
      { device: 'card', state: card.serviceUp ? 'ready' : 'absent' },
    ]),
    positions: [2, 7], defaultUnit: '00004', idleLogoutMs: 600_000, markerFile: join(dataDir, 'session.marker'), logger: nullLogger(),
  });
  await wf.start();
  // The uplink drains on demand: the composition root kicks it when a record is sealed.
  wf.on('sealed', () => uplink.syncNow());
  kiosk = await startKiosk({ port: 0, workflow: wf, logger: nullLogger(), language: 'en', statusIntervalMs: 300 });
  b = await launchBrowser();
}, 120_000);

afterAll(async () => {
  await b?.close();
  await kiosk?.stop();
  wf?.stop();
  await uplink?.stop().catch(() => undefined);
  await hq?.stop().catch(() => undefined);
  await scanner?.close().catch(() => undefined);
  await sim?.stop().catch(() => undefined);
  await camera?.close().catch(() => undefined);
  await card?.close().catch(() => undefined);
  vault?.close();
  officers?.close();
  progress?.close();
  await broker?.dispose();
  if (root) rmSync(root, { recursive: true, force: true });
}, 60_000);

async function login(page: Page): Promise<void> {
  await page.goto(kiosk.url);
  await page.evaluate('sessionStorage.clear()');
  await page.goto(kiosk.url);
  await page.getByTestId('login-id').fill('off1');
  await page.getByTestId('login-pin').fill('123456');
  await page.getByTestId('login-submit').click();
  await page.getByTestId('start-enrollment').waitFor();
}

async function fingersAndPortrait(page: Page): Promise<void> {
  await page.getByTestId('finger-capture').click();
  await page.locator('[data-testid="finger-2"][data-status="captured"]').waitFor({ timeout: 60_000 });
  await page.getByTestId('finger-capture').click();
  await page.locator('[data-testid="finger-7"][data-status="captured"]').waitFor({ timeout: 60_000 });
  await page.getByTestId('next').click();
  await page.getByTestId('portrait-capture').click();
  await page.locator('[data-testid="portrait-verdict"][data-verdict="accept"]').waitFor({ timeout: 60_000 });
  await page.getByTestId('next').click();
}

async function storedAtHq(recordId: string): Promise<void> {
  await expect.poll(() => stored.get(recordId), { timeout: 60_000, interval: 100 }).toBe('stored');
}

describe('the booth end to end (simulated devices, vault, Mosquitto, headquarters)', () => {
  it('an enrollment clicked through in Chromium is stored at headquarters and opens to what the officer typed', async () => {
    const page = await b.page();
    await login(page);
    await page.locator('[data-device="fingerprint"][data-state="ready"]').waitFor();
    await page.getByTestId('start-enrollment').click();
    await page.getByTestId('consent-agree').click(); // the person agrees to the consent text
    await fillDetails(page, GOOD_DETAILS);
    await page.getByTestId('details-submit').click();
    await fingersAndPortrait(page);
    await page.getByTestId('confirm').click();
    await page.getByTestId('sealed').waitFor({ timeout: 30_000 });
    const recordId = (await page.getByTestId('sealed').getAttribute('data-record-id'))!;
    await storedAtHq(recordId);
    // The kiosk sees the upload drain and the receipt time.
    await expect.poll(() => page.getByTestId('waiting').textContent(), { timeout: 30_000 }).toMatch(/Waiting to upload: 0/);
    await expect.poll(() => page.getByTestId('last-sync').textContent(), { timeout: 30_000 }).not.toMatch(/never/);

    const row = hq.store.findRecord(recordId)!;
    expect(row.station_id).toBe(STATION);
    const { record } = await openEnvelope(row.envelope, { stationPublicKey: loadStationSigningKey(join(root, 'station')).publicKey, hq: loadHqPrivateKeys(join(root, 'hq', 'keys')) });
    expect(record).toMatchObject({ recordId, officerId: 'off1', kind: 'enrollment', details: { surname: 'Nguyễn', givenNames: 'Văn An', nationalId: '001090012345' } });
    expect(record.fingerprints.map((f) => [f.position, f.status])).toEqual([[2, 'captured'], [7, 'captured']]);
    const fp = record.fingerprints[0]!;
    expect(fp.status === 'captured' && fp.png.subarray(1, 4).toString()).toBe('PNG');
    expect(record.portrait!.jpeg.subarray(0, 2)).toEqual(Buffer.from([0xff, 0xd8]));
    expect(progress.today('00004').enrollments).toBe(1);
    await page.getByTestId('next-person').click();
  }, 240_000);

  it('an e-ID activation reads the chip (passive authentication valid) and reaches headquarters', async () => {
    const page = await b.page();
    await login(page);
    await page.getByTestId('start-activation').click();
    await page.getByTestId('consent-agree').click(); // the person agrees to the consent text
    await fillDetails(page, { ...GOOD_DETAILS, documentNumber: '001090012', documentExpiry: '2035-05-17' });
    await page.getByTestId('details-submit').click();
    await fingersAndPortrait(page);
    await page.getByTestId('chip-mode-mrz').click(); // the CAN is the default; this chip is opened with the details' MRZ fields
    await page.getByTestId('chip-read').click();
    await page.locator('[data-testid="chip-verdict"][data-status="valid"]').waitFor({ timeout: 60_000 });
    await page.getByTestId('next').click();
    await page.getByTestId('confirm').click();
    await page.getByTestId('sealed').waitFor({ timeout: 30_000 });
    const recordId = (await page.getByTestId('sealed').getAttribute('data-record-id'))!;
    await storedAtHq(recordId);
    const { record } = await openEnvelope(hq.store.findRecord(recordId)!.envelope, { stationPublicKey: loadStationSigningKey(join(root, 'station')).publicKey, hq: loadHqPrivateKeys(join(root, 'hq', 'keys')) });
    expect(record.kind).toBe('eid-activation');
    expect(record.chip!.passiveAuth.verdict).toBe('valid');
    expect(progress.today('00004').activations).toBe(1);
  }, 240_000);
});
