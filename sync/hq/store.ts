/**
 * Headquarters database access (SQLite by default). Every write that decides
 * what a receipt says happens in one IMMEDIATE transaction, so several ingest
 * workers can share one database file.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { createPublicKey, type KeyObject } from 'node:crypto';
import { v7 as uuidv7 } from 'uuid';
import { MIGRATIONS, SCHEMA_SQL, SCHEMA_VERSION, SchemaTooNewError, migrationSql } from './schema';
import type { ReceiptResult } from '../wire/payloads';
import { keyId, rawPublicKey, toPublicKey } from '../wire/signed';

export type Db = Database.Database;

export interface StationRow {
  station_id: string;
  unit: string | null;
  daily_quota: number | null;
  public_key: string;
  key_fingerprint: string;
  created_at: number | null;
  registered_at: number;
}

export interface StoredRecordInput {
  recordId: string;
  sha256: string;
  envelope: Buffer;
  sealedAt: number;
  /** What the record is (from inside it, by the validator); null/absent: unknown (counted as such). */
  kind?: string | null;
  /** When it was completed (ms, headquarters' time when the booth had it); absent: its sealedAt. */
  completedAt?: number | null;
}

/** What the receipt says about one record. */
export type StoreOutcome = ReceiptResult;

export interface AlarmRow {
  id: string;
  station_id: string | null;
  kind: string;
  record_id: string | null;
  detail: string;
  /** Time of the latest occurrence. */
  at: number;
  first_at: number;
  count: number;
}

export function openHqDb(path: string): Db {
  mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  // 64 KiB pages for a new database (an existing one keeps its own): envelopes are 100–400 KB blobs,
  // and with 4 KiB pages each is a chain of ~100 overflow pages, written twice (WAL, then checkpoint).
  // Measured here: durable inserts of 150 KB envelopes go from ~180 to ~300 MB/s.
  db.pragma('page_size = 65536');
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('busy_timeout = 10000');
  // A database of a newer hq is refused before anything is created or migrated in it.
  if (db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").get()) {
    const row = db.prepare("SELECT v FROM meta WHERE k = 'schema_version'").get() as { v: string } | undefined;
    const found = Number(row?.v ?? 0);
    if (found > SCHEMA_VERSION) { db.close(); throw new SchemaTooNewError(found, SCHEMA_VERSION, path); }
  }
  db.exec(SCHEMA_SQL);
  db.prepare('INSERT INTO meta (k, v) VALUES (?, ?) ON CONFLICT (k) DO NOTHING').run('schema_version', '1');
  for (const m of MIGRATIONS) {
    db.transaction(() => {
      const cur = Number((db.prepare("SELECT v FROM meta WHERE k = 'schema_version'").get() as { v: string }).v);
      if (cur >= m.version) return; // another worker migrated meanwhile
      const sql = migrationSql(m, 'sqlite');
      if (sql.trim()) db.exec(sql);
      db.prepare("UPDATE meta SET v = ? WHERE k = 'schema_version'").run(String(m.version));
    }).immediate();
  }
  return db;
}

/** Public key fingerprint as written by the wire layer: SHA-256(raw key) hex, first 16 chars. */
export function fingerprintOf(k: KeyObject): string {
  return keyId(k);
}

export interface RegisterInput {
  stationId: string;
  unit?: string | null;
  dailyQuota?: number | null;
  publicKey: string; // SPKI PEM or base64 raw/DER
  createdAt?: number | null;
}

/** A station key with the limits revocation or retirement put on it (null: none). */
export interface StationKeyState {
  key: KeyObject;
  fingerprint: string;
  registeredAt: number;
  retiredAt: number | null;
  /** Chain time (the station-signed ts of the record's record_sealed entry) after which the key is not trusted. */
  validUntil: number | null;
  /** Chain position through which the key is trusted. */
  validThroughSeq: number | null;
  revokedAt: number | null;
}

export interface StationKeyRow {
  public_key: string; key_fingerprint: string; registered_at: number; retired_at: number | null;
  valid_until: number | null; valid_through_seq: number | null; revoked_at: number | null;
}

const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

/** Parses key rows (shared by both stores). */
export function keyStates(rows: StationKeyRow[], parse: (pem: string) => KeyObject): StationKeyState[] {
  return rows.map((r) => ({
    key: parse(r.public_key), fingerprint: r.key_fingerprint, registeredAt: Number(r.registered_at), retiredAt: num(r.retired_at),
    validUntil: num(r.valid_until), validThroughSeq: num(r.valid_through_seq), revokedAt: num(r.revoked_at),
  }));
}

export class HqStore {
  constructor(readonly db: Db) {}

