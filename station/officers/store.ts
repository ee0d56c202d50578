/**
 * Officer store: who may log in at this station.
 *
 * - SQLite file `<dataDir>/officers.db` (better-sqlite3, WAL, synchronous=FULL).
 * - PINs are never stored, nor the scrypt hash headquarters pushes: only
 *   `bound1$N$r$p$saltB64$macB64`, where mac = HMAC-SHA256(booth key,
 *   "enroll-officer-pin/v1\0" ‖ scrypt(PIN, salt)). The booth key
 *   (`<dataDir>/keys/officer-pin.key`, 32 random bytes, 0600) is this booth's own, so
 *   the same officer pushed to two booths has two different verifiers, a verifier
 *   copied from one booth's file is worthless on another, and officers.db on its own
 *   (a backup, a copied file) cannot be attacked offline at all.
 * - Login attempts are counted BEFORE the PIN is checked, in one SQLite
 *   transaction (BEGIN IMMEDIATE), and checked one at a time (a queue in this
 *   process): a burst of parallel guesses gets exactly `maxFailures` checks, then
 *   OFFICER_LOCKED — for the right PIN too. A crash during the check leaves the
 *   attempt counted. A correct PIN resets the count.
 * - Lockout: after `maxFailures` wrong PINs in a row the officer is locked for
 *   `lockoutMs`; each further failure while the count is past the limit doubles
 *   the lock (capped at 24 h).
 * - Global rate limit: at most `rateLimit.attempts` PIN checks (any officer id,
 *   known or not) per `rateLimit.windowMs`; past it every attempt is refused
 *   (OFFICER_RATE_LIMITED) without a check. This bounds guessing across many
 *   officer ids, which the per-officer lockout alone does not.
 * - Optional officer card (scheme "card-bound v1", see docs/local-api.md): the
 *   store keeps `sha256(salt ‖ "enroll-officer-card-v1" ‖ ATR ‖ UID)`; login with a
 *   card-bound officer requires the same card in the officer reader.
 * - Officers pushed from headquarters arrive through `applyHqCommand`, which the
 *   uplink calls AFTER it has verified the command's ops signature.
 */
