/// <reference lib="dom" />
/**
 * The ops dashboard in real Chromium (#20): the compiled `hq dashboard` and `hq signer` as
 * deployed (separate processes, the ops key only in the signer's data directory), a real booth
 * (the compiled `station run` on simulated devices) and a second booth (an MQTT client with its
 * last will) through a real Mosquitto, and a campaign stored at headquarters. A viewer logs in and
 * is refused an operator action; the second booth's connection drops and it turns "lost" without a
 * reload; an operator acknowledges an alarm and locks the real booth, whose signed answer shows;
 * the campaign's ranking, totals and plot match what headquarters stored; the page is kept as
 * screenshots at 1366×768 and 1920×1080 in both languages (test-artifacts/dashboard/).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { v7 as uuidv7 } from 'uuid';
import type { Page } from 'playwright-core';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto';
import { ROOT, STATION_JS } from '../helpers/cli';
import { hqInProcess } from '../helpers/hq-inprocess';
import { provisionedStation, type StationFixture } from '../helpers/station';
import { launchBrowser, resetArtefacts, screenshot } from '../kiosk/browser';
import { SqliteHqStore, type StoredRecordInput } from '../../sync/hq/store-api';
import { dayOf, nextDay, startOfDay } from '../../sync/hq/campaign';
import { generateStationKeyPair } from '../../sync/wire';

const HQ_JS = join(ROOT, 'dist', 'sync', 'hq', 'main.js');
const TZ = 'Asia/Ho_Chi_Minh';
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

interface Proc { p: ChildProcess; out: () => string; exited: Promise<void> }
const procs: Proc[] = [];
function start(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Proc {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('HQ_')));
  const p = spawn(process.execPath, [cmd, ...args], { env: { ...clean, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  p.stdout!.setEncoding('utf8').on('data', (d: string) => { out += d; });
  p.stderr!.setEncoding('utf8').on('data', (d: string) => { out += d; });
  const exited = new Promise<void>((r) => p.once('exit', () => r()));
  const pr = { p, out: () => out, exited };
  procs.push(pr);
  return pr;
}
function waitOut(pr: Proc, re: RegExp, what: string): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    const check = (): boolean => { const m = re.exec(pr.out()); if (m) { resolve(m); return true; } return false; };
    if (check()) return;
    const onData = (): void => { if (check()) { pr.p.stdout!.off('data', onData); pr.p.stderr!.off('data', onData); } };
    pr.p.stdout!.on('data', onData);
    pr.p.stderr!.on('data', onData);
    void pr.exited.then(() => { if (!check()) reject(new Error(`${what}: exited before it was ready:\n${pr.out().slice(-2000)}`)); });
  });
}

let broker: Mosquitto;
let f: StationFixture;
let hqDir: string;
let settings: string;
let store: SqliteHqStore;
let dashUrl: string;
let booth2: MqttClient;
let b: Awaited<ReturnType<typeof launchBrowser>>;
let page: Page;

// a campaign that began four days ago (campaign days in Vietnam's time zone) and runs 30 days
const today = dayOf(Date.now(), TZ);
let first = today;
for (let i = 0; i < 4; i++) first = dayOf(startOfDay(first, TZ) - 12 * 3600_000, TZ);
let last = first;
for (let i = 0; i < 29; i++) last = nextDay(last);
const dayAt = (n: number): number => { let d = first; for (let i = 0; i < n; i++) d = nextDay(d); return startOfDay(d, TZ) + 9 * 3600_000; };
// what headquarters stores: ward HP 6 enrollments + 2 activations over days 0..3, ward HX 9 enrollments on day 1
const STORED = {
  'ST-HP-01': [['enrollment', 0], ['enrollment', 0], ['enrollment', 1], ['eid-activation', 1], ['enrollment', 2], ['enrollment', 3], ['enrollment', 3], ['eid-activation', 3]] as const,
  'ST-HX-01': Array.from({ length: 9 }, () => ['enrollment', 1] as const),
};
const UNITS = ['code,name,parent,level,quotaEnrollments,quotaActivations', 'DN,Thành phố Đà Nẵng,,city,,', 'HC,Quận Hải Châu,DN,district,,', 'HP,Phường Hòa Phát,HC,ward,10,5', 'HX,Phường Hòa Xuân,HC,ward,30,'].join('\n');

beforeAll(async () => {
  resetArtefacts('dashboard');
  broker = await startMosquitto();
  f = await provisionedStation({ stationId: 'ST-HP-01', brokerUrl: broker.url, unit: 'HP' });
  hqDir = join(f.dir, 'hq-data');
  mkdirSync(join(hqDir, 'keys'), { recursive: true, mode: 0o700 });
  cpSync(f.hqDir, join(hqDir, 'keys'), { recursive: true });
  const signerDir = join(f.dir, 'signer-data');
  mkdirSync(join(signerDir, 'keys'), { recursive: true, mode: 0o700 });
  // the ops key lives with the signer only: the dashboard's data directory has no ops key
  for (const file of ['hq-ops-keys.json', 'hq-public.json']) cpSync(join(f.hqDir, file), join(signerDir, 'keys', file));
  rmSync(join(hqDir, 'keys', 'hq-ops-keys.json'));
  const sock = join(f.dir, 'signer.sock');
  settings = join(f.dir, 'hq.yaml');
  writeFileSync(settings, `dataDir: ${hqDir}\nbroker:\n  url: ${broker.url}\ndashboard:\n  port: 0\n  signerSocket: ${sock}\n`);
  writeFileSync(join(f.dir, 'signer.yaml'), `dataDir: ${signerDir}\ndashboard:\n  signerSocket: ${sock}\n`);
  const ident = execFileSync(process.execPath, [STATION_JS, 'provision', '--json', '--config', f.file], { encoding: 'utf8' });
  writeFileSync(join(f.dir, 'st.json'), ident);
  const reg = await hqInProcess(['register', '--config', settings, join(f.dir, 'st.json')]);
  expect(reg.code, reg.err).toBe(0);
  store = SqliteHqStore.open(join(hqDir, 'hq.db'));
  await store.registerStation({ stationId: 'ST-HX-01', unit: 'HX', publicKey: generateStationKeyPair().publicKeyPem });
  for (const [name, role] of [['view1', 'viewer'], ['ops1', 'operator']]) {
    writeFileSync(join(f.dir, `${name}.pw`), `${name} long password\n`);
    const r = await hqInProcess(['dashboard', 'user', 'add', name, '--role', role, '--secret-file', join(f.dir, `${name}.pw`), '--config', settings]);
    expect(r.code, r.err).toBe(0);
  }
  writeFileSync(join(f.dir, 'units.csv'), UNITS);
  for (const args of [['campaign', 'create', 'dot-60', '--name', '60 ngày đêm', '--from', first, '--to', last], ['campaign', 'units', 'import', 'dot-60', join(f.dir, 'units.csv')]]) {
    const r = await hqInProcess([...args, '--config', settings]);
    expect(r.code, `${args.join(' ')}: ${r.err}`).toBe(0);
  }
  for (const [stationId, recs] of Object.entries(STORED)) {
    const verified: StoredRecordInput[] = recs.map(([kind, day]) => { const envelope = randomBytes(300); return { recordId: uuidv7(), sha256: sha(envelope), envelope, sealedAt: dayAt(day), completedAt: dayAt(day), kind }; });
    const batchId = uuidv7();
    const r = await store.storeBatches('test', [{ stationId, batchId, order: verified.map((x) => x.recordId), verified, refused: [], makeReceipt: () => ({ receiptText: batchId, batchHash: sha(Buffer.from(batchId)) }) }]);
    expect(r[0]!.ok).toBe(true);
  }

  const ingest = start(HQ_JS, ['run', '--config', settings, '--worker', 'w1']);
  await waitOut(ingest, /headquarters ingest online/, 'hq run');
  const station = start(STATION_JS, ['run', '--config', f.file], { STATION_PRINT_READY: '1' });
  const signer = start(HQ_JS, ['signer', '--config', join(f.dir, 'signer.yaml')]);
  await waitOut(signer, /command signer listening/, 'hq signer');
  const dash = start(HQ_JS, ['dashboard', '--config', settings]);
  dashUrl = (await waitOut(dash, /dashboard at (http:\/\/127\.0\.0\.1:\d+\/)/, 'hq dashboard'))[1]!;
  await waitOut(station, /^READY /m, 'station run');
  booth2 = await mqtt.connectAsync(broker.url, {
    clientId: 'booth-ST-HX-01', keepalive: 10, reconnectPeriod: 0,
    will: { topic: 'enroll/v1/st/ST-HX-01/status', payload: Buffer.from(JSON.stringify({ v: 1, state: 'lost', session: 1, at: Date.now() })), qos: 1, retain: true },
  });
  await booth2.publishAsync('enroll/v1/st/ST-HX-01/status', JSON.stringify({ v: 1, state: 'online', session: 1, at: Date.now() }), { qos: 1, retain: true });
  await booth2.publishAsync('enroll/v1/st/ST-HX-01/health', JSON.stringify({
    v: 1, at: Date.now(), version: '0.1.0', uptimeS: 100, diskFreeBytes: 8e9, backlog: { count: 4, oldestAgeMs: 3_600_000 }, lastReceiptAt: null,
    devices: [{ name: 'fingerprint', state: 'ok' }, { name: 'camera', state: 'error', detail: 'CAM_NOT_FOUND' }], cpuTempC: 51, clockOffsetMs: null,
    enrollments: { today: 0, quota: null, unit: 'HX' }, power: { level: 'low', capacityPct: 14, onAc: false, status: 'Discharging', voltageV: 3.6 },
  }), { qos: 1, retain: true });
  b = await launchBrowser({ width: 1366, height: 768 });
  page = await b.page();
}, 180_000);

afterAll(async () => {
  await b?.close();
  booth2?.end(true);
  for (const pr of procs) if (pr.p.exitCode === null && pr.p.signalCode === null) { pr.p.kill('SIGTERM'); await pr.exited; }
  await store?.close();
  await broker?.dispose();
  if (f) rmSync(f.dir, { recursive: true, force: true });
}, 60_000);

async function login(user: string): Promise<void> {
  await page.goto(dashUrl);
  await page.getByTestId('login-user').fill(user);
  await page.getByTestId('login-password').fill(`${user} long password`);
  await page.getByTestId('login-submit').click();
  await page.getByTestId('fleet-table').waitFor();
}

const stateOf = (id: string) => page.getByTestId(`state-${id}`);

describe('the ops dashboard in Chromium', () => {
  it('a viewer sees the fleet (Vietnamese first) and is refused an operator action', async () => {
    await login('view1');
    await expect.poll(() => stateOf('ST-HP-01').textContent(), { timeout: 60_000 }).toBe('trực tuyến');
    await expect.poll(() => stateOf('ST-HX-01').textContent(), { timeout: 30_000 }).toBe('trực tuyến');
    expect(await page.getByTestId('who').textContent()).toBe('view1 (người xem)');
    expect(await page.getByTestId('backlog-ST-HX-01').textContent()).toBe('4');
    expect(await page.getByTestId('st-ST-HX-01').textContent()).toContain('camera: error');
    expect(await page.locator('[data-testid^="cmd-"]').count()).toBe(0); // no command buttons for a viewer
    // the page's own session, asking for what only an operator may do
    const r = await page.evaluate(async () => {
      const s = await (await fetch('/api/session')).json() as { csrf: string };
      const res = await fetch('/api/commands', { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': s.csrf }, body: JSON.stringify({ station: 'ST-HP-01', name: 'lock', reason: 'x' }) });
      return { status: res.status, body: await res.json() as { error: { code: string } } };
    });
    expect(r).toMatchObject({ status: 403, body: { error: { code: 'DASH_FORBIDDEN' } } });
    await page.getByTestId('logout').click();
    await page.getByTestId('login-user').waitFor();
  });

  it('a booth whose connection drops turns lost without a reload', async () => {
    await login('ops1');
    await expect.poll(() => stateOf('ST-HX-01').textContent(), { timeout: 30_000 }).toBe('trực tuyến');
    await page.evaluate(() => { (window as unknown as { marker: number }).marker = 42; });
    (booth2 as unknown as { stream: { destroy(): void } }).stream.destroy(); // no DISCONNECT: the broker publishes the will
    await expect.poll(() => stateOf('ST-HX-01').textContent(), { timeout: 60_000 }).toBe('mất liên lạc');
    expect(await page.evaluate(() => (window as unknown as { marker?: number }).marker)).toBe(42); // same page, not reloaded
    expect(await stateOf('ST-HP-01').textContent()).toBe('trực tuyến');
  });

  it('an operator acknowledges an alarm; who did is recorded', async () => {
    await store.alarm('tamper', 'vỏ trạm bị mở (tamper switch)', 'ST-HX-01');
    const id = (await store.openAlarms()).find((a) => a.kind === 'tamper')!.id;
    await expect.poll(() => page.getByTestId('tab-alarms').textContent(), { timeout: 30_000 }).toMatch(/\(1\)/);
    await page.getByTestId('tab-alarms').click();
    await page.getByTestId(`alarm-${id}`).waitFor();
    expect(await page.getByTestId(`alarm-${id}`).textContent()).toContain('mở vỏ trạm (tamper)');
    await screenshot(page, 'dashboard', 'alarms-1366x768-vi');
    await page.getByTestId(`ack-${id}`).click();
    await page.getByTestId('alarms-none').waitFor();
    expect(store.sync.db.prepare('SELECT cleared_by FROM alarms WHERE id = ?').get(id)).toEqual({ cleared_by: 'ops1' });
  });

  it('an operator locks the real booth: signed by hq signer, answered by the booth, shown with who sent it', async () => {
    await page.getByTestId('tab-fleet').click();
    await page.getByTestId('cmd-lock-ST-HP-01').click();
    await page.getByTestId('lock-reason').fill('Kiểm tra thiết bị');
    await page.getByTestId('lock-send').click();
    await expect.poll(() => page.getByTestId('notice').textContent()).toContain('ST-HP-01');
    await page.getByTestId('tab-commands').click();
    const row = page.locator('[data-testid^="command-"]').first();
    await expect.poll(() => row.locator('[data-testid^="result-"]').textContent(), { timeout: 60_000 }).toBe('thành công')
      .catch((e: Error) => { throw new Error(`${e.message}\ncommands: ${JSON.stringify(store.sync.db.prepare('SELECT * FROM commands').all())}\nstation: ${procs[1]!.out().slice(-3000)}`); });
    expect(await row.textContent()).toContain('ops1');
    const cmd = store.sync.db.prepare("SELECT sent_by, result_status, result FROM commands WHERE name = 'lock'").get() as { sent_by: string; result_status: string; result: string };
    expect(cmd).toMatchObject({ sent_by: 'ops1', result_status: 'ok' });
    // the booth did lock: asked for its health, it says so
    await page.getByTestId('tab-fleet').click();
    await page.getByTestId('cmd-request-health-ST-HP-01').click();
    await expect.poll(() => page.getByTestId('locked-ST-HP-01').count(), { timeout: 60_000 }).toBe(1);
  }, 180_000);

  it('the campaign view matches what headquarters stored: totals, ranking by % of quota, cumulative plot; CSV', async () => {
    await page.getByTestId('tab-campaign').click();
    await page.getByTestId('ranking-table').waitFor();
    // HP: 6 of 10 enrollments (60 %), 2 of 5 activations; HX: 9 of 30 (30 %)
    expect(await page.getByTestId('enr-HP').textContent()).toBe('6');
    expect(await page.getByTestId('act-HP').textContent()).toBe('2');
    expect(await page.getByTestId('enr-HX').textContent()).toBe('9');
    expect(await page.getByTestId('pct-HP').textContent()).toBe('60 %');
    expect(await page.getByTestId('pct-HX').textContent()).toBe('30 %');
    expect(await page.locator('[data-testid^="rank-"]').evaluateAll((els) => els.map((e) => e.getAttribute('data-testid')))).toEqual(['rank-HP', 'rank-HX']);
    expect(await page.getByTestId('campaign-total').textContent()).toContain('15 lượt cấp định danh, 2 kích hoạt');
    // the unsent backlog the second booth reported will still change the figures
    expect(await page.getByTestId('campaign-backlog').textContent()).toMatch(/1 trạm còn 4 hồ sơ chưa gửi/);
    await expect.poll(() => page.getByTestId('chart-ranking').getAttribute('data-order')).toBe(JSON.stringify(['HP', 'HX']));
    // cumulative enrollments by day 0..4 (today is day 4): 2, 2+1+9, +1, +2, +0
    expect(JSON.parse((await page.getByTestId('chart-progress').getAttribute('data-points'))!)).toEqual([2, 12, 13, 15, 15]);
    const csv = await page.evaluate(async () => {
      const r = await fetch(document.querySelector('[data-testid="campaign-csv"]')!.getAttribute('href')!);
      const bytes = new Uint8Array(await r.arrayBuffer());
      return { type: r.headers.get('content-type'), head: Array.from(bytes.slice(0, 3)), text: new TextDecoder().decode(bytes) };
    });
    expect(csv.type).toMatch(/text\/csv/);
    expect(csv.head).toEqual([0xef, 0xbb, 0xbf]); // UTF-8 BOM, so a spreadsheet shows the diacritics
    expect(csv.text).toContain('Phường Hòa Phát');
    // district level rolls both wards up
    await page.getByTestId('campaign-level').selectOption('district');
    await expect.poll(() => page.getByTestId('enr-HC').textContent()).toBe('15');
  });

  it('screenshots at 1366×768 and 1920×1080 in both languages', async () => {
    for (const vp of [{ width: 1366, height: 768 }, { width: 1920, height: 1080 }]) {
      await page.setViewportSize(vp);
      for (const lang of ['vi', 'en']) {
        const want = lang === 'vi' ? 'Trạm' : 'Booths';
        if ((await page.getByTestId('tab-fleet').textContent()) !== want) await page.getByTestId('lang').click();
        await expect.poll(() => page.getByTestId('tab-fleet').textContent()).toBe(want);
        await page.getByTestId('tab-fleet').click();
        await page.getByTestId('fleet-table').waitFor();
        if (lang === 'en') expect(await stateOf('ST-HX-01').textContent()).toBe('lost');
        await screenshot(page, 'dashboard', `fleet-${vp.width}x${vp.height}-${lang}`);
        await page.getByTestId('tab-campaign').click();
        await page.getByTestId('ranking-table').waitFor();
        await screenshot(page, 'dashboard', `campaign-${vp.width}x${vp.height}-${lang}`);
        // the fleet table fits the width: nothing to scroll sideways on these screens
        await page.getByTestId('tab-fleet').click();
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
        expect(overflow, `${vp.width}x${vp.height} ${lang}`).toBeLessThanOrEqual(0);
        // and the whole row, commands included, is on screen without scrolling the table sideways
        const right = await page.getByTestId('cmd-request-health-ST-HP-01').evaluate((e) => e.getBoundingClientRect().right);
        expect(right, `${vp.width}x${vp.height} ${lang}: the last command button`).toBeLessThanOrEqual(vp.width);
      }
    }
  });
});
