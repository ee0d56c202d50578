/**
 * `npm run bench -- pgstore`: how headquarters keeps envelopes in PostgreSQL
 * (#19 item 1: "choose, measure, explain"). The same N sealed-size envelopes
 * (random bytes: ciphertext does not compress) are inserted durably, a batch per
 * transaction, into three layouts on one real PostgreSQL the harness starts:
 *  - extended: the column default (TOAST out of line, pglz compression tried first)
 *  - external: STORAGE EXTERNAL (out of line, no compression attempt) — what migration 3 sets
 *  - split:    envelopes in a table of their own, the records table without them
 * For each: wall time, CPU of this process and of the server, bytes in the
 * records heap (what a metadata scan reads) and in total, and the time of a
 * metadata scan (COUNT, SUM(size) over all rows). The bound in the same run:
 * the server's raw durable write of the same bytes (COPY of one bytea column into
 * an unindexed table). ratio = external insert MB/s / raw COPY MB/s (higher is
 * better; goal 0.5).
 */
import { randomBytes, createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { v7 as uuidv7 } from 'uuid';
import pg from 'pg';
import { startPostgres } from '../helpers/postgres';
import { PgHqStore } from '../../sync/hq/store-pg';

const N = Number(process.env.PGSTORE_BENCH_RECORDS ?? 4000);
const SIZE = Number(process.env.PGSTORE_BENCH_SIZE ?? 25_000);
const PER_TX = Number(process.env.PGSTORE_BENCH_PER_TX ?? 20);

function procCpuMs(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return ((Number(rest[11]) + Number(rest[12])) * 1000) / 100;
  } catch {
    return 0;
  }
}
function treeCpuMs(pid: number | undefined): number {
  if (!pid) return 0;
  let sum = procCpuMs(pid);
  try {
    for (const c of readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean)) sum += treeCpuMs(Number(c));
  } catch { /* gone */ }
  return sum;
}

interface Layout { name: string; ms: number; clientCpuMs: number; serverCpuMs: number; heapBytes: number; totalBytes: number; scanMs: number }

