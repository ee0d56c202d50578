import { describe, expect, it } from 'vitest';
import { evaluatePolicy, PolicyWatch, type PolicyReading } from '../../station/policy';
import type { OutboxStats } from '../../sync/outbox';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StationState } from '../../station/state';

const DAY = 86_400_000;
const now = Date.parse('2026-11-28T12:00:00Z');
const stats = (o: Partial<OutboxStats>): OutboxStats => ({ sealed: 0, inFlight: 0, acknowledged: 0, released: 0, rejected: 0, held: 0, oldestUnackedAgeMs: null, lastReceiptAt: null, ...o });
const policy = { maxUnacked: 100, maxDaysSinceReceipt: 10 };

describe('offline policy', () => {
  it('levels by records waiting and by days without a receipt, whichever is closer', () => {
    expect(evaluatePolicy(stats({ sealed: 50, inFlight: 29 }), policy, now).level).toBe('ok');
    expect(evaluatePolicy(stats({ sealed: 50, inFlight: 30 }), policy, now).level).toBe('near');
    expect(evaluatePolicy(stats({ sealed: 100 }), policy, now).level).toBe('reached');
    expect(evaluatePolicy(stats({ sealed: 1, lastReceiptAt: now - 7 * DAY }), policy, now).level).toBe('ok');
    expect(evaluatePolicy(stats({ sealed: 1, lastReceiptAt: now - 8.5 * DAY }), policy, now)).toMatchObject({ level: 'near', daysSinceReceipt: 8.5 });
    // never had a receipt: the oldest waiting record's age counts
    expect(evaluatePolicy(stats({ sealed: 1, oldestUnackedAgeMs: 11 * DAY }), policy, now).level).toBe('reached');
    // nothing waiting: no clock running, however old the last receipt
    expect(evaluatePolicy(stats({ lastReceiptAt: now - 60 * DAY }), policy, now).level).toBe('ok');
    expect(evaluatePolicy(stats({ sealed: 500 }), { maxUnacked: null, maxDaysSinceReceipt: null }, now).level).toBe('ok');
  });

  it('reports each crossing once, and again after recovering', () => {
    const seen: PolicyReading[] = [];
    const w = new PolicyWatch((r) => seen.push(r));
    w.check(stats({ sealed: 10 }), policy, now);
    w.check(stats({ sealed: 85 }), policy, now);
    w.check(stats({ sealed: 90 }), policy, now);
    w.check(stats({ sealed: 100 }), policy, now);
    w.check(stats({ sealed: 120 }), policy, now);
    expect(seen.map((r) => r.level)).toEqual(['near', 'reached']);
    w.check(stats({ sealed: 5 }), policy, now);
    w.check(stats({ sealed: 81 }), policy, now);
    expect(seen.map((r) => r.level)).toEqual(['near', 'reached', 'near']);
    expect(seen[1]).toMatchObject({ unacknowledged: 100, maxUnacked: 100 });
  });
});

describe('offline policy edge', () => {
  it('a limit of 0 is reached at once; the same rule the enrollment guard uses', () => {
    expect(evaluatePolicy(stats({}), { maxUnacked: 0, maxDaysSinceReceipt: null }, now).level).toBe('reached');
  });
});

describe('set-policy on the station', () => {
  it('changes only the limits given, keeps the rest, survives a restart; null removes a limit', () => {
    const dir = mkdtempSync(join(tmpdir(), 'state-'));
    const s = new StationState(dir, { maxUnacked: 5000, maxDaysSinceReceipt: 14 });
    expect(s.setPolicy({ maxDaysSinceReceipt: 3 })).toEqual({ maxUnacked: 5000, maxDaysSinceReceipt: 3 });
    expect(s.setPolicy({ maxUnacked: null })).toEqual({ maxUnacked: null, maxDaysSinceReceipt: 3 });
    expect(new StationState(dir, { maxUnacked: 5000, maxDaysSinceReceipt: 14 }).load().policy).toEqual({ maxUnacked: null, maxDaysSinceReceipt: 3 });
  });
});
