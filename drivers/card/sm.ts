/**
 * ICAO 9303-11 secure messaging with 3DES (BAC session keys): both the terminal
 * side (wrap commands, unwrap and verify responses) and the chip side used by
 * the emulator. SSC is incremented before each command and each response.
 */
import { decodeCommand, encodeCommand, joinResponse, splitResponse, type CommandApdu, type ResponseApdu } from './apdu';
import { incrementSsc, pad, retailMac, tdesDecrypt, tdesEncrypt, unpad } from './crypto';
import { readAll, tlv, type Tlv } from './tlv';

export class SmError extends Error {
  constructor(message: string) { super(message); this.name = 'SmError'; }
}

export interface SessionKeys {
  ksEnc: Buffer;
  ksMac: Buffer;
  ssc: Buffer;
}

function leBytes(le: number, extended: boolean): Buffer {
  if (extended || le > 256) {
    const v = le === 65536 ? 0 : le;
    return Buffer.from([v >> 8, v & 0xff]);
  }
  return Buffer.from([le === 256 ? 0 : le]);
}

export class SecureMessaging {
  readonly ksEnc: Buffer;
  readonly ksMac: Buffer;
  readonly ssc: Buffer;

  constructor(keys: SessionKeys) {
    this.ksEnc = Buffer.from(keys.ksEnc);
    this.ksMac = Buffer.from(keys.ksMac);
    this.ssc = Buffer.from(keys.ssc);
  }

  /** Overwrites the session keys (call when the read is over). */
  destroy(): void {
    this.ksEnc.fill(0);
    this.ksMac.fill(0);
    this.ssc.fill(0);
  }

  private mac(data: Buffer): Buffer {
    return retailMac(this.ksMac, pad(Buffer.concat([this.ssc, data])));
  }

  /** Terminal side: protects a plain command. `extended` makes the outer and DO'97' Le extended. */
  wrap(cmd: CommandApdu, extended = false): Buffer {
    const cla = cmd.cla | 0x0c;
    const header = pad(Buffer.from([cla, cmd.ins, cmd.p1, cmd.p2]));
    const dos: Buffer[] = [];
    if (cmd.data && cmd.data.length) {
      const enc = tdesEncrypt(this.ksEnc, pad(cmd.data));
      // Odd INS (e.g. READ BINARY B1 with an offset object): DO'85' without the padding-indicator byte.
      dos.push((cmd.ins & 1) ? tlv(0x85, enc) : tlv(0x87, Buffer.from([0x01]), enc));
    }
    if (cmd.le !== undefined) dos.push(tlv(0x97, leBytes(cmd.le, extended)));
    incrementSsc(this.ssc);
    const cc = this.mac(Buffer.concat([header, ...dos]));
    dos.push(tlv(0x8e, cc));
    return encodeCommand({ cla, ins: cmd.ins, p1: cmd.p1, p2: cmd.p2, data: Buffer.concat(dos), le: extended ? 65536 : 256 }, extended);
  }

  /**
   * Terminal side: verifies the MAC of a protected response and decrypts it.
   * A response without data objects (plain error status) is returned as is.
   * Throws SmError when the MAC or the structure is wrong.
   */
  unwrap(resp: Buffer): ResponseApdu {
    const r = splitResponse(resp);
    if (r.data.length === 0) return r;
    let dos: Tlv[];
    try { dos = readAll(r.data, 'secure messaging response'); } catch { throw new SmError('response data objects are malformed'); }
    const do87 = dos.find((d) => d.tag === 0x87 || d.tag === 0x85);
    const do99 = dos.find((d) => d.tag === 0x99);
    const do8e = dos.find((d) => d.tag === 0x8e);
    if (!do8e || do8e.value.length !== 8) throw new SmError('response has no MAC (DO 8E)');
    if (!do99 || do99.value.length !== 2) throw new SmError('response has no protected status (DO 99)');
    incrementSsc(this.ssc);
    const macInput = Buffer.concat([do87 ? do87.raw : Buffer.alloc(0), do99.raw]);
    if (!this.mac(macInput).equals(do8e.value)) throw new SmError('response MAC is wrong');
    let data: Buffer = Buffer.alloc(0);
    if (do87) {
      const cipher = do87.tag === 0x85 ? do87.value : do87.value.subarray(1);
      if ((do87.tag === 0x87 && do87.value[0] !== 0x01) || cipher.length === 0 || cipher.length % 8 !== 0) throw new SmError('encrypted data object is malformed');
      const plain = unpad(tdesDecrypt(this.ksEnc, cipher));
      if (!plain) throw new SmError('encrypted data has bad padding');
      data = plain;
    }
    return { data, sw: (do99.value[0]! << 8) | do99.value[1]! };
  }

  /** Chip side: verifies and decrypts a protected command. Throws SmError when it is wrong. */
  unwrapCommand(apdu: Buffer): CommandApdu & { extended: boolean } {
    const c = decodeCommand(apdu);
    if (!c) throw new SmError('command is malformed');
    if ((c.cla & 0x0c) !== 0x0c) throw new SmError('command is not protected');
    let dos: Tlv[];
    try { dos = readAll(c.data ?? Buffer.alloc(0), 'secure messaging command'); } catch { throw new SmError('command data objects are malformed'); }
    const do87 = dos.find((d) => d.tag === 0x87 || d.tag === 0x85);
    const do97 = dos.find((d) => d.tag === 0x97);
    const do8e = dos.find((d) => d.tag === 0x8e);
    if (!do8e) throw new SmError('command has no MAC');
    const header = pad(apdu.subarray(0, 4));
    incrementSsc(this.ssc);
    const macInput = Buffer.concat([header, do87 ? do87.raw : Buffer.alloc(0), do97 ? do97.raw : Buffer.alloc(0)]);
    if (!this.mac(macInput).equals(do8e.value)) throw new SmError('command MAC is wrong');
    let data: Buffer | undefined;
    if (do87) {
      const cipher = do87.tag === 0x85 ? do87.value : do87.value.subarray(1);
      if (cipher.length === 0 || cipher.length % 8 !== 0) throw new SmError('command data object is malformed');
      const plain = unpad(tdesDecrypt(this.ksEnc, cipher));
      if (!plain) throw new SmError('command data has bad padding');
      data = plain;
    }
    let le: number | undefined;
    if (do97) {
      const v = do97.value;
      le = v.length === 1 ? (v[0] || 256) : (((v[0]! << 8) | v[1]!) || 65536);
    }
    return { cla: c.cla & ~0x0c, ins: c.ins, p1: c.p1, p2: c.p2, data, le, extended: c.extended };
  }

  /** Chip side: protects a response. */
  wrapResponse(data: Buffer, sw: number, oddIns = false): Buffer {
    const dos: Buffer[] = [];
    if (data.length) {
      const enc = tdesEncrypt(this.ksEnc, pad(data));
      dos.push(oddIns ? tlv(0x85, enc) : tlv(0x87, Buffer.from([0x01]), enc));
    }
    dos.push(tlv(0x99, Buffer.from([sw >> 8, sw & 0xff])));
    incrementSsc(this.ssc);
    dos.push(tlv(0x8e, this.mac(Buffer.concat(dos))));
    return joinResponse(Buffer.concat(dos), sw);
  }
}
