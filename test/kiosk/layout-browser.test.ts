/// <reference lib="dom" />
/**
 * The officer's screen as booths have it — 800×480 and 1024×600 (and a
 * portrait-mounted 480×800), in Vietnamese and English — walked through every
 * step of an e-ID activation (the longest procedure) in real Chromium against
 * the real kiosk server and workflow with device fakes. At each step:
 *   - the step opens at its top and its primary action is inside the viewport,
 *     uncovered (bounding boxes);
 *   - every error raised on the way (refused login, invalid details, a device
 *     failure, an exception without a reason, a refused chip read) is visible
 *     when it appears;
 *   - every string on screen is in the page language's catalogue;
 *   - a screenshot is kept under test-artifacts/kiosk/<size>-<lang>/.
 */
import { SAMPLE_CONSENT } from '../../config/consent-sample';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { nullLogger } from '../../station/log';
import { startKiosk, type KioskHandle } from '../../station/kiosk/server';
import { GOOD_DETAILS, makeRig, type Rig } from '../workflow/helpers';
import { catalogue, expectInViewport, fillDetails, launchBrowser, resetArtefacts, screenshot, uncatalogued } from './browser';

let b: Awaited<ReturnType<typeof launchBrowser>>;
beforeAll(async () => { b = await launchBrowser(); }, 90_000);
afterAll(async () => { await b?.close(); });

const ACTIVATION = { ...GOOD_DETAILS, documentNumber: '001090012', documentExpiry: '2035-05-17' };
const REASON = 'ngón tay bị thương';
// the consent text is the programme's (configuration), shown as data: its paragraphs and version
const CONSENT_DATA = [SAMPLE_CONSENT.version, ...Object.values(SAMPLE_CONSENT.text).flatMap((t) => t.split(/\n\s*\n/))];
const DATA = [...Object.values(ACTIVATION), '17/05/1990', '17/05/2035', 'Officer One', REASON, 'C0RRECTED1', 'NGUYEN', 'VAN AN', '001090012', 'off2', ...CONSENT_DATA];

const SIZES: Array<{ width: number; height: number; langs: Array<'vi' | 'en'> }> = [
  { width: 800, height: 480, langs: ['vi', 'en'] },
  { width: 1024, height: 600, langs: ['vi', 'en'] },
  { width: 480, height: 800, langs: ['vi'] },
];

async function scrollTop(page: Page): Promise<number> {
  return page.evaluate(() => document.getElementById('main')!.scrollTop);
}

async function call(page: Page, path: string): Promise<void> {
  await page.evaluate(async (p) => {
    const r = await fetch(p, { method: 'POST', headers: { Authorization: `Bearer ${sessionStorage.getItem('kioskToken')}`, 'Content-Type': 'application/json' }, body: '{}' });
    if (!r.ok) throw new Error(`${p} → ${r.status}`);
  }, path);
}

