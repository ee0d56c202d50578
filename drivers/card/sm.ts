/**
 * ICAO 9303-11 secure messaging (§9.8): 3DES with the retail MAC (BAC, PACE with
 * 3DES) or AES with CMAC (PACE, Chip Authentication with AES): both the terminal
 * side (wrap commands, unwrap and verify responses) and the chip side used by
 * the emulator. SSC is incremented before each command and each response.
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { cmac } from '@noble/ciphers/aes.js';
import { decodeCommand, encodeCommand, joinResponse, splitResponse, type CommandApdu, type ResponseApdu } from './apdu';
import { incrementSsc, retailMac, tdesDecrypt, tdesEncrypt, unpad } from './crypto';
import { readAll, tlv, type Tlv } from './tlv';

export type SmCipherName = '3DES' | 'AES-128' | 'AES-192' | 'AES-256';

/** ISO 9797-1 padding method 2 to a multiple of `block` bytes. */
export function padTo(data: Buffer, block: number): Buffer {
  const n = block - (data.length % block);
  const out = Buffer.alloc(data.length + n);
  data.copy(out);
  out[data.length] = 0x80;
  return out;
}

function aesName(key: Buffer, mode: 'cbc' | 'ecb'): string {
  return `aes-${key.length * 8}-${mode}`;
}

export function aesCbc(key: Buffer, iv: Buffer, data: Buffer, decrypt = false): Buffer {
  const c = decrypt ? createDecipheriv(aesName(key, 'cbc'), key, iv) : createCipheriv(aesName(key, 'cbc'), key, iv);
  c.setAutoPadding(false);
  return Buffer.concat([c.update(data), c.final()]);
}

export function aesEcbBlock(key: Buffer, block: Buffer): Buffer {
  const c = createCipheriv(aesName(key, 'ecb'), key, null);
  c.setAutoPadding(false);
  return Buffer.concat([c.update(block), c.final()]);
}

/** AES-CMAC (NIST SP 800-38B, @noble/ciphers) truncated to 8 bytes, as ICAO 9303 uses it. */
export function aesCmac8(key: Buffer, data: Buffer): Buffer {
  return Buffer.from(cmac(new Uint8Array(data), new Uint8Array(key))).subarray(0, 8);
}

/** The cipher suite of a session: block size, encryption with the SSC-derived IV, and the 8-byte MAC over padded data. */
interface SmSuite {
  block: number;
  encrypt(ksEnc: Buffer, ssc: Buffer, data: Buffer): Buffer;
  decrypt(ksEnc: Buffer, ssc: Buffer, data: Buffer): Buffer;
  mac(ksMac: Buffer, padded: Buffer): Buffer;
}

const SUITES: Record<'3DES' | 'AES', SmSuite> = {
  '3DES': {
    block: 8,
    encrypt: (k, _ssc, d) => tdesEncrypt(k, d),
    decrypt: (k, _ssc, d) => tdesDecrypt(k, d),
    mac: (k, p) => retailMac(k, p),
  },
  AES: {
    // §9.8.6.3: IV = E(KSenc, SSC)
    block: 16,
    encrypt: (k, ssc, d) => aesCbc(k, aesEcbBlock(k, ssc), d),
    decrypt: (k, ssc, d) => aesCbc(k, aesEcbBlock(k, ssc), d, true),
    mac: (k, p) => aesCmac8(k, p),
  },
};

export class SmError extends Error {
  constructor(message: string) { super(message); this.name = 'SmError'; }
}

export interface SessionKeys {
  ksEnc: Buffer;
  ksMac: Buffer;
  ssc: Buffer;
  /** Default 3DES (BAC). */
  cipher?: SmCipherName;
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
  readonly cipher: SmCipherName;
  private readonly suite: SmSuite;

  constructor(keys: SessionKeys) {
    this.ksEnc = Buffer.from(keys.ksEnc);
    this.ksMac = Buffer.from(keys.ksMac);
    this.ssc = Buffer.from(keys.ssc);
    this.cipher = keys.cipher ?? '3DES';
    this.suite = SUITES[this.cipher === '3DES' ? '3DES' : 'AES'];
  }

  /** Largest plaintext one short protected answer (256 bytes) can carry: 3DES 231, AES 223. */
  get maxShortResponse(): number {
    const b = this.suite.block;
    // 256 = DO'87' (tag, 2-byte length, indicator, cipher) + DO'99' (4) + DO'8E' (10)
    const cipher = Math.floor((256 - 4 - 10 - 4) / b) * b;
    return cipher - 1;
  }

  private pad(b: Buffer): Buffer { return padTo(b, this.suite.block); }
  private enc(d: Buffer): Buffer { return this.suite.encrypt(this.ksEnc, this.ssc, this.pad(d)); }
  private dec(d: Buffer): Buffer { return this.suite.decrypt(this.ksEnc, this.ssc, d); }

  /** Overwrites the session keys (call when the read is over). */
  destroy(): void {
    this.ksEnc.fill(0);
    this.ksMac.fill(0);
    this.ssc.fill(0);
  }

  private mac(data: Buffer): Buffer {
    return this.suite.mac(this.ksMac, this.pad(Buffer.concat([this.ssc, data])));
  }

  /** Terminal side: protects a plain command. `extended` makes the outer and DO'97' Le extended. */
  wrap(cmd: CommandApdu, extended = false): Buffer {
    const cla = cmd.cla | 0x0c;
    const header = this.pad(Buffer.from([cla, cmd.ins, cmd.p1, cmd.p2]));
    const dos: Buffer[] = [];
    // The SSC is incremented before the command is protected (AES derives the IV from it).
    incrementSsc(this.ssc);
    if (cmd.data && cmd.data.length) {
      const enc = this.enc(cmd.data);
      // Odd INS (e.g. READ BINARY B1 with an offset object): DO'85' without the padding-indicator byte.
      dos.push((cmd.ins & 1) ? tlv(0x85, enc) : tlv(0x87, Buffer.from([0x01]), enc));
    }
    if (cmd.le !== undefined) dos.push(tlv(0x97, leBytes(cmd.le, extended)));
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
      if (cipher.length % this.suite.block !== 0) throw new SmError('encrypted data object is malformed');
      const plain = unpad(this.dec(cipher));
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
    const header = this.pad(apdu.subarray(0, 4));
    incrementSsc(this.ssc);
    const macInput = Buffer.concat([header, do87 ? do87.raw : Buffer.alloc(0), do97 ? do97.raw : Buffer.alloc(0)]);
    if (!this.mac(macInput).equals(do8e.value)) throw new SmError('command MAC is wrong');
    let data: Buffer | undefined;
    if (do87) {
      const cipher = do87.tag === 0x85 ? do87.value : do87.value.subarray(1);
      if (cipher.length === 0 || cipher.length % this.suite.block !== 0) throw new SmError('command data object is malformed');
      const plain = unpad(this.dec(cipher));
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
    incrementSsc(this.ssc);
    if (data.length) {
      const enc = this.enc(data);
      dos.push(oddIns ? tlv(0x85, enc) : tlv(0x87, Buffer.from([0x01]), enc));
    }
    dos.push(tlv(0x99, Buffer.from([sw >> 8, sw & 0xff])));
    dos.push(tlv(0x8e, this.mac(Buffer.concat(dos))));
    return joinResponse(Buffer.concat(dos), sw);
  }
}
