/**
 * The vault's writer thread. Storing a sealed record (row + its audit entry, one
 * IMMEDIATE transaction, synchronous=FULL) waits for an fsync; doing it on a
 * worker thread keeps the daemon's event loop (kiosk, devices, uplink) free
 * during that wait and lets the next record be sealed while the previous one
 * is being made durable.
 *
 * The worker is a small plain-JavaScript program (evaluated, so it runs the
 * same under tsc output, ts-node and vitest). It computes the audit entry's
 * hash and head signature exactly as sync/wire/audit.ts defines them: the main
 * thread passes the canonical CBOR pieces that do not depend on the chain head,
 * the worker adds seq and prev_hash inside the transaction. Tests verify every
 * entry it writes with the reference implementation.
 *
 * The writer's connection does not checkpoint: every `checkpointBytes` of
 * commits it asks a second thread (the checkpointer, started with it, with its
 * own connection) to copy the WAL into the database file, so a seal never also
 * waits for a checkpoint of the records before it. Should that thread fail,
 * commits fall back to SQLite's inline auto-checkpoint.
 */
import { Worker } from 'node:worker_threads';
import type { KeyObject } from 'node:crypto';
import { StationError } from '../../drivers/common/errors';
import { encodeCbor } from '../../sync/wire/cbor';
import type { AuditData, AuditKind } from '../../sync/wire/audit';

