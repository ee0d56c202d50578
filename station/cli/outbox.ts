/**
 * `station outbox list|requeue`: the records headquarters kept back.
 *
 * A receipt can keep a record at the station: `held` (a reason that can clear
 * by itself — it is sent again automatically after a backoff) or `rejected`
 * (kept, never deleted, sent again only when a technician requeues it once the
 * cause is fixed). Reasons: docs/wire-format.md §7. Safe while the daemon runs
 * (the vault is SQLite in WAL mode); the daemon's uplink picks requeued records
 * up within seconds.
 */
import type { Command } from 'commander';
import { loadConfig } from '../../config';
import { UsageError } from '../../drivers/common/errors';
import { Vault, type RefusedRecord } from '../vault';
import { loadStationSigningKey } from '../../sync/wire/keys';
import { HELD_REASONS, REJECTED_REASONS, isHeldReason, isRejectedReason } from '../../sync/wire/payloads';
import { action, globalOpts, printJson } from './util';

function when(t: number | null): string {
  return t === null ? '—' : new Date(t).toISOString();
}

/** One line per kept-back record: what headquarters said and what happens next. */
export function formatRefused(r: RefusedRecord, now = Date.now()): string {
  const next = r.state === 'held' ? (r.retryAt !== null && r.retryAt > now ? `retried automatically at ${when(r.retryAt)}` : 'retried with the next upload') : 'kept; requeue once the cause is fixed';
  return `${r.recordId}  ${r.state} (${r.reason})  ${next}${r.detail ? `\n    ${r.detail}` : ''}`;
}

async function openVault(cmd: Command): Promise<Vault> {
  const { config } = loadConfig(globalOpts(cmd).config);
  return Vault.open({
    dataDir: config.dataDir,
    stationId: config.station.id,
    signingKey: loadStationSigningKey(config.dataDir),
    hqIdentity: config.headquarters.publicKeyFile,
    suite: config.vault.suite,
  });
}

export function register(program: Command): void {
  const outbox = program.command('outbox').description('records headquarters held back or rejected: list them, send them again');

  outbox.command('list')
    .description('held and rejected records with headquarters\' reason and what happens next')
    .option('--json', 'machine-readable output')
    .action(action(async (opts: { json?: boolean }, cmd: Command) => {
      const v = await openVault(cmd);
      try {
        const rows = v.refusedRecords();
        if (opts.json) { printJson(rows); return; }
        process.stdout.write(rows.length ? `${rows.map((r) => formatRefused(r)).join('\n')}\n` : 'no held or rejected records\n');
      } finally {
        await v.close();
      }
    }));

  outbox.command('requeue')
    .description('send rejected records again (all, or those with one reason); --held also sends held ones now instead of at their next try')
    .option('--reason <code>', `only records with this reason: ${[...Object.keys(REJECTED_REASONS), ...Object.keys(HELD_REASONS)].join(', ')}`)
    .option('--held', 'also requeue held records now')
    .option('--json', 'machine-readable output')
    .action(action(async (opts: { reason?: string; held?: boolean; json?: boolean }, cmd: Command) => {
      if (opts.reason !== undefined && !isRejectedReason(opts.reason) && !isHeldReason(opts.reason)) {
        throw new UsageError(`--reason "${opts.reason}" is not a receipt reason`, `one of: ${[...Object.keys(REJECTED_REASONS), ...Object.keys(HELD_REASONS)].join(', ')}`);
      }
      const v = await openVault(cmd);
      try {
        const r = v.requeue({ ...(opts.reason ? { reason: opts.reason } : {}), held: !!opts.held || (opts.reason !== undefined && isHeldReason(opts.reason)) });
        if (opts.json) { printJson(r); return; }
        process.stdout.write(r.requeued
          ? `requeued ${r.requeued} record(s)${opts.reason ? ` with reason ${opts.reason}` : ''}; the uplink sends them with the next upload\n`
          : `nothing to requeue${opts.reason ? ` with reason ${opts.reason}` : ''} (see station outbox list)\n`);
      } finally {
        await v.close();
      }
    }));
}
