/**
 * The headquarters store as the ingest and the `hq` commands see it: one async
 * interface with two implementations — SQLite (the embedded default: demo, a
 * one-machine headquarters; sync/hq/store.ts wrapped) and PostgreSQL
 * (sync/hq/store-pg.ts: any number of workers on any number of machines).
 *
 * Rules both keep (test/hq/store-contract.test.ts runs the same tests on both):
 * - every write that decides a receipt happens in one transaction, together with
 *   the receipt text; idempotency is enforced by the primary key
 *   (station_id, record_id) with INSERT … ON CONFLICT DO NOTHING, never by a
 *   read-then-write in the application;
 * - a record id stored again with the same hash is a `duplicate`, with another
 *   hash a `rejected` record-id-conflict and an alarm;
 * - a failed write throws: the caller sends no receipt, the station resends.
 */
import type { KeyObject } from 'node:crypto';
import type { AlarmRow, RegisterInput, StationKeyState, StationRow, StoreOutcome, StoredRecordInput } from './store';
import { HqStore, openHqDb } from './store';
import { v7 as uuidv7 } from 'uuid';

export type { AlarmRow, RegisterInput, StationKeyState, StationRow, StoreOutcome, StoredRecordInput };

/** One batch of a group commit: what was verified, what was refused, and how to sign its receipt. */
export interface BatchToStore {
  stationId: string;
  batchId: string;
  /** Record ids in the order of the batch (the receipt lists them in this order). */
  order: string[];
  verified: StoredRecordInput[];
  refused: StoreOutcome[];
  /** Called inside the transaction with the final outcomes; the receipt is stored with them. */
  makeReceipt: (outcomes: StoreOutcome[]) => { receiptText: string; batchHash: string };
}

/** A batch of a group commit: stored with its receipt, or failed on its own (no receipt). */
export type BatchStoreResult = { ok: true; outcomes: StoreOutcome[]; receiptText: string } | { ok: false; error: Error };

export interface AlarmInput {
  kind: string;
  detail: string;
  stationId: string | null;
  recordId: string | null;
  at: number;
  /** Occurrences this call counts (aggregated by the caller). */
  n: number;
}

export interface StoredRecordRow {
  station_id: string;
  record_id: string;
  sha256: string;
  envelope: Buffer;
  sealed_at: number;
  received_at: number;
}

export interface AuditRow {
  seq: number;
  ts: number;
  kind: string;
  data: unknown;
  prevHash: string;
  hash: string;
  sig?: string;
}

/** A campaign (#20, docs/campaigns.md): days are YYYY-MM-DD in its time zone, inclusive. */
export interface CampaignRow {
  id: string;
  name: string;
  first_day: string;
  last_day: string;
  time_zone: string;
  created_at: number;
}

/** One campaign day and its bounds (ms, [start_at, end_at)) in the campaign's time zone. */
export interface CampaignDayRow {
  day: string;
  start_at: number;
  end_at: number;
}

/** A unit of the hierarchy: ward → district → city. */
export interface UnitRow {
  code: string;
  name: string;
  parent: string | null;
  level: string;
}

/** A unit's quotas for a campaign (null: none set). */
export interface QuotaRow {
  unit: string;
  enrollments: number | null;
  activations: number | null;
}

/** Records stored per campaign day, unit (at storage) and kind (null: stored before kinds were kept). */
export interface DayCountRow {
  day: string;
  unit: string | null;
  kind: string | null;
  n: number;
}

/** A registered station's current unit and its last health (raw JSON) from the fleet table. */
export interface StationHealthRow {
  station_id: string;
  unit: string | null;
  health: string | null;
  health_at: number | null;
}

export type CreateCampaignResult = { ok: true } | { ok: false; reason: 'exists' } | { ok: false; reason: 'overlap'; with: CampaignRow[] };

