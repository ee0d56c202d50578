/**
 * The vault: every enrollment sealed for headquarters into SQLite.
 *
 * - Plaintext exists only in memory: `seal()` serializes, HPKE-seals and signs
 *   the record before a single byte is written; the serialized plaintext buffer
 *   is zeroed afterwards.
 * - One transaction per record (row + audit entry), WAL, synchronous=FULL: a
 *   crash or a full disk leaves either the whole record or nothing.
 * - Outbox: sealed → in_flight (batch) → acknowledged (receipt) → released
 *   (ciphertext deleted with secure_delete); `rejected` rows stay. Triggers in
 *   the schema make deleting an unreleased record impossible.
 * - Audit log: hash chain, every entry's head signed by the station key.
 */
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Logger } from 'pino';
import { v7 as uuidv7 } from 'uuid';
import { StationError } from '../../drivers/common/errors';
import type { Outbox, OutboxItem, OutboxStats, PendingBatch, ReceiptResult } from '../../sync/outbox';
import type { SmallState } from '../../sync/small-state';
import {
  auditEntryHash,
  checkAuditData,
  GENESIS_HASH,
  signAuditHead,
  verifyAuditChain,
  type AuditChainResult,
  type AuditData,
  type AuditEntry,
  type AuditKind,
} from '../../sync/wire/audit';
import { checkSignature, digestEnvelope, Sealer } from '../../sync/wire/envelope';
import { isSigningKeySource, loadHqPublicIdentity, stationSigningKeyFrom, type HqPublicIdentity, type SigningKeySource, type StationSigningKey } from '../../sync/wire/keys';
import type { EnrollmentRecord } from '../../sync/wire/record';
import { isValidStationId, STATION_ID_RULE } from '../../config/domain';
import { DEFAULT_SUITE, suiteInfo, type SuiteName } from '../../sync/wire/suites';
import { diskSpace, type DiskSpace } from './disk';
import { currentVersion, migrate, readableBy, SCHEMA_VERSION } from './schema';

export const VAULT_DIR = 'vault';
export const VAULT_FILE = 'vault.db';
const SQLITE_MAGIC = Buffer.from('SQLite format 3\0', 'latin1');
const DAY_MS = 86_400_000;
/** Bytes a WAL is truncated to when it starts over (it only grows past this during a burst). */
const JOURNAL_SIZE_LIMIT = 8 * 1024 * 1024;

export function vaultPath(dataDir: string): string {
  return join(dataDir, VAULT_DIR, VAULT_FILE);
}

export interface VaultRetention {
  /** Days to keep metadata + receipt of released records (default 90). */
  metadataDays?: number;
  /** Keep the ciphertext this long after acknowledgement before releasing it (default 0: release at once). */
  releaseAfterAckMs?: number;
  /**
   * Release inside acknowledge() (default true). False: acknowledge() only marks records
   * acknowledged (one transaction, one fsync) and the owner releases them with a periodic or
   * idle maintenance() pass; the secure delete rewrites every released page, which otherwise
   * sits on the upload path.
   */
  releaseOnAck?: boolean;
}

export interface VaultAlert {
  code: 'VAULT_DISK_LOW' | 'VAULT_TAMPERED' | 'VAULT_REJECTED' | 'VAULT_HQ_KEY';
  message: string;
  recordId?: string;
}

export interface VaultOptions {
  dataDir: string;
  stationId: string;
  /**
   * The station's signing key, or where to read it at every signature (the
   * station's StationKeyHolder: a rotation then takes effect here at once).
   */
  signingKey: StationSigningKey | KeyObject | SigningKeySource;
  /** The loaded identity, or the path of hq-public.json (a bad file only blocks sealing, not draining). */
  hqIdentity: HqPublicIdentity | string;
  suite?: SuiteName;
  /** Free space that must remain on the data disk (bytes). Default 512 MiB. */
  reserveBytes?: number;
  /** Days (number) or detailed retention. */
  retention?: VaultRetention | number;
  logger?: Logger;
  onAlert?: (alert: VaultAlert) => void;
  /** Injected for tests (simulate a nearly full disk). */
  diskSpace?: (path: string) => DiskSpace;
  now?: () => number;
  /**
   * Quiet time after the last seal before the vault copies the WAL into the
   * database file (a PASSIVE checkpoint), so that the next confirm does not pay
   * for it. Default 1000 ms; 0 = as soon as the event loop is free.
   */
  idleCheckpointMs?: number;
  /**
   * Backoff for records headquarters holds back (receipt status `held`): the n-th hold of a record
   * waits min(maxMs, max(baseMs·2^(n−1), what headquarters suggested)) before it is sent again.
   * Default 30 s doubling to 1 h.
   */
  heldRetry?: { baseMs?: number; maxMs?: number };
}

/** One record headquarters kept back, as `station status` / `station outbox list` show it. */
export interface RefusedRecord {
  recordId: string;
  state: 'held' | 'rejected';
  reason: string;
  detail: string | null;
  refusedAt: number | null;
  /** held: when it is sent again. */
  retryAt: number | null;
  /** held: how many times headquarters held it back. */
  holds: number;
  sealedAt: number;
}

export interface DiskStatus {
  ok: boolean;
  freeBytes: number;
  reserveBytes: number;
  path: string;
}

export interface VaultStats extends OutboxStats {
  tampered: number;
  auditHeadSeq: number;
  freeBytes: number;
  reserveBytes: number;
}

interface RecordRow {
  seq: number;
  record_id: string;
  envelope: Buffer | null;
  sha256: string;
  sealed_at: number;
  state: string;
  batch_id: string | null;
}

function isStationSigningKey(k: StationSigningKey | KeyObject): k is StationSigningKey {
  return typeof (k as StationSigningKey).publicKeyRaw !== 'undefined' && typeof (k as StationSigningKey).privateKey !== 'undefined';
}

function fixedOrSource(k: StationSigningKey | KeyObject | SigningKeySource): SigningKeySource {
  if (isSigningKeySource(k)) return k;
  const fixed = isStationSigningKey(k) ? k : stationSigningKeyFrom(k);
  return { current: () => fixed };
}

/** Public keys kept by key rotation (`keys/*.pub.old`); unreadable files are skipped. */
function retiredStationKeys(dataDir: string): KeyObject[] {
  const dir = join(dataDir, 'keys');
  const out: KeyObject[] = [];
  let names: string[];
  try {
    names = readdirSync(dir).filter((f) => f.startsWith('station-ed25519.') && f.endsWith('.pub.old'));
  } catch {
    return out;
  }
  for (const f of names) {
    try {
      const k = createPublicKey(readFileSync(join(dir, f), 'utf8'));
      if (k.asymmetricKeyType === 'ed25519') out.push(k);
    } catch {}
  }
  return out;
}

