/**
 * Time on a booth without a real-time clock (#21 item 3). A Raspberry Pi boots
 * at 1970 (or at the last fake-hwclock save) until NTP answers, and NTP may never
 * answer on a hotspot that blocks it. The station therefore:
 *
 * - knows the clock is unset when it reads earlier than this release's floor;
 * - notices jumps: the wall clock moving differently from the monotonic clock
 *   (NTP stepping it, a technician setting it, a suspended process resuming);
 * - keeps its own estimate of the true time from headquarters' signed receipts:
 *   a receipt's `at` was signed after the batch's last frame left and before the
 *   receipt arrived, so true time at arrival lies within that window. The best
 *   (narrowest) sample is kept as an offset from the monotonic clock, its
 *   uncertainty growing with a crystal drift allowance as it ages.
 *
 * Everything here is pure arithmetic over injected clocks: tests drive it with
 * fake time.
 */
import { EventEmitter } from 'node:events';

/** This software's release floor: a wall clock earlier than this is certainly wrong. */
export const CLOCK_FLOOR = Date.parse('2026-11-01T00:00:00Z');
/** Drift allowance of an undisciplined crystal: 100 ppm. */
const DRIFT = 100e-6;
/** A wall-clock step larger than this (against the monotonic clock) is a jump. */
export const JUMP_MS = 2_000;

export interface TrustedTime {
  /** Best estimate of true time now (ms since epoch). */
  now: number;
  /** ± this many ms. */
  uncertaintyMs: number;
  /** Estimate minus the local wall clock (positive: the local clock is behind). */
  offsetMs: number;
  /** When (local wall clock) the sample was taken. */
  sampledAt: number;
}

export interface ClockStatus {
  wall: number;
  /** The wall clock reads before the release floor. */
  unset: boolean;
  trusted: TrustedTime | null;
  /** |offset| is above the configured skew (only known with a trusted estimate). */
  skewed: boolean;
  lastJump: { at: number; deltaMs: number } | null;
}

export interface ClockOptions {
  wall?: () => number;
  /** Monotonic ms (performance.now / process.hrtime). */
  mono?: () => number;
  /** Skew shown to the officer and in health, ms (default 5 min). */
  maxSkewMs?: number;
}

export class StationClock extends EventEmitter {
  private readonly wall: () => number;
  private readonly mono: () => number;
  private readonly maxSkewMs: number;
  /** Best sample: true time at monotonic instant `mono0`, ± `u0`. */
  private best: { trueAt: number; mono0: number; u0: number; wallAt: number } | null = null;
  private ref: { wall: number; mono: number };
  private jump: { at: number; deltaMs: number } | null = null;

  constructor(o: ClockOptions = {}) {
    super();
    this.wall = o.wall ?? Date.now;
    this.mono = o.mono ?? (() => performance.now());
    this.maxSkewMs = o.maxSkewMs ?? 5 * 60_000;
    this.ref = { wall: this.wall(), mono: this.mono() };
  }

  /**
   * A signed time from headquarters, known to have been taken between `sentMono`
   * and `receivedMono` on the monotonic clock (both local). A narrower window than
   * the current (aged) estimate replaces it.
   */
  observe(hqAt: number, sentMono: number, receivedMono: number): void {
    if (!Number.isFinite(hqAt) || receivedMono < sentMono) return;
    const half = (receivedMono - sentMono) / 2;
    // true time at receivedMono is within [hqAt, hqAt + (received - sent)]: centre it
    const trueAtReceive = hqAt + half;
    const cand = { trueAt: trueAtReceive, mono0: receivedMono, u0: half, wallAt: this.wall() };
    const cur = this.best;
    if (!cur || this.uncertaintyOf(cur, receivedMono) >= half) {
      const first = cur === null;
      this.best = cand;
      if (first) this.emit('trusted', this.status());
    }
  }

  private uncertaintyOf(b: NonNullable<StationClock['best']>, mono: number): number {
    return b.u0 + Math.abs(mono - b.mono0) * DRIFT;
  }

  trusted(): TrustedTime | null {
    const b = this.best;
    if (!b) return null;
    const m = this.mono();
    const now = b.trueAt + (m - b.mono0);
    return { now: Math.round(now), uncertaintyMs: Math.round(this.uncertaintyOf(b, m)), offsetMs: Math.round(now - this.wall()), sampledAt: b.wallAt };
  }

  /** Compares the wall clock's progress with the monotonic clock's since the last check; a difference above JUMP_MS is a jump. */
  checkJump(): { deltaMs: number } | null {
    const w = this.wall();
    const m = this.mono();
    const delta = (w - this.ref.wall) - (m - this.ref.mono);
    this.ref = { wall: w, mono: m };
    if (Math.abs(delta) > JUMP_MS) {
      this.jump = { at: w, deltaMs: Math.round(delta) };
      this.emit('jump', this.jump);
      return { deltaMs: this.jump.deltaMs };
    }
    return null;
  }

  status(): ClockStatus {
    const wall = this.wall();
    const t = this.trusted();
    return { wall, unset: wall < CLOCK_FLOOR, trusted: t, skewed: t !== null && Math.abs(t.offsetMs) > this.maxSkewMs, lastJump: this.jump };
  }

  /**
   * The time to judge expiries by: the trusted estimate when there is one, else the
   * wall clock — unless that is unset, then null (the caller must say it cannot tell).
   */
  judgeNow(): { now: number; source: 'trusted' | 'wall' } | null {
    const t = this.trusted();
    if (t) return { now: t.now, source: 'trusted' };
    const w = this.wall();
    return w < CLOCK_FLOOR ? null : { now: w, source: 'wall' };
  }
}
