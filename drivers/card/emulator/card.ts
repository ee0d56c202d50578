/**
 * The chip side of an ICAO 9303 eMRTD with BAC, driven one APDU at a time.
 * Used both behind vpcd (real pcscd path) and in-process (simulated reader).
 * Fault modes let tests and technicians reproduce field problems.
 */
import { constants, createHash, privateEncrypt, randomBytes, sign, type KeyObject } from 'node:crypto';
import { caAlgorithm, caGroup, caOid, ID_CA, TRAILER_ID, type ChipAuthAlgorithm } from '../clone';
import { decodeCommand, joinResponse, SW } from '../apdu';
import { bacKeys, chipRespond, type BacKeys } from '../bac';
import { EMRTD_AID } from '../emrtd';
import { mrzInformation, bacInputFromMrz } from '../mrz';
import {
  authToken, buildCardAccess, camEncrypt, encryptNonce, gaObjects, imNonceLength, kdf, nonceLength, oidBytes, paceAlgorithm, paceOid, PaceGroup, passwordBytes, randomScalar, sessionKeys,
  STANDARD_DOMAINS, type DomainParameters, type PaceAlgorithm, type PaceMapping,
} from '../pace';
import { SecureMessaging, SmError } from '../sm';
import { CardDataError, encodeLength, readTlv, tlv } from '../tlv';

/** EF.CardAccess: FID 011C, short file identifier 1C, readable in the clear at MF level. */
export const CARD_ACCESS_FID = 0x011c;
/** EF.ATR/INFO: FID 2F01, short file identifier 01 at MF level, readable in the clear. */
export const ATR_INFO_FID = 0x2f01;

/** How the emulated chip speaks PACE (ICAO 9303-11 §4.4: Generic, Integrated or Chip Authentication Mapping). */
export interface PaceOptions {
  /**
   * PACEInfos listed in EF.CardAccess (default: ECDH-GM AES-128 on brainpoolP256r1, id 13).
   * Chip Authentication Mapping (ECDH only) needs chipKeys.ca on the same domain.
   */
  infos?: { oid: string; parameterId: number }[];
  /** The 6-digit card access number printed on the card (PACE with CAN). Without it only the MRZ works. */
  can?: string;
  /** A PACE-only chip: GET CHALLENGE / MUTUAL AUTHENTICATE (BAC) are not supported (6D00). */
  only?: boolean;
  /**
   * Retry counter per password (default: none, like ICAO's MRZ and CAN). With a
   * counter (BSI TR-03110-3 §B.11), MSE:Set AT answers 63Cx once a try has failed,
   * a wrong password answers 63Cx with the tries left, and a used-up counter
   * answers 63C0 (blocked). The MRZ at one try left is suspended (63C1): PACE with
   * it runs only after a successful PACE with the CAN since power-on (resume).
   */
  retries?: number;
}

/** Default PACE offer: what most current ID cards list first. */
export const DEFAULT_PACE_INFOS = [{ oid: paceOid('ECDH', 'GM', 'AES-128'), parameterId: 13 }];

/** PACEInfos for one mapping on brainpoolP256r1 with AES-128 (`station card emulate --pace-mapping`). */
export function paceInfosFor(mapping: PaceMapping, agreement: 'ECDH' | 'DH' = 'ECDH'): { oid: string; parameterId: number }[] {
  if (mapping === 'CAM' && agreement === 'DH') throw new RangeError('Chip Authentication Mapping is defined for ECDH only');
  return [{ oid: paceOid(agreement, mapping, 'AES-128'), parameterId: agreement === 'ECDH' ? 13 : 0 }];
}

interface PaceSession {
  alg: PaceAlgorithm;
  domain: DomainParameters;
  ref: number;
  step: number;
  s?: Buffer;
  group?: PaceGroup;
  skDh?: bigint;
  /** CAM: the chip's ephemeral mapping key, for CA_IC = SK_IC⁻¹ · SK_Map,IC. */
  skMap?: bigint;
  pkDh?: Buffer;
  pkDhIfd?: Buffer;
  keys?: ReturnType<typeof sessionKeys>;
}

