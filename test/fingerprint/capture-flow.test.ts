import { describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { DisconnectedError, UsageError } from '../../drivers/common/errors';
import { captureFinger, declareException, type FingerResult } from '../../drivers/fingerprint';
import { rejectionOf, withSim } from './helpers';

describe('per-finger capture flow', () => {
  it('keeps trying until an attempt reaches the threshold, and keeps that image', async () => {
    await withSim({ model: 'r307', image: ['smudged', 'partial', 'good', 'good'] }, async (_sim, sc) => {
      await sc.open();
      const seen: number[] = [];
      const r = await captureFinger(sc, { position: 2, maxAttempts: 5, threshold: 40, onAttempt: (a) => seen.push(a.quality ?? -1) });
      expect(r.status).toBe('captured');
      expect(r.position).toBe(2);
      expect(r.attempts).toBe(3); // stopped at the first good one
      expect(r.attemptQualities).toHaveLength(3);
      expect(r.attemptQualities[0]).toBeLessThan(40);
      expect(r.attemptQualities[1]).toBeLessThan(40);
      expect(r.quality).toBe(r.attemptQualities[2]);
      expect(r.quality).toBeGreaterThanOrEqual(40);
      expect(r.meetsThreshold).toBe(true);
      expect(seen).toEqual(r.attemptQualities);
      expect(r).toMatchObject({ width: 256, height: 288, ppi: 500 });
      expect((await sharp(r.png).metadata()).channels).toBe(1);
    });
  });

  it('after N poor attempts returns the best one, flagged below threshold', async () => {
    await withSim({ model: 'gt521f32', image: ['empty', 'partial', 'smudged'] }, async (_sim, sc) => {
      await sc.open();
      const r = await captureFinger(sc, { position: 7, maxAttempts: 3, threshold: 50 });
      expect(r.attempts).toBe(3);
      expect(r.meetsThreshold).toBe(false);
      expect(r.quality).toBe(Math.max(...r.attemptQualities));
      expect(r.ppi).toBe(450);
    });
  });

  it('a disconnect during the flow is reported, not swallowed', async () => {
    await withSim({ model: 'r503', image: 'good', autoFinger: false }, async (sim, sc) => {
      await sc.open();
      sim.placeFinger('smudged');
      sim.faults.unplugAfterBytes = 4000;
      const err = await rejectionOf(captureFinger(sc, { position: 1, maxAttempts: 3 }));
      expect(err).toBeInstanceOf(DisconnectedError);
    });
  });

  it('validates the position and the options', async () => {
    await withSim({ model: 'r307' }, async (_sim, sc) => {
      expect(await rejectionOf(captureFinger(sc, { position: 11 }))).toBeInstanceOf(UsageError);
      expect(await rejectionOf(captureFinger(sc, { position: 0 }))).toBeInstanceOf(UsageError);
      expect(await rejectionOf(captureFinger(sc, { position: 3, maxAttempts: 0 }))).toBeInstanceOf(UsageError);
      expect(await rejectionOf(captureFinger(sc, { position: 3, threshold: 101 }))).toBeInstanceOf(UsageError);
    });
  });
});

describe('finger exceptions', () => {
  it('records missing, amputated, bandaged and unable with a reason', () => {
    const all: FingerResult[] = (['missing', 'amputated', 'bandaged', 'unable'] as const).map((k, i) => declareException(i + 1, k, `  reason ${k} `));
    expect(all.map((e) => e.status)).toEqual(['exception', 'exception', 'exception', 'exception']);
    expect(all[3]).toEqual({ position: 4, status: 'exception', exception: 'unable', reason: 'reason unable' });
  });
  it('refuses an unknown kind, a missing reason and a bad position', () => {
    expect(() => declareException(1, 'lost', 'x')).toThrow(UsageError);
    expect(() => declareException(1, 'missing', '   ')).toThrow(/reason is required/);
    expect(() => declareException(12, 'missing', 'x')).toThrow(/1\.\.10/);
  });
});
