/**
 * R30x-family module emulated byte for byte: R307, R503, AS608, ZFM-20.
 */
import { randomBytes } from 'node:crypto';
import { pack4 } from '../image';
import { CMD, DEFAULT_ADDRESS, PID, R30xParser, encodeAck, encodeR30x, encodeSysParams, type R30xFrame } from '../r30x-codec';
import { SimDevice, type SimDeviceOptions } from './device';

export class R30xSim extends SimDevice {
  private parser: R30xParser;
  private address = DEFAULT_ADDRESS;
  private password = 0;
  private verified = false;
  private storedBaudN: number;
  private packetSizeCode = 2;
  private security = 3;
  private image: Buffer | null = null; // 4-bit packed
  private quality = 0;
  private char: [Buffer | null, Buffer | null] = [null, null];
  readonly library = new Map<number, Buffer>();
  /** data-in in progress */
  private dataIn?: { kind: 'image' | 'char'; buffer: number; chunks: Buffer[] };
  private busy: Promise<void> = Promise.resolve();

  constructor(opts: SimDeviceOptions) {
    super(opts);
    this.storedBaudN = this.activeBaud / 9600;
    this.parser = this.newParser();
  }

  private newParser(): R30xParser {
    return new R30xParser({ address: this.address, onFrame: (f) => this.onFrame(f) });
  }

  get packetSize(): number {
    return 32 << this.packetSizeCode;
  }

  protected resetRx(): void {
    this.parser = this.newParser();
  }

  protected onBytes(b: Buffer): void {
    this.parser.push(b);
  }

  protected powerOn(): void {
    this.verified = false;
    this.image = null;
    this.char = [null, null];
    this.dataIn = undefined;
    this.activeBaud = this.storedBaudN * 9600;
    if (this.m.bootByte) setTimeout(() => void this.transmit(Buffer.from([0x55]), { noiseOk: false }), 50).unref();
  }

  /** Test hooks. */
  setPassword(pw: number): void {
    this.password = pw >>> 0;
  }
  /** Send raw bytes as if the module did (stray acks, garbage). */
  sendRaw(b: Buffer): Promise<void> {
    return this.transmit(b, { noiseOk: false });
  }

  private ack(code: number, results: number[] | Buffer = []): Promise<void> {
    return this.transmit(this.applyFrameFaults(encodeAck(code, results, this.address)));
  }

  private onFrame(f: R30xFrame): void {
    // one command at a time, like the module's firmware loop
    this.busy = this.busy.then(() => this.handle(f)).catch(() => undefined);
  }

