import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { createPrivateKey } from 'node:crypto';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto';
import { makeFixture, openOutbox, waitFor, hqPrivate, type Fixture } from './helpers';
import { checkInvariant } from './invariant';
import { Uplink } from '../../sync/uplink';
import { startHq, type HqHandle } from '../../sync/hq/ingest';
import mqtt from 'mqtt';
import { topics } from '../../sync/topics';

describe('uplink round trip through a real Mosquitto', () => {
  let broker: Mosquitto;
  let f: Fixture;
  beforeAll(async () => {
    broker = await startMosquitto();
    f = await makeFixture('st-rt-01');
  });
  afterAll(async () => {
    await broker?.dispose();
    f?.cleanup();
  });

  it('delivers every sealed record exactly once and releases only on a signed receipt', async () => {
    const hq: HqHandle = await startHq({ brokerUrl: broker.url, dataDir: f.hqDir, workerId: 'w1' });
    const prov = JSON.parse(readFileSync(f.provisionFile, 'utf8')) as { stationId: string; unit: string; publicKey: string };
    hq.store.registerStation({ stationId: prov.stationId, unit: prov.unit, publicKey: prov.publicKey });
    const received: string[] = [];
    hq.events.on('record', (e: { recordId: string; status: string }) => { if (e.status === 'stored') received.push(e.recordId); });
    await waitFor(() => hq.connected(), 15_000, 'hq connected');

    const ob = await openOutbox(f);
    const ids = await ob.sealN(25, 3000);
    const up = new Uplink({
      brokerUrl: broker.url, stationId: f.stationId, outbox: ob, signingKey: createPrivateKey(f.stationKeyPem),
      hqIdentity: f.hqPublic, dataDir: f.stationDir, maxBatchRecords: 10, receiptTimeoutMs: 5_000,
      health: () => ({ v: 1, at: Date.now(), version: 't', uptimeS: 1, diskFreeBytes: 1, backlog: { count: ob.stats().sealed, oldestAgeMs: null }, lastReceiptAt: null, devices: [], cpuTempC: null, clockOffsetMs: null, enrollments: { today: 3, quota: 100, unit: 'UNIT-A' } }),
    });
    await up.start();
    await waitFor(() => ob.acked() === ids.length, 30_000, 'all acknowledged');
    expect(new Set(received)).toEqual(new Set(ids));
    checkInvariant({ ids, stationId: f.stationId, hq: hq.store, states: ob.states(), receiptOf: (id) => ob.receiptOf(id), receiptKey: hqPrivate(f).receiptKey, expectAllAcked: true });
    // status and health reached the fleet table
    await waitFor(() => {
      const r = hq.db.prepare('SELECT state, health FROM fleet WHERE station_id = ?').get(f.stationId) as { state: string; health: string | null } | undefined;
      return r?.state === 'online' && !!r.health;
    }, 10_000, 'fleet row');
    // the vault's audit chain reached HQ and verified
    await waitFor(() => hq.store.auditHead(f.stationId).seq === ob.stats().auditHeadSeq, 20_000, 'audit chain at HQ');
    expect(hq.store.openAlarms()).toEqual([]);
    const mid = hq.store.auditHead(f.stationId);
    // a forged slice (rewritten history) raises an alarm and is not stored
    const c = await mqtt.connectAsync(broker.url, { protocolVersion: 5 });
    const entries = ob.auditEntriesSince(0, 3).map((e) => ({ ...e, data: { ...e.data, forged: true } }));
    await c.publishAsync(topics.audit(f.stationId), Buffer.from(JSON.stringify({ v: 1, stationId: f.stationId, entries })), { qos: 1 });
    const appended = { v: 1, stationId: f.stationId, entries: [{ seq: mid.seq + 1, ts: Date.now(), kind: 'alert', data: {}, prevHash: mid.hash, hash: 'ab'.repeat(32), sig: 'AAAA' }] };
    await c.publishAsync(topics.audit(f.stationId), Buffer.from(JSON.stringify(appended)), { qos: 1 });
    await waitFor(() => hq.store.openAlarms().some((a) => a.kind === 'audit-fork') && hq.store.openAlarms().some((a) => a.kind === 'audit-chain'), 20_000, 'audit alarms');
    expect(hq.store.auditHead(f.stationId).seq).toBeGreaterThanOrEqual(mid.seq);
    expect(hq.store.auditHashAt(f.stationId, mid.seq + 1)).not.toBe('ab'.repeat(32));
    await c.endAsync();
    await up.stop();
    await waitFor(() => (hq.db.prepare('SELECT state FROM fleet WHERE station_id = ?').get(f.stationId) as { state: string }).state === 'offline', 10_000, 'offline status');
    await hq.stop();
    ob.close();
  });
});