import Database from 'better-sqlite3';
import { createHash, createHmac, randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { chmodSync, closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { StationError, UsageError } from '../../drivers/common/errors';

export interface Officer {
  id: string;
  name: string;
  /** True when login also needs the officer's own smart card. */
  cardBound: boolean;
  active: boolean;
  source: 'local' | 'hq';
  failedAttempts: number;
  lockedUntil: number | null;
  createdAt: number;
  updatedAt: number;
}

export interface ScryptParams { N: number; r: number; p: number }
export const DEFAULT_SCRYPT: ScryptParams = { N: 1 << 15, r: 8, p: 1 };

export interface OfficerStoreOptions {
  maxFailures?: number;
  lockoutMs?: number;
  /** Global limit on PIN checks: `attempts` per `windowMs` (default 20 per 5 minutes). */
  rateLimit?: { attempts: number; windowMs: number };
  /** Shortest PIN accepted when an officer is added (config officers.pinMinLength; default 6, never below 6). */
  pinMinLength?: number;
  /** The booth key file (default `<dir of the store>/keys/officer-pin.key`). */
  keyFile?: string;
  scrypt?: ScryptParams;
  now?: () => number;
}

export const DEFAULT_RATE_LIMIT = { attempts: 20, windowMs: 5 * 60_000 };

/** The store's options from the configuration's `officers` section. */
export function officerStoreOptions(config: { officers: { pinMinLength: number; maxFailures: number; lockoutSeconds: number; rateLimitAttempts: number; rateLimitWindowSeconds: number } }): OfficerStoreOptions {
  const o = config.officers;
  return {
    pinMinLength: o.pinMinLength, maxFailures: o.maxFailures, lockoutMs: o.lockoutSeconds * 1000,
    rateLimit: { attempts: o.rateLimitAttempts, windowMs: o.rateLimitWindowSeconds * 1000 },
  };
}
export const PIN_MIN_LENGTH = 6;
export const PIN_MAX_LENGTH = 16;

export type LoginFailure =
  | { ok: false; code: 'OFFICER_BAD_CREDENTIALS'; remaining: number }
  | { ok: false; code: 'OFFICER_LOCKED'; until: number }
  | { ok: false; code: 'OFFICER_RATE_LIMITED'; retryAfterMs: number }
  | { ok: false; code: 'OFFICER_CARD_REQUIRED' }
  | { ok: false; code: 'OFFICER_CARD_MISMATCH' };
export type LoginResult = { ok: true; officer: Officer } | LoginFailure;

const ID_RE = /^[A-Za-z0-9._-]{1,64}$/;
const HASH_RE = /^scrypt\$(\d+)\$(\d+)\$(\d+)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/;
const BOUND_RE = /^bound1\$(\d+)\$(\d+)\$(\d+)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/;
const BIND_CONTEXT = 'enroll-officer-pin/v1\0';
const CARD_HASH_RE = /^card1\$([A-Za-z0-9+/=]+)\$([0-9a-f]{64})$/;

function scryptAsync(pw: string, salt: Buffer, len: number, opts: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => scryptCb(pw, salt, len, opts, (e, k) => (e ? reject(e) : resolve(k))));
}

function maxmem(p: ScryptParams): number { return 128 * p.N * p.r * 2 + 1024 * 1024; }

/** Hashes a PIN into the stored form `scrypt$N$r$p$salt$hash`. */
export async function hashPin(pin: string, params: ScryptParams = DEFAULT_SCRYPT): Promise<string> {
  const salt = randomBytes(16);
  const key = await scryptAsync(pin, salt, 32, { N: params.N, r: params.r, p: params.p, maxmem: maxmem(params) });
  return `scrypt$${params.N}$${params.r}$${params.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

export async function verifyPin(pin: string, stored: string): Promise<boolean> {
  const m = HASH_RE.exec(stored);
  if (!m) return false;
  const params = { N: Number(m[1]), r: Number(m[2]), p: Number(m[3]) };
  const expected = Buffer.from(m[5]!, 'base64');
  const key = await scryptAsync(pin, Buffer.from(m[4]!, 'base64'), expected.length, { ...params, maxmem: maxmem(params) });
  return key.length === expected.length && timingSafeEqual(key, expected);
}

/** Binds a raw scrypt hash (`scrypt$…`, local or pushed by headquarters) to this booth's key. */
export function bindPinHash(hash: string, boothKey: Buffer): string {
  const m = HASH_RE.exec(hash);
  if (!m) throw new StationError('OFFICER_BAD_HASH', 'not a scrypt$N$r$p$salt$hash PIN hash');
  const mac = createHmac('sha256', boothKey).update(BIND_CONTEXT).update(Buffer.from(m[5]!, 'base64')).digest('base64');
  return `bound1$${m[1]}$${m[2]}$${m[3]}$${m[4]}$${mac}`;
}

/** Checks a PIN against a booth-bound verifier. */
export async function verifyBoundPin(pin: string, stored: string, boothKey: Buffer): Promise<boolean> {
  const m = BOUND_RE.exec(stored);
  if (!m) return false;
  const params = { N: Number(m[1]), r: Number(m[2]), p: Number(m[3]) };
  const key = await scryptAsync(pin, Buffer.from(m[4]!, 'base64'), 32, { ...params, maxmem: maxmem(params) });
  const mac = createHmac('sha256', boothKey).update(BIND_CONTEXT).update(key).digest();
  key.fill(0);
  const expected = Buffer.from(m[5]!, 'base64');
  return mac.length === expected.length && timingSafeEqual(mac, expected);
}

/**
 * This booth's officer key: created (32 random bytes, 0600, written atomically) when
 * the store has no booth-bound verifiers yet; otherwise it must be there — without it
 * no officer can log in, and a fresh key would silently lock every officer out.
 */
export function loadOrCreateBoothKey(file: string, mayCreate: boolean): Buffer {
  if (existsSync(file)) {
    let key: Buffer;
    try { key = readFileSync(file); } catch (e) {
      throw new StationError('OFFICER_KEY', `cannot read the officer key ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { hint: 'the file must be readable by the station user (mode 0600)', cause: e });
    }
    if (key.length !== 32) throw new StationError('OFFICER_KEY', `the officer key ${file} is damaged (${key.length} bytes, expected 32)`, { hint: 'restore it from the booth image, or move officers.db and the key aside and add the officers again (headquarters: push them again)' });
    return key;
  }
  if (!mayCreate) {
    throw new StationError('OFFICER_KEY_MISSING', `the officer key ${file} is missing, so no officer PIN on this booth can be checked`, {
      hint: 'restore the file from the booth image, or move officers.db aside and add the officers again (headquarters: push them again)',
    });
  }
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const key = randomBytes(32);
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w', 0o600);
  try { writeSync(fd, key); fsyncSync(fd); } finally { closeSync(fd); }
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
  const dfd = openSync(dirname(file), 'r');
  try { fsyncSync(dfd); } finally { closeSync(dfd); }
  return key;
}

