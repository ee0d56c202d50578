/**
 * Headquarters key generations (#13 item 3), against a real Mosquitto with the
 * real vault, uplink and ingest: `hq init --rotate` adds a generation and keeps
 * the old ones; stations learn the new identity by a signed command and seal
 * to it; record, receipt and ops keys rotate independently; records in flight
 * across each rotation are all stored and acknowledged, none lost.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createPrivateKey } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto';
import { makeFixture, makeRecord, openOutbox, waitFor, type Fixture, type TestOutbox } from '../uplink/helpers';
import { checkInvariant } from '../uplink/invariant';
import { Uplink } from '../../sync/uplink';
import { startHq, type HqHandle } from '../../sync/hq/ingest';
import { sendCommand } from '../../sync/hq/commands';
import type { CommandHandlers } from '../../sync/commands';
import {
  generateHqKeys, writeHqKeys, loadRecordKeys, loadSigningGenerations, loadHqPublicIdentity, parseHqPublicIdentity,
  HQ_DUTY_FILES, HQ_PRIVATE_FILE, HQ_PUBLIC_FILE, type HqPublicIdentity,
} from '../../sync/wire/keys';
import { parseEnvelope, RecordOpener, sealRecord } from '../../sync/wire/envelope';
import { keyId } from '../../sync/wire/signed';
import { learnedHqIdentityPath, resolveHqIdentityFile, saveLearnedHqIdentity } from '../../station/keys';
import type { CommandName } from '../../sync/topics';

const testLog = process.env.UPLINK_TEST_LOG ? pino({ level: process.env.UPLINK_TEST_LOG }, pino.destination(2)) : undefined;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) {
    try { await c(); } catch { /* best effort */ }
  }
});

async function hqOn(broker: Mosquitto, f: Fixture): Promise<HqHandle> {
  const hq = await startHq({ brokerUrl: broker.url, dataDir: f.hqDir, workerId: 'w1', logger: testLog });
  hq.store.registerStation({ stationId: f.stationId, unit: 'UNIT-A', publicKey: f.stationPubPem });
  cleanups.push(() => hq.stop());
  await waitFor(() => hq.connected(), 20_000, 'hq connected');
  return hq;
}

/** The station side of update-hq-key as the daemon does it (station/app.ts): keep it, then seal to it. */
function handlers(f: Fixture, ob: TestOutbox, learned: HqPublicIdentity[]): CommandHandlers {
  return {
    lock: () => ({ locked: true }),
    unlock: () => ({ unlocked: true }),
    setPolicy: () => ({}),
    rotateKey: () => { throw new Error('not in this test'); },
    updateHqIdentity: (id) => {
      saveLearnedHqIdentity(f.stationDir, id);
      ob.setHqIdentity(id);
      learned.push(id);
      return { serial: id.serial };
    },
  };
}

