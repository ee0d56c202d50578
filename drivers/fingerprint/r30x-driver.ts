/**
 * Driver for the R30x / AS608 / ZFM family (R307, R503, AS608, ZFM-20).
 */
import { StationError } from '../common/errors';
import { checkR30xParams, checkTemplateCount, implausible } from './answers';
import { ScannerBase, matcherNonsense, sleep } from './base';
import { processImage } from './image';
import { imageWireBytes } from './models';
import {
  CMD, COMMAND_NAME, DEFAULT_ADDRESS, PID, R30xParser, confirmationFor, encodeCommand, parseSysParams, type R30xFrame, type SysParams,
} from './r30x-codec';
import type { BaudResult, CapturedImage, IdentifyResult, LedColour, LedMode, ScannerInfo, ScannerOptions, SessionMatch } from './types';

const COLOURS: Record<LedColour, number> = { red: 1, blue: 2, purple: 3, green: 4, yellow: 5, cyan: 6, white: 7 };
const AURA: Record<LedMode, number> = { breathe: 1, flash: 2, on: 3, off: 4 };

export interface Ack {
  code: number;
  results: Buffer;
}

export class R30xScanner extends ScannerBase<R30xFrame> {
  protected readonly parser: R30xParser;
  private readonly address: number;
  private readonly password: number;
  private params?: SysParams;
  private width: number;
  private height: number;
  private imageInBuffer = false;
  private infoCache?: ScannerInfo;
  /** Speed stored in the module that applies at its next power-up. */
  private pendingBaud?: number;

  constructor(opts: ScannerOptions) {
    super(opts);
    if (this.m.family !== 'r30x') throw new StationError('FP_MODEL', `model ${opts.model} is not an R30x-family module`);
    this.address = (opts.address ?? DEFAULT_ADDRESS) >>> 0;
    this.password = (opts.password ?? 0) >>> 0;
    this.width = this.m.width;
    this.height = this.m.height;
    this.parser = new R30xParser({
      address: this.address,
      onFrame: (f) => this.onFrame(f),
      onDiscard: (reason, n) => this.parserDiscarded(reason, n),
    });
  }

  protected describeProtocol(): string {
    return `${this.m.label} (R30x protocol, address ${this.address.toString(16).toUpperCase()})`;
  }
  stats(): Record<string, number> {
    return { ...this.parser.stats, droppedFrames: this.droppedFrames, foreignHeaders: 0 };
  }

  /** One command → one acknowledgement. Stale input is drained first. */
  async command(instr: number, params: number[] | Buffer, what: string, limitMs?: number): Promise<Ack> {
    this.drainStale();
    const f = await this.send(encodeCommand(instr, params, this.address), what, (fr) => (fr.pid === PID.ack ? true : undefined), limitMs);
    return { code: f.payload[0], results: f.payload.subarray(1) };
  }

  /** An error for confirmation `code` to instruction `instr`, named in the context of that command. */
  private fail(instr: number, what: string, code: number, hint?: string): StationError {
    const text = confirmationFor(instr, code);
    const odd = /^(unexpected|unknown) code/.test(text);
    return new StationError('FP_DEVICE', `fingerprint scanner on ${this.port}: ${what} failed: ${text}`, {
      hint: hint ?? (odd ? `an answer no ${this.m.label} gives to ${COMMAND_NAME[instr] ?? 'this command'}: check devices.fingerprint.model (now ${this.model}) and the baud rate, then power-cycle the module` : 'try again; if it persists, power-cycle the module'),
      details: { confirmation: code, command: COMMAND_NAME[instr] ?? instr },
    });
  }

  private async ok(instr: number, params: number[] | Buffer, what: string, limitMs?: number): Promise<Buffer> {
    const a = await this.retrying(what, () => this.command(instr, params, what, limitMs));
    if (a.code !== 0) throw this.fail(instr, what, a.code);
    return a.results;
  }

  /** ReadSysPara, parsed and range-checked; a short answer is an error that names the port. */
  private async readSysParams(): Promise<SysParams> {
    const r = await this.ok(CMD.ReadSysPara, [], 'ReadSysPara');
    let sp: SysParams;
    try {
      sp = parseSysParams(r);
    } catch {
      throw new StationError('FP_BAD_ANSWER', `fingerprint scanner on ${this.port} answered ReadSysPara with ${r.length} bytes of parameters; a ${this.m.label} sends 16`, {
        hint: `the device on ${this.port} is probably not a ${this.m.label} (check devices.fingerprint.model, now ${this.model}) or the line garbles data: check the wiring and baud rate, then power-cycle the module`,
        exitCode: 2,
      });
    }
    checkR30xParams(this.m, sp, this.port, this.address);
    return sp;
  }