/** The card binding kept for a card-bound officer (scheme card-bound v1). */
export function cardBinding(identity: { atr: string; uid: string | null }, salt: Buffer = randomBytes(16)): string {
  return `card1$${salt.toString('base64')}$${cardDigest(identity, salt)}`;
}

function cardDigest(identity: { atr: string; uid: string | null }, salt: Buffer): string {
  const norm = (h: string | null): string => (h ?? '').replace(/[\s:]/g, '').toLowerCase();
  return createHash('sha256').update(salt).update('enroll-officer-card-v1\0').update(norm(identity.atr)).update('\0').update(norm(identity.uid)).digest('hex');
}

function cardMatches(stored: string, identity: { atr: string; uid: string | null }): boolean {
  const m = CARD_HASH_RE.exec(stored);
  if (!m) return false;
  const a = Buffer.from(cardDigest(identity, Buffer.from(m[1]!, 'base64')), 'hex');
  const b = Buffer.from(m[2]!, 'hex');
  return timingSafeEqual(a, b);
}

interface Row {
  id: string; name: string; pin_hash: string; card_hash: string | null; active: number; source: string;
  failed: number; locked_until: number | null; created_at: number; updated_at: number;
}

function toOfficer(r: Row): Officer {
  return {
    id: r.id, name: r.name, cardBound: r.card_hash !== null, active: r.active === 1, source: r.source === 'hq' ? 'hq' : 'local',
    failedAttempts: r.failed, lockedUntil: r.locked_until, createdAt: r.created_at, updatedAt: r.updated_at,
  };
}

export function validateOfficerId(id: string): void {
  if (!ID_RE.test(id)) throw new UsageError(`officer id "${id}" is not valid`, 'use 1–64 letters, digits, ".", "_" or "-"', 'OFFICER_BAD_ID');
}
export function validatePin(pin: string, minLength = PIN_MIN_LENGTH): void {
  const min = Math.max(PIN_MIN_LENGTH, minLength);
  if (!new RegExp(`^\\d{${min},${PIN_MAX_LENGTH}}$`).test(pin)) {
    throw new UsageError(`the PIN must be ${min}–${PIN_MAX_LENGTH} digits`, `choose a PIN of at least ${min} digits (officers.pinMinLength in the configuration)`, 'OFFICER_BAD_PIN');
  }
}

/** A signed-command payload from headquarters (signature already verified by the uplink). */
export type HqOfficerCommand =
  | { op: 'upsert'; officer: { id: string; name: string; pinHash: string; cardHash?: string | null; active?: boolean } }
  | { op: 'remove'; id: string };

export class OfficerStore {
  private db: Database.Database | null = null;
  private readonly maxFailures: number;
  private readonly lockoutMs: number;
  private readonly rateLimit: { attempts: number; windowMs: number };
  readonly pinMinLength: number;
  private readonly keyFile: string;
  private readonly scrypt: ScryptParams;
  private readonly now: () => number;
  private boothKey: Buffer | null = null;
  private dummyHash: string | null = null;
  /** Login attempts run one after another (the tail of the queue). */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(readonly file: string, opts: OfficerStoreOptions = {}) {
    this.maxFailures = opts.maxFailures ?? 5;
    this.lockoutMs = opts.lockoutMs ?? 5 * 60_000;
    this.rateLimit = opts.rateLimit ?? DEFAULT_RATE_LIMIT;
    this.pinMinLength = Math.max(PIN_MIN_LENGTH, opts.pinMinLength ?? PIN_MIN_LENGTH);
    this.keyFile = opts.keyFile ?? join(dirname(file), 'keys', 'officer-pin.key');
    this.scrypt = opts.scrypt ?? DEFAULT_SCRYPT;
    this.now = opts.now ?? Date.now;
  }

