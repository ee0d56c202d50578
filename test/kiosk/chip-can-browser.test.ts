/// <reference lib="dom" />
/**
 * The officer's side of a Vietnamese chip ID card (#18 items 3, 7), in real
 * Chromium at the booth's 800×480, in Vietnamese: the project's CCCD-profile
 * card emulator on the real vpcd virtual reader, the real pcscd, the PC/SC
 * driver (PACE with the CAN, Chip Authentication, passive authentication), the
 * workflow and the real vault. The CAN is typed on the on-screen keypad (which
 * is on screen whole, without scrolling); a wrong CAN is one message with the
 * tries the chip's counter still allows, and a retry with the right CAN reads
 * the card. Once at the details step (the form is filled from DG13, each field
 * marked "đọc từ chip", still editable) and once at the chip step; both end
 * sealed, and the sealed record says PACE with the CAN. With the MRZ, two wrong
 * tries suspend it (63C1): one short message asks for the CAN, which reads the
 * card. Screenshots go to
 * test-artifacts/kiosk/chip-can-800x480-vi/.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { insertCard, PcscdProcess, removeCard } from '../helpers/pcscd';
import { PcscCardReader } from '../../drivers/card/pcsc';
import { EmulatedEmrtd } from '../../drivers/card/emulator/card';
import type { VpcdCardClient } from '../../drivers/card/emulator/vpcd';
import { buildDocument, createTestPki, type EmrtdContents, type TestPki } from '../../drivers/card/emulator/document';
import { SPECIMEN_CCCD } from '../../drivers/card/cccd';
import { cscaStoreFrom } from '../../drivers/card/passive-auth';
import { nullLogger } from '../../station/log';
import { Vault } from '../../station/vault';
import { startKiosk, type KioskHandle } from '../../station/kiosk/server';
import { chipPort, vaultSealer } from '../../station/workflow/adapters';
import { generateHqKeys, loadStationSigningKey, openEnvelope, parseHqPrivateKeys, writeHqKeys, writeStationKeyPair, type HqPrivateKeys } from '../../sync/wire';
import type { EnrollmentRecord } from '../../sync/wire/record';
import { makeRig, type Rig } from '../workflow/helpers';
import { catalogue, expectInViewport, fillDetails, launchBrowser, resetArtefacts, screenshot, uncatalogued } from './browser';

const READER = 'Virtual PCD 00 00';
const FOLDER = 'kiosk/chip-can-800x480-vi';
const vi = catalogue('vi');
/** The specimen's fields this test reads (all present on the specimen; a missing one is a broken fixture). */
const need = (v: string | undefined, what: string): string => { if (v === undefined) throw new Error(`SPECIMEN_CCCD has no ${what}`); return v; };
const P = {
  fullName: need(SPECIMEN_CCCD.fullName, 'fullName'), idNumber: need(SPECIMEN_CCCD.idNumber, 'idNumber'),
  placeOfOrigin: need(SPECIMEN_CCCD.placeOfOrigin, 'placeOfOrigin'), placeOfResidence: need(SPECIMEN_CCCD.placeOfResidence, 'placeOfResidence'),
};
/** The holder's details as the officer confirms them (those the chip gives, and the rest typed). */
const DETAILS = {
  fullName: P.fullName, dateOfBirth: '1990-08-12', sex: 'F', nationalId: P.idNumber, nationality: 'VNM', placeOfOrigin: P.placeOfOrigin,
  address: P.placeOfResidence, unitCode: '00004', phone: '0912345678', documentNumber: P.idNumber, documentExpiry: '2030-08-12',
};
const EDITED_ORIGIN = 'Đà Nẵng';
/** Data shown as data (the card's and the officer's), for the catalogue check. */
const DATA = [P.fullName, P.placeOfOrigin, P.placeOfResidence, EDITED_ORIGIN, 'NGUYEN', 'THI THU HANG', 'Officer One', 'off1'];

