/**
 * Officer store: who may log in at this station.
 *
 * - SQLite file `<dataDir>/officers.db` (better-sqlite3, WAL, synchronous=FULL).
 * - PINs are never stored: only `scrypt$N$r$p$saltB64$hashB64` (32-byte key).
 * - Lockout: after `maxFailures` wrong PINs in a row the officer is locked for
 *   `lockoutMs`; each further failure while the count is past the limit doubles
 *   the lock (capped at 24 h). A correct PIN resets the count.
 * - Optional officer card (scheme "card-bound v1", see docs/local-api.md): the
 *   store keeps `sha256(salt ‖ "enroll-officer-card-v1" ‖ ATR ‖ UID)`; login with a
 *   card-bound officer requires the same card in the officer reader.
 * - Officers pushed from headquarters arrive through `applyHqCommand`, which the
 *   uplink calls AFTER it has verified the command's ops signature.
 */
import Database from 'better-sqlite3';
import { createHash, randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
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
  scrypt?: ScryptParams;
  now?: () => number;
}

export type LoginFailure =
  | { ok: false; code: 'OFFICER_BAD_CREDENTIALS'; remaining: number }
  | { ok: false; code: 'OFFICER_LOCKED'; until: number }
  | { ok: false; code: 'OFFICER_CARD_REQUIRED' }
  | { ok: false; code: 'OFFICER_CARD_MISMATCH' };
export type LoginResult = { ok: true; officer: Officer } | LoginFailure;

const ID_RE = /^[A-Za-z0-9._-]{1,64}$/;
const PIN_RE = /^\d{6,12}$/;
const HASH_RE = /^scrypt\$(\d+)\$(\d+)\$(\d+)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/;
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
export function validatePin(pin: string): void {
  if (!PIN_RE.test(pin)) throw new UsageError('the PIN must be 6–12 digits', 'choose a PIN of at least 6 digits', 'OFFICER_BAD_PIN');
}

/** A signed-command payload from headquarters (signature already verified by the uplink). */
export type HqOfficerCommand =
  | { op: 'upsert'; officer: { id: string; name: string; pinHash: string; cardHash?: string | null; active?: boolean } }
  | { op: 'remove'; id: string };

export class OfficerStore {
  private db: Database.Database | null = null;
  private readonly maxFailures: number;
  private readonly lockoutMs: number;
  private readonly scrypt: ScryptParams;
  private readonly now: () => number;
  private dummyHash: string | null = null;

  constructor(readonly file: string, opts: OfficerStoreOptions = {}) {
    this.maxFailures = opts.maxFailures ?? 5;
    this.lockoutMs = opts.lockoutMs ?? 5 * 60_000;
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
    this.db = db;
    return this;
  }

  close(): void { this.db?.close(); this.db = null; }

  private get d(): Database.Database {
    if (!this.db) this.open();
    return this.db!;
  }

  async add(o: { id: string; name: string; pin: string; card?: { atr: string; uid: string | null } | null }): Promise<Officer> {
    validateOfficerId(o.id);
    validatePin(o.pin);
    const name = o.name.trim();
    if (!name || name.length > 100) throw new UsageError('officer name must be 1–100 characters', undefined, 'OFFICER_BAD_NAME');
    if (this.get(o.id)) throw new UsageError(`officer "${o.id}" already exists`, 'remove it first or choose another id', 'OFFICER_EXISTS');
    const pinHash = await hashPin(o.pin, this.scrypt);
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

  /**
   * Checks an officer's PIN (and card, when bound). Unknown or inactive ids
   * cost the same scrypt time as a real check and report bad credentials.
   */
  async verify(id: string, pin: string, readCard?: () => Promise<{ atr: string; uid: string | null }>): Promise<LoginResult> {
    const r = (ID_RE.test(id) ? this.d.prepare('SELECT * FROM officers WHERE id = ?').get(id) : undefined) as Row | undefined;
    const t = this.now();
    if (!r || r.active !== 1) {
      this.dummyHash ??= await hashPin('000000', this.scrypt);
      await verifyPin(pin, this.dummyHash);
      return { ok: false, code: 'OFFICER_BAD_CREDENTIALS', remaining: this.maxFailures };
    }
    if (r.locked_until !== null && r.locked_until > t) return { ok: false, code: 'OFFICER_LOCKED', until: r.locked_until };
    const good = typeof pin === 'string' && pin.length <= 64 && (await verifyPin(pin, r.pin_hash));
    if (!good) {
      const failed = r.failed + 1;
      let lockedUntil: number | null = null;
      if (failed >= this.maxFailures) {
        const factor = Math.min(2 ** (failed - this.maxFailures), 24 * 3_600_000 / this.lockoutMs);
        lockedUntil = t + this.lockoutMs * factor;
      }
      this.d.prepare('UPDATE officers SET failed = ?, locked_until = ? WHERE id = ?').run(failed, lockedUntil, id);
      if (lockedUntil !== null) return { ok: false, code: 'OFFICER_LOCKED', until: lockedUntil };
      return { ok: false, code: 'OFFICER_BAD_CREDENTIALS', remaining: this.maxFailures - failed };
    }
    if (r.card_hash !== null) {
      if (!readCard) return { ok: false, code: 'OFFICER_CARD_REQUIRED' };
      let identity: { atr: string; uid: string | null };
      try { identity = await readCard(); } catch { return { ok: false, code: 'OFFICER_CARD_REQUIRED' }; }
      if (!cardMatches(r.card_hash, identity)) return { ok: false, code: 'OFFICER_CARD_MISMATCH' };
    }
    this.d.prepare('UPDATE officers SET failed = 0, locked_until = NULL WHERE id = ?').run(id);
    return { ok: true, officer: toOfficer({ ...r, failed: 0, locked_until: null }) };
  }

  /**
   * Applies an officer command from headquarters. The uplink has already
   * verified the ops signature, target, expiry and replay; this checks the
   * payload shape. PINs arrive only as scrypt hashes, never in clear.
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
    if (cardHash !== undefined && cardHash !== null && (typeof cardHash !== 'string' || !CARD_HASH_RE.test(cardHash))) bad('cardHash must be card1$salt$sha256hex');
    if (active !== undefined && typeof active !== 'boolean') bad('active must be true or false');
    const t = this.now();
    this.d.prepare(`INSERT INTO officers (id, name, pin_hash, card_hash, active, source, created_at, updated_at)
      VALUES (@id, @name, @pinHash, @cardHash, @active, 'hq', @t, @t)
      ON CONFLICT(id) DO UPDATE SET name = excluded.name, pin_hash = excluded.pin_hash, card_hash = excluded.card_hash,
        active = excluded.active, source = 'hq', failed = 0, locked_until = NULL, updated_at = excluded.updated_at`)
      .run({ id, name: (name as string).trim(), pinHash, cardHash: (cardHash as string | null | undefined) ?? null, active: active === false ? 0 : 1, t });
    return { applied: true, op: 'upsert', id: id as string };
  }
}
