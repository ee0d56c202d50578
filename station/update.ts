/**
 * The station's side of an A/B update (docs/updates.md): an inhibitor the updater
 * asks before it installs (never while an officer has a person's session open), and
 * the detection of a rollback (the booth came back up on an older version than the
 * one that ran last), which the daemon reports to headquarters.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface UpdateVerdict {
  /** True: an update may start now. */
  ok: boolean;
  reason: 'session-open' | 'session-lost' | null;
  message: string;
  step?: string;
  since?: number;
}

/** Reads the workflow's session marker (`<dataDir>/session.marker`): present while a session is open. */
export function updateVerdict(dataDir: string): UpdateVerdict {
  const f = join(dataDir, 'session.marker');
  if (!existsSync(f)) return { ok: true, reason: null, message: 'no enrollment session is open: an update may start' };
  let m: { step?: unknown; startedAt?: unknown; sealedAt?: unknown } = {};
  try { m = JSON.parse(readFileSync(f, 'utf8')) as typeof m; } catch { /* unreadable: still a session */ }
  const step = typeof m.step === 'string' ? m.step : 'unknown';
  const since = typeof m.startedAt === 'number' ? m.startedAt : undefined;
  const lost = existsSync(`${f}.lost`);
  return {
    ok: false, reason: lost ? 'session-lost' : 'session-open', step, ...(since ? { since } : {}),
    message: lost
      ? `a session interrupted by a restart waits for its officer (step ${step}): the update waits until it is dealt with at the kiosk`
      : `an enrollment session is open (step ${step}${since ? `, since ${new Date(since).toISOString()}` : ''}): the update waits until it is finished or aborted`,
  };
}

/** Compares dotted versions numerically ("0.10.0" > "0.9.3"); a pre-release suffix is ignored. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(/[.+-]/).slice(0, 3).map((x) => Number.parseInt(x, 10) || 0);
  const pb = b.split(/[.+-]/).slice(0, 3).map((x) => Number.parseInt(x, 10) || 0);
  for (let i = 0; i < 3; i++) if (pa[i] !== pb[i]) return (pa[i] ?? 0) - (pb[i] ?? 0);
  return 0;
}

export interface VersionChange {
  previous: string | null;
  current: string;
  kind: 'first-start' | 'same' | 'upgrade' | 'rollback';
}

/**
 * Records the version starting now in `<dataDir>/run/version.json` and says how it
 * relates to the one that ran before: a lower version is a rollback (the updater
 * fell back to the other slot, or a technician installed an older release).
 */
export function noteVersion(dataDir: string, current: string): VersionChange {
  const dir = join(dataDir, 'run');
  const f = join(dir, 'version.json');
  let previous: string | null;
  try { previous = String((JSON.parse(readFileSync(f, 'utf8')) as { version?: unknown }).version ?? '') || null; } catch { previous = null; }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileSync(`${f}.tmp`, JSON.stringify({ version: current, at: Date.now() }), { mode: 0o600 });
  renameSync(`${f}.tmp`, f);
  if (previous === null) return { previous, current, kind: 'first-start' };
  const c = compareVersions(current, previous);
  return { previous, current, kind: c === 0 ? 'same' : c > 0 ? 'upgrade' : 'rollback' };
}
