/**
 * Headquarters storage schema. Plain SQL that runs unchanged on SQLite (the
 * default, via better-sqlite3) and on PostgreSQL: TEXT/BIGINT/INTEGER/BYTEA
 * column types (SQLite stores BYTEA values as BLOBs), no AUTOINCREMENT (ids are
 * UUIDv7 text), `INSERT … ON CONFLICT … DO NOTHING/UPDATE` for idempotency.
 * Times are milliseconds since the Unix epoch.
 */

/** The two databases headquarters runs on. */
export type Dialect = 'sqlite' | 'postgres';

/**
 * One migration: portable SQL for both databases, or a statement list per
 * database where they must differ (storage parameters, partial unique indexes
 * that only one of them uses). Either way one version number for both.
 */
export interface Migration {
  version: number;
  sql: string | Record<Dialect, string>;
}

/** The SQL of a migration for one database ('' when it changes nothing there). */
export function migrationSql(m: Migration, dialect: Dialect): string {
  return typeof m.sql === 'string' ? m.sql : m.sql[dialect];
}

/** A database written by a newer headquarters: refused, never downgraded or written to. */
export class SchemaTooNewError extends Error {
  constructor(readonly found: number, readonly known: number, where: string) {
    super(`${where}: the headquarters database has schema version ${found}, this hq knows versions up to ${known}; `
      + 'it was written by a newer hq — upgrade this hq (every worker sharing the database must run the same or a newer version); nothing was written');
    this.name = 'SchemaTooNewError';
  }
}

export const SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS meta (
  k TEXT PRIMARY KEY,
  v TEXT NOT NULL
);

