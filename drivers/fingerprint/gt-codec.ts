/**
 * GT-521F32/F52 (ADH-Tech) codec and streaming parser. All fields little-endian.
 *  command/response: 55 AA | device id u16 (1) | parameter u32 | code u16 | checksum u16 (sum of bytes 0..9)
 *  data:             5A A5 | device id u16 | N bytes | checksum u16 (sum of every preceding byte)
 * Data packets do not announce their length: the driver tells the parser how many bytes to expect.
 */
import { FrameBuffer } from './frame-buffer';
export const GT_CMD_START = [0x55, 0xaa] as const;
export const GT_DATA_START = [0x5a, 0xa5] as const;
export const GT_ACK = 0x30;
export const GT_NACK = 0x31;
export const GT_DEVICE_ID = 1;

export const GT = {
  Open: 0x01, Close: 0x02, ChangeBaudrate: 0x04, CmosLed: 0x12, GetEnrollCount: 0x20, CheckEnrolled: 0x21,
  EnrollStart: 0x22, Enroll1: 0x23, Enroll2: 0x24, Enroll3: 0x25, IsPressFinger: 0x26, DeleteID: 0x40,
  DeleteAll: 0x41, Verify: 0x50, Identify: 0x51, CaptureFinger: 0x60, MakeTemplate: 0x61, GetImage: 0x62,
  GetRawImage: 0x63, GetTemplate: 0x70, SetTemplate: 0x71, SetSecurityLevel: 0xf0, GetSecurityLevel: 0xf1,
} as const;

export const GT_NACK_TEXT: Readonly<Record<number, string>> = {
  0x1001: 'timeout', 0x1002: 'invalid baud rate', 0x1003: 'invalid position', 0x1004: 'id not used',
  0x1005: 'id already used', 0x1006: 'communication error', 0x1007: 'verify failed', 0x1008: 'identify failed',
  0x1009: 'database full', 0x100a: 'database empty', 0x100b: 'wrong enroll order', 0x100c: 'bad finger',
  0x100d: 'enroll failed', 0x100e: 'command not supported', 0x100f: 'device error', 0x1010: 'capture cancelled',
  0x1011: 'invalid parameter', 0x1012: 'finger not pressed',
};

/** Command code → name (for messages). */
export const GT_COMMAND_NAME: Readonly<Record<number, string>> = Object.fromEntries(Object.entries(GT).map(([k, v]) => [v, k]));

/**
 * A NACK parameter as text, naming the command: the documented meaning, the duplicate id that
 * Enroll3/SetTemplate report (below the capacity), or "unknown" with the raw value — never a bare
 * "error 0x0".
 */
export function gtNackText(code: number, command?: number, capacity?: number): string {
  const c = code >>> 0;
  const known = GT_NACK_TEXT[c];
  if (known) return `${known} (0x${c.toString(16).padStart(4, '0')})`;
  const name = command === undefined ? undefined : GT_COMMAND_NAME[command] ?? `command 0x${command.toString(16)}`;
  const dupOk = command === GT.Enroll3 || command === GT.Enroll1 || command === GT.Enroll2 || command === GT.SetTemplate;
  if (dupOk && capacity !== undefined && c < capacity) return `the finger duplicates template ${c}`;
  return `unknown NACK code 0x${c.toString(16).padStart(4, '0')} (raw value ${c})${name ? ` in the answer to ${name}` : ''}`;
}

function sum16(b: Uint8Array, end: number): number {
  let s = 0;
  for (let i = 0; i < end; i++) s += b[i];
  return s & 0xffff;
}

export function encodeGtPacket(code: number, parameter: number, deviceId = GT_DEVICE_ID): Buffer {
  const b = Buffer.alloc(12);
  b[0] = 0x55;
  b[1] = 0xaa;
  b.writeUInt16LE(deviceId, 2);
  b.writeInt32LE(parameter | 0, 4);
  b.writeUInt16LE(code, 8);
  b.writeUInt16LE(sum16(b, 10), 10);
  return b;
}

export const encodeGtCommand = encodeGtPacket;
export function encodeGtAck(parameter: number): Buffer {
  return encodeGtPacket(GT_ACK, parameter);
}
export function encodeGtNack(error: number): Buffer {
  return encodeGtPacket(GT_NACK, error);
}

export function encodeGtData(data: Uint8Array, deviceId = GT_DEVICE_ID): Buffer {
  const b = Buffer.alloc(6 + data.length);
  b[0] = 0x5a;
  b[1] = 0xa5;
  b.writeUInt16LE(deviceId, 2);
  b.set(data, 4);
  b.writeUInt16LE(sum16(b, 4 + data.length), 4 + data.length);
  return b;
}

