/**
 * PC/SC reader driver on the `pcsclite` addon: reader and card events, shared
 * connections, APDU timeouts, and recovery with a fresh context when pcscd
 * restarts or vanishes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
// The addon runs in the helper process (brokerScript); this process only resolves its path.
import type {} from 'pcsclite';
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

/**
 * PC/SC runs in a helper process ("the broker"): the addon's own context, its
 * per-reader status threads, and every connect / transmit / disconnect, driven
 * by JSON lines on stdin/stdout.
 *
 * Why a process: the addon's close() joins a thread blocked in
 * SCardGetStatusChange(INFINITE). Its SCardCancel is lost when it reaches pcscd
 * before the thread is inside that call (the addon retries for 50 ms only), and
 * then close() blocks the event loop until the next card event (seen as a
 * `station card read` hanging for 13 minutes after printing its result, once in
 * ~35 reads). A reader object without its status thread is no way out either:
 * the addon leaves that thread handle uninitialised, and close() or the
 * destructor then joins a garbage thread. A child process can always be killed
 * at once, so closing never waits for anything.
 */
function brokerScript(addon: string): string {
  return `
const pcsclite = require(${JSON.stringify(addon)});
const out = (o) => { try { process.stdout.write(JSON.stringify(o) + '\\n'); } catch { process.exit(0); } };
process.stdout.on('error', () => process.exit(0));
let ctx;
try { ctx = pcsclite(); } catch (e) { out({ t: 'down', message: String(e && e.message || e) }); process.exit(3); }
const readers = new Map();
ctx.on('error', (e) => { out({ t: 'error', message: String(e && e.message || e) }); process.exit(4); });
ctx.on('reader', (r) => {
  readers.set(r.name, r);
  const c = {};
  for (const k of ['SCARD_SHARE_SHARED', 'SCARD_STATE_PRESENT', 'SCARD_STATE_MUTE', 'SCARD_PROTOCOL_T0', 'SCARD_PROTOCOL_T1', 'SCARD_RESET_CARD', 'SCARD_LEAVE_CARD']) c[k] = r[k];
  out({ t: 'reader', name: r.name, consts: c });
  r.on('error', (e) => out({ t: 'reader-error', name: r.name, message: String(e && e.message || e) }));
  r.on('status', (s) => out({ t: 'status', name: r.name, state: s.state, atr: s.atr ? Buffer.from(s.atr).toString('hex') : '' }));
  r.on('end', () => { if (readers.get(r.name) === r) readers.delete(r.name); out({ t: 'end', name: r.name }); });
});
const reply = (id, err, v) => out(err ? { t: 'res', id, err: String(err && err.message || err) } : Object.assign({ t: 'res', id }, v));
let buf = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (d) => {
  buf += d;
  let nl;
  while ((nl = buf.indexOf('\\n')) >= 0) {
    const line = buf.slice(0, nl); buf = buf.slice(nl + 1);
    let m; try { m = JSON.parse(line); } catch { continue; }
    const r = readers.get(m.name);
    if (!r) { reply(m.id, new Error('unknown reader (0x80100009)')); continue; }
    try {
      if (m.op === 'connect') { if (m.fresh) r.connected = false; r.connect({ share_mode: m.share, protocol: m.protocol }, (e, p) => reply(m.id, e, { protocol: p })); }
      else if (m.op === 'disconnect') r.disconnect(m.disposition, (e) => { if (e) r.connected = false; reply(m.id, e, {}); });
      else if (m.op === 'transmit') r.transmit(Buffer.from(m.data, 'hex'), m.resLen, m.protocol, (e, d) => reply(m.id, e, { data: d ? Buffer.from(d).toString('hex') : '' }));
      else reply(m.id, new Error('unknown operation'));
    } catch (e) { reply(m.id, e); }
  }
});
process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
out({ t: 'ready' });
`;
}

type BrokerMessage =
  | { t: 'ready' } | { t: 'down'; message: string } | { t: 'error'; message: string }
  | { t: 'reader'; name: string; consts: Record<string, number> } | { t: 'reader-error'; name: string; message: string }
  | { t: 'status'; name: string; state: number; atr: string } | { t: 'end'; name: string }
  | { t: 'res'; id: number; err?: string; protocol?: number; data?: string };

interface Broker {
  child: ChildProcess;
  pending: Map<number, { resolve: (v: BrokerMessage & { t: 'res' }) => void; reject: (e: Error) => void }>;
  nextId: number;
  dead?: Error;
}

function brokerCall(b: Broker, msg: Record<string, unknown>): Promise<BrokerMessage & { t: 'res' }> {
  if (b.dead) return Promise.reject(b.dead);
  const id = b.nextId++;
  return new Promise((resolve, reject) => {
    b.pending.set(id, { resolve, reject });
    try { b.child.stdin!.write(`${JSON.stringify({ ...msg, id })}\n`); } catch (e) { b.pending.delete(id); reject(e as Error); }
  });
}

