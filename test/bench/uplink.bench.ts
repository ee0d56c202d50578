/**
 * `npm run bench -- uplink`: station outbox (the real vault) → Mosquitto →
 * headquarters ingest (separate process: verify, commit with fsync, signed
 * receipt) → vault acknowledged, against bare mqtt.js QoS 1 publishing of the
 * very same batch frames to the same broker, with a subscriber in a separate
 * process receiving them (waiting for each PUBACK, the fastest bare mode).
 * Then: drain of a 10,000-record backlog of small records and the station's RSS.
 * Also printed: the CPU floor of any uplink on this machine (the bare run's CPU
 * plus the checks and the durable insert the issues require, over the cores).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { startMosquitto } from '../helpers/mosquitto';
import { makeFixture, openOutbox, type Fixture, type TestOutbox } from '../uplink/helpers';
import { MemoryOutbox } from '../uplink/memory-outbox';
import { Uplink } from '../../sync/uplink';
import { vaultPath } from '../../station/vault';
import { buildFrames } from '../../sync/wire/frame';
import { checkSignature, digestEnvelope, parseEnvelope, RecordOpener } from '../../sync/wire/envelope';
import { loadRecordKeys } from '../../sync/wire/keys';
import { topics } from '../../sync/topics';
import pino from 'pino';
import Database from 'better-sqlite3';
import type { Outbox, OutboxItem } from '../../sync/outbox';
import { compiled, ROOT } from './paths';

const benchLog = process.env.UPLINK_BENCH_LOG ? pino({ level: process.env.UPLINK_BENCH_LOG }, pino.destination(2)) : undefined;

const RECORDS = Number(process.env.UPLINK_BENCH_RECORDS ?? 300);
const PORTRAIT = Number(process.env.UPLINK_BENCH_PORTRAIT ?? 150_000);
const DRAIN_RECORDS = Number(process.env.UPLINK_BENCH_DRAIN ?? 10_000);
const DRAIN_PORTRAIT = Number(process.env.UPLINK_BENCH_DRAIN_PORTRAIT ?? 1_000);
const MAX_BATCH_RECORDS = 200;

const children = new Set<ChildProcess>();

function child(args: string[]): { p: ChildProcess; wait: (re: RegExp, ms: number) => Promise<string> } {
  // UPLINK_BENCH_CHILD_PROF=DIR: a V8 CPU profile of each headquarters / sink process (for finding where time goes)
  const prof = process.env.UPLINK_BENCH_CHILD_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.UPLINK_BENCH_CHILD_PROF}`] : [];
  const p = spawn(process.execPath, [...prof, compiled('test/uplink/hq-proc.ts'), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(p);
  p.once('exit', () => children.delete(p));
  let out = '';
  p.stdout!.setEncoding('utf8').on('data', (d: string) => { out += d; });
  p.stderr!.setEncoding('utf8').on('data', (d: string) => { out += d; });
  return {
    p,
    wait: (re, ms) => new Promise((resolve, reject) => {
      const t0 = Date.now();
      const iv = setInterval(() => {
        const m = re.exec(out);
        if (m) { clearInterval(iv); resolve(m[0]); } else if (Date.now() - t0 > ms || p.exitCode !== null) { clearInterval(iv); reject(new Error(`child did not print ${re}: ${out.slice(-800)}`)); }
      }, 20);
    }),
  };
}

async function stopChild(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  p.kill('SIGTERM');
  await new Promise<void>((r) => { const t = setTimeout(() => { p.kill('SIGKILL'); r(); }, 5_000); p.once('exit', () => { clearTimeout(t); r(); }); });
}

/** CPU time (user + system, ms) a process has used so far, from /proc. */
function procCpuMs(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return ((Number(rest[11]) + Number(rest[12])) * 1000) / 100; // utime + stime, in clock ticks (USER_HZ 100)
  } catch {
    return 0;
  }
}

