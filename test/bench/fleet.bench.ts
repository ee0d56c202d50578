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
import { spawn, type ChildProcess } from 'node:child_process';
import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { v7 as uuidv7 } from 'uuid';
import { startMosquitto } from '../helpers/mosquitto';
import { startPostgres, type Postgres } from '../helpers/postgres';
import { makeFixture, makeRecord, hqPrivate } from '../uplink/helpers';
import { Sealer, checkSignature, digestEnvelope } from '../../sync/wire/envelope';
import { DEFAULT_SUITE } from '../../sync/wire/suites';
import { buildFrames } from '../../sync/wire/frame';
import { TrustedKeys, verifySigned } from '../../sync/wire/signed';
import { topics } from '../../sync/topics';
import type { ReceiptBody } from '../../sync/wire/payloads';
import { PgHqStore } from '../../sync/hq/store-pg';
import { LocalValidator } from '../../sync/hq/validate';
import { loadHqPrivateKeys, recordKeysOf } from '../../sync/wire/keys';
import { compiled, ROOT } from './paths';

const BOOTHS = Number(process.env.FLEET_BENCH_BOOTHS ?? 2000);
const RECORDS_PER_BOOTH = Number(process.env.FLEET_BENCH_RECORDS ?? 2);
const PORTRAIT = Number(process.env.FLEET_BENCH_PORTRAIT ?? 20_000);
const BOOTHS_PER_WARD = 20;
const RESEND_MS = 60_000;

interface Booth {
  stationId: string;
  unit: string;
  publicPem: string;
  batchId: string;
  frame: Buffer;
  records: { recordId: string; sha256: string; envelope: Buffer; sealedAt: number }[];
  client?: MqttClient;
}

function procCpuMs(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return ((Number(rest[11]) + Number(rest[12])) * 1000) / 100;
  } catch {
    return 0;
  }
}

/** CPU ms of a process and all its descendants (the PostgreSQL postmaster and its backends). */
function treeCpuMs(pid: number | undefined): number {
  if (!pid) return 0;
  let sum = procCpuMs(pid);
  try {
    for (const c of readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean)) sum += treeCpuMs(Number(c));
  } catch { /* gone */ }
  return sum;
}

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
};