for (const size of SIZES) {
  for (const lang of size.langs) {
    const folder = `kiosk/${size.width}x${size.height}-${lang}`;
    describe(`kiosk at ${size.width}×${size.height} in ${lang}`, () => {
      let rig: Rig;
      let kiosk: KioskHandle;
      beforeAll(async () => {
        resetArtefacts(folder);
        rig = await makeRig();
        await rig.officers.add({ id: 'off2', name: 'Officer Two', pin: '654321' });
        kiosk = await startKiosk({ port: 0, workflow: rig.wf, logger: nullLogger(), language: 'vi', statusIntervalMs: 300 });
      });
      afterAll(async () => { await kiosk?.stop(); rig?.cleanup(); });

      it('every step opens at its top with its primary action on screen; errors show where they happen; every word from the catalogue', async () => {
        const cat = catalogue(lang);
        const page = await b.page();
        await page.setViewportSize({ width: size.width, height: size.height });
        await page.goto(kiosk.url);
        await page.getByTestId('login-id').waitFor(); // started (it stores the language it chose)
        await page.evaluate((l) => { sessionStorage.clear(); localStorage.clear(); localStorage.setItem('kioskLang', l); }, lang);
        await page.goto(kiosk.url);
        let n = 0;
        const step = async (name: string, primary: string): Promise<void> => {
          await expectInViewport(page, `[data-testid="${primary}"]`, `${name}: ${primary}`);
          expect(await uncatalogued(page, cat, DATA), `${name}: strings not in the ${lang} catalogue`).toEqual([]);
          await screenshot(page, folder, `${String(++n).padStart(2, '0')}-${name}`);
        };

        // login — an empty submit says what is missing, where the officer looks
        await page.getByTestId('login-id').waitFor();
        await step('login', 'login-submit');
        await expectInViewport(page, '[data-testid="login-pin"]');
        await page.getByTestId('login-submit').click();
        await expect.poll(() => page.getByTestId('login-error').textContent()).toBe(cat['input.login_no_id']);
        await expectInViewport(page, '[data-testid="login-error"]', 'login error');
        await page.getByTestId('login-id').fill('off1');
        await page.getByTestId('login-pin').fill('123456');
        await page.getByTestId('login-submit').click();

        await page.getByTestId('start-enrollment').waitFor();
        await step('home', 'start-enrollment');
        await expectInViewport(page, '[data-testid="start-activation"]');

        await call(page, '/api/session/start');
        await page.getByTestId('kind-activation').waitFor();
        await step('kind', 'kind-enrollment');
        await page.getByTestId('kind-activation').click();

        // consent: the person reads the configured text and answers
        await page.getByTestId('consent-text').waitFor();
        await step('consent', 'consent-agree');
        await page.getByTestId('consent-agree').click();

        // details: a wrong ID number is shown next to its field, in view
        await page.getByTestId('f-fullName').waitFor();
        await step('details', 'details-submit');
        await fillDetails(page, { ...ACTIVATION, nationalId: '12345' });
        await page.getByTestId('details-submit').click();
        await expect.poll(() => page.getByTestId('err-nationalId').textContent()).toBe(cat['errors.id_format']!.replace('{len}', '12'));
        await expectInViewport(page, '[data-testid="err-nationalId"]', 'field error');
        await expectInViewport(page, '[data-testid="f-nationalId"]', 'field in error');
        await expectInViewport(page, '[data-testid="details-invalid"]', 'error summary');
        await step('details-invalid', 'details-submit');
        await page.getByTestId('f-nationalId').fill(ACTIVATION.nationalId);
        // the officer ends at the bottom of the form: the next step must still open at its top
        await page.getByTestId('f-documentExpiry').scrollIntoViewIfNeeded();
        await page.getByTestId('details-submit').click();

        // fingerprints
        await page.getByTestId('finger-grid').waitFor();
        expect(await scrollTop(page)).toBe(0);
        await step('fingerprints', 'finger-capture');
        await expectInViewport(page, '[data-testid="finger-exception"]');
        await expectInViewport(page, '[data-testid="finger-2"]');
        rig.fp.failNext = 1;
        await page.getByTestId('finger-capture').click();
        await page.locator('[data-testid="device-error"][data-code="FP_TIMEOUT"]').waitFor();
        await expectInViewport(page, '[data-testid="device-error"] .error-text', 'device error');
        await step('finger-error', 'error-retry');
        await page.getByTestId('error-retry').click();
        await page.locator('[data-testid="finger-2"][data-status="captured"]').waitFor();
        await expectInViewport(page, '[data-testid="finger-verdict"]', 'finger verdict');
        await expectInViewport(page, '[data-testid="finger-gauge"]', 'finger gauge');
        await step('finger-captured', 'finger-capture');
        await page.getByTestId('finger-exception').click();
        await page.getByTestId('exc-panel').waitFor();
        await page.locator('[data-testid="exc-code"] [data-code="bandaged"]').click();
        await page.getByTestId('exc-save').click();
        await page.getByTestId('dialog-error').waitFor();
        expect(await page.getByTestId('dialog-error').textContent()).toContain(cat['input.reason_required']);
        await expectInViewport(page, '[data-testid="dialog-error"]', 'exception without a reason');
        await step('exception-no-reason', 'exc-save');
        await page.getByTestId('exc-reason').fill(REASON);
        await page.getByTestId('exc-save').click();
        await page.locator('[data-testid="finger-7"][data-status="exception"]').waitFor();
        // the exception waits for a second officer: the panel is at the top of the step, the dialog takes their PIN
        await page.getByTestId('override-finger-exception').waitFor();
        await step('finger-cosign', 'override-finger-exception');
        await page.getByTestId('override-finger-exception').click();
        await page.getByTestId('override-id').fill('off2');
        await page.getByTestId('override-pin').fill('654321');
        await page.getByTestId('override-reason').fill(REASON);
        await step('cosign-dialog', 'override-sign');
        await page.getByTestId('override-sign').click();
        await page.locator('[data-testid="blocker-finger-exception"][data-cosigned="true"]').waitFor();
        // all done: the last capture's preview stays, "continue" is the primary action
        await expectInViewport(page, '[data-testid="finger-preview"]', 'preview when all fingers are done');
        await step('fingers-done', 'next');
        await page.getByTestId('next').click();

        // portrait
        await page.getByTestId('portrait-capture').waitFor();
        expect(await scrollTop(page)).toBe(0);
        await step('portrait', 'portrait-capture');
        await expectInViewport(page, '[data-testid="portrait-exception"]');
        rig.cam.mode = ['dark', 'good'];
        await page.getByTestId('portrait-capture').click();
        await page.locator('[data-testid="portrait-verdict"][data-verdict="reject"]').waitFor();
        expect(await page.getByTestId('portrait-verdict').textContent()).toBe(cat['reason.too-dark']);
        await expectInViewport(page, '[data-testid="portrait-verdict"]', 'portrait verdict');
        await expectInViewport(page, '[data-testid="portrait-gauge"] .gauge', 'portrait gauge');
        await step('portrait-rejected', 'portrait-capture');
        await page.getByTestId('portrait-details-toggle').click();
        await page.getByTestId('metrics').waitFor();
        await step('portrait-details', 'portrait-capture');
        await page.getByTestId('portrait-capture').click();
        await page.locator('[data-testid="portrait-verdict"][data-verdict="accept"]').waitFor();
        await step('portrait-accepted', 'next');
        await page.getByTestId('next').click();

        // chip: a refused read is shown in view, and the corrected number stays as typed
        await page.getByTestId('chip-read').waitFor();
        expect(await scrollTop(page)).toBe(0);
        // the CAN is the default: its keypad is on screen whole, without scrolling
        await page.locator('[data-testid="chip-entry"][data-mode="can"]').waitFor();
        for (const k of ['1', '0', 'C', '⌫']) await expectInViewport(page, `[data-testid="can-keypad"] [data-key="${k}"]`, `CAN key ${k}`);
        await step('chip-can', 'chip-read');
        await page.getByTestId('chip-mode-mrz').click();
        expect(await page.getByTestId('chip-birth').inputValue()).toBe('17/05/1990');
        await step('chip', 'chip-read');
        rig.chip.expectedDocumentNumber = '001090012';
        await page.getByTestId('chip-doc').fill('C0RRECTED1');
        await page.getByTestId('chip-read').click();
        await page.locator('[data-testid="device-error"][data-code="CARD_BAC_DENIED"]').waitFor();
        await expectInViewport(page, '[data-testid="device-error"] .error-text', 'chip error');
        expect(await page.getByTestId('chip-doc').inputValue()).toBe('C0RRECTED1');
        await step('chip-error', 'error-retry');
        await page.getByTestId('error-dismiss').click();
        await page.getByTestId('chip-doc').fill('001090012');
        await page.getByTestId('chip-read').click();
        await page.locator('[data-testid="chip-verdict"][data-status="valid"]').waitFor();
        expect(await page.locator('[data-testid="chip-fields"] [data-field="sex"] td').nth(1).textContent()).toBe(cat['sex.M']);
        expect(await page.locator('[data-testid="chip-fields"] [data-field="nationality"] td').nth(1).textContent()).toBe(cat['country.VNM']);
        expect(await page.locator('[data-testid="chip-fields"] [data-field="birthDate"] td').nth(1).textContent()).toBe('17/05/1990');
        await step('chip-read', 'next');
        await page.getByTestId('next').click();

        // review and sealed
        await page.getByTestId('confirm').waitFor();
        expect(await scrollTop(page)).toBe(0);
        await step('review', 'confirm');
        await page.getByTestId('confirm').click();
        await page.getByTestId('sealed').waitFor();
        const ref = await page.getByTestId('record-ref').textContent();
        expect(ref).toMatch(/^[0-9A-F]{4}-[0-9A-F]{4}$/);
        expect(rig.sealer.sealed[0]!.recordId.replace(/-/g, '').toUpperCase().endsWith(ref!.replace('-', ''))).toBe(true);
        await expectInViewport(page, '[data-testid="record-ref"]');
        DATA.push(ref!);
        await step('sealed', 'next-person');
        await page.getByTestId('next-person').click();
        await page.getByTestId('start-enrollment').waitFor();
      }, 120_000);
    });
  }
}