/** CPU ms used by this process and the given ones while `fn` runs. */
async function cpuDuring<T>(pids: Record<string, number | undefined>, fn: () => Promise<T>): Promise<{ result: T; cpu: Record<string, number> }> {
  const before = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, procCpuMs(pid)]));
  const self0 = process.cpuUsage();
  const result = await fn();
  const self = process.cpuUsage(self0);
  const cpu: Record<string, number> = { station: Math.round((self.user + self.system) / 1000) };
  for (const [k, pid] of Object.entries(pids)) cpu[k] = Math.round(procCpuMs(pid) - before[k]!);
  return { result, cpu };
}

/** The frames the uplink will publish for the sealed backlog: same grouping as Uplink + Vault.openBatch. */
function framesFor(ob: TestOutbox, stationId: string): Buffer[] {
  const db = (ob as unknown as { db: { prepare(s: string): { all(): { record_id: string; envelope: Buffer; sha256: string }[] } } }).db;
  const rows = db.prepare("SELECT r.record_id, e.envelope, r.sha256 FROM records r JOIN envelopes e ON e.seq = r.seq WHERE r.state = 'sealed' ORDER BY r.seq").all();
  const cap = 1024 * 1024 - 512;
  const maxBytes = Math.max(1024, cap - 1024 - MAX_BATCH_RECORDS * 200);
  const frames: Buffer[] = [];
  let cur: { recordId: string; envelope: Buffer; sha256: string }[] = [];
  let bytes = 0;
  const flush = (): void => {
    if (cur.length) frames.push(...buildFrames({ stationId, batchId: `bare-${frames.length}`, attempt: 1, items: cur }, cap));
    cur = [];
    bytes = 0;
  };
  for (const r of rows) {
    if (cur.length > 0 && bytes + r.envelope.length > maxBytes) flush();
    cur.push({ recordId: r.record_id, envelope: r.envelope, sha256: r.sha256 });
    bytes += r.envelope.length;
    if (cur.length >= MAX_BATCH_RECORDS || bytes >= maxBytes) flush();
  }
  flush();
  return frames;
}

async function drainThroughUplink(brokerUrl: string, f: Fixture, ob: Outbox, total: number): Promise<{ ms: number; maxRss: number; sent: number }> {
  let sent = 0;
  const spent: Record<string, number> = {};
  if (process.env.UPLINK_BENCH_PROFILE) {
    for (const m of ['openBatch', 'markAttempt', 'acknowledge', 'inFlightBatches', 'stats', 'auditEntriesSince'] as const) {
      const orig = (ob as unknown as Record<string, (...a: unknown[]) => unknown>)[m]!.bind(ob);
      (ob as unknown as Record<string, unknown>)[m] = (...a: unknown[]) => { const t0 = process.hrtime.bigint(); try { return orig(...a); } finally { spent[m] = (spent[m] ?? 0) + Number(process.hrtime.bigint() - t0) / 1e6; } };
    }
  }
  const up = new Uplink({
    brokerUrl, stationId: f.stationId, outbox: ob, signingKey: createPrivateKey(f.stationKeyPem), hqIdentity: f.hqPublic,
    dataDir: f.stationDir, maxBatchRecords: MAX_BATCH_RECORDS, receiptTimeoutMs: 30_000, logger: benchLog,
    ...(process.env.UPLINK_BENCH_WINDOW ? { maxInFlightBatches: Number(process.env.UPLINK_BENCH_WINDOW) } : {}),
  });
  up.on('sent', (e: { frames: number }) => { sent += e.frames; });
  let maxRss = process.memoryUsage().rss;
  const iv = setInterval(() => { maxRss = Math.max(maxRss, process.memoryUsage().rss); }, 50);
  let acked = 0;
  const done = new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('drain timed out')), 600_000);
    up.on('acknowledged', (e: { results: unknown[] }) => { acked += e.results.length; if (acked >= total) { clearTimeout(t); resolve(); } });
  });
  // UPLINK_BENCH_STATION_PROF=FILE: a V8 CPU profile of this (station) process during the drain only
  const profFile = process.env.UPLINK_BENCH_STATION_PROF;
  const session = profFile ? new (await import('node:inspector')).Session() : null;
  const post = (m: string, p?: object) => new Promise<unknown>((res, rej) => session!.post(m, p ?? {}, (e, r) => (e ? rej(e) : res(r))));
  if (session) { session.connect(); await post('Profiler.enable'); await post('Profiler.start'); }
  const t0 = process.hrtime.bigint();
  await up.start();
  await done;
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (session) {
    const { profile } = (await post('Profiler.stop')) as { profile: unknown };
    writeFileSync(`${profFile}.${ob instanceof MemoryOutbox ? 'memory' : 'vault'}.cpuprofile`, JSON.stringify(profile));
    session.disconnect();
  }
  clearInterval(iv);
  if (process.env.UPLINK_BENCH_PROFILE) console.error('# vault time (ms):', JSON.stringify(Object.fromEntries(Object.entries(spent).map(([k, v]) => [k, Math.round(v)]))));
  await up.stop();
  return { ms, maxRss, sent };
}

