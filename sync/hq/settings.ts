/**
 * Headquarters settings, like the station's configuration: one YAML/JSON file
 * (`/etc/enroll-hq/hq.yaml`, or `--config FILE` / `HQ_CONFIG`), validated against
 * the schema below (ajv, defaults filled in), every leaf overridable by an
 * environment variable (`HQ_` + path in SNAKE_CASE joined by `_`, e.g.
 * `HQ_BROKER_CA_FILE`; the names `hq` always had: HQ_DATA_DIR, HQ_BROKER_URL,
 * HQ_BROKER_PASSWORD…), and command-line flags over both.
 * The broker password is the one setting a file may not carry: it comes from
 * `broker.passwordFile` or HQ_BROKER_PASSWORD, never from argv (`ps` shows it).
 * Precedence: defaults < file < environment < flags.
 * `hq config check` validates without connecting to anything; `hq config show`
 * prints the effective settings with secrets redacted.
 *
 * Adding a setting: add it to `hqSettingsSchema` (with a description and a default),
 * to `HqSettings`, and read it from the loaded settings; the README table, env
 * variable and error messages follow from the schema.
 */
import { existsSync } from 'node:fs';
import Ajv from 'ajv';
import { HQ_END, HQ_START, renderReference } from '../../config/gen-docs';
import { ConfigError, describeErrors, envOrigins, getPath, readSettingsFile, redactBySchema, schemaLeaves, setPath, applyEnv, LOG_LEVELS, type Leaf, type SchemaNode } from '../../config';

export const HQ_SETTINGS_VERSION = 1;
export const HQ_ENV_PREFIX = 'HQ_';
export const DEFAULT_HQ_SETTINGS_PATH = '/etc/enroll-hq/hq.yaml';

