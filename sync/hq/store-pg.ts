/**
 * Headquarters store on PostgreSQL (npm `pg`, a connection pool): the same
 * schema and migrations as SQLite (sync/hq/schema.ts, one versioned
 * definition), for any number of ingest workers on any number of machines.
 *
 * What makes sharing safe:
 * - a receipt's writes (records, the conflict alarm, the receipt row) are one
 *   transaction; idempotency is the primary key (station_id, record_id) with
 *   INSERT … ON CONFLICT DO NOTHING: two workers storing the same record at the
 *   same moment serialise on the unique index, one stores, the other answers
 *   `duplicate` after the first commits (READ COMMITTED: its next statement sees it);
 * - rows of a group are inserted in record-id order, so two groups sharing records
 *   lock them in the same order;
 * - chunk sets and station registrations take a transaction-scoped advisory lock on
 *   their key, so the chunks of one batch delivered to two workers are still
 *   reassembled by exactly one of them;
 * - one open alarm per station and kind is a partial unique index (migration 3);
 * - migrations run under an advisory lock, all in one transaction; a schema newer
 *   than this code is refused before anything is written.
 * A failed statement or commit throws: the caller sends no receipt.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import pg from 'pg';
import { v7 as uuidv7 } from 'uuid';
import { MIGRATIONS, SCHEMA_SQL, SCHEMA_VERSION, SchemaTooNewError, migrationSql } from './schema';
import { fingerprintOf, keyStates, type AlarmRow, type RegisterInput, type StationKeyRow, type StationKeyState, type StationRow, type StoreOutcome } from './store';
import { CAMPAIGN_DAY_COUNTS_SQL, type AlarmInput, type AuditRow, type BatchStoreResult, type BatchToStore, type CommandRow, type CampaignDayRow, type CampaignRow, type CreateCampaignResult, type DayCountRow, type HqStoreApi, type OpsAuditRow, type QuotaRow, type StationHealthRow, type StoredRecordRow, type UnitRow } from './store-api';
import { toPublicKey } from '../wire/signed';

export interface PgStoreOptions {
  /** postgresql://user[:password]@host[:port]/database[?…] */
  url: string;
  /** Password when the URL carries none (from a file or the environment, never argv). */
  password?: string | null;
  /** Connections in the pool (default 4: a worker's group commits are serial, reads overlap them). */
  poolSize?: number;
  /** TLS to the server: false/undefined = as the URL says (sslmode); an object = node:tls options. */
  ssl?: ConnectionOptions | boolean;
  applicationName?: string;
  /** Give up connecting after this long (default 10 s). */
  connectTimeoutMs?: number;
}

/** TLS options from files (hq settings database.tls). */
export function pgTlsFromFiles(t: { caFile?: string | null; certFile?: string | null; keyFile?: string | null; rejectUnauthorized?: boolean }): ConnectionOptions {
  return {
    ...(t.caFile ? { ca: readFileSync(t.caFile) } : {}),
    ...(t.certFile ? { cert: readFileSync(t.certFile) } : {}),
    ...(t.keyFile ? { key: readFileSync(t.keyFile) } : {}),
    rejectUnauthorized: t.rejectUnauthorized ?? true,
  };
}

/** The URL without its password, for messages and logs. */
export function redactPgUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparsable database URL)';
  }
}

/** A database problem in words: what failed, where, and what to do. */
export class PgStoreError extends Error {
  constructor(message: string, readonly code?: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PgStoreError';
  }
}

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', '57P01', '57P02', '57P03', '08000', '08001', '08003', '08004', '08006']);

/** Explains a driver error (connection refused, disk full, authentication…). */
export function describePgError(e: unknown, where: string): PgStoreError {
  if (e instanceof PgStoreError || e instanceof SchemaTooNewError) return e as PgStoreError;
  const err = e as { code?: string; message?: string };
  const code = err.code;
  const msg = err.message ?? String(e);
  let hint: string;
  if (code === 'ECONNREFUSED') hint = 'nothing accepts connections there: is PostgreSQL running and listening on that host and port?';
  else if (code && CONNECTION_CODES.has(code)) hint = 'the connection to the database was lost or refused; the worker retries and sends no receipt meanwhile';
  else if (code === '53100') hint = 'the database server\'s disk is full: free space on the server (nothing was stored, no receipt was sent; the stations resend)';
  else if (code === '28P01' || code === '28000') hint = 'the database refused the credentials: check database.url / database.passwordFile';
  else if (code === '3D000') hint = 'the database does not exist: create it (createdb) or fix database.url';
  else if (code === '40P01' || code === '40001') hint = 'a concurrent transaction conflicted; the batch gets no receipt and is resent';
  else hint = 'see the PostgreSQL server log';
  return new PgStoreError(`${where}: ${msg} (${code ?? 'no code'}) — ${hint}`, code, { cause: e });
}