async function bare(brokerUrl: string, frames: Buffer[], stationId: string, brokerPid: number | undefined): Promise<{ ms: number; cpu: Record<string, number> }> {
  const sink = child(['sink', brokerUrl, '-', stationId, String(frames.length)]);
  try {
    await sink.wait(/ready/, 60_000);
    const c = await mqtt.connectAsync(brokerUrl, { protocolVersion: 5, clean: true });
    const t0 = process.hrtime.bigint();
    const { cpu } = await cpuDuring({ sink: sink.p.pid, broker: brokerPid }, async () => {
      for (const fr of frames) await c.publishAsync(topics.batch(stationId), fr, { qos: 1 });
      await sink.wait(/done \d+ \d+/, 120_000);
    });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    await c.endAsync();
    return { ms, cpu: { publisher: cpu.station!, sink: cpu.sink!, broker: cpu.broker! } };
  } finally {
    await stopChild(sink.p);
  }
}

export async function run(): Promise<void> {
  const broker = await startMosquitto({ extra: ['max_queued_messages 100000'] });
  const fixtures: Fixture[] = [];
  try {
    // ---- throughput: uplink vs bare
    const f = await makeFixture('bench-st-1');
    fixtures.push(f);
    // as the station runs it (station/app.ts): release happens in its maintenance pass, not on the upload path
    const ob = await openOutbox(f, { releaseOnAck: false });
    console.error(`# sealing ${RECORDS} records (${PORTRAIT} B portrait each) into the vault…`);
    await ob.sealN(RECORDS, PORTRAIT);
    const totalBytes = sumEnvelopeBytes(ob);
    const pubFile = join(f.root, 'station.pub');
    writeFileSync(pubFile, f.stationPubPem);
    const hq = child(['hq', broker.url, f.hqDir, f.stationId, pubFile]);
    await hq.wait(/ready/, 60_000);
    const frames = framesFor(ob, f.stationId);
    const items = sealedItems(ob);
    const { result: up, cpu: upCpu } = await cpuDuring({ hq: hq.p.pid, broker: broker.pid }, () => drainThroughUplink(broker.url, f, ob, RECORDS));
    await stopChild(hq.p);
    ob.close();
    // same records again from memory, to a fresh HQ database: uplink + HQ without the station vault's cost
    const f3 = await makeFixture('bench-st-1');
    fixtures.push(f3);
    rmSync(join(f3.hqDir, 'keys'), { recursive: true, force: true });
    cpSync(join(f.hqDir, 'keys'), join(f3.hqDir, 'keys'), { recursive: true });
    const hq3 = child(['hq', broker.url, f3.hqDir, f.stationId, pubFile]);
    await hq3.wait(/ready/, 60_000);
    const { result: mem, cpu: memCpu } = await cpuDuring({ hq: hq3.p.pid, broker: broker.pid }, () => drainThroughUplink(broker.url, { ...f, stationDir: f3.stationDir }, new MemoryOutbox(items), RECORDS));
    await stopChild(hq3.p);
    // the bare run is short and noisy: median of three passes
    const bareRuns: { ms: number; cpu: Record<string, number> }[] = [];
    for (let i = 0; i < 3; i++) bareRuns.push(await bare(broker.url, frames, f.stationId, broker.pid));
    const bareMid = [...bareRuns].sort((a, b) => a.ms - b.ms)[1]!;
    const bareMs = bareMid.ms;
    const bareCpu = bareMid.cpu;
    const bareCpuTotal = Object.values(bareCpu).reduce((a, b) => a + b, 0);
    const frameBytes = frames.reduce((s, b) => s + b.length, 0);
    const upRps = RECORDS / (up.ms / 1000);
    const upMBs = totalBytes / 1e6 / (up.ms / 1000);
    const bareMBs = totalBytes / 1e6 / (bareMs / 1000);
    console.error(`uplink: ${RECORDS} records, ${(totalBytes / 1e6).toFixed(1)} MB in ${up.ms.toFixed(0)} ms → ${upRps.toFixed(0)} rec/s, ${upMBs.toFixed(1)} MB/s (${up.sent} frames sent by the uplink, ${frames.length} in the bare run, ${(frameBytes / 1e6).toFixed(1)} MB on the wire)`);
    console.error(`  CPU ms while draining (2 cores = ${Math.round(2 * up.ms)} ms available): ${JSON.stringify(upCpu)}`);
    const memMBs = totalBytes / 1e6 / (mem.ms / 1000);
    console.error(`uplink from an in-memory outbox (same envelopes; HQ still verifies, commits with fsync and signs): ${mem.ms.toFixed(0)} ms → ${(RECORDS / (mem.ms / 1000)).toFixed(0)} rec/s, ${memMBs.toFixed(1)} MB/s`);
    console.error(`  CPU ms while draining (${Math.round(2 * mem.ms)} ms available): ${JSON.stringify(memCpu)}`);
    console.error(`bare mqtt.js QoS 1 (same frames, subscriber in another process; median of ${bareRuns.map((x) => x.ms.toFixed(0)).join('/')} ms): ${bareMs.toFixed(0)} ms → ${(RECORDS / (bareMs / 1000)).toFixed(0)} rec/s, ${bareMBs.toFixed(1)} MB/s`);
    console.error(`  CPU ms of the bare run (2 cores = ${Math.round(2 * bareMs)} ms available): ${JSON.stringify(bareCpu)}, ${bareCpuTotal} in all`);

    // ---- ceiling: every byte must be written durably at headquarters once. Bare SQLite (WAL,
    // synchronous=FULL) inserting the same envelopes, one transaction per batch of the same grouping.
    const sqlCpu0 = process.cpuUsage();
    const sqlMs = durableInsertMs(join(f.root, 'ceiling.db'), items);
    const sqlCpu = process.cpuUsage(sqlCpu0);
    const sqlCpuMs = (sqlCpu.user + sqlCpu.system) / 1000;
    const sqlMBs = totalBytes / 1e6 / (sqlMs / 1000);
    // what HQ must also do per record before it may store it: hash + station signature check,
    // as sync/hq/ingest.ts does it (one SHA-256 pass gives both digests)
    const stationPub = createPublicKey(f.stationPubPem);
    const v0 = process.hrtime.bigint();
    const verifyCpu0 = process.cpuUsage();
    for (const i of items) { if (!checkSignature(digestEnvelope(i.envelope), stationPub)) throw new Error('bench: envelope does not verify'); }
    const verifyMs = Number(process.hrtime.bigint() - v0) / 1e6;
    const verifyCpu = process.cpuUsage(verifyCpu0);
    const verifyCpuMs = (verifyCpu.user + verifyCpu.system) / 1000;
    // ... and open it (#13 item 1): bare HPKE open of every envelope with headquarters' record key
    // (the key already deserialized, as a running ingest has it), nothing decoded
    const opener = new RecordOpener(loadRecordKeys(join(f.hqDir, 'keys')));
    await opener.plaintext(parseEnvelope(items[0]!.envelope)); // key deserialization, once per process
    const openCpu0 = process.cpuUsage();
    for (const i of items) (await opener.plaintext(parseEnvelope(i.envelope))).fill(0);
    const openCpu = process.cpuUsage(openCpu0);
    const openCpuMs = (openCpu.user + openCpu.system) / 1000;
    // headquarters' CPU per record (the ingest process: MQTT, chunk reassembly, verify, open and
    // validate, durable store, signed receipt) against the bare verify + open + durable insert
    const hqCpuPerRecord = upCpu.hq! / RECORDS;
    const bareHqCpuPerRecord = (verifyCpuMs + openCpuMs + sqlCpuMs) / RECORDS;
    const hqCpuRatio = hqCpuPerRecord / bareHqCpuPerRecord;
    console.error(`HQ CPU per record: ingest ${hqCpuPerRecord.toFixed(2)} ms against bare verify ${(verifyCpuMs / RECORDS).toFixed(2)} + HPKE open ${(openCpuMs / RECORDS).toFixed(2)} + durable insert ${(sqlCpuMs / RECORDS).toFixed(2)} = ${bareHqCpuPerRecord.toFixed(2)} ms → hqCpuRatio ${hqCpuRatio.toFixed(3)} (goal ≤ 1.5)`);
    const hqMinMBs = totalBytes / 1e6 / ((sqlMs + verifyMs) / 1000);
    console.error(`HQ verification alone (SHA-256 + Ed25519 of every envelope): ${verifyMs.toFixed(0)} ms; verify + durable insert on one core: ${hqMinMBs.toFixed(1)} MB/s → ratio ceiling ${(Math.min(hqMinMBs, bareMBs) / bareMBs).toFixed(3)}`);
    console.error(`bare SQLite durable insert at HQ (same envelopes and grouping, WAL + FULL, 64 KiB pages): ${sqlMs.toFixed(0)} ms (${sqlCpuMs.toFixed(0)} ms CPU) → ${sqlMBs.toFixed(1)} MB/s; ceiling ratio ${(Math.min(sqlMBs, bareMBs) / bareMBs).toFixed(3)} (pipelined) / ${((1 / (1 / sqlMBs + 1 / bareMBs)) / bareMBs).toFixed(3)} (serial)`);
    // On this machine's 2 cores, any uplink does at least the bare run's transport work (publisher,
    // broker, subscriber) plus headquarters' verification and durable insert: with every core busy
    // all the time it cannot finish sooner than that CPU time over 2.
    // The station, for its part, reads every envelope out of its vault and checks it before it
    // is sent (#3: a tampered row is caught before it leaves): the same one-pass check.
    const readCpu0 = process.cpuUsage();
    const vdb = new Database(vaultPath(f.stationDir), { readonly: true });
    for (const r of vdb.prepare('SELECT e.envelope FROM records r JOIN envelopes e ON e.seq = r.seq ORDER BY r.seq').iterate() as IterableIterator<{ envelope: Buffer }>) {
      if (!checkSignature(digestEnvelope(r.envelope), stationPub)) throw new Error('bench: envelope does not verify');
    }
    vdb.close();
    const readCpu = process.cpuUsage(readCpu0);
    const stationReadMs = (readCpu.user + readCpu.system) / 1000;
    const minCpuMs = bareCpuTotal + verifyMs + sqlCpuMs + stationReadMs;
    const cpuCeiling = Math.min(1, bareMs / (minCpuMs / 2));
    console.error(`CPU floor of any uplink here: transport ${bareCpuTotal} + HQ verify ${verifyMs.toFixed(0)} + HQ insert ${sqlCpuMs.toFixed(0)} + station read and check ${stationReadMs.toFixed(0)} = ${minCpuMs.toFixed(0)} ms of CPU → at least ${(minCpuMs / 2).toFixed(0)} ms on 2 cores → ratio ceiling ${cpuCeiling.toFixed(3)}`);

    // ---- drain of a 10k backlog
    const f2 = await makeFixture('bench-st-2');
    fixtures.push(f2);
    const ob2 = await openOutbox(f2);
    console.error(`# sealing ${DRAIN_RECORDS} small records (${DRAIN_PORTRAIT} B portrait each)…`);
    await ob2.sealN(DRAIN_RECORDS, DRAIN_PORTRAIT);
    const drainBytes = sumEnvelopeBytes(ob2);
    const pub2 = join(f2.root, 'station.pub');
    writeFileSync(pub2, f2.stationPubPem);
    const hq2 = child(['hq', broker.url, f2.hqDir, f2.stationId, pub2]);
    await hq2.wait(/ready/, 60_000);
    ob2.close();
    const d = await drainInStationProcess(broker.url, f2, DRAIN_RECORDS);
    await stopChild(hq2.p);
    console.error(`drain: ${DRAIN_RECORDS} records (${(drainBytes / DRAIN_RECORDS / 1000).toFixed(1)} KB each) in ${(d.ms / 1000).toFixed(1)} s (station process: vault + uplink), station RSS ${(d.startRss / 1e6).toFixed(0)} MB when started (compiled, plain node), max ${(d.maxRss / 1e6).toFixed(0)} MB while draining`);

    const ratio = upMBs / bareMBs;
    console.log(JSON.stringify({
      bench: 'uplink', ratio: Number(ratio.toFixed(3)), goal: 0.7, better: 'higher',
      recordBytes: Math.round(totalBytes / RECORDS), records: RECORDS,
      uplinkRecordsPerS: Number(upRps.toFixed(1)), uplinkMBps: Number(upMBs.toFixed(2)),
      transportOnlyMBps: Number(memMBs.toFixed(2)), transportOnlyRatio: Number((memMBs / bareMBs).toFixed(3)),
      bareRecordsPerS: Number((RECORDS / (bareMs / 1000)).toFixed(1)), bareMBps: Number(bareMBs.toFixed(2)),
      hqDurableInsertMBps: Number(sqlMBs.toFixed(2)), ceilingRatio: Number((Math.min(sqlMBs, bareMBs) / bareMBs).toFixed(3)),
      hqVerifyAndInsertMBps: Number(hqMinMBs.toFixed(2)), verifyCeilingRatio: Number((Math.min(hqMinMBs, bareMBs) / bareMBs).toFixed(3)),
      bareCpuMs: bareCpu, twoCoreCpuCeilingRatio: Number(cpuCeiling.toFixed(3)),
      cpuMsWhileDraining: upCpu, transportOnlyCpuMs: memCpu, wallMsWhileDraining: Math.round(up.ms),
      drainRecords: DRAIN_RECORDS, drainRecordBytes: Math.round(drainBytes / DRAIN_RECORDS), drainSeconds: Number((d.ms / 1000).toFixed(2)),
      drainMaxRssMB: Math.round(d.maxRss / 1e6),
      hqCpuRatio: Number(hqCpuRatio.toFixed(3)), hqCpuGoal: 1.5, hqCpuMsPerRecord: Number(hqCpuPerRecord.toFixed(3)),
      bareHqCpuMsPerRecord: { verify: Number((verifyCpuMs / RECORDS).toFixed(3)), open: Number((openCpuMs / RECORDS).toFixed(3)), durableInsert: Number((sqlCpuMs / RECORDS).toFixed(3)) },
    }));
  } finally {
    for (const c of children) c.kill('SIGKILL');
    await broker.dispose();
    for (const f of fixtures) f.cleanup();
  }
}

