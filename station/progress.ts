/**
 * Campaign progress: how many enrollments and e-ID activations were sealed per
 * day and administrative unit. Counts only — no personal data — kept in
 * `<dataDir>/progress.db` so they survive restarts, and read by the health
 * message so headquarters sees progress against each unit's daily quota.
 *
 * Days are local calendar days in the configured time zone offset
 * (default +07:00, Vietnam), written YYYY-MM-DD.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { StationError } from '../drivers/common/errors';
import type { RecordKind } from '../config/domain';

/** The record's kind (config/domain.ts RECORD_KINDS); e-ID activations are counted in their own column. */
export type ProgressKind = RecordKind;

export interface ProgressRow {
  day: string;
  unit: string;
  enrollments: number;
  activations: number;
}

export interface TodayProgress {
  day: string;
  /** The station's configured unit. */
  unit: string;
  enrollments: number;
  activations: number;
  /** Daily quota for the unit (0 = none). */
  quota: number;
  /** All units touched today (a mobile booth may serve people from neighbouring units). */
  units: ProgressRow[];
}

export interface ProgressOptions {
  /** Offset from UTC in minutes used to cut days; default 420 (UTC+7). */
  utcOffsetMinutes?: number;
  now?: () => number;
}

export function dayOf(ms: number, utcOffsetMinutes = 420): string {
  return new Date(ms + utcOffsetMinutes * 60_000).toISOString().slice(0, 10);
}

export class ProgressCounters {
  private db: Database.Database | null = null;
  private readonly offset: number;
  private readonly now: () => number;

  /** `file` may be ':memory:' (tests, benches). */
  constructor(readonly file: string, opts: ProgressOptions = {}) {
    this.offset = opts.utcOffsetMinutes ?? 420;
    this.now = opts.now ?? Date.now;
  }

  open(): this {
    if (this.db) return this;
    try {
      if (this.file !== ':memory:') mkdirSync(dirname(this.file), { recursive: true, mode: 0o700 });
      const db = new Database(this.file);
      if (this.file !== ':memory:') db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      db.exec(`CREATE TABLE IF NOT EXISTS progress (
        day TEXT NOT NULL, unit TEXT NOT NULL, enrollments INTEGER NOT NULL DEFAULT 0, activations INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (day, unit))`);
      this.db = db;
    } catch (e) {
      throw new StationError('PROGRESS_DB', `cannot open the progress counters ${this.file}: ${(e as Error).message}`, { hint: 'check the data directory permissions', cause: e });
    }
    return this;
  }

  close(): void { this.db?.close(); this.db = null; }

  private get d(): Database.Database { if (!this.db) this.open(); return this.db!; }

  /** Counts one sealed record. */
  record(kind: ProgressKind, unit: string, at = this.now()): void {
    const col = kind === 'eid-activation' ? 'activations' : 'enrollments';
    this.d.prepare(`INSERT INTO progress (day, unit, ${col}) VALUES (?, ?, 1)
      ON CONFLICT(day, unit) DO UPDATE SET ${col} = ${col} + 1`).run(dayOf(at, this.offset), unit);
  }

  /** Rows from `fromDay` (inclusive, YYYY-MM-DD) onwards; all when omitted. */
  rows(fromDay?: string): ProgressRow[] {
    const sql = 'SELECT day, unit, enrollments, activations FROM progress' + (fromDay ? ' WHERE day >= ?' : '') + ' ORDER BY day, unit';
    const st = this.d.prepare(sql);
    return (fromDay ? st.all(fromDay) : st.all()) as ProgressRow[];
  }

  /** Today's figures for the health message. */
  today(unit: string, quota = 0, at = this.now()): TodayProgress {
    const day = dayOf(at, this.offset);
    const units = this.d.prepare('SELECT day, unit, enrollments, activations FROM progress WHERE day = ? ORDER BY unit').all(day) as ProgressRow[];
    const mine = units.find((u) => u.unit === unit);
    return { day, unit, enrollments: mine?.enrollments ?? 0, activations: mine?.activations ?? 0, quota, units };
  }
}
