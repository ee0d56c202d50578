/**
 * Driver for the ADH-Tech GT-521F32 / GT-521F52.
 */
import { StationError } from '../common/errors';
import { checkTemplateCount } from './answers';
import { ScannerBase, matcherNonsense, sleep } from './base';
import { processImage } from './image';
import { GT, GT_ACK, GT_NACK, GtParser, encodeGtCommand, encodeGtData, gtNackText, type GtFrame } from './gt-codec';
import type { BaudResult, CapturedImage, IdentifyResult, LedColour, LedMode, ScannerInfo, ScannerOptions, SessionMatch } from './types';

export interface GtReply {
  ack: boolean;
  parameter: number;
  data?: Buffer;
}

const OPEN_INFO_BYTES = 24;
/** Template size (496 bytes + 2 checksum), GetTemplate / MakeTemplate / SetTemplate. */
export const GT_TEMPLATE_BYTES = 498;
const NACK_FINGER_NOT_PRESSED = 0x1012;

export class GtScanner extends ScannerBase<GtFrame> {
  protected readonly parser: GtParser;
  private ledOn = false;
  private firmware?: string;
  private serial?: string;

  constructor(opts: ScannerOptions) {
    super(opts);
    if (this.m.family !== 'gt521') throw new StationError('FP_MODEL', `model ${opts.model} is not a GT-521 module`);
    this.parser = new GtParser({
      onFrame: (f) => this.onFrame(f),
      maxData: 64 * 1024,
      onDiscard: (reason, n) => this.parserDiscarded(reason, n),
    });
  }

  protected override parserReset(): number {
    this.parser.expect(0); // a data packet announced before the stale input no longer comes
    return this.parser.reset();
  }
  protected describeProtocol(): string {
    return `${this.m.label} (GT-521 protocol)`;
  }
  stats(): Record<string, number> {
    return { ...this.parser.stats, droppedFrames: this.droppedFrames };
  }

  /**
   * One command → one response packet; with `dataBytes` an ACK is followed by one data packet
   * of that size. The parser is told the data length before the command goes out.
   */
  async command(code: number, parameter: number, what: string, dataBytes = 0, limitMs?: number): Promise<GtReply> {
    this.drainStale();
    if (dataBytes) this.parser.expect(dataBytes);
    let reply: GtReply | undefined;
    const desc = () => (reply ? `${what} data (${dataBytes} bytes)` : what);
    const last = await this.send(encodeGtCommand(code, parameter), desc, (f) => {
      if (!reply) {
        if (f.kind !== 'packet' || (f.code !== GT_ACK && f.code !== GT_NACK)) return undefined;
        reply = { ack: f.code === GT_ACK, parameter: f.parameter };
        if (!reply.ack || !dataBytes) {
          this.parser.expect(0);
          return true;
        }
        return false;
      }
      if (f.kind !== 'data') return undefined;
      reply.data = f.data;
      return true;
    }, limitMs, dataBytes > 0);
    void last;
    return reply as GtReply;
  }

  private fail(code: number, what: string, parameter: number): StationError {
    const text = gtNackText(parameter, code, this.m.capacity);
    const odd = text.startsWith('unknown');
    return new StationError('FP_DEVICE', `fingerprint scanner on ${this.port}: ${what} failed: ${text}`, {
      hint: odd ? `no ${this.m.label} answers that: check devices.fingerprint.model (now ${this.model}) and the baud rate, then power-cycle the module` : 'try again; if it persists, power-cycle the module',
      details: { nack: parameter >>> 0, command: what },
    });
  }

  private async ok(code: number, parameter: number, what: string, dataBytes = 0, limitMs?: number): Promise<GtReply> {
    const r = await this.retrying(what, () => this.command(code, parameter, what, dataBytes, limitMs));
    if (!r.ack) throw this.fail(code, what, r.parameter);
    return r;
  }

  private async openDevice(limitMs?: number): Promise<void> {
    const r = await this.command(GT.Open, 1, 'Open', OPEN_INFO_BYTES, limitMs);
    if (!r.ack) throw this.fail(GT.Open, 'Open', r.parameter);
    if (r.data && r.data.length >= OPEN_INFO_BYTES) {
      this.firmware = r.data.readUInt32LE(0).toString(16).toUpperCase().padStart(8, '0');
      this.serial = r.data.subarray(8, 24).toString('hex').toUpperCase();
    }
  }

