import { Command } from 'commander';
import { register } from '../../station/cli/card';

/** Runs `station card …` in process with captured stdout/stderr and exit code. */
export async function runCardCli(args: string[]): Promise<{ out: string; err: string; code: number }> {
  const program = new Command('station');
  program.option('--debug').exitOverride();
  register(program);
  let out = '', err = '';
  const ow = process.stdout.write.bind(process.stdout), ew = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((s: string) => { out += s; return true; }) as typeof process.stdout.write;
  process.stderr.write = ((s: string) => { err += s; return true; }) as typeof process.stderr.write;
  const before = process.exitCode;
  process.exitCode = 0;
  try {
    await program.parseAsync(['node', 'station', ...args]);
  } finally {
    process.stdout.write = ow; process.stderr.write = ew;
  }
  const code = Number(process.exitCode ?? 0);
  process.exitCode = before;
  return { out, err, code };
}
