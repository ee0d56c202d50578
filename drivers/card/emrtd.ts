/**
 * Reads an ICAO 9303 eMRTD (passport or chip ID card) with BAC: SELECT the
 * application, one mutual authentication attempt, secure messaging for every
 * file, chunked READ BINARY, then DG1 parsing, DG2 face extraction and passive
 * authentication.
 */
import { randomBytes, type KeyObject } from 'node:crypto';
import type { Logger } from 'pino';
import { DisconnectedError, DeviceTimeoutError, StationError, UsageError } from '../common/errors';
import { encodeCommand, SW, swHex, type CommandApdu, type ResponseApdu } from './apdu';
import { bacKeys, terminalAuthData, terminalFinish } from './bac';
import {
  authToken, camDecrypt, camVerify, choosePace, decryptNonce, gaData, imNonceLength, kdf, oidBytes, PaceGroup, parseCardAccess, passwordBytes, passwordReference, randomScalar, sessionKeys,
  type DomainParameters, type PaceInfo, type PaceMapping, type PacePassword,
} from './pace';
import type { ApduChannel } from './channel';
import {
  AA_CURVES, aaAlgorithmSupported, caGroup, chooseChipAuth, cloneFailure, HASH_LABEL, parseDg14, parseDg15, verifyActiveAuth, type ChipAuthAlgorithm, type ChipAuthKey, type CloneCheck, type Dg14, type UnsupportedAaKey,
} from './clone';
import { cccdIdFromMrz, parseCccdDg13, type CccdDetails } from './cccd';
import { extractFace, jpeg2000ToJpeg, type FaceImage } from './dg2';
import { mrzInformation, parseDg1, type BacKeyInput, type MrzFields } from './mrz';
import { passiveAuthenticate, type CscaStore, type PassiveAuthResult } from './passive-auth';
import { SecureMessaging, SmError } from './sm';
import { CardDataError, encodeLength, expectTlv, readAll, tlv, tlvTotalLength } from './tlv';

export const EMRTD_AID = Buffer.from('A0000002471001', 'hex');

export const FILES = {
  COM: { fid: 0x011e, name: 'EF.COM' },
  SOD: { fid: 0x011d, name: 'EF.SOD' },
  DG1: { fid: 0x0101, name: 'DG1' },
  DG2: { fid: 0x0102, name: 'DG2' },
  DG13: { fid: 0x010d, name: 'DG13' },
  DG14: { fid: 0x010e, name: 'DG14' },
  DG15: { fid: 0x010f, name: 'DG15' },
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
  /** DG13 as read (national data; checked by passive authentication like DG1/DG2). */
  dg13?: Buffer;
  /** Vietnamese citizen card: the holder's details decoded from DG13 (issuing state VNM only). */
  cccd?: CccdDetails;
  /** Why DG13 could not be decoded (the read and the verdict do not depend on it). */
  cccdError?: { code: string; message: string };
  dg14?: Buffer;
  dg15?: Buffer;
  /** Clone detection: Chip Authentication (DG14) or Active Authentication (DG15), fail closed (config/domain.ts CLONE_VERDICTS). */
  clone: CloneCheck;
  /** The 12-digit national ID number: DG13 field 1, else the start of a Vietnamese TD1 MRZ's optional data. */
  nationalId?: string;
  /** Which access control ran (PACE or BAC, with what). */
  access: AccessControl;
  /** READ BINARY Le used for the data groups (the largest the chip and secure messaging allow). */
  chunkBytes: number;
  reader: string;
  atr: string;
  apduCount: number;
  durationMs: number;
}

export interface ReadOptions {
  /** The MRZ fields (document number, birth and expiry dates): BAC, or PACE with the MRZ. */
  bac?: BacKeyInput;
  /** The 6-digit card access number printed on the card: PACE with the CAN (preferred when given). */
  can?: string;
  /** Never use BAC, even when the chip offers it (a PACE-only policy). */
  paceOnly?: boolean;
  /** Files to read (default COM, DG1, DG2, SOD). DG1 and SOD are always read. */
  readDg2?: boolean;
  /** Read DG13 when EF.COM lists it (default true). */
  readDg13?: boolean;
  csca?: CscaStore;
  logger?: Logger;
  /** Bytes per READ BINARY (default 223 short, 4096 extended). */
  chunkSize?: number;
  /** Convert the face for display (default true). */
  convertFace?: boolean;
}

export const ACCESS_DENIED_MESSAGE = 'access denied — check the document number and dates';
export const CAN_DENIED_MESSAGE = 'access denied — check the 6-digit card access number (CAN)';

/** Which access control opened the chip, for the record. */
export interface AccessControl {
  protocol: 'PACE' | 'BAC';
  password: 'MRZ' | 'CAN';
  cipher: string;
  /** PACE mapping that ran: Generic, Integrated or Chip Authentication Mapping (ICAO 9303-11 §4.4.3.3). */
  mapping?: PaceMapping;
  agreement?: string;
  domain?: string;
  oid?: string;
  /** Why BAC ran although the chip lists PACE (or why PACE was not tried). */
  note?: string;
  /** Secure messaging continued under Chip Authentication keys (what ran). */
  chipAuthentication?: string;
}

function describePace(info: PaceInfo, domain: DomainParameters): string {
  return `PACE ${info.algorithm.agreement}-${info.algorithm.mapping} ${info.algorithm.cipher} on ${domain.name}`;
}

/** The chip refused PACE before any password-dependent step: BAC may still work. */
export class PaceRefusedError extends StationError {
  constructor(message: string, readonly sw: number) {
    super('CARD_PACE_REFUSED', message, { hint: 'the chip does not accept PACE as offered; read it with the MRZ (BAC)' });
  }
}

