/**
 * R30x / AS608 / ZFM frame codec and a streaming parser.
 *
 * Frame: EF 01 | address u32 | pid u8 | LEN u16 (payload + 2) | payload | checksum u16
 * checksum = (pid + LEN hi + LEN lo + payload bytes) mod 65536; header and address not summed.
 * The parser never throws: garbage, boot bytes, foreign addresses, bad lengths and bad checksums
 * are skipped and counted, and it resynchronises on the next EF 01.
 */
import { FrameBuffer } from './frame-buffer';
export const R30X_HEADER = 0xef01;
export const DEFAULT_ADDRESS = 0xffffffff;

export const PID = { command: 0x01, data: 0x02, ack: 0x07, end: 0x08 } as const;
export type R30xPid = 0x01 | 0x02 | 0x07 | 0x08;

/** Instruction codes (first payload byte of a command). */
export const CMD = {
  GenImg: 0x01, Img2Tz: 0x02, Match: 0x03, Search: 0x04, RegModel: 0x05, Store: 0x06, LoadChar: 0x07,
  UpChar: 0x08, DownChar: 0x09, UpImage: 0x0a, DownImage: 0x0b, DeletChar: 0x0c, Empty: 0x0d,
  SetSysPara: 0x0e, ReadSysPara: 0x0f, SetPwd: 0x12, VfyPwd: 0x13, GetRandomCode: 0x14, SetAdder: 0x15,
  ReadInfPage: 0x16, TemplateNum: 0x1d, ReadIndexTable: 0x1f, GetImageEx: 0x28, AuraLedConfig: 0x35,
  CheckSensor: 0x36, ReadProdInfo: 0x3c, SoftRst: 0x3d, HandShake: 0x40,
} as const;

/** Minimum / maximum LEN values accepted (1-byte payload .. 256-byte data packet). */
export const MIN_LEN = 3;
export const MAX_LEN = 258;
const OVERHEAD = 11; // header 2 + address 4 + pid 1 + len 2 + checksum 2

export interface R30xFrame {
  address: number;
  pid: R30xPid;
  payload: Buffer;
}

export function r30xChecksum(pid: number, payload: Uint8Array): number {
  const len = payload.length + 2;
  let sum = pid + (len >> 8) + (len & 0xff);
  for (let i = 0; i < payload.length; i++) sum += payload[i];
  return sum & 0xffff;
}

export function encodeR30x(pid: R30xPid, payload: Uint8Array, address = DEFAULT_ADDRESS): Buffer {
  if (payload.length + 2 > MAX_LEN || payload.length < 1) throw new RangeError(`R30x payload of ${payload.length} bytes is out of range 1..256`);
  const buf = Buffer.alloc(OVERHEAD + payload.length);
  buf.writeUInt16BE(R30X_HEADER, 0);
  buf.writeUInt32BE(address >>> 0, 2);
  buf[6] = pid;
  buf.writeUInt16BE(payload.length + 2, 7);
  buf.set(payload, 9);
  buf.writeUInt16BE(r30xChecksum(pid, payload), 9 + payload.length);
  return buf;
}

/** Command frame: instruction byte followed by parameters. */
export function encodeCommand(instruction: number, params: Uint8Array | number[] = [], address = DEFAULT_ADDRESS): Buffer {
  const payload = Buffer.alloc(1 + params.length);
  payload[0] = instruction;
  payload.set(params, 1);
  return encodeR30x(PID.command, payload, address);
}

export function encodeAck(code: number, results: Uint8Array | number[] = [], address = DEFAULT_ADDRESS): Buffer {
  const payload = Buffer.alloc(1 + results.length);
  payload[0] = code;
  payload.set(results, 1);
  return encodeR30x(PID.ack, payload, address);
}

export type DiscardReason = 'garbage' | 'checksum' | 'length' | 'pid' | 'address';

export interface ParserStats {
  frames: number;
  discardedBytes: number;
  checksumErrors: number;
  lengthErrors: number;
  pidErrors: number;
  addressMismatches: number;
  /** Partial frames given up after the line went quiet. */
  truncated: number;
}

export interface R30xParserOptions {
  /** Only frames from this address are delivered (default FFFFFFFF). */
  address?: number;
  onFrame: (f: R30xFrame) => void;
  /** Told about every discard (bytes skipped and why). Never throws into the parser. */
  onDiscard?: (reason: DiscardReason, bytes: number) => void;
}

/**
 * Streaming parser. push() any chunk; complete valid frames come out of onFrame in order.
 * Memory is bounded: at most one maximal frame is buffered.
 */
