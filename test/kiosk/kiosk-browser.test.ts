/// <reference lib="dom" />
/**
 * The kiosk page in a real Chromium (Debian's /usr/bin/chromium through
 * playwright-core), against the real kiosk server and workflow with in-memory
 * device fakes. The walk through every step at the booths' screen sizes is in
 * layout-browser.test.ts; the whole booth (simulated drivers, vault,
 * headquarters) in e2e-browser.test.ts; the compiled daemon (degraded start,
 * kill -9, broker down) in daemon-browser.test.ts.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nullLogger } from '../../station/log';
import { startKiosk, type KioskHandle } from '../../station/kiosk/server';
import { GOOD_DETAILS, makeRig, type Rig } from '../workflow/helpers';
import { catalogue, expectInViewport, fillDetails, launchBrowser, screenshot, uncatalogued } from './browser';

let b: Awaited<ReturnType<typeof launchBrowser>>;
let rig: Rig | null = null;
let kiosk: KioskHandle | null = null;
const en = catalogue('en');
const vi = catalogue('vi');

beforeAll(async () => { b = await launchBrowser({ width: 1024, height: 600 }); }, 90_000);
afterAll(async () => { await b?.close(); });
afterEach(async () => { await kiosk?.stop(); kiosk = null; rig?.cleanup(); rig = null; });

async function open(over: Parameters<typeof makeRig>[0] = {}, dir?: string, language: 'vi' | 'en' = 'en'): Promise<Page> {
  rig = await makeRig(over, dir);
  kiosk = await startKiosk({ port: 0, workflow: rig.wf, logger: nullLogger(), language, statusIntervalMs: 300 });
  const page = await b.page();
  await page.goto(kiosk.url);
  await page.getByTestId('login-id').waitFor();
  await page.evaluate('sessionStorage.clear(); localStorage.clear();');
  await page.goto(kiosk.url);
  await page.getByTestId('login-id').waitFor();
  return page;
}

async function login(page: Page, id = 'off1', pin = '123456'): Promise<void> {
  await page.getByTestId('login-id').fill(id);
  await page.getByTestId('login-pin').fill(pin);
  await page.getByTestId('login-submit').click();
  await page.locator('[data-testid="start-enrollment"], [data-testid="guard-refused"], [data-testid="finger-grid"], [data-testid="f-fullName"]').first().waitFor();
}

async function toPortrait(page: Page): Promise<void> {
  await page.getByTestId('start-enrollment').click();
  await page.getByTestId('consent-agree').click(); // the person agrees to the consent text
  await fillDetails(page, GOOD_DETAILS);
  await page.getByTestId('details-submit').click();
  await page.getByTestId('finger-capture').click();
  await page.locator('[data-testid="finger-2"][data-status="captured"]').waitFor();
  await page.getByTestId('finger-capture').click();
  await page.locator('[data-testid="finger-7"][data-status="captured"]').waitFor();
  await page.getByTestId('next').click();
  await page.getByTestId('portrait-capture').waitFor();
}

describe('kiosk page in Chromium', () => {
  it('shows a wrong PIN with the attempts left, then enrolls a person end to end; a reload mid-session resumes it', async () => {
    const page = await open();
    await page.getByTestId('login-id').fill('off1');
    await page.getByTestId('login-pin').fill('999999');
    await page.getByTestId('login-submit').click();
    await expect.poll(() => page.getByTestId('login-error').textContent()).toBe(en['login.error.bad']!.replace('{n}', '2'));
    await login(page);
    // live device states and upload status in the header
    await page.locator('[data-device="fingerprint"][data-state="simulated"]').waitFor();
    expect(await page.getByTestId('waiting').textContent()).toBe('Waiting to upload: 0');
    expect(await page.getByTestId('today').textContent()).toBe('Today: 0 / 40');

    await page.getByTestId('start-enrollment').click();

    await page.getByTestId('consent-agree').click(); // the person agrees to the consent text
    await page.getByTestId('f-fullName').waitFor();
    await fillDetails(page, { ...GOOD_DETAILS, nationalId: '12345' });
    await page.getByTestId('details-submit').click();
    await expect.poll(() => page.getByTestId('err-nationalId').textContent()).toBe('Must be exactly 12 digits.');
    // the field to fix has the focus
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('f-nationalId');
    await page.getByTestId('f-nationalId').fill(GOOD_DETAILS.nationalId);
    await page.getByTestId('details-submit').click();

    await page.getByTestId('finger-capture').click();
    await page.locator('[data-testid="finger-2"][data-status="captured"]').waitFor();
    // Reload mid-session: the same session comes back at the same step.
    await page.reload();
    await page.locator('[data-testid="finger-2"][data-status="captured"]').waitFor();
    await page.getByTestId('finger-capture').click();
    await page.locator('[data-testid="finger-7"][data-status="captured"]').waitFor();
    await page.getByTestId('finger-7').click();
    await expect.poll(() => page.getByTestId('finger-preview').evaluate((img) => (img as HTMLImageElement).naturalWidth)).toBe(256);
    await page.getByTestId('next').click();

    await page.getByTestId('portrait-capture').click();
    await page.locator('[data-testid="portrait-verdict"][data-verdict="accept"]').waitFor();
    await page.getByTestId('next').click();
    await page.getByTestId('confirm').click();
    await page.getByTestId('sealed').waitFor();
    expect(await page.getByTestId('sealed').getAttribute('data-record-id')).toBe(rig!.sealer.sealed[0]!.recordId);
    await expect.poll(() => page.getByTestId('waiting').textContent()).toBe('Waiting to upload: 1');
    expect(await page.getByTestId('today').textContent()).toBe('Today: 1 / 40');
    await page.getByTestId('next-person').click();
    await page.getByTestId('start-enrollment').waitFor();
  });

  it('rejects a bad photo with its reason and a gauge against the threshold', async () => {
    const page = await open({ positions: [2] });
    rig!.cam.mode = ['dark'];
    await login(page);
    await page.getByTestId('start-enrollment').click();
    await page.getByTestId('consent-agree').click(); // the person agrees to the consent text
    await fillDetails(page, GOOD_DETAILS);
    await page.getByTestId('details-submit').click();
    await page.getByTestId('finger-capture').click();
    await page.locator('[data-testid="finger-2"][data-status="captured"]').waitFor();
    await page.getByTestId('next').click();
    // live camera view while the officer positions the person
    await expect.poll(() => page.getByTestId('portrait-live').evaluate((img) => (img as HTMLImageElement).naturalWidth)).toBe(480);
    expect(rig!.cam.previews).toBeGreaterThan(0);
    await page.getByTestId('portrait-capture').click();
    await page.locator('[data-testid="portrait-verdict"][data-verdict="reject"]').waitFor();
    expect(await page.getByTestId('portrait-verdict').textContent()).toBe('Too dark — turn on or check the booth lights.');
    expect(await page.locator('[data-testid="portrait-gauge"] [data-check="exposure"] .gauge').getAttribute('class')).toMatch(/bad/);
    expect(await page.getByTestId('next').isDisabled()).toBe(true);
    // Vietnamese from the translation file
    await page.getByTestId('lang').click();
    await expect.poll(() => page.getByTestId('portrait-verdict').textContent()).toBe('Quá tối — bật hoặc kiểm tra đèn trong buồng.');
  });

  it('a locked station shows locked on the home screen at once, once, with who, when and why — and offers no start', async () => {
    const page = await open();
    rig!.guard.lock('campaign paused for the flood', 'headquarters');
    await login(page);
    const refused = page.locator('[data-testid="guard-refused"][data-code="locked"]');
    await refused.waitFor();
    expect(await page.getByTestId('start-enrollment').count()).toBe(0);
    expect(await page.getByTestId('start-activation').count()).toBe(0);
    expect(await refused.textContent()).toContain('“campaign paused for the flood”');
    expect(await refused.textContent()).toContain(en['lock.by.headquarters']);
    expect(await page.locator('[data-testid="guard-refused"]').count()).toBe(1);
    expect(await page.locator('.banner.err').count()).toBe(1);
    // unlocked by headquarters while on the home screen: the buttons come back by themselves
    rig!.guard.unlock();
    await page.getByTestId('start-enrollment').waitFor();
    // and locked again while on it: the home screen says so without a tap
    rig!.guard.lock('stolen booth alert', 'headquarters');
    await refused.waitFor();
    expect(rig!.wf.currentStep()).toBeNull();
  });

  it('a failing scanner turns its chip amber and offers retry and a recorded exception', async () => {
    const page = await open();
    rig!.fp.failNext = 1;
    await login(page);
    await page.getByTestId('start-enrollment').click();
    await page.getByTestId('consent-agree').click(); // the person agrees to the consent text
    await fillDetails(page, GOOD_DETAILS);
    await page.getByTestId('details-submit').click();
    await page.getByTestId('finger-capture').click();
    await page.locator('[data-testid="device-error"][data-code="FP_TIMEOUT"]').waitFor();
    expect(await page.locator('[data-testid="device-error"] .error-text').textContent()).toBe('The fingerprint scanner did not answer in time.');
    expect(await page.locator('[data-testid="device-error"] [data-tech]').textContent()).toMatch(/did not answer within 2000 ms/);
    await page.locator('[data-device="fingerprint"][data-state="degraded"]').waitFor();
    await page.getByTestId('error-retry').click();
    await page.locator('[data-testid="finger-2"][data-status="captured"]').waitFor();
    await page.locator('[data-device="fingerprint"][data-state="simulated"]').waitFor();
    await page.getByTestId('finger-exception').click();
    await page.locator('[data-testid="exc-code"] [data-code="amputated"]').click();
    await page.getByTestId('exc-reason').fill('left index finger amputated');
    await page.getByTestId('exc-save').click();
    await page.locator('[data-testid="finger-7"][data-status="exception"]').waitFor();
    expect(await page.getByTestId('next').isDisabled()).toBe(false);
  });

  it('a failing camera turns its chip red, says why on tap, and offers the exception', async () => {
    const page = await open();
    await login(page);
    await toPortrait(page);
    rig!.cam.failNext = 1;
    rig!.cam.failCode = 'CAM_NOT_FOUND';
    rig!.cam.previewFails = true;
    await page.getByTestId('portrait-capture').click();
    await page.locator('[data-testid="device-error"][data-code="CAM_NOT_FOUND"]').waitFor();
    const chip = page.locator('[data-device="camera"][data-state="error"]');
    await chip.waitFor();
    expect(await chip.getAttribute('class')).toMatch(/lvl-bad/);
    expect(await chip.getAttribute('aria-label')).toBe(`${en['device.camera']}: ${en['devstate.error']}`);
    // the live view says there is no picture instead of a black box
    await expect.poll(() => page.getByTestId('portrait-live-none').getAttribute('data-failed')).toBe('true');
    expect(await page.getByTestId('portrait-live-none').isVisible()).toBe(true);
    await page.getByTestId('error-dismiss').click();
    await page.locator('[data-testid="device-down"][data-device="camera"]').waitFor();
    await expectInViewport(page, '[data-testid="device-down-exception"]');
    await screenshot(page, 'kiosk/cases', 'camera-missing');
    await chip.click();
    await page.getByTestId('device-dialog').waitFor();
    expect(await page.getByTestId('device-reason').textContent()).toBe(en['code.CAM_NOT_FOUND']);
    await page.getByTestId('dialog-close').click();
    await page.getByTestId('device-down-exception').click();
    await page.getByTestId('exc-panel').waitFor();
    expect(await page.locator('[data-testid="exc-code"] [data-code="device_failure"]').getAttribute('aria-checked')).toBe('true');
    await page.getByTestId('exc-reason').fill('camera unplugged, no spare');
    await page.getByTestId('exc-save').click();
    await page.getByTestId('portrait-exception-text').waitFor();
    expect(await page.getByTestId('next').isDisabled()).toBe(false);
  });

  it('typing is activity: an officer typing one character every 1.5 s past the idle limit is neither warned nor logged out', async () => {
    const page = await open({ idleLogoutMs: 8000 });
    await login(page);
    await page.getByTestId('start-enrollment').click();
    await page.getByTestId('consent-agree').click(); // the person agrees to the consent text
    await page.getByTestId('f-address').waitFor();
    await page.evaluate(() => {
      const w = window as unknown as { idleSeen: boolean };
      w.idleSeen = false;
      new MutationObserver(() => { if (!document.getElementById('idle')!.classList.contains('hidden')) w.idleSeen = true; })
        .observe(document.getElementById('idle')!, { attributes: true });
    });
    const field = page.getByTestId('f-address');
    await field.click();
    const typed = 'Số 12 Phố Huế';
    const t0 = Date.now();
    let i = 0;
    while (Date.now() - t0 < 11_000) {
      await page.keyboard.type(typed[i++ % typed.length]!);
      await page.waitForTimeout(1500);
    }
    expect(await page.evaluate(() => (window as unknown as { idleSeen: boolean }).idleSeen)).toBe(false);
    expect(await page.getByTestId('logged-out-idle').count()).toBe(0);
    expect((await field.inputValue()).length).toBe(i);
    expect(rig!.wf.currentStep()).toBe('details');
  });

  it('shows a countdown before the idle logout; “Continue” keeps the session; after the logout the same officer gets it back', async () => {
    const page = await open({ idleLogoutMs: 4000 }, undefined, 'vi');
    await login(page);
    await page.getByTestId('start-enrollment').click();
    await page.getByTestId('consent-agree').click(); // the person agrees to the consent text
    await page.getByTestId('f-fullName').fill('Trần Thị Lan');
    const countdown = page.getByTestId('idle-countdown');
    await countdown.waitFor();
    expect(await page.getByTestId('idle-seconds').textContent()).toMatch(/^Đăng xuất sau [12] giây$/);
    expect(await uncatalogued(page, vi, ['Officer One'])).toEqual([]);
    await screenshot(page, 'kiosk/cases', 'idle-countdown');
    await page.getByTestId('idle-continue').click();
    await countdown.waitFor({ state: 'hidden' });
    // the next thing to happen is another countdown (the session lived past the first deadline), not a logout
    await countdown.waitFor();
    expect(await page.getByTestId('logged-out-idle').count()).toBe(0);
    expect(rig!.wf.currentStep()).toBe('details');
    // now let it run out
    await page.getByTestId('logged-out-idle').waitFor();
    expect(await page.getByTestId('logged-out-idle').textContent()).toBe(vi['loggedOut.idleKept']);
    await login(page);
    await page.getByTestId('session-restored').waitFor();
    expect(await page.getByTestId('f-fullName').inputValue()).toBe('Trần Thị Lan');
    expect(rig!.wf.currentStep()).toBe('details');
  });

  it('numeric officer ids get a numeric keypad for the id too; a locked account says until when and who can unlock', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wf-numeric-'));
    const page = await open({}, dir);
    await rig!.officers.add({ id: '1002', name: 'Officer Two', pin: '246810' });
    rig!.officers.remove('off1');
    await page.reload();
    await page.getByTestId('login-id').waitFor();
    expect(await page.getByTestId('login-id').getAttribute('inputmode')).toBe('numeric');
    await page.getByTestId('login-id').click();
    for (const k of ['1', '0', '0', '2']) await page.locator(`[data-testid="keypad"] [data-key="${k}"]`).click();
    expect(await page.getByTestId('login-id').inputValue()).toBe('1002');
    await page.getByTestId('login-pin').click();
    for (const k of ['1', '1', '1', '1', '1', '9', '⌫', '1']) await page.locator(`[data-testid="keypad"] [data-key="${k}"]`).click();
    expect(await page.getByTestId('login-pin').inputValue()).toBe('111111');
    await page.getByTestId('login-submit').click();
    await expect.poll(() => page.getByTestId('login-error').textContent()).toBe(en['login.error.bad']!.replace('{n}', '2'));
    for (const last of ['1', '0']) {
      await page.getByTestId('login-pin').fill('11111' + last);
      await page.getByTestId('login-submit').click();
      await expect.poll(() => page.getByTestId('login-error').textContent()).not.toBe(en['login.error.bad']!.replace('{n}', '2'));
    }
    await expect.poll(() => page.getByTestId('login-error').textContent()).toMatch(/^The account is locked after too many wrong PINs\. It unlocks by itself at \d\d:\d\d\./);
    expect(await page.getByTestId('login-unlock').textContent()).toBe(en['login.unlockBy.default']);
  });

  it('after a power cut the screen says an unsealed session was lost and offers to enroll again', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wf-lost-'));
    const startedAt = Date.UTC(2026, 10, 28, 3, 4, 5);
    writeFileSync(join(dir, 'session.marker'), JSON.stringify({ sessionId: 's-lost', officerId: 'off1', kind: 'enrollment', step: 'portrait', startedAt, updatedAt: startedAt }));
    const page = await open({}, dir);
    await page.locator('[data-testid="lost-session"][data-sealed="false"]').waitFor();
    expect(await page.getByTestId('lost-session').textContent()).toMatch(/NOT sealed.*“Portrait”.*must be enrolled again/s);
    await login(page);
    await page.getByTestId('lost-enroll-again').click();
    await page.getByTestId('consent-agree').click();
    await page.getByTestId('f-fullName').waitFor();
    expect(rig!.wf.lostSession()).toBeNull();
    expect(rig!.wf.currentStep()).toBe('details');
  });
});