/** A PACE step refused after the nonce (not a password verdict): the read stops with a named step. */
class PaceStepError extends StationError {
  constructor(readonly step: string, readonly sw: number) {
    super('CARD_PACE_FAILED', `the chip answered ${swHex(sw)} to the PACE step "${step}"`, { hint: 'lift the card, put it back and read again; if it repeats, inspect the document manually' });
  }
}

function accessDenied(reader: string, password: PacePassword, sw: number, attemptsLeft?: number): StationError {
  const base = password.kind === 'CAN' ? CAN_DENIED_MESSAGE : ACCESS_DENIED_MESSAGE;
  const left = attemptsLeft === undefined ? '' : attemptsLeft === 0 ? ' (no attempts left: the chip now refuses this password)' : ` (${attemptsLeft} attempt${attemptsLeft === 1 ? '' : 's'} left)`;
  return new StationError('CARD_ACCESS_DENIED', `${base}${left}`, {
    hint: password.kind === 'CAN' ? 'type the six digits printed on the front of the card; the chip was asked once only' : 'compare the document number, birth date and expiry date with the printed MRZ; the chip was asked once only',
    details: { reader, sw: swHex(sw), password: password.kind, ...(attemptsLeft !== undefined ? { attemptsLeft } : {}) },
  });
}

function paceBlocked(reader: string, password: PacePassword, sw: number): StationError {
  return new StationError('CARD_PACE_BLOCKED', `the chip on ${reader} has blocked PACE with the ${password.kind === 'CAN' ? 'card access number' : 'MRZ'} after too many wrong attempts (${swHex(sw)})`, {
    hint: 'the card cannot be read at this booth; send the holder to the issuing office', details: { reader, sw: swHex(sw), password: password.kind, attemptsLeft: 0 },
  });
}

/** The MRZ password is suspended (one try left, 63C1): the chip accepts it again only after a PACE with the CAN. */
export const PACE_SUSPENDED_MESSAGE = 'the chip has suspended access with the MRZ after wrong attempts — enter the 6-digit card access number (CAN) printed on the card';
function paceSuspended(reader: string, sw: number): StationError {
  return new StationError('CARD_PACE_SUSPENDED', PACE_SUSPENDED_MESSAGE, {
    hint: 'type the six digits printed on the front of the card; with the CAN the chip opens and the MRZ counter is left alone',
    details: { reader, sw: swHex(sw), password: 'MRZ', attemptsLeft: 1, suspended: true },
  });
}

/** Outcome of PACE with Chip Authentication Mapping, checked against DG14 after the application is selected. */
export type CamResult = { ok: true; caIc: bigint; pkMapIc: Buffer; domain: DomainParameters } | { ok: false; detail: string; domain: DomainParameters };

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

/** Largest short Le under secure messaging: 223 plaintext bytes fill one 256-byte protected answer (DO'87' with 224 cipher bytes, DO'99', DO'8E'). */
export const SHORT_CHUNK = 0xdf;
/** Chunk for extended-length reads when the chip gives no buffer size: 4 KB. */
export const EXTENDED_CHUNK = 4096;
/** Files larger than this are refused as implausible (a DG2 with several high-resolution faces stays well below). */
export const MAX_FILE_BYTES = 0x400000;
/** Answers meaning "no READ BINARY by short file identifier here" (wrong P1-P2, function or command not supported, wrong length). */
const SFI_UNSUPPORTED = new Set([0x6a86, 0x6b00, 0x6d00, 0x6981, 0x6a81, 0x6700, 0x6e00]);

export class EmrtdReader {
  private sm?: SecureMessaging;
  /** The chip refused an SFI read once: select files by FID from then on. */
  private noSfi = false;
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

  /**
   * A protected command whose data may not fit one short APDU (a 2048-bit DH
   * key for Chip Authentication): extended length when the chip has it, else
   * ISO/IEC 7816-4 command chaining (CLA bit 10 on every part but the last,
   * each part protected on its own).
   */
  private async secureLong(c: CommandApdu): Promise<ResponseApdu> {
    const max = SHORT_CHUNK;
    if (this.ch.extendedLength || !c.data || c.data.length <= max) return this.secure(c);
    for (let off = 0; ; off += max) {
      const part = c.data.subarray(off, off + max);
      if (off + max >= c.data.length) return this.secure({ ...c, data: part });
      const r = await this.secure({ ...c, cla: c.cla | 0x10, data: part, le: undefined });
      if (r.sw !== SW.OK) return r;
    }
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
      details: { reader: this.ch.reader, sw: swHex(ma.sw), password: 'MRZ' },
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
    this.access = { protocol: 'BAC', password: 'MRZ', cipher: '3DES' };
  }

  /** Largest command and response data field, from EF.ATR/INFO (DO'7F66'), when the chip has one. */
  bufferSizes?: { maxCommand: number; maxResponse: number };

  /**
   * The largest READ BINARY Le: with extended length, the most plaintext one
   * protected answer of the chip's largest response (EF.ATR/INFO) holds, else
   * 4 KB; with short APDUs what one 256-byte protected answer holds.
   */
  maxReadLength(): number {
    if (!this.ch.extendedLength) return this.sm?.maxShortResponse ?? SHORT_CHUNK;
    const max = this.bufferSizes?.maxResponse;
    if (!max) return EXTENDED_CHUNK;
    // DO'87' (tag, 3-byte length, indicator) + DO'99' (4) + DO'8E' (10) around the padded cipher text.
    const block = this.sm?.cipher === '3DES' || !this.sm ? 8 : 16;
    const cipher = Math.floor((Math.min(max, 65536) - 4 - 1 - 4 - 10) / block) * block;
    return Math.max(cipher - 1, SHORT_CHUNK);
  }

