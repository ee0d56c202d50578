/// <reference lib="dom" />
/**
 * `station demo --faults` (compiled, as a trainer starts it) in Chromium at
 * 800×480 in Vietnamese: the trainer panel makes the simulated scanner, camera
 * and card reader fail and the embedded broker vanish; the officer sees what a
 * real failure shows (red/amber chip, the step's exception path, offline) and
 * everything works again once repaired. Without --faults there is no panel and
 * the switch's API answers 404.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import type { Page } from 'playwright-core';
import { STATION_JS } from '../helpers/cli';
import { GOOD_DETAILS } from '../workflow/helpers';
import { catalogue, expectInViewport, fillDetails, launchBrowser, screenshot, uncatalogued } from './browser';

const vi = catalogue('vi');
let b: Awaited<ReturnType<typeof launchBrowser>>;
const children = new Set<ChildProcess>();

function exited(c: ChildProcess): Promise<void> {
  return new Promise((r) => { if (c.exitCode !== null || c.signalCode !== null) r(); else c.once('exit', () => r()); });
}

/** Starts the compiled demo; resolves with its kiosk URL once it printed it. */
function startDemo(args: string[]): Promise<{ child: ChildProcess; url: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [STATION_JS, 'demo', '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    let out = '';
    let done = false;
    const on = (d: Buffer): void => {
      out += d.toString();
      const m = /Kiosk:\s+(http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
      if (m && !done) { done = true; resolve({ child, url: m[1]! }); }
    };
    child.stdout!.on('data', on);
    child.stderr!.on('data', on);
    child.once('exit', (code) => { if (!done) reject(new Error(`demo exited ${code} before serving:\n${out}`)); });
  });
}

async function stop(c: ChildProcess): Promise<void> {
  c.kill('SIGINT');
  await exited(c);
  children.delete(c);
}

async function login(page: Page, url: string): Promise<void> {
  await page.goto(url);
  await page.evaluate('sessionStorage.clear(); localStorage.clear();');
  await page.goto(url);
  await page.getByTestId('login-id').fill('demo');
  await page.getByTestId('login-pin').fill('123456');
  await page.getByTestId('login-submit').click();
  await page.getByTestId('start-enrollment').waitFor();
}

async function toggle(page: Page, fault: string, on: boolean): Promise<void> {
  if (!(await page.getByTestId('faults-dialog').isVisible())) await page.getByTestId('faults-open').click();
  const sw = page.getByTestId(`fault-${fault}`);
  expect(await sw.getAttribute('aria-pressed')).toBe(String(!on));
  await sw.click();
  await page.locator(`[data-testid="fault-${fault}"][aria-pressed="${on}"]`).waitFor();
  await page.getByTestId('dialog-close').click();
}

beforeAll(async () => { b = await launchBrowser({ width: 800, height: 480 }); }, 90_000);
afterAll(async () => {
  for (const c of children) { c.kill('SIGKILL'); await exited(c); }
  await b?.close();
}, 60_000);

