/**
 * What a booth runs is in `dependencies`, and nothing else is: every package the
 * daemon's, the CLIs' and headquarters' code imports is a runtime dependency, every
 * runtime dependency is imported by that code, and the demo's broker (aedes) and the
 * pretty log printer (pino-pretty) are development dependencies loaded only lazily,
 * where their absence is handled. (A booth installed without development
 * dependencies is run for real by test/install/install.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, relative } from 'node:path';
import { ROOT } from '../helpers/cli';

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) return n === 'public' || n === 'node_modules' ? [] : sources(p);
    return /\.ts$/.test(n) && !n.endsWith('.d.ts') ? [p] : [];
  });
}

/** Bare package names a file imports (static, dynamic, require, or require.resolve for a package's files: the dashboard serves Chart.js's UMD build). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out = new Set<string>();
  for (const m of text.matchAll(/(?:from\s+|import\(\s*|require\(\s*|require\.resolve\(\s*)'([^'.][^']*)'/g)) {
    const spec = m[1];
    if (spec.startsWith('node:') || builtinModules.includes(spec.split('/')[0])) continue;
    out.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]);
  }
  return [...out];
}

const shipped = ['config', 'drivers', 'station', 'sync'].flatMap((d) => sources(join(ROOT, d)));
const DEV_ONLY_FILES: Record<string, string[]> = {
  aedes: ['sync/broker/index.ts'],
  'pino-pretty': ['station/log.ts'],
};

describe('runtime dependencies', () => {
  it('every package the shipped code imports is a runtime dependency, except the lazily loaded dev-only ones', () => {
    const problems: string[] = [];
    for (const f of shipped) {
      const rel = relative(ROOT, f);
      for (const name of importsOf(f)) {
        if (pkg.dependencies[name]) continue;
        if (DEV_ONLY_FILES[name]?.includes(rel)) continue;
        if (name === 'typescript' && rel === 'config/gen-docs.ts') continue;
        // reached only when running from the TypeScript sources (a checkout has ts-node); the compiled install starts the .js
        if (name === 'ts-node' && rel === 'drivers/camera/sim/fake-command.ts') continue;
        problems.push(`${rel} imports ${name}, which is not in dependencies`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('every runtime dependency is used by the shipped code', () => {
    const used = new Set(shipped.flatMap(importsOf));
    expect(Object.keys(pkg.dependencies).filter((d) => !used.has(d))).toEqual([]);
  });

  it('the demo broker and the pretty printer are development dependencies, loaded lazily with their absence handled', () => {
    for (const [name, files] of Object.entries(DEV_ONLY_FILES)) {
      expect(pkg.dependencies[name], `${name} must not be a runtime dependency`).toBeUndefined();
      expect(pkg.devDependencies[name], `${name} is a devDependency`).toBeDefined();
      for (const f of files) {
        const text = readFileSync(join(ROOT, f), 'utf8');
        expect(text, `${f} must not import ${name} at the top level`).not.toMatch(new RegExp(`^import .* from '${name}'`, 'm'));
        expect(text, `${f} handles a missing ${name}`).toMatch(/MODULE_NOT_FOUND/);
      }
    }
  });

  it('the README names every dependency in its table', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Why each dependency is there'), readme.indexOf('## Configuration reference'));
    for (const d of [...Object.keys(pkg.dependencies), ...Object.keys(pkg.devDependencies).filter((d) => !d.startsWith('@types/'))]) {
      expect(section, `README: why is ${d} there?`).toContain(`\`${d}\``);
    }
  });
});
