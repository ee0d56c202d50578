/**
 * Loading the station configuration: read (YAML or JSON) → migrate → environment
 * overrides → validate (ajv, defaults filled in) → cross-field checks.
 * Nothing starts until this returns; every error names the key, the bad value and
 * what is allowed, and exits the CLI with code 2.
 */
import { readFileSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import type Ajv from 'ajv';
import type { ErrorObject, ValidateFunction } from 'ajv';
import YAML from 'yaml';
import { configSchema, CONFIG_AJV_OPTIONS, CONFIG_VERSION, GT_BAUDS, R30X_BAUDS, type Config } from './schema';
import { migrate } from './migrations';
import { StationError } from './errors';

export * from './schema';

export const DEFAULT_CONFIG_PATH = '/etc/enroll-station/config.yaml';
export const ENV_PREFIX = 'ENROLL_';

/** A configuration problem: exit code 2, one line per problem. */
export class ConfigError extends StationError {
  readonly problems: string[];
  constructor(message: string, problems: string[] = [], hint?: string) {
    super('CONFIG_INVALID', problems.length ? `${message}\n${problems.map((p) => `  • ${p}`).join('\n')}` : message, { hint, exitCode: 2 });
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

export type SchemaNode = { type?: unknown; anyOf?: unknown; properties?: Record<string, SchemaNode>; enum?: readonly unknown[]; items?: SchemaNode; description?: string; default?: unknown; 'x-secret'?: boolean; [k: string]: unknown };

export interface Leaf {
  path: string[];
  node: SchemaNode;
  env: string;
}

function camelToSnake(s: string): string {
  return s.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
}

/**
 * Every leaf setting of a schema (the station's by default), with the environment
 * variable that overrides it: prefix + path in SNAKE_CASE joined by `__` (the station's) or
 * by the given separator.
 */
export function schemaLeaves(node: SchemaNode = configSchema as unknown as SchemaNode, path: string[] = [], prefix = ENV_PREFIX, separator = '__'): Leaf[] {
  if (node.properties) {
    return Object.entries(node.properties).flatMap(([k, child]) => schemaLeaves(child, [...path, k], prefix, separator));
  }
  return [{ path, node, env: prefix + path.map(camelToSnake).join(separator) }];
}

function types(node: SchemaNode): string[] {
  if (Array.isArray(node.anyOf)) return [...new Set((node.anyOf as SchemaNode[]).flatMap(types))];
  if (Array.isArray(node.type)) return node.type as string[];
  if (typeof node.type === 'string') return [node.type];
  if (node.enum) return [...new Set(node.enum.map((v) => (v === null ? 'null' : typeof v === 'number' ? 'integer' : typeof v)))];
  if ('const' in node) return [typeof node.const === 'number' ? 'integer' : typeof node.const];
  return ['string'];
}

function coerceEnv(leaf: Leaf, raw: string): unknown {
  const t = types(leaf.node);
  if (t.includes('null') && (raw === '' || raw === 'null')) return null;
  if (t.includes('array')) {
    const parts = raw.split(',').map((s) => s.trim()).filter(Boolean);
    const itemT = leaf.node.items ? types(leaf.node.items) : ['string'];
    return parts.map((p) => (itemT.includes('integer') && /^-?\d+$/.test(p) ? Number(p) : p));
  }
  if (t.includes('integer') && /^-?\d+$/.test(raw)) return Number(raw);
  if (t.includes('boolean')) {
    if (/^(true|1|yes|on)$/i.test(raw)) return true;
    if (/^(false|0|no|off)$/i.test(raw)) return false;
  }
  return raw; // left as a string: validation then names the variable's key and what is allowed
}

export function setPath(obj: Record<string, unknown>, path: string[], value: unknown): void {
  let cur = obj;
  for (const k of path.slice(0, -1)) {
    if (typeof cur[k] !== 'object' || cur[k] === null || Array.isArray(cur[k])) cur[k] = {};
    cur = cur[k] as Record<string, unknown>;
  }
  cur[path[path.length - 1]] = value;
}

export function getPath(obj: unknown, path: string[]): unknown {
  let cur = obj;
  for (const k of path) {
    if (typeof cur !== 'object' || cur === null) return undefined;
    cur = (cur as Record<string, unknown>)[k];
  }
  return cur;
}

/** Applies environment overrides (ENROLL_* for the station); returns the names of the variables used. */
export function applyEnv(raw: Record<string, unknown>, env: NodeJS.ProcessEnv, leaves: Leaf[] = schemaLeaves()): string[] {
  const used: string[] = [];
  for (const leaf of leaves) {
    const v = env[leaf.env];
    if (v === undefined) continue;
    setPath(raw, leaf.path, coerceEnv(leaf, v));
    used.push(leaf.env);
  }
  return used;
}

/** The hash tools/config-validator.mjs stamps on the validator it precompiles: the schema and the options. */
export function configSchemaHash(): string {
  return createHash('sha256').update(JSON.stringify({ schema: configSchema, options: CONFIG_AJV_OPTIONS })).digest('hex');
}

let ajvValidate: ValidateFunction | undefined;
/**
 * The schema's validator: the one `npm run build` precompiled (dist/config/config-validator.js)
 * while it was built from this very schema, else compiled here with Ajv (sources run by
 * vitest, or a build older than the schema). Compiling costs tens of milliseconds at every
 * start, and `config check` runs before each start under systemd.
 */
function validator(): ValidateFunction {
  if (ajvValidate) return ajvValidate;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- generated at build time; absent when run from the sources
    const pre = require('./config-validator.js') as ValidateFunction & { schemaHash?: string };
    if (typeof pre === 'function' && pre.schemaHash === configSchemaHash()) return (ajvValidate = pre);
  } catch { /* not generated: compile below */ }
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- only when there is no precompiled validator
  const { default: AjvClass } = require('ajv') as { default: typeof Ajv };
  ajvValidate = new AjvClass({ ...CONFIG_AJV_OPTIONS }).compile(configSchema as unknown as object);
  return ajvValidate;
}

function keyOf(e: ErrorObject): string {
  const base = e.instancePath.replace(/^\//, '').split('/').filter(Boolean).join('.');
  if (e.keyword === 'required') return base ? `${base}.${(e.params as { missingProperty: string }).missingProperty}` : (e.params as { missingProperty: string }).missingProperty;
  if (e.keyword === 'additionalProperties') {
    const extra = (e.params as { additionalProperty: string }).additionalProperty;
    return base ? `${base}.${extra}` : extra;
  }
  return base || '(top level)';
}

function show(v: unknown): string {
  return v === undefined ? 'nothing' : JSON.stringify(v);
}

function closest(word: string, options: string[]): string | undefined {
  const dist = (a: string, b: string) => {
    const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array(b.length).fill(0)] as number[]);
    for (let j = 1; j <= b.length; j++) d[0][j] = j;
    for (let i = 1; i <= a.length; i++)
      for (let j = 1; j <= b.length; j++) d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1].toLowerCase() === b[j - 1].toLowerCase() ? 0 : 1));
    return d[a.length][b.length];
  };
  const best = options.map((o) => [o, dist(word, o)] as const).sort((x, y) => x[1] - y[1])[0];
  return best && best[1] <= Math.max(2, Math.floor(word.length / 3)) ? best[0] : undefined;
}

