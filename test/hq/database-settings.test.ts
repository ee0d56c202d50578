/**
 * Choosing the headquarters database in the settings (`database.*`): what is
 * refused and why, and the `hq` commands working on the PostgreSQL the settings
 * name (a real server the harness starts), or saying clearly why they cannot.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../config';
import { validateHqSettings } from '../../sync/hq/settings';
import { databaseChoice } from '../../sync/hq/store-open';
import { PgHqStore } from '../../sync/hq/store-pg';
import { ROOT } from '../helpers/cli';
import { freePort } from '../helpers/mosquitto';
import { startPostgres, type Postgres } from '../helpers/postgres';
import { makeFixture, type Fixture } from '../uplink/helpers';

const HQ_JS = join(ROOT, 'dist', 'sync', 'hq', 'main.js');

function problems(raw: unknown, env: NodeJS.ProcessEnv = {}): string {
  try {
    validateHqSettings(raw, 'hq.yaml', { env });
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return `${(e as ConfigError).message}\n${(e as ConfigError).problems.join('\n')}`;
  }
  throw new Error('expected a ConfigError');
}

function hq(args: string[], env: NodeJS.ProcessEnv) {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('HQ_')));
  return spawnSync(process.execPath, [HQ_JS, ...args], { encoding: 'utf8', env: { ...clean, ...env } });
}

describe('database settings', () => {
  it('default is the SQLite file in dataDir; a URL selects PostgreSQL with the pool size and the password file', () => {
    const d = mkdtempSync(join(tmpdir(), 'hq-dbset-'));
    try {
      const { settings } = validateHqSettings({ dataDir: d }, 'test', { env: {} });
      expect(databaseChoice(settings)).toEqual({ url: null, sqlitePath: join(d, 'hq.db') });
      const pw = join(d, 'pw');
      writeFileSync(pw, 's3cret\nignored\n', { mode: 0o600 });
      const pg = validateHqSettings({ dataDir: d, database: { url: 'postgresql://hq@db.example:5432/hq', passwordFile: pw, poolSize: 8 } }, 'test', { env: {} }).settings;
      expect(databaseChoice(pg)).toMatchObject({ url: 'postgresql://hq@db.example:5432/hq', password: 's3cret', poolSize: 8 });
      const missing = validateHqSettings({ dataDir: d, database: { url: 'postgresql://hq@db/hq', passwordFile: join(d, 'nope') } }, 'test', { env: {} }).settings;
      expect(() => databaseChoice(missing)).toThrow(/database.passwordFile: cannot read .*nope: ENOENT/);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });

  it('refuses a password in a settings file\'s URL, two passwords, half a client certificate, and PostgreSQL options without a URL', () => {
    expect(problems({ database: { url: 'postgresql://hq:pw@db/hq' } })).toMatch(/database.url: carries a password — put the password in database.passwordFile/);
    // the same URL from the environment is accepted
    expect(validateHqSettings({}, 'test', { env: { HQ_DATABASE_URL: 'postgresql://hq:pw@db/hq' } }).settings.database.url).toBe('postgresql://hq:pw@db/hq');
    expect(problems({ database: { url: 'postgresql://hq@db/hq', passwordFile: '/x' } }, { HQ_DATABASE_PASSWORD: 'y' })).toMatch(/give the password one way/);
    expect(problems({ database: { password: 'in-the-file' } })).toMatch(/database.password: not allowed in a settings file — set HQ_DATABASE_PASSWORD/);
    expect(problems({ database: { url: 'postgresql://hq@db/hq', tls: { certFile: '/c.pem' } } })).toMatch(/database.tls.certFile and database.tls.keyFile: set both/);
    expect(problems({ database: { tls: { enabled: true } } })).toMatch(/database.url is null/);
    expect(problems({ database: { url: 'mysql://db/hq' } })).toMatch(/database.url/);
    expect(problems({ database: { poolSize: 0 } })).toMatch(/database.poolSize/);
  });
});

describe('hq commands on PostgreSQL (real server)', () => {
  let pg: Postgres;
  let f: Fixture;
  beforeAll(async () => {
    pg = await startPostgres();
    f = await makeFixture('st-pg-cli');
  });
  afterAll(async () => {
    await pg?.dispose();
    f?.cleanup();
  });

  it('hq register and hq alarms work on the database the settings name; the SQLite file is not created', async () => {
    const url = pg.url(pg.createDatabase('cli'));
    const env = { HQ_DATA_DIR: f.hqDir, HQ_DATABASE_URL: url };
    const r = hq(['register', f.provisionFile, '--json'], env);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ stationId: 'st-pg-cli', rotated: false });
    const store = await PgHqStore.open({ url });
    try {
      expect((await store.station('st-pg-cli'))?.unit).toBe('UNIT-A');
      await store.alarm('bad-signature', 'a test alarm', 'st-pg-cli');
    } finally {
      await store.close();
    }
    const a = hq(['alarms'], env);
    expect(a.status).toBe(0);
    expect(a.stdout).toMatch(/bad-signature\s+st-pg-cli\s+×1\s+a test alarm/);
    expect(spawnSync('test', ['-e', join(f.hqDir, 'hq.db')]).status).toBe(1);
  });

  it('a database that refuses connections is an error in words, exit 1, and the password is not printed', async () => {
    const port = await freePort();
    const r = hq(['alarms'], { HQ_DATA_DIR: f.hqDir, HQ_DATABASE_URL: `postgresql://hq:topsecret@127.0.0.1:${port}/hq` });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/ECONNREFUSED.*is PostgreSQL running/);
    expect(r.stderr).not.toContain('topsecret');
  });
});