describe('station demo --faults', () => {
  it('the trainer makes the broker vanish, the scanner and the camera fail; the officer rehearses the exceptions; repaired, all is green', async () => {
    const demo = await startDemo(['--faults']);
    try {
      const page = await b.page();
      await login(page, demo.url);
      await expectInViewport(page, '[data-testid="faults-open"]', 'the trainer button');
      await page.getByTestId('faults-open').click();
      await page.getByTestId('faults-dialog').waitFor();
      for (const n of ['scanner', 'camera', 'card', 'broker']) expect(await page.getByTestId(`fault-${n}`).getAttribute('aria-pressed')).toBe('false');
      expect(await uncatalogued(page, vi, ['Demo Officer'])).toEqual([]);
      await screenshot(page, 'kiosk/demo-faults', 'panel');
      await page.getByTestId('dialog-close').click();

      // the broker vanishes: offline; back: online
      await page.locator('[data-testid="uplink"][data-online="true"]').waitFor();
      await toggle(page, 'broker', true);
      await page.locator('[data-testid="uplink"][data-online="false"]').waitFor();
      await toggle(page, 'broker', false);
      // the uplink reconnects with its backoff (at most 5 s in the demo); the wait only bounds a failure
      await page.locator('[data-testid="uplink"][data-online="true"]').waitFor({ timeout: 90_000 });

      // the scanner unplugged: the capture fails, its chip is red, the step offers the exception
      await toggle(page, 'scanner', true);
      await page.getByTestId('start-enrollment').click();
      await page.getByTestId('consent-agree').click();
      await fillDetails(page, { ...GOOD_DETAILS, unitCode: '00004' });
      await page.getByTestId('details-submit').click();
      await page.getByTestId('finger-capture').click();
      await page.locator('[data-testid="device-fingerprint"][data-state="error"]').waitFor();
      await page.getByTestId('error-dismiss').click();
      for (const pos of [2, 7]) {
        await page.locator(`[data-testid="device-down"][data-device="fingerprint"]`).waitFor();
        await expectInViewport(page, '[data-testid="device-down-exception"]', 'the scanner exception');
        await page.getByTestId('device-down-exception').click();
        await page.getByTestId('exc-reason').fill('máy quét bị rút (huấn luyện)');
        await page.getByTestId('exc-save').click();
        await page.locator(`[data-testid="finger-${pos}"][data-status="exception"]`).waitFor();
      }
      await screenshot(page, 'kiosk/demo-faults', 'scanner-unplugged');
      // a second officer confirms the exception (#22): id, PIN, reason in the co-signature dialog
      await page.getByTestId('override-finger-exception').click();
      await page.getByTestId('override-id').fill('demo2');
      await page.getByTestId('override-pin').fill('654321');
      await page.getByTestId('override-reason').fill('máy quét bị rút (huấn luyện)');
      await page.getByTestId('override-sign').click();
      await page.locator('[data-testid="blocker-finger-exception"][data-cosigned="true"]').waitFor();

      // the camera fails at every picture
      await toggle(page, 'camera', true);
      await page.getByTestId('next').click();
      await page.getByTestId('portrait-capture').click();
      await page.locator('[data-testid="device-camera"][data-state="degraded"], [data-testid="device-camera"][data-state="error"]').first().waitFor();
      await page.locator('[data-testid^="device-error"]').first().waitFor();
      await screenshot(page, 'kiosk/demo-faults', 'camera-failing');

      // repaired: the camera takes the picture and its chip is green again; the scanner too
      await toggle(page, 'camera', false);
      await toggle(page, 'scanner', false);
      await page.getByTestId('error-dismiss').click().catch(() => undefined);
      await page.getByTestId('portrait-capture').click();
      await page.locator('[data-testid="device-camera"][data-state="simulated"]').waitFor();
      await page.getByTestId('next').click();
      await page.getByTestId('confirm').waitFor();
      await page.close();
    } finally {
      await stop(demo.child);
    }
  });

  it('the card reader made to fail: the chip read fails with the reader\'s own error and its chip turns amber; repaired, it reads', async () => {
    const demo = await startDemo(['--faults']);
    try {
      const page = await b.page();
      await login(page, demo.url);
      await page.locator('[data-testid="device-card"][data-state="simulated"]').waitFor();
      await toggle(page, 'card', true);
      // the same officer's session, driven through the API the page uses: the chip read at the details step
      const api = async (path: string, body: unknown, token?: string): Promise<{ status: number; body: any }> => {
        const r = await fetch(new URL(path, demo.url), { method: 'POST', headers: { 'Content-Type': 'application/json', ...(token ? { Authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify(body) });
        return { status: r.status, body: await r.json() };
      };
      const t = (await api('/api/login', { officerId: 'demo', pin: '123456' })).body.token as string;
      expect((await api('/api/session/start', {}, t)).status).toBe(200);
      const kind = await api('/api/session/kind', { kind: 'eid-activation' }, t);
      expect(kind.status).toBe(200);
      const shown = kind.body.state.session.consentText.texts[0];
      expect((await api('/api/session/consent', { accepted: true, language: shown.language, sha256: shown.sha256 }, t)).status).toBe(200);
      // the demo card's own MRZ data (drivers/card/emulator DEFAULT_PERSON)
      const read = await api('/api/session/chip/read', { documentNumber: 'D23145890', birthDate: '740812', expiryDate: '340415' }, t);
      expect(read.status).toBe(200);
      const err = read.body.state.session.lastError as { code: string };
      expect(err.code).toMatch(/^CARD_(READ_FAILED|SM_FAILED|PROTOCOL)$/);
      const card = page.locator('[data-testid="device-card"]');
      await page.locator('[data-testid="device-card"][data-state="degraded"]').waitFor();
      expect(await card.getAttribute('class')).toMatch(/lvl-warn/);
      await screenshot(page, 'kiosk/demo-faults', 'card-failing');
      // repaired: the same read succeeds and the chip is green again
      await toggle(page, 'card', false);
      const again = await api('/api/session/chip/read', { documentNumber: 'D23145890', birthDate: '740812', expiryDate: '340415' }, t);
      expect(again.body.state.session.lastError).toBeNull();
      await page.locator('[data-testid="device-card"][data-state="simulated"]').waitFor();
      await page.close();
    } finally {
      await stop(demo.child);
    }
  });

  it('without --faults: no trainer button, and the switch answers 404', async () => {
    const demo = await startDemo([]);
    try {
      const page = await b.page();
      await login(page, demo.url);
      expect(await page.getByTestId('faults-open').count()).toBe(0);
      const login2 = await (await fetch(new URL('/api/login', demo.url), { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ officerId: 'demo', pin: '123456' }) })).json() as { token: string };
      const r = await fetch(new URL('/api/demo/faults', demo.url), { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${login2.token}` }, body: JSON.stringify({ fault: 'camera', on: true }) });
      expect(r.status).toBe(404);
      await page.close();
    } finally {
      await stop(demo.child);
    }
  });
});
