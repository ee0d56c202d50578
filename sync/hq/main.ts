#!/usr/bin/env node
/**
 * `hq` — the headquarters tool: keys, station registry, ingest worker, fleet
 * view, record opening for audits, and signed commands.
 */
import { Command, Option } from 'commander';
import { existsSync, readFileSync, writeFileSync, copyFileSync, mkdirSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { userInfo } from 'node:os';
import pino from 'pino';
import { StationError, UsageError } from '../../config/errors';
import { generateHqKeys, writeHqKeys, loadHqPrivateKeys, openEnvelope, HQ_PUBLIC_FILE } from '../wire';
import { COMMAND_NAMES, type CommandName } from '../topics';
import { isValidStationId } from '../topics';
import { HqStore, openHqDb } from './store';
import { startHq } from './ingest';
import { buildFleet, collectRetained, formatFleet } from './fleet';
import { sendCommand } from './commands';
import { parsePolicyArgs } from '../commands';
import type { IClientOptions } from 'mqtt';
import { keyId, toPublicKey } from '../wire/signed';

interface Globals {
  dataDir: string;
  broker: string;
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

/**
 * The broker password, from a file (--password-file or HQ_BROKER_PASSWORD_FILE) or from
 * HQ_BROKER_PASSWORD — never from the command line, where `ps` and shell history show it.
 */
export function brokerPassword(g: Pick<Globals, 'password' | 'passwordFile'>, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (g.password !== undefined) {
    throw new UsageError('--password is not accepted: a password on the command line is visible to every user in `ps` and stays in shell history',
      'put it in a file readable only by you and pass --password-file FILE (or set HQ_BROKER_PASSWORD_FILE), or set HQ_BROKER_PASSWORD in the environment', 'HQ_PASSWORD_ARGV');
  }
  const file = g.passwordFile ?? env.HQ_BROKER_PASSWORD_FILE;
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
  return env.HQ_BROKER_PASSWORD || undefined;
}

function mqttOptions(g: Globals): IClientOptions {
  const o: IClientOptions = {};
  if (g.username) o.username = g.username;
  const pw = brokerPassword(g);
  if (pw) o.password = pw;
  if (g.ca) o.ca = readFileSync(g.ca);
  if (g.cert) o.cert = readFileSync(g.cert);
  if (g.key) o.key = readFileSync(g.key);
  return o;
}

function keysDir(g: Globals): string {
  return join(g.dataDir, 'keys');
}

function openStore(g: Globals): HqStore {
  return new HqStore(openHqDb(join(g.dataDir, 'hq.db')));
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

/** Parses `key=value` command arguments (numbers stay numbers; "none"/"null" → null). */
export function parseKv(list: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const a of list) {
    const i = a.indexOf('=');
    if (i <= 0) throw new UsageError(`command argument "${a}" must look like key=value`);
    const k = a.slice(0, i);
    const v = a.slice(i + 1);
    out[k] = /^-?\d+(\.\d+)?$/.test(v) ? Number(v) : v === 'null' || v === 'none' ? null : v === 'true' ? true : v === 'false' ? false : v;
  }
  return out;
}

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('hq')
    .description('Enrollment headquarters: keys, station registry, ingest, fleet view, audits, signed commands')
    .option('-d, --data-dir <dir>', 'headquarters data directory (keys/, hq.db)', process.env.HQ_DATA_DIR ?? './hq-data')
    .option('-b, --broker <url>', 'MQTT broker URL', process.env.HQ_BROKER_URL ?? 'mqtt://127.0.0.1:1883')
    .option('--username <name>', 'broker username')
    .option('--password-file <file>', 'file whose first line is the broker password (or HQ_BROKER_PASSWORD_FILE, or the password itself in HQ_BROKER_PASSWORD)')
    // refused with an explanation rather than "unknown option": scripts written for the old flag learn what to use
    .addOption(new Option('--password <pw>').hideHelp())
    .option('--ca <file>', 'CA certificate (PEM) of the broker')
    .option('--cert <file>', 'client certificate (PEM)')
    .option('--key <file>', 'client certificate key (PEM)')
    .option('--topic-prefix <prefix>', 'topic namespace', 'enroll/v1')
    .option('--debug', 'show stack traces');

  program.command('init')
    .description('generate headquarters keys (sealing, receipt, ops) and print the public identity stations are configured with')
    .option('--comment <text>', 'free text stored in the identity')
    .option('--public-out <file>', 'also copy hq-public.json here')
    .option('--rotate', 'replace existing keys (stations must get the new hq-public.json)')
    .option('--json', 'machine-readable output')
    .action(act(async (opts: { comment?: string; publicOut?: string; rotate?: boolean; json?: boolean }, cmd: Command) => {
      const g = globals(cmd);
      const keys = await generateHqKeys(opts.comment);
      const { privatePath, publicPath } = writeHqKeys(keysDir(g), keys, { rotate: opts.rotate });
      if (opts.publicOut) {
        mkdirSync(dirname(resolve(opts.publicOut)), { recursive: true });
        copyFileSync(publicPath, opts.publicOut);
      }
      print(!!opts.json, { privatePath, publicPath, public: keys.publicJson },
        `headquarters keys written:\n  private: ${privatePath} (keep secret, mode 0600)\n  public:  ${publicPath}${opts.publicOut ? `\n  copy:    ${opts.publicOut}` : ''}\n` +
        `configure every station with the public identity (headquarters.publicKeyFile):\n${JSON.stringify(keys.publicJson, null, 2)}`);
    }));

  program.command('register')
    .description('register a station from `station provision --json` output (stationId, unit, publicKey, createdAt)')
    .argument('<provision-output.json>', 'file written by `station provision --json` ("-" for stdin)')
    .option('--quota <n>', 'daily enrollment quota of the station')
    .option('--json', 'machine-readable output')
    .action(act((file: string, opts: { quota?: string; json?: boolean }, cmd: Command) => {
      const g = globals(cmd);
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
      const store = openStore(g);
      try {
        let r;
        try {
          r = store.registerStation({ stationId, unit, publicKey, createdAt: Number.isFinite(createdAt) ? createdAt : null, dailyQuota: quota });
        } catch (e) {
          throw new UsageError(`${file}: the public key is not a usable Ed25519 key (${(e as Error).message})`);
        }
        print(!!opts.json, { stationId, unit, fingerprint: r.fingerprint, rotated: r.rotated },
          `registered ${stationId}${unit ? ` (unit ${unit})` : ''}, key ${r.fingerprint}${r.rotated ? ' — replaces the previous key (kept to verify older records)' : ''}`);
      } finally {
        store.db.close();
      }
    }));

  program.command('run')
    .description('run an ingest worker (several may share one database and split the load)')
    .option('--worker <id>', 'worker id (default host-pid)')
    .option('--group <name>', 'shared subscription group', 'ingest')
    .option('--no-share', 'subscribe without $share (brokers without MQTT 5 shared subscriptions)')
    .option('--mqtt-v4', 'use MQTT 3.1.1 (implies --no-share)')
    .option('--log-level <level>', 'log level', 'info')
    .action(act(async (opts: { worker?: string; group: string; share: boolean; mqttV4?: boolean; logLevel: string }, cmd: Command) => {
      const g = globals(cmd);
      const logger = pino({ level: opts.logLevel, name: 'hq' });
      const m = mqttOptions(g);
      if (!existsSync(join(keysDir(g), 'hq-private.json'))) throw new UsageError(`no headquarters keys in ${keysDir(g)}`, 'run `hq init` first');
      const hq = await startHq({
        brokerUrl: g.broker, dataDir: g.dataDir, workerId: opts.worker, shareGroup: opts.share && !opts.mqttV4 ? opts.group : false,
        protocolVersion: opts.mqttV4 ? 4 : 5, topicPrefix: g.topicPrefix, logger,
        username: m.username, password: m.password as string | undefined,
        tls: m.ca || m.cert ? { ca: m.ca as Buffer | undefined, cert: m.cert as Buffer | undefined, key: m.key as Buffer | undefined } : undefined,
      });
      hq.events.on('record', (e: { stationId: string; recordId: string; status: string }) => logger.info({ stationId: e.stationId, recordId: e.recordId, status: e.status }, 'record'));
      await new Promise<void>((res) => {
        const stop = (): void => { void hq.stop().then(res); };
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
      const g = globals(cmd);
      const store = openStore(g);
      try {
        const row = store.findRecord(recordId);
        if (!row) throw new StationError('HQ_RECORD_NOT_FOUND', `record ${recordId} is not stored at headquarters (${join(g.dataDir, 'hq.db')})`, { hint: 'check the id; `hq stations` shows which stations have unacknowledged backlog' });
        const keys = loadHqPrivateKeys(keysDir(g));
        const stationKeys = store.stationKeys(row.station_id);
        let opened: Awaited<ReturnType<typeof openEnvelope>> | null = null;
        let lastErr: unknown = null;
        for (const k of stationKeys) {
          try { opened = await openEnvelope(row.envelope, { stationPublicKey: k, hq: keys }); break; } catch (e) { lastErr = e; }
        }
        if (!opened) throw lastErr instanceof Error ? lastErr : new StationError('HQ_OPEN_FAILED', `record ${recordId} could not be opened`);
        store.logOpening(row.station_id, recordId, opts.operator, opts.reason);
        const rec = opened.record;
        const full = JSON.parse(JSON.stringify(rec, (_k, v: unknown) => (v && typeof v === 'object' && (v as { type?: string }).type === 'Buffer' ? Buffer.from((v as { data: number[] }).data).toString('base64') : v))) as Record<string, unknown>;
        if (opts.out) writeFileSync(opts.out, JSON.stringify(full, null, 2), { mode: 0o600 });
        const summary = {
          recordId: rec.recordId, stationId: rec.stationId, officerId: rec.officerId, kind: rec.kind,
          startedAt: new Date(rec.startedAt).toISOString(), completedAt: new Date(rec.completedAt).toISOString(),
          sealedAt: new Date(opened.header.sealedAt).toISOString(), suite: opened.header.suite,
          fingerprints: rec.fingerprints.map((f) => (f.status === 'captured' ? `${f.position}:captured(q${f.quality})` : `${f.position}:${f.exception}`)),
          portrait: rec.portrait ? `${rec.portrait.width}x${rec.portrait.height} JPEG, ${rec.portrait.jpeg.length} bytes` : null,
          chip: rec.chip ? `passive auth ${rec.chip.passiveAuth.verdict}` : null,
        };
        if (opts.json) process.stdout.write(`${JSON.stringify(full, null, 2)}\n`);
        else process.stdout.write(`${Object.entries(summary).map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(' ') : String(v)}`).join('\n')}\n${opts.out ? `full record written to ${opts.out}\n` : ''}(opening logged: operator ${opts.operator}, reason "${opts.reason}")\n`);
      } finally {
        store.db.close();
      }
    }));

  program.command('stations')
    .description('the fleet from retained status and health: online/lost, backlog, devices, last receipt, quota progress per unit')
    .option('--json', 'machine-readable output')
    .option('--wait <ms>', 'longest time to collect retained messages', '3000')
    .action(act(async (opts: { json?: boolean; wait: string }, cmd: Command) => {
      const g = globals(cmd);
      const store = existsSync(join(g.dataDir, 'hq.db')) ? openStore(g) : null;
      try {
        const { status, health } = await collectRetained({ brokerUrl: g.broker, mqtt: mqttOptions(g), topicPrefix: g.topicPrefix, maxWaitMs: Number(opts.wait) || 3000 });
        const view = buildFleet(store, status, health);
        print(!!opts.json, view, view.stations.length ? formatFleet(view) : 'no stations registered or seen');
      } finally {
        store?.db.close();
      }
    }));

  program.command('cmd')
    .description(`send a signed command to a station: ${COMMAND_NAMES.join(', ')}`)
    .argument('<station>', 'station id')
    .argument('<name>', 'command name')
    .argument('[args...]', 'key=value arguments, e.g. set-policy maxUnacked=5000 maxDaysSinceReceipt=14; lock reason="audit"')
    .option('--ttl <seconds>', 'command lifetime (refused after it)', '86400')
    .option('--wait <seconds>', 'how long to wait for the answer', '15')
    .option('--json', 'machine-readable output')
    .action(act(async (station: string, name: string, args: string[], opts: { ttl: string; wait: string; json?: boolean }, cmd: Command) => {
      const g = globals(cmd);
      if (!isValidStationId(station)) throw new UsageError(`"${station}" is not a valid station id`);
      if (!(COMMAND_NAMES as readonly string[]).includes(name)) throw new UsageError(`unknown command "${name}"`, `one of: ${COMMAND_NAMES.join(', ')}`);
      const kv = parseKv(args);
      if (name === 'set-policy') {
        try { parsePolicyArgs(kv); } catch (e) { throw new UsageError((e as Error).message, 'e.g. hq cmd ST-1 set-policy maxUnacked=5000 maxDaysSinceReceipt=14'); }
      }
      const ttl = Number(opts.ttl);
      const wait = Number(opts.wait);
      if (!Number.isFinite(ttl) || ttl <= 0 || ttl > 7 * 86400) throw new UsageError('--ttl must be between 1 and 604800 seconds');
      if (!Number.isFinite(wait) || wait < 0) throw new UsageError('--wait must be a number of seconds');
      const keys = loadHqPrivateKeys(keysDir(g));
      const store = existsSync(join(g.dataDir, 'hq.db')) ? openStore(g) : null;
      try {
        const r = await sendCommand({ brokerUrl: g.broker, mqtt: mqttOptions(g), topicPrefix: g.topicPrefix, opsKey: keys.opsKey, target: station, name: name as CommandName, args: kv, ttlMs: ttl * 1000, waitMs: wait * 1000, store });
        if (!r.result) {
          print(!!opts.json, { command: r.command, result: null }, `command ${r.command.id} (${name}) sent to ${station}; no answer within ${wait} s — the broker keeps it for the station until ${new Date(r.command.expiresAt).toISOString()}`);
          return 0;
        }
        const res = r.result;
        print(!!opts.json, { command: r.command, result: res, verified: r.resultVerified },
          `${station} answered ${res.status}${res.code ? ` (${res.code})` : ''}${res.message ? `: ${res.message}` : ''}${res.data ? `\n${JSON.stringify(res.data, null, 2)}` : ''}${r.resultVerified ? '' : '\n(warning: answer signature not verified — station not registered here)'}`);
        return res.status === 'ok' ? 0 : 1;
      } finally {
        store?.db.close();
      }
    }));

  program.command('alarms')
    .description('open alarms (record id conflicts, bad signatures, unknown stations, audit chain breaks)')
    .option('--json', 'machine-readable output')
    .action(act((opts: { json?: boolean }, cmd: Command) => {
      const store = openStore(globals(cmd));
      try {
        const a = store.openAlarms();
        print(!!opts.json, a, a.length ? a.map((x) => `${new Date(x.at).toISOString()}  ${x.kind}  ${x.station_id ?? '-'}  ${x.detail}`).join('\n') : 'no open alarms');
      } finally {
        store.db.close();
      }
    }));

  void HQ_PUBLIC_FILE;
  return program;
}

if (require.main === module) {
  buildProgram().parseAsync(process.argv).catch((e: unknown) => {
    process.stderr.write(`error: ${(e as Error).message}\n`);
    process.exitCode = 1;
  });
}
