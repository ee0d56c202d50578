/// <reference lib="dom" />
/**
 * The compiled daemon (`station run`, as systemd starts it) seen by an officer in
 * Chromium, with a real Mosquitto: a camera that is not there leaves the station
 * up and degraded (the chip says why, the portrait step offers its exception,
 * health says so); the broker stopped shows offline with the last contact; and a
 * kill -9 right after confirm is followed by a notice that the record was sealed.
 */
import { createHash } from 'node:crypto';
import { SAMPLE_CONSENT } from '../../config/consent-sample';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import type { Page } from 'playwright-core';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto';
import { STATION_JS } from '../helpers/cli';
import { provisionedStation, type StationFixture } from '../helpers/station';
import { OfficerStore } from '../../station/officers/store';
import { FAST_SCRYPT, GOOD_DETAILS } from '../workflow/helpers';
import { catalogue, expectInViewport, fillDetails, launchBrowser, screenshot } from './browser';

const vi = catalogue('vi');
let broker: Mosquitto;
let b: Awaited<ReturnType<typeof launchBrowser>>;
const fixtures: StationFixture[] = [];
const daemons = new Set<ChildProcess>();

interface Daemon { child: ChildProcess; url: string; out: () => string }

/** Starts the compiled daemon and resolves with its kiosk URL once it is serving (READY). */
function startDaemon(f: StationFixture, env: NodeJS.ProcessEnv = {}): Promise<Daemon> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [STATION_JS, 'run', '--config', f.file], { env: { ...process.env, STATION_PRINT_READY: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    daemons.add(child);
    let out = '';
    let url: string | null = null;
    let ready = false;
    // read everything the daemon writes for as long as it runs (a full pipe would stall its logger)
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (!url) url = /"url":"(http:\/\/127\.0\.0\.1:\d+\/)"[^\n]*"msg":"kiosk listening"/.exec(out)?.[1] ?? null;
      if (!ready && url && /^READY /m.test(out)) { ready = true; resolve({ child, url, out: () => out }); }
    });
    child.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
    child.once('exit', (code, sig) => reject(new Error(`daemon exited (${code ?? sig}) before READY:\n${out}`)));
  });
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((r) => { if (child.exitCode !== null || child.signalCode !== null) r(); else child.once('exit', () => r()); });
}

async function stopDaemon(d: Daemon): Promise<void> {
  d.child.kill('SIGTERM');
  await exited(d.child);
  daemons.delete(d.child);
}

async function station(id: string, devices?: string): Promise<StationFixture> {
  const f = await provisionedStation({ stationId: id, brokerUrl: broker.url, ...(devices ? { devices } : {}) });
  fixtures.push(f);
  const officers = new OfficerStore(join(f.dataDir, 'officers.db'), { scrypt: FAST_SCRYPT }).open();
  await officers.add({ id: 'off1', name: 'Cán bộ Một', pin: '123456' });
  await officers.add({ id: 'off2', name: 'Cán bộ Hai', pin: '654321' });
  officers.close();
  return f;
}

async function openKiosk(url: string): Promise<Page> {
  const page = await b.page();
  await page.goto(url);
  await page.evaluate('sessionStorage.clear(); localStorage.clear();');
  await page.goto(url);
  await page.getByTestId('login-id').waitFor();
  return page;
}

async function login(page: Page): Promise<void> {
  await page.getByTestId('login-id').fill('off1');
  await page.getByTestId('login-pin').fill('123456');
  await page.getByTestId('login-submit').click();
  await page.locator('[data-testid="start-enrollment"], [data-testid="guard-refused"]').first().waitFor();
}