export interface CommandRow {
  id: string;
  station_id: string;
  name: string;
  issued_at: number;
  expires_at: number;
  sent_by: string | null;
  result_status: string | null;
  result: string | null;
  result_at: number | null;
}

export interface OpsAuditRow {
  id: string;
  at: number;
  user_name: string;
  action: string;
  target: string | null;
  detail: string;
}

export interface HqStoreApi {
  readonly kind: 'sqlite' | 'postgres';
  /** Where the data is, for messages (a file path, or the database URL without its password). */
  readonly where: string;

  registerStation(r: RegisterInput, now?: number): Promise<{ fingerprint: string; rotated: boolean }>;
  station(stationId: string): Promise<StationRow | undefined>;
  stations(): Promise<StationRow[]>;
  /** All keys of a station, current first (read each time: another worker may register). */
  stationKeys(stationId: string): Promise<KeyObject[]>;

  /** Every key of a station with its revocation / retirement limits, current first. */
  stationKeyStates(stationId: string): Promise<StationKeyState[]>;
  /** Limits every key of the station (hq revoke); returns how many. */
  revokeStation(stationId: string, limit: { until: number; throughSeq: number | null }, now?: number): Promise<number>;
  /** Limits one key (station key rotation: the old key is trusted through the rotation's place in the chain). */
  limitKey(stationId: string, fingerprint: string, limit: { until: number | null; throughSeq: number | null }): Promise<void>;
  /** The record_sealed entry of a record in the verified chain (by ts = sealedAt), or null. */
  auditSealOf(stationId: string, recordId: string, sealedAt: number): Promise<{ seq: number; ts: number } | null>;
  /** The last verified chain entry (seq 0 when none). */
  auditTip(stationId: string): Promise<{ seq: number; ts: number }>;
  /** Chain time `at` in chain order: the entry before the first dated after it (the tip when none is). */
  auditSeqAt(stationId: string, at: number): Promise<number>;

  /** Raises (or counts up the open) alarm of this kind for the station; returns its count. */
  alarm(kind: string, detail: string, stationId?: string | null, recordId?: string | null, now?: number, occurrences?: number): Promise<number>;
  /** Several aggregated alarms in one transaction. */
  alarms(list: AlarmInput[]): Promise<void>;
  openAlarms(): Promise<AlarmRow[]>;
  clearAlarms(filter?: { stationId?: string; kind?: string }, now?: number): Promise<number>;

  storedHashes(stationId: string, ids: string[]): Promise<Map<string, string>>;
  /**
   * Group commit: every batch in ONE transaction (one durable flush), each batch
   * in a savepoint of its own so one failing batch does not take the others with
   * it. Throws when the transaction as a whole does not commit: then nothing of
   * the group may be receipted.
   */
  storeBatches(worker: string, batches: BatchToStore[], now?: number): Promise<BatchStoreResult[]>;
  /** Stores one chunk; when the set is complete returns the reassembled body and deletes the slices. */
  addChunk(stationId: string, batchId: string, batchHash: string, index: number, count: number, offset: number, data: Buffer, now?: number): Promise<Buffer | null>;
  pruneChunks(maxAgeMs: number, now?: number): Promise<number>;
  recordCount(stationId?: string): Promise<number>;
  findRecord(recordId: string): Promise<StoredRecordRow | undefined>;
  /** Records received since `since` (ms), oldest first, `limit` at a time after (received_at, record_id) `after`. */
  recordsSince(since: number, limit: number, after?: { receivedAt: number; recordId: string }): Promise<StoredRecordRow[]>;

  /** Latest status; false (and nothing written) when it comes from an older session than the stored one. */
  upsertStatus(stationId: string, state: string, session: number, at: number): Promise<boolean>;
  upsertHealth(stationId: string, healthJson: string, at: number): Promise<void>;
  addEvent(id: string, stationId: string, kind: string, at: number, data: string | null, now?: number): Promise<void>;
  lastReceiptAt(stationId: string): Promise<number | null>;
  /** Latest receipt time of every station that has one. */
  lastReceipts(): Promise<Map<string, number>>;

