/**
 * The campaign part of the headquarters store (#20 item 3), as a contract: the same tests against
 * SQLite (a file in the test's own directory) and a real PostgreSQL the harness starts (each test
 * its own database). What the campaign figures rely on: each stored record keeps the kind and
 * completion time the validator read and its station's unit AT STORAGE (moving the booth later
 * changes nothing already stored), counted per campaign day in the campaign's time zone; records
 * of a schema-5 database get kind NULL (unknown), their sealing time and their station's unit;
 * campaigns refuse an existing id and (unless allowed) an overlapping period; units and quotas are
 * imported in one transaction; each station's last health is read with its unit.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { v7 as uuidv7 } from 'uuid';
import { SqliteHqStore, type BatchToStore, type HqStoreApi, type StoredRecordInput } from '../../sync/hq/store-api';
import { PgHqStore } from '../../sync/hq/store-pg';
import { MIGRATIONS, SCHEMA_SQL, SCHEMA_VERSION, migrationSql, type Dialect } from '../../sync/hq/schema';
import { campaignDayBounds, dayOf, startOfDay } from '../../sync/hq/campaign';
import { startPostgres, type Postgres } from '../helpers/postgres';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const pemOf = () => generateKeyPairSync('ed25519').publicKey.export({ format: 'pem', type: 'spki' }).toString();
const TZ = 'Asia/Ho_Chi_Minh';
/** 10:00 local on a campaign day. */
const at = (day: string, hour = 10): number => startOfDay(day, TZ) + hour * 3600_000;

function rec(kind: string | null, completedAt: number | null, sealedAt = Date.now()): StoredRecordInput {
  const envelope = randomBytes(512);
  return { recordId: uuidv7(), sha256: sha(envelope), envelope, sealedAt, ...(kind !== null ? { kind } : {}), ...(completedAt !== null ? { completedAt } : {}) };
}

function batch(stationId: string, verified: StoredRecordInput[]): BatchToStore {
  const batchId = uuidv7();
  return { stationId, batchId, order: verified.map((r) => r.recordId), verified, refused: [], makeReceipt: () => ({ receiptText: batchId, batchHash: sha(Buffer.from(batchId)) }) };
}

interface Backend {
  name: string;
  dialect: Dialect;
  fresh(): Promise<HqStoreApi>;
  /** A database left at schema 5 by the previous release, with `exec` run in it; then opened by this code. */
  fromV5(exec: string[], params: unknown[][]): Promise<HqStoreApi>;
}

const dirs: string[] = [];
let pgServer: Postgres | null = null;
const v5Sql = (d: Dialect): string[] => [SCHEMA_SQL, ...MIGRATIONS.filter((m) => m.version <= 5).map((m) => migrationSql(m, d)), "INSERT INTO meta (k, v) VALUES ('schema_version', '5')"];

const sqlite: Backend = {
  name: 'SQLite', dialect: 'sqlite',
  async fresh() {
    const d = mkdtempSync(join(tmpdir(), 'hq-campaign-'));
    dirs.push(d);
    return SqliteHqStore.open(join(d, 'hq.db'));
  },
  async fromV5(exec, params) {
    const d = mkdtempSync(join(tmpdir(), 'hq-campaign-'));
    dirs.push(d);
    const db = new Database(join(d, 'hq.db'));
    for (const s of v5Sql('sqlite')) if (s.trim()) db.exec(s);
    exec.forEach((s, i) => db.prepare(s.replace(/\$\d+/g, '?')).run(...params[i]!));
    db.close();
    return SqliteHqStore.open(join(d, 'hq.db'));
  },
};

const postgres: Backend = {
  name: 'PostgreSQL', dialect: 'postgres',
  async fresh() { return PgHqStore.open({ url: pgServer!.url(pgServer!.createDatabase()), poolSize: 3 }); },
  async fromV5(exec, params) {
    const url = pgServer!.url(pgServer!.createDatabase());
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    for (const s of v5Sql('postgres')) if (s.trim()) await c.query(s);
    for (let i = 0; i < exec.length; i++) await c.query(exec[i]!, params[i]);
    await c.end();
    return PgHqStore.open({ url, poolSize: 3 });
  },
};

