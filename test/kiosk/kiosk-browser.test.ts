/**
 * The kiosk page in a real Chromium (Debian's /usr/bin/chromium through
 * playwright-core), against the real kiosk server and workflow with in-memory
 * device fakes. The end-to-end test with the simulated drivers, the vault and
 * headquarters is in e2e-browser.test.ts.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nullLogger } from '../../station/log';
import { startKiosk, type KioskHandle } from '../../station/kiosk/server';
import { GOOD_DETAILS, makeRig, type Rig } from '../workflow/helpers';
import { fillDetails, launchBrowser } from './browser';

let b: Awaited<ReturnType<typeof launchBrowser>>;
let rig: Rig | null = null;
let kiosk: KioskHandle | null = null;

beforeAll(async () => { b = await launchBrowser(); }, 90_000);
afterAll(async () => { await b?.close(); });
afterEach(async () => { await kiosk?.stop(); kiosk = null; rig?.cleanup(); rig = null; });

async function open(over: Parameters<typeof makeRig>[0] = {}, dir?: string): Promise<Page> {
  rig = await makeRig(over, dir);
  kiosk = await startKiosk({ port: 0, workflow: rig.wf, logger: nullLogger(), language: 'en', statusIntervalMs: 300 });
  const page = await b.page();
  await page.goto(kiosk.url);
  await page.evaluate('sessionStorage.clear(); localStorage.clear();');
  await page.goto(kiosk.url);
  return page;
}

async function login(page: Page): Promise<void> {
  await page.getByTestId('login-id').fill('off1');
  await page.getByTestId('login-pin').fill('123456');
  await page.getByTestId('login-submit').click();
  await page.getByTestId('start-enrollment').waitFor();
}

describe('kiosk page in Chromium', () => {
  it('shows a wrong PIN, then enrolls a person end to end; a reload mid-session resumes it', async () => {
    const page = await open();
    await page.getByTestId('login-id').fill('off1');
    await page.getByTestId('login-pin').fill('999999');
    await page.getByTestId('login-submit').click();
    await expect.poll(() => page.getByTestId('login-error').textContent()).toMatch(/Wrong officer ID or PIN/);
    await login(page);
    // live device states and upload status in the header
    await page.locator('[data-device="fingerprint"][data-state="simulated"]').waitFor();
    expect(await page.getByTestId('waiting').textContent()).toMatch(/Waiting to upload: 0/);
    expect(await page.getByTestId('today').textContent()).toBe('Today: 0 / 40');

    await page.getByTestId('start-enrollment').click();
    await page.getByTestId('f-fullName').waitFor();
    await fillDetails(page, { ...GOOD_DETAILS, nationalId: '12345' });
    await page.getByTestId('details-submit').click();
    await expect.poll(() => page.getByTestId('err-nationalId').textContent()).toBe('Must be exactly 12 digits.');
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
    await expect.poll(() => page.getByTestId('finger-preview').evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth)).toBe(256);
    await page.getByTestId('next').click();

    await page.getByTestId('portrait-capture').click();
    await page.locator('[data-testid="portrait-verdict"][data-verdict="accept"]').waitFor();
    await page.getByTestId('next').click();
    await page.getByTestId('confirm').click();
    await page.getByTestId('sealed').waitFor();
    const recordId = await page.getByTestId('record-id').textContent();
    expect(recordId).toBe(rig!.sealer.sealed[0]!.recordId);
    await expect.poll(() => page.getByTestId('waiting').textContent()).toMatch(/Waiting to upload: 1/);
    expect(await page.getByTestId('today').textContent()).toBe('Today: 1 / 40');
    await page.getByTestId('next-person').click();
    await page.getByTestId('start-enrollment').waitFor();
  });

  it('rejects a bad photo with its reason on screen', async () => {
    const page = await open({ positions: [2] });
    rig!.cam.mode = ['dark'];
    await login(page);
    await page.getByTestId('start-enrollment').click();
    await fillDetails(page, GOOD_DETAILS);
    await page.getByTestId('details-submit').click();
    await page.getByTestId('finger-capture').click();
    await page.locator('[data-testid="finger-2"][data-status="captured"]').waitFor();
    await page.getByTestId('next').click();
    // live camera view while the officer positions the person
    await expect.poll(() => page.getByTestId('portrait-live').evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth)).toBe(480);
    expect(rig!.cam.previews).toBeGreaterThan(0);
    await page.getByTestId('portrait-capture').click();
    await page.locator('[data-testid="portrait-verdict"][data-verdict="reject"]').waitFor();
    expect(await page.locator('[data-testid="portrait-reasons"] li[data-code="too-dark"]').textContent()).toBe('Too dark — turn on or check the booth lights.');
    expect(await page.getByTestId('next').isDisabled()).toBe(true);
    // Vietnamese from the translation file
    await page.getByTestId('lang').click();
    await expect.poll(() => page.locator('[data-testid="portrait-reasons"] li').first().textContent()).toBe('Quá tối — bật hoặc kiểm tra đèn trong buồng.');
  });

  it('a locked station refuses a session and says why', async () => {
    const page = await open();
    rig!.guard.lock();
    // PIN typed on the on-screen keypad, as on the touchscreen
    await page.getByTestId('login-id').fill('off1');
    for (const k of ['1', '2', '3', '9', '⌫', '4', '5', '6']) await page.locator(`[data-testid="keypad"] [data-key="${k}"]`).click();
    expect(await page.getByTestId('login-pin').inputValue()).toBe('123456');
    await page.getByTestId('login-submit').click();
    await page.getByTestId('start-enrollment').waitFor();
    await page.getByTestId('start-enrollment').click();
    await page.getByTestId('error-locked').waitFor();
    expect(await page.getByTestId('error-locked').textContent()).toMatch(/locked by headquarters/);
    expect(rig!.wf.currentStep()).toBeNull();
  });

  it('a failing scanner offers retry and a recorded exception', async () => {
    const page = await open();
    rig!.fp.failNext = 1;
    await login(page);
    await page.getByTestId('start-enrollment').click();
    await fillDetails(page, GOOD_DETAILS);
    await page.getByTestId('details-submit').click();
    await page.getByTestId('finger-capture').click();
    await page.locator('[data-testid="device-error"][data-code="FP_TIMEOUT"]').waitFor();
    expect(await page.locator('[data-testid="device-error"] .error-text').textContent()).toBe('The fingerprint scanner did not answer in time.');
    expect(await page.locator('[data-testid="device-error"] .detail').textContent()).toMatch(/did not answer within 2000 ms/);
    await page.getByTestId('error-retry').click();
    await page.locator('[data-testid="finger-2"][data-status="captured"]').waitFor();
    await page.getByTestId('finger-exception').click();
    await page.getByTestId('exc-code').selectOption('amputated');
    await page.getByTestId('exc-reason').fill('left index finger amputated');
    await page.getByTestId('exc-save').click();
    await page.locator('[data-testid="finger-7"][data-status="exception"]').waitFor();
    expect(await page.getByTestId('next').isDisabled()).toBe(false);
  });

  it('logs an idle officer out and tells them', async () => {
    const page = await open({ idleLogoutMs: 2000 });
    const audit: Array<{ kind: string; result: string; reason?: string }> = [];
    rig!.wf.on('audit', (e: { kind: string; result: string; reason?: string }) => audit.push(e));
    await page.getByTestId('login-id').fill('off1');
    await page.getByTestId('login-pin').fill('123456');
    await page.getByTestId('login-submit').click();
    await page.getByTestId('logged-out-idle').waitFor({ timeout: 30_000 });
    expect(audit.map((a) => `${a.kind}:${a.result}:${a.reason ?? ''}`)).toEqual(['login:ok:', 'logout:ok:idle']);
    await page.getByTestId('login-id').waitFor();
  });
  it('after a power cut the screen says an unsealed session was lost', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wf-lost-'));
    const startedAt = Date.UTC(2026, 10, 28, 3, 4, 5);
    writeFileSync(join(dir, 'session.marker'), JSON.stringify({ sessionId: 's-lost', officerId: 'off1', kind: 'enrollment', step: 'portrait', startedAt, updatedAt: startedAt }));
    const page = await open({}, dir);
    await page.getByTestId('lost-session').waitFor();
    expect(await page.getByTestId('lost-session').textContent()).toMatch(/unsealed session was lost.*“Portrait”.*must be enrolled again/s);
    await login(page);
    await page.getByTestId('lost-dismiss').click();
    await expect.poll(() => page.getByTestId('lost-session').count()).toBe(0);
    expect(rig!.wf.lostSession()).toBeNull();
  });
});
