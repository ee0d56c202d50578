/**
 * tools/build-if-stale.mjs (`npm run demo`): compiles when a source, tsconfig or the
 * lockfile is newer than the last build, or dist/ is incomplete — and not otherwise.
 * Run on a copy of the script in its own tree, whose node_modules/typescript/bin/tsc
 * counts its runs and writes the entry point as tsc would.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../helpers/cli';

let dir: string | null = null;
afterEach(() => { if (dir) rmSync(dir, { recursive: true, force: true }); dir = null; });

function tree(): string {
  const d = mkdtempSync(join(tmpdir(), 'build-if-stale-'));
  mkdirSync(join(d, 'tools'));
  copyFileSync(join(ROOT, 'tools', 'build-if-stale.mjs'), join(d, 'tools', 'build-if-stale.mjs'));
  // the configuration validator's precompiler, run after each compile: counted like tsc
  writeFileSync(join(d, 'tools', 'config-validator.mjs'), "import { appendFileSync } from 'node:fs';\nappendFileSync(new URL('../validator-runs', import.meta.url), 'x');\n");
  for (const s of ['station', 'drivers', 'sync', 'config']) { mkdirSync(join(d, s)); writeFileSync(join(d, s, 'a.ts'), 'export {};\n'); }
  writeFileSync(join(d, 'tsconfig.json'), '{}\n');
  writeFileSync(join(d, 'package-lock.json'), '{}\n');
  mkdirSync(join(d, 'node_modules', 'typescript', 'bin'), { recursive: true });
  writeFileSync(join(d, 'node_modules', 'typescript', 'bin', 'tsc'), [
    "const fs = require('node:fs'); const path = require('node:path');",
    "const root = path.join(__dirname, '..', '..', '..');",
    "fs.appendFileSync(path.join(root, 'tsc-runs'), 'x');",
    "fs.mkdirSync(path.join(root, 'dist', 'station', 'cli'), { recursive: true });",
    "fs.writeFileSync(path.join(root, 'dist', 'station', 'cli', 'main.js'), '');",
  ].join('\n'));
  // every input an hour old, so "newer" below is unambiguous whatever the clock's resolution
  const old = new Date(Date.now() - 3_600_000);
  for (const f of ['station/a.ts', 'drivers/a.ts', 'sync/a.ts', 'config/a.ts', 'tsconfig.json', 'package-lock.json']) utimesSync(join(d, f), old, old);
  return d;
}

const run = (d: string, ...args: string[]) => spawnSync(process.execPath, [join(d, 'tools', 'build-if-stale.mjs'), ...args], { encoding: 'utf8' });
const runs = (d: string): number => (existsSync(join(d, 'tsc-runs')) ? readFileSync(join(d, 'tsc-runs'), 'utf8').length : 0);

describe('build-if-stale', () => {
  it('compiles the first time, not when nothing changed, again when a source, tsconfig or the lockfile is newer, and when dist/ lost its entry point', () => {
    const d = (dir = tree());
    let r = run(d);
    expect(r.status, r.stderr).toBe(0);
    expect(runs(d)).toBe(1);
    expect(r.stderr).toMatch(/no earlier build/);
    expect(readFileSync(join(d, 'validator-runs'), 'utf8')).toBe('x'); // the validator precompiled after tsc

    r = run(d);
    expect(r.status).toBe(0);
    expect(runs(d)).toBe(1);
    expect(r.stderr).toMatch(/up to date/);

    const later = new Date(Date.now() + 60_000);
    for (const f of ['drivers/a.ts', 'tsconfig.json', 'package-lock.json']) {
      utimesSync(join(d, f), later, later);
      const before = runs(d);
      r = run(d);
      expect(r.stderr, f).toContain(`${f} changed`);
      expect(runs(d), f).toBe(before + 1);
      // the build's stamp is its start time: the file saved "in the future" still counts as newer until touched back
      utimesSync(join(d, f), new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
      expect(run(d).stderr).toMatch(/up to date/);
    }

    rmSync(join(d, 'dist', 'station', 'cli', 'main.js'));
    const before = runs(d);
    run(d);
    expect(runs(d)).toBe(before + 1);
    run(d, '--force');
    expect(runs(d)).toBe(before + 2);
  });

  it('passes a failed compilation on: exit code of tsc, and no stamp, so the next start compiles again', () => {
    const d = (dir = tree());
    writeFileSync(join(d, 'node_modules', 'typescript', 'bin', 'tsc'), "require('node:fs').appendFileSync(require('node:path').join(__dirname, '..', '..', '..', 'tsc-runs'), 'x'); process.exit(2);");
    expect(run(d).status).toBe(2);
    expect(existsSync(join(d, 'dist', '.build-stamp'))).toBe(false);
    run(d);
    expect(runs(d)).toBe(2);
  });
});
