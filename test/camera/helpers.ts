import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fakeCameraCommand } from '../../drivers/camera/sim/fake-command';

/** A temp dir with shell scripts named like real camera programs that run the fake camera. */
export function fakeBinDir(names: string[]): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'fakecam-'));
  const cmd = fakeCameraCommand();
  const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
  const exports = Object.entries(cmd.env).map(([k, v]) => `export ${k}=${q(String(v))}\n`).join('');
  for (const n of names) {
    const f = join(dir, n);
    writeFileSync(f, `#!/bin/sh\n${exports}exec ${[cmd.command, ...cmd.args].map(q).join(' ')} "$@"\n`);
    chmodSync(f, 0o755);
  }
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
