/**
 * A mobile link in user space (this kernel has no netem): a TCP proxy between
 * the station and its broker that behaves like a phone hotspot or a 4G dongle.
 *
 *   station ──► 127.0.0.1:<link port> ══ emulated link ══► target (the broker)
 *
 * Each direction is one bottleneck shared by every connection through the link
 * (one radio): data is serialized at the configured rate, then arrives one-way
 * delay (RTT/2, plus jitter that never reorders a connection's bytes) later.
 * Bytes waiting for the bottleneck sit in a bounded queue (the modem's buffer);
 * past it the proxy stops reading, so TCP's own back-pressure reaches the
 * sender exactly as it would on the road. A new connection pays one round trip
 * before its first byte moves (the TCP handshake).
 *
 * Faults:
 * - drop(): every open connection is cut. `reset` (default) resets both ends at
 *   once (the modem changed cell, the interface went down); `blackhole` keeps
 *   the sockets open and silently discards everything from now on (a NAT that
 *   forgot the flow: only keepalives find out).
 * - outage(ms): a drop, then new connections are refused for that long.
 * - stall(ms): nothing moves in either direction for that long (radio fade);
 *   connections survive, queued bytes wait.
 * - dropEveryMs / stallEvery: the same on a schedule.
 *
 * Counters tell a test or benchmark exactly what crossed the link, and what a
 * drop destroyed in transit.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

export interface LinkOptions {
  /** Where the link leads (the broker). */
  target: { host?: string; port: number };
  /** Uplink rate (station → target), bits per second. */
  upBitsPerSec: number;
  /** Downlink rate (target → station), bits per second (default: the uplink's). */
  downBitsPerSec?: number;
  /** Round-trip propagation delay in ms (half each way). */
  rttMs: number;
  /** Extra random one-way delay, uniform in [0, jitterMs]. */
  jitterMs?: number;
  /**
   * Bottleneck queue per direction, in bytes (the modem's buffer). Default: 250 ms
   * of the direction's rate, at least 32 KB.
   */
  queueBytes?: number;
  /** Cut every connection every this many ms (first cut one period after start()). */
  dropEveryMs?: number;
  dropMode?: 'reset' | 'blackhole';
  /** Stall both directions for durationMs every everyMs. */
  stallEvery?: { everyMs: number; durationMs: number };
  /** Deterministic jitter for reproducible runs (default Math.random). */
  random?: () => number;
}

export interface DirectionStats {
  /** Bytes the link took from the sender. */
  accepted: number;
  /** Bytes it handed to the receiver. */
  delivered: number;
  /** Bytes in transit or queued when a drop destroyed them. */
  lost: number;
  /**
   * The most bytes ever waiting for the bottleneck (not yet serialized), taken when a read is queued.
   * It is computed from the link's own clock, so a late timer on a loaded machine does not change it.
   */
  maxQueued: number;
  /** Times the link paused a sender because its queue was full (back-pressure). */
  pauses: number;
}

export interface LinkStats {
  up: DirectionStats;
  down: DirectionStats;
  /** Connections accepted (refused ones during an outage are not counted). */
  connections: number;
  refused: number;
  drops: number;
  stalls: number;
}

interface Segment {
  conn: Conn;
  data: Buffer;
  /** When the bottleneck has finished sending it. */
  departAt: number;
  /** When the receiver gets it. */
  deliverAt: number;
}

interface Conn {
  id: number;
  client: Socket;
  server: Socket;
  dead: boolean;
  /** Last delivery time per direction (jitter never reorders a connection's bytes). */
  lastUp: number;
  lastDown: number;
}

const SEGMENT = 8 * 1024;

/** One direction's bottleneck: a serializer, a bounded queue and a propagation delay. */
class Pipe {
  /** Undelivered segments in delivery order. */
  private segs: Segment[] = [];
  private freeAt = 0;
  private timer: NodeJS.Timeout | null = null;
  private resumeTimer: NodeJS.Timeout | null = null;
  private readonly paused = new Set<Socket>();
  stallUntil = 0;
  readonly stats: DirectionStats = { accepted: 0, delivered: 0, lost: 0, maxQueued: 0, pauses: 0 };

  constructor(
    private readonly bytesPerMs: number,
    private readonly oneWayMs: number,
    private readonly jitterMs: number,
    private readonly queueBytes: number,
    private readonly random: () => number,
    private readonly up: boolean,
  ) {}

  /** Bytes waiting for the bottleneck (not yet serialized). */
  backlog(now = Date.now()): number {
    return Math.max(0, (this.freeAt - Math.max(now, this.stallUntil)) * this.bytesPerMs);
  }

