import type { Command } from 'commander';
import { loadConfig } from '../../config';
import { provision } from '../provision';
import { action, globalOpts, printJson } from './util';

export function register(program: Command): void {
  program
    .command('provision')
    .description('create the data directory and the station signing key, record the headquarters key, print the station identity for headquarters (works offline)')
    .option('--hq-public <file>', 'headquarters public identity (hq-public.json from `hq init`) to install where headquarters.publicKeyFile points')
    .option('--rotate', 'replace an existing station key (or headquarters key) — the old key is kept as *.old')
    .option('--json', 'print only the identity JSON (for `hq register`)')
    .action(action((opts: { hqPublic?: string; rotate?: boolean; json?: boolean }, cmd: Command) => {
      const { config } = loadConfig(globalOpts(cmd).config);
      const r = provision(config, { hqPublicFile: opts.hqPublic, rotate: opts.rotate });
      if (opts.json) {
        printJson(r.identity);
        return;
      }
      for (const n of r.notes) process.stderr.write(`- ${n}\n`);
      process.stdout.write(
        `\nStation ${r.identity.stationId} (unit ${r.identity.unit.code})\n` +
          `  signing key fingerprint: ${r.identity.fingerprint}\n` +
          `  headquarters key:        ${r.identity.hqKeyFingerprint ?? 'not installed'}\n\n` +
          `Register it at headquarters with:\n  station provision --json > ${r.identity.stationId}.json   # then: hq register ${r.identity.stationId}.json\n\n` +
          `${JSON.stringify(r.identity, null, 2)}\n`,
      );
    }));
}
