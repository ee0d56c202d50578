import type { Command } from 'commander';
import { loadConfig } from '../../config';
import { readVaultStatus } from '../vault';
import { action, globalOpts, printJson } from './util';
import { HELD_REASONS, REJECTED_REASONS } from '../../sync/wire/payloads';

function reasonText(r: string): string {
  return (HELD_REASONS as Record<string, string>)[r] ?? (REJECTED_REASONS as Record<string, string>)[r] ?? 'no reason given';
}

function age(ms: number | null): string {
  if (ms === null) return '—';
  const s = Math.round(ms / 1000);
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172800) return `${(s / 3600).toFixed(1)} h`;
  return `${(s / 86400).toFixed(1)} days`;
}

export function register(program: Command): void {
  program
    .command('status')
    .description('records per outbox state (held back and rejected by headquarters with the reason), oldest unacknowledged age, last receipt and free space (reads the vault; safe while the daemon runs)')
    .option('--json', 'machine-readable output')
    .action(action(async (opts: { json?: boolean }, cmd: Command) => {
      const { config } = loadConfig(globalOpts(cmd).config);
      const s = await readVaultStatus(config.dataDir, { reserveBytes: config.vault.reserveMb * 1024 * 1024 });
      if (opts.json) {
        printJson({ stationId: config.station.id, ...s });
        return;
      }
      const st = s as unknown as Record<string, any>;
      const c = st.counts ?? st;
      process.stdout.write(
        [
          `station ${config.station.id} — vault ${config.dataDir}`,
          `  sealed (waiting):   ${c.sealed ?? 0}`,
          `  in flight:          ${c.inFlight ?? 0}`,
          `  acknowledged:       ${c.acknowledged ?? 0}`,
          `  released:           ${c.released ?? 0}`,
          `  held back by HQ:    ${c.held ?? 0}${c.held ? ' (retried automatically)' : ''}`,
          `  rejected by HQ:     ${c.rejected ?? 0}${c.rejected ? ' (kept; station outbox requeue once fixed)' : ''}`,
          ...((st.refusals ?? []) as { state: string; reason: string; count: number; nextRetryAt: number | null }[]).map((r) =>
            `    ${r.state} ${r.reason}: ${r.count}${r.nextRetryAt ? `, next try ${new Date(r.nextRetryAt).toISOString()}` : ''} — ${reasonText(r.reason)}`),
          `  oldest unacked:     ${age(st.oldestUnackedAgeMs ?? null)}`,
          `  last receipt:       ${st.lastReceiptAt ? new Date(st.lastReceiptAt).toISOString() : 'never'}`,
          `  free space:         ${Math.round((st.freeBytes ?? 0) / 1048576)} MB`,
          '',
        ].join('\n'),
      );
    }));
}
