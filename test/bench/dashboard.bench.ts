/**
 * `npm run bench -- dashboard` (#20): the ops dashboard over a national-size store.
 * A real PostgreSQL (the harness's throwaway cluster) holds 2,000 registered booths with their
 * last health, a campaign of 60 days over 500 wards (50 districts, 5 cities) with quotas, and
 * 10 stored records per booth per day (1.2 million rows, the columns the counts read) plus a
 * receipt per booth per day; a real Mosquitto holds the 2,000 booths' retained status and health.
 *
 * Measured in the same run, each p95 of DASH_BENCH_ROUNDS requests after a warm-up:
 *  - the fleet view: GET /api/fleet through the dashboard's HTTP server (the live fleet in memory,
 *    2,000 booths merged with the registry and rendered to JSON) against the bare SQL the live
 *    fleet needs to build it (registry, last receipt per booth, open alarms);
 *  - the campaign view: GET /api/campaigns/ID/summary?level=ward against the bare SQL queries the
 *    summary needs (campaign, days, units, quotas, the per-day counts, the booths' health), run
 *    the same way (in parallel on the same pool);
 *  - the page's time to first full render in Chromium: from navigation to the fleet table with
 *    all 2,000 rows, and from the click to the campaign view with its 500 ranked wards.
 * ratio = the larger of the two views' p95 server time / p95 bare SQL (goal ≤ 1.5).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { request } from 'node:http';
import mqtt from 'mqtt';
import pino from 'pino';
import { chromium } from 'playwright-core';
import { startPostgres } from '../helpers/postgres';
import { startMosquitto } from '../helpers/mosquitto';
import { ROOT } from './paths';
import { PgHqStore } from '../../sync/hq/store-pg';
import { CAMPAIGN_DAY_COUNTS_SQL } from '../../sync/hq/store-api';
import { campaignDayBounds, dayOf, startOfDay } from '../../sync/hq/campaign';
import { addAccount } from '../../sync/hq/dashboard/accounts';
import { LiveFleet } from '../../sync/hq/dashboard/live';
import { startDashboard } from '../../sync/hq/dashboard/server';
import { campaignSource } from '../../sync/hq/dashboard/campaigns';

const BOOTHS = Number(process.env.DASH_BENCH_BOOTHS ?? 2000);
const WARDS = Number(process.env.DASH_BENCH_WARDS ?? 500);
const DAYS = 60;
const PER_DAY = Number(process.env.DASH_BENCH_PER_DAY ?? 10);
const ROUNDS = Number(process.env.DASH_BENCH_ROUNDS ?? 40);
const TZ = 'Asia/Ho_Chi_Minh';

const p95 = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.ceil(s.length * 0.95) - 1)]!; };
const round = (x: number, d = 2): number => Math.round(x * 10 ** d) / 10 ** d;

function get(url: string, cookie: string): Promise<number> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const r = request({ host: u.hostname, port: u.port, path: u.pathname + u.search, headers: { Cookie: cookie } }, (res) => {
      let n = 0;
      res.on('data', (d: Buffer) => { n += d.length; }).on('end', () => (res.statusCode === 200 ? resolve(n) : reject(new Error(`${u.pathname}: ${res.statusCode}`))));
    });
    r.on('error', reject);
    r.end();
  });
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

export async function run(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'dash-bench-'));
  const pgServer = await startPostgres();
  const broker = await startMosquitto();
  const log = pino({ level: 'silent' });
  let store: PgHqStore | null = null;
  try {
    store = await PgHqStore.open({ url: pgServer.url(pgServer.createDatabase()), poolSize: 4 });
    const pool = store.pool;
    const now = Date.now();
    const last = dayOf(now, TZ);
    const first = dayOf(startOfDay(last, TZ) - (DAYS - 1) * 86_400_000 + 12 * 3600_000, TZ);
    const t0 = performance.now();
    // the hierarchy, quotas, booths and their health, as SQL (seeding is not what is measured)
    await pool.query(`INSERT INTO units (code, name, parent, level)
      SELECT 'C' || i, 'Thành phố ' || i, NULL, 'city' FROM generate_series(0, 4) i
      UNION ALL SELECT 'D' || lpad(i::text, 2, '0'), 'Quận ' || i, 'C' || (i % 5), 'district' FROM generate_series(0, 49) i
      UNION ALL SELECT 'W' || lpad(i::text, 3, '0'), 'Phường ' || i, 'D' || lpad((i % 50)::text, 2, '0'), 'ward' FROM generate_series(0, $1::int - 1) i`, [WARDS]);
    const days = campaignDayBounds(first, last, TZ);
    const created = await store.createCampaign({ id: 'bench-60', name: '60 ngày đêm', first_day: first, last_day: last, time_zone: TZ }, days);
    if (!created.ok) throw new Error(`campaign: ${JSON.stringify(created)}`);
    await pool.query(`INSERT INTO campaign_quotas (campaign_id, unit, enrollments, activations)
      SELECT 'bench-60', 'W' || lpad(i::text, 3, '0'), 2000 + (i * 37) % 1500, 500 FROM generate_series(0, $1::int - 1) i`, [WARDS]);
    await pool.query(`INSERT INTO stations (station_id, unit, daily_quota, public_key, key_fingerprint, created_at, registered_at)
      SELECT 'ST-' || lpad(i::text, 4, '0'), 'W' || lpad((i % $2::int)::text, 3, '0'), 40, 'bench', md5(i::text), $3::bigint, $3::bigint FROM generate_series(0, $1::int - 1) i`, [BOOTHS, WARDS, now]);
    const health = (i: number): string => JSON.stringify({
      v: 1, at: now, version: '0.1.0', uptimeS: 3600, diskFreeBytes: 8e9, backlog: { count: i % 7 === 0 ? 12 : 0, oldestAgeMs: i % 7 === 0 ? 5_400_000 : null }, lastReceiptAt: now - 60_000,
      devices: [{ name: 'fingerprint', state: 'ok' }, { name: 'camera', state: i % 50 === 0 ? 'error' : 'ok' }, { name: 'card', state: 'ok' }, { name: 'gpio', state: 'ok' }],
      cpuTempC: 52, clockOffsetMs: 12, enrollments: { today: 7, quota: 40, unit: `W${String(i % WARDS).padStart(3, '0')}` },
      power: { level: i % 13 === 0 ? 'low' : 'ok', capacityPct: i % 13 === 0 ? 14 : 80, onAc: i % 2 === 0, status: 'Discharging', voltageV: 3.9 }, intervalS: 60,
    });
    await pool.query(`INSERT INTO fleet (station_id, state, session, status_at, health, health_at)
      SELECT 'ST-' || lpad(i::text, 4, '0'), 'online', 1, $2::bigint, h, $2::bigint FROM unnest($1::text[]) WITH ORDINALITY AS t(h, k), LATERAL (SELECT (k - 1)::int AS i) x`,
    [Array.from({ length: BOOTHS }, (_, i) => health(i)), now]);
    // PER_DAY records per booth per day, over the campaign's days, one in ten an e-ID activation
    await pool.query(`INSERT INTO records (station_id, record_id, sha256, envelope, size, sealed_at, received_at, batch_id, worker, kind, completed_at, unit)
      SELECT s.station_id, s.station_id || '-' || d.day || '-' || k, md5(s.station_id || d.day || k), '\\x00'::bytea, 400000,
             d.start_at + 3600000 + k * 1800000, d.start_at + 3600000 + k * 1800000 + 60000, s.station_id || d.day, 'w1',
             CASE WHEN k % 10 = 0 THEN 'eid-activation' ELSE 'enrollment' END, d.start_at + 3600000 + k * 1800000, s.unit
        FROM stations s CROSS JOIN campaign_days d CROSS JOIN generate_series(0, $1::int - 1) k WHERE d.campaign_id = 'bench-60'`, [PER_DAY]);
    await pool.query(`INSERT INTO receipts (id, station_id, batch_id, batch_hash, stored, duplicate, rejected, receipt, created_at)
      SELECT s.station_id || d.day, s.station_id, s.station_id || d.day, md5(s.station_id || d.day), $1::int, 0, 0, '{}', d.start_at + 3600000
        FROM stations s CROSS JOIN campaign_days d WHERE d.campaign_id = 'bench-60'`, [PER_DAY]);
    for (let i = 0; i < 40; i++) await store.alarm(i % 2 ? 'tamper' : 'flood', `bench alarm ${i}`, `ST-${String(i * 37).padStart(4, '0')}`);
    await pool.query('ANALYZE');
    const recordRows = Number((await pool.query('SELECT COUNT(*) AS n FROM records')).rows[0].n);
    const seedS = (performance.now() - t0) / 1000;

    // the booths' retained status and health on the broker
    const pub = await mqtt.connectAsync(broker.url, { clientId: 'bench-booths' });
    for (let i = 0; i < BOOTHS; i++) {
      const id = `ST-${String(i).padStart(4, '0')}`;
      await Promise.all([
        pub.publishAsync(`enroll/v1/st/${id}/status`, JSON.stringify({ v: 1, state: i % 40 === 0 ? 'lost' : 'online', session: 1, at: now }), { qos: 1, retain: true }),
        pub.publishAsync(`enroll/v1/st/${id}/health`, health(i), { qos: 1, retain: true }),
      ]);
    }
    await pub.endAsync();

    const accounts = join(dir, 'accounts.json');
    await addAccount(accounts, 'bench', 'viewer', 'bench password 1');
    const live = new LiveFleet({ brokerUrl: broker.url, store, logger: log, refreshMs: 60_000 });
    await live.start();
    for (let i = 0; i < 600 && live.view().stations.filter((s) => s.healthAt !== null).length < BOOTHS; i++) await new Promise((r) => setTimeout(r, 100));
    const seen = live.view().stations.filter((s) => s.healthAt !== null).length;
    if (seen < BOOTHS) throw new Error(`the live fleet saw ${seen} of ${BOOTHS} booths' health`);
    const dash = await startDashboard({
      host: '127.0.0.1', port: 0, store, accountsFile: accounts, live, campaigns: campaignSource(store), logger: log,
      broker: { url: broker.url }, publicDir: join(ROOT, 'sync', 'hq', 'dashboard', 'public'),
    });
    try {
      const login = await fetch(new URL('/api/login', dash.url), { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ user: 'bench', password: 'bench password 1' }) });
      const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0]!;
      const fleetUrl = new URL('/api/fleet', dash.url).toString();
      const campUrl = new URL('/api/campaigns/bench-60/summary?level=ward', dash.url).toString();
      const bareFleet = () => Promise.all([
        pool.query('SELECT station_id, unit, daily_quota, public_key, key_fingerprint, created_at, registered_at FROM stations ORDER BY station_id'),
        pool.query('SELECT station_id, MAX(created_at) AS t FROM receipts GROUP BY station_id'),
        pool.query('SELECT id, station_id, kind, record_id, detail, at, first_at, count FROM alarms WHERE cleared_at IS NULL ORDER BY at, id'),
      ]);
      const bareCampaign = () => Promise.all([
        pool.query('SELECT id, name, first_day, last_day, time_zone, created_at FROM campaigns WHERE id = $1', ['bench-60']),
        pool.query('SELECT day, start_at, end_at FROM campaign_days WHERE campaign_id = $1 ORDER BY day', ['bench-60']),
        pool.query('SELECT code, name, parent, level FROM units ORDER BY code'),
        pool.query('SELECT unit, enrollments, activations FROM campaign_quotas WHERE campaign_id = $1 ORDER BY unit', ['bench-60']),
        pool.query({ name: 'bench-day-counts', text: CAMPAIGN_DAY_COUNTS_SQL, values: ['bench-60', last, last] }),
        pool.query('SELECT s.station_id, s.unit, f.health, f.health_at FROM stations s LEFT JOIN fleet f ON f.station_id = s.station_id ORDER BY s.station_id'),
      ]);
      let fleetBytes = 0;
      let campBytes = 0;
      for (let i = 0; i < 3; i++) { await bareFleet(); await bareCampaign(); fleetBytes = await get(fleetUrl, cookie); campBytes = await get(campUrl, cookie); }
      const t = { fleet: [] as number[], fleetBare: [] as number[], camp: [] as number[], campBare: [] as number[] };
      // interleaved, so the machine's noise falls on both sides alike
      for (let i = 0; i < ROUNDS; i++) {
        t.fleetBare.push(await timed(bareFleet));
        t.fleet.push(await timed(() => get(fleetUrl, cookie)));
        t.campBare.push(await timed(bareCampaign));
        t.camp.push(await timed(() => get(campUrl, cookie)));
      }

      // the page in Chromium: first full render of the fleet, then of the campaign view
      const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox', '--disable-gpu'] });
      let fleetRenderMs = 0;
      let campaignRenderMs = 0;
      try {
        const ctx = await browser.newContext({ viewport: { width: 1920, height: 1080 } });
        const u = new URL(dash.url);
        await ctx.addCookies([{ name: 'hqdash', value: cookie.split('=')[1]!, domain: u.hostname, path: '/', httpOnly: true, sameSite: 'Strict' }]);
        const page = await ctx.newPage();
        page.setDefaultTimeout(120_000);
        const a = performance.now();
        await page.goto(dash.url);
        await page.waitForFunction((n) => document.querySelectorAll('[data-testid="fleet-table"] tbody tr').length === n, BOOTHS, { polling: 50 });
        fleetRenderMs = performance.now() - a;
        const c = performance.now();
        await page.getByTestId('tab-campaign').click();
        await page.waitForFunction((n) => document.querySelectorAll('[data-testid="ranking-table"] tbody tr').length === n && document.querySelector('[data-testid="chart-ranking"]')?.getAttribute('data-order') !== null, WARDS, { polling: 50 });
        campaignRenderMs = performance.now() - c;
      } finally {
        await browser.close();
      }

      const fleetRatio = p95(t.fleet) / p95(t.fleetBare);
      const campRatio = p95(t.camp) / p95(t.campBare);
      console.error(`seeded ${recordRows} records in ${round(seedS, 1)} s; fleet p95 ${round(p95(t.fleet))} ms vs bare SQL ${round(p95(t.fleetBare))} ms; campaign p95 ${round(p95(t.camp))} ms vs bare SQL ${round(p95(t.campBare))} ms; page: fleet ${Math.round(fleetRenderMs)} ms, campaign ${Math.round(campaignRenderMs)} ms`);
      console.log(JSON.stringify({
        bench: 'dashboard', ratio: round(Math.max(fleetRatio, campRatio)), goal: 1.5, better: 'lower',
        booths: BOOTHS, wards: WARDS, days: DAYS, records: recordRows, rounds: ROUNDS,
        fleetP95Ms: round(p95(t.fleet)), fleetBareSqlP95Ms: round(p95(t.fleetBare)), fleetRatio: round(fleetRatio), fleetJsonBytes: fleetBytes,
        campaignP95Ms: round(p95(t.camp)), campaignBareSqlP95Ms: round(p95(t.campBare)), campaignRatio: round(campRatio), campaignJsonBytes: campBytes,
        pageFleetFirstRenderMs: Math.round(fleetRenderMs), pageCampaignRenderMs: Math.round(campaignRenderMs), seedSeconds: round(seedS, 1),
      }));
    } finally {
      await dash.close();
      await live.stop();
    }
  } finally {
    await store?.close();
    await broker.dispose();
    await pgServer.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
}
