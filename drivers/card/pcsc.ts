/**
 * PC/SC reader driver on the `pcsclite` addon: reader and card events, shared
 * connections, APDU timeouts, and recovery with a fresh context when pcscd
 * restarts or vanishes.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { DeviceTimeoutError, DisconnectedError, StationError } from '../common/errors';
import { ApduChannel, type ChannelOptions, type RawCardConnection } from './channel';
import { readDocument, type ChipReadResult, type ReadOptions } from './emrtd';
import type { CardReaderDriver, ReaderInfo } from './reader';

/* Minimal typing of the pcsclite addon objects. */
interface NativeReader extends EventEmitter {
  name: string;
  connected?: boolean;
  SCARD_SHARE_SHARED: number;
  SCARD_STATE_PRESENT: number;
  SCARD_STATE_MUTE: number;
  SCARD_PROTOCOL_T0: number;
  SCARD_PROTOCOL_T1: number;
  SCARD_RESET_CARD: number;
  SCARD_LEAVE_CARD: number;
  connect(opts: { share_mode?: number; protocol?: number }, cb: (err: Error | null, protocol?: number) => void): void;
  disconnect(disposition: number, cb: (err: Error | null) => void): void;
  transmit(data: Buffer, resLen: number, protocol: number, cb: (err: Error | null, data?: Buffer) => void): void;
  close(): void;
}
interface NativeContext extends EventEmitter {
  readers: Record<string, NativeReader>;
  close(): void;
}

const CODES = {
  CANCELLED: 0x80100002,
  NO_SMARTCARD: 0x8010000c,
  UNKNOWN_READER: 0x80100009,
  SHARING_VIOLATION: 0x8010000b,
  COMM_ERROR: 0x80100013,
  NOT_TRANSACTED: 0x80100016,
  READER_UNAVAILABLE: 0x80100017,
  NO_SERVICE: 0x8010001d,
  SERVICE_STOPPED: 0x8010001e,
  NO_READERS: 0x8010002e,
  UNRESPONSIVE: 0x80100066,
  UNPOWERED: 0x80100067,
  RESET: 0x80100068,
  REMOVED: 0x80100069,
  INVALID_HANDLE: 0x80100003,
} as const;

export function pcscCode(e: unknown): number | undefined {
  const m = /0x([0-9a-f]{8})/i.exec(String((e as Error)?.message ?? e));
  return m ? parseInt(m[1]!, 16) : undefined;
}

function isServiceError(code: number | undefined): boolean {
  return code === CODES.NO_SERVICE || code === CODES.SERVICE_STOPPED || code === CODES.COMM_ERROR;
}

/** Maps a PC/SC failure to a StationError that names the reader and says what to do. */
export function mapPcscError(e: unknown, reader: string, op: string): StationError {
  if (e instanceof StationError) return e;
  const code = pcscCode(e);
  const hex = code !== undefined ? ` (0x${code.toString(16).toUpperCase()})` : '';
  switch (code) {
    case CODES.REMOVED: case CODES.NO_SMARTCARD: case CODES.RESET: case CODES.NOT_TRANSACTED: case CODES.UNRESPONSIVE: case CODES.UNPOWERED: case CODES.INVALID_HANDLE:
      return new DisconnectedError('CARD_REMOVED', `the card on ${reader} was removed or stopped answering during ${op}${hex}`, {
        hint: 'put the card back flat on the reader and read again', cause: e,
      });
    case CODES.UNKNOWN_READER: case CODES.READER_UNAVAILABLE:
      return new DisconnectedError('CARD_READER_GONE', `reader ${reader} is no longer available${hex}`, { hint: 'check the reader cable; `station card list` shows the readers PC/SC sees', cause: e });
    case CODES.SHARING_VIOLATION:
      return new StationError('CARD_READER_BUSY', `reader ${reader} is held exclusively by another program${hex}`, { hint: 'close other smart-card tools (pcsc_scan, browsers with card plugins) and retry', cause: e });
    case CODES.NO_SERVICE: case CODES.SERVICE_STOPPED: case CODES.COMM_ERROR:
      return new DisconnectedError('CARD_PCSCD_DOWN', `the PC/SC service (pcscd) stopped during ${op} on ${reader}${hex}`, { hint: 'the driver reconnects by itself when pcscd is back (systemctl status pcscd)', cause: e });
    default:
      return new StationError('CARD_PCSC', `PC/SC ${op} on ${reader} failed: ${(e as Error)?.message ?? String(e)}`, { hint: 'lift the card and try again; `pcsc_scan` shows what PC/SC sees', cause: e });
  }
}

