/**
 * Opens the headquarters store the settings choose: the SQLite file
 * <dataDir>/hq.db when `database.url` is null (the embedded default), else
 * PostgreSQL with the pool size, password (file or HQ_DATABASE_PASSWORD) and
 * TLS files of `database`.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ConnectionOptions } from 'node:tls';
import { SqliteHqStore, type HqStoreApi } from './store-api';
import { PgHqStore, pgTlsFromFiles } from './store-pg';
import type { HqSettings } from './settings';

export interface DatabaseChoice {
  /** null: SQLite at sqlitePath. */
  url: string | null;
  sqlitePath: string;
  password?: string | null;
  poolSize?: number;
  ssl?: ConnectionOptions | boolean;
  applicationName?: string;
}

function readPasswordFile(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`database.passwordFile: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message} — give a file holding the password on its first line (mode 0600)`, { cause: e });
  }
  const pw = text.split(/\r?\n/)[0]!;
  if (!pw) throw new Error(`database.passwordFile: ${file} is empty — write the password on its first line`);
  return pw;
}

/** What `database` in the settings asks for (files read now: a missing one is an error before connecting). */
export function databaseChoice(s: HqSettings, applicationName?: string): DatabaseChoice {
  const d = s.database;
  const sqlitePath = join(s.dataDir, 'hq.db');
  if (d.url === null) return { url: null, sqlitePath };
  const tls = d.tls;
  let ssl: ConnectionOptions | undefined;
  if (tls.enabled || tls.caFile || tls.certFile) {
    try {
      ssl = pgTlsFromFiles(tls);
    } catch (e) {
      throw new Error(`database.tls: cannot read a certificate or key file: ${(e as Error).message} — install the file or fix database.tls in the settings`, { cause: e });
    }
  }
  return {
    url: d.url, sqlitePath, poolSize: d.poolSize, applicationName,
    password: d.passwordFile ? readPasswordFile(d.passwordFile) : d.password,
    ...(ssl ? { ssl } : {}),
  };
}

export async function openHqStore(c: DatabaseChoice): Promise<HqStoreApi> {
  if (c.url === null) return SqliteHqStore.open(c.sqlitePath);
  return PgHqStore.open({ url: c.url, password: c.password ?? null, poolSize: c.poolSize, ssl: c.ssl, applicationName: c.applicationName });
}
