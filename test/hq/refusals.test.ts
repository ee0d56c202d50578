/**
 * Headquarters only signs for what it can open (#13 item 1), against a real
 * Mosquitto, the real vault and the real ingest: every refusal ends with the
 * record kept at the station, headquarters' reason shown there, and an alarm in
 * `hq alarms`; reasons that can clear are retried by themselves; rejected rows
 * are requeued once the cause is fixed.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createPrivateKey } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import pino from 'pino';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto';
import { makeFixture, openOutbox, waitFor, type Fixture, type TestOutbox } from '../uplink/helpers';
import { checkInvariant } from '../uplink/invariant';
import { craft, plantInVault, type CraftKind } from './craft';
import { Uplink } from '../../sync/uplink';
import { startHq, type HqHandle, type HqOptions } from '../../sync/hq/ingest';
import { LocalValidator } from '../../sync/hq/validate';
import { topics } from '../../sync/topics';
import { buildFrames } from '../../sync/wire/frame';
import { generateHqKeys, loadHqPrivateKeys, parseHqPublicIdentity, recordKeysOf, generateStationKeyPair, parseHqPrivateKeys } from '../../sync/wire/keys';
import type { ReceiptBody } from '../../sync/wire/payloads';
import { readVaultStatus } from '../../station/vault';
import { inProcessStation } from '../helpers/cli-inprocess';
import { register as registerOutbox } from '../../station/cli/outbox';
import { register as registerStatus } from '../../station/cli/status';
import { ALL_SIMULATED, CONSENT_YAML } from '../helpers/station';

const testLog = process.env.UPLINK_TEST_LOG ? pino({ level: process.env.UPLINK_TEST_LOG }, pino.destination(2)) : undefined;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) {
    try { await c(); } catch { /* best effort */ }
  }
});

async function env(stationId: string) {
  const broker = await startMosquitto();
  cleanups.push(() => broker.dispose());
  const f = await makeFixture(stationId);
  cleanups.push(() => f.cleanup());
  // held records come back quickly in a test (in service: 30 s doubling to 1 h)
  const ob = await openOutbox(f, undefined, { heldRetry: { baseMs: 300, maxMs: 600 } });
  cleanups.push(() => ob.close());
  return { broker, f, ob };
}

async function hqOn(broker: Mosquitto, f: Fixture, extra: Partial<HqOptions> = {}, stationPubPem = f.stationPubPem): Promise<HqHandle> {
  const hq = await startHq({ brokerUrl: broker.url, dataDir: f.hqDir, workerId: 'w1', logger: testLog, ...extra });
  hq.store.registerStation({ stationId: f.stationId, unit: 'UNIT-A', publicKey: stationPubPem });
  cleanups.push(() => hq.stop());
  await waitFor(() => hq.connected(), 20_000, 'hq connected');
  return hq;
}

function uplinkOn(broker: Mosquitto, f: Fixture, ob: TestOutbox, hqIdentity: unknown = f.hqPublic): Uplink {
  const up = new Uplink({
    brokerUrl: broker.url, stationId: f.stationId, outbox: ob, signingKey: createPrivateKey(f.stationKeyPem), hqIdentity, dataDir: f.stationDir,
    maxBatchRecords: 4, receiptTimeoutMs: 1_500, receiptTimeoutMaxMs: 4_000, reconnectBaseMs: 200, reconnectMaxMs: 1_500, idlePollMs: 250, logger: testLog,
  });
  cleanups.push(() => up.stop(2_000));
  return up;
}

const alarmKinds = (hq: HqHandle, stationId: string): Map<string, number> =>
  new Map(hq.store.openAlarms().filter((a) => a.station_id === stationId).map((a) => [a.kind, a.count]));

