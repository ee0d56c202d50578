/**
 * Where the benchmarks run from. `npm run bench` compiles them, with the code
 * they measure, into node_modules/.cache/bench (test/tsconfig.bench.json) and
 * runs them with plain node, as the daemon and headquarters run in service:
 * under ts-node every process would also carry the TypeScript compiler, whose
 * heap makes each garbage collection dearer and distorts the figures.
 */
import { join } from 'node:path';

/** The repository (sources, assets, node_modules, dist). */
export { ROOT } from '../helpers/cli';

/** True when running the compiled benchmarks (the only supported way). */
export const COMPILED = __filename.endsWith('.js');

/** The compiled tree (mirrors the repository's layout). */
export const BUILD = join(__dirname, '..', '..');

/** The compiled file of a repository source, e.g. compiled('test/uplink/hq-proc.ts'). */
export function compiled(source: string): string {
  return join(BUILD, source.replace(/\.ts$/, '.js'));
}