class WorkerProc {
  p!: ChildProcess;
  out = '';
  constructor(private readonly args: string[]) {}
  start(): Promise<void> {
    this.p = spawn(process.execPath, [compiled('test/hq/hq-pg-proc.ts'), ...this.args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    this.p.stdout!.setEncoding('utf8').on('data', (d: string) => { this.out += d; });
    this.p.stderr!.setEncoding('utf8').on('data', (d: string) => { this.out += d; });
    return new Promise((resolve, reject) => {
      const iv = setInterval(() => {
        if (this.out.includes('ready')) { clearInterval(iv); resolve(); } else if (this.p.exitCode !== null) { clearInterval(iv); reject(new Error(`worker exited: ${this.out.slice(-800)}`)); }
      }, 20);
    });
  }
  stop(): Promise<void> {
    if (this.p.exitCode !== null || this.p.signalCode !== null) return Promise.resolve();
    return new Promise((r) => { const t = setTimeout(() => this.p.kill('SIGKILL'), 10_000); this.p.once('exit', () => { clearTimeout(t); r(); }); this.p.kill('SIGTERM'); });
  }
}

async function sealFleet(hqPublic: Awaited<ReturnType<typeof makeFixture>>['hqPublic']): Promise<Booth[]> {
  const booths: Booth[] = [];
  for (let i = 0; i < BOOTHS; i++) {
    const stationId = `w${String(Math.floor(i / BOOTHS_PER_WARD)).padStart(4, '0')}-b${String(i).padStart(5, '0')}`;
    const kp = generateKeyPairSync('ed25519');
    const sealer = new Sealer(DEFAULT_SUITE, hqPublic, kp.privateKey);
    const records: Booth['records'] = [];
    for (let r = 0; r < RECORDS_PER_BOOTH; r++) {
      const s = await sealer.seal(makeRecord(stationId, PORTRAIT));
      records.push({ recordId: s.recordId, sha256: s.sha256, envelope: s.envelope, sealedAt: s.sealedAt });
    }
    const batchId = uuidv7();
    const frames = buildFrames({ stationId, batchId, attempt: 1, items: records }, 4 * 1024 * 1024);
    if (frames.length !== 1) throw new Error('bench: a booth batch needs one frame');
    booths.push({ stationId, unit: `ward-${Math.floor(i / BOOTHS_PER_WARD)}`, publicPem: kp.publicKey.export({ format: 'pem', type: 'spki' }).toString(), batchId, frame: frames[0]!, records });
  }
  return booths;
}

async function connectBooths(brokerUrl: string, booths: Booth[]): Promise<void> {
  const session = Date.now();
  for (let i = 0; i < booths.length; i += 100) {
    await Promise.all(booths.slice(i, i + 100).map(async (b) => {
      const will = Buffer.from(JSON.stringify({ v: 1, state: 'lost', session, at: Date.now() }));
      const c = await mqtt.connectAsync(brokerUrl, {
        clientId: `booth-${b.stationId}`, protocolVersion: 5, clean: true, keepalive: 120, reconnectPeriod: 1000,
        will: { topic: topics.status(b.stationId), payload: will, qos: 1, retain: true },
      });
      await c.subscribeAsync(topics.receipt(b.stationId), { qos: 1 });
      await c.publishAsync(topics.status(b.stationId), JSON.stringify({ v: 1, state: 'online', session, at: Date.now() }), { qos: 1, retain: true });
      await c.publishAsync(topics.health(b.stationId), JSON.stringify({
        v: 1, at: Date.now(), session, version: 'bench', uptimeS: 3600, diskFreeBytes: 8e9, backlog: { count: RECORDS_PER_BOOTH, oldestAgeMs: 3_600_000 }, lastReceiptAt: null,
        devices: [{ name: 'camera', state: 'ok' }, { name: 'fingerprint', state: 'ok' }], cpuTempC: 48, clockOffsetMs: 12, enrollments: { today: RECORDS_PER_BOOTH, quota: 200, unit: b.unit }, intervalS: 60,
      }), { qos: 1, retain: true });
      b.client = c;
    }));
  }
}

interface RunResult {
  workers: number;
  wallMs: number;
  recordsPerS: number;
  receiptP50Ms: number;
  receiptP99Ms: number;
  workerCpuMs: number[];
  postgresCpuMs: number;
  brokerCpuMs: number;
  simulatorCpuMs: number;
  stored: number;
  lost: number;
  duplicated: number;
  resends: number;
  replayAnswered: string;
  /** Receipts a booth got again for a batch already answered (after a worker's reconnect). */
  repeatedReceipts: number;
}

async function fleetRun(n: number, pg: Postgres, brokerUrl: string, brokerPid: number | undefined, hqDir: string, receiptKey: KeyObject, booths: Booth[]): Promise<RunResult> {
  const url = pg.url(pg.createDatabase(`fleet_${n}w`));
  const store = await PgHqStore.open({ url, poolSize: 4 });
  try {
    for (let i = 0; i < booths.length; i += 200) {
      await Promise.all(booths.slice(i, i + 200).map((b) => store.registerStation({ stationId: b.stationId, unit: b.unit, publicKey: b.publicPem })));
    }
    const workers = Array.from({ length: n }, (_, i) => new WorkerProc([brokerUrl, hqDir, url, `fleet-${n}w-${i + 1}`]));
    for (const w of workers) await w.start();
    // the retained status and health of every booth reach every worker first (each writes the fleet rows)
    for (;;) {
      const n2 = (await store.pool.query<{ n: number }>('SELECT COUNT(*)::int AS n FROM fleet WHERE health_at IS NOT NULL AND state IS NOT NULL')).rows[0]!.n;
      if (n2 >= booths.length) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const trusted = new TrustedKeys([createPublicKey(receiptKey)]);
    const latencies: number[] = [];
    const sentAt = new Map<string, number>();
    const answered = new Map<string, string>();
    let resends = 0;
    let repeatedReceipts = 0;
    const replaying = new Set<string>();
    const replies = new Map<string, string>();
    let problems = '';
    const done = new Promise<void>((resolve) => {
      for (const b of booths) {
        b.client!.removeAllListeners('message');
        b.client!.on('message', (_t, payload) => {
          const v = verifySigned<ReceiptBody>(payload, trusted);
          if (!v.ok || v.body.type !== 'receipt') { if (v.ok && (v.body as { type: string }).type === 'audit-ack') return; problems += `bad receipt for ${b.stationId}; `; return; }
          if (v.body.batchId !== b.batchId) return;
          const statuses = v.body.results.map((r) => r.status).join(',');
          if (replaying.has(b.stationId)) { replies.set(b.stationId, statuses); return; }
          if (!answered.has(b.stationId)) {
            latencies.push(Date.now() - sentAt.get(b.stationId)!);
            answered.set(b.stationId, statuses);
            if (answered.size === booths.length) resolve();
          } else {
            // the same receipt again: a worker that reconnected resends the receipts its broker had not acknowledged
            repeatedReceipts++;
          }
        });
      }
    });
    const cpu0 = workers.map((w) => procCpuMs(w.p.pid));
    const pg0 = treeCpuMs(pg.pid);
    const br0 = procCpuMs(brokerPid);
    const self0 = process.cpuUsage();
    const t0 = Date.now();
    // the burst: every booth sends its backlog at once
    for (const b of booths) {
      sentAt.set(b.stationId, Date.now());
      b.client!.publish(topics.batch(b.stationId), b.frame, { qos: 1 });
    }
    const resender = setInterval(() => {
      for (const b of booths) {
        if (answered.has(b.stationId) || Date.now() - sentAt.get(b.stationId)! < RESEND_MS) continue;
        resends++;
        b.client!.publish(topics.batch(b.stationId), b.frame, { qos: 1 });
      }
    }, 5_000);
    await done;
    const wallMs = Date.now() - t0;
    clearInterval(resender);
    const workerCpuMs = workers.map((w, i) => Math.round(procCpuMs(w.p.pid) - cpu0[i]!));
    const postgresCpuMs = Math.round(treeCpuMs(pg.pid) - pg0);
    const brokerCpuMs = Math.round(procCpuMs(brokerPid) - br0);
    const self = process.cpuUsage(self0);
    // one booth replays its old batch (a restored SD card, a resend after a crash): duplicate, nothing new
    const replayer = booths[Math.floor(booths.length / 2)]!;
    replaying.add(replayer.stationId);
    const replayed = new Promise<void>((r) => { const iv = setInterval(() => { if (replies.has(replayer.stationId)) { clearInterval(iv); r(); } }, 20); });
    replayer.client!.publish(topics.batch(replayer.stationId), replayer.frame, { qos: 1 });
    await replayed;
    if (process.env.FLEET_BENCH_DEBUG) {
      const q = async () => (await store.pool.query('SELECT (SELECT COUNT(*) FROM records)::int AS r, (SELECT COUNT(*) FROM receipts)::int AS rc, (SELECT COALESCE(SUM(stored),0) FROM receipts)::int AS st, (SELECT COUNT(DISTINCT batch_id) FROM records)::int AS b')).rows[0];
      console.error('debug', JSON.stringify(await q()));
      await new Promise((r) => setTimeout(r, 3000));
      console.error('debug after 3 s', JSON.stringify(await q()));
      for (const w of workers) console.error('worker output:', w.out.slice(-3000));
    }
    const stats = (await store.pool.query<{ n: number; distinct: number }>('SELECT COUNT(*)::int AS n, COUNT(DISTINCT (station_id, record_id))::int AS distinct FROM records')).rows[0]!;
    const sealed = new Set(booths.flatMap((b) => b.records.map((r) => `${b.stationId}/${r.recordId}`)));
    const storedIds = (await store.pool.query<{ k: string }>("SELECT station_id || '/' || record_id AS k FROM records")).rows.map((r) => r.k);
    const lost = [...sealed].filter((k) => !storedIds.includes(k)).length;
    const notStored = [...answered.entries()].filter(([, s]) => s.split(',').some((x) => x !== 'stored' && x !== 'duplicate'));
    if (problems || notStored.length) throw new Error(`bench: receipts not all good: ${problems} ${notStored.slice(0, 3).map(([k, s]) => `${k}: ${s}`).join('; ')}`);
    for (const w of workers) await w.stop();
    const records = booths.length * RECORDS_PER_BOOTH;
    return {
      workers: n, wallMs, recordsPerS: records / (wallMs / 1000),
      receiptP50Ms: pct(latencies, 50), receiptP99Ms: pct(latencies, 99),
      workerCpuMs, postgresCpuMs, brokerCpuMs, simulatorCpuMs: Math.round((self.user + self.system) / 1000),
      stored: stats.n, lost, duplicated: stats.n - stats.distinct, resends,
      replayAnswered: replies.get(replayer.stationId) ?? 'none', repeatedReceipts,
    };
  } finally {
    await store.close();
  }
}

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
    booths.push(...(await sealFleet(f.hqPublic)));
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
      lost: one.lost + two.lost, duplicated: one.duplicated + two.duplicated, resends: one.resends + two.resends, repeatedReceipts: one.repeatedReceipts + two.repeatedReceipts,
    }));
  } finally {
    await Promise.all(booths.map((b) => b.client?.endAsync(true).catch(() => undefined)));
    await broker.dispose();
    await pg.dispose();
    f.cleanup();
  }
}
