/**
 * The outbox contract (sync/outbox.ts) as the uplink relies on it, run once against
 * the vault (station/vault, what a booth uses) and once against the in-memory outbox
 * (test/uplink/memory-outbox.ts, what the bench drains): batches in seal order,
 * bounded by count and bytes, a record larger than the bound alone; in-flight batches
 * listed unchanged until their receipt; a receipt applied exactly once (a replayed
 * one changes nothing); records a receipt does not cover, or covers with another
 * hash, sent again; held ones back after their wait, rejected ones never; an unknown
 * batch refused by name. Where the two differ on purpose (a restart, the audit chain)
 * the case says so.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { v7 as uuidv7 } from 'uuid';
import type { Outbox, OutboxItem, PendingBatch, ReceiptResult } from '../../sync/outbox';
import { makeFixture, openOutbox, type Fixture, type TestOutbox } from './helpers';
import { MemoryOutbox } from './memory-outbox';

interface Subject {
  ob: Outbox;
  /** Seals n records whose envelopes are each a little over `size` bytes; their ids in seal order. */
  seal(n: number, size: number): Promise<string[]>;
  /** The clock the outbox reads (ms). */
  clock: { t: number };
  /** Closes and reopens the same outbox from its storage; null for an outbox that keeps nothing. */
  restart: (() => Promise<Outbox>) | null;
  /** Whether the outbox keeps an audit chain (the vault does; the in-memory outbox returns []). */
  audits: boolean;
  close(): Promise<void>;
}

const HELD = { baseMs: 1_000, maxMs: 60_000 };

async function vaultSubject(): Promise<Subject> {
  const f: Fixture = await makeFixture('st-contract-01');
  const clock = { t: Date.now() };
  const opts = { now: () => clock.t, heldRetry: HELD };
  let ob: TestOutbox = await openOutbox(f, undefined, opts);
  return {
    get ob() { return ob; },
    seal: (n, size) => ob.sealN(n, size),
    clock,
    restart: async () => {
      const ids = ob.ids;
      await ob.close();
      ob = await openOutbox(f, undefined, opts);
      ob.ids.push(...ids);
      return ob;
    },
    audits: true,
    close: async () => { await ob.close(); f.cleanup(); },
  };
}

async function memorySubject(): Promise<Subject> {
  const clock = { t: Date.now() };
  const ob = new MemoryOutbox([], { now: () => clock.t, heldRetry: HELD });
  return {
    ob,
    seal: async (n, size) => {
      const ids: string[] = [];
      for (let i = 0; i < n; i++) {
        // The vault's envelope is the sealed record plus its header and signatures (< 2 KB more).
        const envelope = randomBytes(size + 1_000);
        const item: OutboxItem = { recordId: uuidv7(), envelope, sha256: createHash('sha256').update(envelope).digest('hex'), sealedAt: clock.t };
        ob.add(item);
        ids.push(item.recordId);
      }
      return ids;
    },
    clock,
    restart: null,
    audits: false,
    close: async () => {},
  };
}

const stored = (b: PendingBatch): ReceiptResult[] => b.items.map((i) => ({ recordId: i.recordId, sha256: i.sha256, status: 'stored' }));
const ids = (b: PendingBatch | null): string[] => b?.items.map((i) => i.recordId) ?? [];
const receipt = Buffer.from('signed receipt bytes');
const acked = (ob: Outbox): number => { const s = ob.stats(); return s.acknowledged + s.released; };
const BIG = 64 * 1024 * 1024;

