/**
 * `station officer add|list|remove|unlock|hash-pin` — the technician provisions
 * the officers who may log in at the kiosk. PINs are read from the terminal
 * (hidden, typed twice) or, for scripts, as the first line of standard input.
 */
import type { Command } from 'commander';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { loadConfig } from '../../config';
import { UsageError } from '../../drivers/common/errors';
import { createCardReader } from '../../drivers/card';
import { OfficerStore, hashPin, officerStoreOptions, validatePin, type OfficerStoreOptions } from '../officers/store';
import { officerCardPort } from '../workflow/adapters';
import { action, globalOpts, printJson } from './util';

/** The officer store file inside a data directory. */
export function officersDbPath(dataDir: string): string {
  return join(dataDir, 'officers.db');
}

function dataDirFrom(cmd: Command, override?: string): string {
  if (override) return override;
  if (process.env.STATION_DATA_DIR) return process.env.STATION_DATA_DIR;
  return loadConfig(globalOpts(cmd).config).config.dataDir;
}

/** Store options (PIN policy, lockout) from the configuration; with --data-dir and no --config, the defaults. */
function storeOptionsFrom(cmd: Command, dataDirOverride?: string): OfficerStoreOptions {
  const explicit = globalOpts(cmd).config ?? process.env.ENROLL_CONFIG;
  if ((dataDirOverride || process.env.STATION_DATA_DIR) && !explicit) return {};
  return officerStoreOptions(loadConfig(explicit).config);
}

function openStore(cmd: Command, dataDirOverride?: string): OfficerStore {
  return new OfficerStore(officersDbPath(dataDirFrom(cmd, dataDirOverride)), storeOptionsFrom(cmd, dataDirOverride)).open();
}

async function readLineStdin(): Promise<string> {
  const rl = createInterface({ input: process.stdin, terminal: false });
  try {
    for await (const line of rl) return line.trim();
  } finally {
    rl.close();
  }
  return '';
}

async function askHidden(prompt: string): Promise<string> {
  return new Promise((resolve) => {
    const out = process.stderr;
    out.write(prompt);
    const stdin = process.stdin;
    stdin.setRawMode?.(true);
    stdin.resume();
    let buf = '';
    const onData = (d: Buffer): void => {
      for (const ch of d.toString('utf8')) {
        if (ch === '\r' || ch === '\n') { stdin.setRawMode?.(false); stdin.pause(); stdin.off('data', onData); out.write('\n'); resolve(buf); return; }
        if (ch === '\u0003') { stdin.setRawMode?.(false); out.write('\n'); process.exit(130); }
        if (ch === '\u007f') buf = buf.slice(0, -1);
        else buf += ch;
      }
    };
    stdin.on('data', onData);
  });
}

async function readPin(minLength: number): Promise<string> {
  if (!process.stdin.isTTY) {
    const pin = await readLineStdin();
    if (!pin) throw new UsageError('no PIN on standard input', 'pipe the PIN as the first line, or run in a terminal to be asked');
    validatePin(pin, minLength);
    return pin;
  }
  const a = await askHidden(`PIN (${minLength}–16 digits): `);
  validatePin(a, minLength);
  const b = await askHidden('PIN again: ');
  if (a !== b) throw new UsageError('the two PINs differ', 'run the command again');
  return a;
}

async function readOfficerCard(reader?: string): Promise<{ atr: string; uid: string | null }> {
  const r = createCardReader({ mode: 'pcsc', ...(reader ? { readerPattern: reader } : {}), failIfUnavailable: true });
  await r.open();
  try {
    process.stderr.write('Put the officer card on the reader…\n');
    return await officerCardPort(r, reader, 30_000).readIdentity();
  } finally {
    await r.close();
  }
}

