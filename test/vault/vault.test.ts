import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { existsSync, readFileSync, writeFileSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import pino from 'pino';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { encodeRecord, loadHqPublicIdentity, loadStationSigningKey, openEnvelope, Sealer, verifyAuditChain, verifyEnvelope, writeStationKeyPair } from '../../sync/wire';
import { MIGRATIONS, SCHEMA_VERSION } from '../../station/vault/schema';
import { readVaultStatus, Vault, vaultPath, type VaultAlert } from '../../station/vault';
import { makeParts, makeRecord, makeWorld, type RecordParts } from './fixtures';
import { mountSmallDisk } from '../helpers/tmpfs';
import { StateReplayStore } from '../../sync/commands';
import { SMALL_STATE_KEYS } from '../../sync/small-state';

type World = Awaited<ReturnType<typeof makeWorld>>;

describe('vault', () => {
  let w: World;
  let parts: RecordParts;
  let alerts: VaultAlert[];
  const open = (extra: Partial<Parameters<typeof Vault.open>[0]> = {}) =>
    Vault.open({ dataDir: w.dataDir, stationId: w.stationId, signingKey: w.station, hqIdentity: w.hqPublicPath, reserveBytes: 1024 * 1024, onAlert: (a) => alerts.push(a), ...extra });

  beforeEach(async () => {
    w = await makeWorld();
    parts = await makeParts({ fingers: 3 });
    alerts = [];
  });
  afterEach(() => w.cleanup());

  /** A schema-1 vault file (envelope inside `records`) holding n sealed records; `extraSql` runs last. */
  async function schema1Vault(n: number, extraSql?: string) {
    const sealer = new Sealer('x25519-chacha20poly1305', loadHqPublicIdentity(w.hqPublicPath), w.station);
    const sealed = [];
    for (let i = 0; i < n; i++) sealed.push(await sealer.seal(makeRecord(w.stationId, parts)));
    mkdirSync(join(w.dataDir, 'vault'), { recursive: true });
    const old = new Database(vaultPath(w.dataDir));
    old.pragma('journal_mode = WAL');
    old.exec(MIGRATIONS[0]!.sql);
    old.pragma('user_version = 1');
    old.prepare(`INSERT INTO meta (key, value) VALUES ('station_id', ?)`).run(w.stationId);
    const ins = old.prepare(`INSERT INTO records (record_id, state, envelope, sha256, size, suite, sealed_at) VALUES (?, 'sealed', ?, ?, ?, ?, ?)`);
    for (const x of sealed) ins.run(x.recordId, x.envelope, x.sha256, x.envelope.length, x.suite, x.sealedAt);
    if (extraSql) old.exec(extraSql);
    old.close();
    return sealed;
  }

  it('seals durably: the stored envelope opens with the HQ key and matches the returned hash', async () => {
    const v = await open();
    const r = makeRecord(w.stationId, parts);
    const res = await v.seal(r);
    expect(res.recordId).toBe(r.recordId);
    await v.close();
    const db = new Database(vaultPath(w.dataDir), { readonly: true });
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    const row = db.prepare('SELECT e.envelope, r.sha256, r.state FROM records r LEFT JOIN envelopes e ON e.seq = r.seq WHERE r.record_id = ?').get(r.recordId) as { envelope: Buffer; sha256: string; state: string };
    db.close();
    expect(row.state).toBe('sealed');
    expect(row.sha256).toBe(res.sha256);
    const { record } = await openEnvelope(row.envelope, { stationPublicKey: w.station.publicKey, hq: w.hq });
    expect(record.fingerprints.length).toBe(3);
    expect(record.details.surname).toBe('Okonkwo');
  });

  it('walks sealed → in flight → acknowledged → released; batches survive a restart unchanged', async () => {
    let v = await open();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await v.seal(makeRecord(w.stationId, parts))).recordId);
    const b1 = v.openBatch(2, 100 * 1024 * 1024);
    expect(b1?.items.map((i) => i.recordId)).toEqual(ids.slice(0, 2));
    v.markAttempt(b1!.batchId, 1234);
    await v.close();

    v = await open();
    const again = v.inFlightBatches();
    expect(again.length).toBe(1);
    expect(again[0].batchId).toBe(b1!.batchId);
    expect(again[0].attempts).toBe(1);
    expect(again[0].items.map((i) => i.envelope.toString('hex'))).toEqual(b1!.items.map((i) => i.envelope.toString('hex')));

    // maxBytes bound: one record's envelope is bigger than 10 bytes, so each batch takes exactly one.
    const b2 = v.openBatch(10, 10);
    expect(b2?.items.length).toBe(1);
    expect(v.stats()).toMatchObject({ sealed: 2, inFlight: 3 });

    const receipt = Buffer.from('signed-receipt-bytes');
    v.acknowledge(b1!.batchId, receipt, [
      { recordId: ids[0], sha256: b1!.items[0].sha256, status: 'stored' },
      { recordId: ids[1], sha256: b1!.items[1].sha256, status: 'duplicate' },
    ]);
    expect(v.stats()).toMatchObject({ sealed: 2, inFlight: 1, acknowledged: 0, released: 2 });
    expect(v.receipt(b1!.batchId)?.equals(receipt)).toBe(true);
    expect(v.recordState(ids[0])?.state).toBe('released');
    // Ciphertext is gone after release, metadata stays.
    const db = new Database(vaultPath(w.dataDir), { readonly: true });
    const rel = db.prepare('SELECT e.envelope, r.sha256 FROM records r LEFT JOIN envelopes e ON e.seq = r.seq WHERE r.record_id = ?').get(ids[0]) as { envelope: Buffer | null; sha256: string };
    db.close();
    expect(rel.envelope).toBeNull();
    expect(rel.sha256).toBe(b1!.items[0].sha256);
    // A repeated receipt is harmless.
    v.acknowledge(b1!.batchId, receipt, []);
    expect(v.stats().released).toBe(2);
    await v.close();
  });

  it('keeps rejected records, requeues records a receipt does not cover, and reports', async () => {
    const v = await open();
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await v.seal(makeRecord(w.stationId, parts))).recordId);
    const b = v.openBatch(10, 1e9)!;
    v.acknowledge(b.batchId, Buffer.from('r'), [
      { recordId: ids[0], sha256: b.items[0].sha256, status: 'rejected', reason: 'bad-signature' },
      { recordId: ids[1], sha256: 'f'.repeat(64), status: 'stored' },
    ]);
    expect(v.recordState(ids[0])).toMatchObject({ state: 'rejected', rejectReason: 'bad-signature' });
    expect(v.recordState(ids[1])?.state).toBe('sealed');
    expect(v.recordState(ids[2])?.state).toBe('sealed');
    expect(alerts.some((a) => a.code === 'VAULT_REJECTED' && a.recordId === ids[0])).toBe(true);
    expect(v.openBatch(10, 1e9)?.items.map((i) => i.recordId)).toEqual([ids[1], ids[2]]);
    await v.close();
  });

  it('migrates a schema-1 vault (envelope inside records) to schema 2 without losing a record', async () => {
    const sealed = await schema1Vault(2);

    const v = await open();
    const b = v.openBatch(10, 1e9)!;
    expect(b.items.map((i) => [i.recordId, i.sha256])).toEqual(sealed.map((x) => [x.recordId, x.sha256]));
    for (const [i, item] of b.items.entries()) expect(item.envelope.equals(sealed[i]!.envelope)).toBe(true);
    v.acknowledge(b.batchId, Buffer.from('receipt'), [{ recordId: sealed[0]!.recordId, sha256: sealed[0]!.sha256, status: 'stored' }]);
    await v.close();
    const db = new Database(vaultPath(w.dataDir), { readonly: true });
    expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect((db.prepare(`SELECT name FROM pragma_table_info('records')`).all() as { name: string }[]).map((c) => c.name)).not.toContain('envelope');
    const rows = db.prepare('SELECT r.record_id, r.state, e.envelope IS NOT NULL AS has FROM records r LEFT JOIN envelopes e ON e.seq = r.seq ORDER BY r.seq').all();
    db.close();
    // the acknowledged one is released (ciphertext gone); the one the receipt did not cover is back in the queue, ciphertext kept
    expect(rows).toEqual([{ record_id: sealed[0]!.recordId, state: 'released', has: 0 }, { record_id: sealed[1]!.recordId, state: 'sealed', has: 1 }]);
  });

  it('a schema upgrade that fails changes nothing and says so (VAULT_MIGRATION_FAILED)', async () => {
    // the upgrade's own DROP TRIGGER then fails half-way
    const [x] = await schema1Vault(1, 'DROP TRIGGER records_keep_ciphertext');
    await expect(open()).rejects.toMatchObject({ code: 'VAULT_MIGRATION_FAILED', message: expect.stringMatching(/could not be upgraded from schema 1 to 3: .*nothing was changed/) });
    const db = new Database(vaultPath(w.dataDir), { readonly: true });
    expect(db.pragma('user_version', { simple: true })).toBe(1);
    expect(db.prepare(`SELECT name FROM sqlite_master WHERE name = 'envelopes'`).get()).toBeUndefined();
    const row = db.prepare('SELECT envelope, sha256 FROM records').get() as { envelope: Buffer; sha256: string };
    db.close();
    expect(row.envelope.equals(x.envelope)).toBe(true);
  });

  it('acknowledgeMany: receipts that arrive together are applied in one transaction; one that cannot be applied leaves the others', async () => {
    const v = await open({ retention: { releaseOnAck: false } });
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push((await v.seal(makeRecord(w.stationId, parts))).recordId);
    const b1 = v.openBatch(2, 1e9)!;
    const b2 = v.openBatch(2, 1e9)!;
    const ok = (b: typeof b1) => b.items.map((i) => ({ recordId: i.recordId, sha256: i.sha256, status: 'stored' as const }));
    const rejectFirst = [{ recordId: b2.items[0]!.recordId, sha256: b2.items[0]!.sha256, status: 'rejected' as const, reason: 'record-invalid' as const }, ok(b2)[1]!];
    const errors = v.acknowledgeMany([
      { batchId: b1.batchId, receipt: Buffer.from('r1'), results: ok(b1) },
      { batchId: 'no-such-batch', receipt: Buffer.from('rx'), results: [] },
      { batchId: b2.batchId, receipt: Buffer.from('r2'), results: rejectFirst },
      { batchId: b1.batchId, receipt: Buffer.from('r1 again'), results: ok(b1) },
    ]);
    expect(errors.map((e) => (e as { code?: string } | null)?.code ?? null)).toEqual([null, 'VAULT_UNKNOWN_BATCH', null, null]);
    expect(ids.map((id) => v.recordState(id)?.state)).toEqual(['acknowledged', 'acknowledged', 'rejected', 'acknowledged']);
    expect(v.receipt(b1.batchId)?.toString()).toBe('r1'); // the repeated receipt changed nothing
    expect(alerts.filter((a) => a.code === 'VAULT_REJECTED').map((a) => a.recordId)).toEqual([ids[2]]);
    const kinds = v.audit.entriesSince(0).map((e) => e.kind);
    expect(kinds.filter((k) => k === 'receipt_received')).toHaveLength(2);
    await v.close();
  });

  it('openBatches: several batches in one transaction, oldest records first, each as openBatch would make it', async () => {
    const v = await open();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await v.seal(makeRecord(w.stationId, parts))).recordId);
    const bs = v.openBatches(4, 2, 1e9);
    expect(bs.map((b) => b.items.map((i) => i.recordId))).toEqual([[ids[0], ids[1]], [ids[2], ids[3]], [ids[4]]]);
    expect(ids.map((id) => v.recordState(id)?.state)).toEqual(Array(5).fill('in_flight'));
    expect(v.inFlightBatches().map((b) => b.batchId)).toEqual(bs.map((b) => b.batchId));
    expect(v.audit.entriesSince(0).filter((e) => e.kind === 'batch_sent')).toHaveLength(3);
    expect(v.openBatches(4, 2, 1e9)).toEqual([]);
    await v.close();
  });

  /** Records a copy of vault.db alone (no -wal) holds: what the idle checkpoint has moved into the file. */
  function recordsInFileAlone(): number {
    const dir = mkdtempSync(join(w.root, 'copy-'));
    copyFileSync(vaultPath(w.dataDir), join(dir, 'vault.db'));
    const db = new Database(join(dir, 'vault.db'), { readonly: true });
    try {
      const t = db.prepare(`SELECT 1 FROM sqlite_master WHERE name = 'records'`).get();
      return t ? (db.prepare('SELECT COUNT(*) AS n FROM records').get() as { n: number }).n : 0;
    } finally {
      db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }

  it('copies sealed records into the database file once the booth is quiet, not while it seals', async () => {
    // Time is the subject: only the vault's setTimeout is faked (HPKE and sharp run as usual).
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const lines: { msg: string; why?: string }[] = [];
      const logger = pino({ level: 'debug' }, { write: (l: string) => lines.push(JSON.parse(l) as { msg: string; why?: string }) });
      const v = await open({ idleCheckpointMs: 1000, logger });
      const a = await v.seal(makeRecord(w.stationId, parts));
      // Durable (in the WAL) but not yet in the file: the confirm did not wait for a checkpoint.
      expect(v.recordState(a.recordId)?.state).toBe('sealed');
      expect(recordsInFileAlone()).toBe(0);
      vi.advanceTimersByTime(600);
      // A second enrollment within the quiet time postpones the copy to a full quiet time after it.
      await v.seal(makeRecord(w.stationId, parts));
      vi.advanceTimersByTime(600);
      expect(recordsInFileAlone()).toBe(0);
      const idle = v.idle();
      vi.advanceTimersByTime(400);
      await idle;
      expect(recordsInFileAlone()).toBe(2);
      expect(lines.filter((l) => l.msg === 'vault WAL checkpointed' && l.why === 'idle')).toHaveLength(1);
      await v.close();
    } finally {
      vi.useRealTimers();
    }
  });

  it('back-to-back seals keep the WAL bounded (SQLite copies it back at 1000 pages) and lose nothing', async () => {
    const v = await open({ idleCheckpointMs: 0 });
    const wal = () => statSync(`${vaultPath(w.dataDir)}-wal`).size;
    let sealedBytes = 0;
    let maxWal = 0;
    const ids: string[] = [];
    // About four times the 1000-page threshold, never a pause between two seals.
    while (sealedBytes < 16 * 1024 * 1024) {
      const r = makeRecord(w.stationId, parts);
      sealedBytes += encodeRecord(r).length;
      ids.push((await v.seal(r)).recordId);
      maxWal = Math.max(maxWal, wal());
    }
    // 4 MB of pages plus the commit that crossed the threshold; journal_size_limit is 8 MiB.
    expect(maxWal).toBeLessThan(8 * 1024 * 1024);
    await v.idle();
    expect(recordsInFileAlone()).toBe(ids.length);
    expect(v.openBatch(ids.length, 1e12)!.items.map((i) => i.recordId)).toEqual(ids);
    expect(v.audit.verify()).toMatchObject({ ok: true });
    await v.close();
  });

  it('seals that overlap (two confirms in flight) are both stored, each with its own audit entry, chain intact', async () => {
    const v = await open();
    const [a, b] = await Promise.all([v.seal(makeRecord(w.stationId, parts)), v.seal(makeRecord(w.stationId, parts))]);
    const sealedEntries = v.audit.entriesSince(0).filter((e) => e.kind === 'record_sealed').map((e) => e.data.recordId);
    expect(sealedEntries.sort()).toEqual([a.recordId, b.recordId].sort());
    expect(v.audit.verify()).toMatchObject({ ok: true });
    await v.close();
  });

  it('never deletes an unacknowledged record, even by direct SQL', async () => {
    const v = await open();
    const { recordId } = await v.seal(makeRecord(w.stationId, parts));
    await v.close();
    const db = new Database(vaultPath(w.dataDir));
    expect(() => db.prepare('DELETE FROM records WHERE record_id = ?').run(recordId)).toThrow(/not released/);
    expect(() => db.prepare('DELETE FROM envelopes WHERE seq = (SELECT seq FROM records WHERE record_id = ?)').run(recordId)).toThrow(/not released/);
    expect(() => db.prepare('DELETE FROM audit').run()).toThrow(/append-only/);
    expect(() => db.prepare("UPDATE audit SET kind = 'login' WHERE seq = 1").run()).toThrow(/append-only/);
    db.close();
  });

  it('retention purges only released metadata past its age', async () => {
    let now = 1_800_000_000_000;
    const v = await open({ now: () => now, retention: { metadataDays: 1 } });
    const a = await v.seal(makeRecord(w.stationId, parts));
    await v.seal(makeRecord(w.stationId, parts));
    const b = v.openBatch(1, 1e9)!;
    v.acknowledge(b.batchId, Buffer.from('r'), [{ recordId: a.recordId, sha256: a.sha256, status: 'stored' }]);
    now += 2 * 86_400_000;
    expect(v.maintenance()).toEqual({ released: 0, purged: 1 });
    expect(v.recordState(a.recordId)).toBeNull();
    expect(v.stats()).toMatchObject({ sealed: 1, released: 0 });
    await v.close();
  });

  it('detects a tampered row before sending, reports it, keeps it, sends the rest', async () => {
    const v = await open();
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await v.seal(makeRecord(w.stationId, parts))).recordId);
    const db = new Database(vaultPath(w.dataDir));
    const row = db.prepare('SELECT e.envelope FROM records r LEFT JOIN envelopes e ON e.seq = r.seq WHERE r.record_id = ?').get(ids[1]) as { envelope: Buffer };
    const env = Buffer.from(row.envelope);
    env[env.length - 100] ^= 0xff;
    db.prepare('UPDATE envelopes SET envelope = ? WHERE seq = (SELECT seq FROM records WHERE record_id = ?)').run(env, ids[1]);
    // Also re-hash so only the signature check can catch it.
    const { createHash } = await import('node:crypto');
    db.prepare('UPDATE records SET sha256 = ? WHERE record_id = ?').run(createHash('sha256').update(env).digest('hex'), ids[1]);
    db.close();

    const b = v.openBatch(10, 1e9)!;
    expect(b.items.map((i) => i.recordId)).toEqual([ids[0], ids[2]]);
    expect(alerts.filter((a) => a.code === 'VAULT_TAMPERED').map((a) => a.recordId)).toEqual([ids[1]]);
    expect(v.recordState(ids[1])).toMatchObject({ state: 'sealed', tampered: true });
    expect(v.stats().tampered).toBe(1);
    const tamperEntries = v.auditEntriesSince(0).filter((e) => e.kind === 'tamper');
    expect(tamperEntries).toHaveLength(1);
    expect(tamperEntries[0].data.recordId).toBe(ids[1]);
    expect(v.openBatch(10, 1e9)).toBeNull();
    await v.close();
  });

  it('refuses a corrupt database at start and leaves the file untouched', async () => {
    const v = await open();
    await v.seal(makeRecord(w.stationId, parts));
    await v.close();
    const path = vaultPath(w.dataDir);
    const bytes = readFileSync(path);
    // Damage a page in the middle (keep the header so SQLite opens it).
    const damaged = Buffer.from(bytes);
    damaged.fill(0x5a, 4096 + 8, 4096 + 2000);
    writeFileSync(path, damaged);
    await expect(open()).rejects.toMatchObject({ code: 'VAULT_CORRUPT', message: expect.stringContaining(path) });
    expect(readFileSync(path).equals(damaged)).toBe(true);
    await expect(readVaultStatus(w.dataDir)).rejects.toMatchObject({ code: 'VAULT_CORRUPT' });
    // Not a database at all.
    writeFileSync(path, Buffer.from('this is not a database, just text '.repeat(200)));
    const garbage = readFileSync(path);
    await expect(open()).rejects.toMatchObject({ code: 'VAULT_CORRUPT', hint: expect.stringContaining('do not delete') });
    expect(readFileSync(path).equals(garbage)).toBe(true);
  });

  it('refuses a vault that belongs to another station', async () => {
    await (await open()).close();
    await expect(Vault.open({ dataDir: w.dataDir, stationId: 'ST-OTHER', signingKey: w.station, hqIdentity: w.hqPublicPath })).rejects.toMatchObject({ code: 'VAULT_STATION_MISMATCH' });
  });

  it('missing or malformed HQ key: opens (uplink can drain) but refuses to seal, naming the file', async () => {
    const missing = `${w.root}/nope/hq-public.json`;
    const v = await open({ hqIdentity: missing });
    expect(alerts.some((a) => a.code === 'VAULT_HQ_KEY')).toBe(true);
    await expect(v.seal(makeRecord(w.stationId, parts))).rejects.toMatchObject({ code: 'VAULT_HQ_KEY_MISSING', message: expect.stringContaining(missing) });
    expect(() => v.requireSealable()).toThrow(missing);
    await v.close();
    const bad = `${w.root}/bad-hq.json`;
    copyFileSync(w.hqPublicPath, bad);
    writeFileSync(bad, readFileSync(bad, 'utf8').replace('"hpkeX25519": "', '"hpkeX25519": "AAAA'));
    const v2 = await open({ hqIdentity: bad });
    await expect(v2.seal(makeRecord(w.stationId, parts))).rejects.toMatchObject({ code: 'VAULT_HQ_KEY_MALFORMED', message: expect.stringContaining(bad) });
    expect(v2.stats().sealed).toBe(0);
    await v2.close();
  });

  it('disk guard: below the reserve refuses with a clear message, raises an alert, writes nothing', async () => {
    let free = 10 * 1024 * 1024 * 1024;
    const v = await open({ reserveBytes: 100 * 1024 * 1024, diskSpace: () => ({ freeBytes: free, totalBytes: free * 2 }) });
    expect(v.checkDisk().ok).toBe(true);
    await v.seal(makeRecord(w.stationId, parts));
    free = 50 * 1024 * 1024;
    expect(v.checkDisk().ok).toBe(false);
    await expect(v.seal(makeRecord(w.stationId, parts))).rejects.toMatchObject({ code: 'VAULT_DISK_LOW', message: expect.stringMatching(/50 MB free.*reserve is 100 MB/) });
    expect(alerts.filter((a) => a.code === 'VAULT_DISK_LOW').length).toBe(1); // rate-limited
    expect(v.stats().sealed).toBe(1);
    expect(v.auditEntriesSince(0).some((e) => e.kind === 'alert' && e.data.code === 'VAULT_DISK_LOW')).toBe(true);
    await v.close();
  });

  it('a disk that fills up mid-write leaves no half record and a consistent database', async () => {
    const v = await open();
    await v.seal(makeRecord(w.stationId, parts));
    const db = (v as unknown as { db: Database.Database }).db;
    const pages = db.pragma('page_count', { simple: true }) as number;
    // The file may grow by only a few pages: the next record's BLOB does not fit (SQLITE_FULL).
    db.pragma(`max_page_count = ${pages + 3}`);
    const r = makeRecord(w.stationId, parts);
    await expect(v.seal(r)).rejects.toMatchObject({ code: 'VAULT_DISK_FULL' });
    expect(v.recordState(r.recordId)).toBeNull();
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    db.pragma('max_page_count = 1073741823');
    await v.seal(r); // the same record, retried after space came back
    expect(v.stats().sealed).toBe(2);
    expect(v.audit.verify()).toMatchObject({ ok: true });
    await v.close();
  });

  it('a disk with nothing free is said as VAULT_DISK_FULL at open, not as a damaged vault; it opens once space returns', async () => {
    const disk = mountSmallDisk(8 * 1024 * 1024, 'vault-full-');
    try {
      const dataDir = join(disk.dir, 'data');
      const v = await open({ dataDir });
      const a = await v.seal(makeRecord(w.stationId, parts));
      await v.close();
      const bytes = readFileSync(vaultPath(dataDir));
      disk.fill(0);
      await expect(open({ dataDir })).rejects.toMatchObject({ code: 'VAULT_DISK_FULL', message: expect.stringContaining('the file itself is intact'), hint: expect.stringContaining('never delete') });
      expect(readFileSync(vaultPath(dataDir)).equals(bytes)).toBe(true);
      disk.unfill();
      const v2 = await open({ dataDir });
      expect(v2.recordState(a.recordId)?.state).toBe('sealed');
      await v2.close();
    } finally {
      disk.dispose();
    }
  });

  it('keeps the uplink\'s small state (replay window, counters) in vault.db across a restart; imports an old replay file once', async () => {
    const now = Date.now();
    // A window an older version left in uplink/commands-seen.json.
    mkdirSync(join(w.dataDir, 'uplink'), { recursive: true });
    const legacy = join(w.dataDir, 'uplink', 'commands-seen.json');
    writeFileSync(legacy, JSON.stringify({ 'old-command': now + 60_000 }));
    let v = await open();
    let replay = new StateReplayStore(v.smallState, SMALL_STATE_KEYS.commandsSeen, legacy);
    expect(existsSync(legacy)).toBe(false);
    expect(replay.remember('old-command', now + 60_000, now)).toBe(false);
    expect(replay.remember('new-command', now + 60_000, now)).toBe(true);
    v.smallState.set(SMALL_STATE_KEYS.session, '7');
    await v.close();

    v = await open();
    replay = new StateReplayStore(v.smallState, SMALL_STATE_KEYS.commandsSeen, legacy);
    expect(replay.remember('new-command', now + 60_000, now)).toBe(false); // replay after a restart
    expect(replay.remember('old-command', now + 60_000, now)).toBe(false);
    expect(replay.remember('third', now + 60_000, now)).toBe(true);
    expect(v.smallState.get(SMALL_STATE_KEYS.session)).toBe('7');
    expect(v.smallState.get('nothing-here')).toBeNull();
    await v.close();
  });


  it('audit chain: entries for every event, each head signed, verifiable by headquarters', async () => {
    const v = await open();
    v.audit.append('login', { officerId: 'officer-007' });
    const a = await v.seal(makeRecord(w.stationId, parts));
    const b = v.openBatch(5, 1e9)!;
    v.acknowledge(b.batchId, Buffer.from('r'), [{ recordId: a.recordId, sha256: a.sha256, status: 'stored' }]);
    v.audit.append('config_change', { key: 'vault.reserveMb', from: 512, to: 1024 });
    v.audit.append('command_received', { commandId: 'c-1', name: 'status' });
    v.audit.append('logout', { officerId: 'officer-007' });
    const entries = v.auditEntriesSince(0);
    expect(entries.map((e) => e.kind)).toEqual(['vault_open', 'login', 'record_sealed', 'batch_sent', 'receipt_received', 'release', 'config_change', 'command_received', 'logout']);
    expect(verifyAuditChain(entries, w.station.publicKey, { stationId: w.stationId })).toMatchObject({ ok: true, count: 9 });
    // The record_sealed entry names the record and the hash seal() returned.
    expect(entries[2]!.data).toEqual({ recordId: a.recordId, sha256: a.sha256, size: expect.any(Number), suite: 'x25519-chacha20poly1305' });
    // A later slice verifies from the anchor HQ already holds.
    const tail = v.auditEntriesSince(5);
    expect(verifyAuditChain(tail, w.station.publicKey, { stationId: w.stationId, anchor: { seq: 5, hash: entries[4].hash } }).ok).toBe(true);
    expect(() => v.audit.append('login', { photo: 'x'.repeat(600) })).toThrow(/512/);
    await v.close();
  });

  it('key rotation: new records use the new key, old rows still verify (also after a restart), audit chain spans both keys', async () => {
    const v = await open();
    const a = await v.seal(makeRecord(w.stationId, parts));
    writeStationKeyPair(w.dataDir, { rotate: true });
    const next = loadStationSigningKey(w.dataDir);
    expect(next.fingerprint).not.toBe(w.station.fingerprint);
    v.useSigningKey(next);
    const b = await v.seal(makeRecord(w.stationId, parts));
    v.audit.append('command_received', { name: 'rotate-key' });
    const envB = (v.openBatch(1, 1e9)!).items[0];
    expect(envB.recordId).toBe(a.recordId);
    expect(verifyEnvelope(envB.envelope, w.station.publicKey).recordId).toBe(a.recordId);
    expect(v.audit.verify()).toMatchObject({ ok: true });
    await v.close();
    // Restart with only the new key configured: the rotated-out public key is picked up from keys/*.pub.old.
    const v2 = await Vault.open({ dataDir: w.dataDir, stationId: w.stationId, signingKey: next, hqIdentity: w.hqPublicPath, reserveBytes: 1024, onAlert: (x) => alerts.push(x) });
    const again = v2.inFlightBatches();
    expect(again[0].items.map((i) => i.recordId)).toEqual([a.recordId]);
    const nb = v2.openBatch(5, 1e9)!;
    expect(nb.items.map((i) => i.recordId)).toEqual([b.recordId]);
    expect(verifyEnvelope(nb.items[0].envelope, next.publicKey).recordId).toBe(b.recordId);
    expect(alerts.filter((x) => x.code === 'VAULT_TAMPERED')).toEqual([]);
    const entries = v2.auditEntriesSince(0);
    expect(verifyAuditChain(entries, [w.station.publicKey, next.publicKey], { stationId: w.stationId }).ok).toBe(true);
    expect(verifyAuditChain(entries, w.station.publicKey, { stationId: w.stationId }).ok).toBe(false);
    await v2.close();
  });

  it('readVaultStatus: counts per state, oldest unacked age, free space — read-only', async () => {
    const empty = await readVaultStatus(w.dataDir, { reserveBytes: 1 });
    expect(empty.exists).toBe(false);
    const v = await open();
    const r = await v.seal(makeRecord(w.stationId, parts));
    await v.seal(makeRecord(w.stationId, parts));
    v.openBatch(1, 1e9);
    const sealedAt = Date.now();
    const s = await readVaultStatus(w.dataDir, { reserveBytes: 1 });
    expect(s).toMatchObject({ exists: true, counts: { sealed: 1, inFlight: 1, acknowledged: 0, released: 0, rejected: 0, tampered: 0 }, belowReserve: false });
    expect(s.oldestUnackedAgeMs).toBeGreaterThanOrEqual(0);
    expect(s.oldestUnackedAgeMs).toBeLessThan(60_000 + (Date.now() - sealedAt));
    expect(s.freeBytes).toBeGreaterThan(0);
    expect(r.sha256).toMatch(/^[0-9a-f]{64}$/);
    await v.close();
  });
});
