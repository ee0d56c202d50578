/** Test entry: the `station officer …` commands alone, as the real CLI registers them. */
import { Command } from 'commander';
import { register } from '../../station/cli/officer';

const program = new Command('station').option('-c, --config <file>').option('--debug').exitOverride();
register(program);
program.parseAsync(process.argv).catch(() => { process.exitCode = 2; });
