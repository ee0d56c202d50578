/**
 * `npm run bench -- fleet`: a fleet load simulation (#19 items 4 and Speed).
 * FLEET_BENCH_BOOTHS (default 2,000) simulated booths, each its own MQTT
 * connection to one real Mosquitto with the real wire format: a retained
 * "online" status with a "lost" last will, a health message, and one batch
 * frame of signed, HPKE-sealed records (real Sealer, realistic portrait size),
 * all published at once — the evening burst of wards coming back online. Each
 * booth checks its receipt (signature under headquarters' receipt key, its batch,
 * every record stored). Then one booth replays its old batch (must answer
 * duplicate, nothing stored twice). Run with 1 and with 2 `hq` ingest worker
 * processes on one shared subscription into a real PostgreSQL (fresh database
 * each run, same records).
 *
 * The bound measured in the same run: this process doing, for the same records,
 * only what headquarters must — SHA-256 + Ed25519 verify, HPKE open and record
 * validation, a durable PostgreSQL insert (one transaction per batch, fsync on).
 * ratio = headquarters' CPU per record (worker processes) / that bare CPU per
 * record; goal ≤ 1.5. The PostgreSQL server's CPU is reported apart (it is the
 * same work in both).
 */
import { createPublicKey } from 'node:crypto';
import { join } from 'node:path';
import { startMosquitto } from '../helpers/mosquitto';
import { startPostgres, type Postgres } from '../helpers/postgres';
import { makeFixture, hqPrivate } from '../uplink/helpers';
import { checkSignature, digestEnvelope } from '../../sync/wire/envelope';
import { PgHqStore } from '../../sync/hq/store-pg';
import { LocalValidator } from '../../sync/hq/validate';
import { loadHqPrivateKeys, recordKeysOf } from '../../sync/wire/keys';
import { connectBooths, fleetRun, sealFleet, type Booth, type RunResult } from './fleet-sim';

const BOOTHS = Number(process.env.FLEET_BENCH_BOOTHS ?? 2000);
const RECORDS_PER_BOOTH = Number(process.env.FLEET_BENCH_RECORDS ?? 2);
const PORTRAIT = Number(process.env.FLEET_BENCH_PORTRAIT ?? 20_000);

/** What headquarters must do per record, nothing else, in this process: verify, open + validate, durable insert. */
async function bare(pg: Postgres, hqDir: string, booths: Booth[]): Promise<{ cpuMs: number; wallMs: number; verifyMs: number; openMs: number; insertMs: number }> {
  const url = pg.url(pg.createDatabase('fleet_bare'));
  const schema = await PgHqStore.open({ url, poolSize: 1 }); // same tables (TOAST external envelopes)
  await schema.close();
  const { Client } = await import('pg');
  const c = new Client({ connectionString: url });
  await c.connect();
  const validator = new LocalValidator({ loadKeys: () => recordKeysOf(loadHqPrivateKeys(join(hqDir, 'keys'))) });
  const keys = new Map(booths.map((b) => [b.stationId, createPublicKey(b.publicPem)]));
  let verifyNs = 0n; let openNs = 0n; let insertNs = 0n;
  const cpu0 = process.cpuUsage();
  const t0 = Date.now();
  for (const b of booths) {
    const a = process.hrtime.bigint();
    for (const r of b.records) if (!checkSignature(digestEnvelope(r.envelope), keys.get(b.stationId)!)) throw new Error('bench: signature');
    const m = process.hrtime.bigint();
    const verdicts = await validator.validate(b.records.map((r) => ({ stationId: b.stationId, recordId: r.recordId, envelope: r.envelope })));
    if (!verdicts.every((v) => v.ok)) throw new Error(`bench: validation ${JSON.stringify(verdicts.find((v) => !v.ok))}`);
    const o = process.hrtime.bigint();
    await c.query('BEGIN');
    for (const r of b.records) {
      await c.query({ name: 'ins', text: `INSERT INTO records (station_id, record_id, sha256, envelope, size, sealed_at, received_at, batch_id, worker) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9) ON CONFLICT DO NOTHING`,
        values: [b.stationId, r.recordId, r.sha256, r.envelope, r.envelope.length, r.sealedAt, Date.now(), b.batchId, 'bare'] });
    }
    await c.query('COMMIT');
    const e = process.hrtime.bigint();
    verifyNs += m - a; openNs += o - m; insertNs += e - o;
  }
  const wallMs = Date.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  await c.end();
  await validator.close();
  return { cpuMs: (cpu.user + cpu.system) / 1000, wallMs, verifyMs: Number(verifyNs) / 1e6, openMs: Number(openNs) / 1e6, insertMs: Number(insertNs) / 1e6 };
}