const pcscd = new PcscdProcess();
let driver: PcscCardReader;
let root: string;
let vault: Vault;
let hq: HqPrivateKeys;
let trusted: TestPki;
let rig: Rig;
let kiosk: KioskHandle;
let b: Awaited<ReturnType<typeof launchBrowser>>;
let shot = 0;

async function insert(contents: EmrtdContents): Promise<VpcdCardClient> {
  // the 2021 citizen card as issued: PACE with the CAN (retry counter 3) or the MRZ, BAC too, SELECT MF answered 6D00
  return insertCard(driver, READER, new EmulatedEmrtd({ files: contents.files, mrzLines: contents.mrzLines, chipKeys: contents.chipKeys, pace: { can: contents.can, retries: 3 }, noMfSelect: true }));
}

async function remove(client: VpcdCardClient): Promise<void> {
  await removeCard(driver, READER, client);
}

async function sealedRecord(recordId: string): Promise<EnrollmentRecord> {
  const item = vault.openBatch(1000, 1e9)?.items.find((i) => i.recordId === recordId);
  expect(item, `record ${recordId} in the outbox`).toBeDefined();
  return (await openEnvelope(item!.envelope, { stationPublicKey: loadStationSigningKey(join(root, 'data')).publicKey, hq })).record;
}

/** Every word on screen from the Vietnamese catalogue, then a screenshot. */
async function step(page: Page, name: string, primary: string): Promise<void> {
  await expectInViewport(page, `[data-testid="${primary}"]`, `${name}: ${primary}`);
  expect(await uncatalogued(page, vi, DATA), `${name}: strings not in the vi catalogue`).toEqual([]);
  await screenshot(page, FOLDER, `${String(++shot).padStart(2, '0')}-${name}`);
}

/** The whole keypad and the CAN on screen, without scrolling. */
async function keypadOnScreen(page: Page, what: string): Promise<void> {
  await expectInViewport(page, '[data-testid="chip-can"]', `${what}: the CAN`);
  for (const k of ['1', '2', '3', '4', '5', '6', '7', '8', '9', 'C', '0', '⌫']) await expectInViewport(page, `[data-testid="can-keypad"] [data-key="${k}"]`, `${what}: key ${k}`);
}

async function typeCan(page: Page, can: string): Promise<void> {
  await page.locator('[data-testid="can-keypad"] [data-key="C"]').click();
  for (const d of can) await page.locator(`[data-testid="can-keypad"] [data-key="${d}"]`).click();
  await expect.poll(() => page.getByTestId('chip-can').inputValue()).toBe(`${can.slice(0, 3)} ${can.slice(3)}`);
}

async function loginAndStart(page: Page): Promise<void> {
  // a fresh page in Vietnamese, whoever was logged in before
  await page.goto(kiosk.url);
  await page.evaluate(() => { sessionStorage.clear(); localStorage.clear(); localStorage.setItem('kioskLang', 'vi'); });
  await page.goto(kiosk.url);
  await page.getByTestId('login-id').fill('off1');
  await page.getByTestId('login-pin').fill('123456');
  await page.getByTestId('login-submit').click();
  await page.getByTestId('start-activation').click();
  await page.getByTestId('consent-agree').click();
  await page.getByTestId('f-fullName').waitFor();
}

async function fingersAndPortrait(page: Page): Promise<void> {
  await page.getByTestId('finger-capture').click();
  await page.locator('[data-testid="finger-2"][data-status="captured"]').waitFor();
  await page.getByTestId('finger-capture').click();
  await page.locator('[data-testid="finger-7"][data-status="captured"]').waitFor();
  await page.getByTestId('next').click();
  await page.getByTestId('portrait-capture').click();
  await page.locator('[data-testid="portrait-verdict"][data-verdict="accept"]').waitFor();
  await page.getByTestId('next').click();
}

