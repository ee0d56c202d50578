/**
 * The one way the station writes a small file that must survive a power cut:
 * write a temporary file beside it, fsync it, rename it over the old one, fsync
 * the directory (so the rename itself is on disk). After a crash the file is
 * either the old one or the new one, never empty or half written.
 *
 * It lives in config/ (the dependency-free bottom layer) because every layer
 * writes such files: keys (sync/wire), the command replay window (sync/commands),
 * the uplink's small state, the workflow's session marker, station state.
 *
 * A full disk (ENOSPC, EDQUOT) is a StationError with code DISK_FULL: the old
 * file is untouched, the temporary one removed, and the caller decides whether
 * it can go on without the write (most can: see isDiskFull).
 */
import { closeSync, fchmodSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { StationError } from './errors';

let counter = 0;

/** True for errors that mean "no space left" (filesystem or SQLite). */
export function isDiskFull(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT' || code === 'SQLITE_FULL' || code === 'DISK_FULL') return true;
  const cause = (e as { cause?: unknown } | null)?.cause;
  return cause !== undefined && cause !== e && isDiskFull(cause);
}

/** Makes a directory entry change (create, rename, unlink) durable. */
export function fsyncDir(dir: string): void {
  let fd: number;
  try {
    fd = openSync(dir, 'r');
  } catch {
    return; // not openable (e.g. no read permission): nothing more we can do for durability
  }
  try {
    fsyncSync(fd);
  } catch (e) {
    // some filesystems (and tmpfs) do not support fsync on a directory; that is not an error
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EINVAL' && code !== 'ENOTSUP' && code !== 'EISDIR') throw e;
  } finally {
    closeSync(fd);
  }
}

export interface DurableWriteOptions {
  /** File mode (default 0600; set exactly, whatever the umask). */
  mode?: number;
}

/**
 * Replaces `path` with `data` atomically and durably (temp file, fsync, rename, fsync of the directory).
 * Throws StationError DISK_FULL when the disk is full (the old file is kept), or the underlying error.
 */
export function writeFileDurable(path: string, data: string | Uint8Array, opts: DurableWriteOptions = {}): void {
  const mode = opts.mode ?? 0o600;
  const tmp = `${path}.tmp-${process.pid}-${++counter}`;
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  let fd: number | undefined;
  try {
    fd = openSync(tmp, 'w', mode);
    fchmodSync(fd, mode);
    let off = 0;
    while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, path);
  } catch (e) {
    if (fd !== undefined) try { closeSync(fd); } catch {}
    try { unlinkSync(tmp); } catch {}
    if (isDiskFull(e)) {
      throw new StationError('DISK_FULL', `the disk is full: ${basename(path)} could not be written (${dirname(path)})`, {
        cause: e,
        hint: 'free space on the data disk; the previous version of the file is kept',
      });
    }
    throw e;
  }
  fsyncDir(dirname(path));
}
