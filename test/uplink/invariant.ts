import { expect } from 'vitest';
import { createHash } from 'node:crypto';
import type { HqStore } from '../../sync/hq/store';
import { TrustedKeys, verifySigned } from '../../sync/wire/signed';
import type { ReceiptBody } from '../../sync/topics';
import type { KeyObject } from 'node:crypto';

/**
 * The invariant of every scenario: each record sealed at the station is stored
 * at headquarters exactly once (with the same bytes), and the station marked it
 * acknowledged only with a receipt that verifies under headquarters' receipt key
 * and names that record and its hash.
 */
export function checkInvariant(opts: {
  ids: string[];
  envelopes?: Map<string, Buffer>;
  stationId: string;
  hq: HqStore;
  states: Record<string, string>;
  receiptOf: (id: string) => Buffer | null;
  /** The receipt key, or every generation's (a rotation in the scenario). */
  receiptKey: KeyObject | KeyObject[];
  expectAllAcked?: boolean;
}): void {
  const trusted = new TrustedKeys(Array.isArray(opts.receiptKey) ? opts.receiptKey : [opts.receiptKey]);
  const rows = opts.hq.db.prepare('SELECT record_id, sha256, envelope FROM records WHERE station_id = ?').all(opts.stationId) as { record_id: string; sha256: string; envelope: Buffer }[];
  const counts = new Map<string, number>();
  for (const r of rows) {
    counts.set(r.record_id, (counts.get(r.record_id) ?? 0) + 1);
    expect(createHash('sha256').update(r.envelope).digest('hex')).toBe(r.sha256);
  }
  // nothing at HQ that the station did not seal
  for (const id of counts.keys()) expect(opts.ids).toContain(id);
  for (const id of opts.ids) {
    const state = opts.states[id];
    if (state === 'acknowledged' || state === 'released') {
      expect(counts.get(id), `record ${id} acknowledged at the station but stored ${counts.get(id) ?? 0} times at HQ`).toBe(1);
      const raw = opts.receiptOf(id);
      expect(raw, `record ${id} acknowledged without a stored receipt`).not.toBeNull();
      const v = verifySigned<ReceiptBody>(raw!, trusted);
      expect(v.ok, `receipt of ${id} does not verify`).toBe(true);
      if (v.ok) {
        const res = v.body.results.find((x) => x.recordId === id);
        expect(res?.status === 'stored' || res?.status === 'duplicate').toBe(true);
        const row = rows.find((r) => r.record_id === id)!;
        expect(res?.sha256).toBe(row.sha256);
      }
    } else if (opts.expectAllAcked) {
      throw new Error(`record ${id} is still "${state}" at the station`);
    }
    if (opts.expectAllAcked) expect(counts.get(id) ?? 0).toBe(1);
  }
}
