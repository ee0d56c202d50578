/**
 * Headquarters cannot be flooded through chunk sets (#13 item 6), against a
 * real Mosquitto: one station sends chunk frames announcing a million chunks
 * and a terabyte, then more incomplete chunk sets than it may have in flight;
 * each batch gets a receipt with its reason (too-large: rejected; quota: held),
 * one aggregated alarm per kind, nothing past the limit is stored, and another
 * station keeps uploading meanwhile.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createPrivateKey, randomBytes } from 'node:crypto';
import mqtt from 'mqtt';
import pino from 'pino';
import { v7 as uuidv7 } from 'uuid';
import { startMosquitto } from '../helpers/mosquitto';
import { makeFixture, openOutbox, waitFor } from '../uplink/helpers';
import { Uplink } from '../../sync/uplink';
import { startHq } from '../../sync/hq/ingest';
import { topics } from '../../sync/topics';
import { batchHash, encodeFrame, sha256Hex } from '../../sync/wire/frame';
import { generateStationKeyPair } from '../../sync/wire/keys';
import type { ReceiptBody } from '../../sync/wire/payloads';

const testLog = process.env.UPLINK_TEST_LOG ? pino({ level: process.env.UPLINK_TEST_LOG }, pino.destination(2)) : undefined;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) {
    try { await c(); } catch { /* best effort */ }
  }
});

describe('flood limits per station (real Mosquitto)', () => {
  it('a station flooding chunk sets is refused before anything is stored, with a reason and one alarm per kind; another keeps uploading', async () => {
    const broker = await startMosquitto();
    cleanups.push(() => broker.dispose());
    const f = await makeFixture('st-good');
    cleanups.push(() => f.cleanup());
    const ob = await openOutbox(f);
    cleanups.push(() => ob.close());
    const LIMIT = 1024 * 1024;
    const hq = await startHq({ brokerUrl: broker.url, dataDir: f.hqDir, workerId: 'w1', logger: testLog, floodLimits: { maxChunkBytesInFlight: LIMIT } });
    cleanups.push(() => hq.stop());
    hq.store.registerStation({ stationId: f.stationId, publicKey: f.stationPubPem });
    const bad = 'st-flood';
    hq.store.registerStation({ stationId: bad, publicKey: generateStationKeyPair().publicKeyPem });
    await waitFor(() => hq.connected(), 20_000, 'hq connected');

    const c = await mqtt.connectAsync(broker.url, { protocolVersion: 5 });
    cleanups.push(() => c.endAsync());
    const receipts = new Map<string, ReceiptBody>();
    c.on('message', (_t, p) => { const b = JSON.parse((JSON.parse(p.toString()) as { body: string }).body) as ReceiptBody; if (b.type === 'receipt') receipts.set(b.batchId, b); });
    await c.subscribeAsync(topics.receipt(bad), { qos: 1 });
    const chunk = (batchId: string, records: { id: string; sha256: string; len: number }[], index: number, count: number, offset: number, body: Buffer): Buffer =>
      encodeFrame({ v: 1, kind: 'chunk', stationId: bad, batchId, attempt: 1, sentAt: Date.now(), batchHash: batchHash(batchId, records.map((r) => ({ recordId: r.id, sha256: r.sha256 }))), records, chunk: { index, count, offset } }, body);

    // the genuine station uploads while the other floods
    const up = new Uplink({ brokerUrl: broker.url, stationId: f.stationId, outbox: ob, signingKey: createPrivateKey(f.stationKeyPem), hqIdentity: f.hqPublic, dataDir: f.stationDir, maxBatchRecords: 2, receiptTimeoutMs: 1_500, idlePollMs: 250, logger: testLog });
    cleanups.push(() => up.stop(2_000));
    await up.start();
    const ids = await ob.sealN(6, 2_000);

    // 1) a million chunks and a terabyte announced: 50 slices of 512 KB of the same batch
    const huge = uuidv7();
    const hugeRec = [{ id: uuidv7(), sha256: sha256Hex(Buffer.from('x')), len: 2 ** 40 }];
    const slice = randomBytes(512 * 1024);
    for (let i = 0; i < 50; i++) await c.publishAsync(topics.batch(bad), chunk(huge, hugeRec, i, 1_000_000, i * slice.length, slice), { qos: 1 });
    // 2) plausible chunk sets, never completed: past 1 MB in flight the next ones are held (quota)
    const sets: string[] = [];
    for (let s = 0; s < 6; s++) {
      const b = uuidv7();
      sets.push(b);
      const recs = [{ id: uuidv7(), sha256: sha256Hex(Buffer.from(b)), len: 10 * slice.length }];
      await c.publishAsync(topics.batch(bad), chunk(b, recs, 0, 10, 0, slice), { qos: 1 });
    }

    await waitFor(() => receipts.has(huge), 30_000, 'receipt for the oversized set');
    expect(receipts.get(huge)!.results).toEqual([expect.objectContaining({ status: 'rejected', reason: 'too-large', detail: expect.stringMatching(/1000000 chunks announced, at most 4096/) })]);
    // the first two sets fit in the megabyte; the rest are held back, each answered
    await waitFor(() => sets.slice(2).every((b) => receipts.has(b)), 30_000, 'receipts for the sets over quota');
    for (const b of sets.slice(2)) expect(receipts.get(b)!.results[0]).toMatchObject({ status: 'held', reason: 'quota', retryAfterS: expect.any(Number) });
    expect(receipts.has(sets[0]!) || receipts.has(sets[1]!)).toBe(false);
    // nothing of the oversized set stored, the rest within the limit
    const stored = hq.store.db.prepare('SELECT COUNT(*) AS n, COALESCE(SUM(LENGTH(data)), 0) AS bytes FROM chunks WHERE station_id = ?').get(bad) as { n: number; bytes: number };
    expect(stored).toEqual({ n: 2, bytes: 2 * slice.length });
    await waitFor(() => ob.acked() === ids.length, 60_000, 'the other station keeps uploading');
    await waitFor(() => hq.store.openAlarms().some((a) => a.kind === 'quota' && a.station_id === bad), 10_000, 'quota alarm');
    const alarms = hq.store.openAlarms().filter((a) => a.station_id === bad);
    expect(alarms.map((a) => a.kind).sort()).toEqual(['flood', 'quota']);
    expect(alarms.find((a) => a.kind === 'flood')!.count).toBe(50);
    expect(hq.store.openAlarms().filter((a) => a.station_id === f.stationId)).toEqual([]);
  }, 120_000);
});