const WORKER_SOURCE = String.raw`
'use strict';
const { parentPort, workerData, Worker } = require('node:worker_threads');
const { createHash, sign } = require('node:crypto');
const Database = require(workerData.sqlitePath);
const db = new Database(workerData.dbPath, { fileMustExist: true });
db.pragma('journal_mode = WAL');
db.pragma('synchronous = FULL');
db.pragma('secure_delete = ON');
db.pragma('busy_timeout = 10000');
// Commits do not copy the WAL back into the database file themselves: a
// checkpointer thread does that beside them (CHECKPOINTER_SOURCE below).
const ckpt = { every: workerData.checkpointBytes, worker: null, busy: false, pending: 0, off: !(workerData.checkpointBytes > 0) };
const pageSize = db.pragma('page_size', { simple: true });
function checkpointInline() {
  ckpt.pending = 0;
  try { db.pragma('wal_checkpoint(PASSIVE)'); } catch (e) {}
}
function checkpointerLost(message) {
  // Commits checkpoint for themselves again (SQLite's default), so the WAL stays bounded.
  ckpt.worker = null; ckpt.busy = false; ckpt.off = true;
  try { db.pragma('wal_autocheckpoint = 1000'); } catch (e) {}
  parentPort.postMessage({ type: 'checkpoint', ok: false, lost: true, message });
}
function startCheckpointer() {
  const w = new Worker(workerData.checkpointerSource, { eval: true, execArgv: [], workerData: { dbPath: workerData.dbPath, sqlitePath: workerData.sqlitePath } });
  ckpt.worker = w;
  w.on('message', (m) => {
    ckpt.busy = false;
    // SQLite starts a WAL over from the top only when a transaction begins with
    // every frame already copied, which never happens while seals keep coming
    // during the checkpointer's passes: the WAL would grow for as long as they
    // do. Once it holds 4 rounds' worth (the pass reports its length in frames;
    // it is short again whenever it did start over, e.g. after a pause), the
    // frames committed during this pass are copied here, between two commits,
    // so the next commit restarts it.
    if (m.ok && m.log * pageSize >= ckpt.every * 4) checkpointInline();
    parentPort.postMessage({ type: 'checkpoint', ok: m.ok, frames: m.frames, log: m.log, message: m.message });
    // A round's worth committed during the pass: another pass now, not only
    // after the next commit (after the last seal of a burst there is none).
    requestCheckpoint();
  });
  w.on('error', (e) => { if (ckpt.worker === w) checkpointerLost(String(e && e.message || e)); });
  w.on('exit', (code) => { if (ckpt.worker === w) checkpointerLost('checkpointer thread exited (code ' + code + ')'); });
}
function afterCommit(bytes) {
  ckpt.pending += bytes;
  requestCheckpoint();
}
function requestCheckpoint() {
  if (ckpt.off || ckpt.busy || !ckpt.worker || ckpt.pending < ckpt.every) return;
  try {
    ckpt.busy = true;
    ckpt.pending = 0;
    ckpt.worker.postMessage({ type: 'checkpoint' });
  } catch (e) {
    checkpointerLost(String(e && e.message || e));
  }
}
function closeAll(done) {
  const w = ckpt.worker;
  ckpt.worker = null;
  const finish = () => {
    if (ckpt.pending > 0) checkpointInline(); // idle now: fold the last commits into the file
    db.close();
    done();
  };
  if (!w) return finish();
  w.once('exit', finish);
  w.postMessage({ type: 'close' });
}
if (!ckpt.off) db.pragma('wal_autocheckpoint = 0');
let key = workerData.key;
const HASH_CONTEXT = Buffer.from('enroll-station/audit/v1\0', 'ascii');
const HEAD_CONTEXT = Buffer.from('enroll-station/audit-head/v1\0', 'ascii');
const GENESIS = '0'.repeat(64);
const sid = Buffer.from(workerData.stationId, 'ascii');
const insRec = db.prepare("INSERT INTO records (record_id, state, sha256, size, suite, sealed_at) VALUES (?, 'sealed', ?, ?, ?, ?)");
const insEnv = db.prepare('INSERT INTO envelopes (seq, envelope) VALUES (?, ?)');
const headStmt = db.prepare('SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1');
const insAudit = db.prepare('INSERT INTO audit (seq, ts, kind, data, prev_hash, hash, sig) VALUES (?, ?, ?, ?, ?, ?, ?)');
function cborUint(n) {
  if (n < 24) return Buffer.from([n]);
  if (n < 0x100) return Buffer.from([0x18, n]);
  if (n < 0x10000) { const b = Buffer.alloc(3); b[0] = 0x19; b.writeUInt16BE(n, 1); return b; }
  if (n < 0x100000000) { const b = Buffer.alloc(5); b[0] = 0x1a; b.writeUInt32BE(n, 1); return b; }
  const b = Buffer.alloc(9); b[0] = 0x1b; b.writeBigUInt64BE(BigInt(n), 1); return b;
}
function headMessage(seq, hash) {
  const b = Buffer.alloc(HEAD_CONTEXT.length + 1 + sid.length + 8 + 32);
  let o = HEAD_CONTEXT.copy(b, 0);
  b.writeUInt8(sid.length, o); o += 1;
  o += sid.copy(b, o);
  b.writeBigUInt64BE(BigInt(seq), o); o += 8;
  Buffer.from(hash, 'hex').copy(b, o);
  return b;
}
const store = db.transaction((m) => {
  const recSeq = insRec.run(m.recordId, m.sha256, m.size, m.suite, m.sealedAt).lastInsertRowid;
  insEnv.run(recSeq, Buffer.from(m.envelope));
  const h = headStmt.get() || { seq: 0, hash: GENESIS };
  const seq = h.seq + 1;
  const hash = createHash('sha256').update(HASH_CONTEXT).update(m.pre).update(cborUint(seq)).update(m.post)
    .update(Buffer.from([0x58, 0x20])).update(Buffer.from(h.hash, 'hex')).digest('hex');
  const sig = sign(null, headMessage(seq, hash), key).toString('base64');
  insAudit.run(seq, m.ts, m.kind, m.dataJson, h.hash, hash, sig);
});
parentPort.on('message', (m) => {
  try {
    if (m.type === 'store') {
      store.immediate(m);
      parentPort.postMessage({ id: m.id, ok: true });
      afterCommit(m.size);
      return;
    }
    else if (m.type === 'pragma') db.pragma(m.sql);
    else if (m.type === 'key') key = m.key;
    else if (m.type === 'close') {
      closeAll(() => { parentPort.postMessage({ id: m.id, ok: true }); parentPort.close(); });
      return;
    }
    parentPort.postMessage({ id: m.id, ok: true });
  } catch (e) {
    parentPort.postMessage({ id: m.id, ok: false, code: e && e.code, message: String(e && e.message || e) });
  }
});
parentPort.postMessage({ type: 'ready' });
// Started with the writer (which itself only runs while records are being sealed), so that
// it is ready by the time the first checkpoint is due; after 'ready', so a failure is reported.
if (!ckpt.off) {
  try { startCheckpointer(); } catch (e) { checkpointerLost(String(e && e.message || e)); }
}
`;

/**
 * The checkpointer: copies committed WAL frames into the database file
 * (PASSIVE: never blocks the writer or readers) on its own connection and
 * thread, when the writer has committed `checkpointBytes` since it last asked.
 * A commit then costs one WAL append and fsync, never also a checkpoint of
 * everything before it (on an SD card that is tens of milliseconds of the
 * officer's confirm). If it cannot run, commits checkpoint inline again.
 */