export class R30xParser extends FrameBuffer<DiscardReason> {
  readonly stats: ParserStats = { frames: 0, discardedBytes: 0, checksumErrors: 0, lengthErrors: 0, pidErrors: 0, addressMismatches: 0, truncated: 0 };
  private address: number;
  constructor(private readonly opts: R30xParserOptions) {
    super(opts.onDiscard);
    this.address = (opts.address ?? DEFAULT_ADDRESS) >>> 0;
  }

  setAddress(a: number): void {
    this.address = a >>> 0;
  }

  push(chunk: Uint8Array): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : Buffer.from(chunk);
    let buf = this.buf;
    let pos = 0;
    for (;;) {
      // find header
      let h = pos;
      while (h < buf.length - 1 && !(buf[h] === 0xef && buf[h + 1] === 0x01)) h++;
      if (h >= buf.length - 1) {
        // keep a trailing 0xEF that may start a header
        const keep = buf.length > pos && buf[buf.length - 1] === 0xef ? 1 : 0;
        const skipped = buf.length - pos - keep;
        if (skipped > 0) this.discard('garbage', skipped);
        pos = buf.length - keep;
        break;
      }
      if (h > pos) this.discard('garbage', h - pos);
      pos = h;
      if (buf.length - pos < 9) break; // need header+addr+pid+len
      const pid = buf[pos + 6];
      const len = buf.readUInt16BE(pos + 7);
      if (pid !== 0x01 && pid !== 0x02 && pid !== 0x07 && pid !== 0x08) {
        this.stats.pidErrors++;
        this.discard('pid', 2);
        pos += 2;
        continue;
      }
      if (len < MIN_LEN || len > MAX_LEN) {
        this.stats.lengthErrors++;
        this.discard('length', 2);
        pos += 2;
        continue;
      }
      const total = 9 + len;
      if (buf.length - pos < total) break;
      const payload = buf.subarray(pos + 9, pos + 7 + len);
      const sum = buf.readUInt16BE(pos + 7 + len);
      if (r30xChecksum(pid, payload) !== sum) {
        // a header inside this frame may be the real start: skip only the header bytes
        this.stats.checksumErrors++;
        this.discard('checksum', 2);
        pos += 2;
        continue;
      }
      const address = buf.readUInt32BE(pos + 2);
      if (address !== this.address) {
        this.stats.addressMismatches++;
        this.discard('address', total);
        pos += total;
        continue;
      }
      this.stats.frames++;
      const frame: R30xFrame = { address, pid: pid as R30xPid, payload: Buffer.from(payload) };
      pos += total;
      this.buf = buf.subarray(pos);
      this.opts.onFrame(frame);
      // onFrame may have reset() or pushed; re-read state
      buf = this.buf;
      pos = 0;
    }
    this.buf = pos === 0 ? buf : Buffer.from(buf.subarray(pos));
  }

}

/** Confirmation codes → short text (for error messages). */
export const CONFIRMATION: Readonly<Record<number, string>> = {
  0x00: 'ok', 0x01: 'packet receive error', 0x02: 'no finger on the sensor', 0x03: 'image capture failed',
  0x04: 'image too dry or faint', 0x05: 'image too wet or blurry', 0x06: 'image too disorderly',
  0x07: 'too few features (poor image)', 0x08: 'no match', 0x09: 'not found', 0x0a: 'merge failed',
  0x0b: 'page out of range', 0x0c: 'template read error', 0x0d: 'template upload failed',
  0x0e: 'cannot receive data', 0x0f: 'image upload failed', 0x10: 'delete failed', 0x11: 'clear failed',
  0x12: 'cannot enter low power', 0x13: 'wrong password', 0x14: 'reset failed', 0x15: 'no valid image in buffer',
  0x16: 'upgrade failed', 0x17: 'residual finger', 0x18: 'flash error', 0x19: 'undefined error',
  0x1a: 'bad register number', 0x1b: 'bad register configuration', 0x1c: 'bad notepad page',
  0x1d: 'port operation failed', 0x1e: 'auto-enroll failed', 0x1f: 'library full', 0x20: 'wrong address',
  0x21: 'password must be verified first', 0x22: 'template empty', 0x24: 'library empty', 0x26: 'timeout',
  0x27: 'fingerprint already exists', 0x29: 'sensor hardware error', 0xfc: 'unsupported command',
  0xfd: 'hardware error', 0xfe: 'command failed',
};

export function confirmationText(code: number): string {
  return CONFIRMATION[code] ?? `unknown code 0x${code.toString(16).padStart(2, '0')}`;
}

/** Instruction byte → name (for messages). */
export const COMMAND_NAME: Readonly<Record<number, string>> = Object.fromEntries(Object.entries(CMD).map(([k, v]) => [v, k]));

