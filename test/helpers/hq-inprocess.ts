/**
 * Runs the `hq` command tree in this process (as `hq ARGS` would), capturing its
 * output and exit code; `env` is set for the call and restored afterwards.
 * In-process so that tests can look at the same store and broker the command used.
 */
import { buildProgram } from '../../sync/hq/main';

export async function hqInProcess(args: string[], env: Record<string, string | undefined> = {}): Promise<{ code: number; out: string; err: string }> {
  const origOut = process.stdout.write.bind(process.stdout);
  const origErr = process.stderr.write.bind(process.stderr);
  const saved: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(env)) { saved[k] = process.env[k]; if (v === undefined) delete process.env[k]; else process.env[k] = v; }
  let out = '';
  let err = '';
  process.exitCode = 0;
  (process.stdout as unknown as { write: (s: string) => boolean }).write = (s: string) => { out += s; return true; };
  (process.stderr as unknown as { write: (s: string) => boolean }).write = (s: string) => { err += s; return true; };
  try {
    await buildProgram().exitOverride().parseAsync(['node', 'hq', ...args]);
  } catch (e) {
    err += String((e as Error).message);
    if (!process.exitCode) process.exitCode = 2;
  } finally {
    process.stdout.write = origOut;
    process.stderr.write = origErr;
    for (const [k, v] of Object.entries(saved)) { if (v === undefined) delete process.env[k]; else process.env[k] = v; }
  }
  const code = Number(process.exitCode ?? 0);
  process.exitCode = 0;
  return { code, out, err };
}
