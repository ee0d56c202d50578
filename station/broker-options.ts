/**
 * MQTT connection options from the configuration: TLS with a client certificate,
 * or username/password. A TLS file that cannot be read is a clear error naming it.
 */
import { readFileSync } from 'node:fs';
import type { IClientOptions } from 'mqtt';
import type { Config } from '../config';
import { StationError } from '../drivers/common/errors';

function readTlsFile(key: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    throw new StationError('CONFIG_TLS_FILE', `headquarters.${key}: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, {
      exitCode: 2,
      hint: `Install the file (readable by the station user) or set headquarters.${key}: null.`,
    });
  }
}

export function brokerConnectOptions(config: Config, clientId: string): IClientOptions {
  const hq = config.headquarters;
  const opts: IClientOptions = { clientId, protocolVersion: 5 };
  if (hq.username !== null) opts.username = hq.username;
  if (hq.password !== null) opts.password = hq.password;
  if (hq.caFile) opts.ca = readTlsFile('caFile', hq.caFile);
  if (hq.certFile) opts.cert = readTlsFile('certFile', hq.certFile);
  if (hq.keyFile) opts.key = readTlsFile('keyFile', hq.keyFile);
  if (/^(mqtts|wss):/.test(hq.brokerUrl)) opts.rejectUnauthorized = true;
  return opts;
}
