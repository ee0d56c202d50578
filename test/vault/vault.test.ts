import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync, copyFileSync, mkdirSync, statSync } from 'node:fs';
import pino from 'pino';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { encodeRecord, loadHqPublicIdentity, loadStationSigningKey, openEnvelope, Sealer, verifyAuditChain, verifyEnvelope, writeStationKeyPair } from '../../sync/wire';
import { MIGRATIONS, SCHEMA_VERSION } from '../../station/vault/schema';
import { readVaultStatus, Vault, vaultPath, type VaultAlert } from '../../station/vault';
import { SealWriter, type CheckpointEvent } from '../../station/vault/writer';
import { makeParts, makeRecord, makeWorld, type RecordParts } from './fixtures';

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

  it('seals leave WAL checkpoints to the checkpointer thread, which folds the records into the database file', async () => {
    const lines: { msg: string; frames?: number }[] = [];
    const logger = pino({ level: 'debug' }, { write: (l: string) => lines.push(JSON.parse(l) as { msg: string; frames?: number }) });
    const fileSize = () => statSync(vaultPath(w.dataDir)).size;
    const v = await open({ checkpointBytes: 64 * 1024, logger });
    const before = fileSize();
    let sealedBytes = 0;
    const recs = Array.from({ length: 20 }, () => makeRecord(w.stationId, parts));
    for (const r of recs) sealedBytes += encodeRecord(r).length;
    let next = 0;
    const lane = async () => {
      while (next < recs.length) await v.seal(recs[next++]);
    };
    await Promise.all([lane(), lane()]);
    // Nothing on this thread writes after the seals: only the checkpointer can grow the database
    // file (the last commits may wait in the WAL for the next round).
    await expect.poll(fileSize, { timeout: 5000 }).toBeGreaterThan(before + 0.8 * sealedBytes);
    const frames = () => lines.filter((l) => l.msg === 'vault WAL checkpointed').map((l) => l.frames!);
    await expect.poll(() => frames().length, { timeout: 5000 }).toBeGreaterThan(0); // its report follows the copy
    expect(frames().every((f) => f > 0)).toBe(true);
    await v.close();

    // checkpointBytes 0: SQLite's own auto-checkpoint (1000 pages) — three small records stay in the WAL.
    const w2 = await makeWorld();
    try {
      const v2 = await Vault.open({ dataDir: w2.dataDir, stationId: w2.stationId, signingKey: w2.station, hqIdentity: w2.hqPublicPath, reserveBytes: 1024 * 1024, checkpointBytes: 0 });
      const size0 = statSync(vaultPath(w2.dataDir)).size;
      for (let i = 0; i < 3; i++) await v2.seal(makeRecord(w2.stationId, parts));
      await new Promise((r) => setTimeout(r, 300));
      expect(statSync(vaultPath(w2.dataDir)).size).toBe(size0);
      await v2.close();
    } finally {
      w2.cleanup();
    }
  });

  /** A vault file and a writer on it alone, with the given checkpointer program (as a test supplies it). */
  async function writerWith(checkpointerSource: string, checkpointBytes: number) {
    const v = await open();
    await v.close();
    const answered: CheckpointEvent[] = [];
    const writer = await SealWriter.start(vaultPath(w.dataDir), w.stationId, w.station.privateKey, { checkpointBytes, checkpointerSource, onCheckpoint: (e) => answered.push(e) });
    const sealer = new Sealer('x25519-chacha20poly1305', loadHqPublicIdentity(w.hqPublicPath), w.station);
    const t = {
      writer,
      answered,
      /** Envelope bytes stored so far. */
      stored: 0,
      fileSize: () => statSync(vaultPath(w.dataDir)).size,
      walSize: () => statSync(`${vaultPath(w.dataDir)}-wal`).size,
      sealAndStore: async () => {
        const s = await sealer.seal(makeRecord(w.stationId, parts));
        t.stored += s.envelope.length;
        await writer.store({ recordId: s.recordId, envelope: s.envelope, sha256: s.sha256, suite: s.suite, sealedAt: s.sealedAt, audit: { kind: 'record_sealed', ts: s.sealedAt, data: { recordId: s.recordId, sha256: s.sha256, size: s.envelope.length, suite: s.suite } } });
      },
    };
    return t;
  }

  /**
   * A writer whose checkpointer copies nothing, as when every pass overlaps new commits: only the
   * writer's own copy can fold the WAL into the file. Each pass reports the WAL's real length
   * (SQLite's NOOP checkpoint counts without copying).
   */
  async function writerWithIdleCheckpointer(checkpointBytes: number) {
    const idle = `const { parentPort, workerData } = require('node:worker_threads');
      const db = new (require(workerData.sqlitePath))(workerData.dbPath, { fileMustExist: true });
      parentPort.on('message', (m) => {
        if (m.type === 'close') { db.close(); parentPort.close(); return; }
        parentPort.postMessage({ ok: true, frames: 0, log: db.pragma('wal_checkpoint(NOOP)')[0].log });
      });`;
    const t = await writerWith(idle, checkpointBytes);
    // Until the checkpointer thread is up and answering (its start takes a moment on a busy machine).
    while (t.answered.length === 0) await t.sealAndStore();
    return t;
  }

  it('under steady sealing the writer copies what a checkpointer pass left, so the WAL starts over instead of growing', async () => {
    // Once the WAL holds four rounds, the writer copies it in itself and the next commit starts it over.
    const t = await writerWithIdleCheckpointer(64 * 1024);
    const before = t.fileSize();
    const walBefore = t.walSize();
    const from = t.stored;
    while (t.stored - from < 6 * 1024 * 1024) await t.sealAndStore();
    expect(t.fileSize()).toBeGreaterThan(before + (t.stored - from) / 2);
    // The WAL is reused from the top instead of extended: 6 MB more went through it, and it barely grew.
    expect(t.walSize() - walBefore).toBeLessThan(1024 * 1024);
    await t.writer.close();
  });

  it('a WAL that started over is not copied again by the writer before it holds four rounds', async () => {
    // Between groups of seals another connection folds the WAL in and restarts it (as a release's
    // checkpoint does): the writer must not stop a seal to copy frames because four rounds' worth
    // went through the WAL since its last copy; only the WAL's real length counts. Nothing else
    // writes the database file, so it must not change during a group.
    const round = 512 * 1024;
    const t = await writerWithIdleCheckpointer(round);
    const side = new Database(vaultPath(w.dataDir));
    // The checkpointer's own (non-copying) pass may hold the checkpoint lock for a moment.
    const restartWal = () => (side.pragma('wal_checkpoint(TRUNCATE)') as { busy: number }[])[0].busy === 0;
    for (let group = 0; group < 4; group++) {
      await expect.poll(restartWal, { timeout: 5000, interval: 2 }).toBe(true);
      const before = t.fileSize();
      const seenBefore = t.answered.length;
      const from = t.stored;
      // Two rounds per group: eight rounds went through the WAL by the last group.
      while (t.stored - from < 2 * round) await t.sealAndStore();
      // Until the checkpointer has answered in this group (the writer decides on each answer, before it is reported).
      while (t.answered.length === seenBefore) await new Promise((r) => setTimeout(r, 5));
      expect(t.answered.at(-1)!.log).toBeGreaterThan(0);
      expect(t.fileSize()).toBe(before);
    }
    side.close();
    await t.writer.close();
  });

  it('commits that land while the checkpointer is busy get a pass of their own, also after the last seal', async () => {
    // A real PASSIVE pass that then takes half a second to answer: the seals after the first commit
    // while it is busy, and none comes after them. Only a new pass, asked for when the busy one
    // answers, can copy them into the database file before the writer stops.
    const slow = `const { parentPort, workerData } = require('node:worker_threads');
      const db = new (require(workerData.sqlitePath))(workerData.dbPath, { fileMustExist: true });
      const nap = new Int32Array(new SharedArrayBuffer(4));
      parentPort.on('message', (m) => {
        if (m.type === 'close') { db.close(); parentPort.close(); return; }
        const r = db.pragma('wal_checkpoint(PASSIVE)')[0];
        Atomics.wait(nap, 0, 0, 500);
        parentPort.postMessage({ ok: true, frames: r.checkpointed, log: r.log });
      });`;
    // Rounds of 200 KiB (two records): four rounds are more than the burst below, so the writer's
    // own remainder copy does not come into play.
    const t = await writerWith(slow, 200 * 1024);
    // Two records ask for a pass; it copies both (nothing else is committed until it answers).
    await t.sealAndStore();
    await t.sealAndStore();
    await expect.poll(() => t.answered.length, { timeout: 10_000 }).toBe(1);
    const before = t.fileSize();
    const from = t.stored;
    for (let i = 0; i < 6; i++) await t.sealAndStore();
    await expect.poll(t.fileSize, { timeout: 5000 }).toBeGreaterThan(before + 0.9 * (t.stored - from));
    await t.writer.close();
  });

  it('a checkpointer thread that dies is reported, and seals go on with SQLite checkpointing inline', async () => {
    const v = await open();
    await v.close(); // a vault file with its schema; the writer below runs on it alone
    const events: CheckpointEvent[] = [];
    const writer = await SealWriter.start(vaultPath(w.dataDir), w.stationId, w.station.privateKey, {
      checkpointBytes: 64 * 1024,
      onCheckpoint: (e) => events.push(e),
      checkpointerSource: 'process.exit(3)',
    });
    const sealer = new Sealer('x25519-chacha20poly1305', loadHqPublicIdentity(w.hqPublicPath), w.station);
    const fileSize = () => statSync(vaultPath(w.dataDir)).size;
    const before = fileSize();
    await expect.poll(() => events.filter((e) => e.lost).length, { timeout: 5000 }).toBe(1);
    expect(events[0]!.message).toMatch(/exited \(code 3\)/);
    // Past SQLite's own 1000-page threshold: a commit checkpoints inline, nothing else is running.
    let stored = 0;
    while (stored < 5 * 1024 * 1024) {
      const s = await sealer.seal(makeRecord(w.stationId, parts));
      stored += s.envelope.length;
      await writer.store({ recordId: s.recordId, envelope: s.envelope, sha256: s.sha256, suite: s.suite, sealedAt: s.sealedAt, audit: { kind: 'record_sealed', ts: s.sealedAt, data: { recordId: s.recordId, sha256: s.sha256, size: s.envelope.length, suite: s.suite } } });
    }
    expect(fileSize()).toBeGreaterThan(before + 3 * 1024 * 1024);
    await writer.close();
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
    await v.writerPragma(`max_page_count = ${pages + 3}`);
    const r = makeRecord(w.stationId, parts);
    await expect(v.seal(r)).rejects.toMatchObject({ code: 'VAULT_DISK_FULL' });
    expect(v.recordState(r.recordId)).toBeNull();
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    await v.writerPragma('max_page_count = 1073741823');
    await v.seal(r); // the same record, retried after space came back
    expect(v.stats().sealed).toBe(2);
    expect(v.audit.verify()).toMatchObject({ ok: true });
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
    // The writer thread's record_sealed entry names the record and the hash seal() returned.
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
