/**
 * Simulator plumbing shared by both protocol families: the pty pair, power (unplug/replug),
 * line-speed emulation (a module at another speed than the host sees garbage), pacing at the
 * configured baud, fault injection and the finger on the sensor.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SerialPort } from 'serialport';
import type { Logger } from 'pino';
import pino from 'pino';
import { MODEL_TABLE, type FingerprintModel, type ModelInfo } from '../models';
import { generateFingerImage, type FingerImageKind } from './images';
import { openPtyPair, type PtyPair } from './pty';

export interface SimFaults {
  /** Random bytes before every frame the module sends. */
  noise?: boolean;
  /** The next N frames sent carry a wrong checksum. */
  badChecksum?: number;
  /** Frames to let through untouched before badChecksum/truncate apply (to hit a data packet). */
  skipFrames?: number;
  /** The next N frames sent are cut short. */
  truncate?: number;
  /** R30x data-out: no end packet (02 instead of 08), then zero-filled 02 packets (DY50 behaviour). */
  missingEnd?: boolean;
  /** Unplug during the next data-out after this many data bytes. */
  unplugAfterBytes?: number;
  /** After a data-in transfer, send one unsolicited acknowledgement. */
  strayAck?: boolean;
  /** The module never answers. */
  silent?: boolean;
  /** Above this speed the "adapter" garbles bytes from the module (cheap USB-serial). */
  corruptAboveBaud?: number;
  /** R30x: answer every `command` with this confirmation code and results instead (a module answering nonsense). */
  r30xReply?: { command: number; code: number; results?: number[] };
  /** GT-521: answer every `command` with this ACK parameter or NACK code instead. */
  gtReply?: { command: number; ack: boolean; parameter: number };
}

export interface SimDeviceOptions {
  model: FingerprintModel;
  /** Finger image kind(s) placed on the sensor; an array cycles per placement. Default 'good'. */
  image?: FingerImageKind | FingerImageKind[];
  /**
   * true: a finger touches shortly after the host starts polling and lifts after its image has
   * been read (hands-free demo / CLI). false: tests call placeFinger()/removeFinger(). Default true.
   */
  autoFinger?: boolean;
  autoFingerDelayMs?: number;
  /**
   * Whose finger a hands-free placement is (templates of the same finger match). Default: a
   * different finger each placement, as when an applicant gives ten fingers in turn; a fixed
   * name = the same finger every time (enrolment, or a duplicate to catch).
   */
  autoWho?: string;
  /** Pace output like a real UART: true = at the module's speed, a number = at that speed. */
  paceBaud?: boolean | number;
  faults?: SimFaults;
  /** Line speed the module was set to earlier (default the model's factory speed). */
  baud?: number;
  /** Directory for the pty links (default a fresh temp dir). */
  dir?: string;
  logger?: Logger;
  seed?: number;
}

export abstract class SimDevice {
  readonly model: FingerprintModel;
  readonly m: ModelInfo;
  faults: SimFaults;
  protected log: Logger;
  protected activeBaud: number;
  protected finger: FingerImageKind | null = null;
  private autoState: 'away' | 'coming' | 'present' | 'lifting' = 'away';
  private readonly autoFinger: boolean;
  private readonly autoDelay: number;
  private images: FingerImageKind[];
  private imageIdx = 0;
  private seed: number;
  private pty?: PtyPair;
  private dev?: SerialPort;
  private hold?: SerialPort;
  private readonly dir: string;
  private readonly ownDir: boolean;
  private lineFreeAt = 0;
  private sendChain: Promise<void> = Promise.resolve();
  private rxChain: Promise<void> = Promise.resolve();
  protected generation = 0;
  /** Commands the module has received (tests use it to see polling). */
  commands = 0;
  /** Bytes received from / sent to the host (benchmarks count what a feature moves on the line). */
  bytesIn = 0;
  bytesOut = 0;
  private readonly autoWho?: string;
  private placements = 0;
  protected powered = false;
  private stopped = false;
  readonly paceBaud?: boolean | number;

