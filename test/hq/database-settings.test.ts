/**
 * Choosing the headquarters database in the settings (`database.*`): what is
 * refused and why, and the `hq` commands working on the PostgreSQL the settings
 * name (a real server the harness starts), or saying clearly why they cannot.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
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
import { makeFixture, makeRecord, type Fixture } from '../uplink/helpers';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto';
import mqtt from 'mqtt';
import { createPrivateKey } from 'node:crypto';
import { v7 as uuidv7 } from 'uuid';
import { sealRecord } from '../../sync/wire';
import { encodeSigned, signMessage } from '../../sync/wire/signed';
import { resultBody } from '../../sync/commands';
import { makeTopics } from '../../sync/topics';

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

/** The same, without blocking the event loop (a test-side MQTT client must answer meanwhile). */
function hqAsync(args: string[], env: NodeJS.ProcessEnv): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('HQ_')));
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [HQ_JS, ...args], { env: { ...clean, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d: Buffer) => { stdout += d.toString('utf8'); });
    c.stderr.on('data', (d: Buffer) => { stderr += d.toString('utf8'); });
    c.on('error', reject);
    c.on('close', (status) => resolve({ status, stdout, stderr }));
  });
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

describe('every hq command that reads or writes the store, on PostgreSQL through the CLI', () => {
  let pg: Postgres;
  let broker: Mosquitto;
  let f: Fixture;
  let url: string;
  let env: NodeJS.ProcessEnv;
  const ids: string[] = [];
  beforeAll(async () => {
    pg = await startPostgres();
    broker = await startMosquitto();
    f = await makeFixture('st-pg-all');
    url = pg.url(pg.createDatabase('allcmds'));
    env = { HQ_DATA_DIR: f.hqDir, HQ_DATABASE_URL: url, HQ_BROKER_URL: broker.url };
    const r = hq(['register', f.provisionFile, '--json'], env);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    // Two records sealed by the station's key for headquarters' key, stored the way the ingest stores them.
    const signingKey = createPrivateKey(f.stationKeyPem);
    const store = await PgHqStore.open({ url });
    try {
      const verified = [];
      for (let i = 0; i < 2; i++) {
        const s = await sealRecord(makeRecord(f.stationId, 2_000), { suite: 'x25519-chacha20poly1305', hq: f.hqPublic, signingKey });
        verified.push({ recordId: s.recordId, sha256: s.sha256, envelope: s.envelope, sealedAt: s.sealedAt });
        ids.push(s.recordId);
      }
      const [res] = await store.storeBatches('test', [{
        stationId: f.stationId, batchId: uuidv7(), order: ids, verified, refused: [],
        makeReceipt: () => ({ receiptText: '{}', batchHash: 'h' }),
      }]);
      expect(res?.ok).toBe(true);
    } finally {
      await store.close();
    }
  }, 120_000);
  afterAll(async () => {
    await broker?.stop();
    await pg?.dispose();
    f?.cleanup();
  });

  async function openingsOf(recordId: string): Promise<{ operator: string; reason: string }[]> {
    const store = await PgHqStore.open({ url });
    try {
      return (await store.pool.query('SELECT operator, reason FROM record_openings WHERE record_id = $1 ORDER BY at', [recordId])).rows as { operator: string; reason: string }[];
    } finally {
      await store.close();
    }
  }

  it('hq open reads the record from PostgreSQL and logs the opening there', async () => {
    const r = hq(['open', ids[0]!, '--reason', 'audit 42', '--operator', 'auditor'], env);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(ids[0]!);
    expect(await openingsOf(ids[0]!)).toEqual([{ operator: 'auditor', reason: 'audit 42' }]);
    const missing = hq(['open', uuidv7(), '--reason', 'x'], env);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/is not stored at headquarters/);
  });

  it('hq export writes every record stored in PostgreSQL and logs each opening there', async () => {
    const r = hq(['export', '-', '--operator', 'afis-feed'], env);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { recordId: string; stationId: string });
    expect(lines.map((l) => l.recordId).sort()).toEqual([...ids].sort());
    expect(lines.every((l) => l.stationId === f.stationId)).toBe(true);
    for (const id of ids) expect(await openingsOf(id)).toContainEqual({ operator: 'afis-feed', reason: 'export to standard records (hq export)' });
    expect(spawnSync('test', ['-e', join(f.hqDir, 'hq.db')]).status).toBe(1);
  });

  it('hq stations lists the station registered in PostgreSQL', async () => {
    const r = hq(['stations', '--json', '--wait', '1'], env);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const view = JSON.parse(r.stdout) as { stations: { stationId: string; unit: string | null }[] };
    expect(view.stations.map((s) => s.stationId)).toContain(f.stationId);
  });

  it('hq cmd checks the registry, logs the command and the verified answer in PostgreSQL', async () => {
    const t = makeTopics('enroll/v1');
    const stationKey = createPrivateKey(f.stationKeyPem);
    const booth = await mqtt.connectAsync(broker.url, { protocolVersion: 5, clean: true, reconnectPeriod: 0 });
    try {
      booth.on('message', (_topic, payload) => {
        const m = JSON.parse(payload.toString('utf8')) as { body: string };
        const c = JSON.parse(m.body) as { id: string; name: string };
        void booth.publishAsync(t.cmdRes(f.stationId), encodeSigned(signMessage(resultBody(f.stationId, c.id, c.name, 'ok'), stationKey)), { qos: 1 });
      });
      await booth.subscribeAsync(t.cmdWildcard(f.stationId), { qos: 1 });
      const r = await hqAsync(['cmd', f.stationId, 'request-health', '--wait', '120', '--json'], env);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      const out = JSON.parse(r.stdout) as { command: { id: string }; result: { status: string }; verified: boolean };
      expect(out.result.status).toBe('ok');
      // verified against the station key registered in PostgreSQL
      expect(out.verified).toBe(true);
      const store = await PgHqStore.open({ url });
      try {
        expect(await store.commandOf(out.command.id)).toMatchObject({ station_id: f.stationId, name: 'request-health', result_status: 'ok' });
      } finally {
        await store.close();
      }
    } finally {
      await booth.endAsync();
    }
    const unknown = hq(['cmd', 'st-pg-al', 'lock', '--wait', '0'], env);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/station "st-pg-al" is not registered at headquarters — did you mean "st-pg-all"\?/);
  }, 180_000);

  it('hq revoke cuts the station\'s key in PostgreSQL and raises its alarm there', async () => {
    const r = hq(['revoke', f.stationId, '--json'], env);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ stationId: f.stationId, keys: 1 });
    const store = await PgHqStore.open({ url });
    try {
      const [k] = await store.stationKeyStates(f.stationId);
      expect(k?.revokedAt).not.toBeNull();
      expect((await store.openAlarms()).map((a) => a.kind)).toContain('station-revoked');
    } finally {
      await store.close();
    }
    const a = hq(['alarms'], env);
    expect(a.stdout).toMatch(/station-revoked\s+st-pg-all/);
  });
});