/**
 * Turns ajv errors into one sentence per problem: the key, the bad value, what is allowed.
 * `origin(key)` names where a value came from when it was not the file (an environment
 * variable, a command-line flag), so the problem is blamed on what set it.
 */
export function describeErrors(errors: ErrorObject[], data: unknown, origin: (key: string) => string | undefined = () => undefined): string[] {
  const out = new Set<string>();
  // anyOf/type noise from nullable unions: keep the most specific message per key
  for (const e of errors) {
    const bare = keyOf(e);
    const from = origin(bare);
    const key = from ? `${bare} (set by ${from})` : bare;
    const value = getPath(data, e.instancePath.split('/').filter(Boolean));
    const schemaNode = e.parentSchema as SchemaNode | undefined;
    switch (e.keyword) {
      case 'required':
        out.add(`${key}: missing — this setting is required (${describeNode(schemaNode?.properties?.[(e.params as { missingProperty: string }).missingProperty])})`);
        break;
      case 'additionalProperties': {
        const extra = (e.params as { additionalProperty: string }).additionalProperty;
        const known = Object.keys(schemaNode?.properties ?? {});
        const guess = closest(extra, known);
        out.add(`${key}: unknown setting${guess ? ` — did you mean "${guess}"?` : ''} (allowed here: ${known.join(', ')})`);
        break;
      }
      case 'enum':
        out.add(`${key}: ${show(value)} is not allowed — allowed: ${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}`);
        break;
      case 'const':
        out.add(`${key}: ${show(value)} is not allowed — must be ${JSON.stringify((e.params as { allowedValue: unknown }).allowedValue)}`);
        break;
      case 'type':
        out.add(`${key}: ${show(value)} has the wrong type — expected ${String((e.params as { type: string | string[] }).type).replace(',', ' or ')}`);
        break;
      case 'pattern':
        out.add(`${key}: ${show(value)} has the wrong form — ${schemaNode?.description ?? `must match ${(e.params as { pattern: string }).pattern}`}`);
        break;
      case 'minimum':
      case 'maximum':
      case 'minLength':
      case 'maxLength':
      case 'minItems':
      case 'uniqueItems':
        out.add(`${key}: ${show(value)} is out of range — ${e.message}`);
        break;
      default:
        out.add(`${key}: ${show(value)} — ${e.message}`);
    }
  }
  return [...out];
}

