/**
 * The scenarios, each against its own real Mosquitto. Every one ends
 * with the same invariant check (invariant.ts).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createPrivateKey } from 'node:crypto';
import mqtt from 'mqtt';
import { startMosquitto, type Mosquitto, type MosquittoOptions } from '../helpers/mosquitto';
import { makeFixture, openOutbox, waitFor, hqPrivate, type Fixture, type TestOutbox } from './helpers';
import { checkInvariant } from './invariant';
import { Uplink, type UplinkOptions } from '../../sync/uplink';
import { startHq, type HqHandle, type HqOptions } from '../../sync/hq/ingest';
import { topics } from '../../sync/topics';
import { buildFrames } from '../../sync/wire/frame';
import { signMessage, encodeSigned } from '../../sync/wire/signed';
import { generateKeyPairSync } from 'node:crypto';
import pino from 'pino';

const testLog = process.env.UPLINK_TEST_LOG ? pino({ level: process.env.UPLINK_TEST_LOG }, pino.destination(2)) : undefined;

type Ob = TestOutbox;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) {
    try { await c(); } catch { /* best effort */ }
  }
});

async function env(stationId: string, brokerOpts: MosquittoOptions = {}) {
  const broker = await startMosquitto(brokerOpts);
  cleanups.push(() => broker.dispose());
  const f = await makeFixture(stationId);
  cleanups.push(() => f.cleanup());
  const ob = await openOutbox(f);
  cleanups.push(() => ob.close());
  return { broker, f, ob };
}

async function hqOn(broker: Mosquitto, f: Fixture, extra: Partial<HqOptions> = {}): Promise<HqHandle> {
  const hq = await startHq({ brokerUrl: broker.url, dataDir: f.hqDir, workerId: extra.workerId ?? 'w1', logger: testLog, ...extra });
  hq.store.registerStation({ stationId: f.stationId, unit: 'UNIT-A', publicKey: f.stationPubPem });
  cleanups.push(() => hq.stop());
  await waitFor(() => hq.connected(), 20_000, 'hq connected');
  return hq;
}

function uplinkOn(broker: Mosquitto, f: Fixture, ob: Ob, extra: Partial<UplinkOptions> = {}): Uplink {
  const up = new Uplink({
    brokerUrl: broker.url, stationId: f.stationId, outbox: ob, signingKey: createPrivateKey(f.stationKeyPem),
    hqIdentity: f.hqPublic, dataDir: f.stationDir, maxBatchRecords: 10, receiptTimeoutMs: 1_500, receiptTimeoutMaxMs: 4_000,
    reconnectBaseMs: 200, reconnectMaxMs: 1_500, logger: testLog, ...extra,
  });
  cleanups.push(() => up.stop(2_000));
  return up;
}

function invariant(f: Fixture, ob: Ob, hq: HqHandle, ids: string[], all = true): void {
  checkInvariant({ ids, stationId: f.stationId, hq: hq.store, states: ob.states(), receiptOf: (id) => ob.receiptOf(id), receiptKey: hqPrivate(f).receiptKey, expectAllAcked: all });
}