export interface CardFaults {
  /** Answer `sw` instead of processing commands with this INS (any INS when omitted), `count` times (default: always). */
  statusWord?: { sw: number; ins?: number; count?: number };
  /** Delay every answer by this many ms, starting after `slowAfterApdus` commands. */
  slowMs?: number;
  slowAfterApdus?: number;
  /** The card is pulled away when this many APDUs have been received since power-on. */
  removeAfterApdus?: number;
  /** Flip one bit in the MAC of the Nth protected response after authentication (1 = first). */
  corruptMacAt?: number;
  /** Alter one byte of this data group after the SOD was signed (passive authentication must fail). */
  tamperDataGroup?: number;
  /** T=0 behaviour: answer 61xx and deliver data through GET RESPONSE. */
  getResponse?: boolean;
  /** Answer 6Cxx when a short command's Le does not match the data available. */
  wrongLe?: boolean;
  /** Like many real chips: answer protected commands that fail (file not found, …) with a plain status word, keeping the session. */
  plainErrors?: boolean;
  /** The card is pulled away when the terminal sends this PACE GENERAL AUTHENTICATE step (1 = nonce … 4 = tokens). */
  removeAtPaceStep?: number;
  /** The chip's PACE authentication token is wrong (a chip that does not know the password, e.g. a forgery). */
  badPaceToken?: boolean;
  /** Chip Authentication (and PACE-CAM's CA_IC) with another private key than DG14's (a clone that copied DG14 but not the key). */
  badCaKey?: boolean;
  /** PACE-CAM: one bit of the encrypted chip authentication data A_IC flipped. */
  badCamData?: boolean;
  /** The Active Authentication signature is wrong (a clone without DG15's private key). */
  badAaSignature?: boolean;
}

/** The chip's private keys for clone detection (the public halves are in DG14 / DG15). */
export interface ChipKeys {
  /** ECDH on a standardized curve, or DH on a standardized (`parameterId`) or explicit group (`domain`). */
  ca?: { privateKey: bigint; parameterId: number; domain?: DomainParameters };
  /** RSA (signs with ISO/IEC 9796-2 scheme 1) or EC (ECDSA, plain r‖s). */
  aa?: KeyObject;
  /** The hash Active Authentication signs with (default: SHA-1 for RSA, trailer BC; SHA-256 for ECDSA). */
  aaHash?: 'sha1' | 'sha224' | 'sha256' | 'sha384' | 'sha512';
  /** RSA: send n − s instead of s (ISO/IEC 9796-2 lets the signer send the smaller of the two). */
  aaRsaComplement?: boolean;
}

export interface CardOptions {
  /** File id → contents (EF.COM 011E, EF.SOD 011D, DG1 0101, ...). */
  files: Map<number, Buffer>;
  /** MRZ lines of the document: the BAC key comes from them. */
  mrzLines: string[];
  faults?: CardFaults;
  /** Accept extended-length APDUs and say so in the ATR. */
  extendedLength?: boolean;
  /** Status word for a failed MUTUAL AUTHENTICATE (real chips: 6300; some: 6988). */
  bacFailureSw?: number;
  /** Speak PACE (EF.CardAccess is added to the files when absent). */
  pace?: PaceOptions;
  /** Private keys for Chip / Active Authentication. */
  chipKeys?: ChipKeys;
  /**
   * EF.ATR/INFO (2F01, SFI 01, in the clear) with the extended length information
   * DO'7F66' (largest command and response data field). Answers longer than
   * maxResponse are refused with 6700, as a chip with that buffer would.
   */
  bufferSizes?: { maxCommand: number; maxResponse: number };
  /** Answer SELECT of the master file with 6D00, as Vietnam's citizen cards do (EF.CardAccess must be selected directly). */
  noMfSelect?: boolean;
}

/** Thrown by `process` when a fault mode pulls the card away. */
export class CardRemovedSignal extends Error {
  constructor() { super('card removed'); this.name = 'CardRemovedSignal'; }
}

/** The emulated chip's ATR (its historical bytes say whether it takes extended-length APDUs). */
export function buildAtr(extended: boolean): Buffer {
  const hist = Buffer.from([0x80, 0x73, 0x00, 0x00, extended ? 0x40 : 0x00, 0x45, 0x4d, 0x55]); // ..., "EMU"
  const body = Buffer.concat([Buffer.from([0x80 | hist.length, 0x01]), hist]);
  let tck = 0;
  for (const b of body) tck ^= b;
  return Buffer.concat([Buffer.from([0x3b]), body, Buffer.from([tck])]);
}

export class EmulatedEmrtd {
  readonly atr: Buffer;
  readonly files: Map<number, Buffer>;
  faults: CardFaults;
  private readonly keys: BacKeys;
  private readonly extended: boolean;
  private readonly bacFailureSw: number;
  private appSelected = false;
  private rndIc?: Buffer;
  private sm?: SecureMessaging;
  private selected?: number;
  private apdus = 0;
  private protectedResponses = 0;
  private swFaultUsed = 0;
  private pending?: { key: string; resp: Buffer };
  private remaining?: Buffer;
  private readonly tampered = new Set<number>();
  /** Counters for tests: how many MUTUAL AUTHENTICATE commands were refused. */
  bacFailures = 0;
  bacAttempts = 0;
  /** Counters for tests: PACE runs started (MSE:Set AT accepted), refused tokens, completed runs. */
  paceAttempts = 0;
  paceFailures = 0;
  paceSuccesses = 0;
  private readonly pace?: PaceOptions;
  private readonly noMfSelect: boolean;
  private readonly passwords = new Map<number, Buffer>();
  private readonly retriesLeft = new Map<number, number>();
  private paceSession?: PaceSession;
  /** A PACE with the CAN succeeded since power-on: a suspended MRZ may be used (TR-03110 resume). */
  private canVerified = false;
  private readonly chipKeys: ChipKeys;
  private caAlgorithm?: ChipAuthAlgorithm;
  /** The parts of a chained protected command received so far. */
  private chained?: { ins: number; p1: number; p2: number; data: Buffer };
  /** Counters for tests: Chip Authentications completed, INTERNAL AUTHENTICATE answered. */
  caRuns = 0;
  aaRuns = 0;
  /** Answers refused because they were longer than bufferSizes.maxResponse (the terminal asked for too much). */
  oversizeResponses = 0;
  private readonly bufferSizes?: { maxCommand: number; maxResponse: number };

