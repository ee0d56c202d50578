import type { Command } from 'commander';
import { StationError, UsageError } from '../../drivers/common/errors';

/** Global flags every command sees (defined on the root program). */
export interface GlobalOpts {
  config?: string;
  debug?: boolean;
}

export function globalOpts(cmd: Command): GlobalOpts {
  return cmd.optsWithGlobals() as GlobalOpts;
}

/**
 * Wraps a command action: maps errors to exit codes (2 usage/config, 1 failure)
 * and prints a clear message — a stack trace only with --debug.
 */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<void | number> | void | number) {
  return async (...args: A): Promise<void> => {
    const cmd = args[args.length - 1] as Command;
    const debug = Boolean((cmd?.optsWithGlobals?.() as GlobalOpts | undefined)?.debug) || process.env.STATION_DEBUG === '1';
    try {
      const rc = await fn(...args);
      if (typeof rc === 'number') process.exitCode = rc;
    } catch (e) {
      reportError(e, debug);
      process.exitCode = exitCodeOf(e);
    }
  };
}

/** Errors that know their exit code and how to say themselves (StationError and its kinds). */
interface UserFacingError { exitCode: number; toUserString(): string }
function isUserFacing(e: unknown): e is UserFacingError {
  return e instanceof Error && typeof (e as Partial<UserFacingError>).exitCode === 'number' && typeof (e as Partial<UserFacingError>).toUserString === 'function';
}

export function exitCodeOf(e: unknown): number {
  return isUserFacing(e) ? e.exitCode : 1;
}

export function reportError(e: unknown, debug: boolean): void {
  if (e instanceof StationError || isUserFacing(e)) {
    process.stderr.write(`error: ${e.toUserString()}\n`);
  } else if (e instanceof Error) {
    process.stderr.write(`error: ${e.message}\n`);
  } else {
    process.stderr.write(`error: ${String(e)}\n`);
  }
  if (debug && e instanceof Error && e.stack) process.stderr.write(`${e.stack}\n`);
  else if (exitCodeOf(e) !== 2) process.stderr.write('(run again with --debug for details)\n');
}

/** Parse an integer option; a bad value is a usage error naming the option. */
export function intOption(name: string, value: string | undefined, min = 0, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new UsageError(`${name} must be a whole number, got "${value}"`);
  const n = Number(value);
  if (n < min || n > max) throw new UsageError(`${name} must be between ${min} and ${max}, got ${n}`);
  return n;
}

export function printJson(v: unknown): void {
  process.stdout.write(`${JSON.stringify(v, null, 2)}\n`);
}

/**
 * Parse a duration option given in seconds (the unit of every duration flag of `station`
 * and `hq`); decimals allowed. Returns milliseconds; a bad value is a usage error naming the option.
 */
export function secondsOption(name: string, value: string | undefined, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+(\.\d+)?$/.test(value.trim())) throw new UsageError(`${name} must be a number of seconds, got "${value}"`);
  const n = Number(value);
  if (n < min || n > max) throw new UsageError(`${name} must be between ${min} and ${max} seconds, got ${n}`);
  return Math.round(n * 1000);
}
