/**
 * The station process is killed with SIGKILL mid-batch and restarted: the vault
 * state alone lets it resume; headquarters ends with every record exactly once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto';
import { makeFixture, openOutbox, waitFor, hqPrivate, type Fixture } from './helpers';
import { checkInvariant } from './invariant';
import { startHq, type HqHandle } from '../../sync/hq/ingest';

const ROOT = join(__dirname, '..', '..');

function spawnStation(cfgPath: string): ChildProcess {
  const p = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', join(__dirname, 'station-proc.ts'), cfgPath], {
    cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TS_NODE_TRANSPILE_ONLY: '1' },
  });
  p.stdout!.setEncoding('utf8');
  p.stderr!.setEncoding('utf8');
  return p;
}

describe('station killed with SIGKILL mid-batch', () => {
  let broker: Mosquitto;
  let f: Fixture;
  let hq: HqHandle;
  const procs: ChildProcess[] = [];
  beforeAll(async () => {
    broker = await startMosquitto();
    f = await makeFixture('st-sigkill');
    hq = await startHq({ brokerUrl: broker.url, dataDir: f.hqDir, workerId: 'w1' });
    hq.store.registerStation({ stationId: f.stationId, publicKey: f.stationPubPem });
  });
  afterAll(async () => {
    for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    await hq?.stop();
    await broker?.dispose();
    f?.cleanup();
  });

  it('resumes from the vault after SIGKILL and ends exactly once', async () => {
    const ob = await openOutbox(f);
    const ids = await ob.sealN(150, 20_000);
    const cfgPath = join(f.root, 'station.json');
    writeFileSync(cfgPath, JSON.stringify({ brokerUrl: broker.url, stationId: f.stationId, stationDir: f.stationDir, stationKeyPem: f.stationKeyPem, hqPublicPath: join(f.hqDir, 'keys', 'hq-public.json') }));

    const p1 = spawnStation(cfgPath);
    procs.push(p1);
    let out1 = '';
    p1.stdout!.on('data', (d: string) => { out1 += d; });
    p1.stderr!.on('data', (d: string) => { out1 += d; });
    await waitFor(() => hq.store.recordCount() >= 30, 60_000, `first batches stored (station output: ${out1.slice(-500)})`);
    p1.kill('SIGKILL');
    await new Promise<void>((r) => (p1.exitCode !== null || p1.signalCode !== null ? r() : p1.once('exit', () => r())));
    const mid = ob.states();
    const acked = Object.values(mid).filter((s) => s === 'acknowledged' || s === 'released').length;
    expect(acked).toBeLessThan(ids.length);
    // what was acknowledged before the kill is at HQ exactly once, with its receipt
    checkInvariant({ ids, stationId: f.stationId, hq: hq.store, states: mid, receiptOf: (id) => ob.receiptOf(id), receiptKey: hqPrivate(f).receiptKey, expectAllAcked: false });

    const p2 = spawnStation(cfgPath);
    procs.push(p2);
    let out2 = '';
    p2.stdout!.on('data', (d: string) => { out2 += d; });
    p2.stderr!.on('data', (d: string) => { out2 += d; });
    await waitFor(() => ob.acked() === ids.length, 90_000, `all acknowledged after restart (station output: ${out2.slice(-500)})`);
    p2.kill('SIGTERM');
    await new Promise<void>((r) => (p2.exitCode !== null || p2.signalCode !== null ? r() : p2.once('exit', () => r())));
    checkInvariant({ ids, stationId: f.stationId, hq: hq.store, states: ob.states(), receiptOf: (id) => ob.receiptOf(id), receiptKey: hqPrivate(f).receiptKey, expectAllAcked: true });
    ob.close();
  }, 180_000);
});
