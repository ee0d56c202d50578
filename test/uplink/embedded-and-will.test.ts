import { afterEach, describe, expect, it } from 'vitest';
import { createPrivateKey } from 'node:crypto';
import mqtt from 'mqtt';
import { startEmbeddedBroker } from '../../sync/broker';
import { retainedMessage, startMosquitto } from '../helpers/mosquitto';
import { makeFixture, openOutbox, waitFor, hqPrivate } from './helpers';
import { checkInvariant } from './invariant';
import { Uplink } from '../../sync/uplink';
import { startHq } from '../../sync/hq/ingest';
import { topics, type StatusPayload } from '../../sync/topics';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) {
    try { await c(); } catch { /* best effort */ }
  }
});

describe('embedded demo broker (aedes, MQTT 3.1.1)', () => {
  it('carries a full round trip with protocol 4 and no shared subscription', async () => {
    const broker = await startEmbeddedBroker({ port: 0, host: '127.0.0.1' });
    cleanups.push(() => broker.stop());
    const f = await makeFixture('st-embedded');
    cleanups.push(() => f.cleanup());
    const hq = await startHq({ brokerUrl: broker.url, dataDir: f.hqDir, workerId: 'demo', protocolVersion: 4, shareGroup: false });
    cleanups.push(() => hq.stop());
    hq.store.registerStation({ stationId: f.stationId, publicKey: f.stationPubPem });
    const seen: string[] = [];
    hq.events.on('record', (e: { recordId: string }) => seen.push(e.recordId));
    const ob = await openOutbox(f);
    cleanups.push(() => ob.close());
    const ids = await ob.sealN(8, 4_000);
    const up = new Uplink({ brokerUrl: broker.url, stationId: f.stationId, outbox: ob, signingKey: createPrivateKey(f.stationKeyPem), hqIdentity: f.hqPublic, protocolVersion: 4, maxBatchRecords: 3 });
    cleanups.push(() => up.stop(2_000));
    await up.start();
    await waitFor(() => ob.acked() === ids.length, 30_000, 'all acknowledged');
    expect(new Set(seen)).toEqual(new Set(ids));
    checkInvariant({ ids, stationId: f.stationId, hq: hq.store, states: ob.states(), receiptOf: (id) => ob.receiptOf(id), receiptKey: hqPrivate(f).receiptKey, expectAllAcked: true });
  });
});

describe('status and last will', () => {
  it('a dropped connection shows "lost"; the reconnect shows "online" with a newer session; a stale will is ignored', async () => {
    const broker = await startMosquitto();
    cleanups.push(() => broker.dispose());
    const f = await makeFixture('st-will');
    cleanups.push(() => f.cleanup());
    const hq = await startHq({ brokerUrl: broker.url, dataDir: f.hqDir, workerId: 'w' });
    cleanups.push(() => hq.stop());
    const ob = await openOutbox(f);
    cleanups.push(() => ob.close());
    const up = new Uplink({ brokerUrl: broker.url, stationId: f.stationId, outbox: ob, signingKey: createPrivateKey(f.stationKeyPem), hqIdentity: f.hqPublic, dataDir: f.stationDir, keepaliveSec: 5, reconnectBaseMs: 1_500, reconnectMaxMs: 2_000 });
    cleanups.push(() => up.stop(2_000));
    const states: StatusPayload[] = [];
    hq.events.on('status', (s: StatusPayload & { applied: boolean }) => { if (s.applied) states.push(s); });
    await up.start();
    await waitFor(() => states.some((s) => s.state === 'online'), 20_000, 'online');
    const first = states.find((s) => s.state === 'online')!.session;
    // cut the TCP connection without DISCONNECT: the broker publishes the will
    (up as unknown as { client: { stream: { destroy(): void } } }).client.stream.destroy();
    await waitFor(() => states.some((s) => s.state === 'lost' && s.session === first), 20_000, 'lost (will)');
    await waitFor(() => states.some((s) => s.state === 'online' && s.session > first), 20_000, 'online again, newer session');
    const now = up.status().session;
    // a late will from an older session: HQ ignores it, the station restores its retained "online"
    const c = await mqtt.connectAsync(broker.url, { protocolVersion: 5 });
    cleanups.push(() => c.endAsync());
    await c.publishAsync(topics.status(f.stationId), Buffer.from(JSON.stringify({ v: 1, state: 'lost', session: first, at: Date.now() })), { qos: 1, retain: true });
    await waitFor(async () => {
      const raw = await retainedMessage(broker.url, topics.status(f.stationId));
      const got = raw ? JSON.parse(raw.toString()) as StatusPayload : null;
      return got?.state === 'online' && got?.session === now;
    }, 20_000, 'retained status back to online');
    const row = hq.db.prepare('SELECT state, session FROM fleet WHERE station_id = ?').get(f.stationId) as { state: string; session: number };
    expect(row).toEqual({ state: 'online', session: now });
    // clean stop says "offline"
    await up.stop();
    await waitFor(() => (hq.db.prepare('SELECT state FROM fleet WHERE station_id = ?').get(f.stationId) as { state: string }).state === 'offline', 20_000, 'offline');
  });
});
