/**
 * Headquarters ingest worker: receives batches on a shared subscription,
 * verifies every record's station signature, stores idempotently, commits, and
 * only then publishes a signed receipt. Also keeps the fleet table (status,
 * health, events, command results) up to date.
 */
import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import { hostname } from 'node:os';
import type { KeyObject } from 'node:crypto';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import pino from 'pino';
import { v7 as uuidv7 } from 'uuid';
import { makeTopics, type AuditAckBody, type TimeBody, type AuditSlicePayload, type EventPayload, type HealthPayload, type IngestFlagPayload, type ReceiptBody, type StatusPayload, type Topics } from '../topics';
import { batchHash, decodeFrame, FrameError, sha256Hex, splitBody, type Frame } from '../wire/frame';
import { encodeSigned, keyId, signMessage, toPrivateKey, toPublicKey, TrustedKeys, verifySignedBody, type KeyInput } from '../wire/signed';
import type { CommandResultBody } from '../wire/payloads';
import { parsePayload, PayloadError, requirePayload, type HeldReason, type ReceiptStatus, type RefusalReason, type RejectedReason } from '../wire/payloads';
import { LocalValidator, personIndexKey, verdictMetadata, type RecordValidator, type Verdict } from './validate';
import type { HqStore, Db, StationKeyState, StoreOutcome, StoredRecordInput } from './store';
import { SqliteHqStore, type HqStoreApi } from './store-api';
import { openHqStore, type DatabaseChoice } from './store-open';
import { isStoreUnavailable } from './store-pg';
import { checkSignature, digestEnvelope, type ParsedEnvelope } from '../wire/envelope';
import { currentSigningKey, loadRecordKeys, HQ_DUTY_FILES, HQ_PRIVATE_FILE } from '../wire/keys';
import { statSync } from 'node:fs';
import { auditEntryHash, verifyAuditChain, type AuditEntry } from '../wire/audit';

export interface HqOptions {
  brokerUrl: string;
  dataDir: string;
  /** Directory holding the key generation files (default <dataDir>/keys). */
  keysDir?: string;
  /** Receipt signing key (default: the current generation in hq-receipt-keys.json). */
  receiptKey?: KeyInput;
  /** Database file (default <dataDir>/hq.db) when no PostgreSQL `database` is given. */
  dbPath?: string;
  /** PostgreSQL (url set) or SQLite (url null, file dbPath); default: SQLite. */
  database?: Omit<DatabaseChoice, 'sqlitePath'> & { sqlitePath?: string };
  /** While the database is unreachable, how often to try it again (ms, default 1000). */
  databaseRetryMs?: number;
  workerId?: string;
  /** Shared subscription group; `false` subscribes without $share (brokers without MQTT 5). */
  shareGroup?: string | false;
  protocolVersion?: 4 | 5;
  topicPrefix?: string;
  username?: string;
  password?: string;
  tls?: { ca?: string | Buffer; cert?: string | Buffer; key?: string | Buffer; rejectUnauthorized?: boolean };
  logger?: Logger;
  sessionExpirySec?: number;
  /** Keep the broker session (and messages queued for this worker) when stopping (default: drop it). */
  keepSessionOnStop?: boolean;
  /** Publish the retained "ingest online" flag (default true). */
  announce?: boolean;
  /**
   * Opens and validates records before their receipt (the ingest itself never holds the record
   * keys). Default: a LocalValidator over the record keys found in `keysDir` — for tests and the
   * demo; `hq run` always uses the separate record-opening service.
   */
  validator?: RecordValidator;
  /** Per-station flood limits (defaults: 4096 chunks, 128 MiB a batch, 256 MiB of incomplete chunk sets in flight). */
  floodLimits?: Partial<{ maxChunks: number; maxBatchBytes: number; maxChunkBytesInFlight: number }>;
}

export interface StoredRecordEvent {
  stationId: string;
  recordId: string;
  sha256: string;
  size: number;
  batchId: string;
  status: ReceiptStatus;
  reason?: RefusalReason;
}

export interface HqHandle {
  /** The store, whichever database it is on. */
  readonly api: HqStoreApi;
  /** SQLite only (tests and tools reading the file directly); throws on PostgreSQL. */
  readonly db: Db;
  /** SQLite only: the synchronous store; throws on PostgreSQL. */
  readonly store: HqStore;
  /** False while the database is unreachable (the worker takes no batches then). */
  databaseUp(): boolean;
  readonly events: EventEmitter; // 'record' (StoredRecordEvent), 'receipt', 'commit' ({batches, failed}), 'alarm', 'status', 'health', 'event', 'command-result', 'connected', 'database' ({up})
  readonly workerId: string;
  /** Connected and subscribed (batches published from now on reach this worker or its group). */
  connected(): boolean;
  stop(): Promise<void>;
}