  constructor(opts: SimDeviceOptions) {
    this.model = opts.model;
    this.m = MODEL_TABLE[opts.model];
    this.faults = { ...(opts.faults ?? {}) };
    this.log = (opts.logger ?? pino({ level: 'silent' })).child({ component: 'fingerprint-sim', model: opts.model });
    if (opts.baud !== undefined && !this.m.bauds.includes(opts.baud)) throw new RangeError(`${this.m.label} does not support ${opts.baud} baud`);
    this.activeBaud = opts.baud ?? this.m.defaultBaud;
    this.autoFinger = opts.autoFinger ?? true;
    this.autoDelay = opts.autoFingerDelayMs ?? 150;
    this.images = Array.isArray(opts.image) ? [...opts.image] : [opts.image ?? 'good'];
    if (this.images.length === 0) this.images = ['good'];
    this.seed = opts.seed ?? 1;
    this.autoWho = opts.autoWho;
    this.paceBaud = opts.paceBaud;
    this.ownDir = !opts.dir;
    if (!opts.dir) removeStaleSimDirs();
    // The owner's pid in the name: a later start can tell the directories of killed owners.
    this.dir = opts.dir ?? mkdtempSync(join(tmpdir(), `fpsim-${opts.model}-${process.pid}-`));
  }

  /** The path the host opens (stable across unplug/replug). */
  get path(): string {
    return join(this.dir, 'host');
  }
  get devicePath(): string {
    return join(this.dir, 'device');
  }
  get baud(): number {
    return this.activeBaud;
  }
  get isPowered(): boolean {
    return this.powered;
  }

  protected abstract onBytes(b: Buffer): void;
  /** Volatile state lost at power-off; stored settings applied at power-up. */
  protected abstract powerOn(): void;
  /** Reset any parser state (stale bytes) — e.g. at power-up or baud change. */
  protected abstract resetRx(): void;

  async start(): Promise<void> {
    this.stopped = false;
    try {
      await this.plugIn();
    } catch (e) {
      await this.unplugParts();
      if (this.ownDir) rmSync(this.dir, { recursive: true, force: true });
      throw e;
    }
  }

  private async plugIn(): Promise<void> {
    this.pty = await openPtyPair(this.devicePath, this.path);
    const dev = new SerialPort({ path: this.devicePath, baudRate: 115200, autoOpen: false, lock: false });
    await new Promise<void>((res, rej) => dev.open((e) => (e ? rej(e) : res())));
    this.dev = dev;
    // hold the host end open (never read from it) to see which speed the host set
    const hold = new SerialPort({ path: this.path, baudRate: this.activeBaud, autoOpen: false, lock: false });
    await new Promise<void>((res, rej) => hold.open((e) => (e ? rej(e) : res())));
    this.hold = hold;
    hold.on('error', () => undefined);
    dev.on('error', (e) => this.log.debug({ err: e.message }, 'sim port error'));
    const gen = ++this.generation;
    dev.on('data', (d: Buffer) => {
      if (gen !== this.generation || !this.powered) return;
      this.bytesIn += d.length;
      // process in order; the speed check is asynchronous
      this.rxChain = this.rxChain.then(async () => {
        if (gen !== this.generation) return;
        if (!(await this.hostBaudMatches())) {
          this.log.debug({ host: this.hostBaud, moduleBaud: this.activeBaud }, 'speed mismatch: module sees garbage');
          return;
        }
        this.onBytes(d);
      }).catch((e) => this.log.warn({ err: (e as Error).message }, 'sim rx failed'));
    });
    this.dev = dev;
    this.hold = hold;
    this.powered = true;
    this.lineFreeAt = 0;
    this.resetRx();
    this.powerOn();
  }

