/**
 * What the uplink learns about its link while it uses it, and the byte window
 * that keeps the pipe full without putting more at risk than the link needs.
 *
 * A phone hotspot or 4G dongle gives 1–5 Mbit/s up at 100–400 ms round trip and
 * drops the connection whenever the officer walks between houses. Every byte
 * published but not yet acknowledged by the broker (PUBACK) is lost by a drop and
 * must be sent again, so the bytes in flight are bounded by what fills the pipe:
 * about twice the bandwidth-delay product, plus the frames being serialized.
 * Everything the broker has acknowledged stays acknowledged (headquarters keeps
 * the chunks of a batch until it is whole), so a drop costs at most one window.
 *
 * Bandwidth is estimated like BBR's delivery rate: when a frame is acknowledged,
 * the bytes acknowledged since it was sent over the time since then (never more
 * than the link carried), the largest recent sample being the bottleneck rate.
 * The round trip is the smallest recent time from publish to PUBACK (small
 * messages — status, health, events — give clean samples).
 */

export interface LinkEstimate {
  /** Bottleneck rate in bytes per second (largest recent delivery-rate sample), or null before any sample. */
  bandwidthBps: number | null;
  /** Smallest recent publish→PUBACK time in ms, or null. */
  minRttMs: number | null;
  /** Bytes allowed in flight (published, not acknowledged by the broker). */
  windowBytes: number;
  /** Size of the frames data is cut into for this link. */
  frameBytes: number;
}

export interface SendMark {
  at: number;
  delivered: number;
  deliveredAt: number;
  /** When the publish acknowledged last at `deliveredAt` was sent. */
  deliveredSentAt: number;
}

/** Window and frame size limits. */
export const LINK_LIMITS = {
  minWindow: 128 * 1024,
  maxWindow: 16 * 1024 * 1024,
  minFrame: 32 * 1024,
  /** Before anything is known: small enough for a slow link, grows within the first round trips. */
  initialFrame: 64 * 1024,
  initialWindow: 256 * 1024,
  /** A frame is cut to about this long on the wire. */
  frameSeconds: 0.1,
  /** Delivery-rate samples kept for the max filter. */
  bandwidthWindowMs: 10_000,
  /** Long: while data flows every sample includes queueing, and a round trip learnt too high would grow the window, which grows the queue. */
  rttWindowMs: 300_000,
};

export class LinkMeter {
  private delivered = 0;
  private deliveredAt: number;
  private deliveredSentAt: number;
  private bw: { at: number; v: number }[] = [];
  private rtt: { at: number; v: number }[] = [];

  constructor(private readonly now: () => number = Date.now) {
    this.deliveredAt = now();
    this.deliveredSentAt = this.deliveredAt;
  }

  /** Called when a publish goes out: what to hand back to onAck. */
  mark(): SendMark {
    return { at: this.now(), delivered: this.delivered, deliveredAt: this.deliveredAt, deliveredSentAt: this.deliveredSentAt };
  }

  /** A publish of `bytes` was acknowledged by the broker. */
  onAck(m: SendMark, bytes: number): void {
    const now = this.now();
    this.delivered += bytes;
    this.deliveredAt = now;
    this.deliveredSentAt = m.at;
    this.rttSample(now - m.at, now);
    // Delivery rate: the bytes acknowledged since the last delivery before this frame went out, over
    // the time since that delivery. Back to back, that is the link's rate; an idle pipe before the
    // send only makes the sample smaller (the max filter ignores it), never larger. The interval is
    // the longer of the acknowledgement interval and the send interval of the same bytes: acks that
    // arrive bunched (an event loop busy with a capture, a phone radio waking up) would otherwise
    // shrink the interval and read as a link faster than it is, and the max filter keeps the
    // highest sample — the window and frame sizes would then be sized for a link that is not there.
    const interval = Math.max(now - m.deliveredAt, m.at - m.deliveredSentAt);
    if (interval > 0 && bytes >= 1024) {
      const v = ((this.delivered - m.delivered) * 1000) / interval;
      this.bw.push({ at: now, v });
      this.prune(now);
    }
  }

  /** A round-trip sample from outside publishes (CONNECT→CONNACK, SUBSCRIBE→SUBACK). */
  rttSample(ms: number, now = this.now()): void {
    if (!(ms >= 0)) return;
    this.rtt.push({ at: now, v: Math.max(ms, 0.1) });
    this.prune(now);
  }