function sealedItems(ob: TestOutbox): OutboxItem[] {
  const db = (ob as unknown as { db: { prepare(s: string): { all(): { record_id: string; envelope: Buffer; sha256: string; sealed_at: number }[] } } }).db;
  return db.prepare("SELECT r.record_id, e.envelope, r.sha256, r.sealed_at FROM records r JOIN envelopes e ON e.seq = r.seq WHERE r.state = 'sealed' ORDER BY r.seq").all()
    .map((r) => ({ recordId: r.record_id, envelope: r.envelope, sha256: r.sha256, sealedAt: r.sealed_at }));
}

/** Runs the station (vault + uplink, nothing else) in its own process and times the drain from its first connect. */
async function drainInStationProcess(brokerUrl: string, f: Fixture, total: number): Promise<{ ms: number; maxRss: number; startRss: number }> {
  const cfgPath = join(f.root, 'station.json');
  writeFileSync(cfgPath, JSON.stringify({ brokerUrl, stationId: f.stationId, stationDir: f.stationDir, stationKeyPem: f.stationKeyPem, hqPublicPath: join(f.hqDir, 'keys', 'hq-public.json'), maxBatchRecords: MAX_BATCH_RECORDS, receiptTimeoutMs: 30_000, reportRss: true, releaseOnAck: false }));
  const p = spawn(process.execPath, [compiled('test/uplink/station-proc.ts'), cfgPath], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(p);
  p.once('exit', () => children.delete(p));
  let out = '';
  let acked = 0;
  let maxRss = 0;
  let startRss = 0;
  let tStart = 0n;
  let tEnd = 0n;
  p.stderr!.setEncoding('utf8').on('data', (d: string) => { out += d; });
  try {
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`drain timed out: ${out.slice(-800)}`)), 600_000);
      let buf = '';
      p.stdout!.setEncoding('utf8').on('data', (d: string) => {
        buf += d;
        let i: number;
        while ((i = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 1);
          const [k, v] = line.split(' ');
          if (k === 'rss') { maxRss = Math.max(maxRss, Number(v)); if (!startRss) startRss = Number(v); }
          if (k === 'started' && tStart === 0n) tStart = process.hrtime.bigint();
          if (k === 'acked-records') { acked += Number(v); if (acked >= total) { tEnd = process.hrtime.bigint(); clearTimeout(t); resolve(); } }
        }
      });
      p.once('exit', () => reject(new Error(`station process exited: ${out.slice(-800)}`)));
    });
  } finally {
    await stopChild(p);
  }
  return { ms: Number(tEnd - tStart) / 1e6, maxRss, startRss };
}