  private async verifyPassword(limitMs?: number): Promise<void> {
    const pw = [this.password >>> 24, (this.password >> 16) & 0xff, (this.password >> 8) & 0xff, this.password & 0xff];
    const a = await this.command(CMD.VfyPwd, pw, 'VfyPwd (password check)', limitMs);
    if (a.code === 0x13) {
      throw new StationError('FP_PASSWORD', `fingerprint scanner on ${this.port} rejected the configured module password`, {
        hint: 'this module has a password set: configure the same password for the station (scanner option `password`) or reset it with the vendor tool', exitCode: 2,
      });
    }
    if (a.code !== 0) throw this.fail(CMD.VfyPwd, 'VfyPwd', a.code);
  }

  /** Find the module's speed: the configured one first, then a pending one, the default, the rest. */
  private async contact(): Promise<void> {
    const found = await this.findBaud([this.pendingBaud], (timeoutMs) => this.verifyPassword(timeoutMs));
    if (found === this.pendingBaud) this.pendingBaud = undefined;
  }

  protected async handshake(): Promise<ScannerInfo> {
    this.imageInBuffer = false;
    await this.contact();
    return this.doInfo();
  }

  protected async doInfo(): Promise<ScannerInfo> {
    const sp = await this.readSysParams();
    this.params = sp;
    const info: ScannerInfo = {
      model: this.model, family: 'r30x', label: this.m.label, port: this.port, baud: this.line.baud,
      width: this.width, height: this.height, ppi: this.m.ppi, capacity: sp.librarySize,
      packetSize: sp.packetSize, securityLevel: sp.securityLevel, address: sp.address,
    };
    if (sp.baud !== this.line.baud) this.pendingBaud = sp.baud;
    if (this.m.has.prodInfo) {
      const a = await this.retrying('ReadProdInfo', () => this.command(CMD.ReadProdInfo, [], 'ReadProdInfo'));
      if (a.code === 0 && a.results.length >= 46) {
        const r = a.results;
        info.productModel = r.subarray(0, 16).toString('latin1').replace(/\0+$/, '').trim();
        info.serial = r.subarray(20, 28).toString('latin1').replace(/\0+$/, '').trim();
        info.firmware = `${r[28]}.${r[29]}`;
        const w = r.readUInt16BE(38);
        const h = r.readUInt16BE(40);
        const tplBytes = r.readUInt16BE(42);
        const dbSize = r.readUInt16BE(44);
        if (w === 0 || h === 0 || w > 1024 || h > 1024) throw implausible(this.port, this.m, `ReadProdInfo image size ${w}×${h}`);
        if (dbSize !== sp.librarySize) throw implausible(this.port, this.m, `ReadProdInfo says the library holds ${dbSize}, ReadSysPara ${sp.librarySize}`);
        if (tplBytes === 0 || tplBytes > 4096) throw implausible(this.port, this.m, `ReadProdInfo template size ${tplBytes} bytes`);
        if (w !== this.width || h !== this.height) {
          this.log.warn({ w, h }, 'module reports a different image geometry than the model table; using the module');
          this.width = w;
          this.height = h;
          info.width = w;
          info.height = h;
        }
      } else {
        this.emit('warning', `${this.m.label} on ${this.port} did not answer ReadProdInfo (code ${a.code}); is the model setting right?`);
      }
    }
    info.templateCount = await this.doTemplateCount(sp.librarySize);
    this.infoCache = info;
    return info;
  }

  protected async doIsFingerPresent(): Promise<boolean> {
    const a = await this.retrying('GenImg', () => this.command(CMD.GenImg, [], 'GenImg (capture)'));
    if (a.code === 0x00) {
      this.imageInBuffer = true;
      return true;
    }
    if (a.code === 0x02) return false;
    if (a.code === 0x03) {
      this.log.debug('GenImg: capture failed, treating as no finger yet');
      return false;
    }
    throw this.fail(CMD.GenImg, 'GenImg', a.code);
  }

