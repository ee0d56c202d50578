#!/usr/bin/env node
// `npm run demo` compiles only when something it is compiled from changed: the sources
// (station/, drivers/, sync/, config/), tsconfig.json, package.json or package-lock.json
// are compared with the time the last build through this script started
// (dist/.build-stamp). Nothing newer and dist/ complete: no tsc at all.
// `--force` compiles anyway. Exit code: tsc's.
import { spawnSync } from 'node:child_process';
import process from 'node:process';
import { existsSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const stamp = join(root, 'dist', '.build-stamp');
const entry = join(root, 'dist', 'station', 'cli', 'main.js');
const SOURCES = ['station', 'drivers', 'sync', 'config'];
const FILES = ['tsconfig.json', 'package.json', 'package-lock.json'];

/** The newest modification time (ms) under the inputs, and the file that has it. */
function newest() {
  let best = { ms: 0, file: '' };
  const see = (f) => {
    const ms = statSync(f).mtimeMs;
    if (ms > best.ms) best = { ms, file: f };
  };
  const walk = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) see(p);
    }
  };
  for (const d of SOURCES) if (existsSync(join(root, d))) walk(join(root, d));
  for (const f of FILES) if (existsSync(join(root, f))) see(join(root, f));
  return best;
}

const force = process.argv.includes('--force');
const inputs = newest();
const built = existsSync(stamp) && existsSync(entry) ? statSync(stamp).mtimeMs : 0;
if (!force && built > 0 && inputs.ms <= built) {
  process.stderr.write('dist/ is up to date with the sources: not recompiling (npm run build forces it)\n');
  process.exit(0);
}
process.stderr.write(built === 0 ? 'compiling (no earlier build)…\n' : force ? 'compiling (--force)…\n' : `compiling (${inputs.file.slice(root.length + 1)} changed)…\n`);
const started = new Date();
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const r = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.json')], { stdio: 'inherit' });
if (r.status !== 0) process.exit(r.status ?? 1);
// the configuration's precompiled validator, as `npm run build` makes it
const v = spawnSync(process.execPath, [join(root, 'tools', 'config-validator.mjs')], { stdio: 'inherit' });
if (v.status !== 0) process.exit(v.status ?? 1);
// the start time: a file saved while tsc ran makes the next start compile again
writeFileSync(stamp, `${started.toISOString()}\n`);
utimesSync(stamp, started, started);
