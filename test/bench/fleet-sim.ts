/**
 * The fleet simulator behind `npm run bench -- fleet` and test/hq/loadsim.test.ts (#19 item 4):
 * M booths, each its own MQTT connection to a real Mosquitto with the real wire
 * format (retained status with a "lost" last will, health, one batch frame of
 * signed, HPKE-sealed records), bursting at once into N ingest worker processes
 * on one PostgreSQL; optionally the broker restarted mid-burst; then one booth
 * replays its old batch. What headquarters stored is compared with what the
 * booths sealed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { v7 as uuidv7 } from 'uuid';
import type { Postgres } from '../helpers/postgres';
import { makeRecord, type makeFixture } from '../uplink/helpers';
import { Sealer } from '../../sync/wire/envelope';
import { DEFAULT_SUITE } from '../../sync/wire/suites';
import { buildFrames } from '../../sync/wire/frame';
import { TrustedKeys, verifySigned } from '../../sync/wire/signed';
import { topics } from '../../sync/topics';
import type { ReceiptBody } from '../../sync/wire/payloads';
import { PgHqStore } from '../../sync/hq/store-pg';
import { COMPILED, compiled, ROOT } from './paths';

const BOOTHS_PER_WARD = 20;
const RESEND_MS = 60_000;

export interface Booth {
  stationId: string;
  unit: string;
  publicPem: string;
  batchId: string;
  frame: Buffer;
  records: { recordId: string; sha256: string; envelope: Buffer; sealedAt: number }[];
  client?: MqttClient;
}

export function procCpuMs(pid: number | undefined): number {
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
export function treeCpuMs(pid: number | undefined): number {
  if (!pid) return 0;
  let sum = procCpuMs(pid);
  try {
    for (const c of readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean)) sum += treeCpuMs(Number(c));
  } catch { /* gone */ }
  return sum;
}

export const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
};

export class WorkerProc {
  p!: ChildProcess;
  out = '';
  constructor(private readonly args: string[]) {}
  start(): Promise<void> {
    // compiled under `npm run bench`; from a vitest test, the source through ts-node
    const entry = COMPILED ? [compiled('test/hq/hq-pg-proc.ts')] : ['-r', 'ts-node/register/transpile-only', join(ROOT, 'test', 'hq', 'hq-pg-proc.ts')];
    this.p = spawn(process.execPath, [...entry, ...this.args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TS_NODE_TRANSPILE_ONLY: '1' } });
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

export interface FleetShape {
  booths: number;
  recordsPerBooth: number;
  portraitBytes: number;
}

export async function sealFleet(hqPublic: Awaited<ReturnType<typeof makeFixture>>['hqPublic'], shape: FleetShape): Promise<Booth[]> {
  const booths: Booth[] = [];
  for (let i = 0; i < shape.booths; i++) {
    const stationId = `w${String(Math.floor(i / BOOTHS_PER_WARD)).padStart(4, '0')}-b${String(i).padStart(5, '0')}`;
    const kp = generateKeyPairSync('ed25519');
    const sealer = new Sealer(DEFAULT_SUITE, hqPublic, kp.privateKey);
    const records: Booth['records'] = [];
    for (let r = 0; r < shape.recordsPerBooth; r++) {
      const s = await sealer.seal(makeRecord(stationId, shape.portraitBytes));
      records.push({ recordId: s.recordId, sha256: s.sha256, envelope: s.envelope, sealedAt: s.sealedAt });
    }
    const batchId = uuidv7();
    const frames = buildFrames({ stationId, batchId, attempt: 1, items: records }, 4 * 1024 * 1024);
    if (frames.length !== 1) throw new Error('bench: a booth batch needs one frame');
    booths.push({ stationId, unit: `ward-${Math.floor(i / BOOTHS_PER_WARD)}`, publicPem: kp.publicKey.export({ format: 'pem', type: 'spki' }).toString(), batchId, frame: frames[0]!, records });
  }
  return booths;
}

export async function connectBooths(brokerUrl: string, booths: Booth[]): Promise<void> {
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
        v: 1, at: Date.now(), session, version: 'bench', uptimeS: 3600, diskFreeBytes: 8e9, backlog: { count: b.records.length, oldestAgeMs: 3_600_000 }, lastReceiptAt: null,
        devices: [{ name: 'camera', state: 'ok' }, { name: 'fingerprint', state: 'ok' }], cpuTempC: 48, clockOffsetMs: 12, enrollments: { today: b.records.length, quota: 200, unit: b.unit }, intervalS: 60,
      }), { qos: 1, retain: true });
      b.client = c;
    }));
  }
}

