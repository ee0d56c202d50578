/**
 * A small tmpfs of its own for full-disk tests: mounted on a directory inside the
 * test's own temp directory (never a shared path), unmounted and removed by
 * dispose(). Needs root (CI and the project's machines run the tests as root).
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, statfsSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface SmallDisk {
  /** The mount point. */
  dir: string;
  /** Free bytes as the filesystem reports them. */
  free(): number;
  /** Fills the disk with a ballast file until at most `leaveBytes` are free (0: completely full). */
  fill(leaveBytes?: number): void;
  /** Deletes the ballast: the space comes back. */
  unfill(): void;
  dispose(): void;
}

export function mountSmallDisk(sizeBytes: number, prefix = 'disk-'): SmallDisk {
  const root = mkdtempSync(join(tmpdir(), prefix));
  const dir = join(root, 'mnt');
  mkdirSync(dir);
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeBytes},mode=0755`, 'tmpfs', dir], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (e) {
    rmSync(root, { recursive: true, force: true });
    throw new Error(`full-disk tests mount a small tmpfs and need root: ${(e as { stderr?: Buffer }).stderr?.toString().trim() || (e as Error).message}`, { cause: e });
  }
  const ballast = join(dir, '.ballast');
  let n = 0;
  const free = (): number => { const s = statfsSync(dir); return s.bavail * s.bsize; };
  return {
    dir,
    free,
    fill(leaveBytes = 0) {
      const chunk = Buffer.alloc(64 * 1024, 0x5a);
      for (;;) {
        const left = free() - leaveBytes;
        if (left <= 0) return;
        const fd = openSync(`${ballast}.${n++}`, 'w');
        try {
          let written = 0;
          while (written < left) {
            try {
              written += writeSync(fd, chunk, 0, Math.min(chunk.length, left - written));
            } catch (e) {
              if ((e as NodeJS.ErrnoException).code === 'ENOSPC') return;
              throw e;
            }
          }
        } finally {
          closeSync(fd);
        }
      }
    },
    unfill() {
      for (let i = 0; i < n; i++) try { unlinkSync(`${ballast}.${i}`); } catch {}
      n = 0;
    },
    dispose() {
      try { execFileSync('umount', ['-l', dir], { stdio: 'ignore' }); } catch {}
      rmSync(root, { recursive: true, force: true });
    },
  };
}