  private hostBaud = 0;
  private async hostBaudMatches(): Promise<boolean> {
    const port = (this.hold as unknown as { port?: { getBaudRate(): Promise<{ baudRate: number }> } } | undefined)?.port;
    if (!port) return true;
    try {
      this.hostBaud = (await port.getBaudRate()).baudRate;
    } catch {
      return true;
    }
    return this.hostBaud === this.activeBaud;
  }

  /** Bytes the host would see for `buf` sent at the module's speed. */
  private lineImage(buf: Buffer): Buffer {
    if (this.hostBaud && this.hostBaud !== this.activeBaud) {
      // wrong speed: framing garbage, and not the same number of bytes
      const n = Math.max(1, Math.round((buf.length * this.hostBaud) / this.activeBaud));
      const g = Buffer.alloc(n);
      for (let i = 0; i < n; i++) g[i] = (buf[i % buf.length] * 7 + i * 13) & 0xff;
      return g;
    }
    const cab = this.faults.corruptAboveBaud;
    if (cab !== undefined && this.activeBaud > cab) {
      const out = Buffer.from(buf);
      for (let i = 0; i < out.length; i++) if (Math.random() < 0.002) out[i] ^= 1 << Math.floor(Math.random() * 8);
      if (out.equals(buf) && out.length > 0) out[out.length - 1] ^= 0x10; // at least one bad byte per frame
      return out;
    }
    return buf;
  }

  protected paceRate(): number | undefined {
    if (this.paceBaud === true) return this.activeBaud;
    if (typeof this.paceBaud === 'number') return this.paceBaud;
    return undefined;
  }

  /**
   * Send bytes as the module would: in order, paced at the line speed when asked (each chunk is
   * delivered when its last bit would have arrived), with noise/corruption faults applied.
   */
  protected transmit(buf: Buffer, opts: { noiseOk?: boolean } = {}): Promise<void> {
    const gen = this.generation;
    const enqueuedAt = performance.now();
    const job = this.sendChain.then(async () => {
      if (gen !== this.generation || !this.powered || this.faults.silent) return;
      let out = buf;
      if (this.faults.noise && opts.noiseOk !== false) {
        const n = 1 + Math.floor(Math.random() * 12);
        const noise = Buffer.alloc(n);
        for (let i = 0; i < n; i++) noise[i] = Math.floor(Math.random() * 256);
        out = Buffer.concat([noise, out]);
      }
      out = this.lineImage(out);
      const rate = this.paceRate();
      if (rate) {
        // a frame that was ready before the line was free follows the previous one back to back:
        // the schedule is absolute, so a late timer never adds up over a long transfer
        const start = Math.max(enqueuedAt, this.lineFreeAt);
        const done = start + (out.length * 10 * 1000) / rate;
        this.lineFreeAt = done;
        const wait = done - performance.now();
        if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      }
      if (gen !== this.generation || !this.powered) return;
      this.bytesOut += out.length;
      await new Promise<void>((res) => this.dev!.write(out, () => res()));
    });
    this.sendChain = job.catch(() => undefined);
    return job;
  }

  /** Let everything queued for sending go out (used before switching speed). */
  protected async flushTx(): Promise<void> {
    await this.sendChain;
    const dev = this.dev;
    if (dev?.isOpen) await new Promise<void>((r) => dev.drain(() => r()));
  }

  protected applyFrameFaults(frame: Buffer, checksumBytes = 2): Buffer {
    if ((this.faults.badChecksum || this.faults.truncate) && this.faults.skipFrames && this.faults.skipFrames > 0) {
      this.faults.skipFrames--;
      return frame;
    }
    if (this.faults.badChecksum && this.faults.badChecksum > 0) {
      this.faults.badChecksum--;
      const f = Buffer.from(frame);
      f[f.length - 1] ^= 0x5a;
      return f;
    }
    if (this.faults.truncate && this.faults.truncate > 0) {
      this.faults.truncate--;
      return frame.subarray(0, Math.max(checksumBytes + 1, frame.length - 3 - checksumBytes));
    }
    return frame;
  }