  push(conn: Conn, data: Buffer, source: Socket): void {
    if (conn.dead) return;
    this.stats.accepted += data.length;
    const now = Date.now();
    for (let off = 0; off < data.length; off += SEGMENT) {
      const part = data.subarray(off, Math.min(data.length, off + SEGMENT));
      const start = Math.max(now, this.freeAt, this.stallUntil);
      this.freeAt = start + part.length / this.bytesPerMs;
      const last = this.up ? conn.lastUp : conn.lastDown;
      const deliverAt = Math.max(last, this.freeAt + this.oneWayMs + (this.jitterMs ? this.random() * this.jitterMs : 0));
      if (this.up) conn.lastUp = deliverAt; else conn.lastDown = deliverAt;
      this.insert({ conn, data: part, departAt: this.freeAt, deliverAt });
    }
    const queued = this.backlog(now);
    if (queued > this.stats.maxQueued) this.stats.maxQueued = queued;
    if (queued > this.queueBytes) {
      source.pause();
      this.stats.pauses++;
      this.paused.add(source);
      this.scheduleResume();
    }
    this.schedule();
  }

  private insert(s: Segment): void {
    let i = this.segs.length;
    while (i > 0 && this.segs[i - 1]!.deliverAt > s.deliverAt) i--;
    this.segs.splice(i, 0, s);
  }

  private scheduleResume(): void {
    if (this.resumeTimer) return;
    // the queue is back under its limit when the bottleneck has worked off the excess
    const at = this.freeAt - this.queueBytes / this.bytesPerMs;
    this.resumeTimer = setTimeout(() => {
      this.resumeTimer = null;
      if (this.backlog() > this.queueBytes) { this.scheduleResume(); return; }
      for (const s of this.paused) if (!s.destroyed) s.resume();
      this.paused.clear();
    }, Math.max(1, at - Date.now()));
  }

  private schedule(): void {
    if (this.timer || this.segs.length === 0) return;
    const at = Math.max(this.segs[0]!.deliverAt, this.stallUntil);
    this.timer = setTimeout(() => { this.timer = null; this.deliver(); }, Math.max(0, at - Date.now()));
  }

  private deliver(): void {
    const now = Date.now();
    if (now < this.stallUntil) { this.schedule(); return; }
    while (this.segs.length && this.segs[0]!.deliverAt <= now + 0.5) {
      const s = this.segs.shift()!;
      if (s.conn.dead) { this.stats.lost += s.data.length; continue; }
      const to = this.up ? s.conn.server : s.conn.client;
      if (to.destroyed) { this.stats.lost += s.data.length; continue; }
      to.write(s.data);
      this.stats.delivered += s.data.length;
    }
    this.schedule();
  }

  /** A stall: nothing is serialized or delivered before `until`; everything queued shifts by the stall. */
  stall(now: number, until: number): void {
    const shift = until - Math.max(now, this.stallUntil);
    if (shift <= 0) return;
    this.stallUntil = until;
    for (const s of this.segs) { s.deliverAt += shift; s.departAt += shift; }
    if (this.freeAt > now) this.freeAt += shift;
    if (this.timer) { clearTimeout(this.timer); this.timer = null; }
    this.schedule();
  }

  /** Discards a dead connection's segments; the bottleneck no longer spends time on them. */
  forget(conn: Conn): void {
    const keep: Segment[] = [];
    for (const s of this.segs) {
      if (s.conn === conn) this.stats.lost += s.data.length;
      else keep.push(s);
    }
    this.segs = keep;
    const now = Date.now();
    this.freeAt = keep.reduce((m, s) => Math.max(m, s.departAt), now);
    this.paused.delete(conn.client);
    this.paused.delete(conn.server);
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.resumeTimer) clearTimeout(this.resumeTimer);
    this.timer = this.resumeTimer = null;
    this.segs = [];
  }
}

export class LinkEmulator {
  private server: Server | null = null;
  private readonly conns = new Set<Conn>();
  private nextId = 1;
  private refuseUntil = 0;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly upPipe: Pipe;
  private readonly downPipe: Pipe;
  private readonly o: Required<Omit<LinkOptions, 'dropEveryMs' | 'stallEvery'>> & Pick<LinkOptions, 'dropEveryMs' | 'stallEvery'>;
  private readonly counters = { connections: 0, refused: 0, drops: 0, stalls: 0 };
  port = 0;

