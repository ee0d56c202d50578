import pino, { type Logger } from 'pino';
import { redactingLogOptions } from '../../config/redact';

/** Headquarters' logger: JSON lines, the same redaction as the station's (config/redact.ts). */
export function createHqLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  const options = { level, name: 'hq', ...redactingLogOptions() };
  return destination ? pino(options, destination) : pino(options);
}
