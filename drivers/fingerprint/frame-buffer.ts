/**
 * What the two UART frame parsers (R30x family, GT-521Fxx) share: the receive
 * buffer, dropping stale input before a command, resynchronising after the line
 * went quiet in the middle of a "frame", and reporting every discarded byte.
 * Each parser supplies its own push() (header search, lengths, checksums).
 */
export abstract class FrameBuffer<Reason extends string> {
  protected buf: Buffer = Buffer.alloc(0);
  abstract readonly stats: { discardedBytes: number; truncated: number };

  constructor(private readonly onDiscard?: (reason: Reason | 'garbage', bytes: number) => void) {}

  /** Feed any chunk; complete valid frames come out in order. */
  abstract push(chunk: Uint8Array): void;

  /** Bytes waiting for the rest of a frame. */
  get pending(): number {
    return this.buf.length;
  }

  /** Drop everything buffered (stale input before a new command). Returns bytes dropped. */
  reset(): number {
    const n = this.buf.length;
    if (n) this.discard('garbage', n);
    this.buf = Buffer.alloc(0);
    return n;
  }

  /**
   * The line went quiet with a partial frame buffered: that "frame" was a false header in noise
   * or a truncated packet. Drop its header and look for frames in the bytes after it.
   */
  rescan(): void {
    if (this.buf.length === 0) return;
    const rest = this.buf.subarray(Math.min(2, this.buf.length));
    this.stats.truncated++;
    this.discard('garbage', this.buf.length - rest.length);
    this.buf = Buffer.alloc(0);
    if (rest.length) this.push(Buffer.from(rest));
  }

  protected discard(reason: Reason | 'garbage', n: number): void {
    this.stats.discardedBytes += n;
    try {
      this.onDiscard?.(reason, n);
    } catch {
      /* a listener never breaks the parser */
    }
  }
}