const CHECKPOINTER_SOURCE = String.raw`
'use strict';
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.sqlitePath);
const db = new Database(workerData.dbPath, { fileMustExist: true });
db.pragma('synchronous = FULL');
db.pragma('busy_timeout = 10000');
parentPort.on('message', (m) => {
  if (m.type === 'close') { db.close(); parentPort.close(); return; }
  try {
    const r = db.pragma('wal_checkpoint(PASSIVE)')[0];
    parentPort.postMessage({ ok: true, frames: r.checkpointed, log: r.log });
  } catch (e) {
    parentPort.postMessage({ ok: false, message: String(e && e.message || e) });
  }
});
`;

/**
 * Node options for the writer and checkpointer threads: none. They run
 * self-contained JavaScript, so a `-r ts-node/register` or loader of the parent
 * (tests, scripts) must not be inherited: it would load the TypeScript compiler
 * into every thread. (V8 flags such as the daemon's --max-semi-space-size are
 * process-wide and apply to the threads anyway.)
 */
const THREAD_EXEC_ARGV: string[] = [];

/** WAL bytes committed by the writer between checkpoints (SQLite's default: 1000 pages of 4 KiB). */
export const CHECKPOINT_BYTES = 4 * 1024 * 1024;

export interface StoreRequest {
  recordId: string;
  envelope: Buffer;
  sha256: string;
  suite: string;
  sealedAt: number;
  audit: { kind: AuditKind; data: AuditData; ts: number };
}

interface Reply {
  id?: number;
  type?: string;
  ok?: boolean;
  code?: string;
  message?: string;
  frames?: number;
  log?: number;
  lost?: boolean;
}

/**
 * What the checkpointer did: copied WAL frames up to `frames` of the `log` the WAL
 * held, failed once, or is gone (`lost`: commits checkpoint inline again).
 */
export interface CheckpointEvent {
  ok: boolean;
  frames?: number;
  log?: number;
  lost?: boolean;
  message?: string;
}

export interface WriterOptions {
  /** WAL bytes committed between checkpoints by the checkpointer thread; 0 = commits checkpoint inline (SQLite's default). */
  checkpointBytes?: number;
  onCheckpoint?: (e: CheckpointEvent) => void;
  /** Tests only: the checkpointer thread's program (to see the writer cope with one that dies). */
  checkpointerSource?: string;
}

export class WriterError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
    this.name = 'WriterError';
  }
}

export class SealWriter {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  private dead: Error | null = null;
  private readonly pre: Buffer;

  private constructor(
    private readonly worker: Worker,
    stationId: string,
    onCheckpoint?: (e: CheckpointEvent) => void,
  ) {
    // CBOR array of 6 + station id: the part of every entry's hash input before seq.
    this.pre = Buffer.concat([Buffer.from([0x86]), encodeCbor(stationId)]);
    worker.on('message', (m: Reply) => {
      if (m.type === 'checkpoint') onCheckpoint?.({ ok: m.ok === true, frames: m.frames, log: m.log, lost: m.lost, message: m.message });
      if (m.id === undefined) return;
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.ok) p.resolve();
      else p.reject(new WriterError(m.message ?? 'vault writer failed', m.code));
    });
    const fail = (e: Error) => {
      this.dead = e;
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
    };
    worker.on('error', (e) => fail(e));
    worker.on('exit', (code) => fail(new Error(`vault writer thread exited (code ${code})`)));
  }

  static async start(dbPath: string, stationId: string, key: KeyObject, opts: WriterOptions = {}): Promise<SealWriter> {
    const checkpointBytes = opts.checkpointBytes ?? CHECKPOINT_BYTES;
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      execArgv: THREAD_EXEC_ARGV,
      workerData: { dbPath, stationId, key, sqlitePath: require.resolve('better-sqlite3'), checkpointerSource: opts.checkpointerSource ?? CHECKPOINTER_SOURCE, checkpointBytes },
    });
    await new Promise<void>((resolve, reject) => {
      const onMsg = (m: Reply) => {
        if (m.type === 'ready') {
          worker.off('error', onErr);
          worker.off('message', onMsg);
          resolve();
        }
      };
      const onErr = (e: Error) => reject(new StationError('VAULT_WRITER', `the vault writer thread could not open ${dbPath}: ${e.message}`, { cause: e }));
      worker.on('message', onMsg);
      worker.once('error', onErr);
    });
    return new SealWriter(worker, stationId, opts.onCheckpoint);
  }

  private send(msg: Record<string, unknown>, transfer: ArrayBuffer[] = []): Promise<void> {
    if (this.dead) return Promise.reject(this.dead);
    const id = this.nextId++;
    return new Promise<void>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ ...msg, id }, transfer);
    });
  }

  /**
   * Stores a sealed record and its audit entry in one transaction on the writer
   * thread. The envelope's memory is handed over (transferred) when it owns its
   * ArrayBuffer; do not use `req.envelope` afterwards.
   */
  store(req: StoreRequest): Promise<void> {
    const env = req.envelope;
    const owns = env.byteOffset === 0 && env.byteLength === env.buffer.byteLength && env.buffer instanceof ArrayBuffer;
    const payload = owns ? (env.buffer as ArrayBuffer) : new Uint8Array(env);
    const post = Buffer.concat([encodeCbor(req.audit.ts), encodeCbor(req.audit.kind), encodeCbor({ ...req.audit.data })]);
    return this.send(
      {
        type: 'store',
        recordId: req.recordId,
        envelope: payload,
        sha256: req.sha256,
        size: env.byteLength,
        suite: req.suite,
        sealedAt: req.sealedAt,
        pre: this.pre,
        post,
        ts: req.audit.ts,
        kind: req.audit.kind,
        dataJson: JSON.stringify(req.audit.data),
      },
      owns ? [payload as ArrayBuffer] : [],
    );
  }

  /** Signs later audit entries with this key (messages are handled in order). */
  useKey(key: KeyObject): void {
    void this.send({ type: 'key', key }).catch(() => {});
  }

  /** Runs a PRAGMA on the writer's connection (tests: simulate a full disk). */
  pragma(sql: string): Promise<void> {
    return this.send({ type: 'pragma', sql });
  }

  async close(): Promise<void> {
    if (this.dead) return;
    try {
      await this.send({ type: 'close' });
    } catch {}
    await this.worker.terminate().catch(() => {});
  }
}