  constructor(opts: CardOptions) {
    this.extended = opts.extendedLength ?? false;
    this.atr = buildAtr(this.extended);
    this.files = new Map([...opts.files].map(([k, v]) => [k, Buffer.from(v)]));
    this.keys = bacKeys(mrzInformation(bacInputFromMrz(opts.mrzLines.join('\n'))));
    this.bacFailureSw = opts.bacFailureSw ?? SW.WARN_AUTH_FAILED;
    this.noMfSelect = opts.noMfSelect ?? false;
    this.chipKeys = opts.chipKeys ?? {};
    if (opts.bufferSizes) {
      this.bufferSizes = opts.bufferSizes;
      const int2 = (n: number) => tlv(0x02, Buffer.from([n >> 8, n & 0xff]));
      this.files.set(ATR_INFO_FID, tlv(0x7f66, int2(opts.bufferSizes.maxCommand), int2(opts.bufferSizes.maxResponse)));
    }
    if (opts.pace) {
      this.pace = { ...opts.pace, infos: opts.pace.infos ?? DEFAULT_PACE_INFOS };
      for (const i of this.pace.infos!) {
        const a = paceAlgorithm(i.oid);
        if (!a || STANDARD_DOMAINS[i.parameterId]?.kind !== a.agreement) throw new RangeError(`the emulator cannot speak PACE ${i.oid} on domain ${i.parameterId}`);
        if (a.mapping === 'CAM' && opts.chipKeys?.ca?.parameterId !== i.parameterId) throw new RangeError(`PACE-CAM on domain ${i.parameterId} needs a Chip Authentication key (chipKeys.ca) on the same domain`);
      }
      if (!this.files.has(CARD_ACCESS_FID)) this.files.set(CARD_ACCESS_FID, buildCardAccess(this.pace.infos!));
      this.passwords.set(1, passwordBytes({ kind: 'MRZ', mrzInformation: mrzInformation(bacInputFromMrz(opts.mrzLines.join('\n'))) }));
      if (opts.pace.can !== undefined) {
        if (!/^\d{6}$/.test(opts.pace.can)) throw new RangeError('the CAN must be 6 digits');
        this.passwords.set(2, passwordBytes({ kind: 'CAN', can: opts.pace.can }));
      }
      if (opts.pace.retries !== undefined) for (const ref of this.passwords.keys()) this.retriesLeft.set(ref, opts.pace.retries);
    }
    this.faults = {};
    this.setFaults(opts.faults ?? {});
  }

  /** Replaces the fault modes (tampering is applied to the stored file at once, once per data group). */
  setFaults(f: CardFaults): void {
    this.faults = { ...f };
    this.swFaultUsed = 0;
    if (f.tamperDataGroup !== undefined && !this.tampered.has(f.tamperDataGroup)) {
      this.tampered.add(f.tamperDataGroup);
      const fid = 0x0100 + f.tamperDataGroup;
      const b = this.files.get(fid);
      if (b) {
        // Change the last letter (DG1 stays a readable MRZ) or else the last byte.
        let i = b.length - 1;
        while (i > 0 && !(b[i]! >= 0x41 && b[i]! <= 0x5a)) i--;
        if (i > 4 && fid === 0x0101) b[i] = b[i] === 0x5a ? 0x41 : b[i]! + 1;
        else b[b.length - 1] = b[b.length - 1]! ^ 0x01;
      }
    }
  }

  /** Power-on / reset: forget authentication and selection. */
  reset(): void {
    this.appSelected = false;
    this.rndIc = undefined;
    this.sm = undefined;
    this.selected = undefined;
    this.apdus = 0;
    this.protectedResponses = 0;
    this.pending = undefined;
    this.remaining = undefined;
    this.paceSession = undefined;
    this.caAlgorithm = undefined;
    this.canVerified = false;
    this.chained = undefined;
  }