  /** A new connection: what was in flight is gone; what was learnt about the link stays. */
  reset(): void {
    this.deliveredAt = this.now();
    this.deliveredSentAt = this.deliveredAt;
  }

  private prune(now: number): void {
    const bwCut = now - LINK_LIMITS.bandwidthWindowMs;
    while (this.bw.length > 1 && this.bw[0]!.at < bwCut) this.bw.shift();
    if (this.bw.length > 512) this.bw.splice(0, this.bw.length - 512);
    const rttCut = now - LINK_LIMITS.rttWindowMs;
    while (this.rtt.length > 1 && this.rtt[0]!.at < rttCut) this.rtt.shift();
    if (this.rtt.length > 512) this.rtt.splice(0, this.rtt.length - 512);
  }

  estimate(maxFrame: number): LinkEstimate {
    const bandwidthBps = this.bw.length ? Math.max(...this.bw.map((s) => s.v)) : null;
    const minRttMs = this.rtt.length ? Math.min(...this.rtt.map((s) => s.v)) : null;
    const L = LINK_LIMITS;
    let frameBytes: number;
    let windowBytes: number;
    if (bandwidthBps === null) {
      frameBytes = Math.min(maxFrame, L.initialFrame);
      windowBytes = L.initialWindow;
    } else {
      // a power of two, so a batch cut once is cut the same way again while the estimate wobbles
      frameBytes = Math.min(maxFrame, Math.max(L.minFrame, pow2(bandwidthBps * L.frameSeconds)));
      const bdp = bandwidthBps * ((minRttMs ?? 100) / 1000);
      windowBytes = Math.min(L.maxWindow, Math.max(L.minWindow, Math.round(2 * bdp + 2 * frameBytes)));
    }
    return { bandwidthBps, minRttMs, windowBytes, frameBytes };
  }
}

function pow2(n: number): number {
  return 2 ** Math.round(Math.log2(Math.max(1, n)));
}

/**
 * Bytes in flight, bounded by the window. Waiters are served in order of their
 * priority (lower first: the oldest batch's next frame), so batches complete one
 * after another instead of all being half sent when the link drops.
 */
export class ByteWindow {
  private inFlight = 0;
  private frames = 0;
  /** Bumped by reset(): a release from before it (a publish the closed connection failed) changes nothing. */
  private gen = 0;
  private waiters: { prio: number; bytes: number; resolve: (gen: number | null) => void }[] = [];

  constructor(private readonly limit: () => number, private readonly maxFrames: number) {}

  get bytes(): number { return this.inFlight; }

  /** Resolves with a generation to pass to release() when `bytes` may go out; null when the window was reset (the connection closed). */
  acquire(bytes: number, prio: number): Promise<number | null> {
    if (this.waiters.length === 0 && this.fits(bytes)) {
      this.take(bytes);
      return Promise.resolve(this.gen);
    }
    return new Promise((resolve) => {
      const w = { prio, bytes, resolve };
      let i = this.waiters.length;
      while (i > 0 && this.waiters[i - 1]!.prio > prio) i--;
      this.waiters.splice(i, 0, w);
      this.serve();
    });
  }

  release(bytes: number, gen: number): void {
    if (gen !== this.gen) return;
    this.inFlight = Math.max(0, this.inFlight - bytes);
    this.frames = Math.max(0, this.frames - 1);
    this.serve();
  }

  /** The connection closed: nothing is in flight any more; every waiter is told to give up. */
  reset(): void {
    this.gen++;
    this.inFlight = 0;
    this.frames = 0;
    const w = this.waiters;
    this.waiters = [];
    for (const x of w) x.resolve(null);
  }

  private fits(bytes: number): boolean {
    // one frame always fits an empty window (a frame larger than the window must still go out)
    return this.frames === 0 || (this.frames < this.maxFrames && this.inFlight + bytes <= this.limit());
  }

  private take(bytes: number): void {
    this.inFlight += bytes;
    this.frames += 1;
  }

  private serve(): void {
    while (this.waiters.length && this.fits(this.waiters[0]!.bytes)) {
      const w = this.waiters.shift()!;
      this.take(w.bytes);
      w.resolve(this.gen);
    }
  }
}