describe('headquarters key generations (real Mosquitto)', () => {
  it('record, receipt and ops keys rotate with records in flight; every record sealed to any generation is stored, none lost', async () => {
    const broker = await startMosquitto();
    cleanups.push(() => broker.dispose());
    const f = await makeFixture('st-rotate');
    cleanups.push(() => f.cleanup());
    const keysDir = join(f.hqDir, 'keys');
    // held records come back quickly in a test (in service: 30 s doubling to 1 h)
    const ob = await openOutbox(f, undefined, { heldRetry: { baseMs: 300, maxMs: 600 } });
    cleanups.push(() => ob.close());
    const learned: HqPublicIdentity[] = [];
    let hq = await hqOn(broker, f);
    const up = new Uplink({
      brokerUrl: broker.url, stationId: f.stationId, outbox: ob, signingKey: createPrivateKey(f.stationKeyPem), hqIdentity: f.hqPublic, dataDir: f.stationDir,
      maxBatchRecords: 2, receiptTimeoutMs: 1_500, receiptTimeoutMaxMs: 4_000, reconnectBaseMs: 200, reconnectMaxMs: 1_500, idlePollMs: 250, logger: testLog,
      commands: handlers(f, ob, learned),
    });
    cleanups.push(() => up.stop(2_000));
    await up.start();
    await waitFor(() => up.status().connected, 20_000, 'station connected');
    const command = async (name: CommandName, opsGeneration: 'oldest' | 'newest', args: Record<string, unknown> = {}) => {
      const ops = loadSigningGenerations(keysDir, 'ops');
      const key = opsGeneration === 'oldest' ? ops[0]! : ops[ops.length - 1]!;
      return sendCommand({ brokerUrl: broker.url, opsKey: key.privateKey, target: f.stationId, name, args, waitMs: 30_000, store: hq.store });
    };
    const receiptKeysV1 = loadSigningGenerations(keysDir, 'receipt').map((g) => g.publicKey);

    // ---- record keys: rotated while records sealed to generation 1 are on their way
    const before = await ob.sealN(3, 2_000);
    const w1 = writeHqKeys(keysDir, await generateHqKeys('record generation 2'), { rotate: true, duties: ['record'] });
    expect(w1.generations).toEqual({ record: 2, receipt: 1, ops: 1 });
    const during = await ob.sealN(3, 2_000); // the station has not been told yet: still generation 1
    const r1 = await command('update-hq-key', 'oldest', { identity: loadHqPublicIdentity(w1.publicPath).json });
    expect(r1.result).toMatchObject({ status: 'ok', data: { serial: 2 } });
    const after = await ob.sealN(3, 2_000); // generation 2 from here
    const ids = [...before, ...during, ...after];
    await waitFor(() => ob.acked() === ids.length, 60_000, 'every record acknowledged');
    // headquarters opened records of both generations in the same run (the running opener reloaded the file)
    const gens = new Map(loadRecordKeys(keysDir).map((k) => [k.keyId.toString('hex'), k.generation]));
    const genOf = (id: string) => {
      const row = hq.store.db.prepare('SELECT envelope FROM records WHERE record_id = ?').get(id) as { envelope: Buffer };
      return gens.get(parseEnvelope(row.envelope).hqKeyId.toString('hex'));
    };
    expect([...before, ...during].map(genOf)).toEqual([1, 1, 1, 1, 1, 1]);
    expect(after.map(genOf)).toEqual([2, 2, 2]);
    checkInvariant({ ids, stationId: f.stationId, hq: hq.store, states: ob.states(), receiptOf: (id) => ob.receiptOf(id), receiptKey: receiptKeysV1, expectAllAcked: true });
    // the station kept what it learned (a restart seals to generation 2), and never goes back
    expect(resolveHqIdentityFile(join(keysDir, HQ_PUBLIC_FILE), f.stationDir)).toBe(join(keysDir, HQ_PUBLIC_FILE)); // HQ's own file has the same serial
    expect(loadHqPublicIdentity(learnedHqIdentityPath(f.stationDir)).serial).toBe(2);
    const older = await command('update-hq-key', 'oldest', { identity: f.hqPublic.json });
    expect(older.result).toMatchObject({ status: 'error', code: 'CMD_HQ_IDENTITY_OLDER' });

    // ---- receipt and ops keys: the station learns them first, then headquarters restarts signing with them
    const w2 = writeHqKeys(keysDir, await generateHqKeys('signers generation 2'), { rotate: true, duties: ['receipt', 'ops'] });
    expect(w2.generations).toEqual({ record: 2, receipt: 2, ops: 2 });
    expect(w2.public.receiptKeys).toHaveLength(2);
    const r2 = await command('update-hq-key', 'oldest', { identity: w2.public });
    expect(r2.result).toMatchObject({ status: 'ok', data: { serial: 4 } });
    const inFlight = await ob.sealN(4, 2_000); // sealed while headquarters restarts
    await hq.stop();
    hq = await hqOn(broker, f);
    await waitFor(() => ob.acked() === ids.length + inFlight.length, 60_000, 'records across the restart acknowledged');
    const receiptGens = loadSigningGenerations(keysDir, 'receipt');
    const last = JSON.parse(ob.receiptOf(inFlight[inFlight.length - 1]!)!.toString('utf8')) as { kid: string };
    expect(last.kid).toBe(keyId(receiptGens[1]!.publicKey)); // signed by the new generation, and the station accepted it
    checkInvariant({ ids: [...ids, ...inFlight], stationId: f.stationId, hq: hq.store, states: ob.states(), receiptOf: (id) => ob.receiptOf(id), receiptKey: receiptGens.map((g) => g.publicKey), expectAllAcked: true });
    // a command signed by the new ops generation is now accepted; by a key never listed, refused
    expect((await command('lock', 'newest', { reason: 'test' })).result).toMatchObject({ status: 'ok' });
    const stranger = createPrivateKey((await generateHqKeys()).privateJson.opsEd25519);
    const refused = await sendCommand({ brokerUrl: broker.url, opsKey: stranger, target: f.stationId, name: 'lock', args: {}, waitMs: 30_000, store: hq.store });
    expect(refused.result).toMatchObject({ status: 'refused', code: 'CMD_BAD_SIGNATURE' });
    expect(learned.map((x) => x.serial)).toEqual([2, 4]);
  }, 240_000);
});

