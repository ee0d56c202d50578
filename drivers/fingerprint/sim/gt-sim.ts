/**
 * GT-521F32 / GT-521F52 emulated byte for byte.
 */
import { GT, GT_ACK, GtParser, encodeGtAck, encodeGtData, encodeGtNack, type GtFrame } from '../gt-codec';
import { SimDevice, type SimDeviceOptions } from './device';

const TEMPLATE = 498;

export class GtSim extends SimDevice {
  private parser!: GtParser;
  private ledOn = false;
  private opened = false;
  private image: Buffer | null = null;
  private quality = 0;
  readonly library = new Map<number, Buffer>();
  private enrollId: number | null = null;
  private enrollStep = 0;
  private pendingSetTemplate?: number;
  private security = 3;
  private busy: Promise<void> = Promise.resolve();

  private readonly powerOnBaud: number;
  constructor(opts: SimDeviceOptions) {
    super(opts);
    this.powerOnBaud = this.activeBaud;
    this.resetRx();
  }

  protected resetRx(): void {
    this.parser = new GtParser({ onFrame: (f) => this.onFrame(f) });
  }
  protected onBytes(b: Buffer): void {
    this.parser.push(b);
  }
  protected powerOn(): void {
    this.activeBaud = this.powerOnBaud; // ChangeBaudrate is not kept across power cycles
    this.ledOn = false;
    this.opened = false;
    this.image = null;
    this.enrollId = null;
    this.pendingSetTemplate = undefined;
  }

  private reply(ok: boolean, parameter: number): Promise<void> {
    return this.transmit(this.applyFrameFaults(ok ? encodeGtAck(parameter) : encodeGtNack(parameter)));
  }
  private ack(parameter = 0): Promise<void> {
    return this.reply(true, parameter);
  }
  private nack(code: number): Promise<void> {
    return this.reply(false, code);
  }

  /** One data packet, paced in slices so a long image behaves like a UART stream. */
  private async data(payload: Buffer): Promise<void> {
    const pkt = this.applyFrameFaults(encodeGtData(payload));
    const slice = 1024;
    const jobs: Promise<void>[] = [];
    const gen = this.generation;
    for (let off = 0; off < pkt.length; off += slice) {
      if (gen !== this.generation) return;
      jobs.push(this.transmit(pkt.subarray(off, off + slice), { noiseOk: off === 0 }));
      if (this.faults.unplugAfterBytes !== undefined) {
        await jobs[jobs.length - 1];
        if (this.maybeUnplugAt(Math.min(pkt.length, off + slice))) return;
      }
    }
    await Promise.all(jobs);
  }

  private onFrame(f: GtFrame): void {
    this.busy = this.busy.then(() => this.handle(f)).catch(() => undefined);
  }