async function confirmSealed(page: Page, name: string): Promise<EnrollmentRecord> {
  await page.getByTestId('confirm').click();
  await page.getByTestId('sealed').waitFor({ timeout: 30_000 });
  DATA.push((await page.getByTestId('record-ref').textContent())!);
  await step(page, `${name}-sealed`, 'next-person');
  const rec = await sealedRecord((await page.getByTestId('sealed').getAttribute('data-record-id'))!);
  await page.getByTestId('next-person').click();
  return rec;
}

beforeAll(async () => {
  resetArtefacts(FOLDER);
  root = mkdtempSync(join(tmpdir(), 'chip-can-browser-'));
  const dataDir = join(root, 'data');
  writeStationKeyPair(dataDir);
  const keys = await generateHqKeys('chip CAN browser test');
  const { publicPath } = writeHqKeys(join(root, 'hq'), keys);
  hq = parseHqPrivateKeys(keys.privateJson);
  vault = await Vault.open({ dataDir, stationId: 'ST-CAN-01', signingKey: loadStationSigningKey(dataDir), hqIdentity: publicPath, logger: nullLogger(), reserveBytes: 16 * 1024 * 1024 });
  trusted = createTestPki('VNM');
  await pcscd.start();
  driver = new PcscCardReader({ readerPattern: 'Virtual PCD', recoverIntervalMs: 200 });
  await driver.open();
  if (!driver.readers().some((r) => r.name === READER)) {
    await new Promise<void>((resolve) => { const on = () => { if (driver.readers().some((r) => r.name === READER)) { driver.off('reader-added', on); resolve(); } }; driver.on('reader-added', on); on(); });
  }
  mkdirSync(join(root, 'rig'));
  rig = await makeRig({ chip: chipPort(driver, { reader: READER, csca: cscaStoreFrom([trusted.csca.cert]), waitMs: 20_000 }), sealer: vaultSealer(vault) }, join(root, 'rig'));
  kiosk = await startKiosk({ port: 0, workflow: rig.wf, logger: nullLogger(), language: 'vi', statusIntervalMs: 300 });
  b = await launchBrowser({ width: 800, height: 480 });
}, 16 * 60_000); // waiting for the machine-wide pcscd lock (another file may hold it) is not a speed assertion

afterAll(async () => {
  await b?.close();
  await kiosk?.stop();
  rig?.cleanup();
  await driver?.close();
  await pcscd.stop();
  vault?.close();
  if (root) rmSync(root, { recursive: true, force: true });
}, 60_000);