  open(): this {
    if (this.db) return this;
    mkdirSync(dirname(this.file), { recursive: true, mode: 0o700 });
    let db: Database.Database;
    try {
      db = new Database(this.file);
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      db.pragma('busy_timeout = 5000');
      const version = db.pragma('user_version', { simple: true }) as number;
      if (version < 1) {
        db.exec(`CREATE TABLE IF NOT EXISTS officers (
          id TEXT PRIMARY KEY, name TEXT NOT NULL, pin_hash TEXT NOT NULL, card_hash TEXT,
          active INTEGER NOT NULL DEFAULT 1, source TEXT NOT NULL DEFAULT 'local',
          failed INTEGER NOT NULL DEFAULT 0, locked_until INTEGER,
          created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);
          PRAGMA user_version = 1;`);
      }
      db.prepare('SELECT count(*) FROM officers').get();
    } catch (e) {
      throw new StationError('OFFICER_DB', `cannot open the officer store ${this.file}: ${(e as Error).message}`, {
        hint: 'check the data directory permissions; a corrupt file is never overwritten — move it aside and re-provision officers', cause: e,
      });
    }
    try {
      const version = db.pragma('user_version', { simple: true }) as number;
      const bound = (db.prepare("SELECT count(*) AS n FROM officers WHERE pin_hash LIKE 'bound1$%'").get() as { n: number }).n;
      this.boothKey = loadOrCreateBoothKey(this.keyFile, bound === 0);
      if (version < 2) {
        // v2: PIN verifiers bound to the booth key; a log of PIN checks for the global rate limit.
        const key = this.boothKey;
        db.transaction(() => {
          db.exec('CREATE TABLE IF NOT EXISTS login_checks (at INTEGER NOT NULL); CREATE INDEX IF NOT EXISTS login_checks_at ON login_checks(at);');
          const rows = db.prepare("SELECT id, pin_hash FROM officers WHERE pin_hash LIKE 'scrypt$%'").all() as { id: string; pin_hash: string }[];
          const upd = db.prepare('UPDATE officers SET pin_hash = ? WHERE id = ?');
          for (const r of rows) upd.run(bindPinHash(r.pin_hash, key), r.id);
          db.pragma('user_version = 2');
        }).immediate();
      }
    } catch (e) {
      db.close();
      throw e;
    }
    this.db = db;
    return this;
  }

  close(): void { this.db?.close(); this.db = null; }

  private get d(): Database.Database {
    if (!this.db) this.open();
    return this.db!;
  }

  private get key(): Buffer {
    if (!this.boothKey) this.open();
    return this.boothKey!;
  }

  async add(o: { id: string; name: string; pin: string; card?: { atr: string; uid: string | null } | null }): Promise<Officer> {
    validateOfficerId(o.id);
    validatePin(o.pin, this.pinMinLength);
    const name = o.name.trim();
    if (!name || name.length > 100) throw new UsageError('officer name must be 1–100 characters', undefined, 'OFFICER_BAD_NAME');
    if (this.get(o.id)) throw new UsageError(`officer "${o.id}" already exists`, 'remove it first or choose another id', 'OFFICER_EXISTS');
    const pinHash = bindPinHash(await hashPin(o.pin, this.scrypt), this.key);
    const t = this.now();
    this.d.prepare('INSERT INTO officers (id, name, pin_hash, card_hash, active, source, created_at, updated_at) VALUES (?, ?, ?, ?, 1, \'local\', ?, ?)')
      .run(o.id, name, pinHash, o.card ? cardBinding(o.card) : null, t, t);
    return this.get(o.id)!;
  }

  get(id: string): Officer | null {
    const r = this.d.prepare('SELECT * FROM officers WHERE id = ?').get(id) as Row | undefined;
    return r ? toOfficer(r) : null;
  }

  list(): Officer[] {
    return (this.d.prepare('SELECT * FROM officers ORDER BY id').all() as Row[]).map(toOfficer);
  }