describe('uplink scenarios (real Mosquitto)', () => {
  it('broker killed with SIGKILL mid-batch and restarted: nothing lost, nothing doubled', async () => {
    const { broker, f, ob } = await env('st-kill-broker');
    const hq = await hqOn(broker, f);
    const ids = await ob.sealN(120, 20_000);
    const up = uplinkOn(broker, f, ob);
    await up.start();
    await waitFor(() => hq.store.recordCount() >= 20, 30_000, 'first batches stored');
    await broker.kill9();
    const ackedAtKill = ob.acked();
    expect(ackedAtKill).toBeLessThan(ids.length);
    await waitFor(() => !up.status().connected, 20_000, 'station sees the broker gone'); // down while the station notices
    await broker.start();
    await waitFor(() => ob.acked() === ids.length, 90_000, 'all acknowledged after broker restart');
    invariant(f, ob, hq, ids);
  }, 150_000);

  it('headquarters down for a while, then back: the station holds, resends, and ends exactly once', async () => {
    const { broker, f, ob } = await env('st-hq-down');
    let hq = await hqOn(broker, f);
    const ids = await ob.sealN(30, 5_000);
    const up = uplinkOn(broker, f, ob);
    await up.start();
    await waitFor(() => ob.acked() === 30, 30_000, 'first wave acknowledged');
    await hq.stop();
    await waitFor(() => up.status().paused, 10_000, 'station sees ingest offline');
    ids.push(...await ob.sealN(30, 5_000));
    const sent: { records: number }[] = [];
    up.on('sent', (e: { records: number }) => sent.push(e));
    up.syncNow(); // forced send while HQ is down: batches wait at the broker or are resent later
    // The broker has taken the second wave (the event comes after its acknowledgement); with no
    // headquarters to answer, nothing may count as acknowledged. No sleep: a receipt could only
    // follow this event, and there is no one to send it.
    await waitFor(() => sent.some((e) => e.records > 0), 30_000, 'second wave published while headquarters is down');
    expect(ob.acked()).toBe(30);
    expect(ob.stats().inFlight).toBeGreaterThan(0);
    hq = await hqOn(broker, f);
    await waitFor(() => ob.acked() === ids.length, 60_000, 'all acknowledged after hq returns');
    invariant(f, ob, hq, ids);
  });

  it('the same batch published twice is stored once and answered "duplicate"', async () => {
    const { broker, f, ob } = await env('st-dup');
    const hq = await hqOn(broker, f);
    const ids = await ob.sealN(5, 2_000);
    const b = ob.openBatch(10, 1 << 20)!;
    const frame = buildFrames({ stationId: f.stationId, batchId: b.batchId, attempt: 1, items: b.items }, 1 << 20)[0]!;
    const c = await mqtt.connectAsync(broker.url, { protocolVersion: 5 });
    cleanups.push(() => c.endAsync());
    const receipts: string[] = [];
    c.on('message', (_t, p) => receipts.push(p.toString()));
    await c.subscribeAsync(topics.receipt(f.stationId), { qos: 1 });
    await c.publishAsync(topics.batch(f.stationId), frame, { qos: 1 });
    await waitFor(() => receipts.length === 1, 20_000, 'first receipt');
    await c.publishAsync(topics.batch(f.stationId), frame, { qos: 1 });
    await waitFor(() => receipts.length === 2, 20_000, 'second receipt');
    const bodies = receipts.map((r) => JSON.parse((JSON.parse(r) as { body: string }).body) as { results: { status: string }[] });
    expect(bodies[0]!.results.every((x) => x.status === 'stored')).toBe(true);
    expect(bodies[1]!.results.every((x) => x.status === 'duplicate')).toBe(true);
    expect(hq.store.recordCount(f.stationId)).toBe(5);
    // the real uplink then resends the same in-flight batch and gets it acknowledged as duplicate
    const up = uplinkOn(broker, f, ob);
    await up.start();
    await waitFor(() => ob.acked() === 5, 20_000, 'acknowledged');
    expect(hq.store.recordCount(f.stationId)).toBe(5);
    invariant(f, ob, hq, ids);
  });

  it('batches arriving together are committed together; one that cannot be stored gets no receipt and takes no other down', async () => {
    const { broker, f, ob } = await env('st-group');
    const hq = await hqOn(broker, f);
    await ob.sealN(12, 2_000);
    const batches = [0, 1, 2, 3].map(() => ob.openBatch(3, 1 << 20)!);
    const frames = batches.map((b) => buildFrames({ stationId: f.stationId, batchId: b.batchId, attempt: 1, items: b.items }, 1 << 20)[0]!);
    // headquarters' database refuses one record of the second batch
    const bad = batches[1]!.items[1]!.recordId;
    hq.db.exec(`CREATE TEMP TRIGGER refuse_one BEFORE INSERT ON records WHEN NEW.record_id = '${bad}' BEGIN SELECT RAISE(ABORT, 'test: refused'); END`);
    const commits: { batches: number; failed: number }[] = [];
    hq.events.on('commit', (e: { batches: number; failed: number }) => commits.push(e));
    const c = await mqtt.connectAsync(broker.url, { protocolVersion: 5 });
    cleanups.push(() => c.endAsync());
    const receipts: { batchId: string; results: { status: string }[] }[] = [];
    c.on('message', (_t, p) => receipts.push(JSON.parse((JSON.parse(p.toString()) as { body: string }).body)));
    await c.subscribeAsync(topics.receipt(f.stationId), { qos: 1 });
    await Promise.all(frames.map((fr) => c.publishAsync(topics.batch(f.stationId), fr, { qos: 1 })));
    await waitFor(() => receipts.length === 3 && commits.reduce((n, x) => n + x.batches + x.failed, 0) === 4, 20_000, 'three receipts');
    expect(commits.reduce((n, x) => n + x.failed, 0)).toBe(1);
    expect(hq.store.recordCount(f.stationId)).toBe(9); // nothing of the refused batch, all of the others
    // the cause goes away; the station's resend is stored and answered
    hq.db.exec('DROP TRIGGER temp.refuse_one');
    await c.publishAsync(topics.batch(f.stationId), frames[1]!, { qos: 1 });
    const resent = (r: { batchId: string; results: { status: string }[] }) => r.batchId === batches[1]!.batchId && r.results.every((x) => x.status === 'stored');
    await waitFor(() => receipts.some(resent), 20_000, 'receipt for the resent batch');
    // Receipts come on one topic from one publisher, in order: a receipt for the refused batch would
    // have arrived before this one. So exactly the three others came before it, and nothing else.
    expect(receipts.slice(0, 3).map((r) => r.batchId).sort()).toEqual([batches[0]!, batches[2]!, batches[3]!].map((b) => b.batchId).sort());
    expect(receipts).toHaveLength(4);
    expect(resent(receipts[3]!)).toBe(true);
    expect(receipts[3]!.results.map((x) => x.status)).toEqual(['stored', 'stored', 'stored']);
    expect(hq.store.recordCount(f.stationId)).toBe(12);
  });

  it('a forged receipt and a receipt for an unknown batch are ignored and reported', async () => {
    const { broker, f, ob } = await env('st-forged');
    const ids = await ob.sealN(4, 2_000);
    const up = uplinkOn(broker, f, ob, { receiptTimeoutMs: 60_000 });
    const security: string[] = [];
    up.on('security', (e: { reason: string }) => security.push(e.reason));
    const sent: string[] = [];
    up.on('sent', (e: { batchId: string }) => sent.push(e.batchId));
    await up.start();
    await waitFor(() => sent.length >= 1, 20_000, 'batch sent (no HQ yet)');
    const b = ob.inFlightBatches()[0]!;
    const results = b.items.map((i) => ({ recordId: i.recordId, sha256: i.sha256, status: 'stored' }));
    const { batchHash } = await import('../../sync/wire/frame.js');
    const body = { type: 'receipt', stationId: f.stationId, batchId: b.batchId, batchHash: batchHash(b.batchId, b.items), results, at: Date.now(), worker: 'evil' };
    const c = await mqtt.connectAsync(broker.url, { protocolVersion: 5 });
    cleanups.push(() => c.endAsync());
    // 1) right shape, signed by a key HQ does not own, claiming HQ's key id
    const evil = generateKeyPairSync('ed25519').privateKey;
    const forged = signMessage(body, evil, (await import('../../sync/wire/signed.js')).keyId(hqPrivate(f).receiptKey));
    await c.publishAsync(topics.receipt(f.stationId), encodeSigned(forged), { qos: 1 });
    // 2) validly signed by HQ's receipt key, but for a batch the station never sent
    const unknown = signMessage({ ...body, batchId: '01900000-0000-7000-8000-000000000000' }, hqPrivate(f).receiptKey);
    await c.publishAsync(topics.receipt(f.stationId), encodeSigned(unknown), { qos: 1 });
    // 3) garbage
    await c.publishAsync(topics.receipt(f.stationId), Buffer.from('{not json'), { qos: 1 });
    await waitFor(() => security.length >= 3, 20_000, 'three security events');
    expect(security.some((s) => /bad signature/.test(s))).toBe(true);
    expect(security.some((s) => /unknown batch/.test(s))).toBe(true);
    expect(ob.acked()).toBe(0);
    expect(Object.values(ob.states()).every((s) => s === 'in_flight' || s === 'sealed')).toBe(true);
    // the genuine HQ then completes the job
    const hq = await hqOn(broker, f);
    up.syncNow();
    await waitFor(() => ob.acked() === ids.length, 30_000, 'acknowledged by the real HQ');
    invariant(f, ob, hq, ids);
  });

  it('an enrollment larger than the broker packet limit is chunked and reassembled', async () => {
    const { broker, f, ob } = await env('st-chunk', { maxPacketSize: 64 * 1024 });
    const hq = await hqOn(broker, f);
    const small = await ob.sealN(3, 1_000);
    const big = await ob.sealN(1, 300_000);
    const more = await ob.sealN(3, 1_000);
    const ids = [...small, ...big, ...more];
    const up = uplinkOn(broker, f, ob);
    const frames: number[] = [];
    up.on('sent', (e: { frames: number }) => frames.push(e.frames));
    await up.start();
    await waitFor(() => ob.acked() === ids.length, 60_000, 'all acknowledged');
    expect(up.status().brokerMaxPacket).toBe(64 * 1024);
    expect(Math.max(...frames)).toBeGreaterThanOrEqual(5);
    const row = hq.store.findRecord(big[0]!)!;
    expect(row.envelope.length).toBeGreaterThan(300_000);
    expect((hq.db.prepare('SELECT COUNT(*) AS n FROM chunks').get() as { n: number }).n).toBe(0);
    invariant(f, ob, hq, ids);
  });

  it('two headquarters workers on one shared subscription split the load, each record stored once', async () => {
    const { broker, f, ob } = await env('st-shared');
    const w1 = await hqOn(broker, f, { workerId: 'w1' });
    const w2 = await hqOn(broker, f, { workerId: 'w2' });
    const ids = await ob.sealN(120, 2_000);
    const up = uplinkOn(broker, f, ob, { maxBatchRecords: 5 });
    await up.start();
    await waitFor(() => ob.acked() === ids.length, 60_000, 'all acknowledged');
    const byWorker = w1.db.prepare('SELECT worker, COUNT(*) AS n FROM records GROUP BY worker').all() as { worker: string; n: number }[];
    expect(byWorker.map((r) => r.worker).sort()).toEqual(['w1', 'w2']);
    expect(byWorker.reduce((s, r) => s + r.n, 0)).toBe(ids.length);
    invariant(f, ob, w1, ids);
    void w2;
  });

  it('malformed payloads on subscribed topics are dropped without blocking the outbox', async () => {
    const { broker, f, ob } = await env('st-garbage');
    const hq = await hqOn(broker, f);
    const c = await mqtt.connectAsync(broker.url, { protocolVersion: 5 });
    cleanups.push(() => c.endAsync());
    for (const [t, p] of [
      [topics.batch(f.stationId), Buffer.from('ESB\x01\xff\xff\xff\xffjunk', 'latin1')],
      [topics.batch(f.stationId), Buffer.alloc(3)],
      [topics.status(f.stationId), Buffer.from('[')],
      [topics.health(f.stationId), Buffer.from('null')],
      [topics.events(f.stationId), Buffer.from('{}')],
      [topics.cmd(f.stationId, 'lock'), Buffer.from('not signed')],
      [topics.ingest('bogus'), Buffer.from('{"online": "yes"}')],
    ] as const) await c.publishAsync(t, p, { qos: 1 });
    const ids = await ob.sealN(12, 1_000);
    const up = uplinkOn(broker, f, ob);
    await up.start();
    await waitFor(() => ob.acked() === ids.length, 30_000, 'all acknowledged');
    invariant(f, ob, hq, ids);
  });

  it('a vault error while opening a batch is logged and retried, never crashes the uplink', async () => {
    const { broker, f, ob } = await env('st-vault-err');
    const hq = await hqOn(broker, f);
    const ids = await ob.sealN(6, 1_000);
    const real = ob.openBatch.bind(ob);
    let failures = 2;
    ob.openBatch = (n: number, b: number) => {
      if (failures > 0) { failures--; throw new Error('simulated vault failure'); }
      return real(n, b);
    };
    const up = uplinkOn(broker, f, ob, { receiptTimeoutMs: 300 });
    const errors: unknown[] = [];
    up.on('outbox-error', (e) => errors.push(e));
    await up.start();
    await waitFor(() => ob.acked() === ids.length, 30_000, 'all acknowledged after vault errors');
    expect(errors).toHaveLength(2);
    invariant(f, ob, hq, ids);
  });
});
