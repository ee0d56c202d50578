/**
 * A small SQLite implementation of the sync/outbox.ts contract used until (and
 * alongside) the real vault: same durability (WAL, synchronous=FULL), so the
 * SIGKILL scenario is meaningful. Tests also use `states()` to check the
 * invariant that nothing is released without a receipt.
 */
import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { v7 as uuidv7 } from 'uuid';
import type { Outbox, OutboxItem, OutboxStats, PendingBatch, ReceiptResult } from '../../sync/outbox';

export class SqliteTestOutbox implements Outbox {
  private readonly db: Database.Database;
  constructor(path: string) {
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS rec (id TEXT PRIMARY KEY, env BLOB NOT NULL, sha TEXT NOT NULL, sealed_at INTEGER NOT NULL,
        state TEXT NOT NULL DEFAULT 'sealed', batch_id TEXT, seq INTEGER);
      CREATE TABLE IF NOT EXISTS batch (id TEXT PRIMARY KEY, created_at INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
        last_attempt_at INTEGER, receipt BLOB, acked_at INTEGER);
    `);
  }
  close(): void { this.db.close(); }

  add(id: string, env: Buffer, sha: string, sealedAt: number): void {
    const seq = (this.db.prepare('SELECT COALESCE(MAX(seq), 0) + 1 AS n FROM rec').get() as { n: number }).n;
    this.db.prepare('INSERT INTO rec (id, env, sha, sealed_at, seq) VALUES (?, ?, ?, ?, ?)').run(id, env, sha, sealedAt, seq);
  }

  private items(batchId: string): OutboxItem[] {
    const rows = this.db.prepare('SELECT id, env, sha, sealed_at FROM rec WHERE batch_id = ? ORDER BY seq').all(batchId) as { id: string; env: Buffer; sha: string; sealed_at: number }[];
    return rows.map((r) => ({ recordId: r.id, envelope: r.env, sha256: r.sha, sealedAt: r.sealed_at }));
  }

  inFlightBatches(): PendingBatch[] {
    const rows = this.db.prepare('SELECT * FROM batch WHERE acked_at IS NULL ORDER BY created_at, id').all() as { id: string; created_at: number; attempts: number; last_attempt_at: number | null }[];
    return rows.map((b) => ({ batchId: b.id, items: this.items(b.id), createdAt: b.created_at, attempts: b.attempts, lastAttemptAt: b.last_attempt_at }));
  }

  openBatch(maxRecords: number, maxBytes: number): PendingBatch | null {
    return this.db.transaction(() => {
      const rows = this.db.prepare("SELECT id, env, sha, sealed_at FROM rec WHERE state = 'sealed' ORDER BY seq LIMIT ?").all(maxRecords) as { id: string; env: Buffer; sha: string; sealed_at: number }[];
      if (rows.length === 0) return null;
      const take: typeof rows = [];
      let bytes = 0;
      for (const r of rows) {
        if (createHash('sha256').update(r.env).digest('hex') !== r.sha) throw new Error(`outbox row ${r.id} does not match its hash`);
        if (take.length > 0 && bytes + r.env.length > maxBytes) break;
        take.push(r);
        bytes += r.env.length;
      }
      const id = uuidv7();
      const now = Date.now();
      this.db.prepare('INSERT INTO batch (id, created_at) VALUES (?, ?)').run(id, now);
      const upd = this.db.prepare("UPDATE rec SET state = 'in_flight', batch_id = ? WHERE id = ?");
      for (const r of take) upd.run(id, r.id);
      return { batchId: id, items: take.map((r) => ({ recordId: r.id, envelope: r.env, sha256: r.sha, sealedAt: r.sealed_at })), createdAt: now, attempts: 0, lastAttemptAt: null };
    }).immediate();
  }

  markAttempt(batchId: string, at = Date.now()): void {
    this.db.prepare('UPDATE batch SET attempts = attempts + 1, last_attempt_at = ? WHERE id = ?').run(at, batchId);
  }

  acknowledge(batchId: string, receipt: Buffer, results: ReceiptResult[]): void {
    this.db.transaction(() => {
      this.db.prepare('UPDATE batch SET receipt = ?, acked_at = ? WHERE id = ?').run(receipt, Date.now(), batchId);
      const st = this.db.prepare('UPDATE rec SET state = ? WHERE id = ? AND batch_id = ?');
      for (const r of results) st.run(r.status === 'rejected' ? 'rejected' : 'acknowledged', r.recordId, batchId);
    }).immediate();
  }

  stats(now = Date.now()): OutboxStats {
    const c = (s: string) => (this.db.prepare('SELECT COUNT(*) AS n FROM rec WHERE state = ?').get(s) as { n: number }).n;
    const oldest = (this.db.prepare("SELECT MIN(sealed_at) AS t FROM rec WHERE state IN ('sealed','in_flight')").get() as { t: number | null }).t;
    const last = (this.db.prepare('SELECT MAX(acked_at) AS t FROM batch').get() as { t: number | null }).t;
    return { sealed: c('sealed'), inFlight: c('in_flight'), acknowledged: c('acknowledged'), released: c('released'), rejected: c('rejected'), oldestUnackedAgeMs: oldest === null ? null : now - oldest, lastReceiptAt: last };
  }

  /** recordId → state, for invariant checks. */
  states(): Record<string, string> {
    const rows = this.db.prepare('SELECT id, state FROM rec').all() as { id: string; state: string }[];
    return Object.fromEntries(rows.map((r) => [r.id, r.state]));
  }

  /** The stored receipt of the batch that acknowledged a record. */
  receiptOf(recordId: string): Buffer | null {
    const r = this.db.prepare('SELECT b.receipt FROM rec r JOIN batch b ON b.id = r.batch_id WHERE r.id = ?').get(recordId) as { receipt: Buffer | null } | undefined;
    return r?.receipt ?? null;
  }
}
