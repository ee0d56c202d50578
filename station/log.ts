import pino, { type Logger, type LoggerOptions } from 'pino';
import { redactingLogOptions } from '../config/redact';

export type { Logger } from 'pino';

/**
 * What a log line may not carry (secrets, personal data, biometrics) is decided in
 * config/redact.ts, shared with headquarters' logger; key fingerprints stay visible.
 */
export { REDACTED, isSensitiveField } from '../config/redact';

export interface LogOptions {
  level?: string;
  /** Force pretty (human) output; default: pretty when stdout is a terminal. */
  pretty?: boolean;
  /** Write here instead of stdout (tests). */
  destination?: NodeJS.WritableStream | string;
  name?: string;
}

/**
 * pino-pretty is a development dependency: a booth installed without them
 * (`npm ci --omit=dev`) logs JSON on a terminal too (`| npx pino-pretty` on a
 * machine that has it), and the demo — run from a full `npm ci` — is readable.
 */
function loadPretty(): ((o: object) => NodeJS.WritableStream) | null {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- optional, loaded lazily, only when needed
    return require('pino-pretty') as (o: object) => NodeJS.WritableStream;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND') return null;
    throw e;
  }
}

export function createLogger(opts: LogOptions = {}): Logger {
  const options: LoggerOptions = {
    name: opts.name ?? 'station',
    level: opts.level ?? 'info',
    ...redactingLogOptions(),
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    serializers: { err: pino.stdSerializers.err },
  };
  const pretty = opts.pretty ?? (opts.destination === undefined && process.stdout.isTTY === true);
  const pinoPretty = pretty ? loadPretty() : null;
  if (pinoPretty) return pino(options, pinoPretty({ colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' }));
  if (typeof opts.destination === 'string') return pino(options, pino.destination({ dest: opts.destination, sync: true, mkdir: true }));
  if (opts.destination) return pino(options, opts.destination);
  return pino(options, pino.destination({ dest: 1, sync: false }));
}

/** A silent logger for tests and library defaults. */
export function nullLogger(): Logger {
  return pino({ level: 'silent' });
}