export interface RunResult {
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
  brokerRestarted: boolean;
  /** Booths already answered when the broker was stopped (less than all: the restart fell inside the burst). */
  answeredAtRestart: number | null;
}

export interface RestartPlan {
  /** Stops the broker gracefully and starts it again on the same port. */
  restart: () => Promise<void>;
  /** Restart once this many booths have their receipt. */
  afterAnswered: number;
}

export async function fleetRun(n: number, pg: Postgres, brokerUrl: string, brokerPid: number | undefined, hqDir: string, receiptKey: KeyObject, booths: Booth[], restartBroker?: RestartPlan): Promise<RunResult> {
  const url = pg.url(pg.createDatabase(`fleet_${n}w${restartBroker ? '_restart' : ''}`));
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
    let restarted = false;
    let answeredAtRestart: number | null = null;
    let restartDone: Promise<void> = Promise.resolve();
    // as the uplink does: after a reconnect, everything unanswered is sent again at once
    const onReconnect = new Map<Booth, () => void>();
    for (const b of booths) {
      const h = (): void => {
        if (answered.has(b.stationId) || !sentAt.has(b.stationId)) return;
        resends++;
        // subscribed again first (clean session): the receipt must have somewhere to go
        void b.client!.subscribeAsync(topics.receipt(b.stationId), { qos: 1 })
          .then(() => b.client!.publishAsync(topics.batch(b.stationId), b.frame, { qos: 1 }))
          .catch(() => undefined); // the next reconnect or the resend timer tries again
      };
      onReconnect.set(b, h);
      b.client!.on('connect', h);
    }
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
            if (restartBroker && !restarted && answered.size >= restartBroker.afterAnswered) {
              restarted = true;
              answeredAtRestart = answered.size;
              restartDone = restartBroker.restart().catch((e: unknown) => { problems += `broker restart failed: ${(e as Error).message}; `; });
            }
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
    await restartDone;
    const wallMs = Date.now() - t0;
    clearInterval(resender);
    for (const [b, h] of onReconnect) b.client!.off('connect', h);
    if (restartBroker && !restarted) throw new Error('bench: the broker restart did not happen before the last receipt');
    const workerCpuMs = workers.map((w, i) => Math.round(procCpuMs(w.p.pid) - cpu0[i]!));
    const postgresCpuMs = Math.round(treeCpuMs(pg.pid) - pg0);
    const brokerCpuMs = Math.round(procCpuMs(brokerPid) - br0);
    const self = process.cpuUsage(self0);
    // one booth replays its old batch (a restored SD card, a resend after a crash): duplicate, nothing new
    const replayer = booths[Math.floor(booths.length / 2)]!;
    replaying.add(replayer.stationId);
    let replayedAt = Date.now();
    const replayed = new Promise<void>((r) => {
      const iv = setInterval(() => {
        if (replies.has(replayer.stationId)) { clearInterval(iv); r(); return; }
        // as a booth does: no receipt within its resend time, send again
        if (Date.now() - replayedAt >= RESEND_MS) { replayedAt = Date.now(); resends++; replayer.client!.publish(topics.batch(replayer.stationId), replayer.frame, { qos: 1 }); }
      }, 20);
    });
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
    const records = booths.reduce((s, b) => s + b.records.length, 0);
    return {
      workers: n, wallMs, recordsPerS: records / (wallMs / 1000),
      receiptP50Ms: pct(latencies, 50), receiptP99Ms: pct(latencies, 99),
      workerCpuMs, postgresCpuMs, brokerCpuMs, simulatorCpuMs: Math.round((self.user + self.system) / 1000),
      stored: stats.n, lost, duplicated: stats.n - stats.distinct, resends,
      replayAnswered: replies.get(replayer.stationId) ?? 'none', repeatedReceipts, brokerRestarted: restarted, answeredAtRestart,
    };
  } finally {
    await store.close();
  }
}

