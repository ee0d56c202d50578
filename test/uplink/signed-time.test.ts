/**
 * Signed time in headquarters' answers to health (#21): a station's health carries a fresh nonce,
 * headquarters answers it on the station's receipt topic with its clock signed by the receipt key,
 * and the station bounds true time by the round trip — without any record to send (a booth that
 * booted offline at 1970 and has nothing in its outbox still learns the time). Real Mosquitto, real
 * `hq` ingest. A forged or misaddressed answer is a security event; an answer to a nonce this
 * process never sent is ignored; a retained (old) health is not answered.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import mqtt from 'mqtt';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto';
import { makeFixture, openOutbox, waitFor, hqPrivate, type Fixture } from './helpers';
import { Uplink } from '../../sync/uplink';
import { startHq } from '../../sync/hq/ingest';
import { topics } from '../../sync/topics';
import { encodeSigned, signMessage, verifySignedBody, TrustedKeys } from '../../sync/wire/signed';
import { StationClock } from '../../station/clock';

type HqTime = { at: number; sentMono: number; receivedMono: number; source: string };

describe('signed time in answers to health', () => {
  let broker: Mosquitto;
  let f: Fixture;
  beforeAll(async () => {
    broker = await startMosquitto();
    f = await makeFixture('st-time-01');
  }, 60_000);
  afterAll(async () => {
    await broker?.dispose();
    f?.cleanup();
  });

  it('a station with an empty outbox and a 1970 clock gets trusted time from its first health answer', async () => {
    const hq = await startHq({ brokerUrl: broker.url, dataDir: f.hqDir, workerId: 'w1' });
    const prov = JSON.parse(readFileSync(f.provisionFile, 'utf8')) as { stationId: string; unit: string; publicKey: string };
    hq.store.registerStation({ stationId: prov.stationId, unit: prov.unit, publicKey: prov.publicKey });
    await waitFor(() => hq.connected(), 15_000, 'hq connected');
    const ob = await openOutbox(f);
    const clock = new StationClock({ wall: () => 0 }); // booted offline, no RTC: the wall clock reads 1970
    const times: HqTime[] = [];
    const security: { kind?: string }[] = [];
    const up = new Uplink({
      brokerUrl: broker.url, stationId: f.stationId, outbox: ob, signingKey: createPrivateKey(f.stationKeyPem),
      hqIdentity: f.hqPublic, dataDir: f.stationDir, receiptTimeoutMs: 5_000, healthIntervalMs: 3_600_000,
      health: () => ({ v: 1, at: 0, version: 't', uptimeS: 1, diskFreeBytes: 1, backlog: { count: 0, oldestAgeMs: null }, lastReceiptAt: null, devices: [], cpuTempC: null, clockOffsetMs: null, enrollments: { today: 0, quota: null, unit: null } }),
    });
    up.on('hq-time', (x: HqTime) => { times.push(x); clock.observe(x.at, x.sentMono, x.receivedMono); });
    up.on('security', (e: { kind?: string }) => security.push(e));
    // a receipt-topic listener, to see what headquarters sends
    const spy = await mqtt.connectAsync(broker.url, { protocolVersion: 5 });
    const onReceiptTopic: string[] = [];
    spy.on('message', (_t, m) => onReceiptTopic.push(m.toString('utf8')));
    await spy.subscribeAsync(topics.receipt(f.stationId), { qos: 1 });

    expect(clock.trusted()).toBeNull();
    const before = Date.now();
    await up.start();
    await waitFor(() => times.length >= 1, 30_000, 'signed time from headquarters');
    const after = Date.now();
    expect(times[0]!.source).toBe('health');
    expect(times[0]!.at).toBeGreaterThanOrEqual(before);
    expect(times[0]!.at).toBeLessThanOrEqual(after);
    expect(times[0]!.receivedMono).toBeGreaterThanOrEqual(times[0]!.sentMono);
    // the station now knows true time within its uncertainty, though its own clock says 1970
    const t = clock.trusted()!;
    expect(Math.abs(t.now - Date.now())).toBeLessThanOrEqual(t.uncertaintyMs + 2);
    expect(t.offsetMs).toBeGreaterThan(1_700_000_000_000);
    expect(clock.status().skewed).toBe(true);
    // what went over the wire is a signed `time` body under the receipt key, echoing a 32-hex nonce
    const keys = hqPrivate(f);
    const timeAnswer = () => onReceiptTopic.map((m) => verifySignedBody(m, new TrustedKeys([keys.receiptKey]), ['time'])).find((x) => x.ok);
    await waitFor(() => timeAnswer() !== undefined, 10_000, 'answer seen on the receipt topic'); // (audit acks travel there too)
    const v = timeAnswer()!;
    expect(v.ok && v.body).toMatchObject({ type: 'time', stationId: f.stationId, nonce: expect.stringMatching(/^[0-9a-f]{32}$/) });

    // forged (other key), misaddressed, and an answer to a nonce never sent (at = 1 marks it)
    const c = await mqtt.connectAsync(broker.url, { protocolVersion: 5 });
    const other = generateKeyPairSync('ed25519').privateKey;
    await c.publishAsync(topics.receipt(f.stationId), encodeSigned(signMessage({ type: 'time', stationId: f.stationId, nonce: 'a'.repeat(32), at: 1 }, keys.receiptKey)), { qos: 1 });
    await c.publishAsync(topics.receipt(f.stationId), encodeSigned(signMessage({ type: 'time', stationId: f.stationId, nonce: 'b'.repeat(32), at: 2 }, other)), { qos: 1 });
    await c.publishAsync(topics.receipt(f.stationId), encodeSigned(signMessage({ type: 'time', stationId: 'st-someone-else', nonce: 'c'.repeat(32), at: 3 }, keys.receiptKey)), { qos: 1 });
    // delivered in order: once the misaddressed one is reported, the two before it were handled
    await waitFor(() => security.some((e) => e.kind === 'receipt-mismatch'), 20_000, 'misaddressed answer reported');
    expect(security.map((e) => e.kind)).toEqual(['receipt-invalid', 'receipt-mismatch']);
    expect(times.map((x) => x.at)).not.toContain(1);
    expect(times.map((x) => x.at)).not.toContain(3);
    expect(clock.trusted()!.offsetMs).toBeGreaterThan(1_700_000_000_000);
    await up.stop();
    await hq.stop();

    // a second worker starting now gets the retained health on subscribing: old, not answered.
    onReceiptTopic.length = 0;
    const hq2 = await startHq({ brokerUrl: broker.url, dataDir: f.hqDir, workerId: 'w2' });
    const seen: string[] = [];
    hq2.events.on('health', (e: { stationId: string }) => seen.push(e.stationId));
    await waitFor(() => seen.includes(f.stationId), 30_000, 'retained health read by the new worker');
    await c.publishAsync(topics.receipt(f.stationId), Buffer.from('marker'), { qos: 1 });
    await waitFor(() => onReceiptTopic.includes('marker'), 10_000, 'marker');
    expect(onReceiptTopic).toEqual(['marker']);
    await c.endAsync();
    await spy.endAsync();
    await hq2.stop();
    ob.close();
  }, 120_000);
});
