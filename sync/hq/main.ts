#!/usr/bin/env node
/**
 * `hq` — the headquarters tool: keys, station registry, ingest worker, fleet
 * view, record opening for audits, and signed commands.
 */
import { Command, CommanderError, Option } from 'commander';
import { existsSync, readFileSync, writeFileSync, copyFileSync, mkdirSync, statSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { userInfo } from 'node:os';
import { createHqLogger } from './log';
import { StationError, UsageError } from '../../config/errors';
import { generateHqKeys, writeHqKeys, loadRecordKeys, loadSigningGenerations, loadHqPublicIdentity, RecordOpener, HQ_PUBLIC_FILE, HQ_PRIVATE_FILE, HQ_DUTY_FILES, HQ_KEY_DUTIES, type HqKeyDuty, type EnrollmentRecord, type ParsedEnvelope } from '../wire';
import { LocalValidator, openStoredRecord, personIndexKey } from './validate';
import { SocketValidator, startValidatorService } from './validator-service';
import { COMMAND_NAMES, type CommandName } from '../topics';
import { isValidStationId } from '../topics';
import { startHq } from './ingest';
import type { HqStoreApi } from './store-api';
import { databaseChoice, openHqStore } from './store-open';
import { buildFleet, collectRetained, formatFleet } from './fleet';
import { sendCommand } from './commands';
import { COMMAND_ARGS, checkCommandArgs, parsePolicyArgs } from '../commands';
import type { IClientOptions } from 'mqtt';
import YAML from 'yaml';
import { VERSION } from '../../config/version';
import { DEFAULT_HQ_SETTINGS_PATH, loadHqSettings, redactHqSettings, type FlagOverride, type HqSettings } from './settings';
import { keyId, toPublicKey } from '../wire/signed';
import { registerExport } from './export';
import { registerCampaign } from './campaign-cli';
import { registerDashboard } from './dashboard/cli';

/** Global flags (each one sets a settings key; see ./settings.ts). */
interface Globals {
  config?: string;
  dataDir?: string;
  broker?: string;
  username?: string;
  password?: string;
  passwordFile?: string;
  ca?: string;
  cert?: string;
  key?: string;
  topicPrefix?: string;
  debug?: boolean;
}

function globals(cmd: Command): Globals {
  return cmd.optsWithGlobals() as Globals;
}

/** A number when the text is one (so the schema checks its range), else the text (so the schema names the flag). */
export function numberArg(v: string | undefined): number | string | undefined {
  return v !== undefined && /^\d+(\.\d+)?$/.test(v.trim()) ? Number(v) : v;
}

/** The effective settings: file < environment < the global flags < `extra` (a command's own flags). */
function settingsOf(cmd: Command, extra: FlagOverride[] = []): HqSettings {
  const g = globals(cmd);
  refuseArgvPassword(g);
  return loadHqSettings({ file: g.config, flags: [...globalFlags(g), ...extra] }).settings;
}

/** A password on the command line is visible to every local user in `ps` and stays in shell history. */
function refuseArgvPassword(g: Globals): void {
  if (g.password !== undefined) {
    throw new UsageError('--password is not accepted: a password on the command line is visible to every user in `ps` and stays in shell history',
      'put it in a file readable only by you and pass --password-file FILE (or set HQ_BROKER_PASSWORD_FILE / broker.passwordFile), or set HQ_BROKER_PASSWORD in the environment', 'HQ_PASSWORD_ARGV');
  }
}

/** The broker password: from broker.passwordFile (first line) or HQ_BROKER_PASSWORD; never from argv or the settings file. */
export function brokerPassword(s: HqSettings): string | undefined {
  const file = s.broker.passwordFile;
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new UsageError(`cannot read the broker password file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
        'give the path of a file holding the password on its first line (mode 0600)', 'HQ_PASSWORD_FILE');
    }
    const pw = text.split(/\r?\n/)[0]!;
    if (!pw) throw new UsageError(`the broker password file ${file} is empty`, 'write the password on its first line', 'HQ_PASSWORD_FILE');
    return pw;
  }
  return s.broker.password || undefined;
}

function globalFlags(g: Globals): FlagOverride[] {
  return [
      { key: 'dataDir', value: g.dataDir, flag: '--data-dir' },
      { key: 'broker.url', value: g.broker, flag: '--broker' },
      { key: 'broker.username', value: g.username, flag: '--username' },
      { key: 'broker.passwordFile', value: g.passwordFile, flag: '--password-file' },
      { key: 'broker.caFile', value: g.ca, flag: '--ca' },
      { key: 'broker.certFile', value: g.cert, flag: '--cert' },
      { key: 'broker.keyFile', value: g.key, flag: '--key' },
      { key: 'broker.topicPrefix', value: g.topicPrefix, flag: '--topic-prefix' },
  ];
}

function readTlsFile(key: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    throw new StationError('CONFIG_TLS_FILE', `broker.${key}: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, {
      exitCode: 2,
      hint: `Install the file (readable by the headquarters user), or fix broker.${key} in the settings file / HQ_BROKER_${key.replace(/([A-Z])/g, '_$1').toUpperCase()}.`,
    });
  }
}

