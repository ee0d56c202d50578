/** The software version from package.json (config/ is the base layer, so `station` and `hq` both read it here). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

function readVersion(): string {
  // works from station/ (ts-node) and dist/station/ (compiled)
  for (const up of ['..', '../..']) {
    try {
      return (JSON.parse(readFileSync(join(__dirname, up, 'package.json'), 'utf8')) as { version: string }).version;
    } catch {}
  }
  return '0.0.0';
}

export const VERSION = readVersion();