  private async handle(f: GtFrame): Promise<void> {
    if (f.kind === 'data') {
      if (this.pendingSetTemplate !== undefined) {
        this.library.set(this.pendingSetTemplate, f.data);
        this.pendingSetTemplate = undefined;
        await this.ack(0);
        if (this.faults.strayAck) await this.transmit(encodeGtAck(0));
      }
      return;
    }
    if (f.code === GT_ACK || f.code === 0x31) return; // not a command
    this.commands++;
    const forced = this.faults.gtReply;
    if (forced && forced.command === f.code) return this.reply(forced.ack, forced.parameter);
    const p = f.parameter | 0;
    const cap = this.m.capacity;
    switch (f.code) {
      case GT.Open: {
        this.opened = true;
        await this.ack(0);
        if (p !== 0) {
          const info = Buffer.alloc(24);
          info.writeUInt32LE(0x20121203, 0);
          info.writeUInt32LE(0x10000, 4);
          Buffer.from('SIMULATED-GT521-').copy(info, 8);
          await this.data(info);
        }
        return;
      }
      case GT.Close:
        this.opened = false;
        return this.ack(0);
      case GT.ChangeBaudrate: {
        if (![9600, 19200, 38400, 57600, 115200].includes(p)) return this.nack(0x1002);
        await this.ack(0); // acknowledged at the old speed
        await this.flushTx();
        this.activeBaud = p;
        this.resetRx();
        return;
      }
      case GT.CmosLed:
        this.ledOn = p !== 0;
        return this.ack(0);
      case GT.GetEnrollCount:
        return this.ack(this.library.size);
      case GT.CheckEnrolled:
        if (p < 0 || p >= cap) return this.nack(0x1003);
        return this.library.has(p) ? this.ack(0) : this.nack(0x1004);
      case GT.IsPressFinger: {
        const kind = this.ledOn ? this.pollFinger() : null;
        return this.ack(kind ? 0 : 1);
      }
      case GT.CaptureFinger: {
        const kind = this.ledOn ? this.pollFinger() : null;
        if (!kind) return this.nack(0x1012);
        this.image = this.fingerPixels(kind);
        this.quality = kind === 'good' ? 90 : 20;
        return this.ack(0);
      }
      case GT.GetImage: {
        if (!this.image) return this.nack(0x100f);
        await this.ack(0);
        await this.data(this.image);
        this.imageTaken();
        return;
      }
      case GT.GetRawImage: {
        if (!this.ledOn) return this.nack(0x100f);
        await this.ack(0);
        return this.data(Buffer.alloc(160 * 120, 0xe0));
      }
      case GT.MakeTemplate: {
        if (!this.image) return this.nack(0x100f);
        if (this.quality < 30) return this.nack(0x100c);
        await this.ack(0);
        this.imageTaken();
        return this.data(this.templateFor(TEMPLATE));
      }
      case GT.EnrollStart:
        if (p !== -1 && (p < 0 || p >= cap)) return this.nack(0x1003);
        if (p !== -1 && this.library.has(p)) return this.nack(0x1005);
        if (this.library.size >= cap) return this.nack(0x1009);
        this.enrollId = p;
        this.enrollStep = 0;
        return this.ack(0);
      case GT.Enroll1:
      case GT.Enroll2:
      case GT.Enroll3: {
        const step = f.code - GT.Enroll1 + 1;
        if (this.enrollId === null || step !== this.enrollStep + 1) return this.nack(0x100b);
        if (!this.image) return this.nack(0x100c);
        if (this.quality < 30) return this.nack(0x100c);
        this.enrollStep = step;
        if (step < 3) {
          this.imageTaken();
          return this.ack(0);
        }
        const t = this.templateFor(TEMPLATE);
        this.imageTaken();
        const id = this.enrollId;
        this.enrollId = null;
        if (id === -1) {
          await this.ack(0);
          return this.data(t);
        }
        this.library.set(id, t);
        return this.ack(0);
      }
      case GT.DeleteID:
        if (p < 0 || p >= cap) return this.nack(0x1003);
        if (!this.library.delete(p)) return this.nack(0x1004);
        return this.ack(0);
      case GT.DeleteAll:
        if (this.library.size === 0) return this.nack(0x100a);
        this.library.clear();
        return this.ack(0);
      case GT.Verify: {
        const t = this.library.get(p);
        if (!t) return this.nack(0x1004);
        this.imageTaken();
        return this.image && this.templateFor(TEMPLATE).equals(t) ? this.ack(0) : this.nack(0x1007);
      }
      case GT.Identify: {
        if (this.library.size === 0) return this.nack(0x100a);
        if (!this.image) return this.nack(0x1008);
        const t = this.templateFor(TEMPLATE);
        this.imageTaken();
        for (const [id, tpl] of this.library) if (tpl.equals(t)) return this.ack(id);
        return this.nack(0x1008);
      }
      case GT.GetTemplate: {
        const t = this.library.get(p);
        if (!t) return this.nack(p < 0 || p >= cap ? 0x1003 : 0x1004);
        await this.ack(0);
        return this.data(t);
      }
      case GT.SetTemplate:
        if (p < 0 || p >= cap) return this.nack(0x1003);
        this.pendingSetTemplate = p;
        this.parser.expect(TEMPLATE);
        return this.ack(0);
      case GT.SetSecurityLevel:
        if (p < 1 || p > 5) return this.nack(0x1011);
        this.security = p;
        return this.ack(0);
      case GT.GetSecurityLevel:
        return this.ack(this.security);
      default:
        return this.nack(0x100e);
    }
  }

  get isOpened(): boolean {
    return this.opened;
  }
}