  /** Handles one command APDU; resolves to the response APDU. Throws CardRemovedSignal when a fault pulls the card. */
  async process(apdu: Buffer): Promise<Buffer> {
    this.apdus++;
    const f = this.faults;
    if (f.removeAfterApdus !== undefined && this.apdus > f.removeAfterApdus) throw new CardRemovedSignal();
    if (f.slowMs && this.apdus > (f.slowAfterApdus ?? 0)) await new Promise((r) => setTimeout(r, f.slowMs));
    if (f.statusWord && (f.statusWord.ins === undefined || apdu[1] === f.statusWord.ins) && (f.statusWord.count === undefined || this.swFaultUsed < f.statusWord.count)) {
      this.swFaultUsed++;
      return sw(f.statusWord.sw);
    }
    // T=0 transport behaviours (outside secure messaging, like a real T=0 card).
    if (apdu.length >= 4 && apdu[1] === 0xc0 && this.remaining) {
      const le = apdu.length >= 5 ? (apdu[4] || 256) : 256;
      return this.deliver(this.remaining, le);
    }
    const key = apdu.subarray(0, apdu.length - 1).toString('hex');
    if (this.pending && this.pending.key === key) {
      const r = this.pending.resp;
      this.pending = undefined;
      return r;
    }
    let resp = this.handle(apdu);
    if (this.bufferSizes && resp.length - 2 > this.bufferSizes.maxResponse) {
      // More than the chip's buffer holds: a real chip cannot send it.
      this.oversizeResponses++;
      resp = sw(SW.WRONG_LENGTH);
    }
    const dataLen = resp.length - 2;
    const c = decodeCommand(apdu);
    if (f.wrongLe && c && !c.extended && c.le !== undefined && dataLen > 0 && c.le !== dataLen && dataLen <= 256) {
      this.pending = { key, resp };
      return sw(0x6c00 | (dataLen & 0xff));
    }
    if (f.getResponse && dataLen > 0) {
      this.remaining = resp;
      return sw(0x6100 | (Math.min(dataLen, 256) & 0xff));
    }
    return resp;
  }

  private deliver(resp: Buffer, le: number): Buffer {
    const data = resp.subarray(0, resp.length - 2);
    if (data.length <= le) {
      this.remaining = undefined;
      return resp;
    }
    this.remaining = Buffer.concat([data.subarray(le), resp.subarray(resp.length - 2)]);
    const left = this.remaining.length - 2;
    return joinResponse(data.subarray(0, le), 0x6100 | (Math.min(left, 256) & 0xff));
  }

  private handle(apdu: Buffer): Buffer {
    const c = decodeCommand(apdu);
    if (!c) return sw(SW.WRONG_LENGTH);
    if (c.extended && !this.extended) return sw(SW.WRONG_LENGTH);
    if ((c.cla & 0x0c) === 0x0c) return this.handleSecure(apdu);
    if (c.ins === 0x86 && (c.cla === 0x00 || c.cla === 0x10)) return this.generalAuthenticate(c.cla === 0x10, c.data);
    if (c.cla !== 0x00) return sw(SW.CLA_NOT_SUPPORTED);
    switch (c.ins) {
      case 0xa4:
        if (c.p1 === 0x04) {
          if (!c.data || !c.data.equals(EMRTD_AID)) return sw(SW.FILE_NOT_FOUND);
          this.appSelected = true;
          this.sm = undefined;
          this.paceSession = undefined;
          return sw(SW.OK);
        }
        if (this.sm) { this.sm = undefined; return sw(SW.SM_MISSING); }
        if (c.p1 === 0x00) {
          // SELECT MF (3F00 or no data).
          if (this.noMfSelect) return sw(SW.INS_NOT_SUPPORTED);
          if (c.data && c.data.length && !c.data.equals(Buffer.from([0x3f, 0x00]))) return sw(SW.FILE_NOT_FOUND);
          this.appSelected = false;
          this.selected = undefined;
          return sw(SW.OK);
        }
        return this.select(c.p1, c.data);
      case 0x22:
        return this.mseSetAt(c.p1, c.p2, c.data);
      case 0x84:
        if (this.pace?.only) return sw(SW.INS_NOT_SUPPORTED);
        if (!this.appSelected) return sw(SW.CONDITIONS_NOT_SATISFIED);
        if (c.le === undefined) return sw(SW.WRONG_LENGTH);
        this.rndIc = randomBytes(8);
        this.sm = undefined;
        return joinResponse(this.rndIc, SW.OK);
      case 0x82: {
        if (this.pace?.only) return sw(SW.INS_NOT_SUPPORTED);
        this.bacAttempts++;
        const rnd = this.rndIc;
        this.rndIc = undefined;
        if (!rnd || !c.data) return sw(SW.CONDITIONS_NOT_SATISFIED);
        const r = chipRespond(this.keys, c.data, rnd, randomBytes(16));
        if (!r) { this.bacFailures++; return sw(this.bacFailureSw); }
        this.sm = r.sm;
        this.protectedResponses = 0;
        return joinResponse(r.resp, SW.OK);
      }
      case 0xb0: {
        if (this.sm) { this.sm = undefined; return sw(SW.SM_MISSING); }
        // EF.CardAccess is the one file read in the clear: by SFI 1C or after SELECT 011C.
        const bySfi = (c.p1 & 0x80) !== 0;
        // At MF level SFI 01 is EF.ATR/INFO (2F01), SFI 1C EF.CardAccess.
        const fid = bySfi ? ((c.p1 & 0x1f) === 0x01 ? ATR_INFO_FID : 0x0100 | (c.p1 & 0x1f)) : this.selected;
        if (fid !== CARD_ACCESS_FID && fid !== ATR_INFO_FID) return sw(bySfi && !this.appSelected ? SW.FILE_NOT_FOUND : SW.SECURITY_NOT_SATISFIED);
        const file = this.files.get(fid);
        if (!file) return sw(SW.FILE_NOT_FOUND);
        if (bySfi) this.selected = fid;
        const offset = bySfi ? c.p2 : ((c.p1 & 0x7f) << 8) | c.p2;
        if (offset > file.length) return sw(SW.WRONG_P1P2);
        const le = c.le ?? 256;
        return joinResponse(file.subarray(offset, Math.min(file.length, offset + le)), offset + le > file.length ? 0x6282 : SW.OK);
      }
      default:
        return sw(SW.INS_NOT_SUPPORTED);
    }
  }

