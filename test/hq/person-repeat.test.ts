/**
 * The same person enrolled at two booths (#22 item 2, headquarters' side), against
 * a real Mosquitto with the real vaults, uplinks and ingest: the record-opening
 * validator hands the ingest only a keyed hash of the national ID number
 * (HMAC-SHA-256 under hq-person-index.key, 0600), the ingest keeps the first
 * record per person and raises `person-repeat` in `hq alarms` for a later one
 * from any booth. Both records are stored and receipted: the alarm is for a
 * registrar to review, it never loses an enrollment.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createPrivateKey } from 'node:crypto';
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { startMosquitto } from '../helpers/mosquitto';
import { makeFixture, makeRecord, waitFor } from '../uplink/helpers';
import { Uplink } from '../../sync/uplink';
import { startHq } from '../../sync/hq/ingest';
import { generateStationKeyPair } from '../../sync/wire/keys';
import { Vault } from '../../station/vault';
import type { EnrollmentRecord } from '../../sync/wire/record';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) {
    try { await c(); } catch { /* best effort */ }
  }
});

const person = (stationId: string, nationalId?: string): EnrollmentRecord => {
  const r = makeRecord(stationId, 1_000);
  return { ...r, details: { ...r.details, ...(nationalId ? { nationalId } : {}) } };
};

describe('headquarters flags a person enrolled at two booths', () => {
  it('stores both, raises person-repeat naming the first record, and never sees the ID number', async () => {
    const broker = await startMosquitto();
    cleanups.push(() => broker.dispose());
    const f = await makeFixture('st-ward-a');
    cleanups.push(() => f.cleanup());
    const ingest = await startHq({ brokerUrl: broker.url, dataDir: f.hqDir, workerId: 'w1' });
    cleanups.push(() => ingest.stop());
    await waitFor(() => ingest.connected(), 20_000, 'hq connected');

    // two booths of the same headquarters
    const b = { stationId: 'st-ward-b', dir: join(f.root, 'station-b'), pair: generateStationKeyPair() };
    mkdirSync(b.dir, { recursive: true });
    ingest.store.registerStation({ stationId: f.stationId, unit: 'UNIT-A', publicKey: f.stationPubPem });
    ingest.store.registerStation({ stationId: b.stationId, unit: 'UNIT-B', publicKey: b.pair.publicKeyPem });
    const vaultA = await Vault.open({ dataDir: f.stationDir, stationId: f.stationId, signingKey: createPrivateKey(f.stationKeyPem), hqIdentity: f.hqPublic });
    cleanups.push(() => vaultA.close());
    const vaultB = await Vault.open({ dataDir: b.dir, stationId: b.stationId, signingKey: createPrivateKey(b.pair.privateKeyPem), hqIdentity: f.hqPublic });
    cleanups.push(() => vaultB.close());

    const first = await vaultA.seal(person(f.stationId, '001090012345'));
    const other = await vaultA.seal(person(f.stationId, '001090054321'));
    const none = await vaultB.seal(person(b.stationId)); // a child without an ID number: nothing to compare
    const again = await vaultB.seal(person(b.stationId, '001 090 012 345'));

    const stored = new Set<string>();
    ingest.events.on('record', (e: { recordId: string; status: string }) => { if (e.status === 'stored') stored.add(e.recordId); });
    // booth A comes online first (its records are the first ones), then booth B
    const uplinks = [[f.stationId, vaultA, f.stationKeyPem, f.stationDir, [first, other]], [b.stationId, vaultB, b.pair.privateKeyPem, b.dir, [none, again]]] as const;
    for (const [stationId, outbox, key, dir, sealed] of uplinks) {
      const up = new Uplink({ brokerUrl: broker.url, stationId, outbox, signingKey: createPrivateKey(key), hqIdentity: f.hqPublic, dataDir: dir, receiptTimeoutMs: 1_500, reconnectBaseMs: 200, reconnectMaxMs: 1_500, idlePollMs: 250 });
      cleanups.push(() => up.stop(2_000));
      await up.start();
      await waitFor(() => sealed.every((r) => stored.has(r.recordId)), 60_000, `${stationId}'s records stored`);
    }
    await waitFor(() => ingest.store.openAlarms().some((a) => a.kind === 'person-repeat'), 20_000, 'person-repeat alarm');

    const alarms = ingest.store.openAlarms().filter((a) => a.kind === 'person-repeat');
    expect(alarms).toHaveLength(1);
    expect(alarms[0]).toMatchObject({ station_id: b.stationId, count: 1 });
    expect(alarms[0]!.detail).toContain(`record ${again.recordId} from ${b.stationId}`);
    expect(alarms[0]!.detail).toContain(`record ${first.recordId} from ${f.stationId}`);
    expect(alarms[0]!.detail).not.toMatch(/001\s?090/);
    // the index holds keyed hashes only, under a 0600 key made for it
    const keyFile = join(f.hqDir, 'keys', 'hq-person-index.key');
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(Buffer.from(readFileSync(keyFile, 'utf8').trim(), 'base64')).toHaveLength(32);
    const db = (ingest.store as unknown as { db: { prepare(s: string): { all(): Array<{ person: string }> } } }).db;
    const rows = db.prepare('SELECT person FROM person_index').all();
    expect(rows).toHaveLength(2);
    for (const r of rows) expect(r.person).toMatch(/^[0-9a-f]{64}$/);
  });
});