function describeNode(n: SchemaNode | undefined): string {
  return n?.description ?? 'see the configuration reference in the README';
}

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
}

export interface LoadedConfig {
  config: Config;
  path: string;
  /** Environment variables that overrode the file. */
  envOverrides: string[];
  /** Migrations applied in memory, e.g. ["0→1"]. */
  migrated: string[];
}

/** Dotted key → "environment variable NAME", for the variables that were used. */
export function envOrigins(leaves: Leaf[], used: string[]): Map<string, string> {
  const m = new Map<string, string>();
  for (const l of leaves) if (used.includes(l.env)) m.set(l.path.join('.'), `environment variable ${l.env}`);
  return m;
}

/** Validates an in-memory object (already parsed) and fills defaults. */
export function validateConfig(raw: unknown, source = 'configuration', opts: LoadOptions = {}): Omit<LoadedConfig, 'path'> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ConfigError(`${source}: the top level must be a mapping of settings (got ${Array.isArray(raw) ? 'a list' : show(raw)})`, [], 'Start from config/station.example.yaml.');
  }
  const { data, applied } = migrate(structuredClone(raw) as Record<string, unknown>, source);
  const envOverrides = applyEnv(data, opts.env ?? process.env);
  const validate = validator();
  if (!validate(data)) {
    const byKey = envOrigins(schemaLeaves(), envOverrides);
    const problems = describeErrors(validate.errors ?? [], data, (k) => byKey.get(k));
    const fromEnv = envOverrides.length ? ` (with environment overrides ${envOverrides.join(', ')})` : '';
    throw new ConfigError(`${source}${fromEnv} is not valid:`, problems, `Fix the settings above (see "Configuration reference" in the README)${envOverrides.length ? ' — a value "set by" an environment variable is fixed there, not in the file' : ''}, then run \`station config check\`.`);
  }
  const config = data as unknown as Config;
  // Cross-field rules the schema cannot say
  const fp = config.devices.fingerprint;
  const gt = fp.model.startsWith('gt521');
  const rawBaud = getPath(raw, ['devices', 'fingerprint', 'baud']) ?? (opts.env ?? process.env)[`${ENV_PREFIX}DEVICES__FINGERPRINT__BAUD`];
  if (rawBaud === undefined && gt) fp.baud = 9600;
  const allowed = gt ? GT_BAUDS : R30X_BAUDS;
  const problems: string[] = [];
  if (!allowed.includes(fp.baud)) problems.push(`devices.fingerprint.baud: ${fp.baud} is not allowed for model ${fp.model} — allowed: ${allowed.join(', ')}`);
  if (fp.upgradeBaud !== null && !allowed.includes(fp.upgradeBaud)) problems.push(`devices.fingerprint.upgradeBaud: ${fp.upgradeBaud} is not allowed for model ${fp.model} — allowed: ${allowed.join(', ')} or null`);
  const hq = config.headquarters;
  if ((hq.certFile === null) !== (hq.keyFile === null)) problems.push(`headquarters.certFile and headquarters.keyFile: set both (client certificate) or neither`);
  if (hq.password !== null && hq.username === null) problems.push(`headquarters.username: missing — a password is set, so a username is required`);
  if (!brokerUsesTls(hq.brokerUrl) && !hq.allowInsecureBroker) {
    problems.push(`headquarters.brokerUrl: ${JSON.stringify(hq.brokerUrl)} has no TLS — use mqtts:// or wss:// (with headquarters.caFile), or, on a lab bench only, set headquarters.allowInsecureBroker: true`);
  }
  if (problems.length) throw new ConfigError(`${source} is not valid:`, problems, 'Fix the settings above, then run `station config check`.');
  return { config, envOverrides, migrated: applied };
}