/**
 * Confirmation codes each command is documented to answer (manuals' command tables), besides the
 * ones any command may get (ANY_COMMAND_CODES). A code outside both is not named as if it meant
 * something for this command: "VfyPwd failed: image too disorderly" would send a technician the
 * wrong way.
 */
export const COMMAND_CODES: Readonly<Record<number, readonly number[]>> = {
  [CMD.GenImg]: [0x02, 0x03, 0x17], [CMD.GetImageEx]: [0x02, 0x03, 0x07, 0x17], [CMD.Img2Tz]: [0x06, 0x07, 0x15],
  [CMD.Match]: [0x08], [CMD.Search]: [0x09], [CMD.RegModel]: [0x0a], [CMD.Store]: [0x0b, 0x18, 0x1f, 0x27],
  [CMD.LoadChar]: [0x0b, 0x0c], [CMD.UpChar]: [0x0d], [CMD.DownChar]: [0x0e], [CMD.UpImage]: [0x0f], [CMD.DownImage]: [0x0e],
  [CMD.DeletChar]: [0x10], [CMD.Empty]: [0x11], [CMD.SetSysPara]: [0x1a, 0x1b], [CMD.ReadSysPara]: [], [CMD.SetPwd]: [],
  [CMD.VfyPwd]: [0x13], [CMD.GetRandomCode]: [], [CMD.SetAdder]: [], [CMD.ReadInfPage]: [], [CMD.TemplateNum]: [],
  [CMD.ReadIndexTable]: [0x1c], [CMD.AuraLedConfig]: [], [CMD.CheckSensor]: [0x29], [CMD.ReadProdInfo]: [], [CMD.SoftRst]: [], [CMD.HandShake]: [],
};
/** Codes any command can get: receive error, password not verified, R503 unsupported / hardware error / failed. */
export const ANY_COMMAND_CODES: readonly number[] = [0x00, 0x01, 0x21, 0xfc, 0xfd, 0xfe];

const hex2 = (c: number): string => `0x${c.toString(16).padStart(2, '0')}`;

/**
 * A confirmation code as text, in the context of the command that got it: the documented meaning
 * when the command can answer it, "unexpected" (with what it means elsewhere) when the code exists
 * but not for this command, "unknown" with the raw value when no manual lists it.
 */
export function confirmationFor(instr: number, code: number): string {
  const name = COMMAND_NAME[instr] ?? `command ${hex2(instr)}`;
  const mine = COMMAND_CODES[instr];
  const known = CONFIRMATION[code];
  if (known !== undefined && (ANY_COMMAND_CODES.includes(code) || mine === undefined || mine.includes(code))) return `${known} (${hex2(code)})`;
  if (known !== undefined) return `unexpected code ${hex2(code)}, which ${name} does not answer (for other commands it means "${known}")`;
  return `unknown code ${hex2(code)} (raw value ${code}) in the answer to ${name}`;
}

/** ReadSysPara results (16 bytes after the confirmation code). */
export interface SysParams {
  status: number;
  systemId: number;
  librarySize: number;
  securityLevel: number;
  address: number;
  packetSizeCode: number;
  packetSize: number;
  baudN: number;
  baud: number;
}

/** Throws RangeError on a short answer; the driver turns it into an error that names the port. */
export function parseSysParams(r: Buffer): SysParams {
  if (r.length < 16) throw new RangeError(`ReadSysPara returned ${r.length} bytes of parameters, expected 16`);
  const packetSizeCode = r.readUInt16BE(12);
  const baudN = r.readUInt16BE(14);
  return {
    status: r.readUInt16BE(0), systemId: r.readUInt16BE(2), librarySize: r.readUInt16BE(4), securityLevel: r.readUInt16BE(6),
    address: r.readUInt32BE(8), packetSizeCode, packetSize: 32 << Math.min(packetSizeCode, 3), baudN, baud: baudN * 9600,
  };
}

export function encodeSysParams(p: Omit<SysParams, 'packetSize' | 'baud'>): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt16BE(p.status, 0);
  b.writeUInt16BE(p.systemId, 2);
  b.writeUInt16BE(p.librarySize, 4);
  b.writeUInt16BE(p.securityLevel, 6);
  b.writeUInt32BE(p.address >>> 0, 8);
  b.writeUInt16BE(p.packetSizeCode, 12);
  b.writeUInt16BE(p.baudN, 14);
  return b;
}

/** Line time in ms for a data-out transfer of `bytes` at `packetSize` and `baud` (8N1 = 10 bits/byte). */
export function r30xLineTimeMs(bytes: number, packetSize: number, baud: number): number {
  const packets = Math.ceil(bytes / packetSize);
  return (packets * (OVERHEAD + packetSize) * 10 * 1000) / baud;
}
