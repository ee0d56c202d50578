import { describe, expect, it } from 'vitest';
import { buildFleet, formatFleet } from '../../sync/hq/fleet';
import type { HealthPayload, StatusPayload } from '../../sync/topics';

const health = (at: number, today: number, quota: number, unit: string, backlog = 0): HealthPayload => ({
  v: 1, at, version: '1', uptimeS: 1, diskFreeBytes: 1, backlog: { count: backlog, oldestAgeMs: backlog ? 7_200_000 : null }, lastReceiptAt: at - 1000,
  devices: [{ name: 'camera', state: 'ok' }], cpuTempC: null, clockOffsetMs: null, enrollments: { today, quota, unit }, intervalS: 60,
});

describe('fleet view', () => {
  it('marks an "online" station lost after three missed heartbeats and sums quota progress per unit', () => {
    const now = 1_800_000_000_000;
    const status = new Map<string, StatusPayload>([
      ['A', { v: 1, state: 'online', session: 3, at: now - 10_000 }],
      ['B', { v: 1, state: 'online', session: 9, at: now - 900_000 }],
      ['C', { v: 1, state: 'lost', session: 2, at: now - 5_000 }],
    ]);
    const hl = new Map<string, HealthPayload>([
      ['A', health(now - 30_000, 10, 40, 'U1', 3)],
      ['B', health(now - 200_000, 5, 40, 'U1')],
      ['C', health(now - 50_000, 7, 20, 'U2')],
    ]);
    const v = buildFleet(null, status, hl, now);
    const by = Object.fromEntries(v.stations.map((s) => [s.stationId, s]));
    expect(by.A!.state).toBe('online');
    expect(by.B!.state).toBe('lost');
    expect(by.B!.stateReason).toMatch(/3 heartbeats missed/);
    expect(by.C!.state).toBe('lost');
    expect(by.A!.backlog).toBe(3);
    expect(v.units).toEqual([
      { unit: 'U1', stations: 2, enrollmentsToday: 15, quota: 80, progress: 15 / 80 },
      { unit: 'U2', stations: 1, enrollmentsToday: 7, quota: 20, progress: 7 / 20 },
    ]);
    const text = formatFleet(v);
    expect(text).toMatch(/unit U1: 2 station\(s\), 15 enrollment\(s\) today of 80 \(19%\)/);
    expect(text).toMatch(/A \(unregistered\)\s+U1\s+online\s+3\s+2h ago/);
  });
});