/** "" = any reader; "/…/flags" = a regular expression; anything else = a substring of the reader name. */
export function toPattern(p: string | RegExp | undefined): string | RegExp | undefined {
  if (p === undefined || p instanceof RegExp) return p;
  if (p === '') return undefined;
  const m = /^\/(.+)\/([a-z]*)$/.exec(p);
  if (m) {
    try { return new RegExp(m[1]!, m[2]); } catch { return p; }
  }
  return p;
}

export interface PcscOptions {
  /** Only readers whose name contains this string (or matches this RegExp, also written "/…/") are used. */
  readerPattern?: string | RegExp;
  logger?: Logger;
  /** How often to retry when pcscd is down (default 500 ms). */
  recoverIntervalMs?: number;
  /** open() throws CARD_PCSCD_DOWN instead of waiting in the background when pcscd is not running. */
  failIfUnavailable?: boolean;
  /** Default per-APDU timeout (ms). */
  apduTimeoutMs?: number;
}

interface ReaderState {
  native: NativeReader;
  present: boolean;
  atr?: Buffer;
  /** The native disconnect of the previous connection, which may still wait behind a timed-out transmit. */
  settling?: Promise<void>;
}

class PcscConnection implements RawCardConnection {
  private broken?: StationError;
  private closed = false;
  private inflight?: Promise<unknown>;

  constructor(private readonly native: NativeReader, readonly reader: string, readonly atr: Buffer, private readonly proto: number,
    private readonly onDisconnect: (done: Promise<void>) => void = () => undefined) {}

  get protocol(): 'T=0' | 'T=1' { return this.proto === this.native.SCARD_PROTOCOL_T0 ? 'T=0' : 'T=1'; }

  transmit(apdu: Buffer, timeoutMs: number): Promise<Buffer> {
    if (this.broken) return Promise.reject(this.broken);
    if (this.closed) return Promise.reject(new StationError('CARD_PCSC', `connection to ${this.reader} is closed`));
    const p = new Promise<Buffer>((resolve, reject) => {
      let done = false;
      const timer = setTimeout(() => {
        if (done) return;
        done = true;
        this.broken = new DeviceTimeoutError('CARD_TIMEOUT', `the card on ${this.reader} did not answer within ${timeoutMs} ms`, {
          hint: 'lift the card and put it back, then read again; if it keeps happening the chip or the reader is faulty',
        });
        reject(this.broken);
      }, timeoutMs);
      this.native.transmit(apdu, 65538, this.proto, (err, data) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        if (!err && data && data.length < 2) {
          // vpcd (and some readers) report a vanished card as an empty answer rather than an error.
          this.broken = new DisconnectedError('CARD_REMOVED', `the card on ${this.reader} was removed or stopped answering during APDU exchange (empty answer)`, {
            hint: 'put the card back flat on the reader and read again',
          });
          reject(this.broken);
        } else if (err || !data) {
          const mapped = mapPcscError(err ?? new Error('empty response'), this.reader, 'APDU exchange');
          if (mapped instanceof DisconnectedError) this.broken = mapped;
          reject(mapped);
        } else resolve(data);
      });
    });
    this.inflight = p.catch(() => undefined);
    return p;
  }

  async disconnect(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const n = this.native;
    const attempt = new Promise<void>((resolve) => {
      try {
        n.disconnect(n.SCARD_RESET_CARD, (err) => {
          if (err) n.connected = false; // card gone: forget the handle so the next connect starts afresh
          resolve();
        });
      } catch { n.connected = false; resolve(); }
    });
    this.onDisconnect(attempt);
    // A timed-out transmit still holds the reader; don't hang the caller on it.
    await Promise.race([attempt, new Promise<void>((r) => setTimeout(r, 2000).unref())]);
  }
}

export class PcscCardReader extends EventEmitter implements CardReaderDriver {
  readonly mode = 'pcsc' as const;
  private ctx?: NativeContext;
  private readonly states = new Map<string, ReaderState>();
  private lib?: () => NativeContext;
  private opened = false;
  private up = false;
  private downSince?: number;
  private retryTimer?: NodeJS.Timeout;
  private readonly log?: Logger;

  constructor(private readonly opts: PcscOptions = {}) {
    super();
    this.log = opts.logger;
  }