export async function run(): Promise<void> {
  const pg = await startPostgres();
  const broker = await startMosquitto({ extra: ['max_queued_messages 100000', 'max_keepalive 600'] });
  const f = await makeFixture('fleet-hq');
  const booths: Booth[] = [];
  try {
    console.error(`# sealing ${BOOTHS} booths × ${RECORDS_PER_BOOTH} records (${PORTRAIT} B portrait each)…`);
    booths.push(...(await sealFleet(f.hqPublic, { booths: BOOTHS, recordsPerBooth: RECORDS_PER_BOOTH, portraitBytes: PORTRAIT })));
    const recordBytes = Math.round(booths.reduce((s, b) => s + b.records.reduce((t, r) => t + r.envelope.length, 0), 0) / (BOOTHS * RECORDS_PER_BOOTH));
    console.error(`# connecting ${BOOTHS} booths (status with last will, health)…`);
    await connectBooths(broker.url, booths);
    const receiptKey = hqPrivate(f).receiptKey;
    const runs: RunResult[] = [];
    for (const n of (process.env.FLEET_BENCH_WORKERS ?? '1,2').split(',').map(Number)) {
      console.error(`# burst: ${BOOTHS} booths at once → ${n} worker(s) → PostgreSQL`);
      const r = await fleetRun(n, pg, broker.url, broker.pid, f.hqDir, receiptKey, booths);
      console.error(`  ${JSON.stringify(r)}`);
      runs.push(r);
    }
    let restart: RunResult | null = null;
    if (process.env.FLEET_BENCH_RESTART !== '0') {
      console.error(`# burst again into 2 workers, the broker restarted (SIGTERM, persistence) once a third of the booths are answered`);
      restart = await fleetRun(2, pg, broker.url, undefined, f.hqDir, receiptKey, booths, { restart: () => broker.restart(), afterAnswered: Math.ceil(BOOTHS / 3) });
      console.error(`  ${JSON.stringify(restart)}`);
      if (restart.lost !== 0 || restart.duplicated !== 0 || restart.stored !== BOOTHS * RECORDS_PER_BOOTH || !/^duplicate(,duplicate)*$/.test(restart.replayAnswered)) throw new Error(`bench: broker restart run lost ${restart.lost}, duplicated ${restart.duplicated}, replay answered ${restart.replayAnswered}`);
    }
    console.error('# bare: verify + HPKE open + validate + durable PostgreSQL insert of the same records, in this process');
    const b = await bare(pg, f.hqDir, booths);
    const records = BOOTHS * RECORDS_PER_BOOTH;
    console.error(`  ${JSON.stringify(b)}`);
    if (runs.length < 2) return;
    const [one, two] = runs as [RunResult, RunResult];
    const hqCpuPerRecord = one.workerCpuMs.reduce((s, x) => s + x, 0) / records;
    const hqCpuPerRecord2 = two.workerCpuMs.reduce((s, x) => s + x, 0) / records;
    const bareCpuPerRecord = b.cpuMs / records;
    const ratio = hqCpuPerRecord / bareCpuPerRecord;
    for (const r of runs) if (r.lost !== 0 || r.duplicated !== 0 || r.stored !== records || !/^duplicate(,duplicate)*$/.test(r.replayAnswered)) throw new Error(`bench: fleet run with ${r.workers} worker(s) lost ${r.lost}, duplicated ${r.duplicated}, stored ${r.stored}/${records}, replay answered ${r.replayAnswered}`);
    console.log(JSON.stringify({
      bench: 'fleet', ratio: Number(ratio.toFixed(3)), goal: 1.5, better: 'lower',
      booths: BOOTHS, records, recordBytes,
      recordsPerSPerWorker1w: Number(one.recordsPerS.toFixed(1)), recordsPerSPerWorker2w: Number((two.recordsPerS / 2).toFixed(1)),
      recordsPerS1w: Number(one.recordsPerS.toFixed(1)), recordsPerS2w: Number(two.recordsPerS.toFixed(1)),
      twoToOneWorkerRatio: Number((two.recordsPerS / one.recordsPerS).toFixed(3)),
      receiptP50Ms1w: one.receiptP50Ms, receiptP99Ms1w: one.receiptP99Ms, receiptP50Ms2w: two.receiptP50Ms, receiptP99Ms2w: two.receiptP99Ms,
      hqCpuMsPerRecord1w: Number(hqCpuPerRecord.toFixed(3)), hqCpuMsPerRecord2w: Number(hqCpuPerRecord2.toFixed(3)), bareCpuMsPerRecord: Number(bareCpuPerRecord.toFixed(3)),
      bareVerifyMs: Math.round(b.verifyMs), bareOpenMs: Math.round(b.openMs), bareInsertMs: Math.round(b.insertMs), bareWallMs: b.wallMs,
      workerCpuMs1w: one.workerCpuMs, workerCpuMs2w: two.workerCpuMs,
      postgresCpuMs1w: one.postgresCpuMs, postgresCpuMs2w: two.postgresCpuMs, brokerCpuMs1w: one.brokerCpuMs, brokerCpuMs2w: two.brokerCpuMs,
      simulatorCpuMs1w: one.simulatorCpuMs, simulatorCpuMs2w: two.simulatorCpuMs,
      wallMs1w: one.wallMs, wallMs2w: two.wallMs, cores: 2,
      ...(restart ? { brokerRestartWallMs: restart.wallMs, brokerRestartReceiptP99Ms: restart.receiptP99Ms, brokerRestartLost: restart.lost, brokerRestartDuplicated: restart.duplicated, brokerRestartResends: restart.resends, brokerRestartRecordsPerS: Number(restart.recordsPerS.toFixed(1)), brokerRestartReceiptP50Ms: restart.receiptP50Ms, brokerRestartAnsweredAtRestart: restart.answeredAtRestart, brokerRestartWorkerCpuMs: restart.workerCpuMs, brokerRestartReplay: restart.replayAnswered } : {}),
      lost: one.lost + two.lost, duplicated: one.duplicated + two.duplicated, resends: one.resends + two.resends, repeatedReceipts: one.repeatedReceipts + two.repeatedReceipts,
    }));
  } finally {
    await Promise.all(booths.map((b) => b.client?.endAsync(true).catch(() => undefined)));
    await broker.dispose();
    await pg.dispose();
    f.cleanup();
  }
}