  constructor(opts: LinkOptions) {
    const down = opts.downBitsPerSec ?? opts.upBitsPerSec;
    const queue = (bps: number) => opts.queueBytes ?? Math.max(32 * 1024, Math.round((bps / 8) * 0.25));
    this.o = { jitterMs: 0, dropMode: 'reset', random: Math.random, downBitsPerSec: down, queueBytes: queue(opts.upBitsPerSec), ...opts, target: { host: '127.0.0.1', ...opts.target } };
    const oneWay = opts.rttMs / 2;
    this.upPipe = new Pipe(opts.upBitsPerSec / 8 / 1000, oneWay, this.o.jitterMs, queue(opts.upBitsPerSec), this.o.random, true);
    this.downPipe = new Pipe(down / 8 / 1000, oneWay, this.o.jitterMs, queue(down), this.o.random, false);
  }

  get url(): string { return `mqtt://127.0.0.1:${this.port}`; }

  async start(): Promise<void> {
    const srv = createServer({ noDelay: true }, (client) => this.accept(client));
    this.server = srv;
    await new Promise<void>((resolve, reject) => {
      srv.once('error', reject);
      srv.listen(0, '127.0.0.1', () => { srv.off('error', reject); resolve(); });
    });
    const a = srv.address();
    this.port = typeof a === 'object' && a ? a.port : 0;
    if (this.o.dropEveryMs) this.timers.push(setInterval(() => this.drop(), this.o.dropEveryMs));
    if (this.o.stallEvery) {
      const { everyMs, durationMs } = this.o.stallEvery;
      this.timers.push(setInterval(() => this.stall(durationMs), everyMs));
    }
  }

  private accept(client: Socket): void {
    if (Date.now() < this.refuseUntil) {
      this.counters.refused++;
      client.resetAndDestroy();
      return;
    }
    this.counters.connections++;
    client.setNoDelay(true);
    // The TCP handshake costs a round trip before the first byte moves.
    client.pause();
    const server = connect({ host: this.o.target.host, port: this.o.target.port, noDelay: true });
    const conn: Conn = { id: this.nextId++, client, server, dead: false, lastUp: 0, lastDown: 0 };
    this.conns.add(conn);
    const handshake = setTimeout(() => { if (!conn.dead) client.resume(); }, this.o.rttMs);
    client.on('data', (d: Buffer) => this.upPipe.push(conn, d, client));
    server.on('data', (d: Buffer) => this.downPipe.push(conn, d, server));
    // A side that closes on its own: the other side learns it once the bytes in transit have arrived.
    const closed = (other: Socket, lastDelivery: () => number) => (): void => {
      clearTimeout(handshake);
      if (!this.conns.delete(conn)) return;
      const wait = Math.max(0, lastDelivery() - Date.now()) + 1;
      setTimeout(() => { other.end(); setTimeout(() => other.destroy(), 2_000).unref(); }, wait).unref();
    };
    client.on('close', closed(server, () => conn.lastUp));
    server.on('close', closed(client, () => conn.lastDown));
    client.on('error', () => undefined);
    server.on('error', () => undefined);
  }

  /** Cuts every open connection (see the module comment for the modes). */
  drop(mode: 'reset' | 'blackhole' = this.o.dropMode): void {
    this.counters.drops++;
    for (const c of [...this.conns]) {
      c.dead = true;
      this.conns.delete(c);
      this.upPipe.forget(c);
      this.downPipe.forget(c);
      if (mode === 'reset') {
        if (!c.client.destroyed) c.client.resetAndDestroy();
        if (!c.server.destroyed) c.server.resetAndDestroy();
      } else {
        // keep both sockets open, read and discard: nothing more gets through on this flow
        c.client.on('data', () => undefined);
        c.server.on('data', () => undefined);
        c.client.resume();
        c.server.resume();
        this.blackholed.push(c);
      }
    }
  }

  private readonly blackholed: Conn[] = [];

  /** A drop, then no connection for `ms`. */
  outage(ms: number): void {
    this.refuseUntil = Date.now() + ms;
    this.drop('reset');
  }

  /** Nothing moves for `ms`; connections stay up. */
  stall(ms: number): void {
    this.counters.stalls++;
    const now = Date.now();
    this.upPipe.stall(now, now + ms);
    this.downPipe.stall(now, now + ms);
  }

  /** Open connections right now. */
  openConnections(): number {
    return this.conns.size;
  }

  stats(): LinkStats {
    return { up: { ...this.upPipe.stats }, down: { ...this.downPipe.stats }, ...this.counters };
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.timers.length = 0;
    for (const c of [...this.conns, ...this.blackholed]) {
      c.dead = true;
      c.client.destroy();
      c.server.destroy();
    }
    this.conns.clear();
    this.blackholed.length = 0;
    this.upPipe.close();
    this.downPipe.close();
    const srv = this.server;
    this.server = null;
    if (srv) await new Promise<void>((resolve) => srv.close(() => resolve()));
  }
}

export async function startLink(opts: LinkOptions): Promise<LinkEmulator> {
  const l = new LinkEmulator(opts);
  await l.start();
  return l;
}