  /**
   * EF.ATR/INFO (2F01) in the clear by SFI 01, read only when the ATR announces
   * extended length: its DO'7F66' gives the largest command and response the
   * chip accepts. Absent or unreadable: nothing (4 KB chunks are used).
   */
  async readAtrInfo(): Promise<void> {
    const r = await this.plain(cmd(0xb0, 0x81, 0, undefined, 256));
    if ((r.sw !== SW.OK && r.sw !== 0x6282) || r.data.length === 0) return;
    try {
      const find = (b: Buffer, depth: number): Buffer | undefined => {
        for (const t of readAll(b, 'EF.ATR/INFO')) {
          if (t.tag === 0x7f66) return t.value;
          if ((t.tag & 0x20 || t.tag > 0xff) && depth < 2) { const v = find(t.value, depth + 1); if (v) return v; }
        }
        return undefined;
      };
      const el = find(r.data, 0);
      if (!el) return;
      const ints = readAll(el, 'EF.ATR/INFO').filter((t) => t.tag === 0x02 && t.value.length >= 1 && t.value.length <= 3).map((t) => t.value.reduce((a, x) => a * 256 + x, 0));
      if (ints.length >= 2 && ints[0]! > 0 && ints[1]! > 0) this.bufferSizes = { maxCommand: ints[0]!, maxResponse: ints[1]! };
    } catch (e) {
      if (!(e instanceof CardDataError)) throw e;
      this.log?.warn({ reader: this.ch.reader, err: e.message }, 'EF.ATR/INFO is malformed; using 4 KB chunks');
    }
  }

  /** Which access control ran (set by authenticate / pace). */
  access?: AccessControl;
  /** After PACE-CAM: the chip authentication data to check against DG14 (undefined for other mappings). */
  cam?: CamResult;
  /** EF.CardAccess as read at the first opening (undefined bytes: the chip has none). */
  cardAccessRead?: { bytes?: Buffer };

  /**
   * Chip Authentication (ICAO 9303-11 §6.2) under the current secure messaging:
   * an ephemeral ECDH or DH key on DG14's domain; MSE:Set KAT (3DES) or MSE:Set AT +
   * GENERAL AUTHENTICATE (AES); then secure messaging restarts under keys from
   * the shared secret with SSC 0. The proof is the caller's next READ BINARY,
   * which must verify under the new keys (no extra APDU).
   */
  async chipAuthenticate(alg: ChipAuthAlgorithm, key: ChipAuthKey): Promise<{ ok: true } | { ok: false; code: 'ca-refused'; detail: string }> {
    const domain = key.domain!;
    const group = caGroup(domain);
    const sk = randomScalar(domain);
    const pk = group.publicKey(sk);
    const shared = group.agree(sk, key.publicKey);
    const kid = key.keyId !== undefined ? [tlv(0x84, Buffer.from([key.keyId]))] : [];
    if (alg.cipher === '3DES') {
      const r = await this.secureLong(cmd(0x22, 0x41, 0xa6, Buffer.concat([tlv(0x91, pk), ...kid])));
      if (r.sw !== SW.OK) { shared.fill(0); return { ok: false, code: 'ca-refused', detail: `MSE:Set KAT answered ${swHex(r.sw)}` }; }
    } else {
      const set = await this.secure(cmd(0x22, 0x41, 0xa4, Buffer.concat([tlv(0x80, oidBytes(alg.oid)), ...kid])));
      if (set.sw !== SW.OK) { shared.fill(0); return { ok: false, code: 'ca-refused', detail: `MSE:Set AT answered ${swHex(set.sw)}` }; }
      const ga = await this.secureLong({ cla: 0, ins: 0x86, p1: 0, p2: 0, data: tlv(0x7c, tlv(0x80, pk)), le: 256 });
      if (ga.sw !== SW.OK) { shared.fill(0); return { ok: false, code: 'ca-refused', detail: `GENERAL AUTHENTICATE answered ${swHex(ga.sw)}` }; }
    }
    this.sm?.destroy();
    const keys = sessionKeys(shared, alg.cipher);
    shared.fill(0);
    this.sm = new SecureMessaging(keys);
    keys.ksEnc.fill(0); keys.ksMac.fill(0);
    return { ok: true };
  }

  /**
   * Active Authentication: INTERNAL AUTHENTICATE with an 8-byte challenge; the
   * answer is verified with DG15's key (an RSA-2048 or larger answer needs an
   * extended-length reader and chip: it does not fit a short protected response).
   */
  async activeAuthenticate(key: KeyObject, ecdsaAlgorithm?: string): Promise<{ ok: true; hash: string } | { ok: false; code: 'aa-refused' | 'aa-bad-signature' | 'unsupported-algorithm'; detail: string }> {
    const rnd = randomBytes(8);
    const r = await this.secure(cmd(0x88, 0, 0, rnd, this.ch.extendedLength ? 65536 : 256));
    if (r.sw !== SW.OK || r.data.length === 0) return { ok: false, code: 'aa-refused', detail: `INTERNAL AUTHENTICATE answered ${swHex(r.sw)}` };
    const v = verifyActiveAuth(key, rnd, r.data, ecdsaAlgorithm);
    return v.ok ? v : { ok: false, code: v.unsupported ? 'unsupported-algorithm' : 'aa-bad-signature', detail: v.why };
  }