/** Durable insert of the envelopes into a fresh SQLite file, grouped as the uplink batches them. */
function durableInsertMs(path: string, items: OutboxItem[]): number {
  const db = new Database(path);
  db.pragma('page_size = 65536'); // as headquarters' own database (sync/hq/store.ts)
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec('CREATE TABLE r (record_id TEXT PRIMARY KEY, sha256 TEXT NOT NULL, envelope BLOB NOT NULL)');
  const ins = db.prepare('INSERT INTO r (record_id, sha256, envelope) VALUES (?, ?, ?)');
  const tx = db.transaction((group: OutboxItem[]) => { for (const i of group) ins.run(i.recordId, i.sha256, i.envelope); });
  const maxBytes = Math.max(1024, 1024 * 1024 - 512 - 1024 - MAX_BATCH_RECORDS * 200);
  const t0 = process.hrtime.bigint();
  let group: OutboxItem[] = [];
  let bytes = 0;
  for (const i of items) {
    if (group.length > 0 && bytes + i.envelope.length > maxBytes) { tx(group); group = []; bytes = 0; }
    group.push(i);
    bytes += i.envelope.length;
    if (group.length >= MAX_BATCH_RECORDS || bytes >= maxBytes) { tx(group); group = []; bytes = 0; }
  }
  if (group.length) tx(group);
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  db.close();
  return ms;
}

function sumEnvelopeBytes(ob: TestOutbox): number {
  const r = (ob as unknown as { db: { prepare(s: string): { get(): { n: number } } } }).db.prepare("SELECT COALESCE(SUM(size), 0) AS n FROM records WHERE state = 'sealed'").get();
  return r.n;
}