  registerStation(r: RegisterInput, now = Date.now()): { fingerprint: string; rotated: boolean } {
    const key = toPublicKey(r.publicKey.includes('-----BEGIN') ? r.publicKey : Buffer.from(r.publicKey, 'base64'));
    if (key.asymmetricKeyType !== 'ed25519') throw new Error('station public key must be Ed25519');
    const pem = key.export({ format: 'pem', type: 'spki' }).toString();
    const fp = fingerprintOf(key);
    return this.db.transaction(() => {
      const old = this.db.prepare('SELECT key_fingerprint FROM stations WHERE station_id = ?').get(r.stationId) as { key_fingerprint: string } | undefined;
      this.db.prepare(`INSERT INTO stations (station_id, unit, daily_quota, public_key, key_fingerprint, created_at, registered_at)
        VALUES (?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (station_id) DO UPDATE SET unit = COALESCE(excluded.unit, stations.unit), daily_quota = COALESCE(excluded.daily_quota, stations.daily_quota),
          public_key = excluded.public_key, key_fingerprint = excluded.key_fingerprint, registered_at = excluded.registered_at`)
        .run(r.stationId, r.unit ?? null, r.dailyQuota ?? null, pem, fp, r.createdAt ?? null, now);
      if (old && old.key_fingerprint !== fp) {
        this.db.prepare('UPDATE station_keys SET retired_at = ? WHERE station_id = ? AND key_fingerprint = ? AND retired_at IS NULL').run(now, r.stationId, old.key_fingerprint);
      }
      this.db.prepare('INSERT INTO station_keys (station_id, key_fingerprint, public_key, registered_at) VALUES (?, ?, ?, ?) ON CONFLICT (station_id, key_fingerprint) DO NOTHING')
        .run(r.stationId, fp, pem, now);
      return { fingerprint: fp, rotated: !!old && old.key_fingerprint !== fp };
    }).immediate();
  }

  station(stationId: string): StationRow | undefined {
    return this.db.prepare('SELECT * FROM stations WHERE station_id = ?').get(stationId) as StationRow | undefined;
  }

  stations(): StationRow[] {
    return this.db.prepare('SELECT * FROM stations ORDER BY station_id').all() as StationRow[];
  }

  /** Parsed keys by PEM: every batch needs its station's keys, and parsing a PEM costs ~0.15 ms. */
  private readonly keyCache = new Map<string, KeyObject>();