export async function run(): Promise<void> {
  const server = await startPostgres();
  try {
    const rows = Array.from({ length: N }, (_, i) => {
      const envelope = randomBytes(SIZE);
      return { stationId: `st-${i % 200}`, recordId: uuidv7(), sha256: createHash('sha256').update(envelope).digest('hex'), envelope };
    });
    const mb = (N * SIZE) / 1e6;
    const results: Layout[] = [];
    for (const name of ['extended', 'external', 'split'] as const) {
      const url = server.url(server.createDatabase(`s_${name}`));
      const s = await PgHqStore.open({ url, poolSize: 1 }); // the real schema and migrations
      await s.close();
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      if (name === 'extended') await c.query('ALTER TABLE records ALTER COLUMN envelope SET STORAGE EXTENDED');
      if (name === 'split') {
        await c.query('CREATE TABLE envelopes (station_id TEXT NOT NULL, record_id TEXT NOT NULL, envelope BYTEA NOT NULL, PRIMARY KEY (station_id, record_id))');
        await c.query('ALTER TABLE envelopes ALTER COLUMN envelope SET STORAGE EXTERNAL');
      }
      const empty = Buffer.alloc(0);
      const srv0 = treeCpuMs(server.pid);
      const cpu0 = process.cpuUsage();
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < N; i += PER_TX) {
        await c.query('BEGIN');
        for (const r of rows.slice(i, i + PER_TX)) {
          await c.query({ name: 'ins', text: 'INSERT INTO records (station_id, record_id, sha256, envelope, size, sealed_at, received_at, batch_id, worker) VALUES ($1,$2,$3,$4,$5,$6,$6,$7,$8) ON CONFLICT DO NOTHING',
            values: [r.stationId, r.recordId, r.sha256, name === 'split' ? empty : r.envelope, SIZE, Date.now(), 'b', 'w'] });
          if (name === 'split') await c.query({ name: 'env', text: 'INSERT INTO envelopes (station_id, record_id, envelope) VALUES ($1,$2,$3) ON CONFLICT DO NOTHING', values: [r.stationId, r.recordId, r.envelope] });
        }
        await c.query('COMMIT');
      }
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      const cpu = process.cpuUsage(cpu0);
      const serverCpuMs = treeCpuMs(server.pid) - srv0;
      await c.query('VACUUM ANALYZE records');
      const sz = (await c.query<{ heap: string; total: string }>("SELECT pg_relation_size('records') AS heap, pg_total_relation_size('records') + COALESCE(pg_total_relation_size(to_regclass('envelopes')), 0) AS total")).rows[0]!;
      const s0 = process.hrtime.bigint();
      for (let k = 0; k < 5; k++) await c.query('SELECT COUNT(*), SUM(size) FROM records');
      const scanMs = Number(process.hrtime.bigint() - s0) / 1e6 / 5;
      await c.end();
      const l = { name, ms, clientCpuMs: (cpu.user + cpu.system) / 1000, serverCpuMs, heapBytes: Number(sz.heap), totalBytes: Number(sz.total), scanMs };
      console.error(`${name}: ${N} × ${SIZE} B in ${ms.toFixed(0)} ms → ${(mb / (ms / 1000)).toFixed(1)} MB/s; CPU client ${l.clientCpuMs.toFixed(0)} ms, server ${serverCpuMs.toFixed(0)} ms; records heap ${(l.heapBytes / 1e6).toFixed(2)} MB (${(l.heapBytes / N).toFixed(0)} B/record), total ${(l.totalBytes / 1e6).toFixed(1)} MB; metadata scan ${scanMs.toFixed(2)} ms`);
      results.push(l);
    }
    // the bound: the server writing the same bytes durably with nothing else (COPY, one column, no index)
    const url = server.url(server.createDatabase('s_raw'));
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    await c.query('CREATE TABLE raw (b BYTEA NOT NULL)');
    await c.query('ALTER TABLE raw ALTER COLUMN b SET STORAGE EXTERNAL');
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < N; i += PER_TX) {
      await c.query('BEGIN');
      for (const r of rows.slice(i, i + PER_TX)) await c.query({ name: 'raw', text: 'INSERT INTO raw (b) VALUES ($1)', values: [r.envelope] });
      await c.query('COMMIT');
    }
    const rawMs = Number(process.hrtime.bigint() - t0) / 1e6;
    await c.end();
    console.error(`raw durable bytea insert (one column, no index, same transactions): ${rawMs.toFixed(0)} ms → ${(mb / (rawMs / 1000)).toFixed(1)} MB/s`);
    const by = Object.fromEntries(results.map((r) => [r.name, r]));
    const ext = by.external!;
    console.log(JSON.stringify({
      bench: 'pgstore', ratio: Number((rawMs / ext.ms).toFixed(3)), goal: 0.5, better: 'higher',
      records: N, envelopeBytes: SIZE, perTransaction: PER_TX, rawMBps: Number((mb / (rawMs / 1000)).toFixed(2)),
      ...Object.fromEntries(results.flatMap((r) => [
        [`${r.name}MBps`, Number((mb / (r.ms / 1000)).toFixed(2))],
        [`${r.name}ServerCpuMsPerRecord`, Number((r.serverCpuMs / N).toFixed(3))],
        [`${r.name}ClientCpuMsPerRecord`, Number((r.clientCpuMs / N).toFixed(3))],
        [`${r.name}HeapBytesPerRecord`, Math.round(r.heapBytes / N)],
        [`${r.name}TotalBytesPerRecord`, Math.round(r.totalBytes / N)],
        [`${r.name}MetadataScanMs`, Number(r.scanMs.toFixed(2))],
      ])),
    }));
  } finally {
    await server.dispose();
  }
}