beforeAll(async () => { pgServer = await startPostgres(); });
afterAll(async () => {
  await pgServer?.dispose();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe.each([sqlite, postgres])('campaign store contract: $name', (b) => {
  const open: HqStoreApi[] = [];
  const fresh = async () => { const s = await b.fresh(); open.push(s); return s; };
  afterAll(async () => { for (const s of open) await s.close().catch(() => undefined); });

  const campaign = { id: 'c-nov', name: 'Tháng mười một', first_day: '2026-11-01', last_day: '2026-11-30', time_zone: TZ };

  it('counts each record by its kind and completion day under the unit its station had when it was stored', async () => {
    const s = await fresh();
    await s.registerStation({ stationId: 'st-1', unit: 'W-HP', publicKey: pemOf() });
    expect((await s.createCampaign(campaign, campaignDayBounds(campaign.first_day, campaign.last_day, TZ))).ok).toBe(true);
    // 23:30 local on the 2nd is still the 2nd; 00:30 local on the 3rd is the 3rd (UTC: both the 2nd)
    const late = startOfDay('2026-11-03', TZ) - 30 * 60_000;
    const early = startOfDay('2026-11-03', TZ) + 30 * 60_000;
    expect(dayOf(late, 'UTC')).toBe(dayOf(early, 'UTC'));
    const first = [rec('enrollment', at('2026-11-02')), rec('enrollment', late), rec('eid-activation', early), rec(null, null, at('2026-11-03', 12))];
    const r1 = await s.storeBatches('w', [batch('st-1', first)]);
    expect(r1[0]!.ok).toBe(true);
    // the booth moves to another ward: what it stored before stays where it was
    await s.registerStation({ stationId: 'st-1', unit: 'W-TX', publicKey: pemOf() });
    await s.storeBatches('w', [batch('st-1', [rec('enrollment', early + 60_000), rec('enrollment', at('2026-12-01'))])]);
    const rows = (await s.campaignDayCounts('c-nov')).map((r) => ({ ...r, n: Number(r.n) }));
    const sorted = rows.sort((x, y) => `${x.day}${x.unit}${x.kind}`.localeCompare(`${y.day}${y.unit}${y.kind}`));
    expect(sorted).toEqual([
      { day: '2026-11-02', unit: 'W-HP', kind: 'enrollment', n: 2 },
      { day: '2026-11-03', unit: 'W-HP', kind: 'eid-activation', n: 1 },
      { day: '2026-11-03', unit: 'W-HP', kind: null, n: 1 },
      { day: '2026-11-03', unit: 'W-TX', kind: 'enrollment', n: 1 },
    ]);
    // through a day
    expect((await s.campaignDayCounts('c-nov', '2026-11-02')).map((r) => r.day)).toEqual(['2026-11-02']);
    expect(await s.campaignDayCounts('no-such')).toEqual([]);
  });

  it('a schema-5 database keeps its records: kind unknown, counted on their sealing day under their station\'s unit', async () => {
    const sealed = at('2026-11-05');
    const s = await b.fromV5([
      'INSERT INTO stations (station_id, unit, public_key, key_fingerprint, registered_at) VALUES ($1, $2, $3, $4, $5)',
      'INSERT INTO records (station_id, record_id, sha256, envelope, size, sealed_at, received_at, batch_id, worker) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)',
    ], [
      ['st-old', 'W-HP', pemOf(), 'fp', 1],
      ['st-old', uuidv7(), 'ab'.repeat(32), Buffer.from('x'), 1, sealed, sealed + 1000, 'b1', 'w'],
    ]);
    open.push(s);
    await s.createCampaign(campaign, campaignDayBounds(campaign.first_day, campaign.last_day, TZ));
    const rows = await s.campaignDayCounts('c-nov');
    expect(rows.map((r) => ({ ...r, n: Number(r.n) }))).toEqual([{ day: '2026-11-05', unit: 'W-HP', kind: null, n: 1 }]);
    const v = s.kind === 'postgres'
      ? (await (s as PgHqStore).pool.query("SELECT v FROM meta WHERE k = 'schema_version'")).rows[0].v
      : ((s as SqliteHqStore).sync.db.prepare("SELECT v FROM meta WHERE k = 'schema_version'").get() as { v: string }).v;
    expect(v).toBe(String(SCHEMA_VERSION));
  });

  it('campaigns: an existing id and an overlapping period are refused (overlap allowed when asked); listed by first day', async () => {
    const s = await fresh();
    const days = (f: string, l: string) => campaignDayBounds(f, l, TZ);
    expect(await s.createCampaign(campaign, days(campaign.first_day, campaign.last_day), { now: 5 })).toEqual({ ok: true });
    expect(await s.createCampaign({ ...campaign, name: 'again' }, days('2027-01-01', '2027-01-02'))).toEqual({ ok: false, reason: 'exists' });
    const over = await s.createCampaign({ ...campaign, id: 'c-dec', first_day: '2026-11-30', last_day: '2026-12-31' }, days('2026-11-30', '2026-12-31'));
    expect(over.ok).toBe(false);
    expect(over).toMatchObject({ reason: 'overlap', with: [{ id: 'c-nov' }] });
    expect((await s.createCampaign({ ...campaign, id: 'c-oct', first_day: '2026-10-01', last_day: '2026-10-31' }, days('2026-10-01', '2026-10-31'))).ok).toBe(true);
    expect((await s.createCampaign({ ...campaign, id: 'c-eid', first_day: '2026-11-10', last_day: '2026-11-20' }, days('2026-11-10', '2026-11-20'), { allowOverlap: true })).ok).toBe(true);
    expect((await s.campaigns()).map((c) => c.id)).toEqual(['c-oct', 'c-nov', 'c-eid']);
    expect(await s.campaign('c-nov')).toMatchObject({ ...campaign, created_at: 5 });
    expect(await s.campaign('nope')).toBeUndefined();
    const d = await s.campaignDays('c-nov');
    expect(d).toHaveLength(30);
    expect(d[0]).toEqual({ day: '2026-11-01', start_at: Date.parse('2026-10-31T17:00:00Z'), end_at: Date.parse('2026-11-01T17:00:00Z') });
  });

  it('units and quotas: imported together, replaced on import, one quota set or removed', async () => {
    const s = await fresh();
    await s.createCampaign(campaign, campaignDayBounds(campaign.first_day, campaign.last_day, TZ));
    await s.importUnits([
      { code: 'C-DN', name: 'Đà Nẵng', parent: null, level: 'city' },
      { code: 'D-HC', name: 'Hải Châu', parent: 'C-DN', level: 'district' },
      { code: 'W-HP', name: 'Hòa Phát', parent: 'D-HC', level: 'ward' },
    ], { campaignId: 'c-nov', rows: [{ unit: 'W-HP', enrollments: 12_000, activations: 8_000 }, { unit: 'D-HC', enrollments: null, activations: 20_000 }] });
    await s.importUnits([{ code: 'W-HP', name: 'Hoà Phát (mới)', parent: 'D-HC', level: 'ward' }]);
    expect(await s.units()).toEqual([
      { code: 'C-DN', name: 'Đà Nẵng', parent: null, level: 'city' },
      { code: 'D-HC', name: 'Hải Châu', parent: 'C-DN', level: 'district' },
      { code: 'W-HP', name: 'Hoà Phát (mới)', parent: 'D-HC', level: 'ward' },
    ]);
    await s.setQuota('c-nov', { unit: 'W-HP', enrollments: 12_745, activations: null });
    expect(await s.quotas('c-nov')).toEqual([{ unit: 'D-HC', enrollments: null, activations: 20_000 }, { unit: 'W-HP', enrollments: 12_745, activations: null }]);
    expect(await s.quotas('other')).toEqual([]);
  });

  it('reads each registered station with its unit and last health', async () => {
    const s = await fresh();
    await s.registerStation({ stationId: 'st-a', unit: 'W-HP', publicKey: pemOf() });
    await s.registerStation({ stationId: 'st-b', unit: null, publicKey: pemOf() });
    await s.upsertHealth('st-a', JSON.stringify({ backlog: { count: 3, oldestAgeMs: 60_000 } }), 1234);
    expect(await s.stationHealth()).toEqual([
      { station_id: 'st-a', unit: 'W-HP', health: JSON.stringify({ backlog: { count: 3, oldestAgeMs: 60_000 } }), health_at: 1234 },
      { station_id: 'st-b', unit: null, health: null, health_at: null },
    ]);
  });
});