  /**
   * Chip Authentication (ICAO 9303-11 §6.2), under secure messaging: MSE:Set KAT
   * (41A6, 3DES: 91 = the terminal's ephemeral key) or MSE:Set AT (41A4: 80 = CA
   * OID) then GENERAL AUTHENTICATE (7C { 80 = ephemeral key }). Returns the new
   * session keys to switch to after the answer.
   */
  private chipAuthenticate(ins: number, p1: number, p2: number, data?: Buffer): { status: number; data?: Buffer; next?: ReturnType<typeof sessionKeys> } {
    const key = this.chipKeys.ca;
    if (!key) return { status: ins === 0x86 ? SW.CONDITIONS_NOT_SATISFIED : SW.WRONG_P1P2 };
    const dos = new Map<number, Buffer>();
    try {
      const body = ins === 0x86 ? gaObjects(data ?? Buffer.alloc(0)) : undefined;
      if (body) for (const [k, v] of body) dos.set(k, v);
      else { let off = 0; const d = data ?? Buffer.alloc(0); while (off < d.length) { const t = readTlv(d, off, 'MSE'); dos.set(t.tag, Buffer.from(t.value)); off = t.end; } }
    } catch { return { status: 0x6a80 }; }
    let alg: ChipAuthAlgorithm | undefined;
    let pk: Buffer | undefined;
    const domain = key.domain ?? STANDARD_DOMAINS[key.parameterId]!;
    if (ins === 0x22 && p1 === 0x41 && p2 === 0xa6) { alg = caAlgorithm(caOid('3DES', domain.kind)); pk = dos.get(0x91); }
    else if (ins === 0x22 && p1 === 0x41 && p2 === 0xa4) {
      const oid = dos.get(0x80);
      const a = oid ? [1, 2, 3, 4].map((n) => caAlgorithm(`${ID_CA}.${domain.kind === 'DH' ? 1 : 2}.${n}`)!).find((x) => oidBytes(x.oid).equals(oid)) : undefined;
      if (!a) return { status: 0x6a80 };
      this.caAlgorithm = a;
      return { status: SW.OK };
    } else if (ins === 0x86) { alg = this.caAlgorithm; pk = dos.get(0x80); this.caAlgorithm = undefined; }
    else return { status: SW.WRONG_P1P2 };
    if (!alg || !pk) return { status: SW.CONDITIONS_NOT_SATISFIED };
    const group = caGroup(domain);
    try { group.checkPublic(pk, "the terminal's ephemeral key"); } catch { return { status: 0x6a80 }; }
    const sk = this.faults.badCaKey ? randomScalar(domain) : key.privateKey;
    const next = sessionKeys(group.agree(sk, pk), alg.cipher);
    return { status: SW.OK, data: ins === 0x86 ? tlv(0x7c) : undefined, next };
  }

