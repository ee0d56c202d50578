/**
 * One contract for both headquarters stores: the same tests run against SQLite
 * (a real file in the test's own directory) and against a real PostgreSQL
 * server the harness starts (test/helpers/postgres.ts; each test its own
 * database). What the ingest relies on: idempotency by constraint, the same id
 * with another hash, group commits with a failing batch, chunk reassembly, the
 * audit chain rows, fleet rows (stale sessions), alarms aggregated and cleared,
 * the station key registry (rotation), and schema versions (a newer schema is
 * refused). Revocation is not in the store yet (#13 item 5): when it lands its
 * tests go here, in `contract`, so both stores get them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash, generateKeyPairSync, randomBytes, sign, verify } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { v7 as uuidv7 } from 'uuid';
import { SqliteHqStore, type BatchToStore, type HqStoreApi, type StoredRecordInput } from '../../sync/hq/store-api';
import { PgHqStore } from '../../sync/hq/store-pg';
import { SCHEMA_VERSION, SchemaTooNewError } from '../../sync/hq/schema';
import { auditEntryHash, type AuditEntry } from '../../sync/wire/audit';
import { startPostgres, type Postgres } from '../helpers/postgres';
import { freePort } from '../helpers/mosquitto';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const stationKey = () => generateKeyPairSync('ed25519');
const pemOf = (k: ReturnType<typeof stationKey>) => k.publicKey.export({ format: 'pem', type: 'spki' }).toString();

function rec(size = 2048): StoredRecordInput {
  const envelope = randomBytes(size);
  return { recordId: uuidv7(), sha256: sha(envelope), envelope, sealedAt: Date.now() };
}

/** A batch whose receipt text lists the outcomes (so a test can see the receipt is the stored one). */
function batch(stationId: string, verified: StoredRecordInput[], extra: Partial<BatchToStore> = {}): BatchToStore {
  const batchId = uuidv7();
  return {
    stationId, batchId, order: [...verified.map((r) => r.recordId), ...(extra.refused ?? []).map((r) => r.recordId)], verified, refused: [],
    makeReceipt: (outs) => ({ receiptText: JSON.stringify({ batchId, outs: outs.map((o) => `${o.recordId}:${o.status}`) }), batchHash: sha(Buffer.from(batchId)) }),
    ...extra,
  };
}

function chain(stationId: string, n: number, from = { seq: 0, hash: '0'.repeat(64) }): AuditEntry[] {
  const out: AuditEntry[] = [];
  let prev = from;
  for (let i = 1; i <= n; i++) {
    const e = { seq: prev.seq + 1, ts: 1_700_000_000_000 + prev.seq, kind: 'login' as const, data: { officer: `o${i}` }, prevHash: prev.hash };
    const hash = auditEntryHash(stationId, e);
    out.push({ ...e, hash });
    prev = { seq: e.seq, hash };
  }
  return out;
}

interface Backend {
  name: string;
  /** A fresh, empty store (its own file or database). */
  fresh(): Promise<HqStoreApi>;
  /** A second store on the same data (another worker). */
  again(s: HqStoreApi): Promise<HqStoreApi>;
  /** Marks the schema of `s`'s data as written by a newer hq. */
  bumpSchema(s: HqStoreApi, v: number): Promise<void>;
}

const dirs: string[] = [];
let pgServer: Postgres | null = null;

const sqlite: Backend = {
  name: 'SQLite',
  async fresh() {
    const d = mkdtempSync(join(tmpdir(), 'hq-contract-'));
    dirs.push(d);
    return SqliteHqStore.open(join(d, 'hq.db'));
  },
  async again(s) { return SqliteHqStore.open(s.where); },
  async bumpSchema(s, v) {
    const db = new Database(s.where);
    db.prepare("UPDATE meta SET v = ? WHERE k = 'schema_version'").run(String(v));
    db.close();
  },
};

const urls = new WeakMap<HqStoreApi, string>();
const postgres: Backend = {
  name: 'PostgreSQL',
  async fresh() {
    const name = pgServer!.createDatabase();
    const url = pgServer!.url(name);
    const s = await PgHqStore.open({ url, poolSize: 3 });
    urls.set(s, url);
    return s;
  },
  async again(s) {
    const url = urls.get(s)!;
    const t = await PgHqStore.open({ url, poolSize: 3 });
    urls.set(t, url);
    return t;
  },
  async bumpSchema(s, v) {
    await (s as PgHqStore).pool.query("UPDATE meta SET v = $1 WHERE k = 'schema_version'", [String(v)]);
  },
};

