/**
 * Clone detection (ICAO 9303-11 §6): Chip Authentication with the key in DG14
 * (the chip proves it holds the private key by continuing secure messaging
 * under keys only that key can derive) and Active Authentication with the key
 * in DG15 (the chip signs a challenge: RSA with ISO/IEC 9796-2 scheme 1
 * message recovery, or ECDSA). A full copy of a genuine chip passes passive
 * authentication but cannot do either.
 *
 * Parsing and verification used by the terminal (drivers/card/emrtd.ts) and the
 * key and signature side used by the emulator (drivers/card/emulator/card.ts).
 * Elliptic-curve arithmetic comes from @noble/curves (through PaceGroup), RSA
 * and ECDSA verification from Node's OpenSSL.
 */
import { checkPrimeSync, constants, createHash, createPublicKey, publicDecrypt, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import type { CloneReasonCode, CloneVerdict } from '../../config/domain';
import { CLONE_REASONS } from '../../config/domain';
import { oidBytes, PaceGroup, STANDARD_DOMAINS, type DomainParameters } from './pace';
import { decodeOid } from './passive-auth';
import type { SmCipherName } from './sm';
import { CardDataError, readAll, tlv, type Tlv } from './tlv';

export const ID_CA = '0.4.0.127.0.7.2.2.3';
export const ID_PK_DH = '0.4.0.127.0.7.2.2.1.1';
export const ID_PK_ECDH = '0.4.0.127.0.7.2.2.1.2';
/** ActiveAuthenticationInfo (ICAO 9303-11 §9.2.8). */
export const ID_AA = '2.23.136.1.1.5';
const ID_EC_PUBLIC_KEY = '1.2.840.10045.2.1';
const ID_PRIME_FIELD = '1.2.840.10045.1.1';
/** ANSI X9.42 dhpublicnumber: DomainParameters ::= SEQUENCE { p, g, q, j OPTIONAL, validationParms OPTIONAL }. */
export const ID_DH_PUBLIC_NUMBER = '1.2.840.10046.2.1';
/** PKCS #3 dhKeyAgreement: DHParameter ::= SEQUENCE { prime, base, privateValueLength OPTIONAL } (no subgroup order). */
export const ID_DH_KEY_AGREEMENT = '1.2.840.113549.1.3.1';
/** BSI TR-03110-3 standardizedDomainParameters: the AlgorithmIdentifier's parameter is the INTEGER id of ICAO 9303-11 Table 28. */
export const ID_STANDARDIZED_DOMAIN = '0.4.0.127.0.7.1.2';
/** DH groups accepted for Chip Authentication: ICAO 9303-11 uses 1024–2048-bit p; larger ones are refused before any arithmetic. */
const DH_MIN_P_BITS = 1024, DH_MAX_P_BITS = 4096, DH_MIN_Q_BITS = 160;

/** ecdsa-plain-SHA* (BSI TR-03111) and X9.62 ecdsa-with-SHA* → hash name. */
const ECDSA_HASH: Record<string, string> = {
  '0.4.0.127.0.7.1.1.4.1.1': 'sha1', '0.4.0.127.0.7.1.1.4.1.2': 'sha224', '0.4.0.127.0.7.1.1.4.1.3': 'sha256',
  '0.4.0.127.0.7.1.1.4.1.4': 'sha384', '0.4.0.127.0.7.1.1.4.1.5': 'sha512',
  '1.2.840.10045.4.1': 'sha1', '1.2.840.10045.4.3.1': 'sha224', '1.2.840.10045.4.3.2': 'sha256', '1.2.840.10045.4.3.3': 'sha384', '1.2.840.10045.4.3.4': 'sha512',
};
export const ECDSA_PLAIN_SHA256 = '0.4.0.127.0.7.1.1.4.1.3';

/** Named-curve OIDs → standardized domain parameter id (ICAO 9303-11 Table 28). */
export const CURVE_OIDS: Record<string, number> = {
  '1.2.840.10045.3.1.7': 12, '1.3.36.3.3.2.8.1.1.7': 13, '1.3.132.0.34': 15, '1.3.36.3.3.2.8.1.1.11': 16, '1.3.36.3.3.2.8.1.1.13': 17, '1.3.132.0.35': 18,
};

const CA_CIPHERS: Record<string, SmCipherName> = { 1: '3DES', 2: 'AES-128', 3: 'AES-192', 4: 'AES-256' };

export interface ChipAuthAlgorithm { oid: string; agreement: 'DH' | 'ECDH'; cipher: SmCipherName }

export function caAlgorithm(oid: string): ChipAuthAlgorithm | undefined {
  if (!oid.startsWith(`${ID_CA}.`)) return undefined;
  const [a, c, ...rest] = oid.slice(ID_CA.length + 1).split('.');
  const cipher = CA_CIPHERS[c ?? ''];
  if ((a !== '1' && a !== '2') || !cipher || rest.length) return undefined;
  return { oid, agreement: a === '1' ? 'DH' : 'ECDH', cipher };
}

export function caOid(cipher: SmCipherName, agreement: 'DH' | 'ECDH' = 'ECDH'): string {
  return `${ID_CA}.${agreement === 'DH' ? 1 : 2}.${Object.entries(CA_CIPHERS).find(([, v]) => v === cipher)![0]}`;
}

export interface ChipAuthKey {
  keyId?: number;
  agreement: 'DH' | 'ECDH';
  /** The domain when this reader implements it (ECDH on a standard curve, a standardized or checked explicit DH group). */
  domain?: DomainParameters;
  /** The chip's static public key (uncompressed point for ECDH, y as bytes of p's length for DH). */
  publicKey: Buffer;
}

export interface Dg14 {
  ca: { algorithm: ChipAuthAlgorithm; version: number; keyId?: number }[];
  keys: ChipAuthKey[];
  /** Signature algorithm for ECDSA Active Authentication, when DG14 names one. */
  aaSignatureAlgorithm?: string;
  /** Other SecurityInfo OIDs (PACE, Terminal Authentication, …). */
  other: string[];
}

const int = (t: Tlv | undefined, what: string, file: string): number => {
  if (!t || t.tag !== 0x02 || t.value.length < 1 || t.value.length > 4) throw new CardDataError(file, `${what} is not a small INTEGER`);
  return t.value.reduce((a, x) => a * 256 + x, 0);
};
const oidOf = (t: Tlv | undefined, what: string, file: string): string => {
  if (!t || t.tag !== 0x06) throw new CardDataError(file, `${what} is not an OBJECT IDENTIFIER`);
  try { return decodeOid(t.value); } catch (e) { throw new CardDataError(file, `${what} is malformed`, e); }
};
const big = (b: Buffer): bigint => (b.length ? BigInt(`0x${b.toString('hex')}`) : 0n);

/** The domain of an EC SubjectPublicKeyInfo's parameters: a named curve, or explicit parameters matched by prime and order. */
function ecDomain(params: Tlv | undefined, file: string): DomainParameters | undefined {
  if (!params) return undefined;
  if (params.tag === 0x06) {
    const id = CURVE_OIDS[oidOf(params, 'the curve', file)];
    return id === undefined ? undefined : STANDARD_DOMAINS[id];
  }
  if (params.tag !== 0x30) throw new CardDataError(file, 'the EC parameters are neither a named curve nor explicit parameters');
  // ECParameters ::= SEQUENCE { version, fieldID SEQUENCE { prime-field OID, p }, curve, base, order, cofactor? }
  const items = readAll(params.value, file);
  const field = items[1], order = items[4];
  if (!field || field.tag !== 0x30 || !order || order.tag !== 0x02) throw new CardDataError(file, 'the explicit EC parameters are incomplete');
  const f = readAll(field.value, file);
  if (oidOf(f[0], 'the field type', file) !== ID_PRIME_FIELD || !f[1] || f[1].tag !== 0x02) return undefined;
  const p = big(f[1].value), n = big(order.value);
  return Object.values(STANDARD_DOMAINS).find((d) => d.kind === 'ECDH' && d.curve.Point.Fp.ORDER === p && d.curve.Point.Fn.ORDER === n);
}

const bits = (v: bigint): number => v.toString(2).length;

/** b^e mod m by square-and-multiply on bigint (a 2048-bit p with a 2047-bit exponent takes some 30 ms). */
export function modPow(b: bigint, e: bigint, m: bigint): bigint {
  let r = 1n;
  b %= m;
  while (e > 0n) {
    if (e & 1n) r = (r * b) % m;
    b = (b * b) % m;
    e >>= 1n;
  }
  return r;
}

/**
 * The DH group of Chip Authentication: public keys, the check of the other
 * side's value (1 < y < p − 1, y^q = 1 mod p) and the shared secret (as bytes
 * of p's length, ICAO 9303-11 §9.6). The ephemeral exponents are used once.
 */
export class DhCaGroup {
  constructor(readonly domain: DhDomain) {}
  publicKey(sk: bigint): Buffer { return fixedBytes(modPow(this.domain.g, sk, this.domain.p), this.domain.bytes); }
  checkPublic(pk: Buffer, what: string): void {
    const d = this.domain, y = big(pk);
    if (pk.length !== d.bytes || y <= 1n || y >= d.p - 1n) throw new CardDataError('Chip Authentication', `${what} is not a valid DH public value (1 < y < p − 1)`);
    if (modPow(y, d.q, d.p) !== 1n) throw new CardDataError('Chip Authentication', `${what} is not in the order-q subgroup`);
  }
  agree(sk: bigint, pk: Buffer): Buffer { return fixedBytes(modPow(big(pk), sk, this.domain.p), this.domain.bytes); }
}

/** The group Chip Authentication computes in: @noble/curves for ECDH (through PaceGroup), bigint for DH. */
export function caGroup(domain: DomainParameters): Pick<PaceGroup, 'publicKey' | 'checkPublic' | 'agree'> {
  return domain.kind === 'DH' ? new DhCaGroup(domain) : new PaceGroup(domain);
}

/** (p, q) pairs already found prime: a country's group is checked once per process, not at every read. */
const PRIME_CHECKED = new Set<string>();
const fixedBytes = (v: bigint, len: number): Buffer => Buffer.from(v.toString(16).padStart(len * 2, '0'), 'hex');

/**
 * A DH group from DG14, checked before it is used: p and q prime, q divides
 * p − 1, 1 < g < p − 1 and g^q = 1 (mod p), p of 1024–4096 bits, q of at least
 * 160. Throws CardDataError naming what is wrong; never returns an unchecked group.
 */
export type DhDomain = Extract<DomainParameters, { kind: 'DH' }>;

export function checkedDhDomain(p: bigint, g: bigint, q: bigint, file: string, label = 'explicit'): DhDomain {
  const bad = (why: string) => new CardDataError(file, `the DH domain parameters are not a prime-order subgroup (${why})`);
  const pBits = bits(p);
  if (pBits < DH_MIN_P_BITS || pBits > DH_MAX_P_BITS) throw bad(`p has ${pBits} bits, not ${DH_MIN_P_BITS}–${DH_MAX_P_BITS}`);
  if (bits(q) < DH_MIN_Q_BITS || q >= p) throw bad(`q has ${bits(q)} bits`);
  if ((p - 1n) % q !== 0n) throw bad('q does not divide p − 1');
  const d: DhDomain = { kind: 'DH', id: -1, name: `DH-${pBits}/${bits(q)} (${label})`, p, g, q, bytes: Math.ceil(pBits / 8) };
  if (g <= 1n || g >= p - 1n) throw bad('g is not between 1 and p − 1');
  if (modPow(g, q, p) !== 1n) throw bad('g does not generate the order-q subgroup');
  const key = `${p.toString(16)}/${q.toString(16)}`;
  if (!PRIME_CHECKED.has(key)) {
    if (!checkPrimeSync(p)) throw bad('p is not prime');
    if (!checkPrimeSync(q)) throw bad('q is not prime');
    PRIME_CHECKED.add(key);
  }
  return d;
}

/**
 * The domain of a DH SubjectPublicKeyInfo's parameters: a standardized id
 * (INTEGER, Table 28), X9.42 DomainParameters (p, g, q, …), or PKCS #3
 * DHParameter (p, g[, l]) whose p must then be a safe prime (q = (p − 1)/2).
 * Undefined: a standardized group this reader does not implement.
 */
function dhDomain(keyAlgorithm: string, params: Tlv | undefined, file: string): DhDomain | undefined {
  if (!params) throw new CardDataError(file, 'the DH Chip Authentication key has no domain parameters');
  if (params.tag === 0x02) {
    const d = STANDARD_DOMAINS[int(params, 'the standardized domain parameter id', file)];
    return d && d.kind === 'DH' ? d : undefined;
  }
  if (params.tag !== 0x30) throw new CardDataError(file, 'the DH domain parameters are neither a standardized id nor a SEQUENCE');
  const items = readAll(params.value, file);
  const n = (i: number, what: string): bigint => {
    const t = items[i];
    if (!t || t.tag !== 0x02 || !t.value.length || t.value[0]! & 0x80) throw new CardDataError(file, `the DH domain parameter ${what} is not a positive INTEGER`);
    return big(t.value);
  };
  const p = n(0, 'p'), g = n(1, 'g');
  if (keyAlgorithm === ID_DH_KEY_AGREEMENT || items.length < 3) {
    // PKCS #3 names no subgroup order: only a safe prime gives one to check public values against.
    if (bits(p) < DH_MIN_P_BITS || bits(p) > DH_MAX_P_BITS) throw new CardDataError(file, `the DH domain parameters are not a prime-order subgroup (p has ${bits(p)} bits, not ${DH_MIN_P_BITS}–${DH_MAX_P_BITS})`);
    const q = (p - 1n) / 2n;
    if (!PRIME_CHECKED.has(`${p.toString(16)}/${q.toString(16)}`) && !checkPrimeSync(q)) throw new CardDataError(file, 'the DH domain parameters are not a prime-order subgroup (PKCS #3 parameters without q, and p is not a safe prime)');
    return checkedDhDomain(p, g, q, file, 'PKCS #3, safe prime');
  }
  return checkedDhDomain(p, g, n(2, 'q'), file, 'X9.42');
}

/** Parses a SubjectPublicKeyInfo for Chip Authentication (id-PK-ECDH / id-ecPublicKey, or id-PK-DH / dhpublicnumber / dhKeyAgreement). */
function caKey(spki: Tlv | undefined, keyId: number | undefined, file: string): ChipAuthKey {
  if (!spki || spki.tag !== 0x30) throw new CardDataError(file, 'the Chip Authentication public key is not a SubjectPublicKeyInfo');
  const [alg, bitString] = readAll(spki.value, file);
  if (!alg || alg.tag !== 0x30 || !bitString || bitString.tag !== 0x03 || bitString.value.length < 2 || bitString.value[0] !== 0) throw new CardDataError(file, 'the Chip Authentication public key is malformed');
  const a = readAll(alg.value, file);
  let oid = oidOf(a[0], 'the key algorithm', file);
  const params = a[1];
  const key = Buffer.from(bitString.value.subarray(1));
  const kid = keyId !== undefined ? { keyId } : {};
  if (oid === ID_STANDARDIZED_DOMAIN) {
    // The group by its id alone: DH or ECDH follows from the id.
    const d = STANDARD_DOMAINS[int(params, 'the standardized domain parameter id', file)];
    if (!d) return { ...kid, agreement: key[0] === 0x04 ? 'ECDH' : 'DH', publicKey: key };
    oid = d.kind === 'DH' ? ID_PK_DH : ID_PK_ECDH;
  }
  if (oid === ID_PK_DH || oid === ID_DH_PUBLIC_NUMBER || oid === ID_DH_KEY_AGREEMENT) {
    const domain = dhDomain(oid, params, file);
    // DHPublicKey ::= INTEGER, DER inside the BIT STRING (RFC 3279 §2.3.3).
    let y: bigint;
    try {
      const t = readAll(key, file);
      if (t.length !== 1 || t[0]!.tag !== 0x02 || !t[0]!.value.length || t[0]!.value[0]! & 0x80) throw new Error('not one positive INTEGER');
      y = big(t[0]!.value);
    } catch (e) { throw new CardDataError(file, `the DH Chip Authentication public value is malformed (${(e as Error).message})`, e); }
    if (!domain) return { ...kid, agreement: 'DH', publicKey: key };
    if (y.toString(16).length > domain.bytes * 2) throw new CardDataError(file, 'the DH Chip Authentication public value is longer than p');
    const publicKey = fixedBytes(y, domain.bytes);
    try { new DhCaGroup(domain).checkPublic(publicKey, 'the DH public value'); } catch (e) {
      throw new CardDataError(file, `the Chip Authentication public value is not in the group (${(e as Error).message}): it must be 1 < y < p − 1 with y^q = 1 mod p`, e);
    }
    return { ...kid, agreement: 'DH', domain, publicKey };
  }
  if (oid !== ID_PK_ECDH && oid !== ID_EC_PUBLIC_KEY) throw new CardDataError(file, `the Chip Authentication key algorithm ${oid} is unknown`);
  if (params?.tag === 0x02) {
    const d = STANDARD_DOMAINS[int(params, 'the standardized domain parameter id', file)];
    if (d?.kind === 'ECDH') return ecKey(key, d, kid, file);
    return { ...kid, agreement: 'ECDH', publicKey: key };
  }
  return ecKey(key, ecDomain(params, file), kid, file);
}

function ecKey(key: Buffer, domain: DomainParameters | undefined, kid: { keyId?: number }, file: string): ChipAuthKey {
  if (domain && domain.kind === 'ECDH') {
    try {
      const P = domain.curve.Point.fromBytes(new Uint8Array(key));
      P.assertValidity();
      if (P.is0()) throw new Error('infinity');
    } catch { throw new CardDataError(file, `the Chip Authentication public key is not a point on ${domain.name}`); }
  }
  return { ...kid, agreement: 'ECDH', ...(domain ? { domain } : {}), publicKey: key };
}

/** Parses DG14 (tag 6E: SecurityInfos). Throws CardDataError('DG14') when malformed. */
export function parseDg14(dg14: Buffer): Dg14 {
  const F = 'DG14';
  const outer = readAll(dg14, F);
  if (outer.length !== 1 || outer[0]!.tag !== 0x6e) throw new CardDataError(F, 'it does not start with tag 6E');
  const set = readAll(outer[0]!.value, F);
  if (set.length !== 1 || set[0]!.tag !== 0x31) throw new CardDataError(F, 'it is not a SET OF SecurityInfo');
  const out: Dg14 = { ca: [], keys: [], other: [] };
  for (const si of readAll(set[0]!.value, F)) {
    if (si.tag !== 0x30) throw new CardDataError(F, 'a SecurityInfo is not a SEQUENCE');
    const items = readAll(si.value, F);
    const oid = oidOf(items[0], 'a SecurityInfo protocol', F);
    const alg = caAlgorithm(oid);
    if (alg) {
      out.ca.push({ algorithm: alg, version: int(items[1], 'the ChipAuthenticationInfo version', F), ...(items[2] ? { keyId: int(items[2], 'the key id', F) } : {}) });
    } else if (oid === ID_PK_ECDH || oid === ID_PK_DH) {
      out.keys.push(caKey(items[1], items[2] ? int(items[2], 'the key id', F) : undefined, F));
    } else if (oid === ID_AA) {
      int(items[1], 'the ActiveAuthenticationInfo version', F);
      out.aaSignatureAlgorithm = oidOf(items[2], 'the Active Authentication signature algorithm', F);
    } else out.other.push(oid);
  }
  return out;
}

/** The Chip Authentication to run: a key on a domain this reader implements (ECDH on a standard curve, or a checked DH group) and its algorithm (default 3DES when DG14 names none, ICAO 9303-11 §6.2.3). */
export function chooseChipAuth(d: Dg14): { algorithm: ChipAuthAlgorithm; key: ChipAuthKey } | 'unsupported' | undefined {
  if (!d.keys.length) return undefined;
  for (const key of d.keys) {
    if (!key.domain) continue;
    const info = d.ca.find((c) => c.algorithm.agreement === key.agreement && (c.keyId === undefined || key.keyId === undefined || c.keyId === key.keyId));
    if (info) return { algorithm: info.algorithm, key };
    if (!d.ca.length) return { algorithm: caAlgorithm(`${ID_CA}.${key.agreement === 'DH' ? 1 : 2}.1`)!, key };
  }
  return 'unsupported';
}

/** Curves Active Authentication verifies on (OpenSSL names), with their field size: the plain r‖s signature has twice as many bytes. */
export const AA_CURVES: Record<string, { oid: string; bytes: number; label: string }> = {
  prime256v1: { oid: '1.2.840.10045.3.1.7', bytes: 32, label: 'NIST P-256' },
  secp384r1: { oid: '1.3.132.0.34', bytes: 48, label: 'NIST P-384' },
  secp521r1: { oid: '1.3.132.0.35', bytes: 66, label: 'NIST P-521' },
  brainpoolP256r1: { oid: '1.3.36.3.3.2.8.1.1.7', bytes: 32, label: 'brainpoolP256r1' },
  brainpoolP384r1: { oid: '1.3.36.3.3.2.8.1.1.11', bytes: 48, label: 'brainpoolP384r1' },
  brainpoolP512r1: { oid: '1.3.36.3.3.2.8.1.1.13', bytes: 64, label: 'brainpoolP512r1' },
};
const ID_RSA = '1.2.840.113549.1.1.1';

/** A DG15 key this reader cannot use: `not-supported` / `unsupported-algorithm`, never a pass. */
export interface UnsupportedAaKey { unsupported: string }

/**
 * DG15 (tag 6F): the Active Authentication public key (RSA or EC
 * SubjectPublicKeyInfo). A well-formed key of a kind this reader does not
 * verify (another algorithm, an EC curve outside AA_CURVES) comes back as
 * `{ unsupported }`; anything malformed throws CardDataError('DG15').
 */
export function parseDg15(dg15: Buffer): KeyObject | UnsupportedAaKey {
  const F = 'DG15';
  const outer = readAll(dg15, F);
  if (outer.length !== 1 || outer[0]!.tag !== 0x6f) throw new CardDataError(F, 'it does not start with tag 6F');
  const spki = readAll(outer[0]!.value, F);
  if (spki.length !== 1 || spki[0]!.tag !== 0x30) throw new CardDataError(F, 'the Active Authentication public key is not a SubjectPublicKeyInfo');
  const [alg, bitString] = readAll(spki[0]!.value, F);
  if (!alg || alg.tag !== 0x30 || !bitString || bitString.tag !== 0x03) throw new CardDataError(F, 'the Active Authentication public key is not a SubjectPublicKeyInfo');
  const a = readAll(alg.value, F);
  const oid = oidOf(a[0], 'the Active Authentication key algorithm', F);
  if (oid !== ID_RSA && oid !== ID_EC_PUBLIC_KEY) return { unsupported: `the DG15 key algorithm ${oid} is not one ICAO 9303-11 allows for Active Authentication (RSA or ECDSA): it cannot be checked` };
  let key: KeyObject;
  try {
    key = createPublicKey({ key: Buffer.from(outer[0]!.value), format: 'der', type: 'spki' });
  } catch (e) {
    if (oid === ID_EC_PUBLIC_KEY && a[1]?.tag === 0x06) {
      const curve = oidOf(a[1], 'the curve', F);
      if (!Object.values(AA_CURVES).some((c) => c.oid === curve)) return { unsupported: `the DG15 key is on curve ${curve}, which is not a standard ICAO curve (brainpool or NIST): it cannot be checked` };
    }
    throw new CardDataError(F, `the Active Authentication public key cannot be read (${(e as Error).message})`, e);
  }
  if (key.asymmetricKeyType === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (!curve || !AA_CURVES[curve]) return { unsupported: `the DG15 key is on curve ${curve ?? '(explicit parameters)'}, which is not a standard ICAO curve (brainpool or NIST): it cannot be checked` };
  } else if (key.asymmetricKeyType === 'rsa') {
    const bitsN = key.asymmetricKeyDetails?.modulusLength ?? 0;
    if (bitsN < 1024 || bitsN > 4096 || bitsN % 8) return { unsupported: `an RSA key of ${bitsN} bits is refused (1024–4096 bits in whole bytes: shorter is too weak to prove anything, longer does not fit a chip's answer)` };
  } else return { unsupported: `the DG15 key type ${key.asymmetricKeyType} is not one ICAO 9303-11 allows for Active Authentication (RSA or ECDSA)` };
  return key;
}

/**
 * ISO/IEC 9796-2 trailer hash identifiers (ISO/IEC 10118-3). 32 RIPEMD-128 and 37 Whirlpool are refused by
 * name: neither is in ICAO 9303's list of hashes, and Node's OpenSSL 3 carries neither outside its legacy
 * provider (a hash function is not something to write here).
 */
const TRAILER_HASH: Record<number, string> = { 0x31: 'ripemd160', 0x33: 'sha1', 0x34: 'sha256', 0x35: 'sha512', 0x36: 'sha384', 0x38: 'sha224' };
export const TRAILER_ID: Record<string, number> = Object.fromEntries(Object.entries(TRAILER_HASH).map(([k, v]) => [v, Number(k)]));
const HASH_LEN: Record<string, number> = { ripemd160: 20, sha1: 20, sha224: 28, sha256: 32, sha384: 48, sha512: 64 };
export const HASH_LABEL: Record<string, string> = { ripemd160: 'RIPEMD-160', sha1: 'SHA-1', sha224: 'SHA-224', sha256: 'SHA-256', sha384: 'SHA-384', sha512: 'SHA-512' };
/** ecdsa-plain-SHA* OIDs by hash (what the emulator writes in ActiveAuthenticationInfo). */
export const ECDSA_PLAIN: Record<string, string> = Object.fromEntries(Object.entries(ECDSA_HASH).filter(([o]) => o.startsWith('0.4.0.127')).map(([o, h]) => [h, o]));

export type AaVerdict = { ok: true; hash: string } | { ok: false; why: string; unsupported?: true };

/** Whether an ECDSA signature algorithm named in DG14 is one this reader verifies. */
export function aaAlgorithmSupported(ecdsaAlgorithm: string | undefined): boolean {
  return ecdsaAlgorithm === undefined || ECDSA_HASH[ecdsaAlgorithm] !== undefined;
}

/**
 * Verifies an Active Authentication answer to the challenge `rnd`.
 * RSA: ISO/IEC 9796-2 digital signature scheme 1 with partial message recovery
 * (header 6A, trailer BC for SHA-1 or `hh CC` with the ISO/IEC 10118-3 hash
 * id); the chip may send s or n − s (ISO/IEC 9796-2's min(s, n − s)), told
 * apart by the trailer nibble C. ECDSA: plain r‖s (BSI TR-03111, what ICAO
 * 9303-11 §6.1 prescribes; an X9.62 DER signature is accepted too) with the hash
 * DG14's ActiveAuthenticationInfo names; when DG14 names none, each SHA-1/2
 * hash is tried (a signature verifies only with the chip's private key, so
 * the choice of hash does not weaken the check). Returns the reason when it fails.
 */
export function verifyActiveAuth(key: KeyObject, rnd: Buffer, sig: Buffer, ecdsaAlgorithm?: string): AaVerdict {
  if (key.asymmetricKeyType === 'rsa') {
    const jwk = key.export({ format: 'jwk' });
    const nBytes = Buffer.from(jwk.n!, 'base64url');
    const k = nBytes.length;
    if (sig.length !== k) return { ok: false, why: `the signature has ${sig.length} bytes, the modulus ${k}` };
    const n = big(nBytes);
    if (big(sig) >= n) return { ok: false, why: 'the signature is not below the modulus' };
    let m: Buffer;
    try { m = publicDecrypt({ key, padding: constants.RSA_NO_PADDING }, sig); } catch (e) { return { ok: false, why: `RSA: ${(e as Error).message}` }; }
    if ((m[k - 1]! & 0x0f) !== 0x0c) m = fixedBytes(n - big(m), k);
    let hash: string | undefined, t: number;
    if (m[k - 1] === 0xbc) { hash = 'sha1'; t = 1; } else if (m[k - 1] === 0xcc) {
      hash = TRAILER_HASH[m[k - 2]!]; t = 2;
      if (!hash) return [0x32, 0x37].includes(m[k - 2]!) ? { ok: false, why: `the ISO/IEC 9796-2 trailer names hash ${m[k - 2]!.toString(16)} (${m[k - 2] === 0x32 ? 'RIPEMD-128' : 'Whirlpool'}), which is not an ICAO 9303 hash and which this runtime's OpenSSL does not provide: the signature cannot be checked`, unsupported: true } : { ok: false, why: `unknown hash ${m[k - 2]!.toString(16)} in the ISO/IEC 9796-2 trailer` };
    } else return { ok: false, why: 'no ISO/IEC 9796-2 trailer' };
    if (m[0] !== 0x6a) return { ok: false, why: 'no ISO/IEC 9796-2 partial-recovery header (6A)' };
    const h = HASH_LEN[hash]!;
    if (k - t - h - 1 < 1) return { ok: false, why: 'the modulus is too short for the hash' };
    const m1 = m.subarray(1, k - t - h), d = m.subarray(k - t - h, k - t);
    const ok = createHash(hash).update(m1).update(rnd).digest().equals(d);
    return ok ? { ok: true, hash } : { ok: false, why: 'the recovered digest does not match the challenge' };
  }
  if (key.asymmetricKeyType === 'ec') {
    const curve = AA_CURVES[key.asymmetricKeyDetails?.namedCurve ?? ''];
    if (!curve) return { ok: false, why: `curve ${key.asymmetricKeyDetails?.namedCurve ?? '?'} is not a standard ICAO curve: the signature cannot be checked`, unsupported: true };
    if (ecdsaAlgorithm !== undefined && !ECDSA_HASH[ecdsaAlgorithm]) return { ok: false, why: `signature algorithm ${ecdsaAlgorithm} is not an ECDSA algorithm ICAO 9303-11 names for Active Authentication: the signature cannot be checked`, unsupported: true };
    const hashes = ecdsaAlgorithm !== undefined ? [ECDSA_HASH[ecdsaAlgorithm]!] : ['sha256', 'sha1', 'sha224', 'sha384', 'sha512'];
    const encoding = sig.length === 2 * curve.bytes ? 'ieee-p1363' : sig[0] === 0x30 ? 'der' : undefined;
    if (!encoding) return { ok: false, why: `the ECDSA signature has ${sig.length} bytes, not ${2 * curve.bytes} (r‖s on ${curve.label})` };
    for (const hash of hashes) {
      let ok: boolean;
      try { ok = cryptoVerify(hash, rnd, { key, dsaEncoding: encoding }, sig); } catch (e) { return { ok: false, why: `ECDSA: ${(e as Error).message}` }; }
      if (ok) return { ok: true, hash };
    }
    return { ok: false, why: `the ECDSA signature does not verify${ecdsaAlgorithm === undefined ? ' with any SHA-1/SHA-2 hash (DG14 names none)' : ` with ${HASH_LABEL[hashes[0]!]}`}` };
  }
  return { ok: false, why: `key type ${key.asymmetricKeyType} is not one ICAO 9303-11 allows for Active Authentication (RSA or ECDSA)`, unsupported: true };
}

/** The verdict carried in the read result and the record (config/domain.ts CLONE_VERDICTS / CLONE_REASONS). */
export interface CloneCheck {
  verdict: CloneVerdict;
  reasonCode?: CloneReasonCode;
  /** Sentence for people (the reason's text, plus detail). */
  reason?: string;
  /** What ran: "CA ECDH AES-128 on brainpoolP256r1", "AA RSA-1024 ISO 9796-2", … */
  method?: string;
}

export function cloneFailure(code: CloneReasonCode, detail?: string, method?: string): CloneCheck {
  return { verdict: CLONE_REASONS[code].verdict, reasonCode: code, reason: detail ? `${CLONE_REASONS[code].text}: ${detail}` : CLONE_REASONS[code].text, ...(method ? { method } : {}) };
}

// ───────────────────────── emulator side ─────────────────────────

/** How the emulator writes a DH key's group in DG14. */
export type DhKeyForm =
  /** dhpublicnumber with X9.42 DomainParameters { p, g, q }. */
  | 'x9.42'
  /** dhKeyAgreement with PKCS #3 DHParameter { p, g } (safe primes only). */
  | 'pkcs3'
  /** id-PK-DH with the standardized domain parameter id (INTEGER). */
  | 'standardized';

const derUint = (v: bigint): Buffer => {
  let h = v.toString(16);
  if (h.length % 2) h = `0${h}`;
  if (parseInt(h.slice(0, 2), 16) >= 0x80) h = `00${h}`;
  return tlv(0x02, Buffer.from(h, 'hex'));
};

/**
 * DG14 with a Chip Authentication key and its ChipAuthenticationInfo: id-PK-ECDH
 * on a named curve, or id-PK-DH on a DH group (`dh`), optionally an
 * ActiveAuthenticationInfo; without `publicKey` only the ActiveAuthenticationInfo.
 */
export function buildDg14(opts: {
  publicKey?: Buffer; parameterId?: number; cipher?: SmCipherName; keyId?: number; aaSignatureAlgorithm?: string; withoutCaInfo?: boolean;
  dh?: { domain: DhDomain; form: DhKeyForm };
}): Buffer {
  const infos: Buffer[] = [];
  const kid = opts.keyId !== undefined ? [tlv(0x02, Buffer.from([opts.keyId]))] : [];
  if (opts.publicKey) {
    let spki: Buffer, protocol: string;
    if (opts.dh) {
      const { domain: d, form } = opts.dh;
      protocol = ID_PK_DH;
      const alg = form === 'standardized' ? tlv(0x30, tlv(0x06, oidBytes(ID_PK_DH)), tlv(0x02, Buffer.from([d.id])))
        : form === 'pkcs3' ? tlv(0x30, tlv(0x06, oidBytes(ID_DH_KEY_AGREEMENT)), tlv(0x30, derUint(d.p), derUint(d.g)))
          : tlv(0x30, tlv(0x06, oidBytes(ID_DH_PUBLIC_NUMBER)), tlv(0x30, derUint(d.p), derUint(d.g), derUint(d.q)));
      spki = tlv(0x30, alg, tlv(0x03, Buffer.concat([Buffer.from([0]), derUint(big(opts.publicKey))])));
    } else {
      const curveOid = Object.entries(CURVE_OIDS).find(([, id]) => id === opts.parameterId)?.[0];
      if (!curveOid) throw new RangeError(`no named curve for domain ${opts.parameterId}`);
      protocol = ID_PK_ECDH;
      spki = tlv(0x30, tlv(0x30, tlv(0x06, oidBytes(ID_PK_ECDH)), tlv(0x06, oidBytes(curveOid))), tlv(0x03, Buffer.concat([Buffer.from([0]), opts.publicKey])));
    }
    infos.push(tlv(0x30, tlv(0x06, oidBytes(protocol)), spki, ...kid));
    if (!opts.withoutCaInfo) infos.push(tlv(0x30, tlv(0x06, oidBytes(caOid(opts.cipher ?? '3DES', opts.dh ? 'DH' : 'ECDH'))), tlv(0x02, Buffer.from([1])), ...kid));
  }
  if (opts.aaSignatureAlgorithm) infos.push(tlv(0x30, tlv(0x06, oidBytes(ID_AA)), tlv(0x02, Buffer.from([1])), tlv(0x06, oidBytes(opts.aaSignatureAlgorithm))));
  return tlv(0x6e, tlv(0x31, ...infos));
}

export function buildDg15(spkiDer: Buffer): Buffer {
  return tlv(0x6f, spkiDer);
}