  // ---- the finger
  placeFinger(kind?: FingerImageKind, who = 'applicant'): void {
    this.finger = kind ?? this.nextImageKind();
    this.fingerWho = who;
    this.autoState = 'present';
  }
  /** Whose finger is on the sensor: templates of the same finger match, others do not. */
  protected fingerWho = 'applicant';

  /** The template the module would extract: the same finger gives the same template. */
  protected templateFor(size: number): Buffer {
    const out = Buffer.alloc(size);
    let h = createHash('sha256').update(`finger:${this.fingerWho}`).digest();
    for (let off = 0; off < size; off += h.length) {
      h.copy(out, off, 0, Math.min(h.length, size - off));
      h = createHash('sha256').update(h).digest();
    }
    return out;
  }
  removeFinger(): void {
    this.finger = null;
    this.fingerWho = 'applicant';
    this.autoState = 'away';
  }
  private nextImageKind(): FingerImageKind {
    const k = this.images[this.imageIdx % this.images.length];
    this.imageIdx++;
    return k;
  }

  /** The host asks "is a finger there?" (GenImg / IsPressFinger). Drives the hands-free finger. */
  protected pollFinger(): FingerImageKind | null {
    if (!this.autoFinger) return this.finger;
    switch (this.autoState) {
      case 'away':
        this.autoState = 'coming';
        setTimeout(() => {
          if (this.autoState === 'coming') {
            this.finger = this.nextImageKind();
            this.fingerWho = this.autoWho ?? `hands-free finger ${++this.placements}`;
            this.autoState = 'present';
          }
        }, this.autoDelay).unref();
        return null;
      case 'coming':
        return null;
      case 'present':
        return this.finger;
      case 'lifting':
        this.finger = null;
        this.autoState = 'away';
        return null;
    }
  }

  /** The host used the image (read it, or made a template): a hands-free finger lifts at the next poll. */
  protected imageTaken(): void {
    if (this.autoFinger && this.autoState === 'present') this.autoState = 'lifting';
  }

  /** Pixels (8-bit, model geometry) for the finger on the sensor now. */
  protected fingerPixels(kind: FingerImageKind): Buffer {
    return generateFingerImage(kind, this.m.width, this.m.height, this.seed++);
  }

  /** Fault hook during data-out: true when the device was unplugged. */
  protected maybeUnplugAt(sentDataBytes: number): boolean {
    const lim = this.faults.unplugAfterBytes;
    if (lim !== undefined && sentDataBytes >= lim) {
      this.faults.unplugAfterBytes = undefined;
      void this.unplug();
      return true;
    }
    return false;
  }

  // ---- power
  async unplug(): Promise<void> {
    if (!this.powered) return;
    this.powered = false;
    this.generation++;
    this.finger = null;
    this.autoState = 'away';
    await this.unplugParts();
    this.sendChain = Promise.resolve();
    this.rxChain = Promise.resolve();
  }

  private async unplugParts(): Promise<void> {
    const { dev, hold, pty } = this;
    this.dev = this.hold = this.pty = undefined;
    await pty?.close();
    await Promise.all([dev, hold].map((p) => (p?.isOpen ? new Promise<void>((r) => p.close(() => r())) : Promise.resolve())));
  }

  async replug(): Promise<void> {
    if (this.powered || this.stopped) return;
    await this.plugIn();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.unplug();
    if (this.ownDir) rmSync(this.dir, { recursive: true, force: true });
  }
}

const SIM_DIR = /^fpsim-.+-(\d+)-[A-Za-z0-9]{6}$/;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes the pty directories of simulators whose process is gone (killed before it
 * could clean up). Directories of live processes, and names without a pid, are left.
 */
export function removeStaleSimDirs(dir = tmpdir()): string[] {
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return removed;
  }
  for (const n of names) {
    const m = SIM_DIR.exec(n);
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid === process.pid || alive(pid)) continue;
    try {
      rmSync(join(dir, n), { recursive: true, force: true });
      removed.push(n);
    } catch {}
  }
  return removed;
}
