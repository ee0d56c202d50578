/**
 * What both protocol drivers share: the line, one command in flight, a frame inbox with a
 * waiter that is registered before the command is written, inactivity timeouts that restart on
 * every received byte, disconnect handling and reconnection on the next call.
 */
import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import type { Logger } from 'pino';
import pino from 'pino';
import { DeviceTimeoutError, DisconnectedError, StationError } from '../common/errors';
import { MODEL_TABLE, type FingerprintModel, type ModelInfo } from './models';
import { Line, serialPortFactory } from './port';
import type { BaudResult, CaptureOptions, CapturedImage, FingerprintScanner, IdentifyResult, LedColour, LedMode, ScannerInfo, ScannerOptions, SessionMatch, WaitOptions } from './types';

/**
 * A waiter consumes frames: the handler returns true when the exchange is complete (the
 * promise resolves with that frame), false when it took the frame and wants more, undefined
 * when the frame is not for it (dropped and counted).
 */
export type FrameHandler<F> = (f: F) => boolean | undefined;

interface Waiter<F> {
  what: string | (() => string);
  handle: FrameHandler<F>;
  resolve: (f: F) => void;
  reject: (e: Error) => void;
  timer?: NodeJS.Timeout;
  started: number;
  limitMs: number;
  corrupt: boolean;
  /** A multi-frame transfer: a corrupted frame does not end it early (the caller checks the result). */
  streaming: boolean;
  /** Parser discard count when the wait began (garbage during a failed wait = line trouble). */
  discardedAtStart: number;
}

export const CORRUPT_QUIET_MS = 150;
/** Library slots reserved for the session duplicate check (one per finger position). */
export const SESSION_SLOTS = 10;
export const IDLE_RESCAN_MS = 200;
/** Reply limit for each speed tried while looking for the module (auto-baud). */
export const PROBE_MS = 800;

export abstract class ScannerBase<F> extends EventEmitter implements FingerprintScanner {
  readonly model: FingerprintModel;
  readonly port: string;
  protected readonly m: ModelInfo;
  protected readonly log: Logger;
  protected readonly line: Line;
  protected readonly inactivityMs: number;
  protected readonly opts: ScannerOptions;
  protected inbox: F[] = [];
  private waiter?: Waiter<F>;
  private chain: Promise<unknown> = Promise.resolve();
  private everOpened = false;
  private closed = false;
  protected checksumErrorsAtBaud = 0;
  protected droppedFrames = 0;

  constructor(opts: ScannerOptions) {
    super();
    this.opts = opts;
    this.model = opts.model;
    this.port = opts.port;
    this.m = MODEL_TABLE[opts.model];
    this.log = (opts.logger ?? pino({ level: 'silent' })).child({ component: 'fingerprint', model: opts.model, port: opts.port });
    this.inactivityMs = opts.inactivityMs ?? 1500;
    this.line = new Line(opts.port, opts.baud ?? this.m.defaultBaud, opts.portFactory ?? serialPortFactory, (b) => this.onBytes(b));
    this.line.on('disconnected', (cause?: Error) => {
      if (this.closed) {
        // our own close() (or the port going away while it runs): not a device loss to report
        this.log.debug({ err: cause?.message }, 'fingerprint port closed');
        this.failWaiter(this.line.disconnectedError(cause));
        return;
      }
      this.log.warn({ err: cause?.message }, 'fingerprint scanner disconnected');
      this.failWaiter(this.line.disconnectedError(cause));
      this.emit('disconnected', cause);
      this.scheduleReconnect();
    });
    this.line.on('warning', (e: Error) => this.log.warn({ err: e.message }, 'serial port warning'));
    // an 'error' event with no listener would crash the daemon; surface as a warning instead
    this.on('error', () => undefined);
  }

  get connected(): boolean {
    return this.line.connected;
  }

