/**
 * `npm run bench [-- NAME ...]`: runs test/bench/NAME.bench.ts (all when no name),
 * compiled (see paths.ts).
 * Each bench measures the raw limit in the same run and ends with one JSON line:
 * {"bench": NAME, "ratio": R, "goal": G, "better": "higher"|"lower", ...figures}
 * Several benches run one after another, each in a process of its own: run in
 * one process, a bench paid for the heap, threads and garbage the ones before it
 * left (the vault read 0.73 after the others where alone it reads 0.82-0.92).
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { COMPILED } from './paths';

async function main(): Promise<void> {
  if (!COMPILED) {
    console.error('run the benchmarks with `npm run bench [-- NAME]`: it compiles them and runs them with plain node, as the station runs');
    process.exit(2);
  }
  const dir = __dirname;
  const all = readdirSync(dir).filter((f) => f.endsWith('.bench.js')).map((f) => f.replace(/\.bench\.js$/, '')).sort();
  const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
  const names = wanted.length ? wanted : all;
  for (const n of names) {
    if (!all.includes(n)) {
      console.error(`unknown benchmark "${n}"; available: ${all.join(', ')}`);
      process.exit(2);
    }
  }
  let failed = false;
  if (names.length > 1) {
    for (const n of names) {
      const r = spawnSync(process.execPath, [...process.execArgv, __filename, n], { stdio: 'inherit' });
      if (r.status !== 0) failed = true;
    }
    process.exit(failed ? 1 : 0);
  }
  for (const n of names) {
    console.error(`# bench ${n}`);
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded lazily, only when needed
    const mod = require(join(dir, `${n}.bench.js`)) as { run: () => Promise<void> };
    try {
      await mod.run();
    } catch (e) {
      failed = true;
      console.error(`bench ${n} failed:`, e);
    }
  }
  process.exit(failed ? 1 : 0);
}
void main();