  /** All keys of a station, current first (read from the database each time: another worker may register). */
  stationKeys(stationId: string): KeyObject[] {
    const rows = this.db.prepare('SELECT public_key FROM station_keys WHERE station_id = ? ORDER BY retired_at IS NOT NULL, registered_at DESC').all(stationId) as { public_key: string }[];
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

  /** Every key of a station with its limits, current first. */
  stationKeyStates(stationId: string): StationKeyState[] {
    const rows = this.db.prepare('SELECT public_key, key_fingerprint, registered_at, retired_at, valid_until, valid_through_seq, revoked_at FROM station_keys WHERE station_id = ? ORDER BY retired_at IS NOT NULL, registered_at DESC').all(stationId) as StationKeyRow[];
    return keyStates(rows, (pem) => this.parsedKey(pem));
  }

  private parsedKey(pem: string): KeyObject {
    let k = this.keyCache.get(pem);
    if (!k) {
      k = createPublicKey(pem);
      if (this.keyCache.size > 10_000) this.keyCache.clear();
      this.keyCache.set(pem, k);
    }
    return k;
  }

  /**
   * Revokes every key of the station: trusted only for records sealed through
   * chain position `throughSeq` (when given) and chain time `until`. Keeps the
   * tighter of an earlier limit. Returns how many keys it limited.
   */
  revokeStation(stationId: string, limit: { until: number; throughSeq: number | null }, now = Date.now()): number {
    return this.db.prepare(`UPDATE station_keys SET revoked_at = COALESCE(revoked_at, ?),
        valid_until = CASE WHEN valid_until IS NULL OR valid_until > ? THEN ? ELSE valid_until END,
        valid_through_seq = CASE WHEN ? IS NULL THEN valid_through_seq WHEN valid_through_seq IS NULL OR valid_through_seq > ? THEN ? ELSE valid_through_seq END
      WHERE station_id = ?`).run(now, limit.until, limit.until, limit.throughSeq, limit.throughSeq, limit.throughSeq, stationId).changes;
  }

  /** Limits one key (a rotation: the old key is trusted through the rotation's place in the chain). */
  limitKey(stationId: string, fingerprint: string, limit: { until: number | null; throughSeq: number | null }): void {
    this.db.prepare('UPDATE station_keys SET valid_until = COALESCE(?, valid_until), valid_through_seq = COALESCE(?, valid_through_seq) WHERE station_id = ? AND key_fingerprint = ?')
      .run(limit.until, limit.throughSeq, stationId, fingerprint);
  }

  /** The record_sealed entry of this record in the station's verified chain (found by its ts = sealedAt), or null. */
  auditSealOf(stationId: string, recordId: string, sealedAt: number): { seq: number; ts: number } | null {
    const rows = this.db.prepare("SELECT seq, ts, data FROM audit_entries WHERE station_id = ? AND ts = ? AND kind = 'record_sealed'").all(stationId, sealedAt) as { seq: number; ts: number; data: string }[];
    for (const r of rows) {
      try { if ((JSON.parse(r.data) as { recordId?: unknown }).recordId === recordId) return { seq: r.seq, ts: r.ts }; } catch { /* not ours */ }
    }
    return null;
  }

  /** The last entry of the station's verified chain (seq 0 when none). */
  auditTip(stationId: string): { seq: number; ts: number } {
    const r = this.db.prepare('SELECT seq, ts FROM audit_entries WHERE station_id = ? ORDER BY seq DESC LIMIT 1').get(stationId) as { seq: number; ts: number } | undefined;
    return r ?? { seq: 0, ts: 0 };
  }

  /**
   * Where chain time `at` falls in chain order: the entry before the first one
   * dated after `at` (the tip when none is). By order, not by the largest seq
   * dated ≤ at: an entry dated back after that point does not move the cutoff.
   */
  auditSeqAt(stationId: string, at: number): number {
    const r = this.db.prepare('SELECT MIN(seq) AS seq FROM audit_entries WHERE station_id = ? AND ts > ?').get(stationId, at) as { seq: number | null };
    return r.seq !== null ? r.seq - 1 : this.auditTip(stationId).seq;
  }

  /**
   * Raises an alarm, aggregated: while an alarm of this kind is open for the
   * station, a new occurrence only counts up and moves its last time and detail
   * (a flood of bad messages is one row, not thousands). Returns the count.
   */
  alarm(kind: string, detail: string, stationId: string | null = null, recordId: string | null = null, now = Date.now(), occurrences = 1): number {
    return this.db.transaction(() => {
      const open = this.db.prepare('SELECT id, count FROM alarms WHERE kind = ? AND (station_id = ? OR (station_id IS NULL AND ? IS NULL)) AND cleared_at IS NULL ORDER BY at DESC LIMIT 1')
        .get(kind, stationId, stationId) as { id: string; count: number } | undefined;
      if (open) {
        this.db.prepare('UPDATE alarms SET count = count + ?, at = ?, detail = ?, record_id = COALESCE(?, record_id) WHERE id = ?').run(occurrences, now, detail.slice(0, 2000), recordId, open.id);
        return open.count + occurrences;
      }
      this.db.prepare('INSERT INTO alarms (id, station_id, kind, record_id, detail, at, first_at, count) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
        .run(uuidv7(), stationId, kind, recordId, detail.slice(0, 2000), now, now, occurrences);
      return occurrences;
    }).immediate();
  }

  openAlarms(): AlarmRow[] {
    return this.db.prepare('SELECT id, station_id, kind, record_id, detail, at, first_at, count FROM alarms WHERE cleared_at IS NULL ORDER BY at').all() as AlarmRow[];
  }

  /** Clears open alarms (all, or of one station and/or kind); returns how many. */
  clearAlarms(filter: { stationId?: string; kind?: string } = {}, now = Date.now()): number {
    return this.db.prepare('UPDATE alarms SET cleared_at = ? WHERE cleared_at IS NULL AND (? IS NULL OR station_id = ?) AND (? IS NULL OR kind = ?)')
      .run(now, filter.stationId ?? null, filter.stationId ?? null, filter.kind ?? null, filter.kind ?? null).changes;
  }

  /** Hashes of the records of `ids` this station already has stored. */
  storedHashes(stationId: string, ids: string[]): Map<string, string> {
    const st = this.db.prepare('SELECT sha256 FROM records WHERE station_id = ? AND record_id = ?');
    const out = new Map<string, string>();
    for (const id of ids) {
      const r = st.get(stationId, id) as { sha256: string } | undefined;
      if (r) out.set(id, r.sha256);
    }
    return out;
  }

  /**
   * Stores verified records idempotently and the receipt that will be published,
   * in one transaction. Records that were not accepted come in as `refused`
   * (held or rejected, with their reason). Returns the per-record outcome.
   */
  storeBatch(
    stationId: string, batchId: string, worker: string,
    verified: StoredRecordInput[], refused: StoreOutcome[],
    makeReceipt: (outcomes: StoreOutcome[]) => { receiptText: string; batchHash: string },
    order: string[], now = Date.now(),
  ): { outcomes: StoreOutcome[]; receiptText: string } {
    // The station's unit as it is when the record is stored (moving the booth later keeps history).
    const ins = this.db.prepare(`INSERT INTO records (station_id, record_id, sha256, envelope, size, sealed_at, received_at, batch_id, worker, kind, completed_at, unit)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, (SELECT unit FROM stations WHERE station_id = ?)) ON CONFLICT (station_id, record_id) DO NOTHING`);
    const existing = this.db.prepare('SELECT sha256 FROM records WHERE station_id = ? AND record_id = ?');
    return this.db.transaction(() => {
      const byId = new Map<string, StoreOutcome>();
      for (const r of refused) byId.set(r.recordId, r);
      for (const r of verified) {
        const res = ins.run(stationId, r.recordId, r.sha256, r.envelope, r.envelope.length, r.sealedAt, now, batchId, worker, r.kind ?? null, r.completedAt ?? r.sealedAt, stationId);
        if (res.changes === 1) {
          byId.set(r.recordId, { recordId: r.recordId, sha256: r.sha256, status: 'stored' });
          continue;
        }
        const prev = existing.get(stationId, r.recordId) as { sha256: string };
        if (prev.sha256 === r.sha256) {
          byId.set(r.recordId, { recordId: r.recordId, sha256: r.sha256, status: 'duplicate' });
        } else {
          this.alarm('record-id-conflict', `record ${r.recordId} arrived again with another hash (stored ${prev.sha256.slice(0, 16)}…, received ${r.sha256.slice(0, 16)}…) in batch ${batchId}`, stationId, r.recordId, now);
          byId.set(r.recordId, { recordId: r.recordId, sha256: r.sha256, status: 'rejected', reason: 'record-id-conflict', detail: 'a record with this id is already stored with another hash' });
        }
      }
      const outcomes = order.map((id) => byId.get(id)!);
      const { receiptText, batchHash } = makeReceipt(outcomes);
      const count = (s: string) => outcomes.filter((o) => o.status === s).length;
      this.db.prepare('INSERT INTO receipts (id, station_id, batch_id, batch_hash, stored, duplicate, rejected, held, receipt, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)')
        .run(uuidv7(), stationId, batchId, batchHash, count('stored'), count('duplicate'), count('rejected'), count('held'), receiptText, now);
      return { outcomes, receiptText };
    }).immediate();
  }

  /** Stores one chunk; when the set is complete returns the reassembled body and deletes the slices. */
  addChunk(stationId: string, batchId: string, batchHash: string, index: number, count: number, offset: number, data: Buffer, now = Date.now()): Buffer | null {
    return this.db.transaction(() => {
      this.db.prepare(`INSERT INTO chunks (station_id, batch_id, chunk_count, chunk_index, byte_offset, batch_hash, data, received_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (station_id, batch_id, chunk_count, chunk_index) DO NOTHING`)
        .run(stationId, batchId, count, index, offset, batchHash, data, now);
      const have = this.db.prepare('SELECT COUNT(*) AS n FROM chunks WHERE station_id = ? AND batch_id = ? AND chunk_count = ? AND batch_hash = ?')
        .get(stationId, batchId, count, batchHash) as { n: number };
      if (have.n < count) return null;
      const rows = this.db.prepare('SELECT chunk_index, byte_offset, data FROM chunks WHERE station_id = ? AND batch_id = ? AND chunk_count = ? AND batch_hash = ? ORDER BY chunk_index')
        .all(stationId, batchId, count, batchHash) as { chunk_index: number; byte_offset: number; data: Buffer }[];
      let off = 0;
      for (const r of rows) {
        if (r.byte_offset !== off) throw new Error(`chunk ${r.chunk_index} of batch ${batchId} starts at ${r.byte_offset}, expected ${off}`);
        off += r.data.length;
      }
      this.db.prepare('DELETE FROM chunks WHERE station_id = ? AND batch_id = ?').run(stationId, batchId);
      return Buffer.concat(rows.map((r) => r.data));
    }).immediate();
  }

  /** Drops incomplete chunk sets older than maxAgeMs (the station resends them whole). */
  pruneChunks(maxAgeMs: number, now = Date.now()): number {
    return this.db.prepare('DELETE FROM chunks WHERE received_at < ?').run(now - maxAgeMs).changes;
  }

  recordCount(stationId?: string): number {
    const r = stationId
      ? this.db.prepare('SELECT COUNT(*) AS n FROM records WHERE station_id = ?').get(stationId)
      : this.db.prepare('SELECT COUNT(*) AS n FROM records').get();
    return (r as { n: number }).n;
  }

  findRecord(recordId: string): { station_id: string; record_id: string; sha256: string; envelope: Buffer; sealed_at: number; received_at: number } | undefined {
    return this.db.prepare('SELECT station_id, record_id, sha256, envelope, sealed_at, received_at FROM records WHERE record_id = ?').get(recordId) as never;
  }

  upsertStatus(stationId: string, state: string, session: number, at: number): boolean {
    // A will ("lost") from an older session than the one we know is stale.
    const cur = this.db.prepare('SELECT session FROM fleet WHERE station_id = ?').get(stationId) as { session: number | null } | undefined;
    if (cur && cur.session !== null && session < cur.session) return false;
    this.db.prepare(`INSERT INTO fleet (station_id, state, session, status_at) VALUES (?, ?, ?, ?)
      ON CONFLICT (station_id) DO UPDATE SET state = excluded.state, session = excluded.session, status_at = excluded.status_at`).run(stationId, state, session, at);
    return true;
  }

  upsertHealth(stationId: string, healthJson: string, at: number): void {
    this.db.prepare(`INSERT INTO fleet (station_id, health, health_at) VALUES (?, ?, ?)
      ON CONFLICT (station_id) DO UPDATE SET health = excluded.health, health_at = excluded.health_at`).run(stationId, healthJson, at);
  }

  addEvent(id: string, stationId: string, kind: string, at: number, data: string | null, now = Date.now()): void {
    this.db.prepare('INSERT INTO events (id, station_id, kind, at, data, received_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING')
      .run(id, stationId, kind, at, data, now);
  }

  lastReceiptAt(stationId: string): number | null {
    const r = this.db.prepare('SELECT MAX(created_at) AS t FROM receipts WHERE station_id = ?').get(stationId) as { t: number | null };
    return r.t;
  }

  /** A command headquarters sent (its target, name and whether it was answered), or undefined. */
  commandOf(id: string): { station_id: string; name: string; result_status: string | null } | undefined {
    return this.db.prepare('SELECT station_id, name, result_status FROM commands WHERE id = ?').get(id) as { station_id: string; name: string; result_status: string | null } | undefined;
  }

  recordCommand(c: { id: string; target: string; name: string; args: Record<string, unknown>; issuedAt: number; expiresAt: number; sentBy?: string }): void {
    this.db.prepare('INSERT INTO commands (id, station_id, name, args, issued_at, expires_at, sent_by) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING')
      .run(c.id, c.target, c.name, JSON.stringify(c.args), c.issuedAt, c.expiresAt, c.sentBy ?? null);
  }

  recordCommandResult(id: string, status: string, resultJson: string, at: number): void {
    this.db.prepare('UPDATE commands SET result_status = ?, result = ?, result_at = ? WHERE id = ?').run(status, resultJson, at, id);
  }

  auditHead(stationId: string): { seq: number; hash: string } {
    const r = this.db.prepare('SELECT seq, hash FROM audit_entries WHERE station_id = ? ORDER BY seq DESC LIMIT 1').get(stationId) as { seq: number; hash: string } | undefined;
    return r ?? { seq: 0, hash: '0'.repeat(64) };
  }

  auditHashAt(stationId: string, seq: number): string | null {
    const r = this.db.prepare('SELECT hash FROM audit_entries WHERE station_id = ? AND seq = ?').get(stationId, seq) as { hash: string } | undefined;
    return r?.hash ?? null;
  }

  /** Appends verified entries (consecutive after the current head). */
  appendAudit(stationId: string, entries: { seq: number; ts: number; kind: string; data: unknown; prevHash: string; hash: string; sig?: string }[], now = Date.now()): void {
    const ins = this.db.prepare(`INSERT INTO audit_entries (station_id, seq, ts, kind, data, prev_hash, hash, sig, received_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (station_id, seq) DO NOTHING`);
    this.db.transaction(() => {
      for (const e of entries) ins.run(stationId, e.seq, e.ts, e.kind, JSON.stringify(e.data), e.prevHash, e.hash, e.sig ?? null, now);
    }).immediate();
  }

  logOpening(stationId: string, recordId: string, operator: string, reason: string, now = Date.now()): void {
    this.db.prepare('INSERT INTO record_openings (id, station_id, record_id, operator, reason, at) VALUES (?, ?, ?, ?, ?, ?)')
      .run(uuidv7(), stationId, recordId, operator, reason, now);
  }
}

export { rawPublicKey };