describe.each([
  ['vault (station/vault)', vaultSubject],
  ['in-memory outbox', memorySubject],
])('outbox contract: %s', (_name, make) => {
  let s: Subject;
  afterEach(async () => { await s?.close(); });

  it('an empty outbox opens no batch and has nothing in flight', async () => {
    s = await make();
    expect(s.ob.openBatch(10, BIG)).toBeNull();
    expect(s.ob.openBatches?.(3, 10, BIG) ?? []).toEqual([]);
    expect(s.ob.inFlightBatches()).toEqual([]);
    const st = s.ob.stats(s.clock.t);
    expect(st).toMatchObject({ sealed: 0, inFlight: 0, held: 0, rejected: 0, oldestUnackedAgeMs: null, lastReceiptAt: null });
    expect(acked(s.ob)).toBe(0);
  });

  it('batches take sealed records oldest first, at most maxRecords each, each record once', async () => {
    s = await make();
    const sealed = await s.seal(5, 200);
    const a = s.ob.openBatch(2, BIG);
    const b = s.ob.openBatch(2, BIG);
    const c = s.ob.openBatch(2, BIG);
    expect(ids(a)).toEqual(sealed.slice(0, 2));
    expect(ids(b)).toEqual(sealed.slice(2, 4));
    expect(ids(c)).toEqual(sealed.slice(4));
    expect(s.ob.openBatch(2, BIG)).toBeNull();
    expect(new Set([a!.batchId, b!.batchId, c!.batchId]).size).toBe(3);
    expect(s.ob.stats(s.clock.t)).toMatchObject({ sealed: 0, inFlight: 5 });
    expect(s.ob.openBatch(0, BIG)).toBeNull(); // maxRecords < 1: nothing taken
  });

  it('a batch stays within maxBytes; a record larger than maxBytes goes alone', async () => {
    s = await make();
    const sealed = await s.seal(3, 20_000); // envelopes 20-22 KB each: two fit in 45 KB, three do not
    const a = s.ob.openBatch(10, 45_000);
    expect(ids(a)).toEqual(sealed.slice(0, 2));
    expect(a!.items.reduce((n, i) => n + i.envelope.length, 0)).toBeLessThanOrEqual(45_000);
    const big = s.ob.openBatch(10, 1_000);
    expect(ids(big)).toEqual(sealed.slice(2));
    expect(s.ob.openBatch(10, BIG)).toBeNull();
  });

  it('openBatches opens as openBatch would, one after another, until nothing is sealed', async () => {
    s = await make();
    if (!s.ob.openBatches) return; // optional in the contract; both implementations have it
    const sealed = await s.seal(5, 200);
    const bs = s.ob.openBatches(4, 2, BIG);
    expect(bs.map(ids)).toEqual([sealed.slice(0, 2), sealed.slice(2, 4), sealed.slice(4)]);
    expect(s.ob.openBatches(4, 2, BIG)).toEqual([]);
  });

  it('in-flight batches are listed oldest first, unchanged, with their attempts, until acknowledged', async () => {
    s = await make();
    await s.seal(3, 200);
    const a = s.ob.openBatch(2, BIG)!;
    s.clock.t += 1;
    const b = s.ob.openBatch(2, BIG)!;
    s.ob.markAttempt(a.batchId, s.clock.t);
    s.ob.markAttempt(a.batchId, s.clock.t + 5);
    const listed = s.ob.inFlightBatches();
    expect(listed.map((x) => x.batchId)).toEqual([a.batchId, b.batchId]);
    expect(listed.map(ids)).toEqual([ids(a), ids(b)]);
    expect(listed[0]!.items.map((i) => i.sha256)).toEqual(a.items.map((i) => i.sha256));
    expect(Buffer.compare(listed[0]!.items[0]!.envelope, a.items[0]!.envelope)).toBe(0);
    expect(listed[0]).toMatchObject({ attempts: 2, lastAttemptAt: s.clock.t + 5 });
    expect(listed[1]).toMatchObject({ attempts: 0, lastAttemptAt: null });
    s.ob.acknowledge(a.batchId, receipt, stored(a));
    expect(s.ob.inFlightBatches().map((x) => x.batchId)).toEqual([b.batchId]);
  });

  it('a receipt is applied exactly once: a replayed one changes nothing and is not an error', async () => {
    s = await make();
    await s.seal(2, 200);
    const a = s.ob.openBatch(10, BIG)!;
    s.clock.t += 10;
    s.ob.acknowledge(a.batchId, receipt, stored(a));
    const after = s.ob.stats(s.clock.t);
    expect(acked(s.ob)).toBe(2);
    expect(after).toMatchObject({ sealed: 0, inFlight: 0, lastReceiptAt: s.clock.t, oldestUnackedAgeMs: null });
    s.clock.t += 10;
    s.ob.acknowledge(a.batchId, receipt, stored(a));
    expect(s.ob.acknowledgeMany?.([{ batchId: a.batchId, receipt, results: stored(a) }]) ?? [null]).toEqual([null]);
    const again = s.ob.stats(s.clock.t);
    for (const k of ['sealed', 'inFlight', 'acknowledged', 'released', 'held', 'rejected', 'lastReceiptAt', 'oldestUnackedAgeMs', 'backlogBytes'] as const) expect(again[k]).toEqual(after[k]);
    expect(acked(s.ob)).toBe(2);
    expect(s.ob.openBatch(10, BIG)).toBeNull();
    expect(s.ob.inFlightBatches()).toEqual([]);
  });

  it('a replayed receipt with a held record does not hold it twice (its wait is not doubled)', async () => {
    s = await make();
    await s.seal(1, 200);
    const a = s.ob.openBatch(10, BIG)!;
    const held: ReceiptResult[] = a.items.map((i) => ({ recordId: i.recordId, sha256: i.sha256, status: 'held', reason: 'quota' }));
    s.ob.acknowledge(a.batchId, receipt, held);
    s.ob.acknowledge(a.batchId, receipt, held);
    expect(s.ob.stats(s.clock.t)).toMatchObject({ held: 1, sealed: 0, inFlight: 0 });
    s.clock.t += HELD.baseMs; // one hold: back after baseMs (two would be 2 × baseMs)
    expect(ids(s.ob.openBatch(10, BIG))).toEqual(ids(a));
  });

  it('records a receipt does not cover, or covers with another hash, are sent again in their order', async () => {
    s = await make();
    const sealed = await s.seal(3, 200);
    const a = s.ob.openBatch(10, BIG)!;
    const [x, y] = a.items;
    s.ob.acknowledge(a.batchId, receipt, [
      { recordId: x!.recordId, sha256: '0'.repeat(64), status: 'stored' }, // headquarters hashed other bytes
      { recordId: y!.recordId, sha256: y!.sha256, status: 'stored' },
      // the third is not named
    ]);
    expect(acked(s.ob)).toBe(1);
    expect(s.ob.stats(s.clock.t)).toMatchObject({ sealed: 2, inFlight: 0 });
    expect(ids(s.ob.openBatch(10, BIG))).toEqual([sealed[0], sealed[2]]);
  });

  it('held records come back by themselves after their wait (the longer of the backoff and headquarters\' hint); rejected ones never', async () => {
    s = await make();
    const sealed = await s.seal(3, 200);
    const a = s.ob.openBatch(10, BIG)!;
    const [h1, h2, r] = a.items;
    s.ob.acknowledge(a.batchId, receipt, [
      { recordId: h1!.recordId, sha256: h1!.sha256, status: 'held', reason: 'quota' },
      { recordId: h2!.recordId, sha256: h2!.sha256, status: 'held', reason: 'quota', retryAfterMs: 5_000 },
      { recordId: r!.recordId, sha256: r!.sha256, status: 'rejected', reason: 'bad-signature', detail: 'test' },
    ]);
    expect(s.ob.stats(s.clock.t)).toMatchObject({ held: 2, rejected: 1, sealed: 0, inFlight: 0 });
    expect(s.ob.stats(s.clock.t).oldestUnackedAgeMs).not.toBeNull(); // held is not acknowledged
    expect(s.ob.openBatch(10, BIG)).toBeNull();
    s.clock.t += HELD.baseMs;
    const b = s.ob.openBatch(10, BIG)!;
    expect(ids(b)).toEqual([sealed[0]]);
    s.clock.t += 5_000;
    const c = s.ob.openBatch(10, BIG)!;
    expect(ids(c)).toEqual([sealed[1]]);
    s.ob.acknowledge(b.batchId, receipt, stored(b));
    s.ob.acknowledge(c.batchId, receipt, stored(c));
    s.clock.t += HELD.maxMs * 10;
    expect(s.ob.openBatch(10, BIG)).toBeNull();
    expect(s.ob.stats(s.clock.t)).toMatchObject({ rejected: 1, held: 0, sealed: 0, inFlight: 0 });
    expect(acked(s.ob)).toBe(2);
  });

  it('a receipt for a batch the outbox does not know is refused by name; others in the same group are applied', async () => {
    s = await make();
    await s.seal(1, 200);
    const a = s.ob.openBatch(10, BIG)!;
    expect(() => s.ob.acknowledge('no-such-batch', receipt, [])).toThrow(expect.objectContaining({ code: 'VAULT_UNKNOWN_BATCH' }));
    if (s.ob.acknowledgeMany) {
      const errs = s.ob.acknowledgeMany([{ batchId: 'no-such-batch', receipt, results: [] }, { batchId: a.batchId, receipt, results: stored(a) }]);
      expect(errs[0]).toMatchObject({ code: 'VAULT_UNKNOWN_BATCH' });
      expect(errs[1]).toBeNull();
    } else s.ob.acknowledge(a.batchId, receipt, stored(a));
    expect(acked(s.ob)).toBe(1);
    expect(s.ob.inFlightBatches()).toEqual([]);
  });

  it('backlog: oldest unacknowledged age and bytes count sealed and in-flight records', async () => {
    s = await make();
    await s.seal(2, 1_000);
    const first = s.ob.openBatch(1, BIG)!.items[0]!;
    // sealedAt is the sealer's time (the vault's clock option does not reach it), so the age is read against it
    const at = first.sealedAt + 7_000;
    const st = s.ob.stats(at);
    expect(st.oldestUnackedAgeMs).toBe(7_000);
    expect(st.backlogBytes).toBeGreaterThanOrEqual(2_000);
  });

  it('after a restart the in-flight batches are redelivered unchanged and a replayed receipt still applies once (vault only: the in-memory outbox keeps nothing)', async () => {
    s = await make();
    if (!s.restart) {
      expect(s.audits).toBe(false); // on purpose: memory is lost with the process
      return;
    }
    const sealed = await s.seal(3, 200);
    const a = s.ob.openBatch(2, BIG)!;
    s.ob.markAttempt(a.batchId, s.clock.t);
    const ob = await s.restart();
    const listed = ob.inFlightBatches();
    expect(listed.map((x) => x.batchId)).toEqual([a.batchId]);
    expect(listed.map(ids)).toEqual([ids(a)]);
    expect(listed[0]!.items.map((i) => i.sha256)).toEqual(a.items.map((i) => i.sha256));
    expect(listed[0]!.attempts).toBe(1);
    expect(ids(ob.openBatch(10, BIG))).toEqual([sealed[2]]); // still sealed, not lost or re-batched
    ob.acknowledge(a.batchId, receipt, stored(a));
    const ob2 = await s.restart();
    ob2.acknowledge(a.batchId, receipt, stored(a)); // the same receipt again after another restart
    expect(acked(ob2)).toBe(2);
    expect(ob2.inFlightBatches().map(ids)).toEqual([[sealed[2]]]);
  });

  it('the audit chain records batches and receipts (vault only: the in-memory outbox has none and returns [])', async () => {
    s = await make();
    await s.seal(1, 200);
    const a = s.ob.openBatch(10, BIG)!;
    s.ob.acknowledge(a.batchId, receipt, stored(a));
    const kinds = s.ob.auditEntriesSince(0).map((e) => e.kind);
    if (s.audits) expect(kinds).toEqual(expect.arrayContaining(['batch_sent', 'receipt_received']));
    else expect(kinds).toEqual([]);
  });
});