/**
 * Whether the error means the database cannot store anything now — server or connection gone, disk
 * full, I/O error, shutting down — as opposed to one bad statement: the worker stops taking batches.
 */
export function isStoreUnavailable(e: unknown): boolean {
  const c = (e as { code?: string }).code ?? ((e as { cause?: { code?: string } }).cause?.code);
  return isConnectionError(e) || c === '53100' || c === '53000' || c === '58030' || c === '53300';
}

/** Whether the error means the server or connection is gone (as opposed to one bad statement). */
export function isConnectionError(e: unknown): boolean {
  const c = (e as { code?: string }).code ?? ((e as { cause?: { code?: string } }).cause?.code);
  if (c && CONNECTION_CODES.has(c)) return true;
  const m = (e as Error)?.message ?? '';
  return /Connection terminated|connection.*(closed|ended)|Client has encountered a connection error|timeout exceeded when trying to connect/i.test(m);
}

// BIGINT columns hold milliseconds and counts (far below 2^53): read them as numbers.
const types = {
  getTypeParser: ((oid: number, format?: string) => {
    if (oid === 20 && format !== 'binary') return (v: string) => Number(v);
    return pg.types.getTypeParser(oid, format as 'text');
  }) as typeof pg.types.getTypeParser,
};

/** Arbitrary constant for the migration advisory lock ("hq" in ASCII). */
const MIGRATION_LOCK = 0x6871;

type Q = pg.PoolClient | pg.Pool;

export class PgHqStore implements HqStoreApi {
  readonly kind = 'postgres' as const;
  readonly where: string;
  private readonly keyCache = new Map<string, KeyObject>();
  private closed = false;

  private constructor(readonly pool: pg.Pool, url: string) {
    this.where = redactPgUrl(url);
  }

  /** Connects, migrates (or refuses a newer schema) and returns the store. */
  static async open(o: PgStoreOptions): Promise<PgHqStore> {
    const pool = new pg.Pool({
      connectionString: o.url,
      ...(o.password ? { password: o.password } : {}),
      max: o.poolSize ?? 4,
      ...(o.ssl !== undefined && o.ssl !== false ? { ssl: o.ssl } : {}),
      application_name: o.applicationName ?? 'enroll-hq',
      connectionTimeoutMillis: o.connectTimeoutMs ?? 10_000,
      idleTimeoutMillis: 30_000,
      types,
    });
    const store = new PgHqStore(pool, o.url);
    // An idle client whose server went away emits here; without a listener the process would exit.
    pool.on('error', () => undefined);
    try {
      await store.migrate();
    } catch (e) {
      await pool.end().catch(() => undefined);
      throw describePgError(e, `database ${store.where}`);
    }
    return store;
  }

  private async migrate(): Promise<void> {
    await this.tx(async (c) => {
      await c.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
      const hasMeta = await c.query("SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'meta'");
      if (hasMeta.rowCount) {
        const r = await c.query<{ v: string }>("SELECT v FROM meta WHERE k = 'schema_version'");
        const found = Number(r.rows[0]?.v ?? 0);
        if (found > SCHEMA_VERSION) throw new SchemaTooNewError(found, SCHEMA_VERSION, `database ${this.where}`);
      }
      await c.query(SCHEMA_SQL);
      await c.query("INSERT INTO meta (k, v) VALUES ('schema_version', '1') ON CONFLICT (k) DO NOTHING");
      const cur = Number((await c.query<{ v: string }>("SELECT v FROM meta WHERE k = 'schema_version'")).rows[0]!.v);
      for (const m of MIGRATIONS) {
        if (m.version <= cur) continue;
        const sql = migrationSql(m, 'postgres');
        if (sql.trim()) await c.query(sql);
        await c.query("UPDATE meta SET v = $1 WHERE k = 'schema_version'", [String(m.version)]);
      }
    });
  }

