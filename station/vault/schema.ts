/**
 * Versioned migrations of the vault database. `PRAGMA user_version` holds the
 * applied version; each migration runs in its own transaction. A database newer
 * than this code is never downgraded; it is opened as it is only when its
 * `readable_by` (meta) says this code's schema can still use it — the migrations
 * since were additive (docs/updates.md: a rollback after an update that migrated
 * the vault) — and refused otherwise.
 */
import type Database from 'better-sqlite3';

/**
 * `readableBy`: the oldest schema version whose code can still read and write the
 * database after this migration (additive: new tables, nullable columns, indexes
 * the older code never touches). Omitted: only this version and later (the
 * migration restructures something).
 */
export const MIGRATIONS: { version: number; readableBy?: number; sql: string }[] = [
  {
    version: 1,
    sql: `
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;

CREATE TABLE records (
  seq           INTEGER PRIMARY KEY AUTOINCREMENT,
  record_id     TEXT    NOT NULL UNIQUE,
  state         TEXT    NOT NULL CHECK (state IN ('sealed','in_flight','acknowledged','released','rejected')),
  envelope      BLOB,
  sha256        TEXT    NOT NULL,
  size          INTEGER NOT NULL,
  suite         TEXT    NOT NULL,
  sealed_at     INTEGER NOT NULL,
  batch_id      TEXT,
  acked_at      INTEGER,
  receipt_status TEXT,
  reject_reason TEXT,
  released_at   INTEGER,
  tampered_at   INTEGER,
  tamper_reason TEXT
) STRICT;
CREATE INDEX records_state ON records(state, seq);
CREATE INDEX records_batch ON records(batch_id);

CREATE TABLE batches (
  batch_id        TEXT PRIMARY KEY,
  created_at      INTEGER NOT NULL,
  attempts        INTEGER NOT NULL DEFAULT 0,
  last_attempt_at INTEGER,
  acked_at        INTEGER,
  receipt         BLOB
) STRICT;

CREATE TABLE audit (
  seq       INTEGER PRIMARY KEY,
  ts        INTEGER NOT NULL,
  kind      TEXT    NOT NULL,
  data      TEXT    NOT NULL,
  prev_hash TEXT    NOT NULL,
  hash      TEXT    NOT NULL,
  sig       TEXT
) STRICT;

-- An unacknowledged record is never evicted, whatever happens.
CREATE TRIGGER records_keep_unacked BEFORE DELETE ON records
  WHEN OLD.state <> 'released'
  BEGIN SELECT RAISE(ABORT, 'vault: refusing to delete a record that is not released'); END;
CREATE TRIGGER records_keep_ciphertext BEFORE UPDATE OF envelope ON records
  WHEN NEW.envelope IS NULL AND NEW.state <> 'released'
  BEGIN SELECT RAISE(ABORT, 'vault: refusing to drop the ciphertext of a record that is not released'); END;

-- The audit log is append-only; only a missing head signature may be added.
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
  BEGIN SELECT RAISE(ABORT, 'vault: the audit log is append-only'); END;
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
  WHEN OLD.sig IS NOT NULL OR NEW.seq IS NOT OLD.seq OR NEW.ts IS NOT OLD.ts OR NEW.kind IS NOT OLD.kind
    OR NEW.data IS NOT OLD.data OR NEW.prev_hash IS NOT OLD.prev_hash OR NEW.hash IS NOT OLD.hash
  BEGIN SELECT RAISE(ABORT, 'vault: the audit log is append-only'); END;
`,
  },
  {
    // The ciphertext moves to its own table. SQLite rewrites a whole row on any UPDATE, so with the
    // envelope inside `records` every state change (sealed → in_flight → acknowledged) copied the
    // 100–400 KB ciphertext again, and secure_delete zeroed the old copy: four times the record's size
    // written per upload. Now state changes touch a ~200-byte row; release deletes the envelope row.
    version: 2,
    sql: `
CREATE TABLE envelopes (
  seq      INTEGER PRIMARY KEY,
  envelope BLOB    NOT NULL
) STRICT;
INSERT INTO envelopes (seq, envelope) SELECT seq, envelope FROM records WHERE envelope IS NOT NULL;
DROP TRIGGER records_keep_ciphertext;
ALTER TABLE records DROP COLUMN envelope;

-- The ciphertext of a record that is not released may not be dropped.
CREATE TRIGGER envelopes_keep_unreleased BEFORE DELETE ON envelopes
  WHEN (SELECT state FROM records WHERE seq = OLD.seq) IS NOT 'released'
  BEGIN SELECT RAISE(ABORT, 'vault: refusing to drop the ciphertext of a record that is not released'); END;
`,
  },
  {
    // Records headquarters keeps back get their own state: `held` (a reason that can clear — a key
    // generation not loaded yet, the station not registered yet, a quota — retried by itself after
    // held_until) besides `rejected` (kept until a technician requeues it). Receipts now carry a
    // reason code and a detail for both. SQLite cannot change a CHECK constraint in place, so the
    // (small, metadata-only) records table is rebuilt; the ciphertexts stay in `envelopes`.
    version: 3,
    sql: `
DROP TRIGGER envelopes_keep_unreleased;
DROP TRIGGER records_keep_unacked;
CREATE TABLE records_v3 (
  seq           INTEGER PRIMARY KEY AUTOINCREMENT,
  record_id     TEXT    NOT NULL UNIQUE,
  state         TEXT    NOT NULL CHECK (state IN ('sealed','in_flight','acknowledged','released','rejected','held')),
  sha256        TEXT    NOT NULL,
  size          INTEGER NOT NULL,
  suite         TEXT    NOT NULL,
  sealed_at     INTEGER NOT NULL,
  batch_id      TEXT,
  acked_at      INTEGER,
  receipt_status TEXT,
  reject_reason TEXT,
  released_at   INTEGER,
  tampered_at   INTEGER,
  tamper_reason TEXT,
  refusal_detail TEXT,
  refused_at    INTEGER,
  held_until    INTEGER,
  held_count    INTEGER NOT NULL DEFAULT 0
) STRICT;
INSERT INTO records_v3 (seq, record_id, state, sha256, size, suite, sealed_at, batch_id, acked_at, receipt_status, reject_reason, released_at, tampered_at, tamper_reason, refused_at)
  SELECT seq, record_id, state, sha256, size, suite, sealed_at, batch_id, acked_at, receipt_status, reject_reason, released_at, tampered_at, tamper_reason,
         CASE WHEN state = 'rejected' THEN acked_at END FROM records;
DROP TABLE records;
ALTER TABLE records_v3 RENAME TO records;
CREATE INDEX records_state ON records(state, seq);
CREATE INDEX records_batch ON records(batch_id);
CREATE INDEX records_held ON records(state, held_until);
CREATE TRIGGER records_keep_unacked BEFORE DELETE ON records
  WHEN OLD.state <> 'released'
  BEGIN SELECT RAISE(ABORT, 'vault: refusing to delete a record that is not released'); END;
CREATE TRIGGER envelopes_keep_unreleased BEFORE DELETE ON envelopes
  WHEN (SELECT state FROM records WHERE seq = OLD.seq) IS NOT 'released'
  BEGIN SELECT RAISE(ABORT, 'vault: refusing to drop the ciphertext of a record that is not released'); END;
`,
  },
];

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1].version;

export function currentVersion(db: Database.Database): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/** The oldest schema version that may use this database (meta `readable_by`; before the marker: its own version). */
export function readableBy(db: Database.Database): number {
  const v = currentVersion(db);
  try {
    const row = db.prepare(`SELECT value FROM meta WHERE key = 'readable_by'`).get() as { value: string } | undefined;
    const n = row ? Number.parseInt(row.value, 10) : NaN;
    return Number.isInteger(n) && n >= 1 && n <= v ? n : v;
  } catch {
    return v; // no meta table yet
  }
}

/** Applies pending migrations; returns the versions applied. */
export function migrate(db: Database.Database): number[] {
  const applied: number[] = [];
  for (const m of MIGRATIONS) {
    if (currentVersion(db) >= m.version) continue;
    db.transaction(() => {
      const before = currentVersion(db) === 0 ? 0 : readableBy(db);
      db.exec(m.sql);
      // the oldest code that can still use the file: a later additive step never lowers it
      const rb = Math.max(before, m.readableBy ?? m.version);
      db.prepare(`INSERT INTO meta (key, value) VALUES ('readable_by', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`).run(String(rb));
      db.pragma(`user_version = ${m.version}`);
    }).immediate();
    applied.push(m.version);
  }
  return applied;
}