describe('an e-ID activation with a Vietnamese citizen card opened by its CAN, in Chromium at 800×480 in Vietnamese', { timeout: 180_000 }, () => {
  it('at the details step: a wrong CAN says how many tries are left, the right one fills the form from the chip (marked, editable), and the activation is sealed with PACE/CAN', async () => {
    const card = await buildDocument({ pki: trusted, cccd: { generation: '2021' }, chipAuth: true, faceBytes: 2000 });
    const client = await insert(card);
    try {
      const page = await b.page();
      await loginAndStart(page);
      await step(page, 'details', 'details-chip-open');
      await page.getByTestId('details-chip-open').click();
      await page.locator('[data-testid="details-chip"] [data-testid="chip-entry"][data-mode="can"]').waitFor();
      await keypadOnScreen(page, 'details step');
      await typeCan(page, '000000');
      await step(page, 'details-can', 'details-chip-read');
      await page.getByTestId('details-chip-read').click();

      const err = page.getByTestId('chip-can-error');
      await err.waitFor({ timeout: 60_000 });
      expect(await err.getAttribute('data-code')).toBe('CARD_ACCESS_DENIED');
      expect(await err.getAttribute('data-attempts-left')).toBe('2');
      expect(await err.locator('.error-text').textContent()).toBe(vi['chip.denied.CAN.left']!.replace('{n}', '2'));
      expect(await err.locator('.hint').textContent()).toBe(vi['chip.denied.CAN.todo']);
      await expectInViewport(page, '[data-testid="chip-can-error"] .error-text', 'the wrong-CAN message');
      expect(await page.getByTestId('device-error').count()).toBe(0); // one message, beside the keypad
      expect(await page.getByTestId('chip-can').inputValue()).toBe(''); // typed again from the start
      await keypadOnScreen(page, 'after a wrong CAN');
      await step(page, 'details-can-wrong', 'details-chip-read');

      await typeCan(page, card.can!);
      await page.getByTestId('details-chip-read').click();
      await page.locator('[data-testid="details-chip"] [data-testid="chip-verdict"][data-status="valid"]').waitFor({ timeout: 60_000 });
      expect(await page.getByTestId('chip-access').getAttribute('data-password')).toBe('CAN');
      // the form is filled from DG13 (diacritics) and DG1, each field marked, all editable
      expect(await page.getByTestId('f-fullName').inputValue()).toBe(P.fullName);
      expect(await page.getByTestId('f-dateOfBirth').inputValue()).toBe('12/08/1990');
      expect(await page.getByTestId('f-sex').inputValue()).toBe('F');
      expect(await page.getByTestId('f-nationalId').inputValue()).toBe(P.idNumber);
      expect(await page.getByTestId('f-documentNumber').inputValue()).toBe(P.idNumber);
      expect(await page.getByTestId('f-documentExpiry').inputValue()).toBe('12/08/2030');
      expect(await page.getByTestId('f-address').inputValue()).toBe(P.placeOfResidence);
      expect(await page.getByTestId('f-placeOfOrigin').inputValue()).toBe(P.placeOfOrigin);
      for (const f of ['fullName', 'dateOfBirth', 'sex', 'nationalId', 'documentNumber', 'documentExpiry', 'address', 'placeOfOrigin']) {
        const mark = page.getByTestId(`from-chip-${f}`);
        expect(await mark.isVisible(), `${f} marked`).toBe(true);
        expect(await mark.textContent()).toBe(vi['chip.fromChip']);
      }
      expect(await page.getByTestId('from-chip-phone').count()).toBe(0);
      await step(page, 'details-from-chip', 'details-submit');
      // an edited field is no longer marked
      await page.getByTestId('f-placeOfOrigin').fill(EDITED_ORIGIN);
      expect(await page.getByTestId('from-chip-placeOfOrigin').isVisible()).toBe(false);
      await page.getByTestId('f-phone').fill(DETAILS.phone);
      await page.getByTestId('details-submit').click();

      await fingersAndPortrait(page);
      // the chip step: already read, nothing to type again
      await page.locator('[data-testid="chip-verdict"][data-status="valid"]').waitFor();
      expect(await page.getByTestId('next').isEnabled()).toBe(true);
      expect(await page.locator('[data-testid="chip-fields"] [data-testid="from-chip-fullName"]').textContent()).toBe(vi['chip.fromChip']);
      await step(page, 'details-then-chip', 'next');
      await page.getByTestId('next').click();
      const rec = await confirmSealed(page, 'details');
      expect(rec.kind).toBe('eid-activation');
      expect(rec.chip!.access).toEqual({ protocol: 'PACE', password: 'CAN', mapping: 'GM' });
      expect(rec.chip!.clone).toMatchObject({ verdict: 'chip-authenticated' });
      expect(rec.details).toMatchObject({ nationalId: P.idNumber, documentNumber: P.idNumber, address: P.placeOfResidence });
      expect(rec.overrides).toBeUndefined();
    } finally { await remove(client); }
  });

  it('at the chip step: the CAN typed on the keypad (on screen whole), a wrong one refused with the tries left, the retry reads the card and the activation is sealed', async () => {
    const card = await buildDocument({ pki: trusted, cccd: { generation: '2021' }, chipAuth: true, faceBytes: 2000 });
    const client = await insert(card);
    try {
      const page = await b.page();
      await loginAndStart(page);
      await fillDetails(page, DETAILS);
      await page.getByTestId('details-submit').click();
      await fingersAndPortrait(page);

      await page.locator('[data-testid="chip-entry"][data-mode="can"]').waitFor();
      await keypadOnScreen(page, 'chip step');
      await step(page, 'chip', 'chip-read');
      await typeCan(page, '999999');
      await page.getByTestId('chip-read').click();
      const err = page.getByTestId('chip-can-error');
      await err.waitFor({ timeout: 60_000 });
      expect(await err.getAttribute('data-attempts-left')).toBe('2');
      expect(await err.locator('.error-text').textContent()).toBe(vi['chip.denied.CAN.left']!.replace('{n}', '2'));
      await keypadOnScreen(page, 'chip step after a wrong CAN');
      await step(page, 'chip-can-wrong', 'chip-read');

      await typeCan(page, card.can!);
      await page.getByTestId('chip-read').click();
      await page.locator('[data-testid="chip-verdict"][data-status="valid"]').waitFor({ timeout: 60_000 });
      expect(await page.getByTestId('chip-can-error').count()).toBe(0);
      expect(await page.locator('[data-testid="chip-fields"] [data-field="fullName"] td').nth(1).textContent()).toBe(P.fullName);
      expect(await page.locator('[data-testid="chip-fields"] [data-testid="from-chip-fullName"]').textContent()).toBe(vi['chip.fromChip']);
      await step(page, 'chip-read', 'next');
      await page.getByTestId('next').click();
      await page.getByTestId('confirm').waitFor();
      const rec = await confirmSealed(page, 'chip');
      expect(rec.chip!.access).toEqual({ protocol: 'PACE', password: 'CAN', mapping: 'GM' });
      expect(rec.overrides).toBeUndefined();
    } finally { await remove(client); }
  });

  it('at the chip step with the MRZ: a wrong MRZ says the tries left, the next one suspends the MRZ (one short message asking for the CAN), and the CAN reads the card', async () => {
    const card = await buildDocument({ pki: trusted, cccd: { generation: '2021' }, chipAuth: true, faceBytes: 2000 });
    const client = await insert(card);
    try {
      const page = await b.page();
      await loginAndStart(page);
      await fillDetails(page, DETAILS);
      await page.getByTestId('details-submit').click();
      await fingersAndPortrait(page);
      await page.locator('[data-testid="chip-entry"][data-mode="can"]').waitFor();
      await page.getByTestId('chip-mode-mrz').click();
      await page.getByTestId('chip-doc').fill('X12345678');
      await page.getByTestId('chip-read').click();
      const first = page.locator('[data-testid="device-error"][data-code="CARD_ACCESS_DENIED"]');
      await first.waitFor({ timeout: 60_000 });
      expect(await first.locator('.error-text').textContent()).toBe(vi['chip.denied.MRZ.left']!.replace('{n}', '2'));
      await page.getByTestId('error-dismiss').click();
      await page.getByTestId('chip-read').click();
      const suspended = page.locator('[data-testid="device-error"][data-code="CARD_PACE_SUSPENDED"]');
      await suspended.waitFor({ timeout: 60_000 });
      expect(await suspended.locator('.error-text').textContent()).toBe(vi['chip.denied.suspended']);
      expect(await suspended.locator('.hint').textContent()).toBe(vi['chip.denied.suspended.todo']);
      await expectInViewport(page, '[data-testid="device-error"] .error-text', 'the suspended message');
      // the CAN keypad comes up by itself
      await page.locator('[data-testid="chip-entry"][data-mode="can"]').waitFor();
      await step(page, 'chip-mrz-suspended', 'error-dismiss');
      await page.getByTestId('error-dismiss').click();
      await keypadOnScreen(page, 'after the MRZ was suspended');
      await typeCan(page, card.can!);
      await page.getByTestId('chip-read').click();
      await page.locator('[data-testid="chip-verdict"][data-status="valid"]').waitFor({ timeout: 60_000 });
      expect(await page.getByTestId('chip-access').getAttribute('data-password')).toBe('CAN');
      expect(await page.getByTestId('device-error').count()).toBe(0);
    } finally { await remove(client); }
  });
});