  /**
   * EF.CardAccess, read in the clear before anything is selected: READ BINARY by
   * SFI 1C (no MF select: some chips, e.g. Vietnam's citizen card, answer 6D00 to
   * SELECT MF), else SELECT 011C with P1=02. Undefined when the chip has none.
   */
  async readCardAccess(): Promise<Buffer | undefined> {
    const F = 'EF.CardAccess';
    let first = await this.plain(cmd(0xb0, 0x9c, 0, undefined, 256));
    if (first.sw === SW.FILE_NOT_FOUND) return undefined;
    if (first.sw !== SW.OK && first.sw !== 0x6282) {
      if (!SFI_UNSUPPORTED.has(first.sw)) return undefined;
      const sel = await this.plain(cmd(0xa4, 0x02, 0x0c, Buffer.from([0x01, 0x1c])));
      if (sel.sw !== SW.OK) return undefined;
      first = await this.plain(cmd(0xb0, 0, 0, undefined, 256));
      if (first.sw !== SW.OK && first.sw !== 0x6282) return undefined;
    }
    if (first.data.length === 0) return undefined;
    const total = tlvTotalLength(first.data, F);
    if (total > 0x8000) throw new CardDataError(F, `declared length ${total} is implausible`);
    const parts: Buffer[] = [first.data];
    let off = first.data.length;
    while (off < total) {
      const r = await this.plain(cmd(0xb0, off >> 8, off & 0xff, undefined, Math.min(256, total - off)));
      if ((r.sw !== SW.OK && r.sw !== 0x6282) || r.data.length === 0) throw new CardDataError(F, `the chip answered ${swHex(r.sw)} at offset ${off}`);
      parts.push(r.data);
      off += r.data.length;
    }
    return Buffer.concat(parts).subarray(0, total);
  }

  /** GENERAL AUTHENTICATE step: chained (CLA 10) except the last one. */
  private async ga(inner: Buffer, last: boolean, step: string): Promise<Buffer> {
    const r = await this.ch.transmit(encodeCommand({ cla: last ? 0x00 : 0x10, ins: 0x86, p1: 0, p2: 0, data: tlv(0x7c, inner), le: 256 }));
    if (r.sw !== SW.OK) throw new PaceStepError(step, r.sw);
    return r.data;
  }

  /**
   * PACE with Generic Mapping (ICAO 9303-11 §4.4): MSE:Set AT, then four GENERAL
   * AUTHENTICATE steps (encrypted nonce, mapping, key agreement, tokens); secure
   * messaging starts with SSC 0. One attempt only. A wrong password is
   * CARD_ACCESS_DENIED; a chip that refuses PACE before the nonce is PaceRefusedError
   * (the caller may fall back to BAC).
   */
  async pace(password: PacePassword, info: PaceInfo, domain: DomainParameters, fixedKeys?: { map?: bigint; agree?: bigint; t?: Buffer }): Promise<void> {
    const alg = info.algorithm;
    const mse = Buffer.concat([tlv(0x80, oidBytes(alg.oid)), tlv(0x83, Buffer.from([passwordReference(password)])), ...(info.parameterId !== undefined ? [tlv(0x84, Buffer.from([info.parameterId]))] : [])]);
    const set = await this.plain(cmd(0x22, 0xc1, 0xa4, mse));
    let attemptsLeft: number | undefined;
    // BSI TR-03110-3 §B.11 (retry counter): 63C2… tries left, 63C1 suspended (the MRZ works again only after a PACE
    // with the CAN), 63C0 blocked; 6983 is the older "authentication method blocked".
    if (set.sw === 0x6983 || set.sw === 0x63c0) throw paceBlocked(this.ch.reader, password, set.sw);
    if (set.sw === 0x63c1 && password.kind === 'MRZ') throw paceSuspended(this.ch.reader, set.sw);
    if ((set.sw & 0xfff0) === 0x63c0) attemptsLeft = set.sw & 0x0f;
    else if (set.sw !== SW.OK) throw new PaceRefusedError(`the chip refused MSE:Set AT for ${describePace(info, domain)} (${swHex(set.sw)})`, set.sw);
    const kPi = kdf(passwordBytes(password), 3, alg.cipher);
    let z: Buffer;
    try { z = gaData(await this.ga(Buffer.alloc(0), false, 'the encrypted nonce'), 0x80, 'the encrypted nonce'); } catch (e) {
      if (e instanceof PaceStepError) throw new PaceRefusedError(`the chip refused to start PACE (${swHex(e.sw)})`, e.sw);
      throw e;
    }
    const s = decryptNonce(kPi, z, alg.cipher, alg.mapping);
    kPi.fill(0);
    const group = new PaceGroup(domain);
    let pkMapIc: Buffer | undefined;
    if (alg.mapping === 'IM') {
      // §4.4.3.3.2 / §4.4.5.2.2: the terminal's nonce t goes in clear; the chip's mapping data (82) is empty.
      const t = fixedKeys?.t ?? randomBytes(imNonceLength(alg.cipher));
      const r = await this.ga(tlv(0x81, t), false, 'the mapping');
      const outer = readAll(r, 'PACE');
      if (outer.length !== 1 || outer[0]!.tag !== 0x7c) throw new CardDataError('PACE', 'the answer to the mapping is not a dynamic authentication data object (7C)');
      const inner = readAll(outer[0]!.value, 'PACE');
      if (inner.some((x) => x.tag !== 0x82 || x.value.length !== 0)) throw new CardDataError('PACE', 'the chip answered the Integrated Mapping with mapping data (82 must be empty)');
      group.mapIntegrated(s, t, alg.cipher);
    } else {
      const skMap = fixedKeys?.map ?? randomScalar(domain);
      const pkMap = group.publicKey(skMap);
      pkMapIc = gaData(await this.ga(tlv(0x81, pkMap), false, 'the mapping'), 0x82, 'the mapping');
      group.checkPublic(pkMapIc, "the chip's mapping key");
      if (pkMapIc.equals(pkMap)) throw new CardDataError('PACE', "the chip's mapping key equals the terminal's");
      group.mapGeneric(s, skMap, pkMapIc);
    }
    s.fill(0);
    const skDh = fixedKeys?.agree ?? randomScalar(domain);
    const pkDh = group.publicKey(skDh);
    const pkDhIc = gaData(await this.ga(tlv(0x83, pkDh), false, 'the key agreement'), 0x84, 'the key agreement');
    group.checkPublic(pkDhIc, "the chip's ephemeral key");
    if (pkDhIc.equals(pkDh)) throw new CardDataError('PACE', "the chip's ephemeral key equals the terminal's");
    const shared = group.agree(skDh, pkDhIc);
    const keys = sessionKeys(shared, alg.cipher);
    shared.fill(0);
    const tIfd = authToken(alg, keys.ksMac, pkDhIc);
    let tIcResp: Buffer;
    try { tIcResp = await this.ga(tlv(0x85, tIfd), true, 'mutual authentication'); } catch (e) {
      if (e instanceof PaceStepError && (e.sw === SW.WARN_AUTH_FAILED || (e.sw & 0xfff0) === 0x63c0 || e.sw === SW.SECURITY_NOT_SATISFIED || e.sw === SW.SM_INCORRECT)) {
        keys.ksEnc.fill(0); keys.ksMac.fill(0);
        const left = (e.sw & 0xfff0) === 0x63c0 ? e.sw & 0x0f : attemptsLeft;
        // A wrong MRZ that leaves one try: the chip has suspended the MRZ (only the CAN opens it now).
        if (password.kind === 'MRZ' && e.sw === 0x63c1) throw paceSuspended(this.ch.reader, e.sw);
        throw accessDenied(this.ch.reader, password, e.sw, left);
      }
      throw e;
    }
    const tIc = gaData(tIcResp, 0x86, 'mutual authentication');
    if (!tIc.equals(authToken(alg, keys.ksMac, pkDh))) {
      keys.ksEnc.fill(0); keys.ksMac.fill(0);
      throw new StationError('CARD_PACE_FAILED', `the chip on ${this.ch.reader} answered PACE with a wrong authentication token`, { hint: 'the chip is faulty or not genuine; inspect the document manually' });
    }
    this.cam = undefined;
    if (alg.mapping === 'CAM') {
      // §4.4.3.5: the encrypted chip authentication data (8A) under KS_Enc; checked against DG14's key once it is read.
      let aIc: Buffer | undefined;
      try { aIc = gaData(tIcResp, 0x8a, 'mutual authentication'); } catch (e) { if (!(e instanceof CardDataError)) throw e; }
      if (!aIc) this.cam = { ok: false, detail: 'the chip sent no encrypted chip authentication data (8A)', domain };
      else {
        try { this.cam = { ok: true, caIc: camDecrypt(domain, keys.ksEnc, aIc), pkMapIc: pkMapIc!, domain }; } catch (e) {
          if (!(e instanceof CardDataError)) throw e;
          this.cam = { ok: false, detail: e.message, domain };
        }
      }
    }
    this.sm = new SecureMessaging(keys);
    keys.ksEnc.fill(0); keys.ksMac.fill(0);
    this.access = { protocol: 'PACE', password: password.kind, mapping: alg.mapping, agreement: alg.agreement, cipher: alg.cipher, domain: domain.name, oid: alg.oid };
  }

