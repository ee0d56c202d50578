/// <reference lib="dom" />
/**
 * The officer sees a station clock that is far from headquarters' time (#21): real Chromium at
 * 800×480 in Vietnamese and English against the real kiosk server and workflow, the uplink status
 * built by the station's own adapters from a StationClock on fake clocks. A clock 7 minutes behind
 * (skew limit 5) shows the "behind" banner with the minutes, on screen together with the home
 * step's primary action; 12 minutes ahead shows "ahead"; an unset clock with no signed time yet shows
 * "unset"; once the clock agrees with headquarters the banner is gone. Every word from the catalogue.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nullLogger } from '../../station/log';
import { startKiosk, type KioskHandle } from '../../station/kiosk/server';
import { StationClock } from '../../station/clock';
import { kioskClock, vaultUplinkStatus } from '../../station/workflow/adapters';
import type { OutboxStats } from '../../sync/outbox';
import { makeRig, type Rig } from '../workflow/helpers';
import { catalogue, expectInViewport, launchBrowser, resetArtefacts, screenshot, uncatalogued } from './browser';

let b: Awaited<ReturnType<typeof launchBrowser>>;
beforeAll(async () => { b = await launchBrowser(); }, 90_000);
afterAll(async () => { await b?.close(); });

const TRUE_NOW = Date.parse('2026-12-02T10:00:00Z');

/** A StationClock whose wall clock reads `wallOffsetMs` from true time, given headquarters' signed time (unless `signed` is false). */
function clockAt(wallOffsetMs: number, signed = true): StationClock {
  const mono = 10_000;
  const c = new StationClock({ wall: () => TRUE_NOW + wallOffsetMs, mono: () => mono, maxSkewMs: 5 * 60_000 });
  if (signed) c.observe(TRUE_NOW, mono, mono); // an answer with a zero-width window: true time is TRUE_NOW
  return c;
}

for (const lang of ['vi', 'en'] as const) {
  describe(`clock banner at 800×480 in ${lang}`, () => {
    let rig: Rig;
    let kiosk: KioskHandle;
    let clock = clockAt(-7 * 60_000);
    beforeAll(async () => {
      const stats = { sealed: 0, inFlight: 0, held: 0, lastReceiptAt: null } as unknown as OutboxStats;
      rig = await makeRig({ uplink: vaultUplinkStatus({ stats: () => stats }, () => true, () => null, () => kioskClock(clock.status())) });
      kiosk = await startKiosk({ port: 0, workflow: rig.wf, logger: nullLogger(), language: 'vi', statusIntervalMs: 200 });
    });
    afterAll(async () => { await kiosk?.stop(); rig?.cleanup(); });

    it('shows skew (behind, ahead) and an unset clock with the minutes, beside the primary action, and hides it once right', async () => {
      const cat = catalogue(lang);
      const page = await b.page();
      await page.setViewportSize({ width: 800, height: 480 });
      await page.goto(kiosk.url);
      await page.getByTestId('login-id').waitFor();
      await page.evaluate((l) => { sessionStorage.clear(); localStorage.clear(); localStorage.setItem('kioskLang', l); }, lang);
      await page.goto(kiosk.url);
      await page.getByTestId('login-id').fill('off1');
      await page.getByTestId('login-pin').fill('123456');
      await page.getByTestId('login-submit').click();
      await page.getByTestId('start-enrollment').waitFor();
      // on the officer's first screen, before any session starts
      await page.getByTestId('clock-skew').waitFor();
      expect(await page.getByTestId('clock-skew').textContent()).toBe(cat['clock.behind']!.replace('{min}', '7'));
      await expectInViewport(page, '[data-testid="clock-skew"]', 'clock banner');
      await expectInViewport(page, '[data-testid="start-enrollment"]', 'start enrollment with the clock banner');
      expect(await page.getByTestId('clock-skew').getAttribute('data-offset-min')).toBe('7');
      resetArtefacts(`kiosk/clock-800x480-${lang}`);
      await screenshot(page, `kiosk/clock-800x480-${lang}`, 'home-behind');
      expect(await uncatalogued(page, cat, ['Officer One'])).toEqual([]);

      clock = clockAt(12 * 60_000);
      await expect.poll(() => page.getByTestId('clock-skew').getAttribute('data-offset-min'), { timeout: 30_000 }).toBe('-12');
      expect(await page.getByTestId('clock-skew').textContent()).toBe(cat['clock.ahead']!.replace('{min}', '12'));

      clock = clockAt(-TRUE_NOW, false); // 1970, nothing from headquarters yet
      await page.getByTestId('clock-unset').waitFor({ timeout: 30_000 });
      expect(await page.getByTestId('clock-unset').textContent()).toBe(cat['clock.unset']);
      await expectInViewport(page, '[data-testid="start-enrollment"]', 'start enrollment with the unset banner');
      expect(await uncatalogued(page, cat, ['Officer One'])).toEqual([]);

      clock = clockAt(2_000); // 2 s off: within the limit
      await page.getByTestId('clock-unset').waitFor({ state: 'detached', timeout: 30_000 });
      expect(await page.locator('.clock-banner').count()).toBe(0);
      await page.close();
    }, 120_000);
  });
}
