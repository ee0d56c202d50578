/** Free-space measurement for the disk guard. */
import { statfsSync } from 'node:fs';

export interface DiskSpace {
  freeBytes: number;
  totalBytes: number;
}

/** Space available to an unprivileged writer on the filesystem holding `path`. */
export function diskSpace(path: string): DiskSpace {
  const s = statfsSync(path);
  return { freeBytes: Number(s.bavail) * Number(s.bsize), totalBytes: Number(s.blocks) * Number(s.bsize) };
}
