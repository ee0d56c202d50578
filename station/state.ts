/**
 * The station's own small persistent state: whether it is locked (by headquarters
 * or by the tamper switch) and the offline policy headquarters set. Kept in
 * `<dataDir>/state.json`, written atomically, so a lock survives a restart.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileDurable } from '../config/durable';
import type { OfflinePolicy } from '../sync/commands';

export interface LockInfo {
  reason: string;
  by: 'headquarters' | 'tamper' | 'technician';
  at: number;
}

interface StateFile {
  v: 1;
  lock: LockInfo | null;
  /** Policy pushed by headquarters; null = the configuration's defaults. */
  policy: OfflinePolicy | null;
}

export class StationState {
  private state: StateFile = { v: 1, lock: null, policy: null };
  private readonly file: string;

  constructor(dataDir: string, private readonly defaults: OfflinePolicy) {
    this.file = join(dataDir, 'state.json');
  }

  load(): this {
    try {
      const s = JSON.parse(readFileSync(this.file, 'utf8')) as Partial<StateFile>;
      this.state = { v: 1, lock: s.lock ?? null, policy: s.policy ?? null };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') {
        // A damaged state file must not unlock a station: fail safe, locked.
        this.state = { v: 1, lock: { reason: `state file ${this.file} was unreadable; locked for safety`, by: 'technician', at: Date.now() }, policy: null };
      }
    }
    return this;
  }

  private save(): void {
    writeFileDurable(this.file, `${JSON.stringify(this.state, null, 2)}\n`, { mode: 0o600 });
  }

  get lock(): LockInfo | null {
    return this.state.lock;
  }

  setLock(reason: string, by: LockInfo['by'], at = Date.now()): void {
    this.state.lock = { reason, by, at };
    this.save();
  }

  unlock(): LockInfo | null {
    const was = this.state.lock;
    this.state.lock = null;
    this.save();
    return was;
  }

  get policy(): OfflinePolicy {
    return this.state.policy ?? this.defaults;
  }

  /** Changes the limits given (a key absent from `p` keeps its value; null removes the limit). */
  setPolicy(p: Partial<OfflinePolicy>): OfflinePolicy {
    const next = { ...this.policy };
    if (p.maxUnacked !== undefined) next.maxUnacked = p.maxUnacked;
    if (p.maxDaysSinceReceipt !== undefined) next.maxDaysSinceReceipt = p.maxDaysSinceReceipt;
    this.state.policy = next;
    this.save();
    return next;
  }
}
