/**
 * The station's side of an A/B update (docs/updates.md): an inhibitor the updater
 * asks before it installs (never while an officer has a person's session open), and
 * the detection of a rollback (the booth came back up on an older version than the
 * one that ran last), which the daemon reports to headquarters.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
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

// ───────────────────────── update hold (#21) ─────────────────────────
//
// `station update check` only answers; a session could start between its answer and the install.
// A hold closes that gap: the updater writes `<dataDir>/run/update.hold`, the daemon's guard then
// refuses new sessions (the open one carries on and is sealed as usual), and the daemon confirms
// in `<dataDir>/run/update.hold.state` — for that hold's nonce — whether a session is still open.
// The daemon reads the hold and the session marker in one synchronous step, and a session starts
// (guard, then marker) in one synchronous step too, so once the daemon has confirmed "no session"
// for a nonce none can start until the hold goes. A hold from another boot (the update rebooted
// into the new slot) or past its `until` is ignored and removed: a crashed updater cannot leave the
// booth refusing enrollments for ever.

export interface UpdateHold {
  v: 1;
  nonce: string;
  /** Who asked (free text, e.g. "rauc pre-install"). */
  by: string;
  at: number;
  /** Wall-clock ms past which the hold lapses by itself. */
  until: number;
  /** The boot it was placed in (Linux boot id): a hold does not survive a reboot. */
  bootId: string | null;
}

export interface HoldState {
  nonce: string;
  /** When the daemon saw it (its wall clock). */
  seenAt: number;
  /** A session was open then (it may still be confirmed and sealed; the update waits). */
  sessionOpen: boolean;
  message: string;
}

export const holdPath = (dataDir: string): string => join(dataDir, 'run', 'update.hold');
export const holdStatePath = (dataDir: string): string => join(dataDir, 'run', 'update.hold.state');

function writeAtomic(f: string, v: unknown): void {
  mkdirSync(join(f, '..'), { recursive: true, mode: 0o700 });
  writeFileSync(`${f}.tmp`, JSON.stringify(v), { mode: 0o600 });
  renameSync(`${f}.tmp`, f);
}

/** Places (or renews) the hold; returns it. */
export function placeHold(dataDir: string, o: { by: string; maxMs: number; bootId: string | null; now?: number }): UpdateHold {
  const at = o.now ?? Date.now();
  const h: UpdateHold = { v: 1, nonce: randomBytes(16).toString('hex'), by: o.by, at, until: at + o.maxMs, bootId: o.bootId };
  writeAtomic(holdPath(dataDir), h);
  return h;
}

export function releaseHold(dataDir: string): boolean {
  const had = existsSync(holdPath(dataDir));
  rmSync(holdPath(dataDir), { force: true });
  rmSync(holdStatePath(dataDir), { force: true });
  return had;
}

/**
 * The hold in force, or why there is none. `stale`: present but from another boot, lapsed, or
 * unreadable — the daemon removes it (and says so); the guard ignores it.
 */
export function readHold(dataDir: string, bootId: string | null, now = Date.now()): { hold: UpdateHold } | { hold: null; stale?: string } {
  const f = holdPath(dataDir);
  if (!existsSync(f)) return { hold: null };
  let h: UpdateHold;
  try {
    h = JSON.parse(readFileSync(f, 'utf8')) as UpdateHold;
  } catch {
    return { hold: null, stale: 'the update hold file is unreadable' };
  }
  if (h?.v !== 1 || typeof h.nonce !== 'string' || typeof h.until !== 'number') return { hold: null, stale: 'the update hold file is not a hold' };
  if ((h.bootId ?? null) !== bootId) return { hold: null, stale: `the update hold by ${h.by} was placed before the last reboot` };
  if (now >= h.until) return { hold: null, stale: `the update hold by ${h.by} lapsed at ${new Date(h.until).toISOString()}` };
  return { hold: h };
}

export function readHoldState(dataDir: string): HoldState | null {
  try { return JSON.parse(readFileSync(holdStatePath(dataDir), 'utf8')) as HoldState; } catch { return null; }
}

/**
 * The daemon's side, called periodically: confirms the current hold (writing its state when it
 * changes) and removes a stale one. Returns what it did, for the log.
 */
export function answerHold(dataDir: string, bootId: string | null, last: { key: string }): { event: 'stale'; reason: string } | { event: 'confirmed'; state: HoldState } | null {
  const r = readHold(dataDir, bootId);
  if (!r.hold) {
    if (r.stale) { releaseHold(dataDir); return { event: 'stale', reason: r.stale }; }
    last.key = '';
    return null;
  }
  const v = updateVerdict(dataDir);
  const key = `${r.hold.nonce}:${v.ok}`;
  if (key === last.key) return null;
  last.key = key;
  const state: HoldState = { nonce: r.hold.nonce, seenAt: Date.now(), sessionOpen: !v.ok, message: v.ok ? 'held: no session is open and none can start; the update may proceed' : `held: no new session can start; ${v.message}` };
  writeAtomic(holdStatePath(dataDir), state);
  return { event: 'confirmed', state };
}