-- Registry of stations and their Ed25519 public keys (from \`station provision --json\`).
CREATE TABLE IF NOT EXISTS stations (
  station_id TEXT PRIMARY KEY,
  unit TEXT,
  daily_quota INTEGER,
  public_key TEXT NOT NULL,          -- current key, SPKI PEM
  key_fingerprint TEXT NOT NULL,
  created_at BIGINT,                  -- when the station was provisioned
  registered_at BIGINT NOT NULL
);

-- Every key a station ever had (records sealed before a rotation still verify).
CREATE TABLE IF NOT EXISTS station_keys (
  station_id TEXT NOT NULL,
  key_fingerprint TEXT NOT NULL,
  public_key TEXT NOT NULL,
  registered_at BIGINT NOT NULL,
  retired_at BIGINT,
  PRIMARY KEY (station_id, key_fingerprint)
);

-- Sealed records exactly as the station signed them. Idempotent on (station_id, record_id).
CREATE TABLE IF NOT EXISTS records (
  station_id TEXT NOT NULL,
  record_id TEXT NOT NULL,
  sha256 TEXT NOT NULL,
  envelope BYTEA NOT NULL,
  size INTEGER NOT NULL,
  sealed_at BIGINT NOT NULL,
  received_at BIGINT NOT NULL,
  batch_id TEXT NOT NULL,
  worker TEXT NOT NULL,
  PRIMARY KEY (station_id, record_id)
);
CREATE INDEX IF NOT EXISTS records_by_id ON records (record_id);
CREATE INDEX IF NOT EXISTS records_by_sealed ON records (station_id, sealed_at);

-- Every receipt published (a resent batch gets a new one, answering "duplicate").
CREATE TABLE IF NOT EXISTS receipts (
  id TEXT PRIMARY KEY,
  station_id TEXT NOT NULL,
  batch_id TEXT NOT NULL,
  batch_hash TEXT NOT NULL,
  stored INTEGER NOT NULL,
  duplicate INTEGER NOT NULL,
  rejected INTEGER NOT NULL,
  receipt TEXT NOT NULL,              -- the signed message as published
  created_at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS receipts_by_station ON receipts (station_id, created_at);

-- Slices of batches too large for one packet, until all have arrived.
CREATE TABLE IF NOT EXISTS chunks (
  station_id TEXT NOT NULL,
  batch_id TEXT NOT NULL,
  chunk_count INTEGER NOT NULL,
  chunk_index INTEGER NOT NULL,
  byte_offset BIGINT NOT NULL,
  batch_hash TEXT NOT NULL,
  data BYTEA NOT NULL,
  received_at BIGINT NOT NULL,
  PRIMARY KEY (station_id, batch_id, chunk_count, chunk_index)
);

-- Things a human must look at: same record id with another hash, bad signatures,
-- unknown stations, audit chain breaks, forged messages.
CREATE TABLE IF NOT EXISTS alarms (
  id TEXT PRIMARY KEY,
  station_id TEXT,
  kind TEXT NOT NULL,
  record_id TEXT,
  detail TEXT NOT NULL,
  at BIGINT NOT NULL,
  cleared_at BIGINT
);
CREATE INDEX IF NOT EXISTS alarms_open ON alarms (cleared_at, at);

-- Each station's audit chain as verified at headquarters (consecutive from seq 1).
CREATE TABLE IF NOT EXISTS audit_entries (
  station_id TEXT NOT NULL,
  seq BIGINT NOT NULL,
  ts BIGINT NOT NULL,
  kind TEXT NOT NULL,
  data TEXT NOT NULL,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL,
  sig TEXT,
  received_at BIGINT NOT NULL,
  PRIMARY KEY (station_id, seq)
);

-- Latest retained status and health per station.
CREATE TABLE IF NOT EXISTS fleet (
  station_id TEXT PRIMARY KEY,
  state TEXT,
  session BIGINT,
  status_at BIGINT,
  health TEXT,
  health_at BIGINT
);

CREATE TABLE IF NOT EXISTS events (
  id TEXT PRIMARY KEY,
  station_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  at BIGINT NOT NULL,
  data TEXT,
  received_at BIGINT NOT NULL
);

-- Signed commands sent by ops and the stations' answers.
CREATE TABLE IF NOT EXISTS commands (
  id TEXT PRIMARY KEY,
  station_id TEXT NOT NULL,
  name TEXT NOT NULL,
  args TEXT NOT NULL,
  issued_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  result_status TEXT,
  result TEXT,
  result_at BIGINT
);

-- Who opened which record, when and why (\`hq open\`).
CREATE TABLE IF NOT EXISTS record_openings (
  id TEXT PRIMARY KEY,
  station_id TEXT NOT NULL,
  record_id TEXT NOT NULL,
  operator TEXT NOT NULL,
  reason TEXT NOT NULL,
  at BIGINT NOT NULL
);
`;

/**
 * Migrations from SCHEMA_SQL (version 1) upwards, each applied once in its own
 * transaction (meta.schema_version). Portable SQL only, as above.
 */
export const MIGRATIONS: Migration[] = [
  {
    // Alarms aggregated per station and kind (a count and a first/last time, not a row per message);
    // held records counted in receipts.
    version: 2,
    sql: `
ALTER TABLE alarms ADD COLUMN count BIGINT NOT NULL DEFAULT 1;
ALTER TABLE alarms ADD COLUMN first_at BIGINT;
UPDATE alarms SET first_at = at WHERE first_at IS NULL;
CREATE INDEX IF NOT EXISTS alarms_by_station_kind ON alarms (station_id, kind, cleared_at);
ALTER TABLE receipts ADD COLUMN held INTEGER NOT NULL DEFAULT 0;
`,
  },
  {
    // PostgreSQL only (SQLite keeps blobs in its own overflow pages and serialises writers anyway):
    // - envelopes are sealed (HPKE ciphertext, incompressible): STORAGE EXTERNAL keeps them out of line
    //   in TOAST without the compression attempt, so the records heap stays a narrow row per record
    //   (docs/scaling.md: measured);
    // - one open alarm per station and kind, enforced by the database, so workers on several machines
    //   count up the same row (INSERT … ON CONFLICT) instead of opening one each.
    version: 3,
    sql: {
      sqlite: '',
      postgres: `
ALTER TABLE records ALTER COLUMN envelope SET STORAGE EXTERNAL;
ALTER TABLE chunks ALTER COLUMN data SET STORAGE EXTERNAL;
CREATE UNIQUE INDEX IF NOT EXISTS alarms_one_open ON alarms (kind, (COALESCE(station_id, ''))) WHERE cleared_at IS NULL;
`,
    },
  },
  {
    // Revocation and retirement by the station's audit chain (#13 item 5): a key is trusted for
    // records whose record_sealed entry is at most valid_through_seq in the chain headquarters
    // verified, and at most valid_until by the chain's own (station-signed) time. A record is placed
    // in the chain by its sealedAt, which is the ts of its record_sealed entry.
    version: 4,
    sql: `
ALTER TABLE station_keys ADD COLUMN valid_until BIGINT;
ALTER TABLE station_keys ADD COLUMN valid_through_seq BIGINT;
ALTER TABLE station_keys ADD COLUMN revoked_at BIGINT;
CREATE INDEX IF NOT EXISTS audit_entries_ts ON audit_entries (station_id, ts);
`,
  },
  {
    // The person index (#22 item 2): the first record stored for each person (keyed hash of the
    // national ID number, never the number), so the same person enrolled at another booth is flagged.
    version: 5,
    sql: `
CREATE TABLE IF NOT EXISTS person_index (
  person TEXT PRIMARY KEY,
  station_id TEXT NOT NULL,
  record_id TEXT NOT NULL,
  first_at BIGINT NOT NULL
);
`,
  },
  {
    // Campaigns (#20 item 3, docs/campaigns.md). Each record keeps what it is and when it was done, as
    // the validator read it from inside the sealed record (kind, completion time by headquarters'
    // time when the booth had it), and the unit its station belonged to when it was stored, so that
    // moving a booth later does not rewrite history. Records stored before this migration get the
    // unit their station has now and their sealing time; their kind stays NULL (counted as unknown).
    // Campaigns, units (ward → district → city) and quotas are data; campaign_days holds each
    // campaign day's bounds in ms in the campaign's time zone, so counting by day is one range join
    // on records_by_completed (an index-only scan) on both databases.
    version: 6,
    sql: `
ALTER TABLE records ADD COLUMN kind TEXT;
ALTER TABLE records ADD COLUMN completed_at BIGINT;
ALTER TABLE records ADD COLUMN unit TEXT;
UPDATE records SET completed_at = sealed_at, unit = (SELECT s.unit FROM stations s WHERE s.station_id = records.station_id);
CREATE INDEX IF NOT EXISTS records_by_completed ON records (completed_at, unit, kind);
CREATE TABLE IF NOT EXISTS campaigns (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  first_day TEXT NOT NULL,
  last_day TEXT NOT NULL,
  time_zone TEXT NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS campaign_days (
  campaign_id TEXT NOT NULL,
  day TEXT NOT NULL,
  start_at BIGINT NOT NULL,
  end_at BIGINT NOT NULL,
  PRIMARY KEY (campaign_id, day)
);
CREATE TABLE IF NOT EXISTS units (
  code TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  parent TEXT,
  level TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS units_by_parent ON units (parent);
CREATE TABLE IF NOT EXISTS campaign_quotas (
  campaign_id TEXT NOT NULL,
  unit TEXT NOT NULL,
  enrollments INTEGER,
  activations INTEGER,
  PRIMARY KEY (campaign_id, unit)
);
`,
  },
  {
    // The ops dashboard (#20): who acknowledged an alarm, who sent a command from the page, and an
    // audit log of what operators did there (login failures included). Version 7 (6 is the campaign data).
    version: 7,
    sql: `
ALTER TABLE alarms ADD COLUMN cleared_by TEXT;
ALTER TABLE commands ADD COLUMN sent_by TEXT;
CREATE INDEX IF NOT EXISTS commands_by_issued ON commands (issued_at);
CREATE TABLE IF NOT EXISTS ops_audit (
  id TEXT PRIMARY KEY,
  at BIGINT NOT NULL,
  user_name TEXT NOT NULL,
  action TEXT NOT NULL,
  target TEXT,
  detail TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ops_audit_at ON ops_audit (at);
`,
  },
];

/** Version after every migration above; SCHEMA_SQL is version 1. */
export const SCHEMA_VERSION = MIGRATIONS.reduce((v, m) => Math.max(v, m.version), 1);
