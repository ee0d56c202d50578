/**
 * `npm run bench -- vault`: seal + sign + store of a typical enrollment
 * (ten 256×288 grey PNGs, a 480×640 JPEG, details — ~400 KB) per second,
 * against the raw limit measured in the same run: a bare AEAD pass over the
 * same bytes plus a bare better-sqlite3 insert of them with the same pragmas
 * (WAL, synchronous=FULL, secure_delete, one row per transaction).
 * Passes alternate raw/vault chunks (BENCH_CHUNK records each) so machine
 * noise — above all the disk's fsync time, which varies several-fold on a shared
 * machine — hits both alike; the figures are medians over 15 passes (BENCH_PASSES),
 * as single passes range from about 0.65 to 1.15 here. Each suite (and the
 * one-at-a-time figure) is measured in its own block of passes. Between passes both sides are emptied the
 * way they are in service: the raw table is deleted and checkpointed, the vault's
 * records are acknowledged and released (which checkpoints too).
 * The vault is driven with 2 seals in flight (BENCH_WINDOW): the station seals
 * on the main thread and stores on its writer thread, so consecutive records
 * overlap. The one-at-a-time figure is reported too.
 * The vault's WAL checkpoints run on its checkpointer thread, the raw
 * connection's inline (SQLite's default). So that neither side's leftover
 * checkpoint work runs during the other's timing, every chunk is followed by
 * an untimed TRUNCATE checkpoint of both databases: each chunk starts with an
 * empty WAL on both sides.
 */
import { createCipheriv, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Vault, vaultPath } from '../../station/vault';
import { encodeRecord, type SuiteName } from '../../sync/wire';
import { makeParts, makeRecord, makeWorld } from '../vault/fixtures';

const PASSES = Number(process.env.BENCH_PASSES ?? 15);
const PER_PASS = Number(process.env.BENCH_RECORDS ?? 40);
const CHUNK = Number(process.env.BENCH_CHUNK ?? 20);
const WINDOW = Number(process.env.BENCH_WINDOW ?? 2);
const SLICE = 64 * 1024;