function mqttOptions(s: HqSettings): IClientOptions {
  const b = s.broker;
  const o: IClientOptions = { protocolVersion: b.protocolVersion };
  if (b.username !== null) o.username = b.username;
  const pw = brokerPassword(s);
  if (pw !== undefined) o.password = pw;
  if (b.caFile) o.ca = readTlsFile('caFile', b.caFile);
  if (b.certFile) o.cert = readTlsFile('certFile', b.certFile);
  if (b.keyFile) o.key = readTlsFile('keyFile', b.keyFile);
  return o;
}

function keysDir(s: HqSettings): string {
  return join(s.dataDir, 'keys');
}

function dbChoiceOrUsage(s: HqSettings): ReturnType<typeof databaseChoice> {
  try {
    return databaseChoice(s);
  } catch (e) {
    throw new StationError('CONFIG_DATABASE', (e as Error).message, { exitCode: 2, hint: 'fix database.* in the settings file or the HQ_DATABASE_* variables, then run `hq config check`' });
  }
}

/** The store the settings choose (database.url: PostgreSQL; else the SQLite file in dataDir). */
async function openApi(s: HqSettings): Promise<HqStoreApi> {
  let choice;
  try {
    choice = databaseChoice(s, 'enroll-hq-cli');
  } catch (e) {
    throw new StationError('CONFIG_DATABASE', (e as Error).message, { exitCode: 2, hint: 'fix database.* in the settings file or the HQ_DATABASE_* variables, then run `hq config check`' });
  }
  try {
    return await openHqStore(choice);
  } catch (e) {
    throw new StationError('HQ_DATABASE', (e as Error).message, { hint: choice.url ? 'check database.url, that PostgreSQL runs and accepts this user, then try again' : `check ${choice.sqlitePath}` });
  }
}

function print(json: boolean, value: unknown, text: string): void {
  process.stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : `${text}\n`);
}

function act<A extends unknown[]>(fn: (...args: A) => Promise<number | void> | number | void) {
  return async (...args: A): Promise<void> => {
    const cmd = args[args.length - 1] as Command;
    const debug = Boolean((cmd.optsWithGlobals() as Globals).debug);
    try {
      const rc = await fn(...args);
      if (typeof rc === 'number') process.exitCode = rc;
    } catch (e) {
      if (e instanceof StationError) process.stderr.write(`error: ${e.toUserString()}\n`);
      else process.stderr.write(`error: ${(e as Error).message ?? String(e)}\n`);
      if (debug && e instanceof Error && e.stack) process.stderr.write(`${e.stack}\n`);
      process.exitCode = e instanceof StationError ? e.exitCode : 1;
    }
  };
}

function parseJsonArg(k: string, v: string): unknown {
  try {
    return JSON.parse(v) as unknown;
  } catch (e) {
    throw new UsageError(`command argument ${k}: ${v.slice(0, 40)} is not valid JSON (${(e as Error).message})`);
  }
}

/** The closest of `options` to `word`, when it is close enough to be a likely typo. */
export function closestName(word: string, options: readonly string[]): string | undefined {
  const dist = (a: string, b: string): number => {
    const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
    for (let j = 1; j <= b.length; j++) d[0][j] = j;
    for (let i = 1; i <= a.length; i++)
      for (let j = 1; j <= b.length; j++) d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1].toLowerCase() === b[j - 1].toLowerCase() ? 0 : 1));
    return d[a.length][b.length];
  };
  const prefix = options.find((o) => o.toLowerCase().startsWith(word.toLowerCase()) || word.toLowerCase().startsWith(o.toLowerCase()));
  if (prefix && word.length >= 3) return prefix;
  const best = options.map((o) => [o, dist(word, o)] as const).sort((x, y) => x[1] - y[1])[0];
  return best && best[1] <= Math.max(2, Math.floor(word.length / 3)) ? best[0] : undefined;
}

/**
 * What `hq open` prints without --json: who the person is, and for every capture
 * either what was captured or the exception the officer recorded (never a bare null).
 */