/** True for mqtts:// and wss:// broker URLs. */
export function brokerUsesTls(url: string): boolean {
  return /^(mqtts|wss):\/\//i.test(url);
}

export interface ReadFileHints {
  /** What to do when the file does not exist. */
  missing: string;
  /** What to do when the file cannot be read (permission denied). */
  unreadable: string;
  /** What to start from when the file is empty. */
  empty: string;
}

/** Reads and parses a YAML/JSON settings file; every failure names the file and what to do. */
export function readSettingsFile(file: string, what: string, hints: ReadFileHints): unknown {
  let text: string;
  try {
    const st = statSync(file);
    if (!st.isFile()) throw new ConfigError(`${what} ${file} is not a regular file`, [], 'Pass the path of the YAML/JSON file with --config.');
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new ConfigError(`${what} ${file} does not exist`, [], hints.missing);
    if (code === 'EACCES') throw new ConfigError(`${what} ${file} cannot be read (permission denied)`, [], hints.unreadable);
    throw new ConfigError(`${what} ${file} cannot be read: ${(e as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = YAML.parse(text, { prettyErrors: true, uniqueKeys: true });
  } catch (e) {
    throw new ConfigError(`${what} ${file} is not valid YAML/JSON: ${(e as Error).message.split('\n')[0]}`, [], 'Fix the syntax at the line and column shown.');
  }
  if (raw === null || raw === undefined) throw new ConfigError(`${what} ${file} is empty`, [], hints.empty);
  return raw;
}

/** Reads, migrates, overrides and validates the configuration file. */
export function loadConfig(path?: string, opts: LoadOptions = {}): LoadedConfig {
  const env = opts.env ?? process.env;
  const file = path ?? env.ENROLL_CONFIG ?? DEFAULT_CONFIG_PATH;
  const raw = readSettingsFile(file, 'config file', {
    missing: `Create it from config/station.example.yaml (see the README), or pass another file with --config. To try the station without hardware run \`station demo\`.`,
    unreadable: `Make it readable by the station user: chown root:enroll-station ${file} && chmod 0640 ${file}`,
    empty: 'Start from config/station.example.yaml.',
  });
  const r = validateConfig(raw, `config file ${file}`, { env });
  return { ...r, path: file };
}

/** A copy with every secret (x-secret in the schema) replaced, for `config show` and logs. */
export function redactConfig(config: Config): Config {
  return redactBySchema(config, schemaLeaves());
}

/** A copy of any settings object with its schema's secrets (x-secret) replaced. */
export function redactBySchema<T>(settings: T, leaves: Leaf[]): T {
  const copy = structuredClone(settings) as unknown as Record<string, unknown>;
  for (const leaf of leaves) {
    if (leaf.node['x-secret'] && getPath(copy, leaf.path) != null) setPath(copy, leaf.path, '[redacted]');
  }
  return copy as unknown as T;
}

export { CONFIG_VERSION };