  protected async doCapture(): Promise<CapturedImage> {
    if (!this.imageInBuffer) {
      const a = await this.retrying('GenImg', () => this.command(CMD.GenImg, [], 'GenImg (capture)'));
      if (a.code === 0x02) throw new StationError('FP_NO_FINGER', `no finger on the scanner (${this.port})`, { hint: 'place a finger on the sensor, then capture' });
      if (a.code !== 0) throw this.fail(CMD.GenImg, 'GenImg', a.code);
    }
    this.imageInBuffer = false;
    const t0 = performance.now();
    const wire = await this.retrying('UpImage', () => this.upload(CMD.UpImage, imageWireBytes({ ...this.m, width: this.width, height: this.height }), 'UpImage'));
    const uploadMs = performance.now() - t0;
    const img = await processImage(wire, this.width, this.height, 4, this.m.ppi);
    return { width: img.width, height: img.height, ppi: img.ppi, pixels: img.pixels, png: img.png, quality: img.quality, uploadMs };
  }

  /**
   * Data-out transfer: ack, then data packets (02…08) until `expected` bytes. The read is capped at
   * the expected size; a missing end packet is tolerated when the size is complete; more real
   * data than expected means the model setting is wrong.
   */
  async upload(instr: number, expected: number, what: string): Promise<Buffer> {
    this.drainStale();
    const out = Buffer.alloc(expected);
    let got = 0;
    let acked = false;
    let ackCode = -1;
    let ended = false;
    let overflow = 0;
    const desc = () => (acked ? `${what} data (${got} of ${expected} bytes received)` : `${what} acknowledgement`);
    const handler = (f: R30xFrame): boolean | undefined => {
      if (!acked) {
        if (f.pid !== PID.ack) return undefined;
        acked = true;
        ackCode = f.payload[0];
        return ackCode !== 0;
      }
      if (f.pid !== PID.data && f.pid !== PID.end) return undefined; // a stray ack
      if (got < expected) {
        const n = Math.min(f.payload.length, expected - got);
        f.payload.copy(out, got, 0, n);
        got += n;
        if (n < f.payload.length && f.payload.subarray(n).some((b) => b !== 0)) overflow += f.payload.length - n;
      } else if (f.payload.some((b) => b !== 0)) {
        overflow += f.payload.length;
      }
      if (f.pid === PID.end) {
        ended = true;
        return true;
      }
      return false;
    };
    const cmd = encodeCommand(instr, [], this.address);
    const crcBefore = this.parser.stats.checksumErrors + this.parser.stats.lengthErrors;
    try {
      await this.send(cmd, desc, (f) => {
        const r = handler(f);
        // size complete without an end packet: give the module one short quiet period to send
        // the end (or reveal more data) and then accept
        return r === false && got >= expected && !ended ? false : r;
      }, this.inactivityMs, true);
    } catch (e) {
      const code = (e as StationError).code;
      if (code === 'FP_TIMEOUT' && this.parser.stats.checksumErrors + this.parser.stats.lengthErrors > crcBefore) throw this.corruptError(what);
      // complete image, no end packet (DY50-style): the quiet timeout ends the read
      if (!(code === 'FP_TIMEOUT' && acked && got >= expected && overflow === 0)) throw e;
      this.log.warn({ what }, 'module sent no end packet; read capped at the expected size');
    }
    if (ackCode !== 0) throw this.fail(instr, what, ackCode);
    if (overflow > 0) {
      throw new StationError('FP_IMAGE_SIZE', `fingerprint scanner on ${this.port} sent more ${what} data than a ${this.m.label} image (${expected} bytes)`, {
        hint: 'the configured model is probably wrong (R307/AS608/ZFM-20 images are 256×288, R503 192×192)', exitCode: 2,
      });
    }
    if (got < expected && this.parser.stats.checksumErrors + this.parser.stats.lengthErrors > crcBefore) throw this.corruptError(`${what} data`);
    if (got < expected) {
      throw new StationError('FP_IMAGE_SIZE', `fingerprint scanner on ${this.port} ended ${what} after ${got} bytes; a ${this.m.label} image is ${expected} bytes`, {
        hint: 'the configured model is probably wrong (R307/AS608/ZFM-20 images are 256×288, R503 192×192), or the transfer was cut',
      });
    }
    return out;
  }

  protected async doLed(mode: LedMode, colour: LedColour = 'blue'): Promise<void> {
    if (!this.m.has.auraLed) {
      throw new StationError('FP_UNSUPPORTED', `${this.m.label} has no LED control command`, { hint: 'the module lights its sensor by itself during capture' });
    }
    await this.ok(CMD.AuraLedConfig, [AURA[mode], 0x80, COLOURS[colour], 0], 'AuraLedConfig');
  }

