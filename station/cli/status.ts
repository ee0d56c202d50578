import type { Command } from 'commander';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../../config';
import { readVaultStatus, type VaultStatus } from '../vault';
import type { LinkStatusFile } from '../../sync/uplink/uplink';
import { action, globalOpts, intOption, printJson } from './util';
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

/** The daemon's uplink, as its status file says (`<dataDir>/uplink/link.json`), and whether that daemon still runs. */
export interface UplinkView {
  /** The file exists and the process that wrote it is alive. */
  running: boolean;
  file: LinkStatusFile | null;
}

export function readUplinkView(dataDir: string): UplinkView {
  const f = join(dataDir, 'uplink', 'link.json');
  if (!existsSync(f)) return { running: false, file: null };
  let file: LinkStatusFile;
  try {
    file = JSON.parse(readFileSync(f, 'utf8')) as LinkStatusFile;
    if (file.v !== 1 || typeof file.pid !== 'number') return { running: false, file: null };
  } catch {
    return { running: false, file: null };
  }
  let running: boolean;
  try { process.kill(file.pid, 0); running = true; } catch (e) { running = (e as NodeJS.ErrnoException).code === 'EPERM'; }
  return { running, file };
}

export interface DrainEstimate {
  backlogRecords: number;
  backlogBytes: number;
  oldestAgeMs: number | null;
  /** Last packet from headquarters' broker, else the last receipt. */
  lastContactAt: number | null;
  connected: boolean;
  /** Bytes per second the backlog is going at: receipts of the last minute, else the link's measured rate while connected. */
  rateBps: number | null;
  rateSource: 'receipts' | 'link' | null;
  etaSeconds: number | null;
  bytesResent: number | null;
}

export function drainEstimate(s: VaultStatus, u: UplinkView): DrainEstimate {
  const c = s.counts;
  const backlogRecords = c.sealed + c.inFlight + c.held;
  const live = u.running ? u.file : null;
  const connected = Boolean(live?.connected);
  let rateBps: number | null = null;
  let rateSource: DrainEstimate['rateSource'] = null;
  if (live?.drainBps) { rateBps = live.drainBps; rateSource = 'receipts'; } else if (connected && live?.link.bandwidthBps) { rateBps = Math.round(live.link.bandwidthBps); rateSource = 'link'; }
  const lastContactAt = Math.max(u.file?.lastContactAt ?? 0, s.lastReceiptAt ?? 0) || null;
  return {
    backlogRecords, backlogBytes: s.backlogBytes, oldestAgeMs: s.oldestUnackedAgeMs, lastContactAt, connected,
    rateBps, rateSource, etaSeconds: s.backlogBytes === 0 ? 0 : rateBps && connected ? Math.ceil(s.backlogBytes / rateBps) : null,
    bytesResent: live ? live.bytesResent : null,
  };
}

export function mb(n: number): string {
  return n >= 1024 * 1024 ? `${(n / 1048576).toFixed(1)} MB` : `${Math.round(n / 1024)} KB`;
}

function eta(d: DrainEstimate): string {
  if (d.backlogBytes === 0) return 'nothing to send';
  if (d.etaSeconds === null) return d.connected ? 'unknown (no rate observed yet)' : 'unknown (not connected)';
  return `${age(d.etaSeconds * 1000)} at ${Math.round((d.rateBps ?? 0) / 1000)} KB/s (${d.rateSource === 'receipts' ? 'receipts of the last minute' : "the link's measured rate"})`;
}

/** `[########------------]  40 %  12.0 MB left  ETA 48 s  250 KB/s` */
export function progressLine(d: DrainEstimate, peakBytes: number, width = 30): string {
  const frac = peakBytes > 0 ? Math.min(1, Math.max(0, 1 - d.backlogBytes / peakBytes)) : 1;
  const full = Math.round(frac * width);
  const rate = d.rateBps ? `  ${Math.round(d.rateBps / 1000)} KB/s` : '';
  const when = d.backlogBytes === 0 ? 'drained' : d.etaSeconds !== null ? `ETA ${age(d.etaSeconds * 1000)}` : d.connected ? 'ETA unknown' : 'not connected';
  return `[${'#'.repeat(full)}${'-'.repeat(width - full)}] ${String(Math.floor(frac * 100)).padStart(3)} %  ${d.backlogRecords} records, ${mb(d.backlogBytes)} left  ${when}${rate}`;
}

