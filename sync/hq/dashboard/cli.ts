/**
 * `hq dashboard` (serve, user add|list|passwd|remove) and `hq signer`.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import type { Command } from 'commander';
import type { IClientOptions } from 'mqtt';
import { StationError, UsageError } from '../../../config/errors';
import { loadSigningGenerations } from '../../wire';
import { createHqLogger } from '../log';
import type { HqSettings, FlagOverride } from '../settings';
import type { HqStoreApi } from '../store-api';
import { accountsPath, addAccount, readAccounts, removeAccount, setPassword, ROLES } from './accounts';
import { LiveFleet } from './live';
import { startDashboard } from './server';
import { campaignSource } from './campaigns';
import { socketSigner, startSigner } from './signer';

export interface DashboardCliHelpers {
  settingsOf(cmd: Command, extra?: FlagOverride[]): HqSettings;
  act<A extends unknown[]>(fn: (...args: A) => Promise<number | void> | number | void): (...args: A) => Promise<void>;
  openStore(s: HqSettings): Promise<HqStoreApi>;
  mqttOptions(s: HqSettings): IClientOptions;
}

function accountsFile(s: HqSettings): string {
  return s.dashboard.accountsFile ?? accountsPath(s.dataDir);
}

/** The new password: the first line of --password-file, of stdin when piped, or typed at the terminal (not shown). */
async function readNewPassword(file: string | undefined): Promise<string> {
  if (file) {
    try {
      return readFileSync(file, 'utf8').split(/\r?\n/)[0] ?? '';
    } catch (e) {
      throw new UsageError(`cannot read the password file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, 'give a file whose first line is the password');
    }
  }
  if (!process.stdin.isTTY) {
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? '';
  }
  let muted = false;
  const out = new Writable({ write(chunk: Buffer, _e, cb) { if (!muted) process.stderr.write(chunk); cb(); } });
  const rl = createInterface({ input: process.stdin, output: out, terminal: true });
  const ask = (q: string): Promise<string> => new Promise((r) => { muted = false; process.stderr.write(q); muted = true; rl.question('', (a) => { process.stderr.write('\n'); r(a); }); });
  try {
    const a = await ask('new password (not shown): ');
    const b = await ask('again: ');
    if (a !== b) throw new UsageError('the two passwords differ', 'type the same password twice');
    return a;
  } finally {
    rl.close();
  }
}

export function registerDashboard(program: Command, h: DashboardCliHelpers): void {
  const dash = program.command('dashboard').description('the ops dashboard: fleet, campaigns, alarms and commands in a browser (docs/dashboard.md)');

  dash.command('serve', { isDefault: true })
    .description('serve the dashboard (default when no subcommand is given)')
    .option('--host <address>', 'listen address (settings: dashboard.host)')
    .option('--port <n>', 'port (settings: dashboard.port)')
    .option('--log-level <level>', 'log level (settings: log.level)')
    .action(h.act(async (opts: { host?: string; port?: string; logLevel?: string }, cmd: Command) => {
      const s = h.settingsOf(cmd, [
        { key: 'dashboard.host', value: opts.host, flag: '--host' },
        { key: 'dashboard.port', value: opts.port !== undefined && /^\d+$/.test(opts.port) ? Number(opts.port) : opts.port, flag: '--port' },
        { key: 'log.level', value: opts.logLevel, flag: '--log-level' },
      ]);
      const logger = createHqLogger(s.log.level);
      const d = s.dashboard;
      let tls: { cert: Buffer; key: Buffer } | null = null;
      if (d.tls.certFile && d.tls.keyFile) {
        try {
          tls = { cert: readFileSync(d.tls.certFile), key: readFileSync(d.tls.keyFile) };
        } catch (e) {
          throw new StationError('DASH_TLS_FILE', `dashboard.tls: ${(e as NodeJS.ErrnoException).path ?? ''} cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, { exitCode: 2, hint: 'install the certificate and key named by dashboard.tls.*, readable by the dashboard user' });
        }
      }
      if (!d.signerSocket) logger.warn({}, 'dashboard.signerSocket is not set: the page sends no commands (run `hq signer` and set it to enable lock, unlock, sync-now, request-health)');
      const store = await h.openStore(s);
      const live = new LiveFleet({ brokerUrl: s.broker.url, mqtt: h.mqttOptions(s), topicPrefix: s.broker.topicPrefix, store, logger });
      try {
        await live.start();
        const dashboard = await startDashboard({
          host: d.host, port: d.port, tls, publicOrigin: d.publicOrigin, store, accountsFile: accountsFile(s), live,
          campaigns: campaignSource(store),
          signer: d.signerSocket ? socketSigner(d.signerSocket) : null,
          broker: { url: s.broker.url, mqtt: h.mqttOptions(s), topicPrefix: s.broker.topicPrefix },
          commandTtlMs: d.commandTtlSeconds * 1000, sessionIdleMs: d.sessionIdleMinutes * 60_000, logger,
        });
        process.stdout.write(`dashboard at ${dashboard.url}\n`);
        await new Promise<void>((res) => {
          const stop = (): void => { void dashboard.close().then(res); };
          process.once('SIGINT', stop);
          process.once('SIGTERM', stop);
        });
      } finally {
        await live.stop();
        await store.close();
      }
    }));

  const user = dash.command('user').description('dashboard accounts: viewer (reads) or operator (also acknowledges alarms, sends commands, edits campaigns)');
  user.command('add')
    .description('add an account; the password (at least 10 characters) from --secret-file, stdin, or typed twice')
    .argument('<name>', 'account name (1–64 letters, digits, . _ - @)')
    .requiredOption('--role <role>', `one of ${ROLES.join(', ')}`)
    .option('--secret-file <file>', 'read the new password from the first line of this file (else stdin, or typed twice at the terminal); not --password-file, which is the broker password')
    .action(h.act(async (name: string, opts: { role: string; secretFile?: string }, cmd: Command) => {
      const s = h.settingsOf(cmd);
      const pw = await readNewPassword(opts.secretFile);
      await addAccount(accountsFile(s), name, opts.role, pw);
      process.stdout.write(`account ${name} added (${opts.role}) in ${accountsFile(s)}\n`);
    }));
  user.command('passwd')
    .description("change an account's password")
    .argument('<name>', 'account name')
    .option('--secret-file <file>', 'read the new password from the first line of this file (else stdin, or typed twice)')
    .action(h.act(async (name: string, opts: { secretFile?: string }, cmd: Command) => {
      const s = h.settingsOf(cmd);
      await setPassword(accountsFile(s), name, await readNewPassword(opts.secretFile));
      process.stdout.write(`password of ${name} changed; its open sessions go on until they end (remove the account to end them at once)\n`);
    }));
  user.command('remove')
    .description('remove an account (its sessions end at their next request)')
    .argument('<name>', 'account name')
    .action(h.act(async (name: string, _o: unknown, cmd: Command) => {
      const s = h.settingsOf(cmd);
      removeAccount(accountsFile(s), name);
      process.stdout.write(`account ${name} removed; its sessions end at their next request\n`);
    }));
  user.command('list')
    .description('the accounts and their roles')
    .option('--json', 'machine-readable output')
    .action(h.act(async (opts: { json?: boolean }, cmd: Command) => {
      const s = h.settingsOf(cmd);
      const all = Object.entries(readAccounts(accountsFile(s))).map(([n, a]) => ({ name: n, role: a.role, createdAt: new Date(a.createdAt).toISOString() }));
      process.stdout.write(opts.json ? `${JSON.stringify(all, null, 2)}\n` : all.length ? `${all.map((a) => `${a.name}  ${a.role}  since ${a.createdAt}`).join('\n')}\n` : 'no accounts (hq dashboard user add NAME --role operator)\n');
    }));

  program.command('signer')
    .description("hold the ops key and sign the dashboard's commands (lock, unlock, sync-now, request-health) on a Unix socket; nothing else")
    .option('--socket <path>', 'Unix socket to listen on (settings: dashboard.signerSocket)')
    .option('--log-level <level>', 'log level (settings: log.level)')
    .action(h.act(async (opts: { socket?: string; logLevel?: string }, cmd: Command) => {
      const s = h.settingsOf(cmd, [
        { key: 'dashboard.signerSocket', value: opts.socket, flag: '--socket' },
        { key: 'log.level', value: opts.logLevel, flag: '--log-level' },
      ]);
      if (!s.dashboard.signerSocket) throw new UsageError('no socket to listen on', 'set dashboard.signerSocket in the settings (or HQ_DASHBOARD_SIGNER_SOCKET, or --socket PATH)');
      const ops = loadSigningGenerations(join(s.dataDir, 'keys'), 'ops');
      const logger = createHqLogger(s.log.level);
      const svc = await startSigner({ socketPath: s.dashboard.signerSocket, opsKey: ops[ops.length - 1]!.privateKey, logger, maxTtlMs: s.dashboard.commandTtlSeconds * 1000 });
      process.stdout.write(`command signer listening on ${svc.socketPath}\n`);
      await new Promise<void>((res) => {
        const stop = (): void => { void svc.close().then(res); };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
    }));
}
