/**
 * A stolen booth can be cut off (#13 item 5), against a real Mosquitto with the
 * real vault, uplink and ingest, and `hq revoke` as ops run it: records the
 * station sealed before the cutoff are placed by its own audit chain and
 * accepted (held until the chain arrives, never lost); records sealed after it
 * are refused as revoked-key with an alarm, and so is a record whose sealedAt
 * is dated back before the cutoff but which the chain does not hold.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createPrivateKey } from 'node:crypto';
import { join } from 'node:path';
import pino from 'pino';
import { startMosquitto } from '../helpers/mosquitto';
import { makeFixture, makeRecord, openOutbox, waitFor } from '../uplink/helpers';
import { plantInVault } from './craft';
import { Uplink } from '../../sync/uplink';
import { startHq, type HqHandle } from '../../sync/hq/ingest';
import { Sealer } from '../../sync/wire/envelope';
import { encodeRecord } from '../../sync/wire/record';
import { loadHqPrivateKeys } from '../../sync/wire/keys';
import { checkInvariant } from '../uplink/invariant';
import { readVaultStatus } from '../../station/vault';
import { hqInProcess } from '../helpers/hq-inprocess';

const testLog = process.env.UPLINK_TEST_LOG ? pino({ level: process.env.UPLINK_TEST_LOG }, pino.destination(2)) : undefined;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) {
    try { await c(); } catch { /* best effort */ }
  }
});

const hq = hqInProcess;

describe('hq revoke (real Mosquitto)', () => {
  it('records sealed before the cutoff are accepted by their place in the audit chain; after it, or dated back outside the chain, refused with an alarm', async () => {
    const broker = await startMosquitto();
    cleanups.push(() => broker.dispose());
    const f = await makeFixture('st-stolen');
    cleanups.push(() => f.cleanup());
    const ob = await openOutbox(f, undefined, { heldRetry: { baseMs: 300, maxMs: 600 } });
    cleanups.push(() => ob.close());
    const ingest: HqHandle = await startHq({ brokerUrl: broker.url, dataDir: f.hqDir, workerId: 'w1', logger: testLog });
    cleanups.push(() => ingest.stop());
    ingest.store.registerStation({ stationId: f.stationId, unit: 'UNIT-A', publicKey: f.stationPubPem });
    await waitFor(() => ingest.connected(), 20_000, 'hq connected');
    const g = ['--data-dir', f.hqDir, '--broker', broker.url];

    // the booth is offline: two genuine enrollments, then it is stolen; the thief, holding its key, enrolls more
    const genuine = await ob.sealN(2, 2_000);
    const last = ob.recordState(genuine[1]!)!;
    const cutoff = Date.now();
    await waitFor(() => Date.now() > cutoff + 2, 1_000, 'clock past the cutoff');
    const forged = await ob.sealN(2, 2_000);
    expect(last).toBeTruthy();

    // bad input first: an unknown station, an unreadable time
    expect((await hq([...g, 'revoke', 'st-stolne'])).err).toMatch(/not registered at headquarters — did you mean "st-stolen"/);
    const badTime = await hq([...g, 'revoke', f.stationId, '--after', 'yesterday-ish']);
    expect(badTime.code).toBe(2);
    expect(badTime.err).toMatch(/--after yesterday-ish: not a time/);
    const r = await hq([...g, 'revoke', f.stationId, '--after', new Date(cutoff).toISOString(), '--json']);
    expect(r.code).toBe(0);
    // headquarters holds none of its chain yet: the cutoff is a time until the chain passes it
    expect(JSON.parse(r.out)).toMatchObject({ stationId: f.stationId, keys: 1, until: cutoff, throughSeq: null });

    // the booth (or the thief) connects and uploads everything
    const up = new Uplink({
      brokerUrl: broker.url, stationId: f.stationId, outbox: ob, signingKey: createPrivateKey(f.stationKeyPem), hqIdentity: f.hqPublic, dataDir: f.stationDir,
      maxBatchRecords: 4, receiptTimeoutMs: 1_500, receiptTimeoutMaxMs: 4_000, reconnectBaseMs: 200, reconnectMaxMs: 1_500, idlePollMs: 250, logger: testLog,
    });
    cleanups.push(() => up.stop(2_000));
    await up.start();
    await waitFor(() => ob.acked() === genuine.length, 60_000, 'the genuine records acknowledged');
    await waitFor(() => forged.every((id) => ob.refusedRecords().some((x) => x.recordId === id && x.state === 'rejected')), 60_000, 'the records after the cutoff rejected');
    const kept = new Map(ob.refusedRecords().map((x) => [x.recordId, x]));
    for (const id of forged) expect(kept.get(id)).toMatchObject({ state: 'rejected', reason: 'revoked-key' });
    expect(kept.get(forged[0]!)!.detail).toMatch(/sealed at audit entry \d+ .*after the cutoff of key [0-9a-f]{16} revoked/);
    expect(ingest.store.recordCount(f.stationId)).toBe(genuine.length);
    checkInvariant({ ids: [...genuine, ...forged], stationId: f.stationId, hq: ingest.store, states: ob.states(), receiptOf: (id) => ob.receiptOf(id), receiptKey: loadHqPrivateKeys(join(f.hqDir, 'keys')).receiptKey });
    await waitFor(() => ingest.store.openAlarms().some((a) => a.kind === 'revoked-key' && a.station_id === f.stationId && a.count >= 2), 10_000, 'revoked-key alarm');
    expect(ingest.store.openAlarms().some((a) => a.kind === 'station-revoked')).toBe(true);
    // the chain has passed the cutoff: it is now pinned to a place in the chain
    await waitFor(() => ingest.store.stationKeyStates(f.stationId)[0]!.validThroughSeq !== null, 10_000, 'cutoff pinned');
    const pinned = ingest.store.stationKeyStates(f.stationId)[0]!.validThroughSeq!;
    expect(ingest.store.auditSealOf(f.stationId, genuine[1]!, last.sealedAt)!.seq).toBeLessThanOrEqual(pinned);

    // a record the thief dates back before the cutoff, without a place in the chain: refused too
    const rec = makeRecord(f.stationId, 500);
    const back = await new Sealer('x25519-chacha20poly1305', f.hqPublic, createPrivateKey(f.stationKeyPem)).sealBytes(rec.recordId, f.stationId, encodeRecord(rec), cutoff - 60_000);
    plantInVault(f.stationDir, [{ recordId: rec.recordId, envelope: back.envelope, sha256: back.sha256, sealedAt: cutoff - 60_000 }]);
    up.notify();
    await waitFor(() => ob.refusedRecords().some((x) => x.recordId === rec.recordId && x.state === 'rejected'), 60_000, 'the backdated record rejected');
    expect(ob.refusedRecords().find((x) => x.recordId === rec.recordId)).toMatchObject({ reason: 'revoked-key', detail: expect.stringMatching(/is not in the station's audit chain through the cutoff/) });
    expect(ingest.store.recordCount(f.stationId)).toBe(genuine.length);
    // the technician sees why at the booth
    const s = await readVaultStatus(f.stationDir);
    expect(s.refusals).toEqual(expect.arrayContaining([expect.objectContaining({ state: 'rejected', reason: 'revoked-key', count: 3 })]));
  }, 180_000);
});