/**
 * The writer thread on demand: started by the first write, stopped again after
 * `idleMs` (default 30 s) without writes. A booth seals a record every few minutes, and an idle
 * worker isolate costs ~14 MB of RSS on a 1–4 GB board for nothing.
 * Key changes and PRAGMAs are remembered and replayed on the next start.
 */
export class LazySealWriter {
  private current: Promise<SealWriter> | null = null;
  private inUse = 0;
  private idleTimer: NodeJS.Timeout | null = null;
  private key: KeyObject;
  private readonly pragmas: string[] = [];
  private closed = false;

  constructor(
    private readonly dbPath: string,
    private readonly stationId: string,
    key: KeyObject,
    private readonly opts: WriterOptions & { idleMs?: number } = {},
  ) {
    this.key = key;
  }

  /** True while a writer thread exists (tests, diagnostics). */
  get running(): boolean {
    return this.current !== null;
  }

  private async acquire(): Promise<SealWriter> {
    if (this.closed) throw new StationError('VAULT_CLOSED', 'the vault is closed');
    if (this.idleTimer) {
      clearTimeout(this.idleTimer);
      this.idleTimer = null;
    }
    this.inUse++;
    if (!this.current) {
      const starting = SealWriter.start(this.dbPath, this.stationId, this.key, this.opts).then(async (w) => {
        for (const sql of this.pragmas) await w.pragma(sql);
        return w;
      });
      this.current = starting;
      starting.catch(() => {
        if (this.current === starting) this.current = null;
      });
    }
    try {
      return await this.current;
    } catch (e) {
      this.release();
      throw e;
    }
  }

  private release(): void {
    this.inUse--;
    if (this.inUse > 0 || this.closed || !this.current) return;
    this.idleTimer = setTimeout(() => {
      this.idleTimer = null;
      const w = this.current;
      if (this.inUse > 0 || !w) return;
      this.current = null;
      void w.then((x) => x.close()).catch(() => undefined);
    }, this.opts.idleMs ?? 30_000);
    this.idleTimer.unref();
  }

  private async run<T>(fn: (w: SealWriter) => Promise<T>): Promise<T> {
    const w = await this.acquire();
    try {
      return await fn(w);
    } finally {
      this.release();
    }
  }

  store(req: StoreRequest): Promise<void> {
    return this.run((w) => w.store(req));
  }

  useKey(key: KeyObject): void {
    this.key = key;
    if (this.current) void this.current.then((w) => w.useKey(key)).catch(() => undefined);
  }

  pragma(sql: string): Promise<void> {
    this.pragmas.push(sql);
    return this.run((w) => w.pragma(sql));
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    const w = this.current;
    this.current = null;
    if (w) await (await w.catch(() => null))?.close();
  }
}
