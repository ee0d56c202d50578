/**
 * Runs `station fingerprint …` with only the fingerprint commands registered, so the CLI can be
 * tested on its own: ts-node test/fingerprint/cli-harness.ts fingerprint info --model … --port …
 */
import { Command, CommanderError } from 'commander';
import { register } from '../../station/cli/fingerprint';

const program = new Command('station').option('--debug').exitOverride();
register(program);
program.parseAsync(process.argv).catch((e) => {
  process.exitCode = e instanceof CommanderError ? (e.exitCode === 0 ? 0 : 2) : 1;
});