  /** INTERNAL AUTHENTICATE (Active Authentication, ICAO 9303-11 §6.1): signs the 8-byte challenge with DG15's private key. */
  private internalAuthenticate(rnd?: Buffer): { status: number; data?: Buffer } {
    const key = this.chipKeys.aa;
    if (!key) return { status: SW.INS_NOT_SUPPORTED };
    if (!rnd || rnd.length !== 8) return { status: SW.WRONG_LENGTH };
    this.aaRuns++;
    let sig: Buffer;
    if (key.asymmetricKeyType === 'rsa') {
      // ISO/IEC 9796-2 scheme 1, partial recovery: 6A ‖ M1 ‖ H(M1 ‖ RND.IFD) ‖ trailer (BC for SHA-1, else hash id ‖ CC), raised to d.
      const hash = this.chipKeys.aaHash ?? 'sha1';
      const nBytes = Buffer.from(key.export({ format: 'jwk' }).n!, 'base64url');
      const k = nBytes.length;
      const trailer = hash === 'sha1' ? Buffer.from([0xbc]) : Buffer.from([TRAILER_ID[hash]!, 0xcc]);
      const h = createHash(hash).digest().length;
      const m1 = randomBytes(k - 1 - h - trailer.length);
      const m = Buffer.concat([Buffer.from([0x6a]), m1, createHash(hash).update(m1).update(rnd).digest(), trailer]);
      sig = privateEncrypt({ key, padding: constants.RSA_NO_PADDING }, m);
      if (this.chipKeys.aaRsaComplement) {
        const n = BigInt(`0x${nBytes.toString('hex')}`);
        sig = Buffer.from((n - BigInt(`0x${sig.toString('hex')}`)).toString(16).padStart(k * 2, '0'), 'hex');
      }
    } else {
      sig = sign(this.chipKeys.aaHash ?? 'sha256', rnd, { key, dsaEncoding: 'ieee-p1363' });
    }
    if (this.faults.badAaSignature) sig[sig.length >> 1] = sig[sig.length >> 1]! ^ 0x01;
    return { status: SW.OK, data: sig };
  }

  /** MSE:Set AT for PACE (P1P2 C1A4): protocol OID (80), password reference (83: 1 MRZ, 2 CAN), domain id (84). */
  private mseSetAt(p1: number, p2: number, data?: Buffer): Buffer {
    this.paceSession = undefined;
    if (!this.pace) return sw(SW.INS_NOT_SUPPORTED);
    if (p1 !== 0xc1 || p2 !== 0xa4 || !data) return sw(SW.WRONG_P1P2);
    let dos: Map<number, Buffer>;
    try {
      dos = new Map();
      let off = 0;
      while (off < data.length) { const t = readTlv(data, off, 'MSE'); dos.set(t.tag, t.value); off = t.end; }
    } catch { return sw(0x6a80); }
    const oidTlv = dos.get(0x80), ref = dos.get(0x83), pid = dos.get(0x84);
    if (!oidTlv || !ref || ref.length !== 1) return sw(0x6a80);
    const info = this.pace.infos!.find((i) => oidBytes(i.oid).equals(oidTlv) && (pid === undefined || (pid.length === 1 && pid[0] === i.parameterId)));
    if (!info) return sw(0x6a80);
    if (!this.passwords.has(ref[0]!)) return sw(0x6a88);
    const left = this.retriesLeft.get(ref[0]!);
    if (left === 0) return sw(0x63c0);
    // The MRZ at one try left is suspended until a PACE with the CAN has succeeded (resume).
    if (left === 1 && ref[0] === 1 && this.pace.retries! > 1 && !this.canVerified) return sw(0x63c1);
    this.paceAttempts++;
    this.paceSession = { alg: paceAlgorithm(info.oid)!, domain: STANDARD_DOMAINS[info.parameterId]!, ref: ref[0]!, step: 0 };
    this.sm = undefined;
    // Resumed (a CAN PACE has succeeded): the MRZ's last try runs like a fresh one (9000).
    const resumed = left === 1 && ref[0] === 1 && this.canVerified;
    return sw(left !== undefined && left < this.pace.retries! && !resumed ? 0x63c0 | left : SW.OK);
  }