function isSqliteFull(e: unknown): boolean {
  const code = (e as { code?: string }).code ?? '';
  return code === 'SQLITE_FULL' || code.startsWith('SQLITE_IOERR') || (e as NodeJS.ErrnoException).code === 'ENOSPC';
}

/**
 * What an error opening or reading the vault means: on a disk with (almost) nothing free, SQLite's
 * "disk I/O error" is the -shm or -wal file that could not grow, not a damaged database.
 */
function corruptOrFull(path: string, e: unknown): StationError {
  let free = Number.POSITIVE_INFINITY;
  try {
    free = diskSpace(join(path, '..')).freeBytes;
  } catch {}
  if (isSqliteFull(e) && free < 1024 * 1024) {
    return new StationError('VAULT_DISK_FULL', `the vault ${path} cannot be opened: the disk holding it is full (${free} bytes free); the file itself is intact`, {
      hint: 'free space on the data disk (old logs, other files) and start again; never delete the vault',
      cause: e,
    });
  }
  return corrupt(path, (e as Error).message, e);
}

function corrupt(path: string, why: string, cause?: unknown): StationError {
  return new StationError('VAULT_CORRUPT', `the vault database ${path} is damaged (${why}); refusing to start and leaving it untouched`, {
    hint: 'do not delete it: it may hold records headquarters has not received. Copy the whole vault directory off the booth and contact support',
    cause,
  });
}

/**
 * Opens an existing database file WITHOUT writing to it and checks it: SQLite
 * header, then `PRAGMA quick_check` (skipped when `quick` is false).
 */
function openChecked(path: string, readonly: boolean, quick = true): Database.Database {
  const st = statSync(path);
  if (st.size > 0) {
    const fd = openSync(path, 'r');
    const head = Buffer.alloc(16);
    try {
      readSync(fd, head, 0, 16, 0);
    } finally {
      closeSync(fd);
    }
    if (!head.equals(SQLITE_MAGIC)) throw corrupt(path, 'not an SQLite database header');
  }
  let db: Database.Database;
  try {
    db = new Database(path, { fileMustExist: true, readonly });
  } catch (e) {
    throw corruptOrFull(path, e);
  }
  try {
    if (!quick) {
      db.prepare('SELECT COUNT(*) FROM sqlite_master').get();
      return db;
    }
    const rows = db.pragma('quick_check') as { quick_check: string }[];
    if (rows.length !== 1 || rows[0].quick_check !== 'ok') {
      throw corrupt(path, `quick_check: ${rows.slice(0, 3).map((r) => r.quick_check).join('; ')}`);
    }
  } catch (e) {
    db.close();
    if (e instanceof StationError) throw e;
    throw corruptOrFull(path, e);
  }
  return db;
}

export class Vault implements Outbox {
  readonly dbPath: string;
  readonly stationId: string;
  private readonly db: Database.Database;
  private readonly log?: Logger;
  private keys: SigningKeySource;
  /** The key the sealer was set up with; compared with keys.current() before each signature. */
  private signingKey: StationSigningKey;
  /** Public keys whose signatures on stored rows are accepted (current + rotated-out). */
  private verifyKeys: KeyObject[] = [];
  private readonly suiteName: SuiteName;
  private readonly reserveBytes: number;
  private readonly heldRetry: { baseMs: number; maxMs: number };
  private readonly retention: Required<VaultRetention>;
  private readonly onAlert?: (a: VaultAlert) => void;
  private readonly space: (path: string) => DiskSpace;
  private readonly now: () => number;
  private hq: HqPublicIdentity | null;
  private hqError: StationError | null;
  private sealer: Sealer | null = null;
  /** Seals started and not yet finished (the idle checkpoint waits for none). */
  private sealsPending = 0;
  private readonly idleCheckpointMs: number;
  private idleTimer: NodeJS.Timeout | null = null;
  private readonly idleWaiters: (() => void)[] = [];
  private readonly stmts = new Map<string, Database.Statement>();
  private lastDiskAlertAt = 0;
  private closed = false;

  /**
   * Small state of other parts kept in this database (the uplink's replay window,
   * session counter and acknowledged audit head): `meta` rows `state:<key>`, each set
   * one durable transaction. A full disk throws (SQLITE_FULL); the caller decides.
   */
  readonly smallState: SmallState = {
    get: (key) => {
      this.assertOpen();
      return (this.stmt(`SELECT value FROM meta WHERE key = ?`).get(`state:${key}`) as { value: string } | undefined)?.value ?? null;
    },
    set: (key, value) => {
      this.assertOpen();
      this.stmt(`INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`).run(`state:${key}`, value);
    },
  };

  /** The audit log (append-only hash chain). */
  readonly audit: {
    append: (kind: AuditKind, data?: AuditData) => AuditEntry;
    entriesSince: (afterSeq: number, limit?: number) => AuditEntry[];
    head: () => { seq: number; hash: string };
    verify: () => AuditChainResult;
  };

  private constructor(db: Database.Database, opts: VaultOptions, dbPath: string, hq: HqPublicIdentity | null, hqError: StationError | null) {
    this.db = db;
    this.dbPath = dbPath;
    this.stationId = opts.stationId;
    this.log = opts.logger?.child({ component: 'vault' });
    this.keys = fixedOrSource(opts.signingKey);
    this.signingKey = this.keys.current();
    this.suiteName = suiteInfo(opts.suite ?? DEFAULT_SUITE).name;
    this.reserveBytes = opts.reserveBytes ?? 512 * 1024 * 1024;
    this.heldRetry = { baseMs: opts.heldRetry?.baseMs ?? 30_000, maxMs: opts.heldRetry?.maxMs ?? 3_600_000 };
    const r = typeof opts.retention === 'number' ? { metadataDays: opts.retention } : (opts.retention ?? {});
    this.retention = { metadataDays: r.metadataDays ?? 90, releaseAfterAckMs: r.releaseAfterAckMs ?? 0, releaseOnAck: r.releaseOnAck ?? true };
    this.onAlert = opts.onAlert;
    this.space = opts.diskSpace ?? diskSpace;
    this.now = opts.now ?? Date.now;
    this.idleCheckpointMs = opts.idleCheckpointMs ?? 1000;
    this.hq = hq;
    this.hqError = hqError;
    this.verifyKeys = [this.signingKey.publicKey, ...retiredStationKeys(opts.dataDir)];
    this.audit = {
      append: (kind, data = {}) => this.appendAudit(kind, data),
      entriesSince: (afterSeq, limit = 1000) => this.auditEntriesSince(afterSeq, limit),
      head: () => this.auditHead(),
      verify: () => verifyAuditChain(this.auditEntriesSince(0, Number.MAX_SAFE_INTEGER), this.verifyKeys, { stationId: this.stationId }),
    };
  }

