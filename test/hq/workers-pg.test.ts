/**
 * Several ingest workers on one shared subscription and one PostgreSQL (#19
 * item 3), with a real Mosquitto, a real PostgreSQL the harness starts, and the
 * station's real vault and uplink: every record stored once; a worker killed
 * with SIGKILL mid-upload and restarted leaves the resends to settle to exactly
 * once; a worker that loses its database stops taking and receipting batches and
 * comes back when the database does.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { createPrivateKey } from 'node:crypto';
import { join } from 'node:path';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto';
import { startPostgres } from '../helpers/postgres';
import { makeFixture, openOutbox, waitFor, hqPrivate, type Fixture, type TestOutbox } from '../uplink/helpers';
import { checkInvariant } from '../uplink/invariant';
import { Uplink } from '../../sync/uplink';
import { startHq } from '../../sync/hq/ingest';
import { PgHqStore } from '../../sync/hq/store-pg';
import type { HqStore } from '../../sync/hq/store';

const ROOT = join(__dirname, '..', '..');
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) {
    try { await c(); } catch { /* best effort */ }
  }
});

async function env(stationId: string) {
  const pg = await startPostgres();
  cleanups.push(() => pg.dispose());
  const broker = await startMosquitto();
  cleanups.push(() => broker.dispose());
  const f = await makeFixture(stationId);
  cleanups.push(() => f.cleanup());
  const ob = await openOutbox(f);
  cleanups.push(() => ob.close());
  const url = pg.url(pg.createDatabase('hq'));
  const db = await PgHqStore.open({ url, poolSize: 2 });
  cleanups.push(() => db.close());
  await db.registerStation({ stationId: f.stationId, unit: 'UNIT-A', publicKey: f.stationPubPem });
  return { pg, broker, f, ob, url, db };
}

function uplinkOn(broker: Mosquitto, f: Fixture, ob: TestOutbox): Uplink {
  const up = new Uplink({
    brokerUrl: broker.url, stationId: f.stationId, outbox: ob, signingKey: createPrivateKey(f.stationKeyPem),
    hqIdentity: f.hqPublic, dataDir: f.stationDir, maxBatchRecords: 5, receiptTimeoutMs: 1_500, receiptTimeoutMaxMs: 4_000,
    reconnectBaseMs: 200, reconnectMaxMs: 1_500,
  });
  cleanups.push(() => up.stop(2_000));
  return up;
}

class Worker {
  proc!: ChildProcess;
  out = '';
  constructor(private readonly args: string[]) {}
  async start(): Promise<void> {
    this.out = '';
    this.proc = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', join(__dirname, 'hq-pg-proc.ts'), ...this.args], {
      cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TS_NODE_TRANSPILE_ONLY: '1' },
    });
    this.proc.stdout!.setEncoding('utf8').on('data', (d: string) => { this.out += d; });
    this.proc.stderr!.setEncoding('utf8').on('data', (d: string) => { this.out += d; });
    await waitFor(() => this.out.includes('ready') || this.proc.exitCode !== null, 60_000, `worker ready (${this.out.slice(-300)})`);
    if (!this.out.includes('ready')) throw new Error(`worker exited: ${this.out}`);
  }
  async kill9(): Promise<void> {
    const p = this.proc;
    if (p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise<void>((r) => p.once('exit', () => r()));
    p.kill('SIGKILL');
    await exited;
  }
  async stop(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise<void>((r) => p.once('exit', () => r()));
    p.kill('SIGTERM');
    await exited;
  }
}

/** The uplink invariant (test/uplink/invariant.ts) over the rows PostgreSQL holds. */
async function invariantPg(db: PgHqStore, f: Fixture, ob: TestOutbox, ids: string[]): Promise<void> {
  const rows = (await db.pool.query('SELECT record_id, sha256, envelope FROM records WHERE station_id = $1', [f.stationId])).rows;
  const view = { db: { prepare: () => ({ all: () => rows }) } } as unknown as HqStore;
  checkInvariant({ ids, stationId: f.stationId, hq: view, states: ob.states(), receiptOf: (id) => ob.receiptOf(id), receiptKey: hqPrivate(f).receiptKey, expectAllAcked: true });
}

