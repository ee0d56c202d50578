import { describe, expect, it } from 'vitest';
import { recordSummary } from '../../sync/hq/main';
import { makeRecord } from '../uplink/helpers';

const header = { sealedAt: Date.parse('2026-12-01T08:00:00Z'), suite: 'x25519-chacha20poly1305' } as Parameters<typeof recordSummary>[1];

describe('hq open: the text summary', () => {
  it('names the person and, for a capture not taken, the exception the officer recorded (no bare null)', () => {
    const r = makeRecord('ST-1', 100);
    r.details = { ...r.details, surname: 'NGUYỄN', givenNames: 'VĂN AN', documentNumber: 'C1234567', extra: { portraitException: 'medical: bandaged face', chipException: 'no_chip: old card' } };
    delete (r as { portrait?: unknown }).portrait;
    const s = recordSummary(r, header);
    expect(s.person).toBe('NGUYỄN, VĂN AN — born 1990-01-01, sex X (document C1234567)');
    expect(s.portrait).toBe('not taken — exception medical: bandaged face');
    expect(s.chip).toBe('not read — exception no_chip: old card');
    expect(Object.values(s).flat().join(' ')).not.toMatch(/\bnull\b/);
  });

  it('a captured portrait and no chip', () => {
    const s = recordSummary(makeRecord('ST-1', 100), header);
    expect(s.portrait).toBe('480x640 JPEG, 100 bytes');
    expect(s.chip).toBe('not read');
    expect(s.sealedAt).toBe('2026-12-01T08:00:00.000Z');
  });

  it('shows the trusted time of a record sealed by a booth with a wrong clock, and says when there was none', () => {
    const r = makeRecord('ST-1', 100);
    r.completedAt = 5_000; // booted at 1970
    r.clock = { source: 'hq', offsetMs: Date.parse('2026-12-01T07:59:00Z') - 5_000, uncertaintyMs: 120 };
    expect(recordSummary(r, header).trustedTime).toMatch(/^completed 2026-12-01T07:59:00\.000Z ± 120 ms by headquarters' time/);
    r.clock = { source: 'none' };
    expect(recordSummary(r, header).trustedTime).toMatch(/^none: /);
    delete r.clock;
    expect(recordSummary(r, header).trustedTime).toBeUndefined();
  });
});
