import type { Command } from 'commander';
import { loadConfig } from '../../config';
import { updateVerdict } from '../update';
import { action, globalOpts, printJson } from './util';

/** Exit code when an update must wait (EX_TEMPFAIL: try again later). */
export const UPDATE_WAIT_EXIT = 75;

export function register(program: Command): void {
  const update = program.command('update').description('the station\'s side of an A/B update (docs/updates.md)');
  update
    .command('check')
    .description(`may an update start now? exit 0 when no enrollment session is open, ${UPDATE_WAIT_EXIT} (try later) with the reason while one is (the updater's inhibitor)`)
    .option('--json', 'machine-readable answer')
    .action(action(async (opts: { json?: boolean }, cmd: Command) => {
      const { config } = loadConfig(globalOpts(cmd).config);
      const v = updateVerdict(config.dataDir);
      if (opts.json) printJson(v);
      else process.stdout.write(`${v.ok ? 'ok' : 'WAIT'}: ${v.message}\n`);
      if (!v.ok) process.stderr.write(`update refused for now: ${v.message}\n`);
      return v.ok ? 0 : UPDATE_WAIT_EXIT;
    }));
}
