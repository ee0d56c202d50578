/**
 * Reads an ICAO 9303 eMRTD (passport or chip ID card) with BAC: SELECT the
 * application, one mutual authentication attempt, secure messaging for every
 * file, chunked READ BINARY, then DG1 parsing, DG2 face extraction and passive
 * authentication.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { DisconnectedError, DeviceTimeoutError, StationError } from '../common/errors';
import { encodeCommand, SW, swHex, type CommandApdu, type ResponseApdu } from './apdu';
import { bacKeys, terminalAuthData, terminalFinish } from './bac';
import type { ApduChannel } from './channel';
import { extractFace, jpeg2000ToJpeg, type FaceImage } from './dg2';
import { mrzInformation, parseDg1, type BacKeyInput, type MrzFields } from './mrz';
import { passiveAuthenticate, type CscaStore, type PassiveAuthResult } from './passive-auth';
import { SecureMessaging, SmError } from './sm';
import { CardDataError, expectTlv, readAll, tlv, tlvTotalLength } from './tlv';

export const EMRTD_AID = Buffer.from('A0000002471001', 'hex');

export const FILES = {
  COM: { fid: 0x011e, name: 'EF.COM' },
  SOD: { fid: 0x011d, name: 'EF.SOD' },
  DG1: { fid: 0x0101, name: 'DG1' },
  DG2: { fid: 0x0102, name: 'DG2' },
} as const;
export type FileKey = keyof typeof FILES;

/** What a chip read yields; used by the enrollment record. */
export interface ChipReadResult {
  dg1: Buffer;
  dg2?: Buffer;
  sod: Buffer;
  com?: Buffer;
  mrz: MrzFields;
  /** The face ready for display (JPEG). Absent when DG2 was not read or could not be converted. */
  faceJpeg?: Buffer;
  /** The face as stored on the chip (JPEG or JPEG 2000), with a note when it could not be converted. */
  face?: FaceImage & { note?: string; errorCode?: string };
  passiveAuth: Pick<PassiveAuthResult, 'verdict' | 'reason'> & Partial<PassiveAuthResult>;
  /** Data groups listed in EF.COM. */
  dataGroupsPresent?: number[];
  reader: string;
  atr: string;
  apduCount: number;
  durationMs: number;
}

export interface ReadOptions {
  bac: BacKeyInput;
  /** Files to read (default COM, DG1, DG2, SOD). DG1 and SOD are always read. */
  readDg2?: boolean;
  csca?: CscaStore;
  logger?: Logger;
  /** Bytes per READ BINARY (default 223 short, 4096 extended). */
  chunkSize?: number;
  /** Convert the face for display (default true). */
  convertFace?: boolean;
}

export const ACCESS_DENIED_MESSAGE = 'access denied — check the document number and dates';

function cmd(ins: number, p1: number, p2: number, data?: Buffer, le?: number): CommandApdu {
  return { cla: 0x00, ins, p1, p2, data, le };
}

/** Turns low-level failures into StationErrors that say which file and what to do. */
function wrapFailure(e: unknown, file: string, reader: string): StationError {
  if (e instanceof StationError) return e;
  if (e instanceof SmError) {
    return new StationError('CARD_SM_FAILED', `secure messaging check failed while reading ${file} on ${reader}: ${e.message}`, {
      hint: 'the chip answer was corrupted or tampered with; lift the card, put it back and read again', cause: e,
    });
  }
  return new StationError('CARD_READ_FAILED', `reading ${file} on ${reader} failed: ${(e as Error).message}`, { hint: 'lift the card, put it back and read again', cause: e });
}

export class EmrtdReader {
  private sm?: SecureMessaging;
  private readonly log?: Logger;

  constructor(private readonly ch: ApduChannel, log?: Logger) {
    this.log = log;
  }

  private async plain(c: CommandApdu): Promise<ResponseApdu> {
    return this.ch.transmit(encodeCommand(c));
  }

  private async secure(c: CommandApdu): Promise<ResponseApdu> {
    if (!this.sm) {
      throw new StationError('CARD_SM_FAILED', `the chip on ${this.ch.reader} ended secure messaging`, { hint: 'lift the card, put it back and read again' });
    }
    const resp = await this.ch.transmit(this.sm.wrap(c, this.ch.extendedLength));
    const r = this.sm.unwrap(Buffer.concat([resp.data, Buffer.from([resp.sw >> 8, resp.sw & 0xff])]));
    if (resp.data.length === 0 && (r.sw === SW.SM_MISSING || r.sw === SW.SM_INCORRECT)) {
      // Plain secure-messaging error: the chip has ended the session.
      this.sm = undefined;
    }
    return r;
  }

  /** Forgets the session keys. */
  end(): void {
    this.sm?.destroy();
    this.sm = undefined;
  }

  async selectApplication(): Promise<void> {
    const r = await this.plain(cmd(0xa4, 0x04, 0x0c, EMRTD_AID));
    if (r.sw !== SW.OK) {
      throw new StationError('CARD_NOT_EMRTD', `the card on ${this.ch.reader} has no ICAO 9303 (passport / ID card) application (${swHex(r.sw)})`, {
        hint: 'check that this is a chip passport or chip ID card and that it lies flat on the reader',
      });
    }
  }