/** A reader as the broker holds it: the same callback API as the addon's CardReader. */
class RemoteReader extends EventEmitter implements NativeReader {
  connected = false;
  readonly SCARD_SHARE_SHARED: number;
  readonly SCARD_STATE_PRESENT: number;
  readonly SCARD_STATE_MUTE: number;
  readonly SCARD_PROTOCOL_T0: number;
  readonly SCARD_PROTOCOL_T1: number;
  readonly SCARD_RESET_CARD: number;
  readonly SCARD_LEAVE_CARD: number;

  constructor(readonly name: string, c: Record<string, number>, private readonly broker: Broker) {
    super();
    this.SCARD_SHARE_SHARED = c.SCARD_SHARE_SHARED ?? 2;
    this.SCARD_STATE_PRESENT = c.SCARD_STATE_PRESENT ?? 0x20;
    this.SCARD_STATE_MUTE = c.SCARD_STATE_MUTE ?? 0x200;
    this.SCARD_PROTOCOL_T0 = c.SCARD_PROTOCOL_T0 ?? 1;
    this.SCARD_PROTOCOL_T1 = c.SCARD_PROTOCOL_T1 ?? 2;
    this.SCARD_RESET_CARD = c.SCARD_RESET_CARD ?? 1;
    this.SCARD_LEAVE_CARD = c.SCARD_LEAVE_CARD ?? 0;
  }

  connect(opts: { share_mode?: number; protocol?: number }, cb: (err: Error | null, protocol?: number) => void): void {
    const fresh = !this.connected;
    brokerCall(this.broker, { op: 'connect', name: this.name, share: opts.share_mode ?? this.SCARD_SHARE_SHARED, protocol: opts.protocol ?? (this.SCARD_PROTOCOL_T0 | this.SCARD_PROTOCOL_T1), fresh })
      .then((r) => { if (r.err) cb(new Error(r.err)); else { this.connected = true; cb(null, r.protocol); } }, (e: Error) => cb(e));
  }

  disconnect(disposition: number, cb: (err: Error | null) => void): void {
    brokerCall(this.broker, { op: 'disconnect', name: this.name, disposition })
      .then((r) => { this.connected = false; cb(r.err ? new Error(r.err) : null); }, (e: Error) => { this.connected = false; cb(e); });
  }

  transmit(data: Buffer, resLen: number, protocol: number, cb: (err: Error | null, data?: Buffer) => void): void {
    brokerCall(this.broker, { op: 'transmit', name: this.name, data: data.toString('hex'), resLen, protocol })
      .then((r) => { if (r.err) cb(new Error(r.err)); else cb(null, Buffer.from(r.data ?? '', 'hex')); }, (e: Error) => cb(e));
  }

  close(): void { /* the broker owns the native object */ }
}