export function register(program: Command): void {
  program
    .command('status')
    .description('backlog (records, bytes, oldest age), last contact with headquarters and the estimated time to drain at the observed rate, records per outbox state (held back and rejected by headquarters with the reason), last receipt and free space (reads the vault and the uplink status file; safe while the daemon runs)')
    .option('--json', 'machine-readable output')
    .option('--watch', 'show a progress bar, refreshed until the backlog is drained (Ctrl-C stops)')
    .option('--interval <ms>', 'refresh period for --watch', '1000')
    .action(action(async (opts: { json?: boolean; watch?: boolean; interval?: string }, cmd: Command) => {
      const { config } = loadConfig(globalOpts(cmd).config);
      const read = async () => {
        const s = await readVaultStatus(config.dataDir, { reserveBytes: config.vault.reserveMb * 1024 * 1024 });
        const u = readUplinkView(config.dataDir);
        return { s, u, d: drainEstimate(s, u) };
      };
      if (opts.watch) {
        const every = intOption('--interval', opts.interval, 50, 3_600_000)!;
        let peak = 0;
        const tty = process.stdout.isTTY;
        for (;;) {
          const { d } = await read();
          peak = Math.max(peak, d.backlogBytes);
          const line = opts.json ? JSON.stringify({ ...d, peakBytes: peak, at: Date.now() }) : progressLine(d, peak);
          process.stdout.write(tty && !opts.json ? `\r${line}\u001b[K` : `${line}\n`);
          if (d.backlogBytes === 0 && d.backlogRecords === 0) {
            if (tty && !opts.json) process.stdout.write('\n');
            return 0;
          }
          await new Promise((r) => setTimeout(r, every));
        }
      }
      const { s, u, d } = await read();
      if (opts.json) {
        printJson({ stationId: config.station.id, ...s, drain: d, uplink: u });
        return;
      }
      const c = s.counts;
      const up = u.file;
      process.stdout.write(
        [
          `station ${config.station.id} — vault ${config.dataDir}`,
          `  backlog:            ${d.backlogRecords} records, ${mb(d.backlogBytes)}`,
          `  oldest unacked:     ${age(s.oldestUnackedAgeMs)}`,
          `  uplink:             ${!u.running ? (up ? `daemon not running (last written ${new Date(up.at).toISOString()})` : 'no uplink status (daemon not started, or no headquarters configured)') : d.connected ? 'connected' : 'not connected'}`,
          `  last contact:       ${d.lastContactAt ? `${new Date(d.lastContactAt).toISOString()} (${age(Date.now() - d.lastContactAt)} ago)` : 'never'}`,
          `  time to drain:      ${eta(d)}`,
          ...(d.bytesResent ? [`  resent after drops: ${mb(d.bytesResent)} of ${mb(up?.bytesSent ?? 0)} sent`] : []),
          `  sealed (waiting):   ${c.sealed ?? 0}`,
          `  in flight:          ${c.inFlight ?? 0}`,
          `  acknowledged:       ${c.acknowledged ?? 0}`,
          `  released:           ${c.released ?? 0}`,
          `  held back by HQ:    ${c.held ?? 0}${c.held ? ' (retried automatically)' : ''}`,
          `  rejected by HQ:     ${c.rejected ?? 0}${c.rejected ? ' (kept; station outbox requeue once fixed)' : ''}`,
          ...s.refusals.map((r) =>
            `    ${r.state} ${r.reason}: ${r.count}${r.nextRetryAt ? `, next try ${new Date(r.nextRetryAt).toISOString()}` : ''} — ${reasonText(r.reason)}`),
          `  last receipt:       ${s.lastReceiptAt ? new Date(s.lastReceiptAt).toISOString() : 'never'}`,
          `  free space:         ${Math.round((s.freeBytes ?? 0) / 1048576)} MB`,
          '',
        ].join('\n'),
      );
    }));
}