  remove(id: string): boolean {
    return this.d.prepare('DELETE FROM officers WHERE id = ?').run(id).changes > 0;
  }

  /** Clears a lockout (technician action). */
  unlock(id: string): boolean {
    return this.d.prepare('UPDATE officers SET failed = 0, locked_until = NULL WHERE id = ?').run(id).changes > 0;
  }

  /** PIN checks counted in the current rate-limit window (for status and tests). */
  recentChecks(): number {
    return (this.d.prepare('SELECT count(*) AS n FROM login_checks WHERE at > ?').get(this.now() - this.rateLimit.windowMs) as { n: number }).n;
  }

  /**
   * Checks an officer's PIN (and card, when bound). Attempts run one at a time;
   * each is counted (and the officer locked when it reaches the limit) in one
   * transaction before the PIN is hashed. Unknown or inactive ids cost the same
   * scrypt time as a real check, count against the global rate limit, and report
   * bad credentials.
   */
  verify(id: string, pin: string, readCard?: () => Promise<{ atr: string; uid: string | null }>): Promise<LoginResult> {
    const run = this.queue.then(() => this.verifyOne(id, pin, readCard));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async verifyOne(id: string, pin: string, readCard?: () => Promise<{ atr: string; uid: string | null }>): Promise<LoginResult> {
    const t = this.now();
    const db = this.d;
    // ── the attempt is decided and counted before any hashing
    type Claim = { kind: 'locked'; until: number } | { kind: 'rate'; retryAfterMs: number } | { kind: 'check'; row: Row | null; failed: number; lockedUntil: number | null };
    const claim = db.transaction((): Claim => {
      const r = (typeof id === 'string' && ID_RE.test(id) ? db.prepare('SELECT * FROM officers WHERE id = ?').get(id) : undefined) as Row | undefined;
      const row = r && r.active === 1 ? r : null;
      if (row && row.locked_until !== null && row.locked_until > t) return { kind: 'locked', until: row.locked_until };
      const windowStart = t - this.rateLimit.windowMs;
      db.prepare('DELETE FROM login_checks WHERE at <= ?').run(windowStart);
      const recent = db.prepare('SELECT count(*) AS n, min(at) AS first FROM login_checks').get() as { n: number; first: number | null };
      if (recent.n >= this.rateLimit.attempts) return { kind: 'rate', retryAfterMs: Math.max(1, (recent.first ?? t) + this.rateLimit.windowMs - t) };
      db.prepare('INSERT INTO login_checks (at) VALUES (?)').run(t);
      if (!row) return { kind: 'check', row: null, failed: 0, lockedUntil: null };
      const failed = row.failed + 1;
      let lockedUntil: number | null = null;
      if (failed >= this.maxFailures) {
        const factor = Math.min(2 ** (failed - this.maxFailures), 24 * 3_600_000 / this.lockoutMs);
        lockedUntil = t + this.lockoutMs * factor;
      }
      db.prepare('UPDATE officers SET failed = ?, locked_until = ? WHERE id = ?').run(failed, lockedUntil, row.id);
      return { kind: 'check', row, failed, lockedUntil };
    }).immediate();
    if (claim.kind === 'locked') return { ok: false, code: 'OFFICER_LOCKED', until: claim.until };
    if (claim.kind === 'rate') return { ok: false, code: 'OFFICER_RATE_LIMITED', retryAfterMs: claim.retryAfterMs };
    const r = claim.row;
    const pinOk = typeof pin === 'string' && pin.length <= PIN_MAX_LENGTH;
    if (!r) {
      this.dummyHash ??= bindPinHash(await hashPin('000000', this.scrypt), this.key);
      await verifyBoundPin(pinOk ? pin : '', this.dummyHash, this.key);
      return { ok: false, code: 'OFFICER_BAD_CREDENTIALS', remaining: this.maxFailures };
    }
    const good = pinOk && (await verifyBoundPin(pin, r.pin_hash, this.key));
    if (!good) {
      if (claim.lockedUntil !== null) return { ok: false, code: 'OFFICER_LOCKED', until: claim.lockedUntil };
      return { ok: false, code: 'OFFICER_BAD_CREDENTIALS', remaining: this.maxFailures - claim.failed };
    }
    if (r.card_hash !== null) {
      // the PIN was right but the second factor is missing or wrong: the attempt stays counted
      if (!readCard) return { ok: false, code: 'OFFICER_CARD_REQUIRED' };
      let identity: { atr: string; uid: string | null };
      try { identity = await readCard(); } catch { return { ok: false, code: 'OFFICER_CARD_REQUIRED' }; }
      if (!cardMatches(r.card_hash, identity)) return { ok: false, code: 'OFFICER_CARD_MISMATCH' };
    }
    // success resets the count — unless the officer's PIN was changed, or the officer removed or deactivated, meanwhile
    const reset = db.prepare('UPDATE officers SET failed = 0, locked_until = NULL WHERE id = ? AND active = 1 AND pin_hash = ?').run(r.id, r.pin_hash);
    if (reset.changes !== 1) return { ok: false, code: 'OFFICER_BAD_CREDENTIALS', remaining: this.maxFailures - claim.failed };
    return { ok: true, officer: toOfficer({ ...r, failed: 0, locked_until: null }) };
  }

  /**
   * Applies an officer command from headquarters. The uplink has already
   * verified the ops signature, target, expiry and replay; this checks the
   * payload shape. PINs arrive only as scrypt hashes, never in clear; the hash is
   * bound to this booth's key at once and not kept as it came.
   */
  applyHqCommand(cmd: unknown): { applied: true; op: 'upsert' | 'remove'; id: string } {
    const bad = (why: string): never => { throw new StationError('OFFICER_BAD_COMMAND', `officer command refused: ${why}`, { hint: 'headquarters must send {op:"upsert", officer:{id,name,pinHash,cardHash?,active?}} or {op:"remove", id}' }); };
    if (!cmd || typeof cmd !== 'object') bad('payload is not an object');
    const c = cmd as Record<string, unknown>;
    if (c.op === 'remove') {
      if (typeof c.id !== 'string' || !ID_RE.test(c.id)) bad('bad officer id');
      this.remove(c.id as string);
      return { applied: true, op: 'remove', id: c.id as string };
    }
    if (c.op !== 'upsert') bad(`unknown op ${JSON.stringify(c.op)}`);
    const o = c.officer as Record<string, unknown> | undefined;
    if (!o || typeof o !== 'object') bad('officer missing');
    const { id, name, pinHash, cardHash, active } = o as Record<string, unknown>;
    if (typeof id !== 'string' || !ID_RE.test(id)) bad('bad officer id');
    if (typeof name !== 'string' || !name.trim() || name.length > 100) bad('bad officer name');
    if (typeof pinHash !== 'string' || !HASH_RE.test(pinHash)) bad('pinHash must be scrypt$N$r$p$salt$hash');
    const hm = HASH_RE.exec(pinHash as string)!;
    const N = Number(hm[1]);
    if (N < 1024 || N > 1 << 20 || (N & (N - 1)) !== 0 || Number(hm[2]) > 32 || Number(hm[3]) > 16) bad('scrypt parameters out of range');
    if (Buffer.from(hm[5]!, 'base64').length !== 32) bad('the hash must be a 32-byte scrypt key (as `station officer hash-pin` prints)');
    if (cardHash !== undefined && cardHash !== null && (typeof cardHash !== 'string' || !CARD_HASH_RE.test(cardHash))) bad('cardHash must be card1$salt$sha256hex');
    if (active !== undefined && typeof active !== 'boolean') bad('active must be true or false');
    const t = this.now();
    this.d.prepare(`INSERT INTO officers (id, name, pin_hash, card_hash, active, source, created_at, updated_at)
      VALUES (@id, @name, @pinHash, @cardHash, @active, 'hq', @t, @t)
      ON CONFLICT(id) DO UPDATE SET name = excluded.name, pin_hash = excluded.pin_hash, card_hash = excluded.card_hash,
        active = excluded.active, source = 'hq', failed = 0, locked_until = NULL, updated_at = excluded.updated_at`)
      .run({ id, name: (name as string).trim(), pinHash: bindPinHash(pinHash as string, this.key), cardHash: (cardHash as string | null | undefined) ?? null, active: active === false ? 0 : 1, t });
    return { applied: true, op: 'upsert', id: id as string };
  }
}