export function recordSummary(rec: EnrollmentRecord, header: Pick<ParsedEnvelope, 'sealedAt' | 'suite'>): Record<string, string | string[]> {
  const d = rec.details;
  const extra = d.extra ?? {};
  const ids = [d.documentNumber ? `document ${d.documentNumber}` : '', d.nationalId ? `national id ${d.nationalId}` : ''].filter(Boolean).join(', ');
  return {
    recordId: rec.recordId, stationId: rec.stationId, officerId: rec.officerId, kind: rec.kind,
    person: `${d.surname}, ${d.givenNames} — born ${d.dateOfBirth}, sex ${d.sex}${d.nationality ? `, ${d.nationality}` : ''}${ids ? ` (${ids})` : ''}`,
    startedAt: new Date(rec.startedAt).toISOString(), completedAt: new Date(rec.completedAt).toISOString(),
    sealedAt: new Date(header.sealedAt).toISOString(), suite: header.suite,
    ...(rec.clock ? { trustedTime: rec.clock.source === 'hq'
      ? `completed ${new Date(rec.completedAt + rec.clock.offsetMs).toISOString()} ± ${rec.clock.uncertaintyMs} ms by headquarters' time (booth clock off by ${rec.clock.offsetMs} ms)`
      : 'none: the booth had no signed time from headquarters; the times above are its local clock' } : {}),
    fingerprints: rec.fingerprints.map((f) => (f.status === 'captured' ? `${f.position}:captured(q${f.quality})` : `${f.position}:${f.exception}`)),
    portrait: rec.portrait ? `${rec.portrait.width}x${rec.portrait.height} JPEG, ${rec.portrait.jpeg.length} bytes` : `not taken — exception ${extra.portraitException ?? '(none recorded)'}`,
    chip: rec.chip ? `passive auth ${rec.chip.passiveAuth.verdict}` : extra.chipException ? `not read — exception ${extra.chipException}` : 'not read',
  };
}