  /**
   * Opens (creating when absent) `<dataDir>/vault/vault.db`. A damaged file is
   * refused with VAULT_CORRUPT and never modified.
   */
  static async open(opts: VaultOptions): Promise<Vault> {
    if (!isValidStationId(opts.stationId)) {
      throw new StationError('VAULT_BAD_STATION_ID', `station id "${opts.stationId}" is not usable in the vault`, { hint: `use ${STATION_ID_RULE}`, exitCode: 2 });
    }
    const dir = join(opts.dataDir, VAULT_DIR);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const path = join(dir, VAULT_FILE);
    let db: Database.Database;
    if (existsSync(path)) {
      db = openChecked(path, false);
    } else {
      db = new Database(path);
    }
    try {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      db.pragma('secure_delete = ON');
      db.pragma('busy_timeout = 5000');
      // SQLite's own bound (a commit that takes the WAL past 1000 pages copies it back) stays
      // on for bursts; in service the idle checkpoint after each seal keeps the WAL short, and a
      // WAL that did grow is cut back to this size when it starts over.
      db.pragma('wal_autocheckpoint = 1000');
      db.pragma(`journal_size_limit = ${JOURNAL_SIZE_LIMIT}`);
      const v = currentVersion(db);
      if (v > SCHEMA_VERSION) {
        const rb = readableBy(db);
        if (rb > SCHEMA_VERSION) {
          throw new StationError('VAULT_TOO_NEW', `the vault database ${path} has schema version ${v}, newer than this software understands (${SCHEMA_VERSION}), and the newer version's changes are not readable by it (readable by schema ${rb} and later)`, {
            hint: 'install the station software version that created it; never downgrade a vault',
          });
        }
        // a rollback after an additive migration: used as it is, never downgraded (docs/updates.md)
        opts.logger?.warn({ schema: v, readableBy: rb, ours: SCHEMA_VERSION }, `the vault has schema ${v} from a newer release, which stays readable by schema ${rb}: opened as it is (a rollback), nothing downgraded`);
      }
      try {
        migrate(db);
      } catch (e) {
        // Each migration is one transaction: a failed one (typically a full disk — schema 2 copies
        // every stored envelope once) leaves the file exactly as it was.
        const full = isSqliteFull(e);
        throw new StationError('VAULT_MIGRATION_FAILED', `the vault ${path} could not be upgraded from schema ${v} to ${SCHEMA_VERSION}: ${full ? 'the disk is full' : (e as Error).message}; nothing was changed`, {
          cause: e,
          hint: full
            ? 'free disk space (the upgrade needs about the size of the records not yet released) and start again; never delete the vault'
            : 'start the previous software version, or copy the whole vault directory off the booth and contact support; never delete the vault',
        });
      }
      const row = db.prepare(`SELECT value FROM meta WHERE key = 'station_id'`).get() as { value: string } | undefined;
      if (!row) {
        db.prepare(`INSERT INTO meta (key, value) VALUES ('station_id', ?), ('created_at', ?)`).run(opts.stationId, String((opts.now ?? Date.now)()));
      } else if (row.value !== opts.stationId) {
        throw new StationError('VAULT_STATION_MISMATCH', `the vault ${path} belongs to station "${row.value}", but this station is configured as "${opts.stationId}"`, {
          hint: 'fix station.id in the configuration; never point a station at another station\'s vault',
          exitCode: 2,
        });
      }
    } catch (e) {
      db.close();
      if (e instanceof StationError) throw e;
      throw corruptOrFull(path, e);
    }
    let hq: HqPublicIdentity | null = null;
    let hqError: StationError | null = null;
    if (typeof opts.hqIdentity === 'string') {
      try {
        hq = loadHqPublicIdentity(opts.hqIdentity);
      } catch (e) {
        if (!(e instanceof StationError)) throw e;
        hqError = e;
      }
    } else {
      hq = opts.hqIdentity;
    }
    const vault = new Vault(db, opts, path, hq, hqError);
    if (hqError) {
      vault.log?.error({ code: hqError.code, file: opts.hqIdentity }, 'headquarters public key unusable: enrollments are refused until it is fixed');
      vault.alert({ code: 'VAULT_HQ_KEY', message: hqError.message });
    }
    try {
      vault.appendAudit('vault_open', { schema: SCHEMA_VERSION, suite: vault.suiteName, hqKey: hq ? 'ok' : 'unusable' });
    } catch (e) {
      // A full disk must not keep the station from starting: it can still drain (and release) what
      // it holds, and seal() refuses new records with the reason. The entry is only a marker.
      if (!isSqliteFull(e)) {
        db.close();
        throw e;
      }
      vault.log?.warn({ code: 'VAULT_DISK_FULL' }, 'vault opened on a full disk: its vault_open audit entry could not be written');
      vault.alert({ code: 'VAULT_DISK_LOW', message: `the disk holding ${path} is full; new enrollments are refused until space returns` });
    }
    return vault;
  }

  // ------------------------------------------------------------------ sealing

  /**
   * Seals to this headquarters identity from the next record on (a key
   * rotation learned by a signed command, or a fixed key file). Records sealed
   * before stay as they are: headquarters keeps every key generation.
   */
  setHqIdentity(hq: HqPublicIdentity): void {
    this.assertOpen();
    this.hq = hq;
    this.hqError = null;
    this.sealer = null;
    this.appendAudit('config_change', { change: 'hq-identity', serial: hq.serial, recordKey: hq.keyIds.hpkeX25519.toString('hex').slice(0, 16) });
  }

  /** The identity records are sealed to (null while the key file is unusable). */
  hqIdentity(): HqPublicIdentity | null {
    return this.hq;
  }

  /** Throws if sealing is impossible (missing/malformed HQ key) — call before starting a session. */
  requireSealable(): void {
    if (this.hqError) throw this.hqError;
  }

  /** Free space vs reserve; raises an alert (rate-limited) when below. */
  checkDisk(extraBytes = 0): DiskStatus {
    const dir = join(this.dbPath, '..');
    const { freeBytes } = this.space(dir);
    const ok = freeBytes > this.reserveBytes + extraBytes;
    if (!ok) {
      const t = this.now();
      if (t - this.lastDiskAlertAt > 60_000) {
        this.lastDiskAlertAt = t;
        const message = `only ${Math.floor(freeBytes / 1048576)} MB free on the vault disk (${dir}); the reserve is ${Math.floor(this.reserveBytes / 1048576)} MB`;
        this.log?.warn({ freeBytes, reserveBytes: this.reserveBytes }, 'vault disk below reserve: new enrollments refused');
        this.alert({ code: 'VAULT_DISK_LOW', message });
        try {
          this.appendAudit('alert', { code: 'VAULT_DISK_LOW', freeBytes, reserveBytes: this.reserveBytes });
        } catch {}
      }
    }
    return { ok, freeBytes, reserveBytes: this.reserveBytes, path: dir };
  }

