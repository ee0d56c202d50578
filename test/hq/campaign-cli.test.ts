/**
 * `hq campaign …` end to end (#20 items 3 and 6), the same on SQLite (dataDir/hq.db) and a real
 * PostgreSQL (HQ_DATABASE_URL), through the real command tree: create (bad days, time zone,
 * existing id, overlap), list, show, units import (bad rows listed by line, nothing imported),
 * quota set, and the report as text, JSON and CSV (BOM, RFC 4180 quoting, one row per unit per
 * day), with the roll-up to district and city and the stations whose backlog will still change it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { v7 as uuidv7 } from 'uuid';
import { hqInProcess } from '../helpers/hq-inprocess';
import { startPostgres, type Postgres } from '../helpers/postgres';
import { SqliteHqStore, type HqStoreApi, type StoredRecordInput } from '../../sync/hq/store-api';
import { PgHqStore } from '../../sync/hq/store-pg';
import { CSV_COLUMNS, parseCsv, startOfDay, type CampaignSummary } from '../../sync/hq/campaign';

const TZ = 'Asia/Ho_Chi_Minh';
const at = (day: string, hour = 10): number => startOfDay(day, TZ) + hour * 3600_000;
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const pem = () => generateKeyPairSync('ed25519').publicKey.export({ format: 'pem', type: 'spki' }).toString();

function rec(kind: string | null, completedAt: number): StoredRecordInput {
  const envelope = randomBytes(256);
  return { recordId: uuidv7(), sha256: sha(envelope), envelope, sealedAt: completedAt, completedAt, ...(kind ? { kind } : {}) };
}

async function storeAll(s: HqStoreApi, stationId: string, recs: StoredRecordInput[]): Promise<void> {
  const batchId = uuidv7();
  const r = await s.storeBatches('test', [{ stationId, batchId, order: recs.map((x) => x.recordId), verified: recs, refused: [], makeReceipt: () => ({ receiptText: batchId, batchHash: sha(Buffer.from(batchId)) }) }]);
  expect(r[0]!.ok).toBe(true);
}

const UNITS = [
  'code,name,parent,level,quotaEnrollments,quotaActivations',
  'DN,Thành phố Đà Nẵng,,city,,',
  'HC,"Quận Hải Châu, trung tâm",DN,district,,',
  'HP,Phường Hòa Phát,HC,ward,10,4',
  'HX,Phường Hòa Xuân,HC,ward,20,',
].join('\r\n');

let pgServer: Postgres | null = null;
const root = mkdtempSync(join(tmpdir(), 'hq-campaign-cli-'));
beforeAll(async () => { pgServer = await startPostgres(); });
afterAll(async () => {
  await pgServer?.dispose();
  rmSync(root, { recursive: true, force: true });
});

interface Backend { name: string; setup(dir: string): Promise<{ env: Record<string, string>; store: HqStoreApi }> }
const backends: Backend[] = [
  { name: 'SQLite', async setup(dir) { return { env: { HQ_DATA_DIR: dir }, store: SqliteHqStore.open(join(dir, 'hq.db')) }; } },
  {
    name: 'PostgreSQL',
    async setup(dir) {
      const url = pgServer!.url(pgServer!.createDatabase());
      return { env: { HQ_DATA_DIR: dir, HQ_DATABASE_URL: url }, store: await PgHqStore.open({ url, poolSize: 2 }) };
    },
  },
];

describe.each(backends)('hq campaign on $name', (b) => {
  let env: Record<string, string>;
  let store: HqStoreApi;
  let dir: string;
  const hq = (...args: string[]) => hqInProcess(args, env);
  beforeAll(async () => {
    dir = mkdtempSync(join(root, `${b.name}-`));
    ({ env, store } = await b.setup(dir));
  });
  afterAll(async () => { await store?.close(); });

  it('create refuses bad days, an unknown time zone, an existing id and an overlap; list and show', async () => {
    const bad = [
      [['--from', '2026-02-30', '--to', '2026-03-10'], /first day "2026-02-30" is not a calendar day/],
      [['--from', '2026-11-30', '--to', '2026-11-01'], /last day 2026-11-01 is before the first day 2026-11-30/],
      [['--from', '2026-11-01', '--to', '2026-11-30', '--tz', 'Asia/Saigonn'], /time zone "Asia\/Saigonn" is not an IANA time zone/],
    ] as const;
    for (const [args, msg] of bad) {
      const r = await hq('campaign', 'create', 'c1', '--name', 'x', ...args);
      expect(r.code, r.err).toBe(2);
      expect(r.err).toMatch(msg);
    }
    const ok = await hq('campaign', 'create', 'dn-2026-11', '--name', 'Chiến dịch tháng 11', '--from', '2026-11-01', '--to', '2026-11-30', '--json');
    expect(ok.code, ok.err).toBe(0);
    expect(JSON.parse(ok.out)).toMatchObject({ id: 'dn-2026-11', days: 30, time_zone: TZ });
    const again = await hq('campaign', 'create', 'dn-2026-11', '--name', 'x', '--from', '2027-01-01', '--to', '2027-01-02');
    expect(again.code).toBe(2);
    expect(again.err).toMatch(/campaign dn-2026-11 already exists/);
    const over = await hq('campaign', 'create', 'dn-eid', '--name', 'e-ID', '--from', '2026-11-20', '--to', '2026-12-10');
    expect(over.code).toBe(2);
    expect(over.err).toMatch(/shares days with dn-2026-11 \(2026-11-01 … 2026-11-30\).*--allow-overlap/s);
    expect((await hq('campaign', 'create', 'dn-eid', '--name', 'e-ID', '--from', '2026-11-20', '--to', '2026-12-10', '--allow-overlap')).code).toBe(0);
    const list = await hq('campaign', 'list');
    expect(list.out).toMatch(/dn-2026-11 {2}2026-11-01 … 2026-11-30 {2}Asia\/Ho_Chi_Minh {2}Chiến dịch tháng 11\ndn-eid/);
    const unknown = await hq('campaign', 'show', 'dn-2026-12');
    expect(unknown.code).toBe(2);
    expect(unknown.err).toMatch(/there is no campaign "dn-2026-12" — did you mean "dn-2026-11"\?/);
  });

  it('units import lists every bad row by line and imports nothing; a good file imports units and quotas', async () => {
    const badFile = join(dir, 'bad.csv');
    writeFileSync(badFile, [UNITS, 'HY,Phường Hòa Yên,QQ,ward,5,5', 'HZ,,HC,ward,x,1'].join('\r\n'));
    const bad = await hq('campaign', 'units', 'import', 'dn-2026-11', badFile);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/2 bad row\(s\), nothing imported/);
    expect(bad.err).toMatch(/line 6: parent QQ of HY is neither in the file nor stored/);
    expect(bad.err).toMatch(/line 7: the name is empty; quotaEnrollments "x" is not a whole number/);
    expect(await store.units()).toEqual([]);
    const latin1 = join(dir, 'latin1.csv');
    writeFileSync(latin1, Buffer.from([0x44, 0x4e, 0x2c, 0xd0, 0x2c, 0x2c, 0x63, 0x69, 0x74, 0x79, 0x0a]));
    expect((await hq('campaign', 'units', 'import', 'dn-2026-11', latin1)).err).toMatch(/is not UTF-8 text.*CSV UTF-8/s);
    const noCampaign = await hq('campaign', 'units', 'import', 'nope', badFile);
    expect(noCampaign.code).toBe(2);
    expect(noCampaign.err).toMatch(/there is no campaign "nope"/);

    const good = join(dir, 'units.csv');
    writeFileSync(good, `\uFEFF${UNITS}\r\n`);
    const r = await hq('campaign', 'units', 'import', 'dn-2026-11', good);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/imported 4 unit\(s\) \(2 ward, 1 district, 1 city\), quotas for 4 unit\(s\) in campaign dn-2026-11/);
    expect((await store.units()).find((u) => u.code === 'HC')).toEqual({ code: 'HC', name: 'Quận Hải Châu, trung tâm', parent: 'DN', level: 'district' });
    await store.registerStation({ stationId: 'st-nowhere', unit: 'QQ', publicKey: pem() });
    const show = await hq('campaign', 'show', 'dn-2026-11');
    expect(show.code, show.err).toBe(0);
    expect(show.out).toMatch(/units: 2 ward\(s\), 1 district\(s\), 1 city\(s\); quotas set for 4 unit\(s\); wards' quotas: 30 enrollments, 4 e-ID activations/);
    expect(show.out).toMatch(/stations whose unit is not defined .*st-nowhere \(QQ\)/);
  });

  it('quota set changes one quota and keeps the other; an unknown unit is refused', async () => {
    const r = await hq('campaign', 'quota', 'set', 'dn-2026-11', 'HX', '--activations', '10');
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/HX: enrollment quota 20, e-ID activation quota 10/);
    const u = await hq('campaign', 'quota', 'set', 'dn-2026-11', 'HQ', '--enrollments', '5');
    expect(u.code).toBe(2);
    expect(u.err).toMatch(/unit HQ is not defined — did you mean "HC"\?/);
    expect((await hq('campaign', 'quota', 'set', 'dn-2026-11', 'HX', '--enrollments', '-1')).err).toMatch(/not a whole number/);
    expect((await hq('campaign', 'quota', 'set', 'dn-2026-11', 'HX')).err).toMatch(/nothing to set/);
  });

  it('report: per unit and day from what was stored, the roll-up, the backlog that will still change it, and the CSV', async () => {
    await store.registerStation({ stationId: 'st-hp-1', unit: 'HP', publicKey: pem() });
    await store.registerStation({ stationId: 'st-hx-1', unit: 'HX', publicKey: pem() });
    await store.registerStation({ stationId: 'st-hx-2', unit: 'HX', publicKey: pem() });
    await store.registerStation({ stationId: 'st-lost', unit: 'ZZ', publicKey: pem() });
    await storeAll(store, 'st-hp-1', [rec('enrollment', at('2026-11-01')), rec('enrollment', at('2026-11-02')), rec('eid-activation', at('2026-11-02')), rec(null, at('2026-11-02'))]);
    await storeAll(store, 'st-hx-1', [rec('enrollment', at('2026-11-02')), rec('enrollment', at('2026-11-03')), rec('enrollment', at('2026-12-01'))]);
    await storeAll(store, 'st-lost', [rec('enrollment', at('2026-11-02'))]);
    await store.upsertHealth('st-hx-1', JSON.stringify({ backlog: { count: 7, oldestAgeMs: 3_600_000 } }), at('2026-11-03'));
    await store.upsertHealth('st-hp-1', JSON.stringify({ backlog: { count: 0 } }), at('2026-11-03'));

    const j = await hq('campaign', 'report', 'dn-2026-11', '--day', '2026-11-02', '--json');
    expect(j.code, j.err).toBe(0);
    const s = JSON.parse(j.out) as CampaignSummary;
    expect(s.days).toEqual(['2026-11-01', '2026-11-02']);
    const hp = s.units.find((u) => u.code === 'HP')!;
    expect(hp).toMatchObject({ today: { enrollments: 1, activations: 1, unknown: 1 }, total: { enrollments: 2, activations: 1, unknown: 1 }, quota: { enrollments: 10, activations: 4 }, pct: { enrollments: 20, activations: 25 } });
    expect(hp.series.map((d) => d.cumEnrollments)).toEqual([1, 2]);
    const hx = s.units.find((u) => u.code === 'HX')!;
    expect(hx).toMatchObject({ total: { enrollments: 1 }, quota: { enrollments: 20, activations: 10 }, pct: { enrollments: 5 }, backlog: { stations: 2, withBacklog: 1, records: 7, noHealth: 1 } });
    expect(s.unplaced).toEqual([{ unit: 'ZZ', total: { enrollments: 1, activations: 0, unknown: 0 } }]);
    expect(s.notes.join('\n')).toMatch(/1 station\(s\) hold 7 record\(s\) not yet received/);
    expect(s.notes.join('\n')).toMatch(/1 record\(s\) stored before headquarters kept each record's kind are counted as kind "unknown"/);
    expect(s.notes.join('\n')).toMatch(/stations whose unit is not in the hierarchy \(ZZ\)/);

    const d = await hq('campaign', 'report', 'dn-2026-11', '--day', '2026-11-03', '--level', 'district');
    expect(d.code, d.err).toBe(0);
    expect(d.out).toMatch(/^HC +Quận Hải Châu, trung tâm +1 +4 +30 +13\.3% +0 +1 +14 +7\.1% +1 +7 in 1 st\. \+1 no health$/m);
    expect(d.out).toMatch(/HX {2}st-hx-1 {2}7 record\(s\), oldest 60 min/);
    const city = JSON.parse((await hq('campaign', 'report', 'dn-2026-11', '--day', '2026-11-30', '--level', 'city', '--json')).out) as CampaignSummary;
    expect(city.units.map((u) => [u.code, u.total.enrollments, u.quota.enrollments])).toEqual([['DN', 4, 30]]);

    const out = join(dir, 'report.csv');
    const c = await hq('campaign', 'report', 'dn-2026-11', '--day', '2026-11-03', '--csv', '--out', out);
    expect(c.code, c.err).toBe(0);
    const raw = readFileSync(out);
    expect([...raw.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const text = raw.toString('utf8');
    expect(text.endsWith('\r\n')).toBe(true);
    expect(text.replace(/\r\n/g, '')).not.toMatch(/\n/);
    const rows = parseCsv(text);
    if (!Array.isArray(rows)) throw new Error(rows.problem);
    expect(rows[0]!.fields).toEqual([...CSV_COLUMNS]);
    expect(rows).toHaveLength(1 + 2 * 3); // two wards × three days
    const row = (unit: string, day: string) => Object.fromEntries(CSV_COLUMNS.map((k, i) => [k, rows.find((r) => r.fields[3] === unit && r.fields[1] === day)!.fields[i]]));
    expect(row('HP', '2026-11-02')).toMatchObject({ unit_name: 'Phường Hòa Phát', parent_code: 'HC', enrollments: '1', activations: '1', unknown_kind: '1', enrollments_cumulative: '2', quota_enrollments: '10', enrollments_pct_of_quota: '20', activations_pct_of_quota: '25' });
    expect(row('HX', '2026-11-03')).toMatchObject({ enrollments_cumulative: '2', enrollments_pct_of_quota: '10', stations: '2', stations_with_backlog: '1', backlog_records: '7', stations_without_health: '1' });
    const dc = await hq('campaign', 'report', 'dn-2026-11', '--day', '2026-11-01', '--csv', '--level', 'district');
    expect(dc.out).toContain('"Quận Hải Châu, trung tâm"');

    const outside = await hq('campaign', 'report', 'dn-2026-11', '--day', '2026-12-01');
    expect(outside.code).toBe(2);
    expect(outside.err).toMatch(/day 2026-12-01 is not in campaign dn-2026-11.*from 2026-11-01 to 2026-11-30/s);
    expect((await hq('campaign', 'report', 'dn-2026-11', '--level', 'province')).err).toMatch(/--level "province" is not one of ward, district, city, all/);
    expect((await hq('campaign', 'report', 'nope')).err).toMatch(/there is no campaign "nope"/);
  });
});