/** Parses `key=value` command arguments (numbers stay numbers; `none` stays the word none; {…}/[…] are JSON). */
export function parseKv(list: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const a of list) {
    const i = a.indexOf('=');
    if (i <= 0) throw new UsageError(`command argument "${a}" must look like key=value`);
    const k = a.slice(0, i);
    const v = a.slice(i + 1);
    if (k in out) throw new UsageError(`command argument "${k}" is given twice`);
    out[k] = /^-?\d+(\.\d+)?$/.test(v) ? Number(v) : v === 'true' ? true : v === 'false' ? false : /^[[{]/.test(v) ? parseJsonArg(k, v) : v;
  }
  return out;
}

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('hq')
    .description('Enrollment headquarters: keys, station registry, ingest, fleet view, audits, signed commands')
    .version(VERSION, '-V, --version')
    .option('-c, --config <file>', `settings file (default ${DEFAULT_HQ_SETTINGS_PATH} when it exists, or $HQ_CONFIG)`)
    .option('-d, --data-dir <dir>', 'headquarters data directory: keys/, hq.db (settings: dataDir)')
    .option('-b, --broker <url>', 'MQTT broker URL (settings: broker.url)')
    .option('--username <name>', 'broker username (settings: broker.username)')
    .option('--password-file <file>', 'file whose first line is the broker password (settings: broker.passwordFile; or the password itself in HQ_BROKER_PASSWORD)')
    // refused with an explanation rather than "unknown option": scripts written for the old flag learn what to use
    .addOption(new Option('--password <pw>').hideHelp())
    .option('--ca <file>', 'CA certificate (PEM) of the broker (settings: broker.caFile)')
    .option('--cert <file>', 'client certificate (PEM) (settings: broker.certFile)')
    .option('--key <file>', 'client certificate key (PEM) (settings: broker.keyFile)')
    .option('--topic-prefix <prefix>', 'topic namespace (settings: broker.topicPrefix)')
    .option('--debug', 'show stack traces')
    .configureHelp({ showGlobalOptions: true });

  const config = program.command('config').description('check or show the headquarters settings (file, HQ_* environment, flags)');
  config.command('check')
    .description('validate the settings (exit 0 valid, 2 invalid) without connecting to anything')
    .action(act((_opts: object, cmd: Command) => {
      const g = globals(cmd);
      refuseArgvPassword(g);
      const loaded = loadHqSettings({ file: g.config, flags: globalFlags(g) });
      const s = loaded.settings;
      if (s.broker.passwordFile) brokerPassword(s); // readable and not empty
      const extras = [
        loaded.envOverrides.length ? `overridden by environment: ${loaded.envOverrides.join(', ')}` : '',
        loaded.flagOverrides.length ? `overridden by flags: ${loaded.flagOverrides.join(', ')}` : '',
      ].filter(Boolean);
      process.stdout.write(`${loaded.path ?? 'no settings file (defaults)'}: ok (data ${s.dataDir}, broker ${s.broker.url}${s.broker.certFile ? ', client certificate' : ''})\n${extras.map((x) => `  ${x}\n`).join('')}`);
    }));
  config.command('show')
    .description('print the effective settings (defaults filled in, secrets redacted)')
    .option('--json', 'print JSON instead of YAML')
    .action(act((opts: { json?: boolean }, cmd: Command) => {
      const g = globals(cmd);
      refuseArgvPassword(g);
      const loaded = loadHqSettings({ file: g.config, flags: globalFlags(g) });
      const shown = redactHqSettings(loaded.settings);
      process.stdout.write(opts.json ? `${JSON.stringify(shown, null, 2)}\n` : `# effective headquarters settings from ${loaded.path ?? 'defaults'}\n${YAML.stringify(shown)}`);
    }));

  program.command('init')
    .description('generate headquarters keys (record, receipt, ops — one generation file each) and print the public identity stations are configured with')
    .option('--comment <text>', 'free text stored in the identity')
    .option('--public-out <file>', 'also copy hq-public.json here')
    .option('--rotate [duties]', 'add a key generation (keeps every older one) to these duties: record,receipt,ops (default all); then send it to the stations: hq cmd STATION update-hq-key')
    .option('--json', 'machine-readable output')
    .action(act(async (opts: { comment?: string; publicOut?: string; rotate?: boolean | string; json?: boolean }, cmd: Command) => {
      const g = settingsOf(cmd);
      const duties = parseDuties(opts.rotate);
      const keys = await generateHqKeys(opts.comment);
      let written;
      try {
        written = writeHqKeys(keysDir(g), keys, { rotate: opts.rotate !== undefined && opts.rotate !== false, duties });
      } catch (e) {
        if (e instanceof StationError && e.code === 'HQ_KEY_EXISTS') throw new StationError(e.code, e.message, { hint: 'keeping them; to add a key generation run `hq init --rotate [record,receipt,ops]` (older generations are kept)', cause: e });
        throw e;
      }
      const { publicPath, files, generations } = written;
      if (opts.publicOut) {
        mkdirSync(dirname(resolve(opts.publicOut)), { recursive: true });
        copyFileSync(publicPath, opts.publicOut);
      }
      const rotated = opts.rotate !== undefined && opts.rotate !== false;
      print(!!opts.json, { files, publicPath, generations, public: written.public },
        `headquarters keys ${rotated ? `rotated (${duties.join(', ')})` : 'written'} (mode 0600, keep secret):\n` +
        HQ_KEY_DUTIES.map((d) => `  ${d.padEnd(8)} generation ${generations[d]}  ${files[d]}`).join('\n') +
        `\n  public:  ${publicPath}${opts.publicOut ? `\n  copy:    ${opts.publicOut}` : ''}\n` +
        (rotated
          ? 'send the new identity to every station: hq cmd STATION update-hq-key (records sealed to older generations still open; restart `hq run` to sign receipts with a new receipt generation once stations have it)'
          : `configure every station with the public identity (headquarters.publicKeyFile):\n${JSON.stringify(written.public, null, 2)}`));
    }));

  program.command('register')
    .description('register a station from `station provision --json` output (stationId, unit, publicKey, createdAt)')
    .argument('<provision-output.json>', 'file written by `station provision --json` ("-" for stdin)')
    .option('--quota <n>', 'daily enrollment quota of the station')
    .option('--json', 'machine-readable output')
    .action(act(async (file: string, opts: { quota?: string; json?: boolean }, cmd: Command) => {
      const g = settingsOf(cmd);
      let raw: string;
      try {
        raw = file === '-' ? readFileSync(0, 'utf8') : readFileSync(file, 'utf8');
      } catch (e) {
        throw new UsageError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, 'pass the JSON file written by `station provision --json`');
      }
      let p: Record<string, unknown>;
      try { p = JSON.parse(raw) as Record<string, unknown>; } catch { throw new UsageError(`${file} is not JSON`, 'pass the output of `station provision --json`'); }
      const stationId = p.stationId;
      const publicKey = p.publicKey ?? p.publicKeyPem;
      if (typeof stationId !== 'string' || !isValidStationId(stationId)) throw new UsageError(`${file}: "stationId" is missing or not a valid station id`);
      if (typeof publicKey !== 'string') throw new UsageError(`${file}: "publicKey" is missing (SPKI PEM or base64)`);
      const unitRaw = p.unit;
      const unit = typeof unitRaw === 'string' ? unitRaw : unitRaw && typeof unitRaw === 'object' && typeof (unitRaw as { code?: unknown }).code === 'string' ? (unitRaw as { code: string }).code : null;
      const quotaFromFile = unitRaw && typeof unitRaw === 'object' && typeof (unitRaw as { dailyQuota?: unknown }).dailyQuota === 'number' ? (unitRaw as { dailyQuota: number }).dailyQuota : null;
      const created = p.createdAt ?? p.provisionedAt;
      const createdAt = typeof created === 'string' ? Date.parse(created) : typeof created === 'number' ? created : null;
      const quota = opts.quota !== undefined ? Number(opts.quota) : quotaFromFile;
      if (quota !== null && (!Number.isInteger(quota) || quota < 0)) throw new UsageError('--quota must be a whole number');
      let fp: string;
      try {
        fp = keyId(toPublicKey(publicKey.includes('-----BEGIN') ? publicKey : Buffer.from(publicKey, 'base64')));
      } catch (e) {
        throw new UsageError(`${file}: the public key is not a usable Ed25519 key (${(e as Error).message})`);
      }
      if (typeof p.fingerprint === 'string' && p.fingerprint !== fp) {
        throw new UsageError(`${file}: "fingerprint" ${p.fingerprint} does not match its public key (${fp})`, 'the file was altered or mixes two stations; take a fresh `station provision --json`');
      }
      const store = await openApi(g);
      try {
        let r;
        try {
          r = await store.registerStation({ stationId, unit, publicKey, createdAt: Number.isFinite(createdAt) ? createdAt : null, dailyQuota: quota });
        } catch (e) {
          throw new UsageError(`${file}: the public key is not a usable Ed25519 key (${(e as Error).message})`);
        }
        print(!!opts.json, { stationId, unit, fingerprint: r.fingerprint, rotated: r.rotated },
          `registered ${stationId}${unit ? ` (unit ${unit})` : ''}, key ${r.fingerprint}${r.rotated ? ' — replaces the previous key (kept to verify older records)' : ''}`);
      } finally {
        await store.close();
      }
    }));

  program.command('run')
    .description('run an ingest worker (several may share one database and split the load)')
    .option('--worker <id>', 'worker id (settings: ingest.workerId; default host-pid)')
    .option('--group <name>', 'shared subscription group (settings: ingest.group)')
    .option('--no-share', 'subscribe without $share (brokers without MQTT 5 shared subscriptions; settings: ingest.share)')
    .option('--mqtt-v4', 'use MQTT 3.1.1 (implies --no-share; settings: broker.protocolVersion)')
    .option('--log-level <level>', 'log level (settings: log.level)')
    .action(act(async (opts: { worker?: string; group?: string; share: boolean; mqttV4?: boolean; logLevel?: string }, cmd: Command) => {
      const g = settingsOf(cmd, [
        { key: 'ingest.workerId', value: opts.worker, flag: '--worker' },
        { key: 'ingest.group', value: opts.group, flag: '--group' },
        { key: 'ingest.share', value: opts.share === false || opts.mqttV4 ? false : undefined, flag: opts.mqttV4 ? '--mqtt-v4' : '--no-share' },
        { key: 'broker.protocolVersion', value: opts.mqttV4 ? 4 : undefined, flag: '--mqtt-v4' },
        { key: 'log.level', value: opts.logLevel, flag: '--log-level' },
      ]);
      const logger = createHqLogger(g.log.level);
      const m = mqttOptions(g);
      if (!existsSync(join(keysDir(g), HQ_DUTY_FILES.receipt)) && !existsSync(join(keysDir(g), HQ_PRIVATE_FILE))) throw new UsageError(`no headquarters receipt keys in ${keysDir(g)}`, 'run `hq init` first');
      // Keys by duty (#13 item 2): with validator.socket set, this process (which parses every
      // frame the fleet sends) holds only the receipt key; the record keys stay with `hq validator`.
      // The ops key is never read here: only `hq cmd` signs commands.
      const validator = g.validator.socket ? new SocketValidator({ socketPath: g.validator.socket, timeoutMs: g.validator.timeoutSeconds * 1000 }) : undefined;
      if (!validator) logger.warn({ keysDir: keysDir(g) }, 'record keys are loaded in the ingest process (validator.socket is not set): the one-machine layout; in production run `hq validator` and set validator.socket (docs/mqtt-api.md, "Keys by duty")');
      else logger.info({ socket: g.validator.socket }, 'records are opened by the record validator; this process holds no record key');
      const hq = await startHq({
        validator,
        brokerUrl: g.broker.url, dataDir: g.dataDir, workerId: g.ingest.workerId ?? undefined, shareGroup: g.ingest.share ? g.ingest.group : false,
        protocolVersion: g.broker.protocolVersion, topicPrefix: g.broker.topicPrefix, logger,
        database: dbChoiceOrUsage(g),
        username: m.username, password: m.password as string | undefined,
        tls: m.ca || m.cert ? { ca: m.ca as Buffer | undefined, cert: m.cert as Buffer | undefined, key: m.key as Buffer | undefined } : undefined,
      });
      hq.events.on('record', (e: { stationId: string; recordId: string; status: string }) => logger.info({ stationId: e.stationId, recordId: e.recordId, status: e.status }, 'record'));
      await new Promise<void>((res) => {
        const stop = (): void => { void hq.stop().then(() => validator?.close()).then(res); };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
    }));

  program.command('validator')
    .description('run the record validator: the only process that holds the record keys; answers `hq run` on validator.socket, never talks to the broker')
    .option('--socket <path>', 'Unix socket to listen on (settings: validator.socket)')
    .option('--log-level <level>', 'log level (settings: log.level)')
    .action(act(async (opts: { socket?: string; logLevel?: string }, cmd: Command) => {
      const g = settingsOf(cmd, [
        { key: 'validator.socket', value: opts.socket, flag: '--socket' },
        { key: 'log.level', value: opts.logLevel, flag: '--log-level' },
      ]);
      if (!g.validator.socket) throw new UsageError('no socket to listen on', 'set validator.socket in the settings (or HQ_VALIDATOR_SOCKET, or --socket PATH)');
      const dir = keysDir(g);
      if (!existsSync(join(dir, HQ_DUTY_FILES.record)) && !existsSync(join(dir, HQ_PRIVATE_FILE))) throw new UsageError(`no record keys in ${dir}`, `copy ${HQ_DUTY_FILES.record} from where \`hq init\` ran into ${dir} (mode 0600, owned by the validator's user)`);
      const logger = createHqLogger(g.log.level);
      const keyFileVersion = (): string => {
        try { const st = statSync(join(dir, HQ_DUTY_FILES.record)); return `${st.mtimeMs}:${st.size}:${st.ino}`; } catch { return 'none'; }
      };
      const local = new LocalValidator({
        loadKeys: () => loadRecordKeys(dir), personKey: personIndexKey(dir), version: keyFileVersion,
        onReloadError: (e) => logger.error({ err: e.message }, 'record key file could not be reloaded; the loaded generations stay in use'),
      });
      const svc = await startValidatorService({ socketPath: g.validator.socket, validator: local, logger });
      process.stdout.write(`record validator listening on ${svc.socketPath}\n`);
      await new Promise<void>((res) => {
        const stop = (): void => { void svc.close().then(res); };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
    }));

  program.command('open')
    .description('open a stored record with the headquarters private key (authorized audits; every opening is logged)')
    .argument('<record-id>', 'record id (UUIDv7)')
    .requiredOption('--reason <text>', 'why the record is opened (logged)')
    .option('--operator <name>', 'who opens it (logged)', userInfo().username)
    .option('--out <file>', 'write the full record (with images, base64) to this file (mode 0600)')
    .option('--json', 'print the full record as JSON on stdout')
    .action(act(async (recordId: string, opts: { reason: string; operator: string; out?: string; json?: boolean }, cmd: Command) => {
      const g = settingsOf(cmd);
      const store = await openApi(g);
      try {
        const row = await store.findRecord(recordId);
        if (!row) throw new StationError('HQ_RECORD_NOT_FOUND', `record ${recordId} is not stored at headquarters (${store.where})`, { hint: 'check the id; `hq stations` shows which stations have unacknowledged backlog' });
        const opened = await openStoredRecord(row.envelope, await store.stationKeys(row.station_id), new RecordOpener(loadRecordKeys(keysDir(g))));
        await store.logOpening(row.station_id, recordId, opts.operator, opts.reason);
        const rec = opened.record;
        const full = JSON.parse(JSON.stringify(rec, (_k, v: unknown) => (v && typeof v === 'object' && (v as { type?: string }).type === 'Buffer' ? Buffer.from((v as { data: number[] }).data).toString('base64') : v))) as Record<string, unknown>;
        if (opts.out) writeFileSync(opts.out, JSON.stringify(full, null, 2), { mode: 0o600 });
        const summary = recordSummary(rec, opened.header);
        if (opts.json) process.stdout.write(`${JSON.stringify(full, null, 2)}\n`);
        else process.stdout.write(`${Object.entries(summary).map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(' ') : String(v)}`).join('\n')}\n${opts.out ? `full record written to ${opts.out}\n` : ''}(opening logged: operator ${opts.operator}, reason "${opts.reason}")\n`);
      } finally {
        await store.close();
      }
    }));

  registerExport(program, { settingsOf: (cmd) => settingsOf(cmd), act, openStore: (s) => openApi(s as HqSettings) });
  registerCampaign(program, { settingsOf: (cmd) => settingsOf(cmd), act, openStore: (s) => openApi(s as HqSettings), closestName });

  program.command('stations')
    .description('the fleet from retained status and health: online/lost, backlog, devices, last receipt, quota progress per unit')
    .option('--json', 'machine-readable output')
    .option('--wait <seconds>', 'longest time to collect retained messages (settings: fleet.waitSeconds)')
    .action(act(async (opts: { json?: boolean; wait?: string }, cmd: Command) => {
      const g = settingsOf(cmd, [{ key: 'fleet.waitSeconds', value: numberArg(opts.wait), flag: '--wait' }]);
      const store = g.database.url !== null || existsSync(join(g.dataDir, 'hq.db')) ? await openApi(g) : null;
      try {
        const { status, health } = await collectRetained({ brokerUrl: g.broker.url, mqtt: mqttOptions(g), topicPrefix: g.broker.topicPrefix, maxWaitMs: g.fleet.waitSeconds * 1000 });
        const receipts = store ? await store.lastReceipts() : null;
        const registry = store ? await store.stations() : [];
        const view = buildFleet(receipts ? { lastReceiptAt: (id) => receipts.get(id) ?? null, stations: () => registry } : null, status, health);
        print(!!opts.json, view, view.stations.length ? formatFleet(view) : 'no stations registered or seen');
      } finally {
        await store?.close();
      }
    }));

  program.command('cmd')
    .description(`send a signed command to a station: ${COMMAND_NAMES.join(', ')}`)
    .argument('<station>', 'station id')
    .argument('<name>', 'command name')
    .argument('[args...]', `key=value arguments: ${Object.entries(COMMAND_ARGS).filter(([, a]) => a.length).map(([n, a]) => `${n} ${a.map((k) => `${k}=…`).join(' ')}`).join('; ')} (set-policy: a number, or none to remove a limit)`)
    .option('--ttl <seconds>', 'command lifetime: refused after it (settings: commands.ttlSeconds)')
    .option('--wait <seconds>', 'longest wait for the answer; returns as soon as it arrives (settings: commands.waitSeconds)')
    .option('--json', 'machine-readable output')
    .action(act(async (station: string, name: string, args: string[], opts: { ttl?: string; wait?: string; json?: boolean }, cmd: Command) => {
      const g = settingsOf(cmd, [
        { key: 'commands.ttlSeconds', value: numberArg(opts.ttl), flag: '--ttl' },
        { key: 'commands.waitSeconds', value: numberArg(opts.wait), flag: '--wait' },
      ]);
      if (!(COMMAND_NAMES as readonly string[]).includes(name)) {
        const guess = closestName(name, COMMAND_NAMES);
        throw new UsageError(`unknown command "${name}"${guess ? ` — did you mean "${guess}"?` : ''}`, `one of: ${COMMAND_NAMES.join(', ')}`);
      }
      const kv = parseKv(args);
      try {
        if (name === 'set-policy') parsePolicyArgs(kv);
        else checkCommandArgs(name as CommandName, kv);
      } catch (e) {
        const guess = Object.keys(kv).map((k) => closestName(k, COMMAND_ARGS[name as CommandName])).find((x) => x && !(x in kv));
        throw new UsageError(`${(e as Error).message}${guess ? ` (did you mean "${guess}"?)` : ''}`, name === 'set-policy' ? 'e.g. hq cmd ST-1 set-policy maxUnacknowledged=5000 maxDaysSinceReceipt=14 (none removes a limit)' : undefined);
      }
      if (g.database.url === null && !existsSync(join(g.dataDir, 'hq.db'))) throw new UsageError(`no stations are registered in ${g.dataDir}`, 'register the station first: hq register FILE (the output of `station provision --json`), or check --data-dir / dataDir');
      const store = await openApi(g);
      try {
        const registered = (await store.stations()).map((x) => x.station_id);
        if (!registered.includes(station)) {
          const guess = closestName(station, registered);
          const shown = registered.length > 20 ? `${registered.slice(0, 20).join(', ')} … (${registered.length} in all; see hq stations)` : registered.join(', ');
          throw new UsageError(`station "${station}" is not registered at headquarters${guess ? ` — did you mean "${guess}"?` : ''}`, registered.length ? `registered stations: ${shown}` : 'no station is registered yet: hq register FILE');
        }
        const ttl = g.commands.ttlSeconds;
        const wait = g.commands.waitSeconds;
        // Ordinary commands are signed by the current ops generation. update-hq-key is signed by the
        // oldest one: a station that has not learned any rotation yet trusts only that one, and the
        // identity it carries lists every generation.
        const ops = loadSigningGenerations(keysDir(g), 'ops');
        if (name === 'update-hq-key' && kv.identity === undefined) kv.identity = loadHqPublicIdentity(join(keysDir(g), HQ_PUBLIC_FILE)).json;
        const opsKey = (name === 'update-hq-key' ? ops[0]! : ops[ops.length - 1]!).privateKey;
        const r = await sendCommand({ brokerUrl: g.broker.url, mqtt: mqttOptions(g), topicPrefix: g.broker.topicPrefix, opsKey, target: station, name: name as CommandName, args: kv, ttlMs: ttl * 1000, waitMs: wait * 1000, store });
        if (!r.result) {
          print(!!opts.json, { command: r.command, result: null }, `command ${r.command.id} (${name}) sent to ${station}; no answer within ${wait} s — the broker keeps it for the station until ${new Date(r.command.expiresAt).toISOString()}`);
          return 0;
        }
        const res = r.result;
        print(!!opts.json, { command: r.command, result: res, verified: r.resultVerified },
          `${station} answered ${res.status}${res.code ? ` (${res.code})` : ''}${res.message ? `: ${res.message}` : ''}${res.data ? `\n${JSON.stringify(res.data, null, 2)}` : ''}${r.resultVerified ? '' : '\n(warning: answer signature not verified — station not registered here)'}`);
        return res.status === 'ok' ? 0 : 1;
      } finally {
        await store.close();
      }
    }));

  program.command('revoke')
    .description("cut off a station's keys (a stolen booth): records sealed after the cutoff are refused and raise an alarm, records before it are still accepted")
    .argument('<station>', 'station id')
    .option('--after <time>', "cutoff (ISO 8601 time or ms since 1970): trust the station's records sealed up to it; default: only what headquarters' copy of its audit chain already holds")
    .option('--json', 'machine-readable output')
    .action(act(async (station: string, opts: { after?: string; json?: boolean }, cmd: Command) => {
      const g = settingsOf(cmd);
      let after: number | undefined;
      if (opts.after !== undefined) {
        after = /^\d+$/.test(opts.after) ? Number(opts.after) : Date.parse(opts.after);
        if (!Number.isFinite(after)) throw new UsageError(`--after ${opts.after}: not a time`, 'give an ISO 8601 time such as 2026-12-01T08:00:00Z, or milliseconds since 1970');
      }
      const store = await openApi(g);
      try {
        const registered = (await store.stations()).map((x) => x.station_id);
        if (!registered.includes(station)) {
          const guess = closestName(station, registered);
          throw new UsageError(`station "${station}" is not registered at headquarters${guess ? ` — did you mean "${guess}"?` : ''}`);
        }
        const now = Date.now();
        const until = after ?? now;
        const tip = await store.auditTip(station);
        // By chain order where headquarters' chain decides it: without --after, the chain as held now;
        // with --after a time the chain has already passed, its last entry up to that time. Otherwise
        // (the chain has not reached the time yet) entries still to come count up to it by their time.
        const throughSeq = after === undefined ? tip.seq : tip.ts > until ? await store.auditSeqAt(station, until) : null;
        const n = await store.revokeStation(station, { until, throughSeq }, now);
        await store.alarm('station-revoked', `${station} revoked by ${userInfo().username}: ${n} key(s) trusted only for records sealed through audit entry ${throughSeq ?? '(by time)'} and up to ${new Date(until).toISOString()}`, station, null, now);
        print(!!opts.json, { stationId: station, keys: n, until, throughSeq },
          `${station}: ${n} key(s) revoked; records sealed after ${new Date(until).toISOString()}${throughSeq !== null ? ` or after audit entry ${throughSeq}` : ''} are refused (revoked-key) and raise an alarm\n` +
          (throughSeq === null ? `note: headquarters' copy of the audit chain ends at ${tip.ts ? new Date(tip.ts).toISOString() : 'nothing yet'}; entries still to come are trusted up to the cutoff by the time the station signed in them\n` : '') +
          'a new key for this booth needs `hq register` with a fresh `station provision --json`');
      } finally {
        await store.close();
      }
    }));

  program.command('alarms')
    .description('open alarms (record id conflicts, bad signatures, unknown stations, audit chain breaks)')
    .option('--json', 'machine-readable output')
    .action(act(async (opts: { json?: boolean }, cmd: Command) => {
      const store = await openApi(settingsOf(cmd));
      try {
        const a = await store.openAlarms();
        print(!!opts.json, a, a.length ? a.map((x) => `${new Date(x.at).toISOString()}  ${x.kind}  ${x.station_id ?? '-'}  ×${x.count}${x.count > 1 ? ` since ${new Date(x.first_at).toISOString()}` : ''}  ${x.detail}`).join('\n') : 'no open alarms');
      } finally {
        await store.close();
      }
    }));

  registerDashboard(program, { settingsOf, act, openStore: openApi, mqttOptions });

  void HQ_PUBLIC_FILE;
  return program;
}

/** `--rotate` alone: every duty; `--rotate record,ops`: those. */
export function parseDuties(v: boolean | string | undefined): HqKeyDuty[] {
  if (v === undefined || v === false || v === true) return [...HQ_KEY_DUTIES];
  const list = v.split(',').map((x) => x.trim()).filter(Boolean);
  for (const d of list) {
    if (!(HQ_KEY_DUTIES as readonly string[]).includes(d)) throw new UsageError(`--rotate: "${d}" is not a key duty`, `one or more of ${HQ_KEY_DUTIES.join(', ')}, comma-separated`);
  }
  return list.length ? (list as HqKeyDuty[]) : [...HQ_KEY_DUTIES];
}

/** Runs `hq` with these arguments: exit 0 success, 1 failure, 2 usage or settings error. */
export async function main(argv = process.argv): Promise<void> {
  const program = buildProgram()
    .showHelpAfterError('(add --help for usage)')
    .exitOverride()
    .configureOutput({ outputError: (str, write) => write(str.startsWith('error:') ? str : `error: ${str}`) });
  try {
    await program.parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      const ok = e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help' || e.exitCode === 0;
      process.exitCode = ok ? 0 : 2;
      return;
    }
    throw e;
  }
}

if (require.main === module) {
  main().catch((e: unknown) => {
    process.stderr.write(`error: ${(e as Error).message}\n`);
    process.exitCode = 1;
  });
}