  private async contact(): Promise<void> {
    await this.findBaud([], (timeoutMs) => this.openDevice(timeoutMs));
  }

  protected async handshake(): Promise<ScannerInfo> {
    this.ledOn = false;
    await this.contact();
    return this.doInfo();
  }

  protected async doInfo(): Promise<ScannerInfo> {
    const count = await this.doTemplateCount();
    return {
      model: this.model, family: 'gt521', label: this.m.label, port: this.port, baud: this.line.baud, width: this.m.width,
      height: this.m.height, ppi: this.m.ppi, capacity: this.m.capacity, templateCount: count, firmware: this.firmware, serial: this.serial,
    };
  }

  protected libraryCapacity(): number {
    return this.m.capacity;
  }

  private async setLed(on: boolean): Promise<void> {
    if (this.ledOn === on) return;
    await this.ok(GT.CmosLed, on ? 1 : 0, 'CmosLed');
    this.ledOn = on;
  }

  protected async doIsFingerPresent(): Promise<boolean> {
    await this.setLed(true); // the optical sensor needs its light to see a finger
    const r = await this.ok(GT.IsPressFinger, 0, 'IsPressFinger');
    return r.parameter === 0;
  }

  protected async doCapture(): Promise<CapturedImage> {
    await this.setLed(true);
    const cap = await this.retrying('CaptureFinger', () => this.command(GT.CaptureFinger, 1, 'CaptureFinger'));
    if (!cap.ack) {
      if (cap.parameter === NACK_FINGER_NOT_PRESSED) throw new StationError('FP_NO_FINGER', `no finger on the scanner (${this.port})`, { hint: 'place a finger on the sensor, then capture' });
      throw this.fail(GT.CaptureFinger, 'CaptureFinger', cap.parameter);
    }
    const n = this.m.width * this.m.height;
    const t0 = performance.now();
    const r = await this.ok(GT.GetImage, 0, 'GetImage', n);
    const uploadMs = performance.now() - t0;
    if (!r.data || r.data.length !== n) throw new StationError('FP_IMAGE_SIZE', `GetImage on ${this.port} returned ${r.data?.length ?? 0} bytes, expected ${n}`);
    await this.setLed(false).catch(() => undefined);
    const img = await processImage(r.data, this.m.width, this.m.height, 8, this.m.ppi);
    return { width: img.width, height: img.height, ppi: img.ppi, pixels: img.pixels, png: img.png, quality: img.quality, uploadMs };
  }

  protected async doLed(mode: LedMode, _colour?: LedColour): Promise<void> {
    if (mode !== 'on' && mode !== 'off') throw new StationError('FP_UNSUPPORTED', `${this.m.label} LED can only be switched on or off`);
    await this.setLed(mode === 'on');
  }

  protected async doTemplateCount(): Promise<number> {
    const n = (await this.ok(GT.GetEnrollCount, 0, 'GetEnrollCount')).parameter;
    checkTemplateCount(this.m, n, this.m.capacity, this.port);
    return n;
  }

  // ---- session duplicate check: Identify / Verify against the session's slots, templates in by SetTemplate
  private held?: { position: number; template: Buffer };

  protected async doSessionMatch(position: number, others: number[]): Promise<SessionMatch | null> {
    if (this.held && this.held.position !== position) this.dropHeld();
    if (others.length === 0) return null;
    const slots = new Map(others.map((p) => [this.sessionSlot(p), p]));
    // 1:N first (one command); the finger's own slot or a template outside the session can shadow a
    // session finger, so then each other slot is verified 1:1
    const r = await this.retrying('Identify', () => this.command(GT.Identify, 0, 'Identify (duplicate check)', 0, 3000));
    if (r.ack) {
      const id = r.parameter >>> 0;
      if (id >= this.m.capacity) throw matcherNonsense(this.port, this.m.label, `Identify reported template ${id} in a library of ${this.m.capacity}`);
      const p = slots.get(id);
      if (p !== undefined) return { position: p };
    } else if (r.parameter === 0x100a) {
      throw matcherNonsense(this.port, this.m.label, `Identify says the library is empty while it holds this session's ${others.length} finger(s)`);
    } else if (r.parameter === 0x1008) {
      return null;
    } else if (r.parameter === 0x100c) {
      throw this.poor('Identify');
    } else {
      throw this.fail(GT.Identify, 'Identify (duplicate check)', r.parameter);
    }
    for (const [slot, p] of slots) {
      const v = await this.retrying('Verify', () => this.command(GT.Verify, slot, `Verify (duplicate check, id ${slot})`, 0, 3000));
      if (v.ack) return { position: p };
      if (v.parameter === 0x1004) throw matcherNonsense(this.port, this.m.label, `Verify says template ${slot} is not used, but this session stored finger ${p} there`);
      if (v.parameter === 0x100c) throw this.poor('Verify');
      if (v.parameter !== 0x1007) throw this.fail(GT.Verify, `Verify (id ${slot})`, v.parameter);
    }
    return null;
  }

