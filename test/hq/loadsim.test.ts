/**
 * The fleet simulator at small M (#19 item 4): booths burst into two ingest
 * workers on a real PostgreSQL through a real Mosquitto that is restarted
 * (SIGTERM, persistence, same port) while most batches are still unanswered;
 * then one booth replays its old batch. Headquarters must hold every sealed
 * record exactly once and answer the replay "duplicate" for every record.
 * `npm run bench -- fleet` runs the same simulator at 2,000 booths.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto';
import { startPostgres, type Postgres } from '../helpers/postgres';
import { makeFixture, hqPrivate, type Fixture } from '../uplink/helpers';
import { connectBooths, fleetRun, sealFleet, type Booth } from '../bench/fleet-sim';

const M = 40;
const RECORDS = 2;

describe('fleet load simulator: broker restart mid-burst and an old batch replayed', () => {
  let pg: Postgres;
  let broker: Mosquitto;
  let f: Fixture;
  const booths: Booth[] = [];
  beforeAll(async () => {
    pg = await startPostgres();
    broker = await startMosquitto();
    f = await makeFixture('loadsim-hq');
    booths.push(...(await sealFleet(f.hqPublic, { booths: M, recordsPerBooth: RECORDS, portraitBytes: 4_000 })));
    await connectBooths(broker.url, booths);
  }, 180_000);
  afterAll(async () => {
    await Promise.all(booths.map((b) => b.client?.endAsync(true).catch(() => undefined)));
    await broker?.dispose();
    await pg?.dispose();
    f?.cleanup();
  });

  it('stores every sealed record exactly once across the restart; the replay is answered duplicate and stores nothing', async () => {
    const r = await fleetRun(2, pg, broker.url, undefined, f.hqDir, hqPrivate(f).receiptKey, booths, { restart: () => broker.restart(), afterAnswered: 1 });
    process.stderr.write(`loadsim: ${JSON.stringify(r)}\n`);
    expect(r.brokerRestarted).toBe(true);
    // the broker went down with batches still unanswered
    expect(r.answeredAtRestart).toBeLessThan(M);
    expect(r.stored).toBe(M * RECORDS);
    expect(r.lost).toBe(0);
    expect(r.duplicated).toBe(0);
    expect(r.replayAnswered).toBe(Array(RECORDS).fill('duplicate').join(','));
    expect(r.workerCpuMs).toHaveLength(2);
  }, 600_000);
});
