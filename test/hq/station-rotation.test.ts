/**
 * Station key rotation loses nothing (#13 item 4), against a real Mosquitto
 * with the real vault, uplink, key holder and ingest: `rotate-key` makes the
 * station switch keys; its answer, signed by the old key, vouches for the new
 * one and headquarters registers it with no technician; records sealed before,
 * during and after the rotation are all stored and acknowledged.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { startMosquitto } from '../helpers/mosquitto';
import { makeFixture, openOutbox, waitFor } from '../uplink/helpers';
import { checkInvariant } from '../uplink/invariant';
import { Uplink } from '../../sync/uplink';
import { startHq } from '../../sync/hq/ingest';
import { sendCommand } from '../../sync/hq/commands';
import { loadHqPrivateKeys } from '../../sync/wire/keys';
import { checkSignature, digestEnvelope } from '../../sync/wire/envelope';
import { StationKeyHolder } from '../../station/keys';
import { createPublicKey } from 'node:crypto';
import mqtt from 'mqtt';
import { v7 as uuidv7 } from 'uuid';
import { generateStationKeyPair } from '../../sync/wire/keys';
import { encodeSigned, signMessage } from '../../sync/wire/signed';
import { resultBody } from '../../sync/commands';
import { topics } from '../../sync/topics';

const testLog = process.env.UPLINK_TEST_LOG ? pino({ level: process.env.UPLINK_TEST_LOG }, pino.destination(2)) : undefined;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) {
    try { await c(); } catch { /* best effort */ }
  }
});

describe('station key rotation (real Mosquitto)', () => {
  it('the old key vouches for the new one, headquarters registers it by itself, and records sealed before, during and after are all accepted', async () => {
    const broker = await startMosquitto();
    cleanups.push(() => broker.dispose());
    const f = await makeFixture('st-rekey');
    cleanups.push(() => f.cleanup());
    mkdirSync(join(f.stationDir, 'keys'), { recursive: true });
    writeFileSync(join(f.stationDir, 'keys', 'station-ed25519.key'), f.stationKeyPem, { mode: 0o600 });
    writeFileSync(join(f.stationDir, 'keys', 'station-ed25519.pub'), f.stationPubPem);
    const holder = new StationKeyHolder(f.stationDir);
    const ob = await openOutbox(f, undefined, { signingKey: holder, heldRetry: { baseMs: 300, maxMs: 600 } });
    cleanups.push(() => ob.close());
    const hq = await startHq({ brokerUrl: broker.url, dataDir: f.hqDir, workerId: 'w1', logger: testLog });
    cleanups.push(() => hq.stop());
    hq.store.registerStation({ stationId: f.stationId, unit: 'UNIT-A', publicKey: f.stationPubPem });
    await waitFor(() => hq.connected(), 20_000, 'hq connected');
    const up = new Uplink({
      brokerUrl: broker.url, stationId: f.stationId, outbox: ob, signingKey: holder, hqIdentity: f.hqPublic, dataDir: f.stationDir,
      maxBatchRecords: 2, receiptTimeoutMs: 1_500, receiptTimeoutMaxMs: 4_000, reconnectBaseMs: 200, reconnectMaxMs: 1_500, idlePollMs: 250, logger: testLog,
      commands: {
        lock: () => ({}), unlock: () => ({}), setPolicy: () => ({}),
        rotateKey: () => {
          // as station/app.ts does
          const r = holder.rotate();
          ob.audit.append('command_received', { name: 'rotate-key', fingerprint: r.fingerprint, previous: r.previousFingerprint });
          return { publicKey: r.publicKey, publicKeyPem: r.publicKeyPem, fingerprint: r.fingerprint };
        },
      },
    });
    cleanups.push(() => up.stop(2_000));
    await up.start();
    await waitFor(() => up.status().connected, 20_000, 'station connected');
    const oldFp = holder.current().fingerprint;

    const before = await ob.sealN(3, 2_000); // on their way while the command goes out
    const ops = loadHqPrivateKeys(join(f.hqDir, 'keys')).opsKey;
    const [res, during] = await Promise.all([
      sendCommand({ brokerUrl: broker.url, opsKey: ops, target: f.stationId, name: 'rotate-key', args: {}, waitMs: 30_000, store: hq.store }),
      ob.sealN(4, 2_000),
    ]);
    expect(res.result).toMatchObject({ status: 'ok' });
    expect(res.resultVerified).toBe(true); // signed by the key headquarters knew: the old one
    const newFp = (res.result!.data as { fingerprint: string }).fingerprint;
    expect(newFp).not.toBe(oldFp);
    const after = await ob.sealN(3, 2_000);
    const ids = [...before, ...during, ...after];
    await waitFor(() => ob.acked() === ids.length, 60_000, 'every record acknowledged');

    // registered without `hq register`: the new key current, the old one trusted up to the rotation
    const keys = hq.store.stationKeyStates(f.stationId);
    expect(keys.map((k) => k.fingerprint)).toEqual([newFp, oldFp]);
    expect(keys[0]).toMatchObject({ retiredAt: null, validUntil: null, revokedAt: null });
    expect(keys[1]!.retiredAt).not.toBeNull();
    expect(keys[1]!.validUntil).toBe(res.result!.at);
    // records of both keys were stored: those sealed before the switch by the old, after it by the new
    const signerOf = (id: string): string => {
      const row = hq.store.db.prepare('SELECT envelope FROM records WHERE record_id = ?').get(id) as { envelope: Buffer };
      const d = digestEnvelope(row.envelope);
      return keys.find((k) => checkSignature(d, k.key))!.fingerprint;
    };
    expect(before.map(signerOf)).toEqual([oldFp, oldFp, oldFp]);
    expect(after.map(signerOf)).toEqual([newFp, newFp, newFp]);
    expect(new Set(ids.map(signerOf))).toEqual(new Set([oldFp, newFp]));
    checkInvariant({ ids, stationId: f.stationId, hq: hq.store, states: ob.states(), receiptOf: (id) => ob.receiptOf(id), receiptKey: loadHqPrivateKeys(join(f.hqDir, 'keys')).receiptKey, expectAllAcked: true });
    expect(hq.store.openAlarms().filter((a) => a.station_id === f.stationId).map((a) => a.kind)).toEqual([]);

    // an answer to a rotate-key headquarters never sent, though signed by the current key, is not registered, and says so
    const other = generateStationKeyPair();
    const forgedAnswer = resultBody(f.stationId, uuidv7(), 'rotate-key', 'ok', { data: { publicKey: Buffer.from((createPublicKey(other.publicKeyPem).export({ format: 'jwk' }) as { x: string }).x, 'base64url').toString('base64') } });
    const c = await mqtt.connectAsync(broker.url, { protocolVersion: 5 });
    cleanups.push(() => c.endAsync());
    await c.publishAsync(topics.cmdRes(f.stationId), encodeSigned(signMessage(forgedAnswer, holder.current().privateKey)), { qos: 1 });
    await waitFor(() => hq.store.openAlarms().some((a) => a.kind === 'key-rotation-refused' && /headquarters sent no such rotate-key command/.test(a.detail)), 20_000, 'refused rotation alarm');
    expect(hq.store.stationKeyStates(f.stationId)).toHaveLength(2);
    // and a key the station switched to on its own is refused, kept at the station
    holder.rotate();
    const three = await ob.sealN(1, 2_000);
    await waitFor(() => ob.refusedRecords().some((x) => x.recordId === three[0] && x.reason === 'bad-signature'), 60_000, 'a key headquarters never registered is refused');
    expect(hq.store.stationKeyStates(f.stationId)).toHaveLength(2);
  }, 180_000);
});