beforeAll(async () => { pgServer = await startPostgres(); });
afterAll(async () => {
  await pgServer?.dispose();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe.each([sqlite, postgres])('headquarters store contract: $name', (b) => {
  const open: HqStoreApi[] = [];
  const fresh = async () => { const s = await b.fresh(); open.push(s); return s; };
  const again = async (s: HqStoreApi) => { const t = await b.again(s); open.push(t); return t; };
  afterAll(async () => { for (const s of open) await s.close().catch(() => undefined); });

  it('stores a record once: the same batch again answers duplicate, and the receipt row holds the receipt text', async () => {
    const s = await fresh();
    const r1 = rec(); const r2 = rec(150_000);
    const [first] = await s.storeBatches('w1', [batch('ST1', [r1, r2])]);
    expect(first!.ok).toBe(true);
    if (!first!.ok) return;
    expect(first!.outcomes.map((o) => o.status)).toEqual(['stored', 'stored']);
    expect(JSON.parse(first!.receiptText).outs).toEqual([`${r1.recordId}:stored`, `${r2.recordId}:stored`]);
    const [second] = await s.storeBatches('w2', [batch('ST1', [r2, r1])]);
    expect(second!.ok && second!.outcomes.map((o) => o.status)).toEqual(['duplicate', 'duplicate']);
    expect(await s.recordCount()).toBe(2);
    expect(await s.recordCount('ST1')).toBe(2);
    expect(await s.recordCount('ST2')).toBe(0);
    const found = await s.findRecord(r2.recordId);
    expect(found?.station_id).toBe('ST1');
    expect(found?.sha256).toBe(r2.sha256);
    expect(Buffer.compare(found!.envelope, r2.envelope)).toBe(0);
    expect(await s.storedHashes('ST1', [r1.recordId, uuidv7()])).toEqual(new Map([[r1.recordId, r1.sha256]]));
    expect(await s.lastReceiptAt('ST1')).toBeGreaterThan(0);
    expect(await s.lastReceiptAt('ST2')).toBeNull();
    expect([...(await s.lastReceipts()).keys()]).toEqual(['ST1']);
  });

  it('the same record id with another hash is rejected as record-id-conflict, with an alarm, and the stored one is kept', async () => {
    const s = await fresh();
    const r = rec();
    await s.storeBatches('w1', [batch('ST1', [r])]);
    const other = randomBytes(2048);
    const forged = { ...r, envelope: other, sha256: sha(other) };
    const [res] = await s.storeBatches('w1', [batch('ST1', [forged])]);
    expect(res!.ok && res!.outcomes[0]).toMatchObject({ status: 'rejected', reason: 'record-id-conflict' });
    expect((await s.findRecord(r.recordId))!.sha256).toBe(r.sha256);
    const alarms = await s.openAlarms();
    expect(alarms.map((a) => [a.kind, a.station_id, a.record_id])).toEqual([['record-id-conflict', 'ST1', r.recordId]]);
  });

  it('the same record id at another station is another record (ids are per station)', async () => {
    const s = await fresh();
    const r = rec();
    const [a] = await s.storeBatches('w1', [batch('ST1', [r])]);
    const [c] = await s.storeBatches('w1', [batch('ST2', [r])]);
    expect(a!.ok && a!.outcomes[0]!.status).toBe('stored');
    expect(c!.ok && c!.outcomes[0]!.status).toBe('stored');
    expect(await s.recordCount()).toBe(2);
  });

  it('a group commit keeps refused outcomes in batch order, and one failing batch leaves the others stored', async () => {
    const s = await fresh();
    const good = rec(); const refusedId = uuidv7(); const after = rec();
    const b1 = batch('ST1', [good, after], {
      refused: [{ recordId: refusedId, sha256: 'a'.repeat(64), status: 'held', reason: 'audit-pending', detail: 'wait' }],
    });
    b1.order = [good.recordId, refusedId, after.recordId];
    const lost = rec();
    const b2 = batch('ST2', [lost], { makeReceipt: () => { throw new Error('signing failed'); } });
    const third = rec();
    const b3 = batch('ST3', [third]);
    const res = await s.storeBatches('w1', [b1, b2, b3]);
    expect(res.map((r) => r.ok)).toEqual([true, false, true]);
    expect(res[0]!.ok && res[0]!.outcomes.map((o) => o.status)).toEqual(['stored', 'held', 'stored']);
    expect(!res[1]!.ok && res[1]!.error.message).toMatch(/signing failed/);
    // the failed batch's insert was rolled back with its savepoint: nothing stored without a receipt
    expect(await s.findRecord(lost.recordId)).toBeUndefined();
    expect(await s.findRecord(third.recordId)).toBeDefined();
    expect(await s.lastReceiptAt('ST2')).toBeNull();
  });

  it('two workers storing the same records at the same moment store each exactly once', async () => {
    const s1 = await fresh();
    const s2 = await again(s1);
    const records = Array.from({ length: 40 }, () => rec(4096));
    const [x, y] = await Promise.all([
      s1.storeBatches('w1', [batch('ST1', records)]),
      s2.storeBatches('w2', [batch('ST1', [...records].reverse())]),
    ]);
    const statuses = [...(x![0]!.ok ? x![0]!.outcomes : []), ...(y![0]!.ok ? y![0]!.outcomes : [])];
    expect(statuses).toHaveLength(80);
    expect(statuses.filter((o) => o.status === 'stored')).toHaveLength(40);
    expect(statuses.filter((o) => o.status === 'duplicate')).toHaveLength(40);
    expect(await s1.recordCount()).toBe(40);
  });

  it('reassembles chunks once all have arrived (in any order, through two workers), then forgets them', async () => {
    const s1 = await fresh();
    const s2 = await again(s1);
    const body = randomBytes(3000);
    const parts = [body.subarray(0, 1000), body.subarray(1000, 2000), body.subarray(2000)];
    const bid = uuidv7();
    expect(await s1.addChunk('ST1', bid, 'h', 2, 3, 2000, Buffer.from(parts[2]!))).toBeNull();
    expect(await s2.addChunk('ST1', bid, 'h', 0, 3, 0, Buffer.from(parts[0]!))).toBeNull();
    expect(await s2.addChunk('ST1', bid, 'h', 0, 3, 0, Buffer.from(parts[0]!))).toBeNull(); // a resent slice
    const whole = await s1.addChunk('ST1', bid, 'h', 1, 3, 1000, Buffer.from(parts[1]!));
    expect(whole && Buffer.compare(whole, body)).toBe(0);
    // the set is gone: the same slices again start a new set
    expect(await s1.addChunk('ST1', bid, 'h', 0, 3, 0, Buffer.from(parts[0]!))).toBeNull();
    expect(await s1.pruneChunks(60_000, Date.now() + 120_000)).toBe(1);
  });

  it('the last chunks of one batch arriving at two workers at once are reassembled by exactly one', async () => {
    const s1 = await fresh();
    const s2 = await again(s1);
    for (let round = 0; round < 5; round++) {
      const bid = uuidv7();
      const a = randomBytes(500); const c = randomBytes(500);
      const [r1, r2] = await Promise.all([s1.addChunk('ST1', bid, 'h', 0, 2, 0, a), s2.addChunk('ST1', bid, 'h', 1, 2, 500, c)]);
      const got = [r1, r2].filter((x) => x !== null);
      expect(got).toHaveLength(1);
      expect(Buffer.compare(got[0]!, Buffer.concat([a, c]))).toBe(0);
    }
  });

  it('a chunk set with a gap in its offsets is refused, not reassembled', async () => {
    const s = await fresh();
    const bid = uuidv7();
    await s.addChunk('ST1', bid, 'h', 0, 2, 0, randomBytes(10));
    await expect(s.addChunk('ST1', bid, 'h', 1, 2, 11, randomBytes(10))).rejects.toThrow(/starts at 11, expected 10/);
  });

  it('keeps each station\'s audit chain: head, hashes by seq, idempotent appends', async () => {
    const s = await fresh();
    expect(await s.auditHead('ST1')).toEqual({ seq: 0, hash: '0'.repeat(64) });
    const first = chain('ST1', 5);
    await s.appendAudit('ST1', first);
    expect(await s.auditHead('ST1')).toEqual({ seq: 5, hash: first[4]!.hash });
    const more = chain('ST1', 3, { seq: 5, hash: first[4]!.hash });
    await s.appendAudit('ST1', [...first.slice(3), ...more]); // overlap: the held entries stay as they are
    expect(await s.auditHead('ST1')).toEqual({ seq: 8, hash: more[2]!.hash });
    expect(await s.auditHashAt('ST1', 3)).toBe(first[2]!.hash);
    expect(await s.auditHashAt('ST1', 9)).toBeNull();
    expect(await s.auditHead('ST2')).toEqual({ seq: 0, hash: '0'.repeat(64) });
    // a rewritten entry does not replace the stored one
    const rewritten = { ...first[1]!, data: { officer: 'mallory' } };
    await s.appendAudit('ST1', [{ ...rewritten, hash: auditEntryHash('ST1', rewritten) }]);
    expect(await s.auditHashAt('ST1', 2)).toBe(first[1]!.hash);
  });

  it('fleet rows: a status from an older session is ignored, health and events are kept', async () => {
    const s = await fresh();
    expect(await s.upsertStatus('ST1', 'online', 5, 1000)).toBe(true);
    expect(await s.upsertStatus('ST1', 'lost', 4, 2000)).toBe(false); // the will of an earlier connection
    expect(await s.upsertStatus('ST1', 'offline', 5, 3000)).toBe(true);
    expect(await s.upsertStatus('ST1', 'online', 6, 4000)).toBe(true);
    await s.upsertHealth('ST1', '{"v":1}', 4500);
    await s.upsertHealth('ST2', '{"v":2}', 4600); // health before any status
    expect(await s.upsertStatus('ST2', 'online', 1, 4700)).toBe(true);
    const id = uuidv7();
    await s.addEvent(id, 'ST1', 'security', 5000, '{"x":1}');
    await s.addEvent(id, 'ST1', 'security', 5000, '{"x":1}'); // resent: kept once
    await s.recordCommand({ id: 'c1', target: 'ST1', name: 'ping', args: {}, issuedAt: 1, expiresAt: 2 });
    await s.recordCommandResult('c1', 'ok', '{"ok":true}', 3);
    await s.logOpening('ST1', 'r1', 'ops1', 'audit');
    await s.close();
    // read back through a second store on the same data
    const t = await again(s);
    if (t instanceof SqliteHqStore) {
      const rows = t.sync.db.prepare('SELECT station_id, state, session, health FROM fleet ORDER BY station_id').all();
      expect(rows).toEqual([{ station_id: 'ST1', state: 'online', session: 6, health: '{"v":1}' }, { station_id: 'ST2', state: 'online', session: 1, health: '{"v":2}' }]);
      expect(t.sync.db.prepare('SELECT COUNT(*) AS n FROM events').get()).toEqual({ n: 1 });
      expect(t.sync.db.prepare('SELECT result_status FROM commands').get()).toEqual({ result_status: 'ok' });
    } else {
      const pool = (t as PgHqStore).pool;
      expect((await pool.query('SELECT station_id, state, session, health FROM fleet ORDER BY station_id')).rows)
        .toEqual([{ station_id: 'ST1', state: 'online', session: 6, health: '{"v":1}' }, { station_id: 'ST2', state: 'online', session: 1, health: '{"v":2}' }]);
      expect((await pool.query('SELECT COUNT(*) AS n FROM events')).rows).toEqual([{ n: 1 }]);
      expect((await pool.query('SELECT result_status FROM commands')).rows).toEqual([{ result_status: 'ok' }]);
    }
  });

  it('alarms: one open row per station and kind that counts up; clearing by station or kind', async () => {
    const s1 = await fresh();
    const s2 = await again(s1);
    expect(await s1.alarm('bad-signature', 'first', 'ST1', 'r1', 1000)).toBe(1);
    expect(await s2.alarm('bad-signature', 'second', 'ST1', null, 2000)).toBe(2);
    await s2.alarms([
      { kind: 'bad-signature', detail: 'third', stationId: 'ST1', recordId: 'r3', at: 3000, n: 5 },
      { kind: 'unknown-station', detail: 'who', stationId: 'ST9', recordId: null, at: 3000, n: 1 },
      { kind: 'validator-unavailable', detail: 'down', stationId: null, recordId: null, at: 3000, n: 2 },
    ]);
    await Promise.all([s1.alarm('validator-unavailable', 'x', null, null, 4000), s2.alarm('validator-unavailable', 'y', null, null, 4000)]);
    const open = await s1.openAlarms();
    const by = Object.fromEntries(open.map((a) => [`${a.kind}/${a.station_id}`, a]));
    expect(Object.keys(by).sort()).toEqual(['bad-signature/ST1', 'unknown-station/ST9', 'validator-unavailable/null']);
    expect(by['bad-signature/ST1']).toMatchObject({ count: 7, detail: 'third', record_id: 'r3', first_at: 1000, at: 3000 });
    expect(by['validator-unavailable/null']!.count).toBe(4);
    expect(await s1.clearAlarms({ stationId: 'ST9' })).toBe(1);
    expect(await s1.clearAlarms({ kind: 'nothing-like-this' })).toBe(0);
    // a new occurrence after clearing opens a new alarm
    expect(await s2.alarm('unknown-station', 'again', 'ST9')).toBe(1);
    expect(await s1.clearAlarms()).toBe(3);
    expect(await s1.openAlarms()).toEqual([]);
  });

  it('dashboard: an alarm acknowledged once by name (two workers at once: one wins), commands with who sent them, the ops audit log newest first', async () => {
    const s1 = await fresh();
    const s2 = await again(s1);
    await s1.alarm('tamper', 'case opened', 'ST1', null, 1000);
    const id = (await s1.openAlarms())[0]!.id;
    const [a, b2] = await Promise.all([s1.ackAlarm(id, 'ops1', 2000), s2.ackAlarm(id, 'ops2', 2000)]);
    expect([a, b2].filter((x) => x !== null)).toHaveLength(1);
    expect((a ?? b2)!).toMatchObject({ id, kind: 'tamper', station_id: 'ST1' });
    expect(await s1.openAlarms()).toEqual([]);
    expect(await s1.ackAlarm(id, 'ops1')).toBeNull();
    await s1.recordCommand({ id: 'c1', target: 'ST1', name: 'lock', args: { reason: 'x' }, issuedAt: 10, expiresAt: 20, sentBy: 'ops1' });
    await s2.recordCommand({ id: 'c2', target: 'ST1', name: 'unlock', args: {}, issuedAt: 30, expiresAt: 40 });
    await s1.recordCommandResult('c1', 'ok', '{"status":"ok"}', 15);
    const cmds = await s2.recentCommands(10);
    expect(cmds.map((c) => [c.id, c.sent_by, c.result_status])).toEqual([['c2', null, null], ['c1', 'ops1', 'ok']]);
    await s1.opsAudit({ user: 'ops1', action: 'login', detail: 'role operator' }, 100);
    await s2.opsAudit({ user: 'ops1', action: 'alarm-ack', target: 'ST1', detail: `tamper ${id}` }, 200);
    expect((await s1.opsAuditLog(10)).map((r) => [r.action, r.target, Number(r.at)])).toEqual([['alarm-ack', 'ST1', 200], ['login', null, 100]]);
  });

  it('key registry: registration, rotation keeps the old key (current first), a non-Ed25519 key is refused', async () => {
    const s = await fresh();
    const k1 = stationKey(); const k2 = stationKey();
    const a = await s.registerStation({ stationId: 'ST1', unit: 'W1', dailyQuota: 40, publicKey: pemOf(k1) }, 1000);
    expect(a.rotated).toBe(false);
    expect(await s.registerStation({ stationId: 'ST1', publicKey: pemOf(k1) }, 1500)).toEqual({ fingerprint: a.fingerprint, rotated: false });
    const b2 = await s.registerStation({ stationId: 'ST1', publicKey: pemOf(k2) }, 2000);
    expect(b2.rotated).toBe(true);
    expect(b2.fingerprint).not.toBe(a.fingerprint);
    const st = await s.station('ST1');
    expect(st).toMatchObject({ station_id: 'ST1', unit: 'W1', daily_quota: 40, key_fingerprint: b2.fingerprint, registered_at: 2000 });
    const keys = await s.stationKeys('ST1');
    expect(keys).toHaveLength(2);
    const msg = Buffer.from('hello');
    const sig2 = sign(null, msg, k2.privateKey);
    expect(verify(null, msg, keys[0]!, sig2)).toBe(true); // current first
    expect(verify(null, msg, keys[1]!, sign(null, msg, k1.privateKey))).toBe(true);
    expect(await s.stationKeys('NOPE')).toEqual([]);
    expect((await s.stations()).map((x) => x.station_id)).toEqual(['ST1']);
    const rsa = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'pem', type: 'spki' }).toString();
    await expect(s.registerStation({ stationId: 'ST2', publicKey: rsa })).rejects.toThrow(/Ed25519/);
    expect(await s.station('ST2')).toBeUndefined();
  });

  it('lists records received since a time, in pages', async () => {
    const s = await fresh();
    const rs = Array.from({ length: 5 }, () => rec(100));
    await s.storeBatches('w', [batch('ST1', rs.slice(0, 3))], 1000);
    await s.storeBatches('w', [batch('ST1', rs.slice(3))], 2000);
    const p1 = await s.recordsSince(0, 2);
    const p2 = await s.recordsSince(0, 2, { receivedAt: p1[1]!.received_at, recordId: p1[1]!.record_id });
    const p3 = await s.recordsSince(0, 2, { receivedAt: p2[1]!.received_at, recordId: p2[1]!.record_id });
    const ids = [...p1, ...p2, ...p3].map((r) => r.record_id);
    expect(new Set(ids).size).toBe(5);
    expect(ids.sort()).toEqual(rs.map((r) => r.recordId).sort());
    expect((await s.recordsSince(1500, 10)).map((r) => r.record_id).sort()).toEqual(rs.slice(3).map((r) => r.recordId).sort());
  });

  it('a schema newer than the code is refused with what to do, and nothing is written', async () => {
    const s = await fresh();
    await s.registerStation({ stationId: 'ST1', publicKey: pemOf(stationKey()) });
    await b.bumpSchema(s, SCHEMA_VERSION + 1);
    await s.close();
    const err = await b.again(s).then(() => null, (e: unknown) => e as Error);
    expect(err).toBeInstanceOf(SchemaTooNewError);
    expect(err!.message).toMatch(new RegExp(`schema version ${SCHEMA_VERSION + 1}, this hq knows versions up to ${SCHEMA_VERSION}.*upgrade this hq`));
  });

  it('migrates a fresh database to the current version, and several workers opening it at once agree', async () => {
    const s = await fresh();
    const others = await Promise.all([again(s), again(s), again(s)]);
    for (const t of [s, ...others]) expect(await t.stations()).toEqual([]);
    if (s instanceof PgHqStore) {
      expect((await s.pool.query("SELECT v FROM meta WHERE k = 'schema_version'")).rows[0].v).toBe(String(SCHEMA_VERSION));
      // envelopes out of line in TOAST, not compressed (migration 3)
      expect((await s.pool.query("SELECT attstorage FROM pg_attribute WHERE attrelid = 'records'::regclass AND attname = 'envelope'")).rows[0].attstorage).toBe('e');
    } else {
      expect((s as SqliteHqStore).sync.db.prepare("SELECT v FROM meta WHERE k = 'schema_version'").get()).toEqual({ v: String(SCHEMA_VERSION) });
    }
  });
});

describe('PostgreSQL store: a database it cannot use', () => {
  it('refuses to open with the reason in words: nothing listening, wrong password, no such database', async () => {
    const port = await freePort(); // nothing listens there
    await expect(PgHqStore.open({ url: `postgresql://postgres:x@127.0.0.1:${port}/hq`, connectTimeoutMs: 5000 }))
      .rejects.toThrow(new RegExp(`database postgresql://postgres:\\*\\*\\*@127\\.0\\.0\\.1:${port}/hq: .*ECONNREFUSED.*is PostgreSQL running`));
    const wrong = pgServer!.url().replace(pgServer!.password, 'not-the-password');
    const e = await PgHqStore.open({ url: wrong }).then(() => null, (x: Error) => x);
    expect(e?.message).toMatch(/28P01.*refused the credentials/);
    expect(e?.message).not.toContain('not-the-password'); // the URL is shown without its password
    await expect(PgHqStore.open({ url: pgServer!.url('no_such_db') })).rejects.toThrow(/3D000.*does not exist/);
  });
});