  // ---- to be provided by each family
  /** The family's streaming frame parser (both extend FrameBuffer). */
  protected abstract readonly parser: { push(b: Uint8Array): void; readonly pending: number; rescan(): void; reset(): number };
  /** Drops buffered input before a command; a family with more parser state clears it too. */
  protected parserReset(): number {
    return this.parser.reset();
  }
  /** First contact after the port opens: password, parameters, LED. Returns the info. */
  protected abstract handshake(): Promise<ScannerInfo>;
  protected abstract describeProtocol(): string;
  abstract stats(): Record<string, number>;
  protected abstract doIsFingerPresent(): Promise<boolean>;
  protected abstract doCapture(): Promise<CapturedImage>;
  protected abstract doLed(mode: LedMode, colour?: LedColour): Promise<void>;
  protected abstract doTemplateCount(): Promise<number>;
  protected abstract doDeleteTemplates(id: number, count: number): Promise<void>;
  protected abstract doClearTemplates(): Promise<void>;
  protected abstract doSetBaud(baud: number): Promise<BaudResult>;
  protected abstract doInfo(): Promise<ScannerInfo>;
  protected abstract doFallback(): Promise<BaudResult>;
  /** Enrollment steps: the finger is on the sensor (just detected); build/keep step `step` (1-based). */
  protected abstract enrollStep(id: number, step: number): Promise<void>;
  protected abstract enrollSteps(): number;
  protected abstract enrollBegin(id: number): Promise<void>;
  /** The finger is on the sensor (just detected): search the library. */
  protected abstract doIdentify(): Promise<IdentifyResult | null>;
  /** Capacity of the library the module reported (or the model's). */
  protected abstract libraryCapacity(): number;
  protected abstract doSessionMatch(position: number, others: number[]): Promise<SessionMatch | null>;
  protected abstract doSessionHold(position: number): Promise<void>;
  protected abstract doSessionCommit(position: number): Promise<void>;
  /** Empties the slots of these positions (all ten for begin/end). */
  protected abstract doSessionClear(positions: number[]): Promise<void>;

  /** Positions whose template is in its session slot now. */
  protected readonly sessionHeld = new Set<number>();

  /** Library id of a position's session slot: the top ten ids, right thumb first. */
  protected sessionSlot(position: number): number {
    return this.libraryCapacity() - SESSION_SLOTS + (position - 1);
  }

  // ---- frames
  private idleTimer?: NodeJS.Timeout;
  private onBytes(b: Buffer): void {
    this.parser.push(b);
    if (this.parser.pending > 0 && !this.idleTimer) this.armIdle();
  }

  /** A partial frame that sees no byte for IDLE_RESCAN_MS was noise or truncated: rescan past it. */
  private armIdle(): void {
    const armedAt = performance.now();
    this.idleTimer = setTimeout(() => {
      // let any bytes already waiting in the kernel be read first (the event loop may have been busy)
      setImmediate(() => {
        this.idleTimer = undefined;
        if (this.parser.pending === 0) return;
        if (this.line.lastByteAt > armedAt) return this.armIdle();
        this.parser.rescan();
        if (this.parser.pending > 0) this.armIdle();
      });
    }, IDLE_RESCAN_MS);
    this.idleTimer.unref();
  }

  /** Called by the family parser for every valid frame. */
  /**
   * Finds the module's line speed: the configured one first, then `preferred` (e.g. a speed
   * set but not yet applied), the model's default, then the rest from fastest. `probe` must
   * get an answer at the current speed within its timeout. Returns the speed that answered.
   */
  protected async findBaud(preferred: (number | undefined)[], probe: (timeoutMs?: number) => Promise<void>): Promise<number> {
    const first = this.line.baud;
    const order = [first, ...preferred, this.m.defaultBaud, ...[...this.m.bauds].reverse()].filter((b, i, a): b is number => b !== undefined && a.indexOf(b) === i);
    const auto = this.opts.autoBaud !== false;
    let lastErr: unknown;
    for (const baud of auto ? order : [first]) {
      if (baud !== this.line.baud) await this.line.setBaud(baud);
      try {
        await probe(auto ? Math.min(this.inactivityMs, PROBE_MS) : undefined);
        if (baud !== first) {
          this.log.warn({ configured: first, found: baud }, 'module answered at a different baud rate');
          this.emit('warning', `module on ${this.port} answered at ${baud} baud, not ${first}`);
        }
        this.checksumErrorsAtBaud = 0;
        return baud;
      } catch (e) {
        const code = (e as StationError).code;
        if (code !== 'FP_TIMEOUT' && code !== 'FP_CORRUPT') throw e;
        lastErr = e;
      }
    }
    if (auto) {
      await this.line.setBaud(first).catch(() => undefined);
      throw new StationError('FP_NO_ANSWER', `no ${this.m.label} fingerprint module answered on ${this.port} at any of ${order.join(', ')} baud`, {
        hint: (lastErr as StationError)?.hint ?? 'check power, wiring and the configured model',
        cause: lastErr,
      });
    }
    throw lastErr;
  }

