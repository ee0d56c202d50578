/**
 * What the running daemon tells other processes on this booth (`station selftest`,
 * `station update check`, the updater): `<dataDir>/run/state.json`, rewritten when a
 * device changes state and when the kiosk starts, removed at a clean stop. Not fsynced
 * (a file lost in a power cut is rewritten at the next start); no personal data.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface RunState {
  v: 1;
  pid: number;
  at: number;
  version: string;
  bootId: string | null;
  kioskUrl: string | null;
  devices: { device: string; state: string; detail?: string }[];
}

export function runStatePath(dataDir: string): string {
  return join(dataDir, 'run', 'state.json');
}

export function writeRunState(dataDir: string, s: Omit<RunState, 'v' | 'at' | 'pid'>): void {
  const f = runStatePath(dataDir);
  mkdirSync(join(dataDir, 'run'), { recursive: true, mode: 0o700 });
  writeFileSync(`${f}.tmp`, JSON.stringify({ v: 1, pid: process.pid, at: Date.now(), ...s } satisfies RunState), { mode: 0o600 });
  renameSync(`${f}.tmp`, f);
}

export function removeRunState(dataDir: string): void {
  rmSync(runStatePath(dataDir), { force: true });
}

/** The daemon's state file when the process that wrote it is alive; null otherwise. */
export function readRunState(dataDir: string): RunState | null {
  const f = runStatePath(dataDir);
  if (!existsSync(f)) return null;
  try {
    const s = JSON.parse(readFileSync(f, 'utf8')) as RunState;
    if (s.v !== 1 || typeof s.pid !== 'number') return null;
    try { process.kill(s.pid, 0); } catch (e) { if ((e as NodeJS.ErrnoException).code !== 'EPERM') return null; }
    return s;
  } catch {
    return null;
  }
}

/** This boot's id (Linux), or null. */
export function bootId(): string | null {
  try { return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim(); } catch { return null; }
}