  /** The four PACE GENERAL AUTHENTICATE steps, chip side. */
  private generalAuthenticate(chained: boolean, data?: Buffer): Buffer {
    const ps = this.paceSession;
    if (!ps) return sw(SW.CONDITIONS_NOT_SATISFIED);
    ps.step++;
    if (this.faults.removeAtPaceStep === ps.step) throw new CardRemovedSignal();
    const fail = (v: number) => { this.paceSession = undefined; return sw(v); };
    let dos: Map<number, Buffer>;
    try { dos = gaObjects(data ?? Buffer.alloc(0)); } catch (e) {
      if (e instanceof CardDataError) return fail(0x6a80);
      throw e;
    }
    if (chained !== (ps.step < 4)) return fail(SW.CONDITIONS_NOT_SATISFIED);
    try {
      switch (ps.step) {
        case 1: {
          if (dos.size) return fail(0x6a80);
          ps.s = Buffer.from(randomBytes(nonceLength(ps.alg.cipher, ps.alg.mapping)));
          const kPi = kdf(this.passwords.get(ps.ref)!, 3, ps.alg.cipher);
          const z = encryptNonce(kPi, ps.s, ps.alg.cipher);
          kPi.fill(0);
          return joinResponse(tlv(0x7c, tlv(0x80, z)), SW.OK);
        }
        case 2: {
          const pk = dos.get(0x81);
          if (!pk) return fail(0x6a80);
          ps.group = new PaceGroup(ps.domain);
          if (ps.alg.mapping === 'IM') {
            // §4.4.3.3.2: 81 is the terminal's nonce t; the chip's mapping data (82) is empty.
            if (pk.length !== imNonceLength(ps.alg.cipher)) return fail(0x6a80);
            ps.group.mapIntegrated(ps.s!, pk, ps.alg.cipher);
            ps.s!.fill(0);
            return joinResponse(tlv(0x7c, tlv(0x82, Buffer.alloc(0))), SW.OK);
          }
          ps.group.checkPublic(pk, "the terminal's mapping key");
          const sk = randomScalar(ps.domain);
          const own = ps.group.publicKey(sk);
          ps.group.mapGeneric(ps.s!, sk, pk);
          ps.s!.fill(0);
          if (ps.alg.mapping === 'CAM') ps.skMap = sk;
          return joinResponse(tlv(0x7c, tlv(0x82, own)), SW.OK);
        }
        case 3: {
          const pk = dos.get(0x83);
          if (!pk) return fail(0x6a80);
          ps.group!.checkPublic(pk, "the terminal's ephemeral key");
          ps.skDh = randomScalar(ps.domain);
          ps.pkDh = ps.group!.publicKey(ps.skDh);
          ps.keys = sessionKeys(ps.group!.agree(ps.skDh, pk), ps.alg.cipher);
          ps.pkDhIfd = pk;
          return joinResponse(tlv(0x7c, tlv(0x84, ps.pkDh)), SW.OK);
        }
        case 4: {
          const t = dos.get(0x85);
          const pkDhIfd = ps.pkDhIfd!;
          this.paceSession = undefined;
          if (!t || !t.equals(authToken(ps.alg, ps.keys!.ksMac, ps.pkDh!))) {
            this.paceFailures++;
            const left = this.retriesLeft.get(ps.ref);
            if (left !== undefined) {
              this.retriesLeft.set(ps.ref, Math.max(0, left - 1));
              return sw(left - 1 <= 0 ? 0x63c0 : 0x63c0 | (left - 1));
            }
            return sw(SW.WARN_AUTH_FAILED);
          }
          if (this.pace!.retries !== undefined) this.retriesLeft.set(ps.ref, this.pace!.retries);
          if (ps.ref === 2) this.canVerified = true;
          const tIc = authToken(ps.alg, ps.keys!.ksMac, pkDhIfd);
          if (this.faults.badPaceToken) tIc[0] = tIc[0]! ^ 0x01;
          const extra: Buffer[] = [];
          if (ps.alg.mapping === 'CAM') {
            // §4.4.3.5.1: A_IC = E(KS_Enc, SK_IC⁻¹ · SK_Map,IC mod n).
            const skIc = this.faults.badCaKey ? randomScalar(ps.domain) : this.chipKeys.ca!.privateKey;
            const aIc = camEncrypt(ps.domain, ps.keys!.ksEnc, skIc, ps.skMap!);
            if (this.faults.badCamData) aIc[aIc.length >> 1] = aIc[aIc.length >> 1]! ^ 0x01;
            extra.push(tlv(0x8a, aIc));
            ps.skMap = undefined;
          }
          this.sm = new SecureMessaging(ps.keys!);
          ps.keys!.ksEnc.fill(0); ps.keys!.ksMac.fill(0);
          this.protectedResponses = 0;
          this.paceSuccesses++;
          return joinResponse(tlv(0x7c, tlv(0x86, tIc), ...extra), SW.OK);
        }
        default:
          return fail(SW.CONDITIONS_NOT_SATISFIED);
      }
    } catch (e) {
      // A terminal key that is not on the curve / in the group.
      if (e instanceof CardDataError) return fail(0x6a80);
      throw e;
    }
  }

  private select(p1: number, data?: Buffer): Buffer {
    if (p1 !== 0x02 || !data || data.length !== 2) return sw(SW.WRONG_P1P2);
    if (data.readUInt16BE(0) === ATR_INFO_FID && this.files.has(ATR_INFO_FID)) { this.selected = ATR_INFO_FID; return sw(SW.OK); }
    const fid = data.readUInt16BE(0);
    if (!this.files.has(fid)) return sw(SW.FILE_NOT_FOUND);
    this.selected = fid;
    return sw(SW.OK);
  }

