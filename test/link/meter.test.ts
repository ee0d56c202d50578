/**
 * The uplink's delivery-rate meter on a clock the test drives: acknowledgements handled late and
 * then all at once (an event loop busy with a capture) must not read as a faster link, because the
 * max filter keeps the highest sample and the window and frame sizes follow it.
 */
import { describe, expect, it } from 'vitest';
import { LinkMeter } from '../../sync/uplink/link';

describe('LinkMeter delivery rate', () => {
  it('back to back on a 100 KB/s link: the estimate is the link rate', () => {
    let t = 0;
    const m = new LinkMeter(() => t);
    // one 10 KB frame every 100 ms, each sent when the previous one is acknowledged
    for (let i = 0; i < 10; i++) { const mk = m.mark(); t += 100; m.onAck(mk, 10_000); }
    expect(m.estimate(1 << 20).bandwidthBps).toBe(100_000);
  });

  it('an acknowledgement handled 80 ms late, then the next on time: bounded by when the bytes were sent', () => {
    let t = 0;
    const m = new LinkMeter(() => t);
    const a = m.mark();            // A sent at 0
    t = 1; const b = m.mark();     // B sent at 1, right behind it
    t = 180; m.onAck(a, 10_000);   // A's ack reached the booth at 100 but was handled at 180
    const c = m.mark();            // C sent as soon as the window opened, at 180
    t = 200; m.onAck(b, 10_000);   // B handled on time
    t = 300; m.onAck(c, 10_000);   // C handled on time
    const bw = m.estimate(1 << 20).bandwidthBps!;
    // by acknowledgement times alone C's sample is 20 KB over 120 ms = 167 KB/s; the send interval
    // of the same bytes (180 ms) keeps it near the link's 100 KB/s
    expect(bw).toBeLessThan(120_000);
    expect(bw).toBeGreaterThanOrEqual(100_000);
  });
});