function bareAead(algo: 'chacha20-poly1305' | 'aes-256-gcm', key: Buffer, pt: Buffer): Buffer {
  const c = createCipheriv(algo as 'chacha20-poly1305', key, randomBytes(12), { authTagLength: 16 });
  const out = Buffer.allocUnsafe(pt.length + 16);
  let w = 0;
  for (let i = 0; i < pt.length; i += SLICE) w += c.update(pt.subarray(i, i + SLICE)).copy(out, w);
  w += c.final().copy(out, w);
  c.getAuthTag().copy(out, w);
  return out;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

export async function run(): Promise<void> {
  const w = await makeWorld('ST-BENCH');
  const rawDir = mkdtempSync(join(tmpdir(), 'vault-bench-raw-'));
  try {
    const parts = await makeParts({ fingers: 10 });
    const sample = makeRecord(w.stationId, parts);
    const plaintext = encodeRecord(sample);
    const recordBytes = plaintext.length;
    console.error(`# record: ${recordBytes} bytes (PNGs ${parts.pngs.reduce((a, p) => a + p.length, 0)}, JPEG ${parts.jpeg.length})`);

    const raw = new Database(join(rawDir, 'raw.db'));
    raw.pragma('journal_mode = WAL');
    raw.pragma('synchronous = FULL');
    raw.pragma('secure_delete = ON');
    raw.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, b BLOB NOT NULL)');
    const ins = raw.prepare('INSERT INTO t (b) VALUES (?)');
    const key = randomBytes(32);
    // Raw limit: bare AEAD pass + bare insert, same pragmas, one row per transaction.
    const rawChunk = (algo: 'chacha20-poly1305' | 'aes-256-gcm', n: number): number => {
      const t = performance.now();
      for (let i = 0; i < n; i++) {
        const ct = bareAead(algo, key, plaintext);
        raw.transaction(() => ins.run(ct)).immediate();
      }
      const elapsed = performance.now() - t;
      raw.pragma('wal_checkpoint(TRUNCATE)');
      return elapsed;
    };

    const suites: { suite: SuiteName; label: string; rawAlgo: 'chacha20-poly1305' | 'aes-256-gcm' }[] = [
      { suite: 'x25519-chacha20poly1305', label: 'chacha20poly1305', rawAlgo: 'chacha20-poly1305' },
      { suite: 'x25519-aes256gcm', label: 'aes256gcm', rawAlgo: 'aes-256-gcm' },
      { suite: 'xwing-chacha20poly1305', label: 'xwing', rawAlgo: 'chacha20-poly1305' },
    ];
    const vaults = new Map<SuiteName, Vault>();
    // A second connection to each vault file, used only to settle its WAL between chunks.
    const sides = new Map<SuiteName, Database.Database>();
    for (const s of suites) {
      const dataDir = join(w.root, `data-${s.label}`);
      mkdirSync(dataDir, { recursive: true });
      vaults.set(s.suite, await Vault.open({ dataDir, stationId: w.stationId, signingKey: w.station, hqIdentity: w.hqPublicPath, suite: s.suite, reserveBytes: 64 * 1024 * 1024 }));
      sides.set(s.suite, new Database(vaultPath(dataDir)));
    }
    const settle = async (db: Database.Database): Promise<void> => {
      // Retries while the vault's checkpointer still holds the checkpoint lock.
      for (let i = 0; i < 500; i++) {
        const r = (db.pragma('wal_checkpoint(TRUNCATE)') as { busy: number }[])[0];
        if (r.busy === 0) return;
        await new Promise((res) => setTimeout(res, 2));
      }
      throw new Error('bench: a WAL could not be checkpointed');
    };
    // `window` seals in flight: with 2, the next record is sealed on the main
    // thread while the writer thread makes the previous one durable.
    const vaultChunk = async (suite: SuiteName, n: number, window = WINDOW): Promise<number> => {
      const v = vaults.get(suite)!;
      const recs = Array.from({ length: n }, () => makeRecord(w.stationId, parts));
      const t = performance.now();
      let next = 0;
      const lane = async () => {
        while (next < recs.length) await v.seal(recs[next++]);
      };
      await Promise.all(Array.from({ length: window }, lane));
      const elapsed = performance.now() - t;
      await settle(sides.get(suite)!);
      return elapsed;
    };

    // Warm-up of the raw side; each vault is warmed up at the start of its block.
    rawChunk('chacha20-poly1305', CHUNK);

    // Each pass alternates short raw and vault chunks, so the (shared, noisy)
    // machine's load hits both alike; a pass's ratio is vault rate / raw rate.
    const chunks = Math.max(1, Math.round(PER_PASS / CHUNK));
    const results: Record<string, { ratio: number[]; rate: number[]; rawRate: number[] }> = {};
    for (const s of suites) results[s.label] = { ratio: [], rate: [], rawRate: [] };
    results.one_at_a_time = { ratio: [], rate: [], rawRate: [] };
    const runPass = async (label: string, suite: SuiteName, algo: 'chacha20-poly1305' | 'aes-256-gcm', window: number) => {
      let tr = 0;
      let tv = 0;
      for (let c = 0; c < chunks; c++) {
        tr += rawChunk(algo, CHUNK);
        tv += await vaultChunk(suite, CHUNK, window);
      }
      const n = chunks * CHUNK;
      results[label].rate.push((n * 1000) / tv);
      results[label].rawRate.push((n * 1000) / tr);
      results[label].ratio.push(tr / tv);
    };
    // Each figure is measured in its own block of passes (chacha20poly1305, one at a time,
    // aes256gcm, xwing), so one suite's work does not land in another's timing: the X-Wing seal
    // is pure JavaScript and leaves the heap full of garbage that the next suite's collections
    // pay for. Interleaved, the ChaCha20-Poly1305 ratio read 0.78-0.79 where alone it read
    // 0.84-0.85 (same code, alternating runs). No station seals with three suites at once.
    const blocks: { label: string; suite: SuiteName; algo: 'chacha20-poly1305' | 'aes-256-gcm'; window: number }[] = [
      { label: suites[0].label, suite: suites[0].suite, algo: suites[0].rawAlgo, window: WINDOW },
      { label: 'one_at_a_time', suite: 'x25519-chacha20poly1305', algo: 'chacha20-poly1305', window: 1 },
      ...suites.slice(1).map((s) => ({ label: s.label, suite: s.suite, algo: s.rawAlgo, window: WINDOW })),
    ];
    for (const b of blocks) {
      await vaultChunk(b.suite, CHUNK, b.window);
      for (let p = 0; p < PASSES; p++) {
        await runPass(b.label, b.suite, b.algo, b.window);
        // Emptied as in service: the raw table deleted and checkpointed, the vault's records acknowledged and released.
        raw.exec('DELETE FROM t');
        raw.pragma('wal_checkpoint(TRUNCATE)');
        const v = vaults.get(b.suite)!;
        const batch = v.openBatch(1000, 1e12);
        if (batch) v.acknowledge(batch.batchId, Buffer.from('bench'), batch.items.map((i) => ({ recordId: i.recordId, sha256: i.sha256, status: 'stored' as const })));
        const r = results[b.label];
        console.error(`# ${b.label} pass ${p + 1}/${PASSES}: ${r.rate.at(-1)!.toFixed(0)}/${r.rawRate.at(-1)!.toFixed(0)} rec/s (${r.ratio.at(-1)!.toFixed(2)})`);
      }
    }
    for (const d of sides.values()) d.close();
    for (const v of vaults.values()) await v.close();
    raw.close();

    const fig: Record<string, number> = {};
    for (const [label, r] of Object.entries(results)) {
      fig[`${label}_per_s`] = Math.round(median(r.rate) * 10) / 10;
      fig[`${label}_raw_per_s`] = Math.round(median(r.rawRate) * 10) / 10;
      fig[`${label}_ratio`] = Math.round(median(r.ratio) * 1000) / 1000;
    }
    const line = {
      bench: 'vault',
      ratio: fig.chacha20poly1305_ratio,
      goal: 0.8,
      better: 'higher',
      suite: 'x25519-chacha20poly1305',
      record_bytes: recordBytes,
      passes: PASSES,
      records_per_pass: PER_PASS,
      seals_in_flight: WINDOW,
      ...fig,
    };
    console.log(JSON.stringify(line));
  } finally {
    rmSync(rawDir, { recursive: true, force: true });
    w.cleanup();
  }
}