  protected async doTemplateCount(capacity = this.libraryCapacity()): Promise<number> {
    const r = await this.ok(CMD.TemplateNum, [], 'TemplateNum');
    if (r.length < 2) throw implausible(this.port, this.m, `TemplateNum answered ${r.length} bytes instead of a 2-byte count`);
    const n = r.readUInt16BE(0);
    checkTemplateCount(this.m, n, capacity, this.port);
    return n;
  }

  protected libraryCapacity(): number {
    return this.params?.librarySize ?? this.m.capacity;
  }

  protected async doDeleteTemplates(id: number, count: number): Promise<void> {
    await this.ok(CMD.DeletChar, [id >> 8, id & 0xff, count >> 8, count & 0xff], 'DeletChar');
  }

  /** GenImg just succeeded (the finger was detected): the image is in the module's buffer. */
  private async toCharBuffer(buffer: 1 | 2, fromImageBuffer = false): Promise<void> {
    if (!this.imageInBuffer && !fromImageBuffer) {
      const g = await this.retrying('GenImg', () => this.command(CMD.GenImg, [], 'GenImg (capture)'));
      if (g.code !== 0) throw this.fail(CMD.GenImg, 'GenImg', g.code, 'place the finger flat on the sensor and try again');
    }
    this.imageInBuffer = false;
    const a = await this.retrying('Img2Tz', () => this.command(CMD.Img2Tz, [buffer], 'Img2Tz (extract features)'));
    if (a.code === 0x06 || a.code === 0x07 || a.code === 0x15) {
      throw new StationError('FP_POOR_IMAGE', `${this.m.label} on ${this.port} could not extract features: ${confirmationFor(CMD.Img2Tz, a.code)}`, {
        hint: 'clean the sensor and the finger, press flat and try again', details: { confirmation: a.code },
      });
    }
    if (a.code !== 0) throw this.fail(CMD.Img2Tz, 'Img2Tz', a.code);
  }

  protected enrollSteps(): number {
    return 2;
  }

  protected async enrollBegin(_id: number): Promise<void> {
    this.imageInBuffer = false;
    this.holdPosition = null; // enrolment uses both char buffers
  }

  protected async enrollStep(id: number, step: number): Promise<void> {
    await this.toCharBuffer(step === 1 ? 1 : 2);
    if (step < 2) return;
    await this.ok(CMD.RegModel, [], 'RegModel').catch((e: StationError) => {
      if ((e.details as { confirmation?: number } | undefined)?.confirmation === 0x0a) {
        throw new StationError('FP_ENROLL_MISMATCH', `the two placements did not match on ${this.port}`, { hint: 'use the same finger both times, placed the same way' });
      }
      throw e;
    });
    await this.ok(CMD.Store, [1, id >> 8, id & 0xff], `Store (id ${id})`);
  }

  protected async doIdentify(): Promise<IdentifyResult | null> {
    this.holdPosition = null;
    await this.toCharBuffer(1);
    const cap = this.infoCache?.capacity ?? this.m.capacity;
    const a = await this.retrying('Search', () => this.command(CMD.Search, [1, 0, 0, cap >> 8, cap & 0xff], 'Search'));
    if (a.code === 0x09) return null;
    if (a.code !== 0) throw this.fail(CMD.Search, 'Search', a.code);
    return { id: a.results.readUInt16BE(0), score: a.results.readUInt16BE(2) };
  }

  // ---- session duplicate check: the candidate's template stays in a char buffer, kept fingers in slots
  /** Char buffer holding the best attempt of the finger being captured (the next attempt uses the other). */
  private holdBuffer: 1 | 2 | null = null;
  private attemptBuffer: 1 | 2 = 1;
  private holdPosition: number | null = null;