  get serviceUp(): boolean { return this.up; }

  private matches(name: string): boolean {
    const p = toPattern(this.opts.readerPattern);
    if (p === undefined) return true;
    return typeof p === 'string' ? name.includes(p) : p.test(name);
  }

  async open(): Promise<void> {
    if (this.opened) return;
    try {
      const mod = (await import('pcsclite')) as unknown as { default?: () => NativeContext } & (() => NativeContext);
      this.lib = mod.default ?? mod;
    } catch (e) {
      throw new StationError('CARD_PCSC_MISSING', `the pcsclite addon cannot be loaded: ${(e as Error).message}`, { hint: 'install libpcsclite-dev and rebuild (npm rebuild pcsclite)', cause: e });
    }
    this.opened = true;
    try {
      this.startContext();
    } catch (e) {
      if (this.opts.failIfUnavailable) {
        this.opened = false;
        throw new StationError('CARD_PCSCD_DOWN', `the PC/SC service (pcscd) is not running: ${(e as Error).message}`, {
          hint: 'start it with `systemctl start pcscd` (or `pcscd` on systems without systemd)', cause: e,
        });
      }
      this.markDown(String((e as Error).message));
    }
  }

  private startContext(): void {
    const ctx = this.lib!();
    this.ctx = ctx;
    this.up = true;
    ctx.on('error', (err: Error) => this.lost(ctx, err));
    ctx.on('reader', (r: NativeReader) => this.attach(ctx, r));
  }

  private attach(ctx: NativeContext, r: NativeReader): void {
    // Every reader object needs an error listener: pcscd going away errors each of them.
    r.on('error', (err: Error) => {
      if (isServiceError(pcscCode(err))) this.lost(ctx, err);
      else this.log?.warn({ reader: r.name, err: err.message }, 'card reader status error');
    });
    if (this.ctx !== ctx || !this.matches(r.name)) {
      r.on('status', () => undefined);
      return;
    }
    const st: ReaderState = { native: r, present: false };
    this.states.set(r.name, st);
    this.emit('reader-added', r.name);
    r.on('status', (s: { state: number; atr?: Buffer }) => {
      const present = (s.state & r.SCARD_STATE_PRESENT) !== 0 && (s.state & r.SCARD_STATE_MUTE) === 0;
      if (present && !st.present) {
        st.present = true;
        st.atr = s.atr && s.atr.length ? Buffer.from(s.atr) : undefined;
        this.emit('card-inserted', { reader: r.name, atr: st.atr?.toString('hex').toUpperCase() });
      } else if (!present && st.present) {
        st.present = false;
        st.atr = undefined;
        this.emit('card-removed', { reader: r.name });
      }
    });
    r.on('end', () => {
      if (this.states.get(r.name) === st) {
        this.states.delete(r.name);
        if (st.present) this.emit('card-removed', { reader: r.name });
        this.emit('reader-removed', r.name);
      }
    });
  }

  private teardown(ctx: NativeContext): void {
    for (const r of Object.values(ctx.readers)) {
      try { r.close(); } catch { /* already gone */ }
    }
    try { ctx.close(); } catch { /* already gone */ }
  }

  private lost(ctx: NativeContext, err: Error): void {
    if (this.ctx !== ctx) return;
    this.ctx = undefined;
    const present = [...this.states.values()];
    this.states.clear();
    // Close asynchronously: we may be inside a callback of one of these objects.
    setImmediate(() => this.teardown(ctx));
    for (const s of present) {
      if (s.present) this.emit('card-removed', { reader: s.native.name });
      this.emit('reader-removed', s.native.name);
    }
    this.markDown(err.message);
  }

