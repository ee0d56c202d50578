/**
 * The repeat register: which people this booth has already enrolled in the current
 * campaign, so that a person enrolled twice in one evening is caught before capture.
 *
 * It keeps no ID numbers: only HMAC-SHA-256(campaign key, national ID number), with
 * the record's short reference and when it was sealed, in `<dataDir>/repeats.db`
 * (0600). The key is random, made for the campaign (config station.campaign) and
 * erased with every hash when the campaign changes, so an SD card taken after the
 * campaign holds nothing to test ID numbers against. During the campaign the key
 * is on the same card: a thief can test guessed ID numbers one by one against this
 * booth's hashes (docs/vault.md says what that does and does not expose).
 */
import Database from 'better-sqlite3';
import { createHmac, randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import { StationError } from '../drivers/common/errors';

export interface RepeatHit {
  /** When the earlier record was sealed (ms since epoch). */
  enrolledAt: number;
  /** Its short reference, as the officer saw it on the sealed screen. */
  recordRef: string;
}

/** What the workflow needs (station/workflow/machine.ts). */
export interface RepeatRegisterPort {
  /** The keyed hash of an ID number (hex), or null when there is nothing to look up. */
  hash(nationalId: string): string | null;
  lookup(hash: string): RepeatHit | null;
  remember(hash: string, hit: RepeatHit): void;
}

const normalise = (id: string): string => id.replace(/\s+/g, '');

export class RepeatRegister implements RepeatRegisterPort {
  private db: Database.Database | null = null;
  private key: Buffer | null = null;

  constructor(private readonly path: string, private readonly campaign: string, private readonly log?: Logger) {}

  open(): this {
    try {
      mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 });
      const db = new Database(this.path);
      chmodSync(this.path, 0o600);
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      db.exec(`CREATE TABLE IF NOT EXISTS campaign (id TEXT NOT NULL, key BLOB NOT NULL, created_at INTEGER NOT NULL);
               CREATE TABLE IF NOT EXISTS seen (hash TEXT PRIMARY KEY, enrolled_at INTEGER NOT NULL, record_ref TEXT NOT NULL) WITHOUT ROWID;`);
      const row = db.prepare('SELECT id, key FROM campaign').get() as { id: string; key: Buffer } | undefined;
      if (!row || row.id !== this.campaign) {
        const count = (db.prepare('SELECT count(*) AS n FROM seen').get() as { n: number }).n;
        const key = randomBytes(32);
        db.transaction(() => {
          db.prepare('DELETE FROM seen').run();
          db.prepare('DELETE FROM campaign').run();
          db.prepare('INSERT INTO campaign (id, key, created_at) VALUES (?, ?, ?)').run(this.campaign, key, Date.now());
        })();
        // the old key's pages must not linger in the file
        db.pragma('wal_checkpoint(TRUNCATE)');
        db.exec('VACUUM');
        if (row) this.log?.info({ from: row.id, to: this.campaign, erased: count }, 'campaign changed: the repeat register and its key were erased');
        this.key = key;
      } else {
        this.key = Buffer.from(row.key);
      }
      this.db = db;
      return this;
    } catch (e) {
      throw new StationError('REPEATS_UNAVAILABLE', `the repeat register ${this.path} cannot be opened: ${(e as Error).message}`, {
        hint: 'check that the data directory is writable by the service user and the disk is not full', cause: e,
      });
    }
  }

  hash(nationalId: string): string | null {
    const id = normalise(nationalId);
    if (!id || !this.key) return null;
    return createHmac('sha256', this.key).update(id, 'utf8').digest('hex');
  }

  lookup(hash: string): RepeatHit | null {
    const r = this.db?.prepare('SELECT enrolled_at, record_ref FROM seen WHERE hash = ?').get(hash) as { enrolled_at: number; record_ref: string } | undefined;
    return r ? { enrolledAt: r.enrolled_at, recordRef: r.record_ref } : null;
  }

  remember(hash: string, hit: RepeatHit): void {
    // the first enrollment is the one to point at; a co-signed re-enrollment does not replace it
    this.db?.prepare('INSERT INTO seen (hash, enrolled_at, record_ref) VALUES (?, ?, ?) ON CONFLICT(hash) DO NOTHING').run(hash, hit.enrolledAt, hit.recordRef);
  }

  /** How many people are in the register (for status; no hashes leave). */
  size(): number {
    return this.db ? (this.db.prepare('SELECT count(*) AS n FROM seen').get() as { n: number }).n : 0;
  }

  close(): void {
    this.key?.fill(0);
    this.key = null;
    this.db?.close();
    this.db = null;
  }
}