  /** Runs fn in one transaction on one pooled connection; a broken connection is discarded. */
  private async tx<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    const c = await this.pool.connect();
    let broken: Error | undefined;
    // The server going away between two statements is reported on the client; the next query fails with it.
    const onError = (e: Error): void => { broken ??= e; };
    c.on('error', onError);
    try {
      await c.query('BEGIN');
      const r = await fn(c);
      // COMMIT of a transaction the server already aborted answers ROLLBACK, not an error:
      // nothing was stored, so nothing may be receipted.
      const done = await c.query('COMMIT');
      if (done.command !== 'COMMIT') throw new PgStoreError(`the database rolled the transaction back (${done.command}) — nothing of it was stored`, '25P02');
      return r;
    } catch (e) {
      broken = e as Error;
      await c.query('ROLLBACK').catch(() => undefined);
      throw e;
    } finally {
      // A client that saw an error is not reused (it may be mid-protocol or on a dead socket).
      c.off('error', onError);
      c.release(broken);
    }
  }

  /** One statement outside a transaction; `named` statements are prepared once per connection. */
  private async q<R extends pg.QueryResultRow>(text: string | { name: string; text: string }, values: unknown[] = [], on: Q = this.pool): Promise<pg.QueryResult<R>> {
    const cfg: pg.QueryConfig = typeof text === 'string' ? { text, values } : { ...text, values };
    return on.query<R>(cfg);
  }

  async registerStation(r: RegisterInput, now = Date.now()): Promise<{ fingerprint: string; rotated: boolean }> {
    const key = toPublicKey(r.publicKey.includes('-----BEGIN') ? r.publicKey : Buffer.from(r.publicKey, 'base64'));
    if (key.asymmetricKeyType !== 'ed25519') throw new Error('station public key must be Ed25519');
    const pem = key.export({ format: 'pem', type: 'spki' }).toString();
    const fp = fingerprintOf(key);
    return this.tx(async (c) => {
      await c.query("SELECT pg_advisory_xact_lock(hashtext('station:' || $1))", [r.stationId]);
      const old = (await c.query<{ key_fingerprint: string }>('SELECT key_fingerprint FROM stations WHERE station_id = $1', [r.stationId])).rows[0];
      await c.query(`INSERT INTO stations (station_id, unit, daily_quota, public_key, key_fingerprint, created_at, registered_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7)
        ON CONFLICT (station_id) DO UPDATE SET unit = COALESCE(excluded.unit, stations.unit), daily_quota = COALESCE(excluded.daily_quota, stations.daily_quota),
          public_key = excluded.public_key, key_fingerprint = excluded.key_fingerprint, registered_at = excluded.registered_at`,
      [r.stationId, r.unit ?? null, r.dailyQuota ?? null, pem, fp, r.createdAt ?? null, now]);
      if (old && old.key_fingerprint !== fp) {
        await c.query('UPDATE station_keys SET retired_at = $1 WHERE station_id = $2 AND key_fingerprint = $3 AND retired_at IS NULL', [now, r.stationId, old.key_fingerprint]);
      }
      await c.query('INSERT INTO station_keys (station_id, key_fingerprint, public_key, registered_at) VALUES ($1, $2, $3, $4) ON CONFLICT (station_id, key_fingerprint) DO NOTHING', [r.stationId, fp, pem, now]);
      return { fingerprint: fp, rotated: !!old && old.key_fingerprint !== fp };
    });
  }

  async station(stationId: string): Promise<StationRow | undefined> {
    return (await this.q<StationRow>('SELECT * FROM stations WHERE station_id = $1', [stationId])).rows[0];
  }

  async stations(): Promise<StationRow[]> {
    return (await this.q<StationRow>('SELECT * FROM stations ORDER BY station_id')).rows;
  }

  async stationKeyStates(stationId: string): Promise<StationKeyState[]> {
    const rows = (await this.q<StationKeyRow>({ name: 'hq-station-key-states', text: 'SELECT public_key, key_fingerprint, registered_at, retired_at, valid_until, valid_through_seq, revoked_at FROM station_keys WHERE station_id = $1 ORDER BY retired_at IS NOT NULL, registered_at DESC' }, [stationId])).rows;
    return keyStates(rows, (pem) => {
      let k = this.keyCache.get(pem);
      if (!k) { k = createPublicKey(pem); if (this.keyCache.size > 10_000) this.keyCache.clear(); this.keyCache.set(pem, k); }
      return k;
    });
  }

  async revokeStation(stationId: string, limit: { until: number; throughSeq: number | null }, now = Date.now()): Promise<number> {
    const r = await this.q(`UPDATE station_keys SET revoked_at = COALESCE(revoked_at, $1),
        valid_until = CASE WHEN valid_until IS NULL OR valid_until > $2 THEN $2 ELSE valid_until END,
        valid_through_seq = CASE WHEN $3::BIGINT IS NULL THEN valid_through_seq WHEN valid_through_seq IS NULL OR valid_through_seq > $3::BIGINT THEN $3::BIGINT ELSE valid_through_seq END
      WHERE station_id = $4`, [now, limit.until, limit.throughSeq, stationId]);
    return r.rowCount ?? 0;
  }

  async limitKey(stationId: string, fingerprint: string, limit: { until: number | null; throughSeq: number | null }): Promise<void> {
    await this.q('UPDATE station_keys SET valid_until = COALESCE($1, valid_until), valid_through_seq = COALESCE($2, valid_through_seq) WHERE station_id = $3 AND key_fingerprint = $4', [limit.until, limit.throughSeq, stationId, fingerprint]);
  }

  async auditSealOf(stationId: string, recordId: string, sealedAt: number): Promise<{ seq: number; ts: number } | null> {
    const rows = (await this.q<{ seq: string | number; ts: string | number; data: string }>("SELECT seq, ts, data FROM audit_entries WHERE station_id = $1 AND ts = $2 AND kind = 'record_sealed'", [stationId, sealedAt])).rows;
    for (const r of rows) {
      try { if ((JSON.parse(r.data) as { recordId?: unknown }).recordId === recordId) return { seq: Number(r.seq), ts: Number(r.ts) }; } catch { /* not ours */ }
    }
    return null;
  }

  async auditTip(stationId: string): Promise<{ seq: number; ts: number }> {
    const r = (await this.q<{ seq: string | number; ts: string | number }>('SELECT seq, ts FROM audit_entries WHERE station_id = $1 ORDER BY seq DESC LIMIT 1', [stationId])).rows[0];
    return r ? { seq: Number(r.seq), ts: Number(r.ts) } : { seq: 0, ts: 0 };
  }

  async auditSeqAt(stationId: string, at: number): Promise<number> {
    // by chain order: the entry before the first one dated after `at` (see store.ts)
    const r = (await this.q<{ seq: string | number | null }>('SELECT MIN(seq) AS seq FROM audit_entries WHERE station_id = $1 AND ts > $2', [stationId, at])).rows[0];
    return r?.seq == null ? (await this.auditTip(stationId)).seq : Number(r.seq) - 1;
  }

  async stationKeys(stationId: string): Promise<KeyObject[]> {
    const rows = (await this.q<{ public_key: string }>({ name: 'hq-station-keys', text: 'SELECT public_key FROM station_keys WHERE station_id = $1 ORDER BY retired_at IS NOT NULL, registered_at DESC' }, [stationId])).rows;
    return rows.map((r) => {
      let k = this.keyCache.get(r.public_key);
      if (!k) {
        k = createPublicKey(r.public_key);
        if (this.keyCache.size > 10_000) this.keyCache.clear();
        this.keyCache.set(r.public_key, k);
      }
      return k;
    });
  }

  private async alarmOn(c: Q, kind: string, detail: string, stationId: string | null, recordId: string | null, now: number, occurrences: number): Promise<number> {
    const r = await c.query<{ count: number }>(`INSERT INTO alarms (id, station_id, kind, record_id, detail, at, first_at, count) VALUES ($1, $2, $3, $4, $5, $6, $6, $7)
      ON CONFLICT (kind, (COALESCE(station_id, ''))) WHERE cleared_at IS NULL
      DO UPDATE SET count = alarms.count + excluded.count, at = excluded.at, detail = excluded.detail, record_id = COALESCE(excluded.record_id, alarms.record_id)
      RETURNING count`, [uuidv7(), stationId, kind, recordId, detail.slice(0, 2000), now, occurrences]);
    return r.rows[0]!.count;
  }

  async alarm(kind: string, detail: string, stationId: string | null = null, recordId: string | null = null, now = Date.now(), occurrences = 1): Promise<number> {
    return this.alarmOn(this.pool, kind, detail, stationId, recordId, now, occurrences);
  }

  async alarms(list: AlarmInput[]): Promise<void> {
    if (list.length === 0) return;
    // Sorted, so two workers flushing the same alarms lock their rows in the same order.
    const sorted = [...list].sort((a, b) => (a.kind + (a.stationId ?? '')).localeCompare(b.kind + (b.stationId ?? '')));
    await this.tx(async (c) => { for (const a of sorted) await this.alarmOn(c, a.kind, a.detail, a.stationId, a.recordId, a.at, a.n); });
  }

  async openAlarms(): Promise<AlarmRow[]> {
    return (await this.q<AlarmRow>('SELECT id, station_id, kind, record_id, detail, at, first_at, count FROM alarms WHERE cleared_at IS NULL ORDER BY at, id')).rows;
  }

  async clearAlarms(filter: { stationId?: string; kind?: string } = {}, now = Date.now()): Promise<number> {
    const r = await this.q('UPDATE alarms SET cleared_at = $1 WHERE cleared_at IS NULL AND ($2::text IS NULL OR station_id = $2) AND ($3::text IS NULL OR kind = $3)',
      [now, filter.stationId ?? null, filter.kind ?? null]);
    return r.rowCount ?? 0;
  }

  async storedHashes(stationId: string, ids: string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    if (ids.length === 0) return out;
    const r = await this.q<{ record_id: string; sha256: string }>({ name: 'hq-stored-hashes', text: 'SELECT record_id, sha256 FROM records WHERE station_id = $1 AND record_id = ANY($2::text[])' }, [stationId, ids]);
    for (const row of r.rows) out.set(row.record_id, row.sha256);
    return out;
  }

  private async storeOne(c: pg.PoolClient, worker: string, b: BatchToStore, now: number): Promise<{ outcomes: StoreOutcome[]; receiptText: string }> {
    const byId = new Map<string, StoreOutcome>();
    for (const r of b.refused) byId.set(r.recordId, r);
    const verified = [...b.verified].sort((x, y) => (x.recordId < y.recordId ? -1 : x.recordId > y.recordId ? 1 : 0));
    for (const r of verified) {
      // Envelopes go as binary parameters (no hex/escape text round trip).
      const res = await c.query({
        name: 'hq-insert-record',
        // the station's unit as it is when the record is stored (moving the booth later keeps history)
        text: `INSERT INTO records (station_id, record_id, sha256, envelope, size, sealed_at, received_at, batch_id, worker, kind, completed_at, unit)
          VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, (SELECT unit FROM stations WHERE station_id = $1)) ON CONFLICT (station_id, record_id) DO NOTHING`,
        values: [b.stationId, r.recordId, r.sha256, r.envelope, r.envelope.length, r.sealedAt, now, b.batchId, worker, r.kind ?? null, r.completedAt ?? r.sealedAt],
      });
      if (res.rowCount === 1) {
        byId.set(r.recordId, { recordId: r.recordId, sha256: r.sha256, status: 'stored' });
        continue;
      }
      const prev = (await c.query<{ sha256: string }>({ name: 'hq-record-hash', text: 'SELECT sha256 FROM records WHERE station_id = $1 AND record_id = $2', values: [b.stationId, r.recordId] })).rows[0]!;
      if (prev.sha256 === r.sha256) {
        byId.set(r.recordId, { recordId: r.recordId, sha256: r.sha256, status: 'duplicate' });
      } else {
        await this.alarmOn(c, 'record-id-conflict', `record ${r.recordId} arrived again with another hash (stored ${prev.sha256.slice(0, 16)}…, received ${r.sha256.slice(0, 16)}…) in batch ${b.batchId}`, b.stationId, r.recordId, now, 1);
        byId.set(r.recordId, { recordId: r.recordId, sha256: r.sha256, status: 'rejected', reason: 'record-id-conflict', detail: 'a record with this id is already stored with another hash' });
      }
    }
    const outcomes = b.order.map((id) => {
      const o = byId.get(id);
      if (!o) throw new Error(`batch ${b.batchId}: record ${id} is neither verified nor refused`);
      return o;
    });
    const { receiptText, batchHash } = b.makeReceipt(outcomes);
    const count = (s: string) => outcomes.filter((o) => o.status === s).length;
    await c.query({
      name: 'hq-insert-receipt',
      text: 'INSERT INTO receipts (id, station_id, batch_id, batch_hash, stored, duplicate, rejected, held, receipt, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)',
      values: [uuidv7(), b.stationId, b.batchId, batchHash, count('stored'), count('duplicate'), count('rejected'), count('held'), receiptText, now],
    });
    return { outcomes, receiptText };
  }

  async storeBatches(worker: string, batches: BatchToStore[], now = Date.now()): Promise<BatchStoreResult[]> {
    if (batches.length === 0) return [];
    try {
      return await this.tx(async (c) => {
        const results: BatchStoreResult[] = [];
        for (const b of batches) {
          await c.query('SAVEPOINT batch');
          try {
            const r = await this.storeOne(c, worker, b, now);
            await c.query('RELEASE SAVEPOINT batch');
            results.push({ ok: true, ...r });
          } catch (e) {
            if (isConnectionError(e)) throw e; // the whole group is lost
            await c.query('ROLLBACK TO SAVEPOINT batch');
            results.push({ ok: false, error: describePgError(e, `batch ${b.batchId} of ${b.stationId}`) });
          }
        }
        return results;
      });
    } catch (e) {
      throw describePgError(e, `group commit of ${batches.length} batch(es) to ${this.where}`);
    }
  }

  async addChunk(stationId: string, batchId: string, batchHash: string, index: number, count: number, offset: number, data: Buffer, now = Date.now()): Promise<Buffer | null> {
    return this.tx(async (c) => {
      // Chunks of one batch may reach different workers: one at a time per batch, so the last one sees all.
      await c.query("SELECT pg_advisory_xact_lock(hashtext('chunks:' || $1 || '/' || $2))", [stationId, batchId]);
      await c.query(`INSERT INTO chunks (station_id, batch_id, chunk_count, chunk_index, byte_offset, batch_hash, data, received_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (station_id, batch_id, chunk_count, chunk_index) DO NOTHING`,
      [stationId, batchId, count, index, offset, batchHash, data, now]);
      const have = (await c.query<{ n: number }>('SELECT COUNT(*) AS n FROM chunks WHERE station_id = $1 AND batch_id = $2 AND chunk_count = $3 AND batch_hash = $4',
        [stationId, batchId, count, batchHash])).rows[0]!;
      if (have.n < count) return null;
      const rows = (await c.query<{ chunk_index: number; byte_offset: number; data: Buffer }>('SELECT chunk_index, byte_offset, data FROM chunks WHERE station_id = $1 AND batch_id = $2 AND chunk_count = $3 AND batch_hash = $4 ORDER BY chunk_index',
        [stationId, batchId, count, batchHash])).rows;
      let off = 0;
      for (const r of rows) {
        if (r.byte_offset !== off) throw new Error(`chunk ${r.chunk_index} of batch ${batchId} starts at ${r.byte_offset}, expected ${off}`);
        off += r.data.length;
      }
      await c.query('DELETE FROM chunks WHERE station_id = $1 AND batch_id = $2', [stationId, batchId]);
      return Buffer.concat(rows.map((r) => r.data));
    });
  }

  async pruneChunks(maxAgeMs: number, now = Date.now()): Promise<number> {
    return (await this.q('DELETE FROM chunks WHERE received_at < $1', [now - maxAgeMs])).rowCount ?? 0;
  }

  async recordCount(stationId?: string): Promise<number> {
    const r = stationId
      ? await this.q<{ n: number }>('SELECT COUNT(*) AS n FROM records WHERE station_id = $1', [stationId])
      : await this.q<{ n: number }>('SELECT COUNT(*) AS n FROM records');
    return r.rows[0]!.n;
  }

  async findRecord(recordId: string): Promise<StoredRecordRow | undefined> {
    return (await this.q<StoredRecordRow>('SELECT station_id, record_id, sha256, envelope, sealed_at, received_at FROM records WHERE record_id = $1 LIMIT 1', [recordId])).rows[0];
  }

  async recordsSince(since: number, limit: number, after?: { receivedAt: number; recordId: string }): Promise<StoredRecordRow[]> {
    const a = after ?? { receivedAt: -1, recordId: '' };
    return (await this.q<StoredRecordRow>(`SELECT station_id, record_id, sha256, envelope, sealed_at, received_at FROM records
      WHERE received_at >= $1 AND (received_at, record_id) > ($2::bigint, $3::text) ORDER BY received_at, record_id LIMIT $4`, [since, a.receivedAt, a.recordId, limit])).rows;
  }

  async upsertStatus(stationId: string, state: string, session: number, at: number): Promise<boolean> {
    // One statement: a will ("lost") from an older session than the stored one changes nothing.
    const r = await this.q(`INSERT INTO fleet (station_id, state, session, status_at) VALUES ($1, $2, $3, $4)
      ON CONFLICT (station_id) DO UPDATE SET state = excluded.state, session = excluded.session, status_at = excluded.status_at
      WHERE fleet.session IS NULL OR excluded.session >= fleet.session`, [stationId, state, session, at]);
    return (r.rowCount ?? 0) === 1;
  }

  async upsertHealth(stationId: string, healthJson: string, at: number): Promise<void> {
    await this.q(`INSERT INTO fleet (station_id, health, health_at) VALUES ($1, $2, $3)
      ON CONFLICT (station_id) DO UPDATE SET health = excluded.health, health_at = excluded.health_at`, [stationId, healthJson, at]);
  }

  async addEvent(id: string, stationId: string, kind: string, at: number, data: string | null, now = Date.now()): Promise<void> {
    await this.q('INSERT INTO events (id, station_id, kind, at, data, received_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING', [id, stationId, kind, at, data, now]);
  }

  async lastReceiptAt(stationId: string): Promise<number | null> {
    return (await this.q<{ t: number | null }>('SELECT MAX(created_at) AS t FROM receipts WHERE station_id = $1', [stationId])).rows[0]!.t;
  }

  async lastReceipts(): Promise<Map<string, number>> {
    const rows = (await this.q<{ station_id: string; t: number }>('SELECT station_id, MAX(created_at) AS t FROM receipts GROUP BY station_id')).rows;
    return new Map(rows.map((r) => [r.station_id, r.t]));
  }

  async commandOf(id: string): Promise<{ station_id: string; name: string; result_status: string | null } | undefined> {
    return (await this.q<{ station_id: string; name: string; result_status: string | null }>('SELECT station_id, name, result_status FROM commands WHERE id = $1', [id])).rows[0];
  }

  async recordCommand(c: { id: string; target: string; name: string; args: Record<string, unknown>; issuedAt: number; expiresAt: number; sentBy?: string }): Promise<void> {
    await this.q('INSERT INTO commands (id, station_id, name, args, issued_at, expires_at, sent_by) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING',
      [c.id, c.target, c.name, JSON.stringify(c.args), c.issuedAt, c.expiresAt, c.sentBy ?? null]);
  }

  async ackAlarm(id: string, by: string, now = Date.now()): Promise<AlarmRow | null> {
    const r = await this.q<AlarmRow>('UPDATE alarms SET cleared_at = $1, cleared_by = $2 WHERE id = $3 AND cleared_at IS NULL RETURNING id, station_id, kind, record_id, detail, at, first_at, count', [now, by, id]);
    return r.rows[0] ?? null;
  }

  async recentCommands(limit: number): Promise<CommandRow[]> {
    return (await this.q<CommandRow>('SELECT id, station_id, name, issued_at, expires_at, sent_by, result_status, result, result_at FROM commands ORDER BY issued_at DESC, id DESC LIMIT $1', [limit])).rows;
  }

  async opsAudit(e: { user: string; action: string; target?: string | null; detail: string }, now = Date.now()): Promise<void> {
    await this.q('INSERT INTO ops_audit (id, at, user_name, action, target, detail) VALUES ($1, $2, $3, $4, $5, $6)', [uuidv7(), now, e.user, e.action, e.target ?? null, e.detail]);
  }

  async opsAuditLog(limit: number): Promise<OpsAuditRow[]> {
    return (await this.q<OpsAuditRow>('SELECT id, at, user_name, action, target, detail FROM ops_audit ORDER BY at DESC, id DESC LIMIT $1', [limit])).rows;
  }

  async recordCommandResult(id: string, status: string, resultJson: string, at: number): Promise<void> {
    await this.q('UPDATE commands SET result_status = $1, result = $2, result_at = $3 WHERE id = $4', [status, resultJson, at, id]);
  }

  async auditHead(stationId: string): Promise<{ seq: number; hash: string }> {
    const r = (await this.q<{ seq: number; hash: string }>('SELECT seq, hash FROM audit_entries WHERE station_id = $1 ORDER BY seq DESC LIMIT 1', [stationId])).rows[0];
    return r ?? { seq: 0, hash: '0'.repeat(64) };
  }

  async auditHashAt(stationId: string, seq: number): Promise<string | null> {
    return (await this.q<{ hash: string }>('SELECT hash FROM audit_entries WHERE station_id = $1 AND seq = $2', [stationId, seq])).rows[0]?.hash ?? null;
  }

  async appendAudit(stationId: string, entries: AuditRow[], now = Date.now()): Promise<void> {
    if (entries.length === 0) return;
    await this.tx(async (c) => {
      for (const e of entries) {
        await c.query(`INSERT INTO audit_entries (station_id, seq, ts, kind, data, prev_hash, hash, sig, received_at)
          VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (station_id, seq) DO NOTHING`,
        [stationId, e.seq, e.ts, e.kind, JSON.stringify(e.data), e.prevHash, e.hash, e.sig ?? null, now]);
      }
    });
  }

  async notePersons(entries: { person: string; stationId: string; recordId: string }[], now = Date.now()): Promise<{ stationId: string; recordId: string }[]> {
    const out: { stationId: string; recordId: string }[] = [];
    for (const e of entries) {
      await this.q('INSERT INTO person_index (person, station_id, record_id, first_at) VALUES ($1, $2, $3, $4) ON CONFLICT (person) DO NOTHING', [e.person, e.stationId, e.recordId, now]);
      const r = (await this.q<{ station_id: string; record_id: string }>('SELECT station_id, record_id FROM person_index WHERE person = $1', [e.person])).rows[0]!;
      out.push({ stationId: r.station_id, recordId: r.record_id });
    }
    return out;
  }

  async logOpening(stationId: string, recordId: string, operator: string, reason: string, now = Date.now()): Promise<void> {
    await this.q('INSERT INTO record_openings (id, station_id, record_id, operator, reason, at) VALUES ($1, $2, $3, $4, $5, $6)', [uuidv7(), stationId, recordId, operator, reason, now]);
  }

  async createCampaign(c: Omit<CampaignRow, 'created_at'>, days: CampaignDayRow[], o: { allowOverlap?: boolean; now?: number } = {}): Promise<CreateCampaignResult> {
    return this.tx(async (t): Promise<CreateCampaignResult> => {
      // one creation at a time, so two overlapping campaigns cannot both pass the check
      await t.query("SELECT pg_advisory_xact_lock(hashtext('campaigns'))");
      if ((await t.query('SELECT 1 FROM campaigns WHERE id = $1', [c.id])).rowCount) return { ok: false, reason: 'exists' };
      if (!o.allowOverlap) {
        const over = (await t.query<CampaignRow>('SELECT * FROM campaigns WHERE first_day <= $1 AND last_day >= $2 ORDER BY first_day', [c.last_day, c.first_day])).rows;
        if (over.length) return { ok: false, reason: 'overlap', with: over };
      }
      await t.query('INSERT INTO campaigns (id, name, first_day, last_day, time_zone, created_at) VALUES ($1, $2, $3, $4, $5, $6)', [c.id, c.name, c.first_day, c.last_day, c.time_zone, o.now ?? Date.now()]);
      if (days.length) {
        await t.query(`INSERT INTO campaign_days (campaign_id, day, start_at, end_at)
          SELECT $1, d, s, e FROM UNNEST($2::text[], $3::bigint[], $4::bigint[]) AS x(d, s, e)`, [c.id, days.map((d) => d.day), days.map((d) => d.start_at), days.map((d) => d.end_at)]);
      }
      return { ok: true };
    });
  }

  async campaigns(): Promise<CampaignRow[]> {
    return (await this.q<CampaignRow>('SELECT * FROM campaigns ORDER BY first_day, id')).rows;
  }

  async campaign(id: string): Promise<CampaignRow | undefined> {
    return (await this.q<CampaignRow>('SELECT * FROM campaigns WHERE id = $1', [id])).rows[0];
  }

  async campaignDays(id: string): Promise<CampaignDayRow[]> {
    return (await this.q<CampaignDayRow>('SELECT day, start_at, end_at FROM campaign_days WHERE campaign_id = $1 ORDER BY day', [id])).rows;
  }

  async importUnits(units: UnitRow[], quotas?: { campaignId: string; rows: QuotaRow[] }): Promise<void> {
    await this.tx(async (t) => {
      if (units.length) {
        await t.query(`INSERT INTO units (code, name, parent, level) SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[])
          ON CONFLICT (code) DO UPDATE SET name = excluded.name, parent = excluded.parent, level = excluded.level`,
        [units.map((u) => u.code), units.map((u) => u.name), units.map((u) => u.parent), units.map((u) => u.level)]);
      }
      const rows = quotas?.rows ?? [];
      if (rows.length) {
        await t.query(`INSERT INTO campaign_quotas (campaign_id, unit, enrollments, activations) SELECT $1, * FROM UNNEST($2::text[], $3::int[], $4::int[])
          ON CONFLICT (campaign_id, unit) DO UPDATE SET enrollments = excluded.enrollments, activations = excluded.activations`,
        [quotas!.campaignId, rows.map((x) => x.unit), rows.map((x) => x.enrollments), rows.map((x) => x.activations)]);
      }
    });
  }

  async units(): Promise<UnitRow[]> {
    return (await this.q<UnitRow>('SELECT code, name, parent, level FROM units ORDER BY code')).rows;
  }

  async setQuota(campaignId: string, x: QuotaRow): Promise<void> {
    await this.q(`INSERT INTO campaign_quotas (campaign_id, unit, enrollments, activations) VALUES ($1, $2, $3, $4)
      ON CONFLICT (campaign_id, unit) DO UPDATE SET enrollments = excluded.enrollments, activations = excluded.activations`, [campaignId, x.unit, x.enrollments, x.activations]);
  }

  async quotas(campaignId: string): Promise<QuotaRow[]> {
    return (await this.q<QuotaRow>('SELECT unit, enrollments, activations FROM campaign_quotas WHERE campaign_id = $1 ORDER BY unit', [campaignId])).rows;
  }

  async campaignDayCounts(campaignId: string, throughDay?: string): Promise<DayCountRow[]> {
    return (await this.q<DayCountRow>({ name: 'hq-campaign-day-counts', text: CAMPAIGN_DAY_COUNTS_SQL }, [campaignId, throughDay ?? null, throughDay ?? null])).rows;
  }

  async stationHealth(): Promise<StationHealthRow[]> {
    return (await this.q<StationHealthRow>('SELECT s.station_id, s.unit, f.health, f.health_at FROM stations s LEFT JOIN fleet f ON f.station_id = s.station_id ORDER BY s.station_id')).rows;
  }

  async ping(): Promise<void> {
    await this.pool.query('SELECT 1');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }
}