export type GtFrame =
  | { kind: 'packet'; deviceId: number; parameter: number; code: number }
  | { kind: 'data'; deviceId: number; data: Buffer };

export interface GtParserStats {
  frames: number;
  discardedBytes: number;
  checksumErrors: number;
  /** R30x-style headers (EF 01) seen among discarded bytes: a hint the model is misconfigured. */
  foreignHeaders: number;
  /** Partial frames given up after the line went quiet. */
  truncated: number;
}

export interface GtParserOptions {
  onFrame: (f: GtFrame) => void;
  onDiscard?: (reason: 'garbage' | 'checksum' | 'unexpected-data', bytes: number) => void;
  /** Largest data packet accepted (bounds memory). */
  maxData?: number;
  /** Device id every packet must carry (default 1). */
  deviceId?: number;
}

export class GtParser extends FrameBuffer<'checksum' | 'unexpected-data'> {
  readonly stats: GtParserStats = { frames: 0, discardedBytes: 0, checksumErrors: 0, foreignHeaders: 0, truncated: 0 };
  private expectData = 0;
  private readonly maxData: number;
  private readonly deviceId: number;
  constructor(private readonly opts: GtParserOptions) {
    super(opts.onDiscard);
    this.maxData = opts.maxData ?? 64 * 1024;
    this.deviceId = opts.deviceId ?? GT_DEVICE_ID;
  }

  /** The next data packet carries n bytes (0 = no data packet expected). */
  expect(n: number): void {
    if (n < 0 || n > this.maxData) throw new RangeError(`GT data length ${n} out of range`);
    this.expectData = n;
  }

  get expecting(): number {
    return this.expectData;
  }

  push(chunk: Uint8Array): void {
    let buf: Buffer = this.buf.length ? Buffer.concat([this.buf, chunk]) : Buffer.from(chunk);
    let pos = 0;
    for (;;) {
      let h = pos;
      while (h < buf.length - 1 && !((buf[h] === 0x55 && buf[h + 1] === 0xaa) || (buf[h] === 0x5a && buf[h + 1] === 0xa5 && this.expectData > 0))) {
        if (buf[h] === 0xef && buf[h + 1] === 0x01) this.stats.foreignHeaders++;
        h++;
      }
      if (h >= buf.length - 1) {
        const last = buf[buf.length - 1];
        const keep = buf.length > pos && (last === 0x55 || (last === 0x5a && this.expectData > 0)) ? 1 : 0;
        const skipped = buf.length - pos - keep;
        if (skipped > 0) this.discard('garbage', skipped);
        pos = buf.length - keep;
        break;
      }
      if (h > pos) this.discard('garbage', h - pos);
      pos = h;
      const isData = buf[pos] === 0x5a;
      if (buf.length - pos < 4) break;
      if (buf.readUInt16LE(pos + 2) !== this.deviceId) {
        // not a packet start (or another device): skip the false header
        this.discard('garbage', 2);
        pos += 2;
        continue;
      }
      const total = isData ? 6 + this.expectData : 12;
      if (buf.length - pos < total) break;
      const sum = buf.readUInt16LE(pos + total - 2);
      const calc = sum16(buf.subarray(pos, pos + total - 2), total - 2);
      if (sum !== calc) {
        this.stats.checksumErrors++;
        this.discard('checksum', 2);
        pos += 2;
        continue;
      }
      const deviceId = buf.readUInt16LE(pos + 2);
      let frame: GtFrame;
      if (isData) {
        frame = { kind: 'data', deviceId, data: Buffer.from(buf.subarray(pos + 4, pos + total - 2)) };
        this.expectData = 0;
      } else {
        frame = { kind: 'packet', deviceId, parameter: buf.readUInt32LE(pos + 4), code: buf.readUInt16LE(pos + 8) };
      }
      pos += total;
      this.stats.frames++;
      this.buf = buf.subarray(pos);
      this.opts.onFrame(frame);
      buf = this.buf;
      pos = 0;
    }
    this.buf = pos === 0 ? buf : Buffer.from(buf.subarray(pos));
  }

}

/** Line time in ms for a GT data packet of n bytes (plus its 6 framing bytes) at baud. */
export function gtLineTimeMs(n: number, baud: number): number {
  return ((n + 6) * 10 * 1000) / baud;
}
