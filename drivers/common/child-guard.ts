/**
 * Helper programs that must not outlive the daemon. Node cannot set
 * PR_SET_PDEATHSIG on a child, and a daemon killed with SIGKILL (the watchdog,
 * `kill -9`, the OOM killer) runs no cleanup: every such kill used to orphan the
 * fingerprint simulator's socat. util-linux `setpriv --pdeathsig KILL` sets the
 * parent-death signal and then execs the program (same pid, same arguments), so
 * the kernel kills it when the daemon goes, however it goes. Without setpriv the
 * program runs as before and `guarded` says so.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';

/** The executable `command` resolves to on PATH (or itself when it names a path), or null. */
export function findExecutable(command: string, path = process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin'): string | null {
  const candidates = isAbsolute(command) || command.includes('/') ? [command] : path.split(delimiter).filter(Boolean).map((d) => join(d, command));
  for (const c of candidates) {
    try {
      if (!statSync(c).isFile()) continue;
      accessSync(c, constants.X_OK);
      return c;
    } catch {}
  }
  return null;
}

let setpriv: string | null | undefined;

export interface GuardedCommand {
  command: string;
  args: string[];
  /** True when the kernel kills the program with the daemon. */
  guarded: boolean;
}

/** `command args` wrapped so that it dies with this process (when setpriv is installed). */
export function dieWithParent(command: string, args: string[]): GuardedCommand {
  if (setpriv === undefined) setpriv = findExecutable('setpriv');
  if (!setpriv) return { command, args, guarded: false };
  return { command: setpriv, args: ['--pdeathsig', 'KILL', command, ...args], guarded: true };
}