  recordCommand(c: { id: string; target: string; name: string; args: Record<string, unknown>; issuedAt: number; expiresAt: number; sentBy?: string }): Promise<void>;
  /** A command headquarters sent (target, name, whether answered), or undefined. */
  commandOf(id: string): Promise<{ station_id: string; name: string; result_status: string | null } | undefined>;
  recordCommandResult(id: string, status: string, resultJson: string, at: number): Promise<void>;

  auditHead(stationId: string): Promise<{ seq: number; hash: string }>;
  auditHashAt(stationId: string, seq: number): Promise<string | null>;
  /** Appends verified entries (idempotent on (station_id, seq)). */
  appendAudit(stationId: string, entries: AuditRow[], now?: number): Promise<void>;
  logOpening(stationId: string, recordId: string, operator: string, reason: string, now?: number): Promise<void>;
  /**
   * The person index (#22): records the first record stored for each keyed person hash and returns,
   * per entry, the record that was there first (itself when it is the first).
   */
  notePersons(entries: { person: string; stationId: string; recordId: string }[], now?: number): Promise<{ stationId: string; recordId: string }[]>;

  // ── campaigns (#20, sync/hq/campaign.ts) ──
  /**
   * Creates a campaign with its days, in one transaction; refuses an id that exists, and (unless
   * allowOverlap) a period that shares a day with another campaign.
   */
  createCampaign(c: Omit<CampaignRow, 'created_at'>, days: CampaignDayRow[], o?: { allowOverlap?: boolean; now?: number }): Promise<CreateCampaignResult>;
  campaigns(): Promise<CampaignRow[]>;
  campaign(id: string): Promise<CampaignRow | undefined>;
  campaignDays(id: string): Promise<CampaignDayRow[]>;
  /** Adds or replaces units and (for a campaign) their quotas, all in one transaction. */
  importUnits(units: UnitRow[], quotas?: { campaignId: string; rows: QuotaRow[] }): Promise<void>;
  units(): Promise<UnitRow[]>;
  /** Sets one unit's quotas for a campaign (null removes one). */
  setQuota(campaignId: string, q: QuotaRow): Promise<void>;
  quotas(campaignId: string): Promise<QuotaRow[]>;
  /** Records stored, by campaign day (completion time in the campaign's days), unit and kind; days through `throughDay` when given. */
  campaignDayCounts(campaignId: string, throughDay?: string): Promise<DayCountRow[]>;
  /** Every registered station with its unit and last health. */
  stationHealth(): Promise<StationHealthRow[]>;

  /** Acknowledges (clears) one open alarm, recording who did; null when no open alarm has this id. */
  ackAlarm(id: string, by: string, now?: number): Promise<AlarmRow | null>;
  /** The latest commands sent (newest first), with who sent them and the stations' answers. */
  recentCommands(limit: number): Promise<CommandRow[]>;
  /** Appends to the operators' audit log (dashboard logins, acknowledgements, commands). */
  opsAudit(e: { user: string; action: string; target?: string | null; detail: string }, now?: number): Promise<void>;
  /** The operators' audit log, newest first. */
  opsAuditLog(limit: number): Promise<OpsAuditRow[]>;

  /** Resolves when the database answers (a worker that lost it polls this to come back). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Records stored per campaign day, unit and kind: for each day of the campaign, the records whose
 * completion time lies in its bounds (records_by_completed: one index range per day, index-only).
 * $1 campaign id, $2/$3 last day to count (NULL: all). Same text on both databases.
 */
export const CAMPAIGN_DAY_COUNTS_SQL = `SELECT d.day AS day, r.unit AS unit, r.kind AS kind, COUNT(*) AS n
  FROM campaign_days d JOIN records r ON r.completed_at >= d.start_at AND r.completed_at < d.end_at
  WHERE d.campaign_id = $1 AND (CAST($2 AS TEXT) IS NULL OR d.day <= CAST($3 AS TEXT))
  GROUP BY d.day, r.unit, r.kind`;

/** The SQLite store behind the async interface (one file; workers on one machine). */
export class SqliteHqStore implements HqStoreApi {
  readonly kind = 'sqlite' as const;
  constructor(readonly sync: HqStore, readonly where: string) {}