  private poor(what: string): StationError {
    return new StationError('FP_POOR_IMAGE', `${this.m.label} on ${this.port}: ${what}: bad finger image, no template can be made`, { hint: 'clean the sensor and the finger, press flat and try again' });
  }

  protected async doSessionHold(position: number): Promise<void> {
    const r = await this.retrying('MakeTemplate', () => this.command(GT.MakeTemplate, 0, 'MakeTemplate', GT_TEMPLATE_BYTES));
    if (!r.ack && r.parameter === 0x100c) throw this.poor('MakeTemplate');
    if (!r.ack) throw this.fail(GT.MakeTemplate, 'MakeTemplate', r.parameter);
    if (!r.data || r.data.length !== GT_TEMPLATE_BYTES) throw matcherNonsense(this.port, this.m.label, `MakeTemplate sent ${r.data?.length ?? 0} bytes, a template is ${GT_TEMPLATE_BYTES}`);
    this.dropHeld();
    this.held = { position, template: r.data };
  }

  protected async doSessionCommit(position: number): Promise<void> {
    const h = this.held;
    if (!h || h.position !== position) throw new StationError('FP_INTERNAL', `sessionCommit(${position}) without a held candidate`);
    const slot = this.sessionSlot(position);
    // an occupied slot (the finger captured again) is emptied first
    const del = await this.retrying('DeleteID', () => this.command(GT.DeleteID, slot, 'DeleteID (session slot)'));
    if (!del.ack && del.parameter !== 0x1004) throw this.fail(GT.DeleteID, 'DeleteID (session slot)', del.parameter);
    await this.setTemplate(slot, h.template);
    this.dropHeld();
  }

  /** SetTemplate: ACK, then the host sends the 498-byte data packet, then the module answers. Not retried (it writes). */
  private async setTemplate(slot: number, template: Buffer): Promise<void> {
    const r = await this.command(GT.SetTemplate, slot, `SetTemplate (id ${slot})`);
    if (!r.ack) throw this.fail(GT.SetTemplate, `SetTemplate (id ${slot})`, r.parameter);
    this.drainStale();
    const reply = this.send(encodeGtData(template), `SetTemplate (id ${slot}) data`, (f) => (f.kind === 'packet' && (f.code === GT_ACK || f.code === GT_NACK) ? true : undefined));
    const f = await reply;
    if (f.kind !== 'packet' || f.code !== GT_ACK) {
      const parameter = f.kind === 'packet' ? f.parameter : 0;
      throw this.fail(GT.SetTemplate, `SetTemplate (id ${slot}) data`, parameter);
    }
  }

  private dropHeld(): void {
    this.held?.template.fill(0);
    this.held = undefined;
  }

  protected async doSessionClear(positions: number[]): Promise<void> {
    this.dropHeld();
    for (const p of positions) {
      const slot = this.sessionSlot(p);
      const r = await this.retrying('DeleteID', () => this.command(GT.DeleteID, slot, 'DeleteID (session slot)'));
      if (!r.ack && r.parameter !== 0x1004) throw this.fail(GT.DeleteID, 'DeleteID (session slot)', r.parameter);
    }
  }

  protected async doDeleteTemplates(id: number, count: number): Promise<void> {
    for (let i = id; i < id + count; i++) {
      const r = await this.retrying('DeleteID', () => this.command(GT.DeleteID, i, 'DeleteID'));
      if (!r.ack && r.parameter !== 0x1004) throw this.fail(GT.DeleteID, 'DeleteID', r.parameter);
    }
  }

