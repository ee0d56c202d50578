/** ISO 7816-4 command/response APDUs (short and extended length). */

export interface CommandApdu {
  cla: number;
  ins: number;
  p1: number;
  p2: number;
  data?: Buffer;
  /** Expected response length: undefined = none, 256 = short "00", 65536 = extended "0000". */
  le?: number;
}

export interface ResponseApdu {
  data: Buffer;
  sw: number;
}

/** Encodes a command; uses extended length when asked or when the fields do not fit in short form. */
export function encodeCommand(c: CommandApdu, extended = false): Buffer {
  const data = c.data ?? Buffer.alloc(0);
  const ext = extended || data.length > 255 || (c.le !== undefined && c.le > 256);
  const parts: number[] = [c.cla, c.ins, c.p1, c.p2];
  if (!ext) {
    if (data.length) parts.push(data.length);
    const head = Buffer.from(parts);
    const le = c.le === undefined ? Buffer.alloc(0) : Buffer.from([c.le & 0xff]);
    return Buffer.concat([head, data, le]);
  }
  const bufs: Buffer[] = [Buffer.from(parts)];
  if (data.length) bufs.push(Buffer.from([0, data.length >> 8, data.length & 0xff]), data);
  if (c.le !== undefined) {
    const le = c.le & 0xffff;
    bufs.push(data.length ? Buffer.from([le >> 8, le & 0xff]) : Buffer.from([0, le >> 8, le & 0xff]));
  }
  return Buffer.concat(bufs);
}

/** Decodes a command APDU (all four ISO cases, short and extended). Returns undefined if malformed. */
export function decodeCommand(b: Buffer): (CommandApdu & { extended: boolean }) | undefined {
  if (b.length < 4) return undefined;
  const [cla, ins, p1, p2] = [b[0]!, b[1]!, b[2]!, b[3]!];
  const body = b.subarray(4);
  if (body.length === 0) return { cla, ins, p1, p2, extended: false };
  if (body.length === 1) return { cla, ins, p1, p2, le: body[0] || 256, extended: false };
  if (body[0] !== 0) {
    const lc = body[0]!;
    if (body.length === 1 + lc) return { cla, ins, p1, p2, data: body.subarray(1), extended: false };
    if (body.length === 2 + lc) return { cla, ins, p1, p2, data: body.subarray(1, 1 + lc), le: body[1 + lc] || 256, extended: false };
    return undefined;
  }
  // Extended
  if (body.length === 3) return { cla, ins, p1, p2, le: ((body[1]! << 8) | body[2]!) || 65536, extended: true };
  const lc = (body[1]! << 8) | body[2]!;
  if (lc === 0) return undefined;
  if (body.length === 3 + lc) return { cla, ins, p1, p2, data: body.subarray(3), extended: true };
  if (body.length === 5 + lc) {
    const le = (body[3 + lc]! << 8) | body[4 + lc]!;
    return { cla, ins, p1, p2, data: body.subarray(3, 3 + lc), le: le || 65536, extended: true };
  }
  return undefined;
}

export function splitResponse(r: Buffer): ResponseApdu {
  if (r.length < 2) return { data: Buffer.alloc(0), sw: 0x6f00 };
  return { data: r.subarray(0, r.length - 2), sw: (r[r.length - 2]! << 8) | r[r.length - 1]! };
}

export function joinResponse(data: Buffer, sw: number): Buffer {
  return Buffer.concat([data, Buffer.from([sw >> 8, sw & 0xff])]);
}

export function swHex(sw: number): string {
  return sw.toString(16).toUpperCase().padStart(4, '0');
}

export const SW = {
  OK: 0x9000,
  WARN_AUTH_FAILED: 0x6300,
  WRONG_LENGTH: 0x6700,
  SECURITY_NOT_SATISFIED: 0x6982,
  SM_MISSING: 0x6987,
  SM_INCORRECT: 0x6988,
  FILE_NOT_FOUND: 0x6a82,
  WRONG_P1P2: 0x6b00,
  INS_NOT_SUPPORTED: 0x6d00,
  CLA_NOT_SUPPORTED: 0x6e00,
  CONDITIONS_NOT_SATISFIED: 0x6985,
  UNKNOWN: 0x6f00,
} as const;