  protected onFrame(f: F): void {
    const w = this.waiter;
    if (!w) {
      this.inbox.push(f);
      if (this.inbox.length > 1024) this.inbox.shift();
      return;
    }
    let r: boolean | undefined;
    try {
      r = w.handle(f);
    } catch (e) {
      this.waiter = undefined;
      if (w.timer) clearTimeout(w.timer);
      w.reject(e as Error);
      return;
    }
    if (r === true) {
      this.waiter = undefined;
      if (w.timer) clearTimeout(w.timer);
      w.resolve(f);
    } else if (r === undefined) {
      this.droppedFrames++;
      this.log.debug({ what: whatOf(w.what) }, 'ignored an unexpected frame');
    }
  }

  /** Given to the family parser as its onDiscard: every byte it skips, and why. */
  protected parserDiscarded(reason: string, bytes: number): void {
    if (reason === 'checksum') this.onChecksumError();
    this.log.debug({ reason, bytes }, 'discarded input');
  }

  /** A checksum failure from the family parser. */
  private onChecksumError(): void {
    this.checksumErrorsAtBaud++;
    const w = this.waiter;
    if (w && !w.corrupt && !w.streaming) {
      // a corrupted reply: do not wait the full inactivity time for a reply that will never be valid
      w.corrupt = true;
      w.limitMs = CORRUPT_QUIET_MS;
      this.arm(w);
    }
  }

  /** Drop stale input before a command (late replies to a timed-out command, noise, boot bytes). */
  protected drainStale(): void {
    const n = this.parserReset();
    const f = this.inbox.length;
    this.inbox = [];
    if (n || f) this.log.debug({ bytes: n, frames: f }, 'drained stale input');
  }

  /**
   * Register a waiter for the next frame `accept` likes. Register BEFORE writing the command.
   * The timeout is an inactivity timeout: it restarts whenever a byte arrives.
   */
  protected expectFrame(what: string | (() => string), handle: FrameHandler<F>, limitMs = this.inactivityMs, streaming = false): Promise<F> {
    if (this.waiter) this.failWaiter(new StationError('FP_INTERNAL', `fingerprint driver: a new wait (${whatOf(what)}) replaced ${whatOf(this.waiter.what)}`));
    if (!this.line.connected) return Promise.reject(this.line.disconnectedError());
    const p = new Promise<F>((resolve, reject) => {
      const w: Waiter<F> = { what, handle, resolve, reject, started: performance.now(), limitMs, corrupt: false, streaming, discardedAtStart: this.stats().discardedBytes ?? 0 };
      this.waiter = w;
      this.arm(w);
    });
    // frames already queued (arrived after the drain) are offered first
    const queued = this.inbox;
    this.inbox = [];
    for (const f of queued) this.onFrame(f);
    return p;
  }

  /** Register the waiter, write the command, wait. The waiter exists before the first byte goes out. */
  protected async send(cmd: Buffer, what: string | (() => string), handle: FrameHandler<F>, limitMs?: number, streaming = false): Promise<F> {
    const p = this.expectFrame(what, handle, limitMs, streaming);
    p.catch(() => undefined);
    try {
      await this.line.write(cmd);
    } catch (e) {
      this.cancelWait();
      throw e;
    }
    return p;
  }

  private arm(w: Waiter<F>): void {
    if (w.timer) clearTimeout(w.timer);
    const since = Math.max(w.started, this.line.lastByteAt);
    const left = Math.max(1, w.limitMs - (performance.now() - since));
    w.timer = setTimeout(() => {
      if (this.waiter !== w) return;
      const idle = performance.now() - Math.max(w.started, this.line.lastByteAt);
      if (idle + 1 < w.limitMs && !w.corrupt) return this.arm(w);
      this.waiter = undefined;
      // garbled bytes that never formed a frame count like a checksum error (speed fallback)
      if (!w.corrupt && (this.stats().discardedBytes ?? 0) > w.discardedAtStart) this.checksumErrorsAtBaud++;
      w.reject(w.corrupt ? this.corruptError(whatOf(w.what)) : this.timeoutError(whatOf(w.what), w.limitMs));
    }, left);
  }

