import type { Command } from 'commander';
import { runDoctor, formatResults } from '../doctor';
import { action, globalOpts, printJson } from './util';

export function register(program: Command): void {
  program
    .command('doctor')
    .description('check config, data directory, free space, clock, headquarters key, each device, the client and broker certificates (CN = station id, validity against the clock, CA) and the broker (connects and sends a probe the ACL must let through); says what to do about each failure')
    .option('--json', 'machine-readable results')
    .option('--offline', 'skip the checks that need the broker (the client certificate is still checked)')
    .action(action(async (opts: { json?: boolean; offline?: boolean }, cmd: Command) => {
      const results = await runDoctor({ configPath: globalOpts(cmd).config, skipBroker: opts.offline });
      const failed = results.filter((r) => r.status === 'fail').length;
      const configBad = results.some((r) => r.check === 'config' && r.status === 'fail');
      if (opts.json) printJson({ ok: failed === 0, failed, results });
      else process.stdout.write(`${formatResults(results)}\n\n${failed === 0 ? 'all checks passed' : `${failed} check(s) failed`}\n`);
      return configBad ? 2 : failed ? 1 : 0;
    }));
}