async function api(url: string, path: string, token: string | null, body?: unknown): Promise<{ status: number; body: Record<string, any> }> {
  const r = await fetch(new URL(path, url), {
    method: body === undefined ? 'GET' : 'POST',
    headers: { ...(token ? { Authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: r.status, body: (await r.json()) as Record<string, any> };
}

/** What the page sends back when the person agrees to the Vietnamese sample text (test configurations carry it). */
const CONSENT_VI_SHA256 = createHash('sha256').update(SAMPLE_CONSENT.text.vi, 'utf8').digest('hex');

beforeAll(async () => {
  broker = await startMosquitto();
  b = await launchBrowser({ width: 800, height: 480 });
}, 90_000);

afterAll(async () => {
  for (const c of daemons) { c.kill('SIGKILL'); await exited(c); }
  await b?.close();
  await broker?.dispose();
  for (const f of fixtures) rmSync(f.dir, { recursive: true, force: true });
}, 60_000);

describe('the compiled daemon, as the officer sees it', () => {
  it('a camera that is not there: the daemon starts degraded, the chip is red with the reason, the portrait step offers the exception, health says so; the broker stopped shows offline', async () => {
    const f = await station('ST-DEGR-01', '{ fingerprint: { simulated: true, positions: [2, 7] }, camera: { simulated: false, backend: v4l2, device: /dev/no-such-video-99 }, card: { simulated: true }, gpio: { simulated: true } }');
    // headquarters' view: the retained health message
    const hqClient = await mqtt.connectAsync(broker.url, { clientId: 'test-hq-health' });
    const healths: Array<Record<string, any>> = [];
    const health = new Promise<Record<string, any>>((resolve) => {
      hqClient.on('message', (_t, p) => { healths.push(JSON.parse(p.toString()) as Record<string, any>); resolve(healths[0]!); });
    });
    await hqClient.subscribeAsync('enroll/v1/st/ST-DEGR-01/health');
    // one health period a day: any further health message is the one a device change sends at once
    const d = await startDaemon(f, { ENROLL_HEADQUARTERS__HEALTH_INTERVAL_SECONDS: '86400' });
    try {
      expect(d.out()).toMatch(/starting degraded: camera device \/dev\/no-such-video-99 does not exist/);
      expect(d.out()).toMatch(/station ready, degraded \(camera/);
      const h = await health;
      const cam = (h.devices as Array<{ name: string; state: string; detail?: string }>).find((x) => x.name === 'camera');
      expect(cam?.state).toBe('error');
      expect(cam?.detail).toContain('/dev/no-such-video-99 does not exist');

      const page = await openKiosk(d.url);
      await login(page);
      const chip = page.locator('[data-testid="device-camera"]');
      expect(await chip.getAttribute('data-state')).toBe('error');
      expect(await chip.getAttribute('class')).toMatch(/lvl-bad/);
      expect(await chip.getAttribute('aria-label')).toBe(`${vi['device.camera']}: ${vi['devstate.error']}`);
      await chip.click();
      await page.getByTestId('device-dialog').waitFor();
      expect(await page.getByTestId('device-reason').textContent()).toBe(vi['code.CAM_NOT_FOUND']);
      await page.getByTestId('dialog-close').click();

      // online while the broker is up; the kiosk is in Vietnamese
      expect(await page.getByTestId('uplink').getAttribute('data-online')).toBe('true');
      await page.getByTestId('start-enrollment').click();
      await page.getByTestId('consent-agree').click();
      await page.getByTestId('f-fullName').waitFor();
      await fillDetails(page, GOOD_DETAILS);
      await page.getByTestId('details-submit').click();
      await page.getByTestId('finger-capture').click();
      await page.locator('[data-testid="finger-2"][data-status="captured"]').waitFor();
      await page.getByTestId('finger-capture').click();
      await page.locator('[data-testid="finger-7"][data-status="captured"]').waitFor();
      await page.getByTestId('next').click();
      await page.locator('[data-testid="device-down"][data-device="camera"]').waitFor();
      await expectInViewport(page, '[data-testid="device-down-exception"]', 'the camera exception button');
      await screenshot(page, 'kiosk/daemon', 'degraded-camera-portrait');
      // trying anyway fails with the camera's own code, and the exception path stays open
      await page.getByTestId('portrait-capture').click();
      await page.locator('[data-testid="device-error"][data-code="CAM_NOT_FOUND"]').waitFor();
      // headquarters hears of the failed capture now (the camera driver's own words), not in a day
      const camOf = (h: Record<string, any>) => (h.devices as Array<{ name: string; state: string; detail?: string }>).find((x) => x.name === 'camera');
      await expect.poll(() => healths.slice(1).map(camOf).find((c) => c?.detail?.includes('USB camera /dev/no-such-video-99 not found')), { timeout: 60_000 }).toBeTruthy();
      expect(camOf(healths[healths.length - 1]!)?.state).toBe('error');
      await hqClient.endAsync();
      await page.getByTestId('error-dismiss').click();
      await page.getByTestId('device-down-exception').click();
      await page.getByTestId('exc-reason').fill('máy ảnh chưa cắm');
      await page.getByTestId('exc-save').click();
      await page.getByTestId('portrait-exception-text').waitFor();
      // a second officer confirms the exception (#22): id, PIN, reason in the co-signature dialog
      await page.getByTestId('override-portrait-exception').click();
      await page.getByTestId('override-id').fill('off2');
      await page.getByTestId('override-pin').fill('654321');
      await page.getByTestId('override-reason').fill('máy ảnh chưa cắm, đã kiểm tra');
      await page.getByTestId('override-sign').click();
      await page.locator('[data-testid="blocker-portrait-exception"][data-cosigned="true"]').waitFor();
      await page.getByTestId('next').click();
      await page.getByTestId('confirm').click();
      await page.getByTestId('record-ref').waitFor();

      // the broker goes away: offline, with the last contact, on the header at 800×480
      await broker.stop();
      await page.locator('[data-testid="uplink"][data-online="false"]').waitFor();
      await expectInViewport(page, '[data-testid="uplink"]', 'the offline chip');
      expect(await page.getByTestId('uplink').textContent()).toContain(vi['status.offline']);
      expect(await page.getByTestId('last-contact').isVisible()).toBe(true);
      expect(await page.getByTestId('last-contact').textContent()).toMatch(new RegExp(`${vi['status.lastContact']}: .*\\d\\d:\\d\\d`));
      await screenshot(page, 'kiosk/daemon', 'offline');
      await page.close();
    } finally {
      if (!broker.running) await broker.start();
      await stopDaemon(d);
    }
  });

  it('kill -9 right after confirm: after the restart the notice says the record was sealed, when, its short reference — and offers no enroll again', async () => {
    const f = await station('ST-KILL-01', '{ fingerprint: { simulated: true, positions: [2, 7] }, camera: { simulated: true }, card: { simulated: true }, gpio: { simulated: true } }');
    const d = await startDaemon(f);
    const login1 = await api(d.url, '/api/login', null, { officerId: 'off1', pin: '123456' });
    expect(login1.status).toBe(200);
    const t = login1.body.token as string;
    for (const [path, body] of [['/api/session/start', {}], ['/api/session/kind', { kind: 'enrollment' }], ['/api/session/consent', { accepted: true, language: 'vi', sha256: CONSENT_VI_SHA256 }], ['/api/session/details', { details: GOOD_DETAILS }],
      ['/api/session/finger/capture', {}], ['/api/session/finger/capture', {}], ['/api/session/next', {}], ['/api/session/portrait/capture', {}], ['/api/session/next', {}]] as const) {
      const r = await api(d.url, path, t, body);
      expect(r.status, `${path}: ${JSON.stringify(r.body.error ?? '')}`).toBe(200);
    }
    const confirmed = await api(d.url, '/api/session/confirm', t, {});
    // the power cut: before the officer could even read the sealed screen
    d.child.kill('SIGKILL');
    await exited(d.child);
    daemons.delete(d.child);
    expect(confirmed.status).toBe(200);
    const session = confirmed.body.state.session as { step: string; recordRef: string };
    expect(session.step).toBe('sealed');

    const d2 = await startDaemon(f);
    try {
      const page = await openKiosk(d2.url);
      const notice = page.locator('[data-testid="lost-session"]');
      await notice.waitFor();
      expect(await notice.getAttribute('data-sealed')).toBe('true');
      expect(await page.getByTestId('lost-ref').textContent()).toBe(session.recordRef);
      expect(await notice.textContent()).toContain(vi['lost.sealed.title']);
      expect(await notice.textContent()).toContain(vi['lost.sealed.noAgain']);
      expect(await page.getByTestId('lost-enroll-again').count()).toBe(0);
      await screenshot(page, 'kiosk/daemon', 'after-kill-sealed-login');
      await login(page);
      await page.locator('[data-testid="lost-session"][data-sealed="true"]').waitFor();
      expect(await page.getByTestId('lost-enroll-again').count()).toBe(0);
      await expectInViewport(page, '[data-testid="lost-dismiss"]', 'the notice’s OK');
      await screenshot(page, 'kiosk/daemon', 'after-kill-sealed-home');
      await page.getByTestId('lost-dismiss').click();
      await page.getByTestId('lost-session').waitFor({ state: 'detached' });
      await page.close();
    } finally {
      await stopDaemon(d2);
    }
  });
});
