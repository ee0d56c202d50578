/**
 * Time without a real-time clock (#21 item 3), on fake clocks (time is the
 * subject): a booth started at 1970 knows its clock is unset, gets trusted time
 * from the first signed receipt, and notices a +2 days jump mid-run.
 */
import { describe, expect, it } from 'vitest';
import { CLOCK_FLOOR, StationClock } from '../../station/clock';

function fakeClocks(wall0: number) {
  let wall = wall0;
  let mono = 1_000;
  return {
    wall: () => wall,
    mono: () => mono,
    advance(ms: number) { wall += ms; mono += ms; },
    setWall(w: number) { wall = w; },
  };
}

describe('station clock', () => {
  const TRUE_START = Date.parse('2026-12-02T08:00:00Z');

  it('started at 1970: unset, then trusted from the first receipt, offset and uncertainty from its window', () => {
    const c = fakeClocks(0);
    const clock = new StationClock({ wall: c.wall, mono: c.mono });
    expect(clock.status().unset).toBe(true);
    expect(clock.trusted()).toBeNull();
    expect(clock.judgeNow()).toBeNull(); // no expiry can be judged: the caller says so
    const trusted: unknown[] = [];
    clock.on('trusted', (s) => trusted.push(s));

    // a batch leaves at mono 1000; headquarters signs at true time TRUE_START + 150; the receipt arrives 400 ms after sending
    const sent = c.mono();
    c.advance(400);
    clock.observe(TRUE_START + 150, sent, c.mono());
    expect(trusted).toHaveLength(1);
    const t = clock.trusted()!;
    expect(t.uncertaintyMs).toBe(200);
    // truth at arrival is within [TRUE_START+150, TRUE_START+550]; the estimate is the centre
    expect(t.now).toBe(TRUE_START + 350);
    expect(t.offsetMs).toBe(TRUE_START + 350 - 400);
    expect(clock.judgeNow()).toEqual({ now: TRUE_START + 350, source: 'trusted' });
    expect(clock.status().skewed).toBe(true);

    // a wider window later does not replace it; a narrower one does
    const s2 = c.mono();
    c.advance(2_000);
    clock.observe(TRUE_START + 2_400, s2, c.mono());
    expect(clock.trusted()!.uncertaintyMs).toBe(200); // 200 + 2 s × 100 ppm rounds to 200
    const s3 = c.mono();
    c.advance(40);
    clock.observe(TRUE_START + 2_800, s3, c.mono());
    expect(clock.trusted()!.uncertaintyMs).toBe(20);

    // an hour on, the estimate follows the monotonic clock and its uncertainty grows with the drift allowance
    c.advance(3_600_000);
    expect(clock.trusted()!.uncertaintyMs).toBe(20 + 360);
  });

  it('a +2 days jump of the wall clock mid-run is detected; ordinary running is not', () => {
    const c = fakeClocks(TRUE_START);
    const clock = new StationClock({ wall: c.wall, mono: c.mono });
    expect(clock.status().unset).toBe(false);
    expect(TRUE_START).toBeGreaterThan(CLOCK_FLOOR);
    c.advance(60_000);
    expect(clock.checkJump()).toBeNull();
    const jumps: { deltaMs: number }[] = [];
    clock.on('jump', (j: { deltaMs: number }) => jumps.push(j));
    c.setWall(c.wall() + 2 * 86_400_000);
    c.advance(1_000);
    expect(clock.checkJump()).toEqual({ deltaMs: 2 * 86_400_000 });
    expect(jumps).toHaveLength(1);
    expect(clock.status().lastJump).toMatchObject({ deltaMs: 2 * 86_400_000 });
    c.advance(1_000);
    expect(clock.checkJump()).toBeNull();
  });

  it('a receipt time far from the local clock is kept as an offset (the local clock is what is wrong), and shown as skew', () => {
    const c = fakeClocks(TRUE_START);
    const clock = new StationClock({ wall: c.wall, mono: c.mono, maxSkewMs: 60_000 });
    const s = c.mono();
    c.advance(100);
    clock.observe(TRUE_START + 3 * 3_600_000, s, c.mono());
    const st = clock.status();
    expect(st.skewed).toBe(true);
    expect(Math.round(st.trusted!.offsetMs / 1000)).toBe(3 * 3600);
    // a receipt window that runs backwards is not evidence of anything
    const before = clock.trusted();
    clock.observe(TRUE_START, c.mono(), c.mono() - 5);
    expect(clock.trusted()).toEqual(before);
  });
});