  static open(path: string): SqliteHqStore {
    return new SqliteHqStore(new HqStore(openHqDb(path)), path);
  }

  private get db() { return this.sync.db; }

  async registerStation(r: RegisterInput, now?: number) { return this.sync.registerStation(r, now); }
  async station(id: string) { return this.sync.station(id); }
  async stations() { return this.sync.stations(); }
  async stationKeys(id: string) { return this.sync.stationKeys(id); }
  async stationKeyStates(id: string) { return this.sync.stationKeyStates(id); }
  async revokeStation(id: string, limit: { until: number; throughSeq: number | null }, now?: number) { return this.sync.revokeStation(id, limit, now); }
  async limitKey(id: string, fp: string, limit: { until: number | null; throughSeq: number | null }) { this.sync.limitKey(id, fp, limit); }
  async auditSealOf(id: string, recordId: string, sealedAt: number) { return this.sync.auditSealOf(id, recordId, sealedAt); }
  async auditTip(id: string) { return this.sync.auditTip(id); }
  async auditSeqAt(id: string, at: number) { return this.sync.auditSeqAt(id, at); }
  async alarm(kind: string, detail: string, stationId: string | null = null, recordId: string | null = null, now = Date.now(), occurrences = 1) {
    return this.sync.alarm(kind, detail, stationId, recordId, now, occurrences);
  }
  async alarms(list: AlarmInput[]) {
    if (list.length === 0) return;
    this.db.transaction(() => { for (const a of list) this.sync.alarm(a.kind, a.detail, a.stationId, a.recordId, a.at, a.n); }).immediate();
  }
  async openAlarms() { return this.sync.openAlarms(); }
  async clearAlarms(filter: { stationId?: string; kind?: string } = {}, now?: number) { return this.sync.clearAlarms(filter, now); }
  async storedHashes(stationId: string, ids: string[]) { return this.sync.storedHashes(stationId, ids); }

  async storeBatches(worker: string, batches: BatchToStore[], now = Date.now()): Promise<BatchStoreResult[]> {
    const results: BatchStoreResult[] = [];
    this.db.transaction(() => {
      for (const b of batches) {
        try {
          // nested transaction = a savepoint per batch
          const r = this.sync.storeBatch(b.stationId, b.batchId, worker, b.verified, b.refused, b.makeReceipt, b.order, now);
          results.push({ ok: true, ...r });
        } catch (e) {
          results.push({ ok: false, error: e as Error });
        }
      }
    }).immediate();
    return results;
  }