export const hqSettingsSchema = {
  $id: 'https://enroll-station.invalid/hq-settings.schema.json',
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    version: {
      type: 'integer',
      const: HQ_SETTINGS_VERSION,
      default: HQ_SETTINGS_VERSION,
      description: `Settings format version; current: ${HQ_SETTINGS_VERSION}.`,
    },
    dataDir: {
      type: 'string',
      minLength: 1,
      default: '/var/lib/enroll-hq',
      description: 'Headquarters data directory: keys/ (mode 0700) and hq.db.',
    },
    log: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        level: { enum: [...LOG_LEVELS], default: 'info', description: 'Log level of `hq run` (JSON lines on stdout).' },
      },
    },
    broker: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description: 'The MQTT broker headquarters and the stations share.',
      properties: {
        url: { type: 'string', pattern: '^(mqtts?|wss?)://', default: 'mqtt://127.0.0.1:1883', description: 'Broker URL: mqtts://HOST:8883 in production (must start with mqtt://, mqtts://, ws:// or wss://).' },
        username: { type: ['string', 'null'], default: null, description: 'Broker username (when not using a client certificate).' },
        password: { type: ['string', 'null'], default: null, 'x-secret': true, 'x-env-only': true, description: 'Broker password: only from this environment variable (never in the settings file nor on the command line); or use passwordFile.' },
        passwordFile: { type: ['string', 'null'], default: null, description: 'File whose first line is the broker password (mode 0600, readable by the headquarters user).' },
        caFile: { type: ['string', 'null'], default: null, description: 'CA certificate (PEM) that signed the broker certificate.' },
        certFile: { type: ['string', 'null'], default: null, description: 'Headquarters\' client certificate (PEM).' },
        keyFile: { type: ['string', 'null'], default: null, description: 'Private key of the client certificate (PEM, mode 0600).' },
        topicPrefix: { type: 'string', pattern: '^[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*$', default: 'enroll/v1', description: 'Versioned topic namespace (the stations\' headquarters.topicPrefix).' },
        protocolVersion: { enum: [4, 5], default: 5, description: 'MQTT protocol version: 5, or 4 (3.1.1) for brokers without MQTT 5 (no shared subscriptions then).' },
      },
    },
    ingest: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description: 'The ingest workers (`hq run`).',
      properties: {
        workerId: { type: ['string', 'null'], pattern: '^[A-Za-z0-9_-]{1,64}$', default: null, description: 'Worker id (null = host name and process id).' },
        group: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$', default: 'ingest', description: 'Shared subscription group the workers split the load in.' },
        share: { type: 'boolean', default: true, description: 'Subscribe through `$share/<group>/…` (false for brokers without MQTT 5 shared subscriptions).' },
      },
    },
    validator: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description: 'The record validator (`hq validator`): the only process holding the keys that open records.',
      properties: {
        socket: { type: ['string', 'null'], default: null, description: 'Unix socket of `hq validator`. Set (production): `hq validator` listens on it and `hq run` asks it for every verdict, holding no record key itself. null: `hq run` opens records in its own process with the record keys in dataDir/keys (one-machine layout and demo; it logs a warning).' },
        timeoutSeconds: { type: 'number', minimum: 1, maximum: 600, default: 30, description: 'How long `hq run` waits for a verdict; past it the batch\'s records get a held receipt (validator-unavailable) and the station retries them.' },
      },
    },
    database: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description: 'Where headquarters stores records, receipts, the registry and the fleet: SQLite in dataDir (default) or PostgreSQL.',
      properties: {
        url: { type: ['string', 'null'], pattern: '^postgres(ql)?://', default: null, 'x-secret': true, description: 'PostgreSQL connection URL (postgresql://USER@HOST:5432/DB, optionally ?sslmode=verify-full); null = the SQLite file dataDir/hq.db. A password inside the URL is accepted only from the environment variable; otherwise use passwordFile.' },
        password: { type: ['string', 'null'], default: null, 'x-secret': true, 'x-env-only': true, description: 'Database password: only from this environment variable (never in the settings file nor on the command line); or use passwordFile.' },
        passwordFile: { type: ['string', 'null'], default: null, description: 'File whose first line is the database password (mode 0600, readable by the headquarters user).' },
        poolSize: { type: 'integer', minimum: 1, maximum: 100, default: 4, description: 'Connections each `hq run` worker keeps to PostgreSQL (its group commits are serial; reads overlap them).' },
        tls: {
          type: 'object',
          additionalProperties: false,
          default: {},
          description: 'TLS to PostgreSQL (in addition to what the URL\'s sslmode says).',
          properties: {
            enabled: { type: 'boolean', default: false, description: 'Connect with TLS, verifying the server certificate against caFile (or the system CAs).' },
            caFile: { type: ['string', 'null'], default: null, description: 'CA certificate (PEM) that signed the database server\'s certificate.' },
            certFile: { type: ['string', 'null'], default: null, description: 'Client certificate (PEM), for certificate authentication.' },
            keyFile: { type: ['string', 'null'], default: null, description: 'Private key of the client certificate (PEM, mode 0600).' },
          },
        },
      },
    },
    commands: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description: 'Signed commands (`hq cmd`).',
      properties: {
        ttlSeconds: { type: 'integer', minimum: 1, maximum: 604800, default: 86400, description: 'Lifetime of a command: the station refuses it after this many seconds.' },
        waitSeconds: { type: 'number', minimum: 0, maximum: 3600, default: 15, description: 'How long `hq cmd` waits for the station\'s answer (it returns as soon as the answer arrives).' },
      },
    },
    fleet: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description: 'The fleet view (`hq stations`).',
      properties: {
        waitSeconds: { type: 'number', minimum: 0.1, maximum: 600, default: 3, description: 'Longest time `hq stations` collects retained status and health messages.' },
      },
    },
    dashboard: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description: 'The ops dashboard (`hq dashboard`) and its command signer (`hq signer`): docs/dashboard.md.',
      properties: {
        host: { type: 'string', minLength: 1, default: '127.0.0.1', description: 'Address the dashboard listens on. Anything but loopback needs tls.certFile and tls.keyFile (it refuses to start without).' },
        port: { type: 'integer', minimum: 0, maximum: 65535, default: 8780, description: 'TCP port of the dashboard (0: any free port, printed at start).' },
        publicOrigin: { type: ['string', 'null'], pattern: '^https?://[^/]+$', default: null, description: 'The address users open (https://ops.example.vn:8443) when it differs from host:port (a proxy, a DNS name); requests naming any other host or origin are refused.' },
        tls: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: {
            certFile: { type: ['string', 'null'], default: null, description: 'Certificate chain (PEM) the dashboard serves.' },
            keyFile: { type: ['string', 'null'], default: null, description: 'Its private key (PEM, mode 0600).' },
          },
        },
        accountsFile: { type: ['string', 'null'], default: null, description: 'Accounts file (scrypt hashes, mode 0600; `hq dashboard user …` writes it); null = dataDir/dashboard/accounts.json.' },
        signerSocket: { type: ['string', 'null'], default: null, description: 'Unix socket of `hq signer`, the process that holds the ops key and signs lock, unlock, sync-now and request-health for the page. null: the page sends no commands.' },
        sessionIdleMinutes: { type: 'integer', minimum: 1, maximum: 720, default: 30, description: 'A dashboard session ends after this many minutes without a request (and after 12 hours in all).' },
        commandTtlSeconds: { type: 'integer', minimum: 60, maximum: 86400, default: 3600, description: 'Lifetime of a command sent from the page (the signer caps it at its own limit).' },
      },
    },
  },
} as const;