  protected cancelWait(): void {
    const w = this.waiter;
    if (w?.timer) clearTimeout(w.timer);
    this.waiter = undefined;
  }

  private failWaiter(e: Error): void {
    const w = this.waiter;
    if (!w) return;
    this.waiter = undefined;
    if (w.timer) clearTimeout(w.timer);
    w.reject(e);
  }

  protected timeoutError(what: string, limitMs = this.inactivityMs): DeviceTimeoutError {
    const s = this.stats();
    const heard = s.discardedBytes ? `; ${s.discardedBytes} byte(s) of unrecognised data were discarded` : '; nothing at all was received';
    return new DeviceTimeoutError('FP_TIMEOUT', `fingerprint scanner on ${this.port} did not answer ${what} within ${limitMs} ms (expected ${this.describeProtocol()} at ${this.line.baud} baud${heard})`, {
      hint: this.timeoutHint(s),
    });
  }

  protected timeoutHint(s: Record<string, number>): string {
    if (s.foreignHeaders) return `the data looks like a different module family; check the configured model (now ${this.model})`;
    if (s.discardedBytes) return 'data arrived but did not form valid frames: check the baud rate, the model setting and the wiring (TX/RX, ground)';
    return `check power, the TX/RX wiring (crossed), the port, the baud rate and the model setting (now ${this.model}; R30x-family and GT-521 modules do not understand each other's protocol)`;
  }

  protected corruptError(what: string): StationError {
    return new StationError('FP_CORRUPT', `fingerprint scanner on ${this.port}: the reply to ${what} failed its checksum at ${this.line.baud} baud`, {
      hint: 'electrical noise or a USB-serial adapter that cannot keep up: use a lower baud rate or a shorter cable',
    });
  }

  // ---- serialisation and connection
  /** Run one exchange with the module: one command in flight, port (re)opened as needed. */
  protected exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(async () => {
      if (this.closed) throw new StationError('FP_CLOSED', `fingerprint scanner on ${this.port} is closed`);
      await this.ensureOpen();
      try {
        try {
          return await fn();
        } catch (e) {
          // the old handle died on the first write but the device is back already: reopen, go again
          if (e instanceof DisconnectedError && (e as { onWrite?: boolean }).onWrite && existsSync(this.port)) {
            await this.ensureOpen();
            return await fn();
          }
          throw e;
        }
      } finally {
        await this.maybeFallBack();
      }
    });
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async ensureOpen(): Promise<void> {
    if (this.line.connected) return;
    if (!this.everOpened) throw new StationError('FP_NOT_OPEN', `fingerprint scanner on ${this.port} is not open`, { hint: 'call open() first' });
    await this.line.open();
    this.checksumErrorsAtBaud = 0;
    try {
      await this.handshake();
    } catch (e) {
      await this.line.close();
      throw e;
    }
    this.log.info('fingerprint scanner reconnected');
    this.emit('reconnected');
  }