  /** One BAC attempt. A refusal is CARD_ACCESS_DENIED; there is no retry (chips may block after repeated failures). */
  async authenticate(bac: BacKeyInput): Promise<void> {
    const keys = bacKeys(mrzInformation(bac));
    const ch = await this.plain(cmd(0x84, 0, 0, undefined, 8));
    if (ch.sw !== SW.OK || ch.data.length !== 8) {
      throw new StationError('CARD_BAC_FAILED', `the chip on ${this.ch.reader} refused GET CHALLENGE (${swHex(ch.sw)})`, { hint: 'lift the card, put it back and try again' });
    }
    const rndIc = ch.data;
    const rndIfd = randomBytes(8), kIfd = randomBytes(16);
    const ma = await this.plain(cmd(0x82, 0, 0, terminalAuthData(keys, rndIfd, rndIc, kIfd), 40));
    const denied = () => new StationError('CARD_ACCESS_DENIED', ACCESS_DENIED_MESSAGE, {
      hint: 'compare the document number, birth date and expiry date with the printed MRZ; the chip was asked once only',
      details: { reader: this.ch.reader, sw: swHex(ma.sw) },
    });
    if (ma.sw !== SW.OK) {
      keys.kEnc.fill(0);
      keys.kMac.fill(0);
      throw denied();
    }
    const fin = terminalFinish(keys, ma.data, rndIfd, rndIc, kIfd);
    keys.kEnc.fill(0);
    keys.kMac.fill(0);
    kIfd.fill(0);
    if (!fin.ok) {
      this.log?.warn({ reader: this.ch.reader, reason: fin.reason }, 'BAC answer from chip did not verify');
      throw denied();
    }
    this.sm = fin.sm;
  }

  /** SELECT + chunked READ BINARY of one file under secure messaging. Returns undefined if the file does not exist. */
  async readFile(fid: number, name: string, chunkSize?: number): Promise<Buffer | undefined> {
    try {
      const sel = await this.secure(cmd(0xa4, 0x02, 0x0c, Buffer.from([fid >> 8, fid & 0xff])));
      if (sel.sw === SW.FILE_NOT_FOUND) return undefined;
      if (sel.sw !== SW.OK) throw this.swError(name, 'SELECT', sel.sw);
      const head = await this.secure(cmd(0xb0, 0, 0, undefined, 4));
      if (head.sw !== SW.OK && head.sw !== 0x6282) throw this.swError(name, 'READ BINARY', head.sw);
      if (head.data.length < 2) throw new CardDataError(name, 'file is empty');
      const total = tlvTotalLength(head.data, name);
      if (total > 0x100000) throw new CardDataError(name, `declared length ${total} is implausible`);
      const out = Buffer.alloc(total);
      head.data.copy(out, 0, 0, Math.min(head.data.length, total));
      let off = Math.min(head.data.length, total);
      const step = chunkSize ?? (this.ch.extendedLength ? 4096 : 0xdf);
      while (off < total) {
        let n = Math.min(step, total - off);
        let chunk: Buffer;
        if (off <= 0x7fff) {
          const r = await this.secure(cmd(0xb0, off >> 8, off & 0xff, undefined, n));
          if (r.sw !== SW.OK && r.sw !== 0x6282) throw this.swError(name, 'READ BINARY', r.sw);
          chunk = r.data;
        } else {
          // Offsets beyond 15 bits: READ BINARY with odd INS, offset in DO'54', data in DO'53'.
          if (off > 0xffffff) throw new CardDataError(name, `offset ${off} is beyond what READ BINARY can address`);
          const offBytes = off > 0xffff ? Buffer.from([off >> 16, (off >> 8) & 0xff, off & 0xff]) : Buffer.from([off >> 8, off & 0xff]);
          n = Math.min(step, total - off + 4);
          const r = await this.secure(cmd(0xb1, 0, 0, tlv(0x54, offBytes), n));
          if (r.sw !== SW.OK && r.sw !== 0x6282) throw this.swError(name, 'READ BINARY (odd INS)', r.sw);
          chunk = expectTlv(r.data, 0x53, name).value;
        }
        if (chunk.length === 0) throw new CardDataError(name, `chip returned no data at offset ${off} of ${total}`);
        chunk.copy(out, off, 0, Math.min(chunk.length, total - off));
        off += chunk.length;
      }
      return out;
    } catch (e) {
      throw wrapFailure(e, name, this.ch.reader);
    }
  }

  private swError(name: string, op: string, sw: number): StationError {
    if (sw === SW.SECURITY_NOT_SATISFIED || sw === SW.SM_MISSING || sw === SW.SM_INCORRECT) {
      return new StationError('CARD_SM_FAILED', `the chip on ${this.ch.reader} rejected ${op} of ${name} (${swHex(sw)}: secure messaging was not accepted)`, {
        hint: 'lift the card, put it back and read again',
      });
    }
    return new StationError('CARD_READ_FAILED', `the chip on ${this.ch.reader} answered ${swHex(sw)} to ${op} of ${name}`, { hint: 'lift the card, put it back and read again' });
  }
}