  /** After PACE: SELECT the eMRTD application under secure messaging. */
  async selectApplicationSecure(): Promise<void> {
    const r = await this.secure(cmd(0xa4, 0x04, 0x0c, EMRTD_AID));
    if (r.sw !== SW.OK) {
      throw new StationError('CARD_NOT_EMRTD', `the card on ${this.ch.reader} has no ICAO 9303 (passport / ID card) application (${swHex(r.sw)})`, {
        hint: 'check that this is a chip passport or chip ID card and that it lies flat on the reader',
      });
    }
  }

  /**
   * Reads one whole file under secure messaging: the first chunk by short file
   * identifier (READ BINARY with P1 = 80|SFI selects and reads in one APDU),
   * falling back to SELECT when the chip refuses SFI reads; then chunks of the
   * largest Le, odd-INS READ BINARY past offset 32 767. Returns undefined when
   * the file does not exist and an empty buffer for an empty file.
   */
  async readFile(fid: number, name: string, chunkSize?: number): Promise<Buffer | undefined> {
    try {
      const step = chunkSize ?? this.maxReadLength();
      const sfi = fid >> 8 === 0x01 && (fid & 0xff) <= 0x1e ? fid & 0x1f : undefined;
      let head: ResponseApdu | undefined;
      if (sfi !== undefined && !this.noSfi) {
        head = await this.secure(cmd(0xb0, 0x80 | sfi, 0, undefined, step));
        if (head.sw === SW.FILE_NOT_FOUND) return undefined;
        if (head.sw !== SW.OK && head.sw !== 0x6282) {
          // Some chips do not support SFI reads: select the file instead.
          if (!SFI_UNSUPPORTED.has(head.sw)) throw this.swError(name, 'READ BINARY', head.sw);
          this.noSfi = true;
          head = undefined;
        }
      }
      if (!head) {
        const sel = await this.secure(cmd(0xa4, 0x02, 0x0c, Buffer.from([fid >> 8, fid & 0xff])));
        if (sel.sw === SW.FILE_NOT_FOUND) return undefined;
        if (sel.sw !== SW.OK) throw this.swError(name, 'SELECT', sel.sw);
        head = await this.secure(cmd(0xb0, 0, 0, undefined, step));
        if (head.sw === SW.WRONG_P1P2 || head.sw === SW.WRONG_LENGTH) {
          // An empty file (nothing at offset 0), or a chip that wants a short first read.
          const h8 = await this.secure(cmd(0xb0, 0, 0, undefined, 8));
          if (h8.sw === SW.WRONG_P1P2) return Buffer.alloc(0);
          head = h8;
        }
        if (head.sw !== SW.OK && head.sw !== 0x6282) throw this.swError(name, 'READ BINARY', head.sw);
      }
      if (head.data.length === 0) return Buffer.alloc(0);
      const total = tlvTotalLength(head.data, name);
      if (total > MAX_FILE_BYTES) throw new CardDataError(name, `declared length ${total} is implausible`);
      const out = Buffer.alloc(total);
      head.data.copy(out, 0, 0, Math.min(head.data.length, total));
      let off = Math.min(head.data.length, total);
      while (off < total) {
        let chunk: Buffer;
        if (off <= 0x7fff) {
          const r = await this.secure(cmd(0xb0, off >> 8, off & 0xff, undefined, Math.min(step, total - off)));
          if (r.sw !== SW.OK && r.sw !== 0x6282) throw this.swError(name, 'READ BINARY', r.sw);
          chunk = r.data;
        } else {
          // Offsets beyond 15 bits: READ BINARY with odd INS, offset in DO'54', data in DO'53' (ISO 7816-4).
          if (off > 0xffffff) throw new CardDataError(name, `offset ${off} is beyond what READ BINARY can address`);
          const offBytes = off > 0xffff ? Buffer.from([off >> 16, (off >> 8) & 0xff, off & 0xff]) : Buffer.from([off >> 8, off & 0xff]);
          const want = total - off;
          const le = Math.min(step, want + 1 + encodeLength(want).length);
          const r = await this.secure(cmd(0xb1, 0, 0, tlv(0x54, offBytes), le));
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

/** CAN: six digits (ICAO 9303-11: the card access number printed on the document). */
export function normaliseCan(can: string): string {
  const c = can.replace(/\s+/g, '');
  if (!/^\d{6}$/.test(c)) throw new UsageError(`card access number "${can}" must be the 6 digits printed on the card`, 'look for the six-digit number on the front of the ID card (CAN)');
  return c;
}

/**
 * Access control: PACE when EF.CardAccess offers a mapping and domain this reader
 * implements (with the CAN when given, else the MRZ), BAC when the chip has no
 * PACE or refuses it before the password is used, and only with the MRZ.
 */
async function openChip(r: EmrtdReader, ch: ApduChannel, opts: ReadOptions): Promise<void> {
  if (!opts.bac && !opts.can) throw new UsageError('the chip key needs the MRZ fields or the card access number (CAN)');
  const can = opts.can !== undefined ? normaliseCan(opts.can) : undefined;
  r.cam = undefined;
  let note: string | undefined;
  let caBytes: Buffer | undefined;
  if (r.cardAccessRead) caBytes = r.cardAccessRead.bytes;
  else {
    if (ch.extendedLength) await r.readAtrInfo();
    try { caBytes = await r.readCardAccess(); } catch (e) {
      if (e instanceof DisconnectedError || e instanceof DeviceTimeoutError) throw e;
      note = `EF.CardAccess unreadable (${(e as Error).message})`;
    }
    // Kept for a second opening in the same read (after a failed Chip Authentication the chip is opened again).
    r.cardAccessRead = { bytes: caBytes };
  }
  let choice: ReturnType<typeof choosePace>;
  if (caBytes) {
    try {
      const parsed = parseCardAccess(caBytes);
      choice = choosePace(parsed.pace);
      if (!choice && parsed.pace.length) note = `the chip offers only PACE variants this reader does not implement (${parsed.pace.map((p) => `${p.algorithm.agreement}-${p.algorithm.mapping}/${p.parameterId ?? '?'}`).join(', ')})`;
    } catch (e) {
      if (!(e instanceof CardDataError)) throw e;
      if (!opts.bac || opts.paceOnly) throw e;
      note = `EF.CardAccess is malformed (${e.message})`;
      opts.logger?.warn({ reader: ch.reader, err: e.message }, 'malformed EF.CardAccess; trying BAC');
    }
  }
  if (choice) {
    const password: PacePassword = can ? { kind: 'CAN', can } : { kind: 'MRZ', mrzInformation: mrzInformation(opts.bac!) };
    try {
      await r.pace(password, choice.info, choice.domain);
      await r.selectApplicationSecure();
      return;
    } catch (e) {
      if (!(e instanceof PaceRefusedError) || !opts.bac || opts.paceOnly) throw e;
      note = e.message;
      opts.logger?.warn({ reader: ch.reader, err: e.message }, 'PACE refused; trying BAC');
    }
  }
  if (!opts.bac) {
    throw new StationError('CARD_PACE_UNAVAILABLE', `the chip on ${ch.reader} offers no PACE this reader can use${note ? ` (${note})` : ''}, and BAC needs the MRZ`, {
      hint: 'enter the document number, date of birth and date of expiry instead of the CAN',
    });
  }
  if (opts.paceOnly) {
    throw new StationError('CARD_PACE_UNAVAILABLE', `the chip on ${ch.reader} offers no PACE this reader can use${note ? ` (${note})` : ''}, and BAC is not allowed here`, { hint: 'inspect the document manually' });
  }
  // After a PACE attempt the chip may need a fresh start of the application.
  await r.selectApplication();
  await r.authenticate(opts.bac);
  if (note && r.access) r.access.note = note;
}

/**
 * Reads DG14 and runs Chip Authentication when it offers a usable key. A chip
 * that refuses it, or does not speak under the resulting keys, is opened again
 * (same password) so the read can go on; the outcome is then `failed`.
 */
async function chipAuthentication(r: EmrtdReader, ch: ApduChannel, opts: ReadOptions): Promise<{ dg14?: Buffer; parsed?: Dg14; dg1?: Buffer; outcome?: CloneCheck; caUnsupported: boolean }> {
  let dg14: Buffer | undefined;
  try { dg14 = await r.readFile(FILES.DG14.fid, FILES.DG14.name, opts.chunkSize); } catch (e) {
    // A DG14 shorter than its own length field: the key cannot be had, the rest of the chip can.
    if (!(e instanceof CardDataError)) throw e;
    return { outcome: cloneFailure('malformed-key', e.message), caUnsupported: false };
  }
  if (!dg14 || !dg14.length) return { caUnsupported: false };
  let parsed: Dg14;
  try { parsed = parseDg14(dg14); } catch (e) {
    if (!(e instanceof CardDataError)) throw e;
    return { dg14, outcome: cloneFailure('malformed-key', e.message), caUnsupported: false };
  }
  const choice = chooseChipAuth(parsed);
  if (!choice) return { dg14, parsed, caUnsupported: false };
  if (choice === 'unsupported') return { dg14, parsed, caUnsupported: true };
  const method = `CA ${choice.key.agreement} ${choice.algorithm.cipher} on ${choice.key.domain!.name}`;
  let res: { ok: true } | { ok: false; code: 'ca-refused' | 'ca-key-mismatch'; detail: string } = await r.chipAuthenticate(choice.algorithm, choice.key);
  if (res.ok) {
    // DG1, read under the new keys, is the proof: a chip without DG14's private key cannot answer it.
    try {
      const dg1 = await r.readFile(FILES.DG1.fid, FILES.DG1.name, opts.chunkSize);
      if (r.access) r.access.chipAuthentication = method;
      return { dg14, parsed, dg1, outcome: { verdict: 'chip-authenticated', method }, caUnsupported: false };
    } catch (e) {
      if (!(e instanceof StationError) || e.code !== 'CARD_SM_FAILED') throw e;
      res = { ok: false, code: 'ca-key-mismatch', detail: e.message };
    }
  }
  opts.logger?.warn({ reader: ch.reader, code: res.code, detail: res.detail }, 'Chip Authentication failed; opening the chip again');
  const access = r.access;
  r.end();
  await openChip(r, ch, opts);
  if (r.access && access) r.access.note = [r.access.note, 'opened again after a failed Chip Authentication'].filter(Boolean).join('; ');
  return { dg14, parsed, outcome: cloneFailure(res.code, res.detail, method), caUnsupported: false };
}

/**
 * After PACE with Chip Authentication Mapping (ICAO 9303-11 §4.4.3.5.2): DG14's
 * ECDH key on the PACE domain must satisfy PK_Map,IC = CA_IC · PK_IC. No
 * separate Chip Authentication runs; secure messaging stays under the PACE keys.
 */
async function camCheck(r: EmrtdReader, cam: CamResult, opts: ReadOptions): Promise<{ dg14?: Buffer; parsed?: Dg14; outcome: CloneCheck; caUnsupported: boolean }> {
  const alg = r.access?.cipher ?? '';
  const method = `PACE-CAM ECDH ${alg} on ${cam.domain.name}`.replace(/\s+/g, ' ');
  const dg14 = await r.readFile(FILES.DG14.fid, FILES.DG14.name, opts.chunkSize);
  if (!dg14 || !dg14.length) return { outcome: cloneFailure('cam-mismatch', 'the chip ran PACE-CAM but has no DG14 with its Chip Authentication key', method), caUnsupported: false };
  let parsed: Dg14;
  try { parsed = parseDg14(dg14); } catch (e) {
    if (!(e instanceof CardDataError)) throw e;
    return { dg14, outcome: cloneFailure('malformed-key', e.message, method), caUnsupported: false };
  }
  if (!cam.ok) return { dg14, parsed, outcome: cloneFailure('cam-mismatch', cam.detail, method), caUnsupported: false };
  const keys = parsed.keys.filter((k) => k.agreement === 'ECDH' && k.domain === cam.domain);
  if (!keys.length) return { dg14, parsed, outcome: cloneFailure('cam-mismatch', `DG14 has no ECDH Chip Authentication key on ${cam.domain.name}, the PACE domain`, method), caUnsupported: false };
  let ok = false;
  for (const k of keys) {
    try { if (camVerify(cam.domain, cam.caIc, k.publicKey, cam.pkMapIc)) ok = true; } catch (e) { if (!(e instanceof CardDataError)) throw e; }
  }
  return ok
    ? { dg14, parsed, outcome: { verdict: 'chip-authenticated', method }, caUnsupported: false }
    : { dg14, parsed, outcome: cloneFailure('cam-mismatch', "CA_IC · PK_IC (DG14) is not the chip's PACE mapping key", method), caUnsupported: false };
}

async function readWith(r: EmrtdReader, ch: ApduChannel, opts: ReadOptions, t0: number, startCount: number): Promise<ChipReadResult> {
  await openChip(r, ch, opts);
  const com = await r.readFile(FILES.COM.fid, FILES.COM.name, opts.chunkSize);
  const dataGroupsPresent = com ? parseCom(com) : undefined;
  const listed = (n: number) => !dataGroupsPresent || dataGroupsPresent.includes(n);
  // PACE-CAM authenticated the chip already (checked against DG14 here); otherwise Chip Authentication first,
  // so every data group after DG14 is read under its keys (ICAO 9303-11 §6.2).
  const ca: { dg14?: Buffer; parsed?: Dg14; dg1?: Buffer; outcome?: CloneCheck; caUnsupported: boolean } = r.cam
    ? await camCheck(r, r.cam, opts)
    : listed(14) ? await chipAuthentication(r, ch, opts) : { caUnsupported: false };
  const dg14 = ca.dg14;
  const dg1 = ca.dg1 ?? await r.readFile(FILES.DG1.fid, FILES.DG1.name, opts.chunkSize);
  if (!dg1) throw new StationError('CARD_READ_FAILED', `the chip on ${ch.reader} has no DG1 (MRZ)`, { hint: 'this document does not follow ICAO 9303; inspect it manually' });
  const mrz = parseDg1(dg1);
  let dg2: Buffer | undefined;
  if (opts.readDg2 !== false) dg2 = await r.readFile(FILES.DG2.fid, FILES.DG2.name, opts.chunkSize);
  let dg13: Buffer | undefined;
  if (opts.readDg13 !== false && dataGroupsPresent?.includes(13)) dg13 = await r.readFile(FILES.DG13.fid, FILES.DG13.name, opts.chunkSize);
  let dg15: Buffer | undefined;
  let dg15Error: CardDataError | undefined;
  try { dg15 = listed(15) ? await r.readFile(FILES.DG15.fid, FILES.DG15.name, opts.chunkSize) : undefined; } catch (e) {
    if (!(e instanceof CardDataError)) throw e;
    dg15Error = e;
  }
  // An absent or empty EF.SOD is not a damaged chip: the read goes on and passive authentication says "no-security-object".
  const sodRead = await r.readFile(FILES.SOD.fid, FILES.SOD.name, opts.chunkSize);
  const sod = sodRead ?? Buffer.alloc(0);
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
  if (dg13) dgs.set(13, dg13);
  if (dg14) dgs.set(14, dg14);
  if (dg15) dgs.set(15, dg15);
  let cccd: CccdDetails | undefined;
  let cccdError: ChipReadResult['cccdError'];
  if (dg13 && (mrz.issuingState === 'VNM' || mrz.lines[0]?.slice(2, 5) === 'VNM')) {
    try { cccd = parseCccdDg13(dg13); } catch (e) {
      if (!(e instanceof CardDataError)) throw e;
      cccdError = { code: e.code, message: e.message };
      opts.logger?.warn({ reader: ch.reader, err: e.message }, 'DG13 could not be decoded');
    }
  }
  const nationalId = cccd?.idNumber ?? cccdIdFromMrz(mrz);
  const passiveAuth = passiveAuthenticate(sod, dgs, { csca: opts.csca, issuingState: mrz.issuingState });
  let clone: CloneCheck;
  if (ca.outcome) clone = ca.outcome;
  else if (dg15Error) clone = cloneFailure('malformed-key', dg15Error.message);
  else if (dg15 && dg15.length) {
    let key: KeyObject | UnsupportedAaKey | undefined;
    try { key = parseDg15(dg15); } catch (e) {
      if (!(e instanceof CardDataError)) throw e;
      clone = cloneFailure('malformed-key', e.message);
    }
    const alg = ca.parsed?.aaSignatureAlgorithm;
    if (key && 'unsupported' in key) clone = cloneFailure('unsupported-algorithm', key.unsupported, 'AA');
    else if (key) {
      const method = `AA ${key.asymmetricKeyType === 'rsa' ? `RSA-${key.asymmetricKeyDetails?.modulusLength ?? '?'} ISO/IEC 9796-2` : `ECDSA ${AA_CURVES[key.asymmetricKeyDetails?.namedCurve ?? '']?.label ?? '?'}`}`;
      if (key.asymmetricKeyType === 'ec' && !aaAlgorithmSupported(alg)) {
        // Not asked at all: a signature this reader cannot check proves nothing.
        clone = cloneFailure('unsupported-algorithm', `DG14 names the Active Authentication signature algorithm ${alg}, which this reader does not implement`, method);
      } else {
        const aa = await r.activeAuthenticate(key, alg);
        clone = aa.ok ? { verdict: 'active-authenticated', method: `${method} ${HASH_LABEL[aa.hash]}` } : cloneFailure(aa.code, aa.detail, method);
      }
    }
  } else clone = ca.caUnsupported ? cloneFailure('unsupported-algorithm', 'DG14 offers only Chip Authentication this reader does not implement (an unknown curve or DH group)') : cloneFailure('no-dg14-dg15');
  // A key is only as good as the signature over it: DG14/DG15 count only under a valid passive authentication.
  if ((clone!.verdict === 'chip-authenticated' || clone!.verdict === 'active-authenticated') && passiveAuth.verdict !== 'valid') {
    clone = cloneFailure('not-signed', `passive authentication is ${passiveAuth.verdict} (${passiveAuth.reasonCode ?? 'no reason'})`, clone!.method);
  }
  opts.logger?.info({ reader: ch.reader, verdict: passiveAuth.verdict, clone: clone!.verdict, apdus: ch.exchanges - startCount }, 'chip read');
  return {
    dg1, dg2, sod, com, mrz, faceJpeg, face, passiveAuth, dataGroupsPresent,
    ...(dg13 ? { dg13 } : {}), ...(dg14 ? { dg14 } : {}), ...(dg15 ? { dg15 } : {}), clone: clone!, ...(cccd ? { cccd } : {}), ...(cccdError ? { cccdError } : {}), ...(nationalId ? { nationalId } : {}),
    access: r.access!, chunkBytes: opts.chunkSize ?? r.maxReadLength(),
    reader: ch.reader, atr: ch.atr.toString('hex').toUpperCase(),
    apduCount: ch.exchanges - startCount, durationMs: Math.round(performance.now() - t0),
  };
}

export { DisconnectedError, DeviceTimeoutError };