export interface HqSettings {
  version: number;
  dataDir: string;
  log: { level: (typeof LOG_LEVELS)[number] };
  broker: {
    url: string; username: string | null; password: string | null; passwordFile: string | null;
    caFile: string | null; certFile: string | null; keyFile: string | null;
    topicPrefix: string; protocolVersion: 4 | 5;
  };
  ingest: { workerId: string | null; group: string; share: boolean };
  validator: { socket: string | null; timeoutSeconds: number };
  database: {
    url: string | null; password: string | null; passwordFile: string | null; poolSize: number;
    tls: { enabled: boolean; caFile: string | null; certFile: string | null; keyFile: string | null };
  };
  commands: { ttlSeconds: number; waitSeconds: number };
  fleet: { waitSeconds: number };
  dashboard: {
    host: string; port: number; publicOrigin: string | null; tls: { certFile: string | null; keyFile: string | null };
    accountsFile: string | null; signerSocket: string | null; sessionIdleMinutes: number; commandTtlSeconds: number;
  };
}

/** A value given on the command line: the settings key it sets and the flag that set it. */
export interface FlagOverride {
  key: string;
  value: unknown;
  flag: string;
}

export interface LoadHqSettingsOptions {
  /** Settings file: explicit (--config); otherwise $HQ_CONFIG; otherwise the default path when it exists. */
  file?: string;
  env?: NodeJS.ProcessEnv;
  flags?: FlagOverride[];
}

export interface LoadedHqSettings {
  settings: HqSettings;
  /** The file read, or null when none (defaults, environment and flags only). */
  path: string | null;
  envOverrides: string[];
  flagOverrides: string[];
}

/** Every leaf of the headquarters settings with its HQ_* variable. */
export function hqSettingsLeaves(): Leaf[] {
  return schemaLeaves(hqSettingsSchema as unknown as SchemaNode, [], HQ_ENV_PREFIX, '_');
}

let compiled: ReturnType<Ajv['compile']> | undefined;
function validator(): ReturnType<Ajv['compile']> {
  compiled ??= new Ajv({ allErrors: true, useDefaults: true, strict: false, verbose: true }).compile(hqSettingsSchema as unknown as object);
  return compiled;
}

const CHECK = 'then run `hq config check`';