  private handleSecure(apdu: Buffer): Buffer {
    const sm = this.sm;
    if (!sm) return sw(SW.SM_INCORRECT);
    let c;
    try { c = sm.unwrapCommand(apdu); } catch (e) {
      if (e instanceof SmError) { this.sm = undefined; return sw(SW.SM_INCORRECT); }
      throw e;
    }
    let data: Buffer = Buffer.alloc(0);
    let status: number = SW.OK;
    let nextKeys: ReturnType<typeof sessionKeys> | undefined;
    // Command chaining (CLA bit 10): keep the parts, act on the last one (a DH key for Chip Authentication in short APDUs).
    const chain = this.chained;
    this.chained = undefined;
    if (chain && (chain.ins !== c.ins || chain.p1 !== c.p1 || chain.p2 !== c.p2)) status = SW.CONDITIONS_NOT_SATISFIED;
    else if (c.cla & 0x10) {
      if ((chain?.data.length ?? 0) + (c.data?.length ?? 0) > 4096) status = SW.WRONG_LENGTH;
      else this.chained = { ins: c.ins, p1: c.p1, p2: c.p2, data: Buffer.concat([chain?.data ?? Buffer.alloc(0), c.data ?? Buffer.alloc(0)]) };
    } else if (chain) c.data = Buffer.concat([chain.data, c.data ?? Buffer.alloc(0)]);
    if (status !== SW.OK || c.cla & 0x10) {
      // answered below
    } else if (c.ins === 0xa4 && c.p1 === 0x04) {
      // SELECT of the application under the PACE session (the session stays).
      if (c.data && c.data.equals(EMRTD_AID)) this.appSelected = true;
      else status = SW.FILE_NOT_FOUND;
    } else if (c.ins === 0xa4) {
      status = this.select(c.p1, c.data).readUInt16BE(0);
    } else if (c.ins === 0xb0) {
      let fid = this.selected;
      let offset: number;
      if (c.p1 & 0x80) { fid = 0x0100 | (c.p1 & 0x1f); offset = c.p2; if (this.files.has(fid)) this.selected = fid; } else offset = ((c.p1 & 0x7f) << 8) | c.p2;
      const file = fid !== undefined ? this.files.get(fid) : undefined;
      if (!file) status = SW.FILE_NOT_FOUND;
      else if (offset > file.length) status = SW.WRONG_P1P2;
      else {
        const le = c.le ?? 256;
        data = file.subarray(offset, Math.min(file.length, offset + le));
        if (offset + le > file.length) status = 0x6282;
      }
    } else if (c.ins === 0xb1) {
      // READ BINARY with odd INS: offset in DO'54', data returned in DO'53' (files over 32 KB).
      const file = this.selected !== undefined ? this.files.get(this.selected) : undefined;
      let off: number | undefined;
      try {
        const t = readTlv(c.data ?? Buffer.alloc(0), 0, 'command');
        if (t.tag === 0x54 && t.value.length >= 1 && t.value.length <= 3) off = t.value.reduce((a, b) => a * 256 + b, 0);
      } catch { off = undefined; }
      if (!file) status = SW.FILE_NOT_FOUND;
      else if (off === undefined) status = SW.WRONG_P1P2;
      else if (off > file.length) status = SW.WRONG_P1P2;
      else {
        const le = c.le ?? 256;
        let n = Math.min(file.length - off, le);
        while (n > 0 && n + encodeLength(n).length + 1 > le) n--;
        data = tlv(0x53, file.subarray(off, off + n));
        if (off + n >= file.length && n + encodeLength(n).length + 1 < le) status = 0x6282;
      }
    } else if (c.ins === 0x22 || c.ins === 0x86) {
      const r = this.chipAuthenticate(c.ins, c.p1, c.p2, c.data);
      status = r.status;
      data = r.data ?? data;
      nextKeys = r.next;
    } else if (c.ins === 0x88) {
      const r = this.internalAuthenticate(c.data);
      status = r.status;
      data = r.data ?? data;
    } else status = SW.INS_NOT_SUPPORTED;
    if (this.faults.plainErrors && status !== SW.OK && status !== 0x6282) {
      // Unprotected answer: neither side counts it in the SSC.
      return sw(status);
    }
    const resp = sm.wrapResponse(data, status, (c.ins & 1) === 1);
    // Chip Authentication: the answer goes under the old keys, everything after under the new ones (SSC 0).
    if (nextKeys) { sm.destroy(); this.sm = new SecureMessaging(nextKeys); nextKeys.ksEnc.fill(0); nextKeys.ksMac.fill(0); this.caRuns++; }
    this.protectedResponses++;
    if (this.faults.corruptMacAt !== undefined && this.protectedResponses === this.faults.corruptMacAt) {
      resp[resp.length - 3] = resp[resp.length - 3]! ^ 0x01;
    }
    return resp;
  }
}

function sw(v: number): Buffer {
  return Buffer.from([v >> 8, v & 0xff]);
}