export function register(program: Command): void {
  const officer = program.command('officer').description('officers who may log in at the kiosk (stored in <dataDir>/officers.db; PINs scrypt-hashed)');

  officer
    .command('add <id>')
    .description('add an officer; the PIN is asked twice (hidden) or read from the first line of stdin')
    .requiredOption('--name <name>', 'the officer\'s name as shown on the kiosk')
    .option('--card', 'bind the officer\'s own smart card (read now from the PC/SC reader): login then needs PIN + card')
    .option('--reader <name>', 'PC/SC reader name (substring) for --card')
    .option('--data-dir <dir>', 'data directory (default: from the configuration)')
    .option('--json', 'machine-readable output')
    .action(action(async (id: string, opts: { name: string; card?: boolean; reader?: string; dataDir?: string; json?: boolean }, cmd: Command) => {
      const store = openStore(cmd, opts.dataDir);
      try {
        if (store.get(id)) throw new UsageError(`officer "${id}" already exists`, `remove it first: station officer remove ${id}`, 'OFFICER_EXISTS');
        const pin = await readPin(store.pinMinLength);
        const card = opts.card ? await readOfficerCard(opts.reader) : null;
        const o = await store.add({ id, name: opts.name, pin, card });
        if (opts.json) printJson({ id: o.id, name: o.name, cardBound: o.cardBound });
        else process.stdout.write(`added officer ${o.id} (${o.name})${o.cardBound ? ', bound to the officer card' : ''}\n`);
      } finally {
        store.close();
      }
    }));

  officer
    .command('list')
    .description('list officers (never shows PINs or card data)')
    .option('--data-dir <dir>', 'data directory (default: from the configuration)')
    .option('--json', 'machine-readable output')
    .action(action((opts: { dataDir?: string; json?: boolean }, cmd: Command) => {
      const store = openStore(cmd, opts.dataDir);
      try {
        const now = Date.now();
        const list = store.list().map((o) => ({
          id: o.id, name: o.name, cardBound: o.cardBound, active: o.active, source: o.source, failedAttempts: o.failedAttempts,
          lockedUntil: o.lockedUntil !== null && o.lockedUntil > now ? new Date(o.lockedUntil).toISOString() : null,
        }));
        if (opts.json) { printJson(list); return; }
        if (!list.length) { process.stdout.write('no officers — add one with: station officer add <id> --name "<name>"\n'); return; }
        for (const o of list) {
          process.stdout.write(`${o.id.padEnd(16)} ${o.name.padEnd(28)} ${o.cardBound ? 'PIN+card' : 'PIN     '} ${o.source.padEnd(5)} ${o.active ? 'active' : 'inactive'}${o.lockedUntil ? ` LOCKED until ${o.lockedUntil}` : ''}\n`);
        }
      } finally {
        store.close();
      }
    }));

  officer
    .command('remove <id>')
    .description('remove an officer')
    .option('--data-dir <dir>', 'data directory (default: from the configuration)')
    .action(action((id: string, opts: { dataDir?: string }, cmd: Command) => {
      const store = openStore(cmd, opts.dataDir);
      try {
        if (!store.remove(id)) throw new UsageError(`no officer "${id}"`, 'see: station officer list', 'OFFICER_UNKNOWN');
        process.stdout.write(`removed officer ${id}\n`);
      } finally {
        store.close();
      }
    }));

  officer
    .command('unlock <id>')
    .description('clear a lockout after too many wrong PINs')
    .option('--data-dir <dir>', 'data directory (default: from the configuration)')
    .action(action((id: string, opts: { dataDir?: string }, cmd: Command) => {
      const store = openStore(cmd, opts.dataDir);
      try {
        if (!store.unlock(id)) throw new UsageError(`no officer "${id}"`, 'see: station officer list', 'OFFICER_UNKNOWN');
        process.stdout.write(`officer ${id} unlocked\n`);
      } finally {
        store.close();
      }
    }));

  officer
    .command('hash-pin')
    .description('print the scrypt hash of a PIN, for an officer-push command from headquarters (the PIN itself never travels; each booth binds the hash to its own key on arrival)')
    .option('--min-length <n>', 'shortest PIN accepted (default 6, the officers.pinMinLength of the fleet)', '6')
    .action(action(async (opts: { minLength: string }) => {
      const min = Number(opts.minLength);
      if (!Number.isInteger(min) || min < 6 || min > 16) throw new UsageError(`--min-length ${opts.minLength} is not a whole number 6–16`, undefined, 'USAGE');
      process.stdout.write(`${await hashPin(await readPin(min))}\n`);
    }));
}