export class PcscCardReader extends EventEmitter implements CardReaderDriver {
  readonly mode = 'pcsc' as const;
  private broker?: Broker;
  private readonly states = new Map<string, ReaderState>();
  private addonPath?: string;
  private opened = false;
  private up = false;
  private downSince?: number;
  private retryTimer?: NodeJS.Timeout;
  private readonly log?: Logger;
  /** Pending waitForCard calls, rejected when the reader closes. */
  private readonly waiters = new Set<(e: Error) => void>();

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
      this.addonPath = require.resolve('pcsclite');
    } catch (e) {
      throw new StationError('CARD_PCSC_MISSING', `the pcsclite addon cannot be loaded: ${(e as Error).message}`, { hint: 'install libpcsclite-dev and rebuild (npm rebuild pcsclite)', cause: e });
    }
    this.opened = true;
    try {
      await this.startBroker();
    } catch (e) {
      if (!this.opened) return; // closed while starting
      if (this.opts.failIfUnavailable) {
        this.opened = false;
        throw new StationError('CARD_PCSCD_DOWN', `the PC/SC service (pcscd) is not running: ${(e as Error).message}`, {
          hint: 'start it with `systemctl start pcscd` (or `pcscd` on systems without systemd)', cause: e,
        });
      }
      this.markDown(String((e as Error).message));
    }
  }

  /** Starts a broker; resolves once its PC/SC context works, rejects when pcscd cannot be reached. */
  private startBroker(): Promise<void> {
    const child = spawn(process.execPath, ['-e', brokerScript(this.addonPath!)], { stdio: ['pipe', 'pipe', 'pipe'], windowsHide: true });
    let settle!: { ok: () => void; fail: (e: Error) => void };
    const ready = new Promise<void>((ok, fail) => { settle = { ok, fail }; });
    ready.catch(() => undefined);
    const b: Broker = { child, pending: new Map(), nextId: 1 };
    this.broker = b;
    let buf = '';
    let stderr = '';
    let isReady = false;
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (d: string) => {
      buf += d;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        let m: BrokerMessage;
        try { m = JSON.parse(line) as BrokerMessage; } catch { continue; }
        if (m.t === 'res') {
          const p = b.pending.get(m.id);
          b.pending.delete(m.id);
          p?.resolve(m);
        } else if (m.t === 'ready') { isReady = true; this.up = true; settle.ok(); } else if (m.t === 'down') settle.fail(new Error(m.message));
        else this.onBroker(b, m);
      }
    });
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (d: string) => { stderr = (stderr + d).slice(-2000); });
    child.stdin!.on('error', () => undefined);
    const died = (why: string) => {
      // Calls still waiting get the transport error pcscd itself would give.
      b.dead = new Error(`${why} (RPC transport error 0x80100013)`);
      for (const p of b.pending.values()) p.reject(b.dead);
      b.pending.clear();
    };
    child.once('error', (e) => { died(`PC/SC helper failed: ${e.message}`); settle.fail(e); this.lost(b, e); });
    child.once('exit', (code, signal) => {
      const why = `PC/SC helper exited (${signal ?? `code ${code}`})${stderr.trim() ? `: ${stderr.trim().split('\n').pop()}` : ''}`;
      died(why);
      settle.fail(new Error(why));
      if (isReady) this.lost(b, new Error(why));
    });
    return ready;
  }

  private onBroker(b: Broker, m: BrokerMessage): void {
    if (this.broker !== b) return;
    switch (m.t) {
      case 'error':
        this.lost(b, new Error(m.message));
        return;
      case 'reader-error':
        if (isServiceError(pcscCode(m.message))) this.lost(b, new Error(m.message));
        else this.log?.warn({ reader: m.name, err: m.message }, 'card reader status error');
        return;
      case 'reader': {
        if (!this.matches(m.name) || this.states.has(m.name)) return;
        const st: ReaderState = { native: new RemoteReader(m.name, m.consts, b), present: false };
        this.states.set(m.name, st);
        this.emit('reader-added', m.name);
        return;
      }
      case 'status': {
        const st = this.states.get(m.name);
        if (!st) return;
        const n = st.native;
        const present = (m.state & n.SCARD_STATE_PRESENT) !== 0 && (m.state & n.SCARD_STATE_MUTE) === 0;
        if (present && !st.present) {
          st.present = true;
          st.atr = m.atr ? Buffer.from(m.atr, 'hex') : undefined;
          if (st.atr && st.atr.length === 0) st.atr = undefined;
          this.emit('card-inserted', { reader: m.name, atr: st.atr?.toString('hex').toUpperCase() });
        } else if (!present && st.present) {
          st.present = false;
          st.atr = undefined;
          this.emit('card-removed', { reader: m.name });
        }
        return;
      }
      case 'end': {
        const st = this.states.get(m.name);
        if (!st) return;
        this.states.delete(m.name);
        if (st.present) this.emit('card-removed', { reader: m.name });
        this.emit('reader-removed', m.name);
        return;
      }
      default:
    }
  }

  /** Kills a broker (never waits). */
  private teardown(b: Broker): void {
    b.child.stdout?.removeAllListeners('data');
    if (b.child.exitCode === null && b.child.signalCode === null) {
      try { b.child.kill('SIGKILL'); } catch { /* already gone */ }
    }
  }

  private lost(b: Broker, err: Error): void {
    if (this.broker !== b) return;
    this.broker = undefined;
    const present = [...this.states.values()];
    this.states.clear();
    this.teardown(b);
    for (const s of present) {
      if (s.present) this.emit('card-removed', { reader: s.native.name });
      this.emit('reader-removed', s.native.name);
    }
    if (this.opened) this.markDown(err.message);
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
      this.startBroker().then(() => {
        if (!this.opened) return;
        const downMs = Date.now() - (this.downSince ?? Date.now());
        this.log?.info({ downMs }, 'PC/SC service is back');
        this.emit('service-recovered', { downMs });
      }, () => {
        if (this.broker) { this.teardown(this.broker); this.broker = undefined; }
        this.scheduleRetry();
      });
    }, this.opts.recoverIntervalMs ?? 500);
  }

  /** Never blocks: kills the PC/SC helper, drops the readers, rejects pending waits. */
  async close(): Promise<void> {
    this.opened = false;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    const b = this.broker;
    this.broker = undefined;
    this.states.clear();
    this.up = false;
    if (b) this.teardown(b);
    const err = new StationError('CARD_READER_CLOSED', 'the card reader was closed while waiting for a card', { hint: 'open the reader again' });
    for (const reject of [...this.waiters]) reject(err);
    this.waiters.clear();
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
      const onClose = (e: Error) => { cleanup(); reject(e); };
      const cleanup = () => { clearTimeout(timer); this.off('card-inserted', check); this.off('reader-added', check); this.waiters.delete(onClose); };
      this.waiters.add(onClose);
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
