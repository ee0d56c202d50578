/**
 * A full disk at the database (#19 bad input): the PostgreSQL database lives in a
 * tablespace on a small tmpfs of its own (test/helpers/tmpfs.ts, needs root), the
 * disk is filled with ballast, and a batch is stored. The server's own error
 * (53100, could not extend file: no space left on device) must come back as a
 * failed batch — so no receipt is made for it — in words that say the disk is
 * full, with nothing stored; when the space returns the same batch stores.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmodSync, chownSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { v7 as uuidv7 } from 'uuid';
import { startPostgres, type Postgres } from '../helpers/postgres';
import { mountSmallDisk, type SmallDisk } from '../helpers/tmpfs';
import { makeFixture, makeRecord, type Fixture } from '../uplink/helpers';
import { PgHqStore } from '../../sync/hq/store-pg';
import { Sealer } from '../../sync/wire/envelope';
import { DEFAULT_SUITE } from '../../sync/wire/suites';
import { createPrivateKey } from 'node:crypto';

describe('PostgreSQL on a full disk', () => {
  let pg: Postgres;
  let disk: SmallDisk;
  let f: Fixture;
  let url: string;
  beforeAll(async () => {
    pg = await startPostgres();
    f = await makeFixture('st-full');
    disk = mountSmallDisk(48 * 1024 * 1024, 'pg-full-');
    const owner = statSync(pg.dir);
    chownSync(disk.dir, owner.uid, owner.gid);
    chmodSync(disk.dir, 0o700);
    chmodSync(dirname(disk.dir), 0o711); // the server's user must reach the mount point
    pg.psql(`CREATE TABLESPACE small LOCATION '${disk.dir}'`);
    pg.psql('CREATE DATABASE onsmall TABLESPACE small');
    url = pg.url('onsmall');
  }, 120_000);
  afterAll(async () => {
    await pg?.dispose();
    disk?.dispose();
    f?.cleanup();
  });

  it('a batch that cannot be written fails in words (disk full), stores nothing, and stores once space returns', async () => {
    const store = await PgHqStore.open({ url });
    try {
      await store.registerStation({ stationId: f.stationId, unit: 'U', publicKey: f.stationPubPem });
      const sealer = new Sealer(DEFAULT_SUITE, f.hqPublic, createPrivateKey(f.stationKeyPem));
      const verified = [];
      for (let i = 0; i < 4; i++) {
        const s = await sealer.seal(makeRecord(f.stationId, 200_000));
        verified.push({ recordId: s.recordId, sha256: s.sha256, envelope: s.envelope, sealedAt: s.sealedAt });
      }
      const batch = {
        stationId: f.stationId, batchId: uuidv7(), order: verified.map((v) => v.recordId), verified, refused: [],
        makeReceipt: () => ({ receiptText: '{}', batchHash: 'h' }),
      };
      disk.fill(0);
      let failure: Error | null = null;
      try {
        const [r] = await store.storeBatches('w1', [batch]);
        if (r && !r.ok) failure = r.error;
      } catch (e) {
        failure = e as Error;
      }
      expect(failure).not.toBeNull();
      expect(failure!.message).toMatch(/disk is full/);
      disk.unfill();
      expect(await store.recordCount(f.stationId)).toBe(0);
      const [again] = await store.storeBatches('w1', [batch]);
      expect(again?.ok).toBe(true);
      expect(await store.recordCount(f.stationId)).toBe(4);
    } finally {
      await store.close();
    }
  }, 300_000);
});