  private async handle(f: R30xFrame): Promise<void> {
    if (this.dataIn && (f.pid === PID.data || f.pid === PID.end)) {
      this.dataIn.chunks.push(f.payload);
      if (f.pid === PID.end) {
        const all = Buffer.concat(this.dataIn.chunks);
        if (this.dataIn.kind === 'image') this.image = all;
        else this.char[this.dataIn.buffer === 2 ? 1 : 0] = all;
        this.dataIn = undefined;
        if (this.faults.strayAck) await this.ack(0x01);
      }
      return;
    }
    if (f.pid !== PID.command) return;
    this.commands++;
    const p = f.payload;
    const instr = p[0];
    const args = p.subarray(1);
    const forced = this.faults.r30xReply;
    if (forced && forced.command === instr) return this.ack(forced.code, forced.results ?? []);
    if (this.password !== 0 && !this.verified && instr !== CMD.VfyPwd) return this.ack(0x21);
    const has = this.m.has;
    const unsupported = () => this.ack(this.model === 'r503' ? 0xfc : 0x01);
    switch (instr) {
      case CMD.VfyPwd: {
        const pw = args.length >= 4 ? args.readUInt32BE(0) : -1;
        if (pw === this.password) {
          this.verified = true;
          return this.ack(0);
        }
        return this.ack(0x13);
      }
      case CMD.SetPwd:
        this.password = args.readUInt32BE(0);
        return this.ack(0);
      case CMD.GenImg:
      case CMD.GetImageEx: {
        if (instr === CMD.GetImageEx && !has.getImageEx) return unsupported();
        const kind = this.pollFinger();
        if (!kind) return this.ack(0x02);
        const px = this.fingerPixels(kind);
        this.image = pack4(px);
        this.quality = kind === 'good' ? 90 : kind === 'empty' ? 0 : 20;
        if (instr === CMD.GetImageEx && this.quality < 30) return this.ack(0x07);
        return this.ack(0);
      }
      case CMD.UpImage: {
        if (!this.image) return this.ack(0x15);
        await this.ack(0);
        await this.dataOut(this.image);
        this.imageTaken();
        return;
      }
      case CMD.DownImage:
        this.dataIn = { kind: 'image', buffer: 0, chunks: [] };
        return this.ack(0);
      case CMD.Img2Tz: {
        if (!this.image) return this.ack(0x15);
        if (this.quality < 30) return this.ack(0x07);
        const b = args[0] === 2 ? 1 : 0;
        this.char[b] = this.templateFor(this.m.templateBytes);
        this.imageTaken();
        return this.ack(0);
      }
      case CMD.RegModel: {
        if (!this.char[0] || !this.char[1] || !this.char[0].equals(this.char[1])) return this.ack(0x0a); // two different fingers
        return this.ack(0);
      }
      case CMD.Store: {
        const page = args.readUInt16BE(1);
        const t = this.char[args[0] === 2 ? 1 : 0];
        if (page >= this.m.capacity) return this.ack(0x0b);
        if (!t) return this.ack(0x01);
        this.library.set(page, t);
        return this.ack(0);
      }
      case CMD.LoadChar: {
        const page = args.readUInt16BE(1);
        if (page >= this.m.capacity) return this.ack(0x0b);
        const t = this.library.get(page);
        if (!t) return this.ack(0x0c);
        this.char[args[0] === 2 ? 1 : 0] = t;
        return this.ack(0);
      }
      case CMD.UpChar: {
        const t = this.char[args[0] === 2 ? 1 : 0];
        if (!t) return this.ack(0x0d);
        await this.ack(0);
        return this.dataOut(t);
      }
      case CMD.DownChar:
        this.dataIn = { kind: 'char', buffer: args[0], chunks: [] };
        return this.ack(0);
      case CMD.Match: {
        if (!this.char[0] || !this.char[1]) return this.ack(0x08, [0, 0]);
        return this.char[0].equals(this.char[1]) ? this.ack(0, [0, 200]) : this.ack(0x08, [0, 0]);
      }
      case CMD.Search: {
        const t = this.char[args[0] === 2 ? 1 : 0];
        const start = args.readUInt16BE(1);
        const count = args.readUInt16BE(3);
        for (const [page, tpl] of this.library) {
          if (page >= start && page < start + count && t && tpl.equals(t)) return this.ack(0, [page >> 8, page & 0xff, 0, 100]);
        }
        return this.ack(0x09, [0, 0, 0, 0]);
      }
      case CMD.DeletChar: {
        const page = args.readUInt16BE(0);
        const n = args.readUInt16BE(2);
        if (page + n > this.m.capacity) return this.ack(0x10);
        for (let i = page; i < page + n; i++) this.library.delete(i);
        return this.ack(0);
      }
      case CMD.Empty:
        this.library.clear();
        return this.ack(0);
      case CMD.SetSysPara: {
        const [reg, val] = [args[0], args[1]];
        if (reg === 4) {
          if (!this.m.bauds.includes(val * 9600)) return this.ack(0x1b);
          this.storedBaudN = val; // applies at the next power-up
          return this.ack(0);
        }
        if (reg === 5) {
          if (val < 1 || val > 5) return this.ack(0x1b);
          this.security = val;
          return this.ack(0);
        }
        if (reg === 6) {
          if (val > 3) return this.ack(0x1b);
          const r = this.ack(0);
          await r;
          this.packetSizeCode = val;
          return;
        }
        return this.ack(0x1a);
      }
      case CMD.ReadSysPara: {
        const status = (this.verified || this.password === 0 ? 4 : 0) | (this.image ? 8 : 0);
        return this.ack(0, encodeSysParams({
          status, systemId: 0, librarySize: this.m.capacity, securityLevel: this.security, address: this.address,
          packetSizeCode: this.packetSizeCode, baudN: this.storedBaudN,
        }));
      }
      case CMD.GetRandomCode:
        return this.ack(0, randomBytes(4));
      case CMD.SetAdder: {
        const old = this.address;
        this.address = args.readUInt32BE(0);
        await this.transmit(encodeAck(0, [], old)); // this firmware answers from the old address
        this.parser.setAddress(this.address);
        return;
      }
      case CMD.TemplateNum:
        return this.ack(0, [this.library.size >> 8, this.library.size & 0xff]);
      case CMD.ReadIndexTable: {
        const page = args[0];
        if (page > 3) return this.ack(0x1c);
        const bits = Buffer.alloc(32);
        for (const id of this.library.keys()) {
          if (id >> 8 === page) bits[(id & 0xff) >> 3] |= 1 << (id & 7);
        }
        return this.ack(0, bits);
      }
      case CMD.ReadInfPage:
        if (!has.readInfPage) return unsupported();
        await this.ack(0);
        return this.dataOut(Buffer.alloc(512, 0x20));
      case CMD.AuraLedConfig:
        return has.auraLed ? this.ack(0) : unsupported();
      case CMD.CheckSensor:
      case CMD.HandShake:
        return has.checkSensor ? this.ack(0) : unsupported();
      case CMD.ReadProdInfo: {
        if (!has.prodInfo) return unsupported();
        const r = Buffer.alloc(46);
        r.write('R503', 0, 'latin1');
        r.write('SIM1', 16, 'latin1');
        r.write('00000001', 20, 'latin1');
        r[28] = 1;
        r[29] = 2;
        r.write('SIMSENSR', 30, 'latin1');
        r.writeUInt16BE(this.m.width, 38);
        r.writeUInt16BE(this.m.height, 40);
        r.writeUInt16BE(this.m.templateBytes, 42);
        r.writeUInt16BE(this.m.capacity, 44);
        return this.ack(0, r);
      }
      case CMD.SoftRst:
        if (this.model !== 'r503') return unsupported();
        await this.ack(0);
        this.powerOn();
        return;
      default:
        return unsupported();
    }
  }

  /** Data packets of the configured size, 02 … 08; faults can drop the end or cut the line. */
  private async dataOut(data: Buffer): Promise<void> {
    const ps = this.packetSize;
    const gen = this.generation;
    let sent = 0;
    const jobs: Promise<void>[] = [];
    for (let off = 0; off < data.length; off += ps) {
      if (gen !== this.generation) return;
      const chunk = data.subarray(off, Math.min(data.length, off + ps));
      const last = off + ps >= data.length;
      const pid = last && !this.faults.missingEnd ? PID.end : PID.data;
      jobs.push(this.transmit(this.applyFrameFaults(encodeR30x(pid, chunk, this.address))));
      sent += chunk.length;
      if (this.faults.unplugAfterBytes !== undefined) {
        await jobs[jobs.length - 1];
        if (this.maybeUnplugAt(sent)) return;
      }
    }
    if (this.faults.missingEnd) {
      for (let i = 0; i < 2; i++) jobs.push(this.transmit(encodeR30x(PID.data, Buffer.alloc(ps), this.address)));
    }
    await Promise.all(jobs);
  }
}