  protected async doSessionMatch(position: number, others: number[]): Promise<SessionMatch | null> {
    if (this.holdPosition !== position) {
      this.holdPosition = position;
      this.holdBuffer = null;
    }
    const b: 1 | 2 = this.holdBuffer === 1 ? 2 : 1;
    this.attemptBuffer = b;
    // the image captureImage uploaded is still in the module's image buffer
    await this.toCharBuffer(b, true);
    // one Search per run of consecutive kept positions (the finger's own slot is left out)
    for (const run of runs(others)) {
      const start = this.sessionSlot(run[0]!);
      const count = run.length;
      const a = await this.retrying('Search', () => this.command(CMD.Search, [b, start >> 8, start & 0xff, count >> 8, count & 0xff], 'Search (duplicate check)'));
      if (a.code === 0x09) continue;
      if (a.code !== 0) throw this.fail(CMD.Search, 'Search (duplicate check)', a.code);
      if (a.results.length < 4) throw matcherNonsense(this.port, this.m.label, `Search found a match but sent ${a.results.length} result bytes instead of 4`);
      const page = a.results.readUInt16BE(0);
      const score = a.results.readUInt16BE(2);
      if (page < start || page >= start + count) throw matcherNonsense(this.port, this.m.label, `Search over ids ${start}..${start + count - 1} reported id ${page}`);
      if (score === 0) throw matcherNonsense(this.port, this.m.label, `Search reported a match with score 0`);
      return { position: page - this.sessionSlot(1) + 1, score };
    }
    return null;
  }

  protected async doSessionHold(position: number): Promise<void> {
    if (this.holdPosition !== position) throw new StationError('FP_INTERNAL', `sessionHold(${position}) without sessionMatch of that finger`);
    this.holdBuffer = this.attemptBuffer;
  }

  protected async doSessionCommit(position: number): Promise<void> {
    if (this.holdPosition !== position || this.holdBuffer === null) throw new StationError('FP_INTERNAL', `sessionCommit(${position}) without a held candidate`);
    const slot = this.sessionSlot(position);
    await this.ok(CMD.Store, [this.holdBuffer, slot >> 8, slot & 0xff], `Store (session slot ${slot})`);
    this.holdBuffer = null;
    this.holdPosition = null;
  }

  protected async doSessionClear(positions: number[]): Promise<void> {
    this.holdBuffer = null;
    this.holdPosition = null;
    for (const run of runs([...positions].sort((a, b) => a - b))) {
      const start = this.sessionSlot(run[0]!);
      await this.ok(CMD.DeletChar, [start >> 8, start & 0xff, run.length >> 8, run.length & 0xff], 'DeletChar (session slots)');
    }
  }

    protected async doClearTemplates(): Promise<void> {
    await this.ok(CMD.Empty, [], 'Empty');
  }

  /**
   * R30x modules store the new speed and use it after the next power-up (SetSysPara 4). We write
   * it, read it back to verify, try the new speed briefly in case this unit switches at once, and
   * otherwise stay where we are and remember the pending speed for the reconnect after power-up.
   */
  protected async doSetBaud(baud: number): Promise<BaudResult> {
    const old = this.line.baud;
    if (baud === old) return { active: old, requested: baud, switched: true };
    const n = baud / 9600;
    await this.ok(CMD.SetSysPara, [4, n], 'SetSysPara (baud)');
    const sp = await this.readSysParams();
    if (sp.baudN !== n) {
      throw new StationError('FP_BAUD_VERIFY', `${this.m.label} on ${this.port} did not store baud ${baud} (reads back ${sp.baud})`, { hint: 'the module refused the change; keep the current speed' });
    }
    // does this unit switch at once? one quick probe at the new speed
    await sleep(50);
    await this.line.setBaud(baud);
    try {
      await this.verifyPassword(300);
      this.checksumErrorsAtBaud = 0;
      return { active: baud, requested: baud, switched: true };
    } catch {
      await this.line.setBaud(old);
      this.drainStale();
      await this.verifyPassword();
    }
    this.pendingBaud = baud;
    return { active: old, requested: baud, switched: false, pendingPowerCycle: true, reason: `${this.m.label} applies a new baud rate after its next power-up` };
  }

  /** R30x speed fallback: store a lower speed (used from the next power-up, or at once if this unit switches). */
  protected async doFallback(): Promise<BaudResult> {
    const lower = [...this.m.bauds].filter((b) => b < this.line.baud).pop() ?? this.m.defaultBaud;
    const r = await this.doSetBaud(lower);
    return { ...r, reason: `checksum errors at ${this.line.baud} baud` };
  }

  get currentInfo(): ScannerInfo | undefined {
    return this.infoCache;
  }
}

/** Consecutive runs of sorted positions: [1,2,4,5,6] → [[1,2],[4,5,6]]. */
function runs(sorted: number[]): number[][] {
  const out: number[][] = [];
  for (const p of sorted) {
    const last = out[out.length - 1];
    if (last && last[last.length - 1] === p - 1) last.push(p);
    else out.push([p]);
  }
  return out;
}
