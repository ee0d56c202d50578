/**
 * Room to keep working on a full disk. A full data disk (logs, a stuck journal,
 * another program) must not stop the booth: the kiosk has to come up and say
 * why enrollments are refused, and the backlog has to upload so its records can
 * be released. All of that writes a little — SQLite's -wal and -shm files of the
 * vault, officer and progress databases, the release's secure delete — and none
 * of it can when not one block is free.
 *
 * So the station keeps a ballast file, `<dataDir>/space-reserve` (16 MiB of
 * zeros), while the disk has room. When free space falls below half of it (at
 * start or on a later check) the ballast is deleted, which gives those writes
 * their room back; once the disk has the vault's reserve plus the ballast free
 * again it is written anew. New enrollments are refused below the vault's
 * reserve long before, so the ballast never takes space a record needs.
 */
import { closeSync, existsSync, fsyncSync, openSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { isDiskFull, fsyncDir } from '../config/durable';
import { diskSpace, type DiskSpace } from './vault/disk';

export const SPACE_RESERVE_FILE = 'space-reserve';
export const SPACE_RESERVE_BYTES = 16 * 1024 * 1024;

export interface SpaceReserveOptions {
  dataDir: string;
  /** Free space below which new enrollments are refused (the vault's reserve), bytes. */
  enrollReserveBytes: number;
  bytes?: number;
  logger?: Logger;
  diskSpace?: (path: string) => DiskSpace;
}

export type ReserveState = 'held' | 'released';

export class SpaceReserve {
  readonly file: string;
  private readonly bytes: number;
  private readonly space: (path: string) => DiskSpace;

  constructor(private readonly o: SpaceReserveOptions) {
    this.file = join(o.dataDir, SPACE_RESERVE_FILE);
    this.bytes = o.bytes ?? SPACE_RESERVE_BYTES;
    this.space = o.diskSpace ?? diskSpace;
  }

  get state(): ReserveState {
    try {
      return statSync(this.file).size >= this.bytes ? 'held' : 'released';
    } catch {
      return 'released';
    }
  }

  /**
   * Releases the ballast when the disk is (nearly) full, writes it again when there
   * is room for it beyond the enrollment reserve. Never throws: a reserve that
   * cannot be written is simply not held. Returns the state afterwards.
   */
  check(): ReserveState {
    let free: number;
    try {
      free = this.space(this.o.dataDir).freeBytes;
    } catch {
      return this.state;
    }
    const held = this.state === 'held';
    if (held && free < this.bytes / 2) {
      this.release(free);
      return 'released';
    }
    if (!held && free > this.o.enrollReserveBytes + 2 * this.bytes) return this.write() ? 'held' : 'released';
    return this.state;
  }

  private release(free: number): void {
    try {
      unlinkSync(this.file);
      this.o.logger?.warn({ freeBytes: free, releasedBytes: this.bytes, file: this.file }, 'data disk full: released the space reserve so the station keeps running and the backlog can upload; it is written again once space returns');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') this.o.logger?.warn({ err: e, file: this.file }, 'could not release the space reserve');
    }
  }

  private write(): boolean {
    const tmp = `${this.file}.tmp`;
    let fd: number | undefined;
    try {
      fd = openSync(tmp, 'w', 0o600);
      const chunk = Buffer.alloc(1024 * 1024);
      for (let done = 0; done < this.bytes; ) done += writeSync(fd, chunk, 0, Math.min(chunk.length, this.bytes - done));
      fsyncSync(fd);
      closeSync(fd);
      fd = undefined;
      // rename, not write in place: a partial ballast never counts as held
      renameSync(tmp, this.file);
      fsyncDir(this.o.dataDir);
      this.o.logger?.info({ bytes: this.bytes, file: this.file }, 'space reserve written');
      return true;
    } catch (e) {
      if (fd !== undefined) try { closeSync(fd); } catch {}
      try { if (existsSync(tmp)) unlinkSync(tmp); } catch {}
      if (!isDiskFull(e)) this.o.logger?.warn({ err: e, file: this.file }, 'could not write the space reserve');
      return false;
    }
  }
}