/** EF.COM (tag 60): the list of data groups present (tag 5C holds DG tags). */
export function parseCom(com: Buffer): number[] {
  const t = expectTlv(com, 0x60, 'EF.COM');
  const list = readAll(t.value, 'EF.COM').find((x) => x.tag === 0x5c);
  if (!list) throw new CardDataError('EF.COM', 'tag list (5C) is missing');
  const map: Record<number, number> = { 0x61: 1, 0x75: 2, 0x63: 3, 0x76: 4, 0x65: 5, 0x66: 6, 0x67: 7, 0x68: 8, 0x69: 9, 0x6a: 10, 0x6b: 11, 0x6c: 12, 0x6d: 13, 0x6e: 14, 0x6f: 15, 0x70: 16 };
  return [...list.value].map((b) => map[b]).filter((n): n is number => n !== undefined);
}

async function toDisplayJpeg(face: FaceImage): Promise<{ jpeg?: Buffer; note?: string; errorCode?: string }> {
  if (face.format === 'jpeg') return { jpeg: face.raw };
  try {
    if (face.format === 'jpeg2000') return { jpeg: (await jpeg2000ToJpeg(face.raw)).jpeg };
    const sharp = (await import('sharp')).default;
    return { jpeg: await sharp(face.raw).jpeg({ quality: 90 }).toBuffer() };
  } catch (e) {
    // Display only: the verdict and the rest of the read do not depend on it.
    if (e instanceof CardDataError) return { note: `${e.message}; raw bytes kept, no display image`, errorCode: e.code };
    return { note: `the DG2 face image could not be converted for display (${(e as Error).message}); raw bytes kept`, errorCode: 'CARD_BAD_DATA' };
  }
}

/**
 * Full read: application, BAC, EF.COM, DG1, DG2, EF.SOD, passive authentication.
 * Errors are StationErrors: CARD_ACCESS_DENIED (wrong MRZ, asked once), CARD_REMOVED
 * (DisconnectedError), CARD_TIMEOUT (DeviceTimeoutError), CARD_SM_FAILED, CARD_BAD_DATA (names the file).
 */
export async function readDocument(ch: ApduChannel, opts: ReadOptions): Promise<ChipReadResult> {
  const t0 = performance.now();
  const startCount = ch.exchanges;
  const r = new EmrtdReader(ch, opts.logger);
  try {
    return await readWith(r, ch, opts, t0, startCount);
  } finally {
    r.end();
  }
}

async function readWith(r: EmrtdReader, ch: ApduChannel, opts: ReadOptions, t0: number, startCount: number): Promise<ChipReadResult> {
  await r.selectApplication();
  await r.authenticate(opts.bac);
  const com = await r.readFile(FILES.COM.fid, FILES.COM.name, opts.chunkSize);
  const dg1 = await r.readFile(FILES.DG1.fid, FILES.DG1.name, opts.chunkSize);
  if (!dg1) throw new StationError('CARD_READ_FAILED', `the chip on ${ch.reader} has no DG1 (MRZ)`, { hint: 'this document does not follow ICAO 9303; inspect it manually' });
  const dataGroupsPresent = com ? parseCom(com) : undefined;
  const mrz = parseDg1(dg1);
  let dg2: Buffer | undefined;
  if (opts.readDg2 !== false) dg2 = await r.readFile(FILES.DG2.fid, FILES.DG2.name, opts.chunkSize);
  const sod = await r.readFile(FILES.SOD.fid, FILES.SOD.name, opts.chunkSize);
  if (!sod) throw new StationError('CARD_READ_FAILED', `the chip on ${ch.reader} has no EF.SOD`, { hint: 'the document cannot be authenticated; inspect it manually' });
  let face: ChipReadResult['face'];
  let faceJpeg: Buffer | undefined;
  if (dg2) {
    const f = extractFace(dg2);
    if (opts.convertFace !== false) {
      const d = await toDisplayJpeg(f);
      faceJpeg = d.jpeg;
      face = { ...f, ...(d.note ? { note: d.note, errorCode: d.errorCode } : {}) };
    } else face = f;
  }
  const dgs = new Map<number, Buffer>([[1, dg1]]);
  if (dg2) dgs.set(2, dg2);
  const passiveAuth = passiveAuthenticate(sod, dgs, opts.csca);
  opts.logger?.info({ reader: ch.reader, verdict: passiveAuth.verdict, apdus: ch.exchanges - startCount }, 'chip read');
  return {
    dg1, dg2, sod, com, mrz, faceJpeg, face, passiveAuth, dataGroupsPresent,
    reader: ch.reader, atr: ch.atr.toString('hex').toUpperCase(),
    apduCount: ch.exchanges - startCount, durationMs: Math.round(performance.now() - t0),
  };
}

export { DisconnectedError, DeviceTimeoutError };