  private reconnectTimer?: NodeJS.Timeout;
  /** After a disconnect, watch for the device to come back and reconnect without waiting for a caller. */
  private scheduleReconnect(): void {
    if (this.closed || this.opts.autoReconnect === false || this.reconnectTimer || !this.everOpened) return;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (this.closed || this.line.connected) return;
      if (!existsSync(this.port)) return this.scheduleReconnect();
      this.exclusive(async () => undefined).catch(() => this.scheduleReconnect());
    }, this.opts.reconnectIntervalMs ?? 1000);
    this.reconnectTimer.unref();
  }

  /** Cheap adapters garble data at high speed: after repeated checksum errors above the default speed, step down. */
  private async maybeFallBack(): Promise<void> {
    const limit = this.opts.fallbackAfterChecksumErrors ?? 3;
    if (this.checksumErrorsAtBaud < limit || this.line.baud <= this.m.defaultBaud || !this.line.connected) return;
    const from = this.line.baud;
    const errors = this.checksumErrorsAtBaud;
    try {
      const r = await this.doFallback();
      this.checksumErrorsAtBaud = 0;
      this.log.warn({ from, to: r.active, pending: r.pendingPowerCycle }, 'checksum errors: baud fallback');
      this.emit('warning', `${errors} checksum errors at ${from} baud on ${this.port}: ${r.pendingPowerCycle ? `stored ${r.requested} baud for the next power-up` : `now at ${r.active} baud`}`);
      this.emit('baudFallback', r);
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, 'baud fallback failed');
    }
  }

  /** Retry an idempotent exchange after a corrupted reply. */
  protected async retrying<T>(what: string, fn: () => Promise<T>, retries = 2): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn();
      } catch (e) {
        const code = (e as StationError).code;
        if (attempt >= retries || !(code === 'FP_CORRUPT' || code === 'FP_TIMEOUT') || e instanceof DisconnectedError || !this.line.connected) throw e;
        this.log.warn({ what, code, attempt }, 'retrying after a bad or missing reply');
      }
    }
  }

  // ---- public API
  async open(): Promise<ScannerInfo> {
    return (this.chain = this.chain.then(async () => {
      this.closed = false;
      if (!this.line.connected) await this.line.open();
      this.everOpened = true;
      let info: ScannerInfo;
      try {
        info = await this.handshake();
      } catch (e) {
        await this.line.close();
        throw e;
      }
      const up = this.opts.upgradeBaud;
      if (up !== undefined && up !== this.line.baud && this.m.bauds.includes(up)) {
        // optional: move to a faster speed, verified; failure is a warning, not an error
        try {
          const r = await this.doSetBaud(up);
          if (!r.switched) this.emit('warning', `${this.m.label} on ${this.port} stays at ${r.active} baud: ${r.reason ?? 'not switched'}`);
          info = { ...info, baud: this.line.baud };
        } catch (e) {
          this.emit('warning', `${this.m.label} on ${this.port}: could not move to ${up} baud: ${(e as Error).message}`);
        }
      }
      return info;
    })) as Promise<ScannerInfo>;
  }

  info(): Promise<ScannerInfo> {
    return this.exclusive(() => this.doInfo());
  }

  isFingerPresent(): Promise<boolean> {
    return this.exclusive(() => this.doIsFingerPresent());
  }

  async waitForFinger(opts: WaitOptions = {}): Promise<void> {
    await this.pollUntil(true, opts);
  }

  async waitForFingerRemoved(opts: WaitOptions = {}): Promise<void> {
    await this.pollUntil(false, opts);
  }

  private async pollUntil(present: boolean, opts: WaitOptions): Promise<void> {
    const timeoutMs = opts.timeoutMs ?? 15000;
    const pollMs = opts.pollMs ?? 100;
    const end = performance.now() + timeoutMs;
    if (present && this.opts.touch) {
      // the wake/touch line tells us when to start polling (saves UART traffic and power)
      const ac = new AbortController();
      const t = setTimeout(() => ac.abort(), timeoutMs);
      const onAbort = () => ac.abort();
      opts.signal?.addEventListener('abort', onAbort);
      try {
        await this.opts.touch.waitForTouch(ac.signal);
      } catch {
        /* fall through to polling, which reports the timeout/abort */
      } finally {
        clearTimeout(t);
        opts.signal?.removeEventListener('abort', onAbort);
      }
    }
    for (;;) {
      if (opts.signal?.aborted) throw new StationError('FP_ABORTED', `waiting for a finger on ${this.port} was cancelled`);
      const now = await this.isFingerPresent();
      if (now === present) {
        this.emit(present ? 'fingerPresent' : 'fingerRemoved');
        return;
      }
      if (performance.now() >= end) {
        throw new DeviceTimeoutError(present ? 'FP_NO_FINGER' : 'FP_NOT_LIFTED', present ? `no finger was placed on the scanner (${this.port}) within ${Math.round(timeoutMs / 1000)} s` : `the finger was not lifted from the scanner (${this.port}) within ${Math.round(timeoutMs / 1000)} s`, {
          hint: present ? 'ask the applicant to place the finger flat on the sensor' : 'ask the applicant to lift the finger',
        });
      }
      await sleep(pollMs, opts.signal);
    }
  }

  async captureImage(opts: CaptureOptions = {}): Promise<CapturedImage> {
    if (opts.waitForFinger !== false) await this.waitForFinger(opts);
    return this.exclusive(() => this.doCapture());
  }

  led(mode: LedMode, colour?: LedColour): Promise<void> {
    return this.exclusive(() => this.doLed(mode, colour));
  }
  templateCount(): Promise<number> {
    return this.exclusive(() => this.doTemplateCount());
  }
  deleteTemplates(id: number, count = 1): Promise<void> {
    if (!Number.isInteger(id) || id < 0 || id >= this.m.capacity) return Promise.reject(new StationError('FP_BAD_ID', `template id ${id} is outside 0..${this.m.capacity - 1} for ${this.m.label}`));
    return this.exclusive(() => this.doDeleteTemplates(id, count));
  }
  async enroll(id: number, opts: WaitOptions = {}): Promise<void> {
    if (!Number.isInteger(id) || id < 0 || id >= this.m.capacity) throw new StationError('FP_BAD_ID', `template id ${id} is outside 0..${this.m.capacity - 1} for ${this.m.label}`);
    await this.exclusive(() => this.enrollBegin(id));
    const steps = this.enrollSteps();
    for (let step = 1; step <= steps; step++) {
      if (step > 1) await this.waitForFingerRemoved(opts);
      await this.waitForFinger(opts);
      await this.exclusive(() => this.enrollStep(id, step));
    }
  }

  async identify(opts: WaitOptions = {}): Promise<IdentifyResult | null> {
    await this.waitForFinger(opts);
    return this.exclusive(() => this.doIdentify());
  }

  clearTemplates(): Promise<void> {
    return this.exclusive(() => this.doClearTemplates());
  }

  sessionBegin(): Promise<void> {
    return this.exclusive(async () => {
      await this.doSessionClear(ALL_POSITIONS);
      this.sessionHeld.clear();
    });
  }
  async sessionMatch(position: number): Promise<SessionMatch | null> {
    checkSessionPosition(position);
    return this.exclusive(() => this.doSessionMatch(position, [...this.sessionHeld].filter((p) => p !== position).sort((a, b) => a - b)));
  }
  async sessionHold(position: number): Promise<void> {
    checkSessionPosition(position);
    return this.exclusive(() => this.doSessionHold(position));
  }
  async sessionCommit(position: number): Promise<void> {
    checkSessionPosition(position);
    return this.exclusive(async () => {
      await this.doSessionCommit(position);
      this.sessionHeld.add(position);
    });
  }
  async sessionForget(position: number): Promise<void> {
    checkSessionPosition(position);
    return this.exclusive(async () => {
      if (this.sessionHeld.has(position)) await this.doSessionClear([position]);
      this.sessionHeld.delete(position);
    });
  }
  sessionEnd(): Promise<void> {
    return this.exclusive(async () => {
      await this.doSessionClear(ALL_POSITIONS);
      this.sessionHeld.clear();
    });
  }
  setBaud(baud: number): Promise<BaudResult> {
    if (!this.m.bauds.includes(baud)) {
      return Promise.reject(new StationError('FP_BAD_BAUD', `${this.m.label} does not support ${baud} baud`, { hint: `supported: ${this.m.bauds.join(', ')}`, exitCode: 2 }));
    }
    return this.exclusive(() => this.doSetBaud(baud));
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    await this.chain.catch(() => undefined);
    this.cancelWait();
    await this.line.close();
  }

  get baud(): number {
    return this.line.baud;
  }
}

const ALL_POSITIONS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
function checkSessionPosition(p: number): void {
  if (!Number.isInteger(p) || p < 1 || p > 10) throw new StationError('FP_POSITION', `finger position must be 1..10, got ${p}`);
}

/** The matcher's answer makes no sense: refuse rather than pass the finger. */
export function matcherNonsense(port: string, label: string, what: string): StationError {
  return new StationError('FP_MATCHER', `fingerprint scanner on ${port}: the ${label}'s matcher answered nonsense: ${what}`, {
    hint: 'the duplicate check cannot be trusted: retry the finger; if it persists, power-cycle the module and check devices.fingerprint.model',
  });
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

function whatOf(w: string | (() => string)): string {
  return typeof w === 'function' ? w() : w;
}
