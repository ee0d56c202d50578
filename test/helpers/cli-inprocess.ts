/**
 * Runs one command group of the `station` CLI in this process (only that group's
 * `register()`), capturing stdout, stderr and the exit code the command set.
 */
import { Command } from 'commander';
import { vi } from 'vitest';

export type CliRun = (...args: string[]) => Promise<{ out: string; err: string; code: number }>;

export function inProcessStation(register: (program: Command) => void): CliRun {
  return async (...args) => {
    const program = new Command('station').option('-c, --config <file>').option('--debug').exitOverride();
    register(program);
    let out = '';
    let err = '';
    vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => ((out += String(s)), true));
    vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => ((err += String(s)), true));
    const env = process.env.ENROLL_CONFIG;
    delete process.env.ENROLL_CONFIG;
    try {
      process.exitCode = undefined;
      await program.parseAsync(['node', 'station', ...args]);
    } finally {
      if (env !== undefined) process.env.ENROLL_CONFIG = env;
      vi.restoreAllMocks();
    }
    const code = Number(process.exitCode ?? 0);
    process.exitCode = undefined;
    return { out, err, code };
  };
}
