/**
 * `npm run bench [-- NAME ...]`: runs test/bench/NAME.bench.ts (all when no name).
 * Each bench measures the raw limit in the same run and ends with one JSON line:
 * {"bench": NAME, "ratio": R, "goal": G, "better": "higher"|"lower", ...figures}
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

async function main(): Promise<void> {
  const dir = __dirname;
  const all = readdirSync(dir).filter((f) => f.endsWith('.bench.ts')).map((f) => f.replace(/\.bench\.ts$/, '')).sort();
  const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
  const names = wanted.length ? wanted : all;
  for (const n of names) {
    if (!all.includes(n)) {
      console.error(`unknown benchmark "${n}"; available: ${all.join(', ')}`);
      process.exit(2);
    }
  }
  let failed = false;
  for (const n of names) {
    console.error(`# bench ${n}`);
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded lazily, only when needed
    const mod = require(join(dir, `${n}.bench.ts`)) as { run: () => Promise<void> };
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
