import type { Command } from 'commander';
import { runSelftest } from '../selftest';
import { formatResults } from '../doctor';
import { action, globalOpts, printJson } from './util';

export function register(program: Command): void {
  program
    .command('selftest')
    .description('is the running booth fit to enroll: every configured device answers, the vault opens and passes its integrity check, the outbox is readable, the station key and headquarters identity load, the kiosk serves; exit 0 only when all pass (the "mark good" step of an A/B update, docs/updates.md)')
    .option('--json', 'machine-readable results')
    .action(action(async (opts: { json?: boolean }, cmd: Command) => {
      const results = await runSelftest({ configPath: globalOpts(cmd).config });
      const failed = results.filter((r) => r.status === 'fail');
      const configBad = results.some((r) => r.check === 'config' && r.status === 'fail');
      if (opts.json) printJson({ ok: failed.length === 0, failed: failed.map((r) => r.check), results });
      else process.stdout.write(`${formatResults(results)}\n\n${failed.length === 0 ? 'selftest passed' : `selftest FAILED: ${failed.map((r) => r.check).join(', ')}`}\n`);
      return configBad ? 2 : failed.length ? 1 : 0;
    }));
}
