/**
 * No core dumps of the daemon: its memory holds personal details, fingerprints and
 * portraits of the session in progress. A core written by a crash (or by the
 * watchdog's signal) would put them on the SD card in plaintext, where the sealed
 * vault never does.
 *
 * Node has no setrlimit/prctl, and a native addon for one call is not worth it. So:
 *  - the systemd unit starts the daemon with LimitCORE=0 (and the watchdog kills with
 *    SIGKILL, which never dumps);
 *  - at start the daemon reads its own RLIMIT_CORE from /proc/self/limits and, if it
 *    is not 0 (started by hand, another supervisor, a container), lowers it to 0:0
 *    with util-linux `prlimit --pid <own pid>` — lowering one's own limits needs no
 *    privilege — and reads it back;
 *  - if it still is not 0 the daemon refuses to start (CORE_DUMPS_ENABLED).
 * With RLIMIT_CORE 0 the kernel writes no core file, and systemd-coredump (where
 * core_pattern pipes to it, which the kernel does regardless of the limit) stores
 * nothing for a process whose limit is 0.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { StationError } from '../config/errors';

export interface CoreLimit { soft: number; hard: number }

/** RLIMIT_CORE of a process (Infinity for "unlimited"), from /proc/<pid>/limits. */
export function coreLimit(pid: number | 'self' = 'self'): CoreLimit {
  const text = readFileSync(`/proc/${pid}/limits`, 'utf8');
  const line = text.split('\n').find((l) => l.startsWith('Max core file size'));
  const m = line ? /^Max core file size\s+(\S+)\s+(\S+)/.exec(line) : null;
  if (!m) throw new StationError('CORE_LIMIT_UNKNOWN', `cannot read the core-dump limit from /proc/${pid}/limits`);
  const num = (s: string): number => (s === 'unlimited' ? Infinity : Number(s));
  return { soft: num(m[1]!), hard: num(m[2]!) };
}

export interface DisableResult { before: CoreLimit; after: CoreLimit; changed: boolean }

/**
 * Makes sure this process can never write a core dump (RLIMIT_CORE 0:0), or throws
 * CORE_DUMPS_ENABLED saying why. `prlimitBin` is a test seam (env STATION_PRLIMIT_BIN).
 */
export function disableCoreDumps(prlimitBin = process.env.STATION_PRLIMIT_BIN || 'prlimit'): DisableResult {
  const before = coreLimit();
  if (before.soft === 0 && before.hard === 0) return { before, after: before, changed: false };
  let why = '';
  try {
    execFileSync(prlimitBin, ['--pid', String(process.pid), '--core=0:0'], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 5_000 });
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: Buffer };
    why = err.code === 'ENOENT' ? `${prlimitBin} is not installed` : (err.stderr?.toString().trim() || err.message);
  }
  const after = coreLimit();
  if (after.soft !== 0 || after.hard !== 0) {
    const show = (l: CoreLimit): string => `${l.soft}:${l.hard}`.replace(/Infinity/g, 'unlimited');
    throw new StationError('CORE_DUMPS_ENABLED', `core dumps are enabled for the daemon (RLIMIT_CORE ${show(after)}) and could not be disabled${why ? `: ${why}` : ''}; a crash would write personal data and fingerprints to disk in plaintext`, {
      hint: 'start the station through its systemd unit (LimitCORE=0), or `ulimit -c 0` before starting it, or install util-linux (prlimit)',
    });
  }
  return { before, after, changed: true };
}