  private async captureForTemplate(best: boolean): Promise<void> {
    await this.setLed(true);
    const cap = await this.retrying('CaptureFinger', () => this.command(GT.CaptureFinger, best ? 1 : 0, 'CaptureFinger'));
    if (!cap.ack) {
      if (cap.parameter === NACK_FINGER_NOT_PRESSED) throw new StationError('FP_NO_FINGER', `no finger on the scanner (${this.port})`, { hint: 'place a finger on the sensor' });
      throw this.fail(GT.CaptureFinger, 'CaptureFinger', cap.parameter);
    }
  }

  protected enrollSteps(): number {
    return 3;
  }

  protected async enrollBegin(id: number): Promise<void> {
    const r = await this.retrying('EnrollStart', () => this.command(GT.EnrollStart, id, 'EnrollStart'));
    if (!r.ack) throw this.fail(GT.EnrollStart, 'EnrollStart', r.parameter);
  }

  protected async enrollStep(_id: number, step: number): Promise<void> {
    await this.captureForTemplate(true);
    const code = [GT.Enroll1, GT.Enroll2, GT.Enroll3][step - 1];
    // not retried: each step advances the module's enrolment state
    const r = await this.command(code, 0, `Enroll${step}`);
    if (!r.ack) {
      if (r.parameter === 0x100c) throw new StationError('FP_POOR_IMAGE', `${this.m.label} on ${this.port}: bad finger image at enrolment step ${step}`, { hint: 'clean the sensor and the finger, press flat and start again' });
      if (r.parameter < this.m.capacity) throw new StationError('FP_DUPLICATE', `this finger is already enrolled as id ${r.parameter} on ${this.port}`, { details: { id: r.parameter } });
      throw this.fail(code, `Enroll${step}`, r.parameter);
    }
    if (step === 3) await this.setLed(false).catch(() => undefined);
  }

  protected async doIdentify(): Promise<IdentifyResult | null> {
    await this.captureForTemplate(false);
    const r = await this.retrying('Identify', () => this.command(GT.Identify, 0, 'Identify', 0, 3000));
    await this.setLed(false).catch(() => undefined);
    if (r.ack) return { id: r.parameter };
    if (r.parameter === 0x1008 || r.parameter === 0x100a) return null;
    throw this.fail(GT.Identify, 'Identify', r.parameter);
  }

    protected async doClearTemplates(): Promise<void> {
    const r = await this.retrying('DeleteAll', () => this.command(GT.DeleteAll, 0, 'DeleteAll'));
    if (!r.ack && r.parameter !== 0x100a) throw this.fail(GT.DeleteAll, 'DeleteAll', r.parameter);
  }

  /**
   * ChangeBaudrate is acknowledged at the old speed, then the module switches. We follow, verify
   * with Open at the new speed, and go back (commanding the module back) when the new speed
   * gives no clean answer.
   */
  protected async doSetBaud(baud: number): Promise<BaudResult> {
    const old = this.line.baud;
    if (baud === old) return { active: old, requested: baud, switched: true };
    await this.ok(GT.ChangeBaudrate, baud, 'ChangeBaudrate');
    await sleep(50);
    await this.line.setBaud(baud);
    this.checksumErrorsAtBaud = 0;
    try {
      await this.retrying('Open (verify baud)', () => this.openDevice(), 2);
      return { active: baud, requested: baud, switched: true };
    } catch (e) {
      const reason = `no clean answer at ${baud} baud (${(e as StationError).code}); back to ${old}`;
      await this.backTo(old);
      this.emit('warning', `${this.m.label} on ${this.port}: ${reason}`);
      return { active: old, requested: baud, switched: false, reason };
    }
  }

  /** Command the module to `baud` (the ack may be unreadable) and follow. */
  private async backTo(baud: number): Promise<void> {
    this.drainStale();
    await this.line.write(encodeGtCommand(GT.ChangeBaudrate, baud));
    await sleep(100);
    await this.line.setBaud(baud);
    this.drainStale();
    this.checksumErrorsAtBaud = 0;
    await this.retrying('Open (verify baud)', () => this.openDevice(), 2);
  }

  /** Checksum errors piled up at a raised speed: move down one step, for real. */
  protected async doFallback(): Promise<BaudResult> {
    const from = this.line.baud;
    const lower = [...this.m.bauds].filter((b) => b < from).pop() ?? this.m.defaultBaud;
    await this.backTo(lower);
    return { active: lower, requested: from, switched: true, reason: `checksum errors at ${from} baud` };
  }
}