describe('ingest workers on one PostgreSQL (real Mosquitto, real PostgreSQL)', () => {
  it('two worker processes split the load; one killed with SIGKILL mid-upload and restarted: every record stored exactly once', async () => {
    const { broker, f, ob, url, db } = await env('st-pg-workers');
    const w1 = new Worker([broker.url, f.hqDir, url, 'w1']);
    const w2 = new Worker([broker.url, f.hqDir, url, 'w2']);
    cleanups.push(() => w1.stop(), () => w2.stop());
    await w1.start();
    await w2.start();
    const ids = await ob.sealN(150, 4_000);
    const up = uplinkOn(broker, f, ob);
    await up.start();
    // both workers have stored some (the broker shares batches round robin, but on a loaded machine one
    // worker can still be busy starting while the first batches go to the other), then kill one mid-upload
    const workersSoFar = async (): Promise<number> => (await db.pool.query<{ n: number }>('SELECT COUNT(DISTINCT worker)::int AS n FROM records')).rows[0]!.n;
    await waitFor(async () => (await db.recordCount()) >= 30 && (await workersSoFar()) === 2, 60_000, 'first batches stored by both workers');
    await w1.kill9();
    const atKill = await db.recordCount();
    expect(atKill).toBeLessThan(ids.length); // killed mid-upload, not after
    await w1.start(); // same worker id, as systemd would restart it
    await waitFor(() => ob.acked() === ids.length, 120_000, `all acknowledged (w1: ${w1.out.slice(-300)}; w2: ${w2.out.slice(-300)})`);
    const byWorker = (await db.pool.query<{ worker: string; n: number }>('SELECT worker, COUNT(*)::int AS n FROM records GROUP BY worker ORDER BY worker')).rows;
    expect(byWorker.map((r) => r.worker)).toEqual(['w1', 'w2']);
    expect(byWorker.reduce((s, r) => s + r.n, 0)).toBe(ids.length);
    expect(await db.recordCount()).toBe(ids.length);
    await invariantPg(db, f, ob, ids);
  });

  it('a worker that loses its database takes and receipts nothing until the database is back, then everything settles exactly once', async () => {
    const { pg, broker, f, ob, url, db } = await env('st-pg-lost');
    const hq = await startHq({ brokerUrl: broker.url, dataDir: f.hqDir, workerId: 'w1', database: { url, poolSize: 2 }, databaseRetryMs: 200 });
    cleanups.push(() => hq.stop());
    const states: boolean[] = [];
    hq.events.on('database', (e: { up: boolean }) => states.push(e.up));
    const receiptsWhileDown: string[] = [];
    hq.events.on('receipt', (r: { batchId: string }) => { if (!hq.databaseUp()) receiptsWhileDown.push(r.batchId); });
    await waitFor(() => hq.connected(), 20_000, 'hq connected');
    const first = await ob.sealN(20, 2_000);
    const up = uplinkOn(broker, f, ob);
    await up.start();
    await waitFor(() => ob.acked() === first.length, 60_000, 'first records acknowledged');

    await db.close(); // the test's own connections too: the server goes away for everyone
    await pg.stop();
    const during = await ob.sealN(30, 2_000);
    up.notify();
    await waitFor(() => states.includes(false), 60_000, 'the worker notices the database is gone');
    expect(hq.databaseUp()).toBe(false);
    const ackedWhileDown = ob.acked();
    expect(ackedWhileDown).toBeLessThan(first.length + during.length);

    await pg.start();
    await waitFor(() => states.at(-1) === true, 60_000, 'the worker notices the database is back');
    await waitFor(() => ob.acked() === first.length + during.length, 120_000, 'everything acknowledged after the database came back');
    expect(receiptsWhileDown).toEqual([]);
    const again = await PgHqStore.open({ url, poolSize: 1 });
    cleanups.push(() => again.close());
    expect(await again.recordCount()).toBe(first.length + during.length);
    await invariantPg(again, f, ob, [...first, ...during]);
  });
});
