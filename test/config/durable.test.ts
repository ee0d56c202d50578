/** The one durable-write helper: temp file, fsync, rename, fsync of the directory; a full disk keeps the old file. */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDiskFull, writeFileDurable } from '../../config/durable';
import { mountSmallDisk } from '../helpers/tmpfs';

const dirs: string[] = [];
const tmp = (): string => { const d = mkdtempSync(join(tmpdir(), 'durable-')); dirs.push(d); return d; };
afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

describe('writeFileDurable', () => {
  it('replaces the file, with the mode asked for whatever the umask, and leaves no temporary file', () => {
    const d = tmp();
    const f = join(d, 'state.json');
    writeFileSync(f, 'old');
    const umask = process.umask(0o077);
    try {
      writeFileDurable(f, '{"a":1}', { mode: 0o644 });
    } finally {
      process.umask(umask);
    }
    expect(readFileSync(f, 'utf8')).toBe('{"a":1}');
    expect(statSync(f).mode & 0o777).toBe(0o644);
    writeFileDurable(f, Buffer.from('bytes'));
    expect(readFileSync(f, 'utf8')).toBe('bytes');
    expect(statSync(f).mode & 0o777).toBe(0o600);
    expect(readdirSync(d)).toEqual(['state.json']);
  });

  it('a missing directory is the caller\'s error, not a full disk', () => {
    const d = tmp();
    let err: unknown;
    try { writeFileDurable(join(d, 'no', 'such', 'f'), 'x'); } catch (e) { err = e; }
    expect((err as NodeJS.ErrnoException).code).toBe('ENOENT');
    expect(isDiskFull(err)).toBe(false);
  });

  it('on a full disk throws DISK_FULL naming the file, keeps the old content and removes the temporary file', () => {
    const disk = mountSmallDisk(1024 * 1024);
    try {
      const f = join(disk.dir, 'commands-seen.json');
      writeFileDurable(f, 'the old replay window');
      disk.fill(0);
      let err: unknown;
      try { writeFileDurable(f, 'x'.repeat(200_000)); } catch (e) { err = e; }
      expect(err).toMatchObject({ code: 'DISK_FULL' });
      expect((err as Error).message).toContain('commands-seen.json');
      expect(isDiskFull(err)).toBe(true);
      expect(readFileSync(f, 'utf8')).toBe('the old replay window');
      expect(readdirSync(disk.dir).filter((n) => n.includes('.tmp-'))).toEqual([]);
      disk.unfill();
      writeFileDurable(f, 'new');
      expect(readFileSync(f, 'utf8')).toBe('new');
    } finally {
      disk.dispose();
    }
  });
});