  async addChunk(stationId: string, batchId: string, batchHash: string, index: number, count: number, offset: number, data: Buffer, now?: number) {
    return this.sync.addChunk(stationId, batchId, batchHash, index, count, offset, data, now);
  }
  async pruneChunks(maxAgeMs: number, now?: number) { return this.sync.pruneChunks(maxAgeMs, now); }
  async recordCount(stationId?: string) { return this.sync.recordCount(stationId); }
  async findRecord(recordId: string) { return this.sync.findRecord(recordId); }
  async recordsSince(since: number, limit: number, after?: { receivedAt: number; recordId: string }) {
    const a = after ?? { receivedAt: -1, recordId: '' };
    return this.db.prepare(`SELECT station_id, record_id, sha256, envelope, sealed_at, received_at FROM records
      WHERE received_at >= ? AND (received_at > ? OR (received_at = ? AND record_id > ?)) ORDER BY received_at, record_id LIMIT ?`)
      .all(since, a.receivedAt, a.receivedAt, a.recordId, limit) as StoredRecordRow[];
  }
  async upsertStatus(stationId: string, state: string, session: number, at: number) { return this.sync.upsertStatus(stationId, state, session, at); }
  async upsertHealth(stationId: string, healthJson: string, at: number) { this.sync.upsertHealth(stationId, healthJson, at); }
  async addEvent(id: string, stationId: string, kind: string, at: number, data: string | null, now?: number) { this.sync.addEvent(id, stationId, kind, at, data, now); }
  async lastReceiptAt(stationId: string) { return this.sync.lastReceiptAt(stationId); }
  async lastReceipts() {
    const rows = this.db.prepare('SELECT station_id, MAX(created_at) AS t FROM receipts GROUP BY station_id').all() as { station_id: string; t: number }[];
    return new Map(rows.map((r) => [r.station_id, r.t]));
  }
  async recordCommand(c: { id: string; target: string; name: string; args: Record<string, unknown>; issuedAt: number; expiresAt: number; sentBy?: string }) { this.sync.recordCommand(c); }
  async ackAlarm(id: string, by: string, now = Date.now()) {
    return this.db.transaction(() => {
      const row = this.db.prepare('SELECT id, station_id, kind, record_id, detail, at, first_at, count FROM alarms WHERE id = ? AND cleared_at IS NULL').get(id) as AlarmRow | undefined;
      if (!row) return null;
      this.db.prepare('UPDATE alarms SET cleared_at = ?, cleared_by = ? WHERE id = ? AND cleared_at IS NULL').run(now, by, id);
      return row;
    }).immediate();
  }
  async recentCommands(limit: number) {
    return this.db.prepare('SELECT id, station_id, name, issued_at, expires_at, sent_by, result_status, result, result_at FROM commands ORDER BY issued_at DESC, id DESC LIMIT ?').all(limit) as CommandRow[];
  }
  async opsAudit(e: { user: string; action: string; target?: string | null; detail: string }, now = Date.now()) {
    this.db.prepare('INSERT INTO ops_audit (id, at, user_name, action, target, detail) VALUES (?, ?, ?, ?, ?, ?)').run(uuidv7(), now, e.user, e.action, e.target ?? null, e.detail);
  }
  async opsAuditLog(limit: number) {
    return this.db.prepare('SELECT id, at, user_name, action, target, detail FROM ops_audit ORDER BY at DESC, id DESC LIMIT ?').all(limit) as OpsAuditRow[];
  }
  async commandOf(id: string) { return this.sync.commandOf(id); }
  async recordCommandResult(id: string, status: string, resultJson: string, at: number) { this.sync.recordCommandResult(id, status, resultJson, at); }
  async auditHead(stationId: string) { return this.sync.auditHead(stationId); }
  async auditHashAt(stationId: string, seq: number) { return this.sync.auditHashAt(stationId, seq); }
  async appendAudit(stationId: string, entries: AuditRow[], now?: number) { this.sync.appendAudit(stationId, entries, now); }
  async logOpening(stationId: string, recordId: string, operator: string, reason: string, now?: number) { this.sync.logOpening(stationId, recordId, operator, reason, now); }
  async notePersons(entries: { person: string; stationId: string; recordId: string }[], now = Date.now()) {
    const ins = this.db.prepare('INSERT INTO person_index (person, station_id, record_id, first_at) VALUES (?, ?, ?, ?) ON CONFLICT (person) DO NOTHING');
    const get = this.db.prepare('SELECT station_id, record_id FROM person_index WHERE person = ?');
    return this.db.transaction(() => entries.map((e) => {
      ins.run(e.person, e.stationId, e.recordId, now);
      const r = get.get(e.person) as { station_id: string; record_id: string };
      return { stationId: r.station_id, recordId: r.record_id };
    }))();
  }
  async createCampaign(c: Omit<CampaignRow, 'created_at'>, days: CampaignDayRow[], o: { allowOverlap?: boolean; now?: number } = {}): Promise<CreateCampaignResult> {
    return this.db.transaction((): CreateCampaignResult => {
      if (this.db.prepare('SELECT 1 FROM campaigns WHERE id = ?').get(c.id)) return { ok: false, reason: 'exists' };
      if (!o.allowOverlap) {
        const over = this.db.prepare('SELECT * FROM campaigns WHERE first_day <= ? AND last_day >= ? ORDER BY first_day').all(c.last_day, c.first_day) as CampaignRow[];
        if (over.length) return { ok: false, reason: 'overlap', with: over };
      }
      this.db.prepare('INSERT INTO campaigns (id, name, first_day, last_day, time_zone, created_at) VALUES (?, ?, ?, ?, ?, ?)').run(c.id, c.name, c.first_day, c.last_day, c.time_zone, o.now ?? Date.now());
      const ins = this.db.prepare('INSERT INTO campaign_days (campaign_id, day, start_at, end_at) VALUES (?, ?, ?, ?)');
      for (const d of days) ins.run(c.id, d.day, d.start_at, d.end_at);
      return { ok: true };
    }).immediate();
  }
  async campaigns() { return this.db.prepare('SELECT * FROM campaigns ORDER BY first_day, id').all() as CampaignRow[]; }
  async campaign(id: string) { return this.db.prepare('SELECT * FROM campaigns WHERE id = ?').get(id) as CampaignRow | undefined; }
  async campaignDays(id: string) { return this.db.prepare('SELECT day, start_at, end_at FROM campaign_days WHERE campaign_id = ? ORDER BY day').all(id) as CampaignDayRow[]; }
  async importUnits(units: UnitRow[], quotas?: { campaignId: string; rows: QuotaRow[] }) {
    const u = this.db.prepare(`INSERT INTO units (code, name, parent, level) VALUES (?, ?, ?, ?)
      ON CONFLICT (code) DO UPDATE SET name = excluded.name, parent = excluded.parent, level = excluded.level`);
    const q = this.db.prepare(`INSERT INTO campaign_quotas (campaign_id, unit, enrollments, activations) VALUES (?, ?, ?, ?)
      ON CONFLICT (campaign_id, unit) DO UPDATE SET enrollments = excluded.enrollments, activations = excluded.activations`);
    this.db.transaction(() => {
      for (const x of units) u.run(x.code, x.name, x.parent, x.level);
      for (const x of quotas?.rows ?? []) q.run(quotas!.campaignId, x.unit, x.enrollments, x.activations);
    }).immediate();
  }
  async units() { return this.db.prepare('SELECT code, name, parent, level FROM units ORDER BY code').all() as UnitRow[]; }
  async setQuota(campaignId: string, x: QuotaRow) {
    this.db.prepare(`INSERT INTO campaign_quotas (campaign_id, unit, enrollments, activations) VALUES (?, ?, ?, ?)
      ON CONFLICT (campaign_id, unit) DO UPDATE SET enrollments = excluded.enrollments, activations = excluded.activations`).run(campaignId, x.unit, x.enrollments, x.activations);
  }
  async quotas(campaignId: string) { return this.db.prepare('SELECT unit, enrollments, activations FROM campaign_quotas WHERE campaign_id = ? ORDER BY unit').all(campaignId) as QuotaRow[]; }
  async campaignDayCounts(campaignId: string, throughDay?: string) {
    return this.db.prepare(`${CAMPAIGN_DAY_COUNTS_SQL.replace(/\$\d/g, '?')}`).all(campaignId, throughDay ?? null, throughDay ?? null) as DayCountRow[];
  }
  async stationHealth() {
    return this.db.prepare('SELECT s.station_id, s.unit, f.health, f.health_at FROM stations s LEFT JOIN fleet f ON f.station_id = s.station_id ORDER BY s.station_id').all() as StationHealthRow[];
  }

  async ping() { this.db.prepare('SELECT 1').get(); }
  async close() { if (this.db.open) this.db.close(); }
}
