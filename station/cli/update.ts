import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { UsageError } from '../../drivers/common/errors';
import { loadConfig } from '../../config';
import { holdPath, placeHold, readHoldState, releaseHold, updateVerdict } from '../update';
import { bootId, readRunState } from '../run-state';
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

  update
    .command('hold')
    .description(`block new enrollment sessions for an update: exit 0 once none is open and none can start (the hold stays until \`station update release\`, a reboot, or --max-hold); ${UPDATE_WAIT_EXIT} while a session is open (without --wait the hold stays: no new session starts) or when the daemon does not confirm`)
    .option('--wait <seconds>', 'wait up to this long for the open session to be sealed or aborted; then release the hold and exit 75')
    .option('--max-hold <minutes>', 'the hold lapses by itself after this long (a crashed updater cannot block the booth)', '60')
    .option('--by <text>', 'who holds, shown to the officer and in the log', 'updater')
    .option('--json', 'machine-readable answer')
    .action(action(async (opts: { wait?: string; maxHold: string; by: string; json?: boolean }, cmd: Command) => {
      const { config } = loadConfig(globalOpts(cmd).config);
      const timeoutMs = opts.wait === undefined ? 0 : Number(opts.wait) * 1000;
      const maxMs = Number(opts.maxHold) * 60_000;
      if (!(timeoutMs >= 0) || !(maxMs > 0)) throw new UsageError('--wait and --max-hold must be positive numbers (seconds, minutes)');
      const h = placeHold(config.dataDir, { by: opts.by.slice(0, 80), maxMs, bootId: bootId() });
      const say = (ok: boolean, message: string, extra: Record<string, unknown> = {}): number => {
        if (opts.json) printJson({ ok, held: existsHold(config.dataDir), message, nonce: h.nonce, until: h.until, ...extra });
        else process.stdout.write(`${ok ? 'ok' : 'WAIT'}: ${message}\n`);
        if (!ok) process.stderr.write(`update refused for now: ${message}\n`);
        return ok ? 0 : UPDATE_WAIT_EXIT;
      };
      const end = Date.now() + timeoutMs;
      const confirmBy = Date.now() + 60_000; // the daemon answers within a tick (250 ms); a minute allows a loaded booth
      for (;;) {
        const daemon = readRunState(config.dataDir);
        if (!daemon) {
          // no daemon: nothing can start a session; one left by a crash waits for its officer at the next start
          const v = updateVerdict(config.dataDir);
          if (v.ok) return say(true, 'held: the station daemon is not running and no session is open; the update may proceed', { daemon: false });
          if (!opts.wait) return say(false, `held, but ${v.message}`, { daemon: false });
        } else {
          const st = readHoldState(config.dataDir);
          if (st && st.nonce === h.nonce) {
            if (!st.sessionOpen) return say(true, st.message, { daemon: true });
            if (!opts.wait) return say(false, st.message, { daemon: true, sessionOpen: true });
          } else if (Date.now() > confirmBy) {
            releaseHold(config.dataDir);
            return say(false, 'the station daemon did not confirm the hold (is it stuck?); hold released', { daemon: true });
          }
        }
        if (opts.wait && Date.now() > end) {
          releaseHold(config.dataDir);
          return say(false, `a session was still open after ${opts.wait} s; hold released, enrollments continue`, { timedOut: true });
        }
        await new Promise((r) => setTimeout(r, 200));
      }
    }));
  update
    .command('release')
    .description('remove the update hold: new enrollment sessions are accepted again (a reboot releases it too)')
    .action(action(async (_opts: unknown, cmd: Command) => {
      const { config } = loadConfig(globalOpts(cmd).config);
      const had = releaseHold(config.dataDir);
      process.stdout.write(had ? 'released: new enrollment sessions are accepted again\n' : 'there was no update hold\n');
      return 0;
    }));
}

function existsHold(dataDir: string): boolean {
  return existsSync(holdPath(dataDir));
}