describe('headquarters signs only for what it can open (real Mosquitto)', () => {
  it('every refusal a station can carry keeps the record at the station with the reason, raises an alarm, and lets genuine records through', async () => {
    const { broker, f, ob } = await env('st-refuse');
    const key = createPrivateKey(f.stationKeyPem);
    const otherHq = parseHqPublicIdentity((await generateHqKeys('another headquarters')).publicJson);
    const expected: Record<string, { kind: CraftKind; state: 'held' | 'rejected'; reason: string }> = {};
    const cases: [CraftKind, 'held' | 'rejected', string][] = [
      ['undecryptable', 'rejected', 'undecryptable'],
      ['unknown-hq-key', 'held', 'unknown-hq-key'],
      ['not-canonical', 'rejected', 'not-canonical'],
      ['record-invalid', 'rejected', 'record-invalid'],
      ['extra-field', 'rejected', 'record-invalid'],
      ['id-mismatch', 'rejected', 'id-mismatch'],
    ];
    const genuine = await ob.sealN(2, 2_000);
    const planted = [];
    for (const [kind, state, reason] of cases) {
      const c = await craft(kind, { stationId: f.stationId, key, hq: f.hqPublic, otherHq });
      expected[c.recordId] = { kind, state, reason };
      planted.push(c);
    }
    plantInVault(f.stationDir, planted);
    genuine.push(...await ob.sealN(2, 2_000));
    const hq = await hqOn(broker, f);
    const up = uplinkOn(broker, f, ob);
    await up.start();
    await waitFor(() => ob.acked() === genuine.length, 30_000, 'genuine records acknowledged');
    await waitFor(() => ob.refusedRecords().length === planted.length, 30_000, 'every crafted record kept back');
    // each one kept at the station, with headquarters' reason
    const kept = new Map(ob.refusedRecords().map((r) => [r.recordId, r]));
    for (const [id, e] of Object.entries(expected)) {
      expect(kept.get(id), `${e.kind}`).toMatchObject({ state: e.state, reason: e.reason });
      expect(kept.get(id)!.detail, `${e.kind} has a detail`).toBeTruthy();
    }
    // nothing of them stored at headquarters; the genuine ones exactly once
    expect(hq.store.recordCount(f.stationId)).toBe(genuine.length);
    checkInvariant({ ids: genuine, stationId: f.stationId, hq: hq.store, states: ob.states(), receiptOf: (id) => ob.receiptOf(id), receiptKey: loadHqPrivateKeys(join(f.hqDir, 'keys')).receiptKey, expectAllAcked: true });
    // the held one is retried by itself, not parked (each try is one more hold)
    const heldId = Object.keys(expected).find((id) => expected[id]!.state === 'held')!;
    await waitFor(() => (ob.refusedRecords().find((r) => r.recordId === heldId)?.holds ?? 0) >= 3, 30_000, 'held record retried');
    // alarms, aggregated per station and reason
    await waitFor(() => ['undecryptable', 'unknown-hq-key', 'not-canonical', 'record-invalid', 'id-mismatch'].every((k) => alarmKinds(hq, f.stationId).has(k)), 10_000, 'an alarm per reason');
    expect(alarmKinds(hq, f.stationId).get('record-invalid')).toBeGreaterThanOrEqual(2);
    expect(hq.store.openAlarms().filter((a) => a.station_id === f.stationId && a.kind === 'unknown-hq-key')).toHaveLength(1);
    // `station status` shows them per reason
    const s = await readVaultStatus(f.stationDir);
    expect(s.counts).toMatchObject({ rejected: 5, held: 1 });
    expect(s.refusals).toEqual(expect.arrayContaining([
      expect.objectContaining({ state: 'rejected', reason: 'record-invalid', count: 2 }),
      expect.objectContaining({ state: 'held', reason: 'unknown-hq-key', count: 1 }),
    ]));
  });

  it('envelopes that are malformed or from another station get their own reason; a frame on the wrong topic gets no receipt', async () => {
    const { broker, f, ob } = await env('st-malformed');
    const hq = await hqOn(broker, f);
    const key = createPrivateKey(f.stationKeyPem);
    const items = await Promise.all((['enc-31', 'unknown-kem', 'wrong-station'] as const).map((k) => craft(k, { stationId: f.stationId, key, hq: f.hqPublic })));
    const good = await craft('undecryptable', { stationId: f.stationId, key, hq: f.hqPublic }); // a frame that does get a receipt
    const c = await mqtt.connectAsync(broker.url, { protocolVersion: 5 });
    cleanups.push(() => c.endAsync());
    const receipts: ReceiptBody[] = [];
    c.on('message', (_t, p) => receipts.push(JSON.parse((JSON.parse(p.toString()) as { body: string }).body) as ReceiptBody));
    await c.subscribeAsync(topics.receipt(f.stationId), { qos: 1 });
    const frame = (batchId: string, its: typeof items, stationId = f.stationId) => buildFrames({ stationId, batchId, attempt: 1, items: its.map((i) => ({ recordId: i.recordId, envelope: i.envelope, sha256: i.sha256 })) }, 1 << 20)[0]!;
    // a frame claiming another station on this station's topic: refused without a receipt
    await c.publishAsync(topics.batch(f.stationId), frame('b-claims-other', [good], 'st-other'), { qos: 1 });
    await c.publishAsync(topics.batch(f.stationId), frame('b-malformed', items), { qos: 1 });
    await waitFor(() => receipts.length >= 1, 20_000, 'receipt');
    expect(receipts.map((r) => r.batchId)).toEqual(['b-malformed']);
    expect(receipts[0]!.results.map((r) => [r.status, r.reason])).toEqual([['rejected', 'malformed'], ['rejected', 'malformed'], ['rejected', 'wrong-station']]);
    expect(receipts[0]!.results[0]!.detail).toMatch(/encapsulated key is 31 bytes, x25519-chacha20poly1305 uses 32/);
    expect(receipts[0]!.results[1]!.detail).toMatch(/unknown HPKE suite kem=0x99/);
    await waitFor(() => alarmKinds(hq, f.stationId).has('topic-mismatch') && alarmKinds(hq, f.stationId).has('malformed') && alarmKinds(hq, f.stationId).has('wrong-station'), 10_000, 'alarms');
    expect(hq.store.recordCount()).toBe(0);
    void ob;
  });

  it('a station sealing to a key generation headquarters has not loaded yet loses nothing and drains once it is loaded', async () => {
    const { broker, f, ob } = await env('st-newgen');
    // the station was given the next record key generation; the opener only knows the current one
    const gen2 = await generateHqKeys('generation 2');
    const stationView = parseHqPublicIdentity({ ...f.hqPublic.json, hpkeX25519: gen2.publicJson.hpkeX25519, xWing: gen2.publicJson.xWing });
    await ob.close();
    const ob2 = await openOutbox({ ...f, hqPublic: stationView }, undefined, { heldRetry: { baseMs: 300, maxMs: 600 } });
    cleanups.push(() => ob2.close());
    const gen1 = recordKeysOf(loadHqPrivateKeys(join(f.hqDir, 'keys')));
    let loaded = gen1;
    const validator = new LocalValidator({ loadKeys: () => loaded, reloadMinIntervalMs: 0 });
    const hq = await hqOn(broker, f, { validator });
    const ids = await ob2.sealN(5, 2_000);
    const up = uplinkOn(broker, f, ob2, stationView);
    await up.start();
    await waitFor(() => ob2.refusedRecords().filter((r) => r.state === 'held' && r.reason === 'unknown-hq-key').length === 5, 30_000, 'all held');
    expect(hq.store.recordCount()).toBe(0);
    await waitFor(() => ob2.refusedRecords().every((r) => r.holds >= 2), 30_000, 'retried');
    // the generation is deployed to the opener: the next tries open
    loaded = [...gen1, ...recordKeysOf(parseHqPrivateKeys(gen2.privateJson), 2)];
    await waitFor(() => ob2.acked() === ids.length, 30_000, 'all acknowledged');
    checkInvariant({ ids, stationId: f.stationId, hq: hq.store, states: ob2.states(), receiptOf: (id) => ob2.receiptOf(id), receiptKey: loadHqPrivateKeys(join(f.hqDir, 'keys')).receiptKey, expectAllAcked: true });
    await validator.close();
  });

  it('a row rejected for a cause that is then fixed is requeued with `station outbox requeue --reason` and delivered', async () => {
    const { broker, f, ob } = await env('st-requeue');
    // headquarters registered the wrong key for this station
    const hq = await hqOn(broker, f, {}, generateStationKeyPair().publicKeyPem);
    const ids = await ob.sealN(3, 2_000);
    const up = uplinkOn(broker, f, ob);
    await up.start();
    await waitFor(() => ob.stats().rejected === 3, 30_000, 'rejected for the signature');
    expect(ob.refusedRecords().map((r) => r.reason)).toEqual(['bad-signature', 'bad-signature', 'bad-signature']);
    await waitFor(() => alarmKinds(hq, f.stationId).get('bad-signature') === 3, 10_000, 'alarm counts 3');
    // the technician's view and tools, through the CLI
    mkdirSync(join(f.stationDir, 'keys'), { recursive: true });
    writeFileSync(join(f.stationDir, 'keys', 'station-ed25519.key'), f.stationKeyPem, { mode: 0o600 });
    const cfg = join(f.root, 'config.yaml');
    writeFileSync(cfg, [
      'version: 1', `station: { id: ${f.stationId}, unit: { code: "00007" } }`, CONSENT_YAML, `dataDir: ${f.stationDir}`, `devices: ${ALL_SIMULATED}`,
      `headquarters: { brokerUrl: "${broker.url}", allowInsecureBroker: true, publicKeyFile: ${join(f.hqDir, 'keys', 'hq-public.json')} }`, '',
    ].join('\n'));
    const station = inProcessStation((p) => { registerStatus(p); registerOutbox(p); });
    const st = await station('--config', cfg, 'status');
    expect(st.out).toMatch(/rejected by HQ: +3 \(kept; station outbox requeue once fixed\)/);
    expect(st.out).toMatch(/rejected bad-signature: 3 — the station signature does not verify/);
    const bad = await station('--config', cfg, 'outbox', 'requeue', '--reason', 'no-such-reason');
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/not a receipt reason/);
    // requeued before the cause is fixed: rejected again, still kept
    const r1 = await station('--config', cfg, 'outbox', 'requeue', '--reason', 'bad-signature', '--json');
    expect(JSON.parse(r1.out)).toMatchObject({ requeued: 3 });
    await waitFor(() => ob.stats().rejected === 3 && ob.refusedRecords().every((r) => r.state === 'rejected'), 30_000, 'rejected again');
    // fixed: headquarters registers the station's real key; requeue delivers them
    hq.store.registerStation({ stationId: f.stationId, publicKey: f.stationPubPem });
    const r2 = await station('--config', cfg, 'outbox', 'requeue', '--reason', 'bad-signature');
    expect(r2.out).toMatch(/requeued 3 record\(s\) with reason bad-signature/);
    await waitFor(() => ob.acked() === 3, 30_000, 'delivered after the fix');
    checkInvariant({ ids, stationId: f.stationId, hq: hq.store, states: ob.states(), receiptOf: (id) => ob.receiptOf(id), receiptKey: loadHqPrivateKeys(join(f.hqDir, 'keys')).receiptKey, expectAllAcked: true });
    const list = await station('--config', cfg, 'outbox', 'list');
    expect(list.out).toMatch(/no held or rejected records/);
    expect(ob.audit.entriesSince(0).filter((e) => e.kind === 'config_change' && e.data.change === 'outbox-requeue')).toHaveLength(2);
  });
});