/** Validates settings from an object (file contents), the environment and flags. */
export function validateHqSettings(raw: unknown, source: string, opts: Omit<LoadHqSettingsOptions, 'file'> = {}): Omit<LoadedHqSettings, 'path'> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ConfigError(`${source}: the top level must be a mapping of settings (got ${Array.isArray(raw) ? 'a list' : JSON.stringify(raw)})`, [], 'Start from the example in docs/production.md.');
  }
  const data = structuredClone(raw) as Record<string, unknown>;
  const leaves = hqSettingsLeaves();
  const inFile = leaves.filter((l) => l.node['x-env-only'] && getPath(data, l.path) !== undefined);
  if (inFile.length) {
    throw new ConfigError(`${source} is not valid:`, inFile.map((l) => `${l.path.join('.')}: not allowed in a settings file — set ${l.env} in the environment${l.path.join('.') === 'broker.password' ? ', or put the password in a file of its own (mode 0600) and set broker.passwordFile' : ''}`), `Remove it from the file, ${CHECK}.`);
  }
  const envOverrides = applyEnv(data, opts.env ?? process.env, leaves);
  const origins = envOrigins(leaves, envOverrides);
  const flagOverrides: string[] = [];
  for (const f of opts.flags ?? []) {
    if (f.value === undefined) continue;
    setPath(data, f.key.split('.'), f.value);
    origins.set(f.key, `the command-line flag ${f.flag}`);
    flagOverrides.push(f.flag);
  }
  const validate = validator();
  if (!validate(data)) {
    const problems = describeErrors(validate.errors ?? [], data, (k) => origins.get(k));
    throw new ConfigError(`${source} is not valid:`, problems, `Fix the settings above (see "Headquarters settings" in docs/production.md), ${CHECK}.`);
  }
  const settings = data as unknown as HqSettings;
  const problems: string[] = [];
  const b = settings.broker;
  if ((b.certFile === null) !== (b.keyFile === null)) problems.push('broker.certFile and broker.keyFile: set both (client certificate) or neither');
  if ((b.password !== null || b.passwordFile !== null) && b.username === null) problems.push('broker.username: missing — a password is set, so a username is required');
  if (b.password !== null && b.passwordFile !== null) problems.push('broker.password and broker.passwordFile: give the password one way (HQ_BROKER_PASSWORD or the file), not both');
  if (settings.ingest.share && b.protocolVersion === 4) problems.push('ingest.share: shared subscriptions need MQTT 5 — set ingest.share: false with broker.protocolVersion: 4');
  const d = settings.database;
  if (d.url !== null) {
    let inUrl = false;
    try { inUrl = new URL(d.url).password !== ''; } catch { problems.push('database.url: not a URL (postgresql://USER@HOST:PORT/DATABASE)'); }
    if (inUrl && !(origins.get('database.url') ?? '').startsWith('environment variable')) {
      problems.push('database.url: carries a password — put the password in database.passwordFile (or HQ_DATABASE_PASSWORD), or give the whole URL in HQ_DATABASE_URL');
    }
    if (inUrl && (d.password !== null || d.passwordFile !== null)) problems.push('database.url and database.password/passwordFile: give the password one way, not both');
  }
  if (d.password !== null && d.passwordFile !== null) problems.push('database.password and database.passwordFile: give the password one way (HQ_DATABASE_PASSWORD or the file), not both');
  if ((d.tls.certFile === null) !== (d.tls.keyFile === null)) problems.push('database.tls.certFile and database.tls.keyFile: set both (client certificate) or neither');
  if (d.url === null && (d.password !== null || d.passwordFile !== null || d.tls.enabled)) problems.push('database: a password or TLS is set but database.url is null (SQLite needs neither) — set database.url to use PostgreSQL');
  const dt = settings.dashboard.tls;
  if ((dt.certFile === null) !== (dt.keyFile === null)) problems.push('dashboard.tls.certFile and dashboard.tls.keyFile: set both (TLS) or neither');
  if (problems.length) throw new ConfigError(`${source} is not valid:`, problems, `Fix the settings above, ${CHECK}.`);
  return { settings, envOverrides, flagOverrides };
}

/** Reads (when there is a file), overrides and validates the headquarters settings. */
export function loadHqSettings(opts: LoadHqSettingsOptions = {}): LoadedHqSettings {
  const env = opts.env ?? process.env;
  const explicit = opts.file ?? env.HQ_CONFIG;
  const file = explicit ?? (existsSync(DEFAULT_HQ_SETTINGS_PATH) ? DEFAULT_HQ_SETTINGS_PATH : null);
  const raw = file === null ? {} : readSettingsFile(file, 'settings file', {
    missing: `Create it (see "Headquarters settings" in docs/production.md), or pass another file with --config / HQ_CONFIG.`,
    unreadable: `Make it readable by the headquarters user: chown root:enroll-hq ${file} && chmod 0640 ${file}`,
    empty: 'Start from the example in docs/production.md, or remove the file to run on defaults.',
  });
  const what = file === null ? 'headquarters settings (no settings file: defaults, environment and flags)' : `settings file ${file}`;
  return { ...validateHqSettings(raw, what, { env, flags: opts.flags }), path: file };
}

/** The settings with secrets replaced, for `hq config show` and logs. */
export function redactHqSettings(s: HqSettings): HqSettings {
  return redactBySchema(s, hqSettingsLeaves());
}

/** The settings reference table of docs/production.md (`npm run docs:config -- --write`). */
export function renderHqReference(): string {
  return renderReference(hqSettingsLeaves(), HQ_START, HQ_END);
}