  private markDown(reason: string): void {
    this.up = false;
    this.downSince = Date.now();
    this.log?.warn({ reason }, 'PC/SC service lost; retrying with a fresh context');
    this.emit('service-lost', { reason });
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    if (!this.opened || this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (!this.opened) return;
      try {
        this.startContext();
        const downMs = Date.now() - (this.downSince ?? Date.now());
        this.log?.info({ downMs }, 'PC/SC service is back');
        this.emit('service-recovered', { downMs });
      } catch {
        this.scheduleRetry();
      }
    }, this.opts.recoverIntervalMs ?? 500);
  }

  async close(): Promise<void> {
    this.opened = false;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    const ctx = this.ctx;
    this.ctx = undefined;
    this.states.clear();
    this.up = false;
    if (ctx) this.teardown(ctx);
  }

  readers(): ReaderInfo[] {
    return [...this.states.values()].map((s) => ({ name: s.native.name, cardPresent: s.present, atr: s.atr?.toString('hex').toUpperCase() }));
  }

  private find(reader?: string): ReaderState | undefined {
    const all = [...this.states.values()];
    if (reader === undefined || reader === '') return all.find((s) => s.present) ?? all[0];
    const exact = this.states.get(reader);
    if (exact) return exact;
    const p = toPattern(reader)!;
    const hits = all.filter((s) => (typeof p === 'string' ? s.native.name.includes(p) : p.test(s.native.name)));
    return hits.find((s) => s.present) ?? hits[0];
  }

  waitForCard(opts: { reader?: string; timeoutMs?: number } = {}): Promise<ReaderInfo> {
    const ok = (): ReaderInfo | undefined => {
      const s = this.find(opts.reader);
      return s && s.present ? { name: s.native.name, cardPresent: true, atr: s.atr?.toString('hex').toUpperCase() } : undefined;
    };
    const now = ok();
    if (now) return Promise.resolve(now);
    const timeoutMs = opts.timeoutMs ?? 30_000;
    return new Promise((resolve, reject) => {
      const check = () => { const r = ok(); if (r) { cleanup(); resolve(r); } };
      const timer = setTimeout(() => {
        cleanup();
        reject(new DeviceTimeoutError('CARD_NO_CARD', `no card was placed on ${opts.reader ?? 'any reader'} within ${Math.round(timeoutMs / 1000)} s`, {
          hint: 'place the document flat on the reader (ID card: chip side; passport: open on the photo page)',
        }));
      }, timeoutMs);
      const cleanup = () => { clearTimeout(timer); this.off('card-inserted', check); this.off('reader-added', check); };
      this.on('card-inserted', check);
      this.on('reader-added', check);
    });
  }

  async connect(reader?: string, opts: ChannelOptions = {}): Promise<ApduChannel> {
    if (!this.up) {
      throw new DisconnectedError('CARD_PCSCD_DOWN', 'the PC/SC service (pcscd) is not available', { hint: 'start pcscd (systemctl start pcscd); the driver reconnects by itself' });
    }
    const st = this.find(reader);
    if (!st) {
      const names = this.readers().map((r) => r.name).join(', ') || 'none';
      throw new StationError('CARD_NO_READER', `no card reader matches "${reader ?? this.opts.readerPattern ?? '*'}" (readers: ${names})`, { hint: 'plug in the reader or fix --reader / card.reader in the configuration' });
    }
    const name = st.native.name;
    if (!st.present) throw new StationError('CARD_NO_CARD', `no card on reader ${name}`, { hint: 'place the document flat on the reader and try again' });
    const n = st.native;
    if (st.settling) {
      // The previous connection's disconnect must land first, or it would close this new handle.
      const settled = await Promise.race([st.settling.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 15_000).unref())]);
      if (!settled) {
        throw new DeviceTimeoutError('CARD_TIMEOUT', `reader ${name} is still waiting for the card to answer an earlier command`, {
          hint: 'lift the card and put it back; if it keeps happening the chip or the reader is faulty',
        });
      }
      st.settling = undefined;
    }
    const protocol = await new Promise<number>((resolve, reject) => {
      if (n.connected) n.connected = false; // a stale handle from a removed card: connect afresh
      n.connect({ share_mode: n.SCARD_SHARE_SHARED, protocol: n.SCARD_PROTOCOL_T0 | n.SCARD_PROTOCOL_T1 }, (err, proto) => {
        if (err) reject(mapPcscError(err, name, 'connect'));
        else resolve(proto ?? n.SCARD_PROTOCOL_T1);
      });
    });
    const atr = st.atr ?? Buffer.alloc(0);
    const conn = new PcscConnection(n, name, atr, protocol, (done) => { st.settling = done; });
    return new ApduChannel(conn, { timeoutMs: this.opts.apduTimeoutMs, ...opts });
  }

  async readDocument(opts: ReadOptions & { reader?: string; channel?: ChannelOptions }): Promise<ChipReadResult> {
    const ch = await this.connect(opts.reader, opts.channel);
    try {
      return await readDocument(ch, { logger: this.log, ...opts });
    } finally {
      await ch.close();
    }
  }
}
