/**
 * The offline policy seen from the station: how close it is to the limits headquarters
 * set (records waiting, days without a receipt). The guard refuses enrollments at the
 * limit (station/workflow/adapters.ts stationGuard); this tells headquarters and the
 * log when the station nears (80 %) or reaches a limit, once per crossing.
 */
import type { OfflinePolicy } from '../sync/commands';
import type { OutboxStats } from '../sync/outbox';

export type PolicyLevel = 'ok' | 'near' | 'reached';

export interface PolicyReading {
  level: PolicyLevel;
  unacknowledged: number;
  daysSinceReceipt: number;
  maxUnacked: number | null;
  maxDaysSinceReceipt: number | null;
}

export const NEAR_SHARE = 0.8;

export function evaluatePolicy(s: OutboxStats, p: OfflinePolicy, now: number): PolicyReading {
  const unacknowledged = s.sealed + s.inFlight + s.held; // held: kept back by headquarters, still waiting
  // the clock of "days without a receipt" only runs while something is waiting
  const daysSinceReceipt = unacknowledged > 0 ? (s.lastReceiptAt !== null ? now - s.lastReceiptAt : (s.oldestUnackedAgeMs ?? 0)) / 86_400_000 : 0;
  // a limit of 0 is reached at once; null means no limit
  const ratio = (v: number, max: number | null): number => (max === null ? 0 : max === 0 ? Infinity : v / max);
  const share = Math.max(ratio(unacknowledged, p.maxUnacked), ratio(daysSinceReceipt, p.maxDaysSinceReceipt));
  const level: PolicyLevel = share >= 1 ? 'reached' : share >= NEAR_SHARE ? 'near' : 'ok';
  return { level, unacknowledged, daysSinceReceipt: Number(daysSinceReceipt.toFixed(2)), maxUnacked: p.maxUnacked, maxDaysSinceReceipt: p.maxDaysSinceReceipt };
}

/** Calls `onChange` when the level rises to near or reached (not again until it changes). */
export class PolicyWatch {
  private level: PolicyLevel = 'ok';
  constructor(private readonly onChange: (r: PolicyReading) => void) {}

  check(s: OutboxStats, p: OfflinePolicy, now = Date.now()): PolicyReading {
    const r = evaluatePolicy(s, p, now);
    if (r.level !== this.level && r.level !== 'ok') this.onChange(r);
    this.level = r.level;
    return r;
  }
}