  /** Throws VAULT_DISK_LOW when free space is not above the reserve (+ extra). */
  requireDiskSpace(extraBytes = 0): void {
    const s = this.checkDisk(extraBytes);
    if (!s.ok) {
      throw new StationError('VAULT_DISK_LOW', `not enough free space to store enrollments: ${Math.floor(s.freeBytes / 1048576)} MB free on ${s.path}, reserve is ${Math.floor(s.reserveBytes / 1048576)} MB`, {
        hint: 'new enrollments are refused; connect the booth so the backlog uploads and is released, or free space elsewhere on the disk — never delete the vault',
      });
    }
  }

  /**
   * Seals a record for headquarters and stores it durably (one transaction).
   * Resolves once the record is on disk; nothing unencrypted is ever written.
   */
  async seal(record: EnrollmentRecord): Promise<{ recordId: string; sha256: string }> {
    this.assertOpen();
    this.requireSealable();
    if (record.stationId !== this.stationId) {
      throw new StationError('VAULT_BAD_RECORD', `record ${record.recordId} names station "${record.stationId}", this vault belongs to "${this.stationId}"`);
    }
    this.requireDiskSpace();
    this.sealsPending++;
    this.cancelIdleCheckpoint();
    try {
      const key = this.signing();
      if (!this.sealer) this.sealer = new Sealer(this.suiteName, this.hq as HqPublicIdentity, key);
      let sealed;
      try {
        sealed = await this.sealer.seal(record);
      } catch (e) {
        if (e instanceof StationError) throw e;
        throw new StationError('VAULT_SEAL_FAILED', `record ${record.recordId} could not be sealed: ${(e as Error).message}`, { cause: e, hint: 'the record is still in memory; fix the cause and confirm again' });
      }
      this.assertOpen();
      // The row is written once to the WAL and once to the database file.
      this.requireDiskSpace(sealed.envelope.length * 2);
      const size = sealed.envelope.length;
      try {
        this.storeSealed(sealed.recordId, sealed.envelope, sealed.sha256, sealed.suite, sealed.sealedAt);
      } catch (e) {
        if (e instanceof StationError) throw e;
        if ((e as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') {
          throw new StationError('VAULT_DUPLICATE_RECORD', `record ${record.recordId} is already in the vault`, { hint: 'each record needs a fresh id' });
        }
        if (isSqliteFull(e)) {
          this.alert({ code: 'VAULT_DISK_LOW', message: `disk full while storing record ${record.recordId}` });
          throw new StationError('VAULT_DISK_FULL', `the disk filled up while storing record ${record.recordId}; nothing was stored`, {
            cause: e,
            hint: 'the record is still in memory; free space, then confirm again',
          });
        }
        throw new StationError('VAULT_WRITE', `record ${record.recordId} could not be stored: ${(e as Error).message}`, { cause: e });
      }
      this.log?.info({ recordId: sealed.recordId, size, suite: sealed.suite }, 'record sealed');
      return { recordId: sealed.recordId, sha256: sealed.sha256 };
    } finally {
      this.sealsPending--;
      this.scheduleIdleCheckpoint();
    }
  }

  /**
   * Row, ciphertext and `record_sealed` audit entry in one IMMEDIATE transaction
   * on the vault's one connection; returns once the commit is durable
   * (synchronous=FULL: the WAL is fsynced). This holds the event loop for that
   * commit — one fsync of a few hundred KB, once per enrollment.
   */
  private storeSealed(recordId: string, envelope: Buffer, sha256: string, suite: string, sealedAt: number): void {
    this.db.transaction(() => {
      const seq = this.stmt(`INSERT INTO records (record_id, state, sha256, size, suite, sealed_at) VALUES (?, 'sealed', ?, ?, ?, ?)`)
        .run(recordId, sha256, envelope.length, suite, sealedAt).lastInsertRowid;
      this.stmt(`INSERT INTO envelopes (seq, envelope) VALUES (?, ?)`).run(seq, envelope);
      this.appendAudit('record_sealed', { recordId, sha256, size: envelope.length, suite }, sealedAt);
    }).immediate();
  }

  private cancelIdleCheckpoint(): void {
    if (this.idleTimer) {
      clearTimeout(this.idleTimer);
      this.idleTimer = null;
    }
  }

  /** After the last pending seal: copy the WAL into the database file once the booth is quiet. */
  private scheduleIdleCheckpoint(): void {
    if (this.closed || this.sealsPending > 0) return;
    this.cancelIdleCheckpoint();
    this.idleTimer = setTimeout(() => {
      this.idleTimer = null;
      if (this.closed || this.sealsPending > 0) return; // that seal schedules the next one
      this.checkpointNow('idle');
    }, this.idleCheckpointMs);
    if (this.idleWaiters.length === 0) this.idleTimer.unref();
  }

  /** PASSIVE checkpoint (never waits for a reader or writer); a failure only leaves the WAL longer. */
  private checkpointNow(why: string): void {
    try {
      const r = (this.db.pragma('wal_checkpoint(PASSIVE)') as { busy: number; log: number; checkpointed: number }[])[0];
      this.log?.debug({ why, frames: r?.checkpointed, log: r?.log }, 'vault WAL checkpointed');
    } catch (e) {
      this.log?.warn({ why, reason: (e as Error).message }, 'vault WAL checkpoint failed; SQLite copies the WAL back by itself at 1000 pages');
    }
    if (this.sealsPending === 0 && this.idleTimer === null) for (const w of this.idleWaiters.splice(0)) w();
  }

  /**
   * Resolves once no seal is pending and the idle checkpoint after the last one
   * has run (at once when there is nothing to wait for). For tests, the
   * benchmark and an orderly stop.
   */
  idle(): Promise<void> {
    if (this.closed || (this.sealsPending === 0 && this.idleTimer === null)) return Promise.resolve();
    // Someone waits for it: the timer keeps the process alive (it is unref'd otherwise).
    this.idleTimer?.ref();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  // ------------------------------------------------------------------ outbox

  /** Checks a stored row against its hash, signature and id; returns why it is bad, or null. */
  private verifyRow(r: RecordRow): string | null {
    if (!r.envelope) return 'ciphertext missing';
    let d: ReturnType<typeof digestEnvelope>;
    try {
      d = digestEnvelope(r.envelope); // one hashing pass: the row's hash and the signed digest
    } catch (e) {
      return createHash('sha256').update(r.envelope).digest('hex') !== r.sha256 ? 'stored hash does not match the envelope' : (e as Error).message;
    }
    if (d.sha256 !== r.sha256) return 'stored hash does not match the envelope';
    if (d.parsed.recordId !== r.record_id) return 'envelope record id does not match the row';
    if (d.parsed.stationId !== this.stationId) return 'envelope names another station';
    if (!this.verifyKeys.some((k) => checkSignature(d, k))) return 'station signature does not verify';
    return null;
  }

  private markTampered(r: RecordRow, reason: string): void {
    const info = this.stmt(`UPDATE records SET tampered_at = ?, tamper_reason = ? WHERE seq = ? AND tampered_at IS NULL`).run(this.now(), reason, r.seq);
    if (info.changes > 0) {
      this.appendAudit('tamper', { recordId: r.record_id, reason });
      this.log?.error({ recordId: r.record_id, reason }, 'vault row tampered: record held back, not sent');
      this.alert({ code: 'VAULT_TAMPERED', message: `record ${r.record_id} failed its integrity check (${reason}); it is kept and will not be sent`, recordId: r.record_id });
    }
  }

  private toItem(r: RecordRow): OutboxItem {
    return { recordId: r.record_id, envelope: r.envelope as Buffer, sha256: r.sha256, sealedAt: r.sealed_at };
  }

  inFlightBatches(): PendingBatch[] {
    this.assertOpen();
    return this.db.transaction(() => {
      const batches = this.stmt(`SELECT batch_id, created_at, attempts, last_attempt_at FROM batches WHERE acked_at IS NULL ORDER BY created_at, batch_id`)
        .all() as { batch_id: string; created_at: number; attempts: number; last_attempt_at: number | null }[];
      const out: PendingBatch[] = [];
      for (const b of batches) {
        const rows = this.stmt(`SELECT r.seq, r.record_id, e.envelope, r.sha256, r.sealed_at, r.state, r.batch_id FROM records r LEFT JOIN envelopes e ON e.seq = r.seq WHERE r.batch_id = ? AND r.state = 'in_flight' AND r.tampered_at IS NULL ORDER BY r.seq`)
          .all(b.batch_id) as RecordRow[];
        const items: OutboxItem[] = [];
        for (const r of rows) {
          const bad = this.verifyRow(r);
          if (bad) this.markTampered(r, bad);
          else items.push(this.toItem(r));
        }
        if (items.length === 0) continue;
        out.push({ batchId: b.batch_id, items, createdAt: b.created_at, attempts: b.attempts, lastAttemptAt: b.last_attempt_at });
      }
      return out;
    }).immediate();
  }

  openBatch(maxRecords: number, maxBytes: number): PendingBatch | null {
    this.assertOpen();
    if (maxRecords < 1) return null;
    return this.db.transaction(() => {
      const items: OutboxItem[] = [];
      const seqs: number[] = [];
      let bytes = 0;
      let lastSeq = 0;
      // Records headquarters held back whose wait is over go out again, in their original order.
      this.stmt(`UPDATE records SET state = 'sealed' WHERE state = 'held' AND held_until <= ?`).run(this.now());
      // Walk sealed rows oldest first; skip (and report) tampered ones.
      outer: for (;;) {
        // Sizes first (from the small records rows), then only the envelopes that fit: a batch
        // of a few large records must not read the next hundreds of envelopes from disk.
        const metas = this.stmt(`SELECT seq, size AS len FROM records WHERE state = 'sealed' AND tampered_at IS NULL AND seq > ? ORDER BY seq LIMIT ?`)
          .all(lastSeq, Math.max(maxRecords, 16)) as { seq: number; len: number | null }[];
        if (metas.length === 0) break;
        for (const m of metas) {
          lastSeq = m.seq;
          const size = m.len ?? 0;
          if (items.length > 0 && bytes + size > maxBytes) break outer;
          const r = this.stmt(`SELECT r.seq, r.record_id, e.envelope, r.sha256, r.sealed_at, r.state, r.batch_id FROM records r LEFT JOIN envelopes e ON e.seq = r.seq WHERE r.seq = ?`).get(m.seq) as RecordRow;
          const bad = this.verifyRow(r);
          if (bad) {
            this.markTampered(r, bad);
            continue;
          }
          items.push(this.toItem(r));
          seqs.push(r.seq);
          bytes += size;
          if (items.length >= maxRecords || bytes >= maxBytes) break outer;
        }
      }
      if (items.length === 0) return null;
      const batchId = uuidv7();
      const createdAt = this.now();
      this.stmt(`INSERT INTO batches (batch_id, created_at) VALUES (?, ?)`).run(batchId, createdAt);
      const upd = this.stmt(`UPDATE records SET state = 'in_flight', batch_id = ? WHERE seq = ? AND state = 'sealed'`);
      for (const s of seqs) upd.run(batchId, s);
      this.appendAudit('batch_sent', { batchId, records: items.length, bytes });
      return { batchId, items, createdAt, attempts: 0, lastAttemptAt: null };
    }).immediate();
  }

  /** Several batches in one transaction (a savepoint each): the uplink fills its window with one fsync. */
  openBatches(count: number, maxRecords: number, maxBytes: number): PendingBatch[] {
    this.assertOpen();
    const out: PendingBatch[] = [];
    this.db.transaction(() => {
      for (let i = 0; i < count; i++) {
        const b = this.openBatch(maxRecords, maxBytes);
        if (!b) break;
        out.push(b);
      }
    }).immediate();
    return out;
  }

  markAttempt(batchId: string, at: number = this.now()): void {
    this.assertOpen();
    // Bookkeeping only (backoff, reporting): committed without its own fsync. A count lost in a power
    // cut is harmless; the next durable commit (acknowledge, openBatch, seal) syncs it along.
    this.db.pragma('synchronous = NORMAL');
    try {
      this.stmt(`UPDATE batches SET attempts = attempts + 1, last_attempt_at = ? WHERE batch_id = ?`).run(at, batchId);
    } finally {
      this.db.pragma('synchronous = FULL');
    }
  }

  acknowledge(batchId: string, receipt: Buffer, results: ReceiptResult[]): void {
    const err = this.acknowledgeMany([{ batchId, receipt, results }])[0];
    if (err) throw err;
  }

  /**
   * Receipts that arrived together, in one transaction (one fsync instead of one per receipt);
   * each is applied in its own savepoint, so one that cannot be applied leaves the others.
   */
  acknowledgeMany(receipts: { batchId: string; receipt: Buffer; results: ReceiptResult[] }[]): (Error | null)[] {
    this.assertOpen();
    const rejected: { recordId: string; reason: string; detail?: string }[] = [];
    const errors: (Error | null)[] = receipts.map(() => null);
    let applied = false;
    this.db.transaction(() => {
      receipts.forEach((r, i) => {
        try {
          if (this.applyReceipt(r.batchId, r.receipt, r.results, rejected)) applied = true;
        } catch (e) {
          errors[i] = e as Error;
        }
      });
    }).immediate();
    for (const r of rejected) {
      this.log?.error({ recordId: r.recordId, reason: r.reason, detail: r.detail }, 'headquarters rejected a record; it is kept (station outbox requeue once the cause is fixed)');
      this.alert({ code: 'VAULT_REJECTED', message: `headquarters rejected record ${r.recordId} (${r.reason}${r.detail ? `: ${r.detail}` : ''}); it is kept`, recordId: r.recordId });
    }
    if (applied && this.retention.releaseOnAck) this.maintenance();
    return errors;
  }

  /** One receipt, inside the caller's transaction (as a savepoint). False when it was already applied. */
  private heldDelay(holds: number, suggestedMs: number | undefined): number {
    const base = this.heldRetry.baseMs;
    const max = this.heldRetry.maxMs;
    return Math.min(max, Math.max(base * Math.pow(2, Math.min(30, holds - 1)), suggestedMs ?? 0));
  }

  private applyReceipt(batchId: string, receipt: Buffer, results: ReceiptResult[], rejectedOut: { recordId: string; reason: string; detail?: string }[]): boolean {
    const rejected: { recordId: string; reason: string; detail?: string }[] = [];
    const applied = this.db.transaction(() => {
      const b = this.stmt(`SELECT acked_at FROM batches WHERE batch_id = ?`).get(batchId) as { acked_at: number | null } | undefined;
      if (!b) throw new StationError('VAULT_UNKNOWN_BATCH', `receipt for unknown batch ${batchId}`, { hint: 'ignore it; the batch may have been acknowledged before a restart' });
      if (b.acked_at !== null) return false; // a repeated receipt: already applied
      const t = this.now();
      const byId = new Map(results.map((r) => [r.recordId, r]));
      const rows = this.stmt(`SELECT seq, record_id, sha256, held_count FROM records WHERE batch_id = ? AND state = 'in_flight'`).all(batchId) as { seq: number; record_id: string; sha256: string; held_count: number }[];
      const ack = this.stmt(`UPDATE records SET state = 'acknowledged', acked_at = ?, receipt_status = ? WHERE seq = ?`);
      const rej = this.stmt(`UPDATE records SET state = 'rejected', refused_at = ?, receipt_status = 'rejected', reject_reason = ?, refusal_detail = ? WHERE seq = ?`);
      // held: out of its batch (the batch is done), back to `sealed` by itself once held_until has passed
      const hold = this.stmt(`UPDATE records SET state = 'held', batch_id = NULL, refused_at = ?, receipt_status = 'held', reject_reason = ?, refusal_detail = ?, held_until = ?, held_count = held_count + 1 WHERE seq = ?`);
      const requeue = this.stmt(`UPDATE records SET state = 'sealed', batch_id = NULL WHERE seq = ?`);
      let stored = 0;
      let duplicate = 0;
      let requeued = 0;
      let heldBack = 0;
      for (const r of rows) {
        const res = byId.get(r.record_id);
        if (!res || res.sha256 !== r.sha256) {
          // Not covered by this receipt (or HQ hashed different bytes): send again.
          requeue.run(r.seq);
          requeued += 1;
          if (res) this.log?.warn({ recordId: r.record_id, batchId }, 'receipt hash differs from the stored envelope; record will be resent');
          continue;
        }
        if (res.status === 'rejected') {
          const reason = res.reason ?? 'unspecified';
          rej.run(t, reason, res.detail?.slice(0, 500) ?? null, r.seq);
          rejected.push({ recordId: r.record_id, reason, ...(res.detail ? { detail: res.detail } : {}) });
        } else if (res.status === 'held') {
          const until = t + this.heldDelay(r.held_count + 1, res.retryAfterMs);
          hold.run(t, res.reason ?? 'unspecified', res.detail?.slice(0, 500) ?? null, until, r.seq);
          heldBack += 1;
        } else {
          ack.run(t, res.status, r.seq);
          if (res.status === 'stored') stored += 1;
          else duplicate += 1;
        }
      }
      this.stmt(`UPDATE batches SET acked_at = ?, receipt = ? WHERE batch_id = ?`).run(t, receipt, batchId);
      this.appendAudit('receipt_received', { batchId, stored, duplicate, rejected: rejected.length, held: heldBack, requeued });
      return true;
    })();
    rejectedOut.push(...rejected); // only once its savepoint holds
    return applied;
  }

  /**
   * Sends records headquarters kept back again: `rejected` ones (all, or those
   * with one reason) and, with `held`, held ones without waiting for their next
   * try. For a technician once the cause is fixed (`station outbox requeue`).
   * Recorded in the audit chain. Returns how many were requeued.
   */
  requeue(filter: { reason?: string; held?: boolean } = {}): { requeued: number; recordIds: string[] } {
    this.assertOpen();
    return this.db.transaction(() => {
      const states = filter.held ? ['rejected', 'held'] : ['rejected'];
      const rows = this.stmt(`SELECT seq, record_id FROM records WHERE state IN (${states.map(() => '?').join(',')}) AND tampered_at IS NULL AND (? IS NULL OR reject_reason = ?) ORDER BY seq`)
        .all(...states, filter.reason ?? null, filter.reason ?? null) as { seq: number; record_id: string }[];
      const upd = this.stmt(`UPDATE records SET state = 'sealed', batch_id = NULL, held_until = NULL WHERE seq = ?`);
      for (const r of rows) upd.run(r.seq);
      if (rows.length > 0) {
        this.appendAudit('config_change', { change: 'outbox-requeue', records: rows.length, reason: filter.reason ?? null, held: !!filter.held, firstRecordId: rows[0]!.record_id });
      }
      return { requeued: rows.length, recordIds: rows.map((r) => r.record_id) };
    }).immediate();
  }

  /** Records headquarters kept back (held or rejected), oldest first. */
  refusedRecords(limit = 1000): RefusedRecord[] {
    this.assertOpen();
    return listRefused(this.db, limit);
  }

  /**
   * Releases acknowledged records whose ciphertext retention is over (secure
   * delete) and purges metadata of released records past retention.
   * Returns how many were released and purged.
   */
  maintenance(now: number = this.now()): { released: number; purged: number } {
    this.assertOpen();
    const r = this.db.transaction(() => {
      const due = this.stmt(`SELECT seq, record_id FROM records WHERE state = 'acknowledged' AND acked_at <= ?`)
        .all(now - this.retention.releaseAfterAckMs) as { seq: number; record_id: string }[];
      const rel = this.stmt(`UPDATE records SET state = 'released', released_at = ? WHERE seq = ? AND state = 'acknowledged'`);
      const drop = this.stmt(`DELETE FROM envelopes WHERE seq = ?`);
      for (const r of due) {
        rel.run(now, r.seq);
        drop.run(r.seq);
      }
      if (due.length > 0) this.appendAudit('release', { records: due.length, firstRecordId: due[0].record_id, lastRecordId: due[due.length - 1].record_id });
      const cutoff = now - this.retention.metadataDays * DAY_MS;
      const purged = this.stmt(`DELETE FROM records WHERE state = 'released' AND released_at < ?`).run(cutoff).changes;
      this.stmt(`DELETE FROM batches WHERE acked_at IS NOT NULL AND acked_at < ? AND NOT EXISTS (SELECT 1 FROM records WHERE records.batch_id = batches.batch_id)`).run(cutoff);
      return { released: due.length, purged };
    }).immediate();
    // A secure delete rewrites every page it frees, so a release leaves megabytes in the WAL.
    // Copy them into the database file now rather than leaving that work to the next record's commit.
    if (r.released > 0 || r.purged > 0) this.checkpointNow('release');
    return r;
  }

  stats(now: number = this.now()): VaultStats {
    this.assertOpen();
    const s = computeStats(this.db, now);
    const d = this.space(join(this.dbPath, '..'));
    return { ...s, freeBytes: d.freeBytes, reserveBytes: this.reserveBytes };
  }

  /** The stored receipt of a batch (for audits / support). */
  receipt(batchId: string): Buffer | null {
    const r = this.stmt(`SELECT receipt FROM batches WHERE batch_id = ?`).get(batchId) as { receipt: Buffer | null } | undefined;
    return r?.receipt ?? null;
  }

  /** State of one record, or null. */
  recordState(recordId: string): { state: string; sha256: string; batchId: string | null; tampered: boolean; rejectReason: string | null; sealedAt: number } | null {
    const r = this.stmt(`SELECT state, sha256, batch_id, tampered_at, reject_reason, sealed_at FROM records WHERE record_id = ?`).get(recordId) as
      | { state: string; sha256: string; batch_id: string | null; tampered_at: number | null; reject_reason: string | null; sealed_at: number }
      | undefined;
    return r ? { state: r.state, sha256: r.sha256, batchId: r.batch_id, tampered: r.tampered_at !== null, rejectReason: r.reject_reason, sealedAt: r.sealed_at } : null;
  }

  // ------------------------------------------------------------------ audit

  private auditHead(): { seq: number; hash: string } {
    const r = this.stmt(`SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1`).get() as { seq: number; hash: string } | undefined;
    return r ?? { seq: 0, hash: GENESIS_HASH };
  }

  private appendAudit(kind: AuditKind, data: AuditData, ts: number = this.now()): AuditEntry {
    this.assertOpen();
    checkAuditData(data);
    return this.db.transaction(() => {
      const head = this.auditHead();
      const e: AuditEntry = { seq: head.seq + 1, ts, kind, data: { ...data }, prevHash: head.hash, hash: '' };
      e.hash = auditEntryHash(this.stationId, e);
      e.sig = signAuditHead(this.stationId, e.seq, e.hash, this.signing().privateKey);
      this.stmt(`INSERT INTO audit (seq, ts, kind, data, prev_hash, hash, sig) VALUES (?, ?, ?, ?, ?, ?, ?)`).run(e.seq, e.ts, e.kind, JSON.stringify(e.data), e.prevHash, e.hash, e.sig);
      return e;
    }).immediate();
  }

  /** Audit entries with seq > afterSeq, oldest first (what the uplink sends along with batches). */
  auditEntriesSince(afterSeq: number, limit = 1000): AuditEntry[] {
    this.assertOpen();
    const rows = this.stmt(`SELECT seq, ts, kind, data, prev_hash, hash, sig FROM audit WHERE seq > ? ORDER BY seq LIMIT ?`).all(afterSeq, limit) as {
      seq: number;
      ts: number;
      kind: AuditKind;
      data: string;
      prev_hash: string;
      hash: string;
      sig: string | null;
    }[];
    return rows.map((r) => ({ seq: r.seq, ts: r.ts, kind: r.kind, data: JSON.parse(r.data) as AuditData, prevHash: r.prev_hash, hash: r.hash, ...(r.sig ? { sig: r.sig } : {}) }));
  }

  /**
   * Switches to a new station signing key (after `writeStationKeyPair(…, {rotate})`):
   * records and audit entries from now on are signed with it; rows signed with
   * the previous key keep verifying.
   */
  useSigningKey(key: StationSigningKey | KeyObject | SigningKeySource): void {
    this.assertOpen();
    this.keys = fixedOrSource(key);
    this.signing();
  }

  /**
   * The key to sign with now. When the source's key changed (a rotation), the
   * sealer switches before this signature; rows signed with the
   * previous key keep verifying.
   */
  private signing(): StationSigningKey {
    const next = this.keys.current();
    if (next !== this.signingKey) {
      if (!this.verifyKeys.some((k) => k.equals(next.publicKey))) this.verifyKeys.unshift(next.publicKey);
      this.signingKey = next;
      this.sealer = null;
      this.log?.info({ keyFingerprint: next.fingerprint }, 'station signing key switched');
    }
    return next;
  }

  /** The station's public key (so callers can hand it to verifiers). */
  get stationPublicKey(): KeyObject {
    return this.signing().publicKey;
  }

  get suite(): SuiteName {
    return this.suiteName;
  }

  // ------------------------------------------------------------------ lifecycle

  /** Prepared statements are compiled once per connection. */
  private stmt(sql: string): Database.Statement {
    let st = this.stmts.get(sql);
    if (!st) {
      st = this.db.prepare(sql);
      this.stmts.set(sql, st);
    }
    return st;
  }

  private alert(a: VaultAlert): void {
    try {
      this.onAlert?.(a);
    } catch {}
  }

  private assertOpen(): void {
    if (this.closed) throw new StationError('VAULT_CLOSED', 'the vault is closed');
  }

  /** Checkpoints and closes; a seal still sealing is refused when it comes to storing (VAULT_CLOSED). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.cancelIdleCheckpoint();
    try {
      this.db.pragma('wal_checkpoint(TRUNCATE)');
    } catch {}
    this.db.close();
    for (const w of this.idleWaiters.splice(0)) w();
  }
}

function computeStats(db: Database.Database, now: number): OutboxStats & { tampered: number; auditHeadSeq: number } {
  const counts = db.prepare(`SELECT state, COUNT(*) AS n FROM records GROUP BY state`).all() as { state: string; n: number }[];
  const c = (s: string) => counts.find((x) => x.state === s)?.n ?? 0;
  const oldest = db.prepare(`SELECT MIN(sealed_at) AS t, COALESCE(SUM(size), 0) AS bytes FROM records WHERE state IN ('sealed','in_flight','held')`).get() as { t: number | null; bytes: number };
  const last = db.prepare(`SELECT MAX(acked_at) AS t FROM batches`).get() as { t: number | null };
  const tampered = db.prepare(`SELECT COUNT(*) AS n FROM records WHERE tampered_at IS NOT NULL`).get() as { n: number };
  const head = db.prepare(`SELECT MAX(seq) AS s FROM audit`).get() as { s: number | null };
  return {
    sealed: c('sealed'),
    inFlight: c('in_flight'),
    acknowledged: c('acknowledged'),
    released: c('released'),
    rejected: c('rejected'),
    held: c('held'),
    oldestUnackedAgeMs: oldest.t === null ? null : Math.max(0, now - oldest.t),
    backlogBytes: oldest.bytes,
    lastReceiptAt: last.t,
    tampered: tampered.n,
    auditHeadSeq: head.s ?? 0,
  };
}

function listRefused(db: Database.Database, limit: number): RefusedRecord[] {
  const rows = db.prepare(`SELECT record_id, state, reject_reason, refusal_detail, refused_at, held_until, held_count, sealed_at FROM records WHERE state IN ('held','rejected') ORDER BY seq LIMIT ?`)
    .all(limit) as { record_id: string; state: 'held' | 'rejected'; reject_reason: string | null; refusal_detail: string | null; refused_at: number | null; held_until: number | null; held_count: number; sealed_at: number }[];
  return rows.map((r) => ({
    recordId: r.record_id, state: r.state, reason: r.reject_reason ?? 'unspecified', detail: r.refusal_detail, refusedAt: r.refused_at,
    retryAt: r.state === 'held' ? r.held_until : null, holds: r.held_count, sealedAt: r.sealed_at,
  }));
}

/** Held and rejected records counted per state and reason. */
function refusalSummary(db: Database.Database): { state: 'held' | 'rejected'; reason: string; count: number; nextRetryAt: number | null }[] {
  return (db.prepare(`SELECT state, COALESCE(reject_reason, 'unspecified') AS reason, COUNT(*) AS count, MIN(held_until) AS next FROM records WHERE state IN ('held','rejected') GROUP BY state, reason ORDER BY state, reason`)
    .all() as { state: 'held' | 'rejected'; reason: string; count: number; next: number | null }[])
    .map((r) => ({ state: r.state, reason: r.reason, count: r.count, nextRetryAt: r.state === 'held' ? r.next : null }));
}

export interface VaultStatus {
  exists: boolean;
  path: string;
  schemaVersion: number;
  counts: { sealed: number; inFlight: number; acknowledged: number; released: number; rejected: number; held: number; tampered: number };
  /** Held and rejected records per reason (what headquarters said), with the next automatic try. */
  refusals: { state: 'held' | 'rejected'; reason: string; count: number; nextRetryAt: number | null }[];
  oldestUnackedAgeMs: number | null;
  /** Sealed envelope bytes still to upload (sealed, in flight, held). */
  backlogBytes: number;
  lastReceiptAt: number | null;
  auditHeadSeq: number;
  freeBytes: number;
  reserveBytes: number | null;
  belowReserve: boolean | null;
}

/**
 * Read-only look at a vault (safe while the daemon runs): counts per state,
 * oldest unacknowledged age, last receipt, free space. A damaged file is
 * reported as VAULT_CORRUPT, never modified.
 */
export async function readVaultStatus(dataDir: string, opts: { reserveBytes?: number; now?: number } = {}): Promise<VaultStatus> {
  const path = vaultPath(dataDir);
  const now = opts.now ?? Date.now();
  const spaceDir = existsSync(join(dataDir, VAULT_DIR)) ? join(dataDir, VAULT_DIR) : existsSync(dataDir) ? dataDir : '/';
  const { freeBytes } = diskSpace(spaceDir);
  const reserveBytes = opts.reserveBytes ?? null;
  const belowReserve = reserveBytes === null ? null : freeBytes <= reserveBytes;
  if (!existsSync(path)) {
    return {
      exists: false,
      path,
      schemaVersion: 0,
      counts: { sealed: 0, inFlight: 0, acknowledged: 0, released: 0, rejected: 0, held: 0, tampered: 0 },
      refusals: [],
      oldestUnackedAgeMs: null,
      backlogBytes: 0,
      lastReceiptAt: null,
      auditHeadSeq: 0,
      freeBytes,
      reserveBytes,
      belowReserve,
    };
  }
  // A full quick_check reads the whole file; `station status` skips it on big
  // vaults (the daemon always runs it at start) and relies on query errors.
  const db = openChecked(path, true, statSync(path).size < 256 * 1024 * 1024);
  try {
    const zero = { sealed: 0, inFlight: 0, acknowledged: 0, released: 0, rejected: 0, held: 0, oldestUnackedAgeMs: null, backlogBytes: 0, lastReceiptAt: null, tampered: 0, auditHeadSeq: 0 };
    let refusals: VaultStatus['refusals'] = [];
    let schemaVersion: number;
    let s: ReturnType<typeof computeStats>;
    try {
      schemaVersion = currentVersion(db);
      s = schemaVersion === 0 ? zero : computeStats(db, now);
      if (schemaVersion >= 3) refusals = refusalSummary(db);
    } catch (e) {
      throw corrupt(path, (e as Error).message, e);
    }
    return {
      exists: true,
      path,
      schemaVersion,
      counts: { sealed: s.sealed, inFlight: s.inFlight, acknowledged: s.acknowledged, released: s.released, rejected: s.rejected, held: s.held, tampered: s.tampered },
      refusals,
      oldestUnackedAgeMs: s.oldestUnackedAgeMs,
      backlogBytes: s.backlogBytes ?? 0,
      lastReceiptAt: s.lastReceiptAt,
      auditHeadSeq: s.auditHeadSeq,
      freeBytes,
      reserveBytes,
      belowReserve,
    };
  } finally {
    db.close();
  }
}