describe('key generation files', () => {
  it('one 0600 file per duty; rotation appends and keeps every generation; a legacy hq-private.json is migrated and still opens its records', async () => {
    const f = await makeFixture('st-files');
    cleanups.push(() => f.cleanup());
    const dir = join(f.root, 'legacy-keys');
    mkdirSync(dir, { recursive: true });
    const legacy = await generateHqKeys('single-file era');
    writeFileSync(join(dir, HQ_PRIVATE_FILE), JSON.stringify(legacy.privateJson), { mode: 0o600 });
    writeFileSync(join(dir, HQ_PUBLIC_FILE), JSON.stringify(legacy.publicJson));
    const oldIdentity = parseHqPublicIdentity(legacy.publicJson);
    const station = createPrivateKey(f.stationKeyPem);
    const sealedOld = await sealRecord(makeRecord('st-files', 300), { suite: 'xwing-aes256gcm', hq: oldIdentity, signingKey: station });
    expect(() => writeHqKeys(dir, legacy)).toThrow(/already exist/);
    const w = writeHqKeys(dir, await generateHqKeys('gen 2'), { rotate: true, duties: ['record'] });
    expect(existsSync(join(dir, HQ_PRIVATE_FILE))).toBe(false);
    for (const d of ['record', 'receipt', 'ops'] as const) {
      expect(statSync(join(dir, HQ_DUTY_FILES[d])).mode & 0o777, d).toBe(0o600);
      const file = JSON.parse(readFileSync(join(dir, HQ_DUTY_FILES[d]), 'utf8')) as { format: string; duty: string; generations: { generation: number }[] };
      expect(file).toMatchObject({ format: 'enroll-station/hq-key-generations', duty: d });
      expect(file.generations.map((g) => g.generation)).toEqual(d === 'record' ? [1, 2] : [1]);
    }
    // the receipt and ops keys were not rotated: still the legacy ones
    expect(loadSigningGenerations(dir, 'receipt')[0]!.publicRaw.toString('base64')).toBe(legacy.publicJson.receiptEd25519);
    // the new identity seals to generation 2; a record sealed to generation 1 (before the migration) still opens
    const newIdentity = loadHqPublicIdentity(w.publicPath);
    expect(newIdentity.xWing.equals(oldIdentity.xWing)).toBe(false);
    const sealedNew = await sealRecord(makeRecord('st-files', 300), { suite: 'xwing-aes256gcm', hq: newIdentity, signingKey: station });
    const opener = new RecordOpener(loadRecordKeys(dir));
    expect((await opener.check(parseEnvelope(sealedOld.envelope))).generation).toBe(1);
    expect((await opener.check(parseEnvelope(sealedNew.envelope))).generation).toBe(2);
    // a rotated-in file with a gap in its generations is refused naming the file
    const rec = JSON.parse(readFileSync(w.files.record, 'utf8')) as { generations: { generation: number }[] };
    rec.generations[1]!.generation = 3;
    writeFileSync(w.files.record, JSON.stringify(rec));
    expect(() => loadRecordKeys(dir)).toThrow(/hq-record-keys\.json is malformed: generation #2 is missing or out of order/);
  });

  it('a station prefers the identity it learned only while it is newer than the installed one', async () => {
    const f = await makeFixture('st-learned');
    cleanups.push(() => f.cleanup());
    const installed = join(f.hqDir, 'keys', HQ_PUBLIC_FILE);
    expect(resolveHqIdentityFile(installed, f.stationDir)).toBe(installed);
    const w = writeHqKeys(join(f.hqDir, 'rotated'), await generateHqKeys(), {});
    const newer = parseHqPublicIdentity({ ...w.public, serial: 5 });
    saveLearnedHqIdentity(f.stationDir, newer);
    expect(resolveHqIdentityFile(installed, f.stationDir)).toBe(learnedHqIdentityPath(f.stationDir));
    // a technician installs a still newer identity: it wins
    writeFileSync(installed, JSON.stringify({ ...f.hqPublic.json, serial: 9 }));
    expect(resolveHqIdentityFile(installed, f.stationDir)).toBe(installed);
    // a damaged learned file never hides a good installed one
    writeFileSync(learnedHqIdentityPath(f.stationDir), '{');
    expect(resolveHqIdentityFile(installed, f.stationDir)).toBe(installed);
  });
});
