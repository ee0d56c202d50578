import type { Command } from 'commander';
import YAML from 'yaml';
import { loadConfig, redactConfig } from '../../config';
import { action, globalOpts, printJson } from './util';

export function register(program: Command): void {
  const cfg = program.command('config').description('check or show the configuration');
  cfg
    .command('check')
    .description('validate the configuration file (exit 0 valid, 2 invalid) without starting anything')
    .action(action((_opts: object, cmd: Command) => {
      const loaded = loadConfig(globalOpts(cmd).config);
      const extras = [
        loaded.migrated.length ? `migrated in memory: ${loaded.migrated.join(', ')} (run \`station config show\` and save the result)` : '',
        loaded.envOverrides.length ? `overridden by environment: ${loaded.envOverrides.join(', ')}` : '',
      ].filter(Boolean);
      process.stdout.write(`${loaded.path}: ok (station ${loaded.config.station.id}, unit ${loaded.config.station.unit.code})\n${extras.map((x) => `  ${x}\n`).join('')}`);
    }));
  cfg
    .command('show')
    .description('print the effective configuration (defaults filled in, secrets redacted)')
    .option('--json', 'print JSON instead of YAML')
    .action(action((opts: { json?: boolean }, cmd: Command) => {
      const loaded = loadConfig(globalOpts(cmd).config);
      const shown = redactConfig(loaded.config);
      if (opts.json) printJson(shown);
      else process.stdout.write(`# effective configuration from ${loaded.path}\n${YAML.stringify(shown)}`);
    }));
}
