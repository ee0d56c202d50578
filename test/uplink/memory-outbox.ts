/**
 * An in-memory implementation of the outbox contract (sync/outbox.ts): the same
 * batching, ordering, acknowledgement, held/rejected and replayed-receipt rules as
 * the vault (station/vault), without a file. The bench drains it to isolate the
 * uplink + headquarters cost from the vault's; test/uplink/outbox-contract.test.ts
 * holds it and the vault to the same cases. It keeps nothing across a restart, has
 * no audit chain and no integrity check of its own rows: those are the vault's.
 */
import { StationError } from '../../config/errors';
import type { Outbox, OutboxItem, OutboxStats, PendingBatch, ReceiptResult } from '../../sync/outbox';

type State = 'sealed' | 'in_flight' | 'acknowledged' | 'held' | 'rejected';

interface Row {
  item: OutboxItem;
  state: State;
  batchId: string | null;
  heldUntil: number;
  holds: number;
}

interface Batch {
  batchId: string;
  createdAt: number;
  attempts: number;
  lastAttemptAt: number | null;
  ackedAt: number | null;
  receipt: Buffer | null;
}

export interface MemoryOutboxOptions {
  now?: () => number;
  /** Backoff for held records, as the vault's VaultOptions.heldRetry. */
  heldRetry?: { baseMs?: number; maxMs?: number };
}

export class MemoryOutbox implements Outbox {
  private readonly rows: Row[] = [];
  private readonly batches = new Map<string, Batch>();
  private readonly now: () => number;
  private readonly heldRetry: { baseMs: number; maxMs: number };
  private n = 0;

  constructor(items: OutboxItem[] = [], opts: MemoryOutboxOptions = {}) {
    this.now = opts.now ?? Date.now;
    this.heldRetry = { baseMs: opts.heldRetry?.baseMs ?? 60_000, maxMs: opts.heldRetry?.maxMs ?? 3_600_000 };
    for (const i of items) this.add(i);
  }

  /** A sealed record, after those already added. */
  add(item: OutboxItem): void {
    this.rows.push({ item, state: 'sealed', batchId: null, heldUntil: 0, holds: 0 });
  }

  inFlightBatches(): PendingBatch[] {
    const out: PendingBatch[] = [];
    for (const b of this.batches.values()) {
      if (b.ackedAt !== null) continue;
      const items = this.rows.filter((r) => r.batchId === b.batchId && r.state === 'in_flight').map((r) => r.item);
      if (items.length) out.push({ batchId: b.batchId, items, createdAt: b.createdAt, attempts: b.attempts, lastAttemptAt: b.lastAttemptAt });
    }
    return out;
  }

  openBatch(maxRecords: number, maxBytes: number): PendingBatch | null {
    if (maxRecords < 1) return null;
    const t = this.now();
    for (const r of this.rows) if (r.state === 'held' && r.heldUntil <= t) r.state = 'sealed';
    const take: Row[] = [];
    let bytes = 0;
    for (const r of this.rows) {
      if (r.state !== 'sealed') continue;
      const size = r.item.envelope.length;
      if (take.length > 0 && bytes + size > maxBytes) break;
      take.push(r);
      bytes += size;
      if (take.length >= maxRecords || bytes >= maxBytes) break;
    }
    if (take.length === 0) return null;
    const batchId = `mem-${process.pid}-${++this.n}`;
    this.batches.set(batchId, { batchId, createdAt: t, attempts: 0, lastAttemptAt: null, ackedAt: null, receipt: null });
    for (const r of take) { r.state = 'in_flight'; r.batchId = batchId; }
    return { batchId, items: take.map((r) => r.item), createdAt: t, attempts: 0, lastAttemptAt: null };
  }

  openBatches(count: number, maxRecords: number, maxBytes: number): PendingBatch[] {
    const out: PendingBatch[] = [];
    for (let i = 0; i < count; i++) {
      const b = this.openBatch(maxRecords, maxBytes);
      if (!b) break;
      out.push(b);
    }
    return out;
  }

  markAttempt(batchId: string, at: number = this.now()): void {
    const b = this.batches.get(batchId);
    if (b) { b.attempts += 1; b.lastAttemptAt = at; }
  }

  acknowledge(batchId: string, receipt: Buffer, results: ReceiptResult[]): void {
    const b = this.batches.get(batchId);
    if (!b) throw new StationError('VAULT_UNKNOWN_BATCH', `receipt for unknown batch ${batchId}`, { hint: 'ignore it; the batch may have been acknowledged before a restart' });
    if (b.ackedAt !== null) return; // a repeated receipt: already applied
    const t = this.now();
    const byId = new Map(results.map((r) => [r.recordId, r]));
    for (const r of this.rows) {
      if (r.batchId !== batchId || r.state !== 'in_flight') continue;
      const res = byId.get(r.item.recordId);
      if (!res || res.sha256 !== r.item.sha256) { r.state = 'sealed'; r.batchId = null; continue; }
      if (res.status === 'rejected') r.state = 'rejected';
      else if (res.status === 'held') {
        r.holds += 1;
        r.state = 'held';
        r.batchId = null;
        const base = this.heldRetry.baseMs * Math.pow(2, Math.min(30, r.holds - 1));
        r.heldUntil = t + Math.min(this.heldRetry.maxMs, Math.max(base, res.retryAfterMs ?? 0));
      } else r.state = 'acknowledged';
    }
    b.ackedAt = t;
    b.receipt = receipt;
  }

  acknowledgeMany(receipts: { batchId: string; receipt: Buffer; results: ReceiptResult[] }[]): (Error | null)[] {
    return receipts.map((x) => {
      try { this.acknowledge(x.batchId, x.receipt, x.results); return null; } catch (e) { return e as Error; }
    });
  }

  auditEntriesSince(): [] { return []; }

  stats(now: number = this.now()): OutboxStats {
    const c = (s: State) => this.rows.filter((r) => r.state === s).length;
    const unacked = this.rows.filter((r) => r.state === 'sealed' || r.state === 'in_flight' || r.state === 'held');
    const oldest = unacked.length ? Math.min(...unacked.map((r) => r.item.sealedAt)) : null;
    let last: number | null = null;
    for (const b of this.batches.values()) if (b.ackedAt !== null && (last === null || b.ackedAt > last)) last = b.ackedAt;
    return {
      sealed: c('sealed'), inFlight: c('in_flight'), acknowledged: c('acknowledged'), released: 0, rejected: c('rejected'), held: c('held'),
      oldestUnackedAgeMs: oldest === null ? null : Math.max(0, now - oldest),
      backlogBytes: unacked.reduce((n, r) => n + r.item.envelope.length, 0),
      lastReceiptAt: last,
    };
  }
}