export async function startHq(o: HqOptions): Promise<HqHandle> {
  const log = (o.logger ?? pino({ level: 'silent' })).child({ component: 'hq-ingest' });
  const t: Topics = makeTopics(o.topicPrefix);
  const workerId = o.workerId ?? `${hostname().replace(/[^A-Za-z0-9_-]/g, '-')}-${process.pid}`;
  const api: HqStoreApi = await openHqStore({ url: null, ...o.database, sqlitePath: o.database?.sqlitePath ?? o.dbPath ?? join(o.dataDir, 'hq.db'), applicationName: o.database?.applicationName ?? `enroll-hq-${workerId}` });
  const sqlite = api instanceof SqliteHqStore ? api : null;
  const sqliteOnly = (what: string): never => { throw new Error(`HqHandle.${what}: this worker stores in PostgreSQL (${api.where}); use HqHandle.api`); };
  const keysDir = o.keysDir ?? join(o.dataDir, 'keys');
  // The current receipt generation signs; older ones stay listed in hq-public.json for stations mid-rotation.
  const receiptKey: KeyObject = o.receiptKey ? toPrivateKey(o.receiptKey) : currentSigningKey(keysDir, 'receipt').privateKey;
  const keyFileVersion = (): string => {
    for (const f of [HQ_DUTY_FILES.record, HQ_PRIVATE_FILE]) {
      try { const st = statSync(join(keysDir, f)); return `${f}:${st.mtimeMs}:${st.size}:${st.ino}`; } catch { /* next */ }
    }
    return 'none';
  };
  const validator: RecordValidator = o.validator ?? new LocalValidator({ loadKeys: () => loadRecordKeys(keysDir), personKey: personIndexKey(keysDir), version: keyFileVersion, onReloadError: (e) => log.error({ err: e.message }, 'record key file could not be reloaded; the loaded generations stay in use') });
  const events = new EventEmitter();
  const v5 = (o.protocolVersion ?? 5) === 5;
  const group = o.shareGroup === undefined ? 'ingest' : o.shareGroup;
  const announce = o.announce ?? true;
  let isConnected = false;
  let stopping = false;

  const flag = (online: boolean): Buffer => Buffer.from(JSON.stringify({ v: 1, online, worker: workerId, at: Date.now() } satisfies IngestFlagPayload));
  const opts: IClientOptions = {
    clientId: `hq-${workerId}`,
    protocolVersion: v5 ? 5 : 4,
    // Clean start on every connection. A worker's session only saves the stations a resend (they resend
    // after their receipt timeout anyway), and a session Mosquitto (2.0.11) restored from persistence
    // after a crash kept the worker's non-shared subscriptions working but silently stopped routing the
    // shared `batch` subscription to it: the fleet's uploads stalled until the worker restarted.
    clean: true,
    keepalive: 30,
    reconnectPeriod: 2_000,
    connectTimeout: 15_000,
    ...(v5 ? { properties: { sessionExpiryInterval: o.sessionExpirySec ?? 3600, receiveMaximum: 32 } } : {}),
    ...(announce ? { will: { topic: t.ingest(workerId), payload: flag(false), qos: 1 as const, retain: true } } : {}),
    ...(o.username ? { username: o.username } : {}),
    ...(o.password ? { password: o.password } : {}),
    ...(o.tls ?? {}),
  };
  const client: MqttClient = mqtt.connect(o.brokerUrl, opts);

  // A publish waiting for PUBACK is failed when the connection closes (the station resends; we answer again).
  const closeWaiters = new Set<() => void>();
  const publish = (topic: string, payload: Buffer, retain = false): Promise<void> =>
    new Promise((resolve, reject) => {
      let done = false;
      const abort = (): void => { if (!done) { done = true; reject(new Error('connection closed before PUBACK')); } };
      closeWaiters.add(abort);
      client.publish(topic, payload, { qos: 1, retain }, (e) => {
        closeWaiters.delete(abort);
        if (done) return;
        done = true;
        if (e) reject(e); else resolve();
      });
    });

  // ---------------------------------------------------------------- alarms and refusal logs

  /*
   * Alarms are aggregated per station and kind (store.alarm counts up an open one), and buffered:
   * a flood of bad messages costs a map update each, and one transaction every ALARM_FLUSH_MS writes
   * them all. Logging is limited the same way: the first occurrence per station and kind, then at
   * most one line per LOG_EVERY_MS saying how many were suppressed meanwhile.
   */
  const ALARM_FLUSH_MS = 500;
  const LOG_EVERY_MS = 10_000;
  const pendingAlarms = new Map<string, { kind: string; detail: string; stationId: string | null; recordId: string | null; at: number; n: number }>();
  let alarmTimer: NodeJS.Timeout | null = null;
  let alarmWrites: Promise<void> = Promise.resolve();
  const flushAlarms = (): void => {
    if (alarmTimer) { clearTimeout(alarmTimer); alarmTimer = null; }
    if (pendingAlarms.size === 0) return;
    const all = [...pendingAlarms.values()];
    pendingAlarms.clear();
    alarmWrites = alarmWrites.then(() => api.alarms(all)).catch((e: unknown) => log.error({ err: (e as Error).message, alarms: all.length }, 'could not store alarms'));
  };
  const logged = new Map<string, { at: number; suppressed: number }>();
  const limitedLog = (level: 'warn' | 'info', key: string, obj: Record<string, unknown>, msg: string): void => {
    const now = Date.now();
    const l = logged.get(key);
    if (l && now - l.at < LOG_EVERY_MS) { l.suppressed += 1; return; }
    if (logged.size > 10_000) logged.clear(); // bounded: one entry per station and kind in practice
    logged.set(key, { at: now, suppressed: 0 });
    log[level]({ ...obj, ...(l?.suppressed ? { suppressed: l.suppressed } : {}) }, msg);
  };
  const alarm = (kind: string, detail: string, stationId: string | null, recordId: string | null = null): void => {
    limitedLog('warn', `${stationId ?? ''}|${kind}`, { alarm: kind, stationId, recordId }, detail);
    const key = `${stationId ?? ''}\u0000${kind}`;
    const a = pendingAlarms.get(key);
    if (a) { a.n += 1; a.detail = detail; a.recordId = recordId ?? a.recordId; a.at = Date.now(); } else pendingAlarms.set(key, { kind, detail, stationId, recordId, at: Date.now(), n: 1 });
    if (pendingAlarms.size > 10_000) flushAlarms();
    else if (!alarmTimer) { alarmTimer = setTimeout(flushAlarms, ALARM_FLUSH_MS); alarmTimer.unref(); }
    events.emit('alarm', { kind, detail, stationId, recordId });
  };

  // ---------------------------------------------------------------- losing and regaining the database

  /*
   * A worker that cannot reach its database must not take batches it cannot store: it leaves the shared
   * subscriptions (the broker routes the fleet's batches to the other workers), says "ingest offline"
   * (stations with no worker online pause instead of sending into the void), receipts nothing of what it
   * had in flight, and tries the database every databaseRetryMs; when it answers, the worker subscribes
   * again and says "online" (stations resend what is still unreceipted).
   */
  let dbUp = true;
  let probeTimer: NodeJS.Timeout | null = null;
  const share = (topic: string): string => (group ? t.shared(group, topic) : topic);
  const sharedTopics = (): string[] => [share(t.all('batch')), share(t.all('events')), share(t.all('cmd-res')), share(t.all('audit'))];
  const probe = (): void => {
    probeTimer = setTimeout(() => {
      probeTimer = null;
      if (stopping) return;
      api.ping().then(() => {
        if (stopping) return;
        dbUp = true;
        log.warn({ database: api.where }, 'database reachable again: taking batches');
        events.emit('database', { up: true });
        if (!isConnected) return; // the connect handler subscribes
        client.subscribe(Object.fromEntries(sharedTopics().map((x) => [x, { qos: 1 as const }])), (err) => {
          if (err) { log.error({ err }, 'subscription failed'); return; }
          if (announce) publish(t.ingest(workerId), flag(true), true).catch(() => undefined);
        });
      }, () => probe());
    }, o.databaseRetryMs ?? 1000);
    probeTimer.unref?.();
  };
  const databaseFailed = (e: unknown): void => {
    if (!dbUp || stopping || !isStoreUnavailable(e)) return;
    dbUp = false;
    log.error({ database: api.where, err: (e as Error).message }, 'database unavailable: no more batches taken or receipted until it answers again');
    events.emit('database', { up: false, error: (e as Error).message });
    if (isConnected) {
      client.unsubscribe(sharedTopics(), () => undefined);
      if (announce) publish(t.ingest(workerId), flag(false), true).catch(() => undefined);
    }
    probe();
  };

  // ---------------------------------------------------------------- batches

  interface CheckedBatch {
    stationId: string;
    batchId: string;
    order: string[];
    sizes: Map<string, number>;
    verified: StoredRecordInput[];
    refused: StoreOutcome[];
    bytes: number;
    /** recordId → keyed person hash from the validator (fleet-wide repeat check). */
    persons?: Map<string, string>;
  }

  /** How long a station should wait before retrying a held record, per reason (seconds). */
  const RETRY_AFTER_S: Record<HeldReason, number> = { 'unknown-station': 300, 'unknown-hq-key': 300, 'audit-pending': 30, quota: 60, 'validator-unavailable': 30 };
  const held = (recordId: string, sha256: string, reason: HeldReason, detail: string): StoreOutcome =>
    ({ recordId, sha256, status: 'held', reason, detail: detail.slice(0, 500), retryAfterS: RETRY_AFTER_S[reason] });
  const rejected = (recordId: string, sha256: string, reason: RejectedReason, detail: string): StoreOutcome =>
    ({ recordId, sha256, status: 'rejected', reason, detail: detail.slice(0, 500) });

  /*
   * Retired and revoked keys (#13 item 5). A key that was retired (rotation, re-registration) or
   * revoked (`hq revoke`) is trusted only for records sealed before its cutoff — decided by the
   * record's place in the station's own audit chain as headquarters verified it, not by the
   * envelope's sealedAt alone: the record's record_sealed entry (its ts is the sealedAt) must be in
   * the chain at or before valid_through_seq, and its chain time at or before valid_until. A record
   * the chain does not place yet is held (audit-pending) until the chain has passed the cutoff;
   * then it is refused.
   */
  const FUTURE_SEALED_AT_MS = 24 * 3600_000;
  const AUDIT_CLOCK_SLACK_MS = 5 * 60_000;
  const isLimited = (k: StationKeyState): boolean => k.revokedAt !== null || k.retiredAt !== null || k.validUntil !== null || k.validThroughSeq !== null;
  const iso = (t: number): string => (Number.isFinite(t) ? new Date(t).toISOString() : 'never');
  const placeInChain = async (stationId: string, k: StationKeyState, recordId: string, sha256: string, sealedAt: number): Promise<StoreOutcome | null> => {
    const until = k.validUntil ?? k.retiredAt ?? Number.POSITIVE_INFINITY;
    let through = k.validThroughSeq;
    const tip = await api.auditTip(stationId);
    if (through === null && Number.isFinite(until) && tip.ts > until) {
      // The chain has passed the cutoff time: from now on the cutoff is a place in the chain, so an
      // entry dated back later (by whoever holds the key) cannot slip in before it.
      through = await api.auditSeqAt(stationId, until);
      await api.limitKey(stationId, k.fingerprint, { until: null, throughSeq: through });
      k.validThroughSeq = through;
    }
    const reason = k.revokedAt !== null ? 'revoked-key' : 'retired-key';
    const what = `key ${k.fingerprint} ${k.revokedAt !== null ? 'revoked' : 'retired'} (trusted for records sealed through audit entry ${through ?? '–'}, chain time ${iso(until)})`;
    const e = await api.auditSealOf(stationId, recordId, sealedAt);
    if (e) {
      if ((through === null || e.seq <= through) && e.ts <= until) return null;
      return rejected(recordId, sha256, reason, `record ${recordId} was sealed at audit entry ${e.seq} (${iso(e.ts)}), after the cutoff of ${what}`);
    }
    const passed = through !== null ? tip.seq >= through : tip.ts > until;
    if (passed) return rejected(recordId, sha256, reason, `record ${recordId} (sealedAt ${iso(sealedAt)}) is not in the station's audit chain through the cutoff of ${what}; the chain headquarters holds reaches entry ${tip.seq}`);
    return held(recordId, sha256, 'audit-pending', `record ${recordId} is signed by ${what}; headquarters holds the station's audit chain through entry ${tip.seq} (${iso(tip.ts)}) and needs it up to the record to place it`);
  };

  /**
   * Checks one complete batch (a batch frame, or reassembled chunks). Resolves to what its receipt
   * will say, or null when it gets no receipt at all (transport damage: the station resends
   * unchanged; a validator that does not answer is a held receipt, validator-unavailable). Nothing is stored here.
   */
  const checkBatch = async (stationId: string, f: Frame): Promise<CheckedBatch | null> => {
    const h = f.header;
    const envelopes = splitBody(f);
    const base = { stationId, batchId: h.batchId, order: h.records.map((r) => r.id), sizes: new Map(h.records.map((r) => [r.id, r.len])), bytes: f.body.length };
    // 1) every envelope's bytes against the header: one hashing pass also gives the signed digest
    const digests: (ReturnType<typeof digestEnvelope> | Error)[] = [];
    for (let i = 0; i < h.records.length; i++) {
      const r = h.records[i]!;
      const env = envelopes[i]!;
      let d: ReturnType<typeof digestEnvelope> | Error;
      try { d = digestEnvelope(env); } catch (e) { d = e as Error; }
      const sha = d instanceof Error ? sha256Hex(env) : d.sha256;
      if (sha !== r.sha256) {
        // Transport damage (or a forged frame): no receipt, the station resends.
        alarm('hash-mismatch', `record ${r.id} in batch ${h.batchId} does not match its announced hash; batch not acknowledged`, stationId, r.id);
        return null;
      }
      digests.push(d);
    }
    // 2) the station must be registered; until it is, everything is held (the station retries)
    const keys = await api.stationKeyStates(stationId);
    if (keys.length === 0) {
      alarm('unknown-station', `batch ${h.batchId} from unregistered station ${stationId}; register it with \`hq register\``, stationId);
      return { ...base, verified: [], refused: h.records.map((r) => held(r.id, r.sha256, 'unknown-station', `station ${stationId} is not registered at headquarters`)) };
    }
    // 3) per record: layout, ids, signature — what can be decided without opening anything
    const refused: StoreOutcome[] = [];
    const candidates: { r: (typeof h.records)[number]; env: Buffer; parsed: ParsedEnvelope }[] = [];
    for (let i = 0; i < h.records.length; i++) {
      const r = h.records[i]!;
      const d = digests[i]!;
      if (d instanceof Error) { refused.push(rejected(r.id, r.sha256, 'malformed', d.message)); continue; }
      const p = d.parsed;
      if (p.stationId !== stationId) { refused.push(rejected(r.id, r.sha256, 'wrong-station', `the envelope names station ${p.stationId}, the batch came from ${stationId}`)); continue; }
      if (p.recordId !== r.id) { refused.push(rejected(r.id, r.sha256, 'id-mismatch', `the envelope names record ${p.recordId}`)); continue; }
      const signer = keys.find((k) => checkSignature(d, k.key));
      if (!signer) { refused.push(rejected(r.id, r.sha256, 'bad-signature', `record ${r.id}: the station signature does not verify with any of the ${keys.length} key(s) registered for ${stationId}`)); continue; }
      if (p.sealedAt > Date.now() + FUTURE_SEALED_AT_MS) {
        alarm('sealed-at-future', `record ${r.id} from ${stationId} claims sealedAt ${new Date(p.sealedAt).toISOString()}, more than a day ahead of headquarters' clock (station clock wrong, or a forged record)`, stationId, r.id);
      }
      if (isLimited(signer)) {
        const out = await placeInChain(stationId, signer, r.id, r.sha256, p.sealedAt);
        if (out) { refused.push(out); continue; }
      }
      candidates.push({ r, env: envelopes[i]!, parsed: p });
    }
    // 4) already stored: a duplicate needs no second opening; another hash is a conflict
    const stored = await api.storedHashes(stationId, candidates.map((c) => c.r.id));
    const toOpen: typeof candidates = [];
    const duplicates: StoreOutcome[] = [];
    for (const c of candidates) {
      const prev = stored.get(c.r.id);
      if (prev === undefined) toOpen.push(c);
      else if (prev === c.r.sha256) duplicates.push({ recordId: c.r.id, sha256: c.r.sha256, status: 'duplicate' });
      else refused.push(rejected(c.r.id, c.r.sha256, 'record-id-conflict', `record ${c.r.id} is already stored with hash ${prev.slice(0, 16)}…, this one is ${c.r.sha256.slice(0, 16)}…`));
    }
    // 5) open and validate (the validator holds the record keys; we only learn its verdicts)
    let verdicts: Verdict[] = [];
    if (toOpen.length > 0) {
      try {
        verdicts = await validator.validate(toOpen.map((c) => ({ stationId, recordId: c.r.id, envelope: c.env })));
      } catch (e) {
        // Fail closed with a receipt that says why (#13 item 2): nothing unopened is stored, the
        // station keeps each record as held (validator-unavailable, shown in station status) and
        // retries by itself; the alarm below names the reason per station.
        const why = `the record validator did not answer (${(e as Error).message}); nothing was opened or stored`;
        for (const c of toOpen) refused.push(held(c.r.id, c.r.sha256, 'validator-unavailable', why));
        toOpen.length = 0;
      }
    }
    const verified: StoredRecordInput[] = [];
    const persons = new Map<string, string>();
    toOpen.forEach((c, i) => {
      const v = verdicts[i]!;
      if (v.ok && v.person) persons.set(c.r.id, v.person);
      if (v.ok) verified.push({ recordId: c.r.id, sha256: c.r.sha256, envelope: c.env, sealedAt: c.parsed.sealedAt, ...verdictMetadata(v) });
      else refused.push(v.status === 'held' ? held(c.r.id, c.r.sha256, v.reason, v.detail) : rejected(c.r.id, c.r.sha256, v.reason, v.detail));
    });
    // every refusal is visible to ops: an alarm per station and reason (aggregated)
    for (const x of refused) {
      if (x.reason === 'audit-pending') limitedLog('info', `${stationId}|audit-pending`, { stationId, recordId: x.recordId }, `record held until its station's audit chain arrives: ${x.detail ?? ''}`);
      else alarm(x.reason!, `record ${x.recordId} from ${stationId} ${x.status}: ${x.detail ?? x.reason}`, stationId, x.recordId);
    }
    return { ...base, verified, refused: [...refused, ...duplicates], persons };
  };

  /*
   * Group commit. A checked batch is queued; the queue is committed in ONE transaction — one fsync for
   * every batch that arrived meanwhile — as soon as the event loop is free, and only then do the signed
   * receipts go out. PUBACKs are not tied to commits: a crash between PUBACK and commit loses nothing
   * (the station has no receipt and resends after its timeout).
   */
  let queue: CheckedBatch[] = [];
  let flushScheduled = false;
  let flushed: { promise: Promise<void>; resolve: () => void } | null = null;
  // Group commits run one after another; batches checked meanwhile wait for the next one (and join it).
  let committing: Promise<void> = Promise.resolve();
  const scheduleFlush = (): void => {
    if (flushScheduled) return;
    flushScheduled = true;
    committing = committing.then(() => new Promise<void>((r) => setImmediate(r))).then(flush).catch((e: unknown) => { log.error({ err: e }, 'group commit crashed'); });
  };

  const flush = async (): Promise<void> => {
    flushScheduled = false;
    const group = queue;
    const done = flushed;
    queue = [];
    flushed = null;
    if (group.length === 0) { done?.resolve(); return; }
    flushAlarms();
    const committed: { b: CheckedBatch; outcomes: StoreOutcome[]; receiptText: string }[] = [];
    try {
      // one transaction for the group, a savepoint per batch (one failing batch does not take the others with it)
      const results = await api.storeBatches(workerId, group.map((b) => ({
        stationId: b.stationId, batchId: b.batchId, order: b.order, verified: b.verified, refused: b.refused,
        makeReceipt: (outs: StoreOutcome[]) => {
          const hash = batchHash(b.batchId, outs.map((x) => ({ recordId: x.recordId, sha256: x.sha256 })));
          const body: ReceiptBody = { type: 'receipt', stationId: b.stationId, batchId: b.batchId, batchHash: hash, results: outs, at: Date.now(), worker: workerId };
          return { receiptText: encodeSigned(signMessage(body, receiptKey)).toString('utf8'), batchHash: hash };
        },
      })));
      results.forEach((r, i) => {
        const b = group[i]!;
        if (r.ok) committed.push({ b, outcomes: r.outcomes, receiptText: r.receiptText });
        else log.error({ stationId: b.stationId, batchId: b.batchId, err: r.error.message }, 'batch could not be stored; no receipt (the station resends)');
      });
    } catch (e) {
      log.error({ err: (e as Error).message, batches: group.length }, 'group commit failed; no receipts (the stations resend)');
      committed.length = 0;
      databaseFailed(e);
    } finally {
      done?.resolve();
    }
    events.emit('commit', { batches: committed.length, failed: group.length - committed.length });
    // Committed: now the receipts may go out. Not awaited: their PUBACKs are read by the packet loop.
    for (const { b, outcomes, receiptText } of committed) {
      publish(t.receipt(b.stationId), Buffer.from(receiptText, 'utf8')).catch((e: Error) => log.info({ stationId: b.stationId, batchId: b.batchId, err: e.message }, 'receipt publish failed; the station will resend'));
      for (const x of outcomes) {
        const ev: StoredRecordEvent = { stationId: b.stationId, recordId: x.recordId, sha256: x.sha256, size: b.sizes.get(x.recordId) ?? 0, batchId: b.batchId, status: x.status, ...(x.reason ? { reason: x.reason } : {}) };
        events.emit('record', ev);
      }
      events.emit('receipt', { stationId: b.stationId, batchId: b.batchId, outcomes });
      notePersons(b, outcomes);
      log.debug({ stationId: b.stationId, batchId: b.batchId, records: outcomes.length, group: committed.length }, 'batch committed and receipted');
    }
  };

  /**
   * The same person enrolled twice across the fleet (#22 item 2): a newly stored record whose keyed
   * person hash the index already holds for another record is an alarm naming both records. After the
   * receipt, outside its transaction: the index only flags, it never decides a receipt.
   */
  const notePersons = (b: CheckedBatch, outcomes: StoreOutcome[]): void => {
    const entries = outcomes.filter((x) => x.status === 'stored' && b.persons?.has(x.recordId)).map((x) => ({ person: b.persons!.get(x.recordId)!, stationId: b.stationId, recordId: x.recordId }));
    if (!entries.length) return;
    api.notePersons(entries).then((firsts) => {
      firsts.forEach((f, i) => {
        const e = entries[i]!;
        if (f.recordId !== e.recordId) {
          alarm('person-repeat', `record ${e.recordId} from ${e.stationId} enrolls the same national ID number as record ${f.recordId} from ${f.stationId}`, e.stationId, e.recordId);
        }
      });
      flushAlarms();
    }).catch((e: unknown) => log.error({ err: (e as Error).message, stationId: b.stationId }, 'could not update the person index (repeat check)'));
  };

  /** Queues a checked batch for the next group commit; resolves once it is committed (or failed). */
  const enqueue = (b: CheckedBatch): Promise<void> => {
    queue.push(b);
    if (!flushed) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => { resolve = r; });
      flushed = { promise, resolve };
    }
    const wait = flushed.promise;
    scheduleFlush();
    return wait;
  };

  /*
   * Pipeline: a batch's checks (hashing, signatures, the validator's round trip) run while the next
   * messages are read, so batches that arrive together are committed together. Bounded: past
   * PIPELINE_BYTES of batches being checked or waiting for their commit, the next message is read only
   * once some are done — the broker holds the rest (QoS 1 flow control), headquarters' memory stays flat.
   */
  const PIPELINE_BYTES = 16 * 1024 * 1024;
  let pipelineBytes = 0;
  const pipeline = new Set<Promise<void>>();
  let pipelineWaiters: (() => void)[] = [];
  const admitted = async (): Promise<void> => {
    while (pipelineBytes > PIPELINE_BYTES) await new Promise<void>((r) => pipelineWaiters.push(r));
  };

  const handleBatch = (stationId: string, f: Frame): Promise<void> => {
    if (stopping) return Promise.resolve(); // after the last commit: no receipt, the station resends to a running worker
    if (!dbUp) return Promise.resolve(); // nothing can be stored: no receipt, the station resends (to a worker that can)
    const bytes = f.body.length;
    pipelineBytes += bytes;
    const job: Promise<void> = checkBatch(stationId, f)
      .then((b) => (b ? enqueue(b) : undefined))
      .catch((e: unknown) => { log.error({ stationId, batchId: f.header.batchId, err: (e as Error).message }, 'batch could not be checked; no receipt (the station resends)'); databaseFailed(e); })
      .finally(() => {
        pipeline.delete(job);
        pipelineBytes -= bytes;
        const w = pipelineWaiters;
        pipelineWaiters = [];
        for (const r of w) r();
      });
    pipeline.add(job);
    return admitted();
  };

  /*
   * Flood limits per station (#13 item 6). A chunk set larger than a batch can be, or with more
   * chunks, or a chunk outside the length its header announces, is refused before it is stored
   * (rejected too-large: it can never be accepted); past the bytes of incomplete chunk sets a
   * station may have in flight at this worker, held (quota: the station retries later). Each such
   * batch gets one receipt and an aggregated alarm; further chunks of it cost only their refusal.
   */
  const FLOOD_LIMITS = { maxChunks: 4096, maxBatchBytes: 128 * 1024 * 1024, maxChunkBytesInFlight: 256 * 1024 * 1024, ...o.floodLimits };
  const CHUNK_SET_MAX_AGE_MS = 24 * 3600_000;
  const chunkBytes = new Map<string, Map<string, { bytes: number; at: number }>>();
  const refusedBatches = new Map<string, number>();
  const refuseChunked = (stationId: string, f: Frame, status: 'held' | 'rejected', reason: 'too-large' | 'quota', detail: string): Promise<void> => {
    alarm(reason === 'too-large' ? 'flood' : 'quota', `batch ${f.header.batchId} from ${stationId} refused before storing: ${detail}`, stationId);
    const key = `${stationId}\u0000${f.header.batchId}\u0000${f.header.batchHash}`;
    const last = refusedBatches.get(key);
    const now = Date.now();
    if (last !== undefined && now - last < 60_000) return Promise.resolve(); // answered already
    if (refusedBatches.size > 10_000) refusedBatches.clear();
    refusedBatches.set(key, now);
    const h = f.header;
    const refused = h.records.map((r) => (status === 'held' ? held(r.id, r.sha256, 'quota', detail) : rejected(r.id, r.sha256, 'too-large', detail)));
    return enqueue({ stationId, batchId: h.batchId, order: h.records.map((r) => r.id), sizes: new Map(h.records.map((r) => [r.id, r.len])), verified: [], refused, bytes: 0 });
  };

  const onBatch = async (stationId: string, payload: Buffer): Promise<void> => {
    let f: Frame;
    try {
      f = decodeFrame(payload);
    } catch (e) {
      alarm('malformed-frame', `batch frame of ${payload.length} bytes on ${stationId}'s topic refused: ${(e as Error).message}`, stationId);
      return;
    }
    if (f.header.stationId !== stationId) {
      alarm('topic-mismatch', `batch ${f.header.batchId} on ${stationId}'s topic claims station ${f.header.stationId}`, stationId);
      return;
    }
    if (f.header.kind === 'chunk') {
      const c = f.header.chunk!;
      const total = f.header.records.reduce((s, r) => s + r.len, 0);
      // Limits before anything is stored (#13 item 6): what the header announces, and what this station has in flight.
      const over = c.count > FLOOD_LIMITS.maxChunks ? `${c.count} chunks announced, at most ${FLOOD_LIMITS.maxChunks}`
        : total > FLOOD_LIMITS.maxBatchBytes ? `${total} bytes announced, at most ${FLOOD_LIMITS.maxBatchBytes}`
          : c.index >= c.count || c.offset + f.body.length > total ? `chunk ${c.index}/${c.count} at byte ${c.offset} (+${f.body.length}) lies outside the ${total} bytes the header announces`
            : null;
      if (over) return refuseChunked(stationId, f, 'rejected', 'too-large', over);
      if ((await api.stationKeys(stationId)).length === 0) {
        alarm('unknown-station', `chunk of batch ${f.header.batchId} from unregistered station ${stationId} not stored; register it with \`hq register\``, stationId);
        return;
      }
      const mine = chunkBytes.get(stationId) ?? new Map<string, { bytes: number; at: number }>();
      const now = Date.now();
      for (const [b, v] of mine) if (now - v.at > CHUNK_SET_MAX_AGE_MS) mine.delete(b);
      const inFlight = [...mine.values()].reduce((x, v) => x + v.bytes, 0);
      if (inFlight + f.body.length > FLOOD_LIMITS.maxChunkBytesInFlight) {
        return refuseChunked(stationId, f, 'held', 'quota', `${inFlight} bytes of incomplete chunk sets in flight from ${stationId}, at most ${FLOOD_LIMITS.maxChunkBytesInFlight}`);
      }
      const whole = await api.addChunk(stationId, f.header.batchId, f.header.batchHash, c.index, c.count, c.offset, Buffer.from(f.body));
      if (!whole) {
        const e = mine.get(f.header.batchId) ?? { bytes: 0, at: now };
        e.bytes += f.body.length;
        e.at = now;
        mine.set(f.header.batchId, e);
        if (!chunkBytes.has(stationId)) { if (chunkBytes.size > 10_000) chunkBytes.clear(); chunkBytes.set(stationId, mine); }
        return;
      }
      mine.delete(f.header.batchId);
      if (whole.length !== total) {
        alarm('malformed-frame', `batch ${f.header.batchId}: reassembled chunks are ${whole.length} bytes, the records ${total}; dropped (the station resends)`, stationId);
        return;
      }
      f = { header: { ...f.header, kind: 'batch', chunk: undefined }, body: whole };
    }
    await handleBatch(stationId, f);
  };

  const onStatus = async (stationId: string, payload: Buffer): Promise<void> => {
    if (payload.length === 0) return;
    const s: StatusPayload = requirePayload('status', payload);
    const applied = await api.upsertStatus(stationId, s.state, s.session, s.at);
    if (!applied) log.info({ stationId, session: s.session }, 'stale status from an older session ignored');
    events.emit('status', { stationId, ...s, applied });
  };

  const answerTime = (stationId: string, payload: Buffer): void => {
    const h = parsePayload('health', payload);
    if (!h.ok || h.value.timeNonce === undefined) return; // a malformed one is refused (and alarmed) by onHealth
    const body: TimeBody = { type: 'time', stationId, nonce: h.value.timeNonce, at: Date.now() };
    publish(t.receipt(stationId), encodeSigned(signMessage(body, receiptKey))).catch((e: Error) => log.info({ stationId, err: e.message }, 'signed time answer publish failed'));
  };

  const onHealth = async (stationId: string, payload: Buffer): Promise<void> => {
    if (payload.length === 0) return;
    const h: HealthPayload = requirePayload('health', payload);
    await api.upsertHealth(stationId, JSON.stringify(h), h.at);
    events.emit('health', { stationId, health: h });
  };

  const onEvent = async (stationId: string, payload: Buffer): Promise<void> => {
    const e: EventPayload = requirePayload('events', payload);
    await api.addEvent(e.id, stationId, e.kind, e.at, e.data ? JSON.stringify(e.data) : null);
    if (e.kind === 'security' || e.kind === 'tamper') log.warn({ stationId, kind: e.kind }, 'station reported a security event');
    events.emit('event', { stationId, ...e });
  };

  /**
   * A slice of the station's audit chain: entries HQ already holds must match
   * (else: fork alarm); new ones must link to HQ's head and carry valid station
   * signatures (else: chain alarm). HQ answers with the head it now holds.
   */
  const onAudit = async (stationId: string, payload: Buffer): Promise<void> => {
    const keys = await api.stationKeys(stationId);
    if (keys.length === 0) return;
    const slice: AuditSlicePayload = requirePayload('audit', payload);
    if (slice.stationId !== stationId) throw new PayloadError('audit', `audit slice on ${stationId}'s topic names station ${slice.stationId}`);
    const head = await api.auditHead(stationId);
    let error: string | undefined;
    const fresh: AuditEntry[] = [];
    for (const e of slice.entries as AuditEntry[]) {
      if (e.seq <= head.seq) {
        const known = await api.auditHashAt(stationId, e.seq);
        let recomputed: string | null;
        try { recomputed = auditEntryHash(stationId, e); } catch { recomputed = null; }
        if (known !== null && (known !== e.hash || recomputed !== known)) {
          error = `audit entry ${e.seq} differs from the one headquarters already holds (history rewritten)`;
          alarm('audit-fork', `${stationId}: ${error}`, stationId);
          break;
        }
        continue;
      }
      fresh.push(e);
    }
    let newHead = head;
    if (!error && fresh.length > 0) {
      if (fresh[0]!.seq !== head.seq + 1) {
        // A gap: headquarters answers with its head; the station resends from there.
        log.info({ stationId, have: head.seq, got: fresh[0]!.seq }, 'audit slice does not follow the stored head');
      } else {
        let best: ReturnType<typeof verifyAuditChain> | null = null;
        for (const k of keys) {
          // The last head signature covers the slice through the hash chain; checking each one is ~0.15 ms an entry.
          const r = verifyAuditChain(fresh, k, { stationId, anchor: head.seq > 0 ? head : undefined, requireSignedTail: true, signatures: 'last' });
          if (r.ok) { best = r; break; }
          if (!best || r.lastSeq > best.lastSeq) best = r;
        }
        if (best && !best.ok) {
          error = best.error ?? 'audit chain does not verify';
          // A station that has just rotated its key signs its next heads with the new key; its slice can reach
          // headquarters before the rotate-key answer that registers that key. The hash chain links and the
          // station's own entry says it rotated: nothing past the last verified signature is kept (as for any
          // failure), the station resends it, and it verifies once the key is registered — no alarm for that.
          const failedAt = Number(/^seq (\d+): head signature does not verify/.exec(error)?.[1] ?? NaN);
          const rotated = Number.isFinite(failedAt) && fresh.some((e) => e.seq <= failedAt && e.kind === 'command_received' && (e.data as { name?: unknown } | null)?.name === 'rotate-key');
          if (rotated) log.info({ stationId, seq: failedAt }, 'audit head signed by a key headquarters does not hold yet (the station rotated its key); kept through the last verified signature');
          else alarm('audit-chain', `${stationId}: ${error}`, stationId);
        }
        const goodThrough = best ? (best.ok ? fresh[fresh.length - 1]!.seq : Math.min(best.lastSeq, best.signedThrough || 0)) : head.seq;
        // Kept: the entries through the checked head; a signature is kept only where it was checked.
        const checkedSig = best?.ok ? best.signedThrough : -1;
        const good = fresh.filter((e) => e.seq <= goodThrough).map((e) => (best?.ok && e.sig !== undefined && e.seq !== checkedSig ? { ...e, sig: undefined } : e));
        if (good.length > 0) {
          // The chain's own clock: each entry's time at or after the one before (a few minutes of
          // slack for a clock step at the station) and not far ahead of headquarters'. Anything else
          // is a station clock gone wrong or a chain written by someone choosing its times: an alarm.
          let prevTs = (await api.auditTip(stationId)).ts;
          for (const e of good) {
            if (e.ts < prevTs - AUDIT_CLOCK_SLACK_MS) { alarm('audit-clock', `${stationId}: audit entry ${e.seq} (${e.kind}) is dated ${iso(e.ts)}, before the entry preceding it (${iso(prevTs)})`, stationId); break; }
            if (e.ts > Date.now() + FUTURE_SEALED_AT_MS) { alarm('audit-clock', `${stationId}: audit entry ${e.seq} (${e.kind}) is dated ${iso(e.ts)}, more than a day ahead of headquarters' clock`, stationId); break; }
            prevTs = Math.max(prevTs, e.ts);
          }
          await api.appendAudit(stationId, good);
          newHead = { seq: good[good.length - 1]!.seq, hash: good[good.length - 1]!.hash };
        }
      }
    }
    const body: AuditAckBody = { type: 'audit-ack', stationId, seq: newHead.seq, hash: newHead.hash, ...(error ? { error } : {}), at: Date.now() };
    publish(t.receipt(stationId), encodeSigned(signMessage(body, receiptKey))).catch((e: Error) => log.info({ stationId, err: e.message }, 'audit ack publish failed'));
    events.emit('audit', { stationId, head: newHead, error });
  };

  const onCmdRes = async (stationId: string, payload: Buffer): Promise<void> => {
    const st = await api.station(stationId);
    const trusted = new TrustedKeys(st ? await api.stationKeys(stationId) : []);
    const v = verifySignedBody(payload, trusted, ['command-result']);
    if (!v.ok) {
      alarm('forged-command-result', `command result on ${stationId}'s topic: ${v.reason}`, stationId);
      return;
    }
    if (v.body.name === 'rotate-key' && v.body.status === 'ok') await registerRotatedKey(stationId, payload, v.body);
    await api.recordCommandResult(v.body.id, v.body.status, JSON.stringify(v.body), v.body.at);
    events.emit('command-result', v.body);
  };

  /*
   * Station key rotation without a technician (#13 item 4): the answer to rotate-key carries the new
   * public key and is signed by the station's previous key. Headquarters registers the new key when
   * that signature is by the station's current, unrestricted key (never by a retired or revoked one:
   * a stolen booth cannot rotate itself back in) and the answer is to a rotate-key headquarters sent
   * and that was not answered yet. The old key stays trusted for what it sealed up to the rotation:
   * chain time up to the answer's own time (signed by the old key), pinned to a chain position once
   * headquarters' copy of the chain passes it.
   */
  const registerRotatedKey = async (stationId: string, payload: Buffer, body: CommandResultBody): Promise<void> => {
    const states = await api.stationKeyStates(stationId);
    const current = states.filter((k) => !isLimited(k));
    const byCurrent = verifySignedBody(payload, new TrustedKeys(current.map((k) => k.key)), ['command-result']);
    const sent = await api.commandOf(body.id);
    const pub = body.data?.publicKey;
    const refuse = (why: string): void => alarm('key-rotation-refused', `${stationId}: rotate-key answer ${body.id} not registered: ${why}`, stationId);
    let newFp: string | null = null;
    try { newFp = typeof pub === 'string' ? keyId(toPublicKey(pub.includes('-----BEGIN') ? pub : Buffer.from(pub, 'base64'))) : null; } catch { /* refused below */ }
    if (newFp !== null && states.some((k) => k.fingerprint === newFp)) return; // already registered (a redelivered answer)
    if (!byCurrent.ok) return refuse('it is not signed by the station\'s current key (retired or revoked keys cannot vouch for a new one)');
    if (!sent || sent.station_id !== stationId || sent.name !== 'rotate-key') return refuse('headquarters sent no such rotate-key command to this station');
    if (sent.result_status !== null && sent.result_status !== 'ok') return refuse('that command was already answered');
    if (typeof pub !== 'string') return refuse('the answer carries no publicKey');
    const signer = current.find((k) => keyId(k.key) === byCurrent.kid);
    let r;
    try {
      r = await api.registerStation({ stationId, publicKey: pub });
    } catch (e) {
      return refuse(`the new key is not a usable Ed25519 key (${(e as Error).message})`);
    }
    if (signer && r.rotated) await api.limitKey(stationId, signer.fingerprint, { until: body.at, throughSeq: null });
    log.info({ stationId, fingerprint: r.fingerprint, previous: signer?.fingerprint }, 'station key rotated: new key registered, vouched for by the previous one');
    events.emit('key-rotated', { stationId, fingerprint: r.fingerprint, previous: signer?.fingerprint ?? null });
  };

  // Serialise handling per worker (SQLite writes are serial anyway). mqtt.js hands us one incoming
  // PUBLISH at a time and sends its PUBACK (and reads the next packet) only when we call back. A batch
  // calls back once verified and queued for the group commit; past COMMIT_QUEUE_BYTES only after that
  // commit, so a slow database slows the broker's delivery to this worker instead of piling up memory.
  let chain: Promise<void> = Promise.resolve();
  const origHandle = client.handleMessage.bind(client);
  client.handleMessage = (packet, callback) => {
    const topic = packet.topic;
    const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
    if (announce && topic === t.ingest(workerId)) {
      // Our own retained flag. A will from an earlier connection of this worker (published by the
      // broker when it restores or takes over the old session, possibly after our "online") must not
      // leave the stations paused: say "online" again while we are up.
      try {
        const f = parsePayload('ingest', payload);
        if (f.ok && !f.value.online && isConnected && !stopping && dbUp) {
          log.info({ worker: workerId }, 'stale "ingest offline" flag for this worker; announcing online again');
          publish(t.ingest(workerId), flag(true), true).catch(() => undefined);
        }
      } catch { /* empty or malformed: ignore */ }
      origHandle(packet, callback);
      return;
    }
    const p = t.parse(topic);
    if (!p) { log.debug({ topic }, 'message on unexpected topic dropped'); origHandle(packet, callback); return; }
    // Signed time for a station without a real-time clock (#21): answered at once, ahead of the
    // serialised handling below, so the station's round-trip window stays narrow. Only a health the
    // station has just sent: a retained copy delivered on subscribing is old, its nonce long dropped.
    if (p.leaf === 'health' && !packet.retain) answerTime(p.stationId, payload);
    const run = async (): Promise<void> => {
      try {
        switch (p.leaf) {
          case 'batch': await onBatch(p.stationId, payload); break;
          case 'status': await onStatus(p.stationId, payload); break;
          case 'health': await onHealth(p.stationId, payload); break;
          case 'events': await onEvent(p.stationId, payload); break;
          case 'cmd-res': await onCmdRes(p.stationId, payload); break;
          case 'audit': await onAudit(p.stationId, payload); break;
          default: break;
        }
      } catch (e) {
        // A station's own topic carrying something that is not the protocol: refused, and visible to ops.
        if (e instanceof PayloadError || e instanceof FrameError) alarm('malformed-payload', `${p.leaf} message on ${p.stationId}'s topic refused: ${e.message}`, p.stationId);
        else { log.warn({ topic, err: (e as Error).message }, 'message could not be handled; dropped'); databaseFailed(e); }
      }
    };
    chain = chain.then(run).then(() => callback());
  };

  client.on('connect', () => {
    // "connected" means ready to receive: only once the broker granted the subscriptions (a batch
    // published before the SUBACK has no subscriber and is dropped; the station would wait a receipt timeout).
    isConnected = false;
    client.subscribe({
      // the shared work only while the database can store it
      ...(dbUp ? Object.fromEntries(sharedTopics().map((x) => [x, { qos: 1 as const }])) : {}),
      [t.all('status')]: { qos: 1 },
      [t.all('health')]: { qos: 1 },
      ...(announce ? { [t.ingest(workerId)]: { qos: 1 as const } } : {}),
    }, (err) => {
      if (err) { log.error({ err }, 'subscription failed'); return; }
      isConnected = true;
      if (announce) publish(t.ingest(workerId), flag(dbUp), true).catch((e) => log.warn({ err: e }, 'could not announce ingest online'));
      log.info({ worker: workerId, group }, 'headquarters ingest online');
      events.emit('connected');
    });
  });
  client.on('close', () => {
    isConnected = false;
    const w = [...closeWaiters];
    closeWaiters.clear();
    for (const f of w) f();
  });
  client.on('error', (err) => {
    const code = (err as { code?: unknown }).code;
    // While stopping on purpose, mqtt.js may still report the socket it is closing ("write after end").
    if (stopping) { log.debug({ err: err.message }, 'connection error while stopping'); return; }
    log.error({ reasonCode: code, broker: o.brokerUrl }, typeof code === 'number' ? `broker refused the connection: reason code 0x${code.toString(16)} (${err.message})` : `broker connection error: ${err.message}`);
  });

  const pruneTimer = setInterval(() => { api.pruneChunks(24 * 3600_000).catch(() => undefined); /* busy or down: next time */ }, 3600_000);
  pruneTimer.unref();

  return {
    api, events, workerId,
    get db(): Db { return sqlite ? sqlite.sync.db : sqliteOnly('db'); },
    get store(): HqStore { return sqlite ? sqlite.sync : sqliteOnly('store'); },
    databaseUp: () => dbUp,
    connected: () => isConnected,
    async stop(): Promise<void> {
      if (stopping) return;
      stopping = true;
      clearInterval(pruneTimer);
      await Promise.race([chain, new Promise((r) => setTimeout(r, 5_000))]);
      await Promise.race([Promise.all([...pipeline]), new Promise((r) => setTimeout(r, 10_000))]);
      scheduleFlush(); // batches received but not yet committed (their receipts still go out if connected)
      await committing;
      flushAlarms();
      if (probeTimer) { clearTimeout(probeTimer); probeTimer = null; }
      if (!o.validator) await validator.close();
      if (isConnected && announce) {
        await Promise.race([publish(t.ingest(workerId), flag(false), true).catch(() => undefined), new Promise((r) => setTimeout(r, 2_000))]);
      }
      // A worker that stops on purpose drops its broker session: otherwise the shared subscription
      // keeps routing a share of the batches to the dead session until it expires (the stations
      // would resend them after their receipt timeout, but later than needed).
      const disconnect = v5 && !o.keepSessionOnStop ? { properties: { sessionExpiryInterval: 0 } } : {};
      await Promise.race([new Promise<void>((r) => client.end(false, disconnect, () => r())), new Promise((r) => setTimeout(r, 3_000))]);
      if (!client.disconnected) client.end(true);
      if (client.stream && !client.stream.destroyed) client.stream.destroy(); // stopped while connecting: see the uplink
      await alarmWrites;
      await api.close();
    },
  };
}

export { uuidv7 };
