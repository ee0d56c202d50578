/**
 * PACE (ICAO 9303-11 §4.4) with Generic, Integrated and Chip Authentication
 * Mapping, ECDH and DH: the password keys, the nonce, the mapping, the key
 * agreement, the authentication tokens, the session keys and the encrypted chip
 * authentication data, used by the terminal (drivers/card/emrtd.ts) and by the
 * emulated chip (drivers/card/emulator/card.ts).
 *
 * Elliptic-curve arithmetic (point addition and scalar multiplication on the
 * brainpool and NIST curves, and the prime-field operations of the Integrated
 * Mapping's point encoding) comes from @noble/curves; DH modular arithmetic is
 * BigInt exponentiation done by Node's own DiffieHellman (OpenSSL).
 */
import { createDiffieHellman, createHash, randomBytes } from 'node:crypto';
import { brainpoolP256r1, brainpoolP384r1, brainpoolP512r1 } from '@noble/curves/misc.js';
import { p256, p384, p521 } from '@noble/curves/nist.js';
import { adjustParity, pad, retailMac, tdesDecrypt, tdesEncrypt, unpad } from './crypto';
import { aesCbc, aesCmac8, aesEcbBlock, padTo, type SmCipherName } from './sm';
import { CardDataError, readAll, tlv } from './tlv';
import { decodeOid } from './passive-auth';

// ───────────────────────── algorithms and domain parameters ─────────────────────────

/** id-PACE (BSI TR-03110 / ICAO 9303-11 §9.2.1). */
export const ID_PACE = '0.4.0.127.0.7.2.2.4';

export type PaceMapping = 'GM' | 'IM' | 'CAM';
export interface PaceAlgorithm {
  oid: string;
  agreement: 'DH' | 'ECDH';
  mapping: PaceMapping;
  cipher: SmCipherName;
}

const MAPPINGS: Record<string, [PaceAlgorithm['agreement'], PaceMapping]> = { 1: ['DH', 'GM'], 2: ['ECDH', 'GM'], 3: ['DH', 'IM'], 4: ['ECDH', 'IM'], 6: ['ECDH', 'CAM'] };
const CIPHERS: Record<string, SmCipherName> = { 1: '3DES', 2: 'AES-128', 3: 'AES-192', 4: 'AES-256' };

/** Decodes a PACE protocol OID (e.g. 0.4.0.127.0.7.2.2.4.2.2 = ECDH-GM with AES-128), or undefined when it is not one. */
export function paceAlgorithm(oid: string): PaceAlgorithm | undefined {
  if (!oid.startsWith(`${ID_PACE}.`)) return undefined;
  const [m, c, ...rest] = oid.slice(ID_PACE.length + 1).split('.');
  const mapping = MAPPINGS[m ?? ''], cipher = CIPHERS[c ?? ''];
  if (!mapping || !cipher || rest.length) return undefined;
  return { oid, agreement: mapping[0], mapping: mapping[1], cipher };
}

export function paceOid(agreement: 'DH' | 'ECDH', mapping: PaceMapping, cipher: SmCipherName): string {
  const m = Object.entries(MAPPINGS).find(([, v]) => v[0] === agreement && v[1] === mapping)![0];
  const c = Object.entries(CIPHERS).find(([, v]) => v === cipher)![0];
  return `${ID_PACE}.${m}.${c}`;
}

/** DER content octets of an OID (for the authentication token's public key data object). */
export function oidBytes(oid: string): Buffer {
  const parts = oid.split('.').map(Number);
  const out: number[] = [parts[0]! * 40 + parts[1]!];
  for (const p of parts.slice(2)) {
    const enc: number[] = [];
    let v = p;
    do { enc.unshift(v & 0x7f); v = Math.floor(v / 128); } while (v > 0);
    for (let i = 0; i < enc.length - 1; i++) enc[i]! |= 0x80;
    out.push(...enc);
  }
  return Buffer.from(out);
}

type NobleCurve = typeof p256;

export type DomainParameters =
  | { kind: 'ECDH'; id: number; name: string; curve: NobleCurve; fieldBytes: number }
  | { kind: 'DH'; id: number; name: string; p: bigint; g: bigint; q: bigint; bytes: number };

const hexBig = (h: string): bigint => BigInt(`0x${h.replace(/\s+/g, '')}`);

/** RFC 5114 §2.1: 1024-bit MODP group with 160-bit prime order subgroup (PACE standardized id 0). */
const MODP_1024_160: DomainParameters = {
  kind: 'DH', id: 0, name: 'MODP-1024/160 (RFC 5114)', bytes: 128,
  p: hexBig(`B10B8F96A080E01DDE92DE5EAE5D54EC52C99FBCFB06A3C69A6A9DCA52D23B616073E28675A23D189838EF1E2EE652C0
    13ECB4AEA906112324975C3CD49B83BFACCBDD7D90C4BD7098488E9C219A73724EFFD6FAE5644738FAA31A4FF55BCCC0
    A151AF5F0DC8B4BD45BF37DF365C1A65E68CFDA76D4DA708DF1FB2BC2E4A4371`),
  g: hexBig(`A4D1CBD5C3FD34126765A442EFB99905F8104DD258AC507FD6406CFF14266D31266FEA1E5C41564B777E690F5504F213
    160217B4B01B886A5E91547F9E2749F4D7FBD7D3B9A92EE1909D0D2263F80A76A6A24C087A091F531DBF0A0169B6A28A
    D662A4D18E73AFA32D779D5918D08BC8858F4DCEF97C2A24855E6EEB22B3B2E5`),
  q: hexBig('F518AA8781A8DF278ABA4E7D64B7CB9D49462353'),
};

const ec = (id: number, name: string, curve: NobleCurve, fieldBytes: number): DomainParameters => ({ kind: 'ECDH', id, name, curve, fieldBytes });

/**
 * The standardized domain parameters (ICAO 9303-11 §9.5.1, Table 28) this reader implements.
 * Ids 1, 2 (MODP 2048), 8–11 and 14 (192/224/320-bit curves) are listed by chips rarely and are not.
 */
export const STANDARD_DOMAINS: Record<number, DomainParameters> = {
  0: MODP_1024_160,
  12: ec(12, 'NIST P-256', p256, 32),
  13: ec(13, 'brainpoolP256r1', brainpoolP256r1 as unknown as NobleCurve, 32),
  15: ec(15, 'NIST P-384', p384 as unknown as NobleCurve, 48),
  16: ec(16, 'brainpoolP384r1', brainpoolP384r1 as unknown as NobleCurve, 48),
  17: ec(17, 'brainpoolP512r1', brainpoolP512r1 as unknown as NobleCurve, 64),
  18: ec(18, 'NIST P-521', p521 as unknown as NobleCurve, 66),
};

// ───────────────────────── keys ─────────────────────────

export type PacePassword = { kind: 'MRZ'; mrzInformation: string } | { kind: 'CAN'; can: string };

/** Password reference for MSE:Set AT (ICAO 9303-11 §9.5.1 / Table: 1 = MRZ, 2 = CAN). */
export function passwordReference(p: PacePassword): number {
  return p.kind === 'MRZ' ? 1 : 2;
}

/** f(π): SHA-1 of the MRZ information, or the CAN itself (ISO 8859-1). */
export function passwordBytes(p: PacePassword): Buffer {
  return p.kind === 'MRZ' ? createHash('sha1').update(p.mrzInformation, 'latin1').digest() : Buffer.from(p.can, 'latin1');
}

/** KDF(K, c) (ICAO 9303-11 §9.7.1): SHA-1 for 3DES and AES-128, SHA-256 for AES-192/256; 3DES keys get DES parity. */
export function kdf(secret: Buffer, counter: number, cipher: SmCipherName): Buffer {
  const c = Buffer.alloc(4);
  c.writeUInt32BE(counter, 0);
  if (cipher === '3DES') return adjustParity(createHash('sha1').update(secret).update(c).digest().subarray(0, 16));
  if (cipher === 'AES-128') return createHash('sha1').update(secret).update(c).digest().subarray(0, 16);
  return createHash('sha256').update(secret).update(c).digest().subarray(0, cipher === 'AES-192' ? 24 : 32);
}

/**
 * Length of the chip's nonce s in bytes. Generic / CAM: one block (8 for 3DES, 16
 * for AES). Integrated Mapping (§4.4.3.3): the smallest multiple of the block
 * size at least the key size k (3DES counts as k = 128), so 16 for 3DES and
 * AES-128, 32 for AES-192 and AES-256.
 */
export function nonceLength(cipher: SmCipherName, mapping: PaceMapping = 'GM'): number {
  if (mapping === 'IM') return cipher === '3DES' || cipher === 'AES-128' ? 16 : 32;
  return cipher === '3DES' ? 8 : 16;
}

/** Length of the terminal's Integrated Mapping nonce t in bytes: the key size k (16 for 3DES). */
export function imNonceLength(cipher: SmCipherName): number {
  return cipher === 'AES-192' ? 24 : cipher === 'AES-256' ? 32 : 16;
}

/** z = E(K_π, s) and its inverse, CBC with a zero IV. */
export function encryptNonce(kPi: Buffer, s: Buffer, cipher: SmCipherName): Buffer {
  return cipher === '3DES' ? tdesEncrypt(kPi, s) : aesCbc(kPi, Buffer.alloc(16), s);
}
export function decryptNonce(kPi: Buffer, z: Buffer, cipher: SmCipherName, mapping: PaceMapping = 'GM'): Buffer {
  if (z.length !== nonceLength(cipher, mapping)) throw new CardDataError('PACE', `the encrypted nonce has ${z.length} bytes instead of ${nonceLength(cipher, mapping)}`);
  return cipher === '3DES' ? tdesDecrypt(kPi, z) : aesCbc(kPi, Buffer.alloc(16), z, true);
}

export function randomScalar(d: DomainParameters): bigint {
  const n = d.kind === 'ECDH' ? d.curve.Point.Fn.ORDER : d.q;
  const len = d.kind === 'ECDH' ? d.fieldBytes + 8 : 28;
  // Reduce a longer random number: the bias is below 2^-64.
  return (BigInt(`0x${randomBytes(len).toString('hex')}`) % (n - 1n)) + 1n;
}

const big = (b: Buffer): bigint => (b.length ? BigInt(`0x${b.toString('hex')}`) : 0n);
function fixed(v: bigint, len: number): Buffer {
  const h = v.toString(16);
  if (h.length > len * 2) throw new RangeError('value too long');
  return Buffer.from(h.padStart(len * 2, '0'), 'hex');
}

// ───────────────────────── Integrated Mapping ─────────────────────────

/** §4.4.3.3.2 constants c0, c1: 128 bits for 3DES and AES-128, 256 bits for AES-192/256. */
const IM_C0_128 = Buffer.from('a668892a7c41e3ca739f40b057d85904', 'hex');
const IM_C1_128 = Buffer.from('a4e136ac725f738b01c1f60217c188ad', 'hex');
const IM_C0_256 = Buffer.from('d463d65234124ef7897054986dca0a174e28df758cbaa03f240616414d5a1676', 'hex');
const IM_C1_256 = Buffer.from('54bd7255f0aaf831bec3423fcf39d69b6cbf066677d0faae5aadd99df8e53517', 'hex');

/** E(key, data): the session's block cipher in CBC mode with IV 0 (3DES: two-key EDE). */
function blockEncrypt(cipher: SmCipherName, key: Buffer, data: Buffer): Buffer {
  return cipher === '3DES' ? tdesEncrypt(key, data) : aesCbc(key, Buffer.alloc(16), data);
}

function bitLength(v: bigint): number {
  return v === 0n ? 0 : v.toString(2).length;
}

/**
 * The pseudo-random function of the Integrated Mapping (ICAO 9303-11 §4.4.3.3.2,
 * Figure 2), before the reduction mod p: key_1 = E(t, s); then for i = 1…n
 * x_i = E(key_i, c1) and key_{i+1} = E(key_i, c0), each key truncated to the key
 * size k (only AES-192 truncates). n is the smallest number with n·l ≥ log2 p + 64.
 */
export function imPseudoRandom(s: Buffer, t: Buffer, p: bigint, cipher: SmCipherName): Buffer {
  const l = nonceLength(cipher, 'IM'), k = imNonceLength(cipher);
  if (s.length !== l) throw new CardDataError('PACE', `the Integrated Mapping nonce s has ${s.length} bytes instead of ${l}`);
  if (t.length !== k) throw new CardDataError('PACE', `the Integrated Mapping nonce t has ${t.length} bytes instead of ${k}`);
  const [c0, c1] = l === 16 ? [IM_C0_128, IM_C1_128] : [IM_C0_256, IM_C1_256];
  const n = Math.ceil((bitLength(p) + 64) / (l * 8));
  let key = blockEncrypt(cipher, t, s).subarray(0, k);
  const out: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    out.push(blockEncrypt(cipher, key, c1));
    key = blockEncrypt(cipher, key, c0).subarray(0, k);
  }
  return Buffer.concat(out);
}

/** R_p(s, t) = int(x_1 ‖ … ‖ x_n) mod p. */
export function imRp(s: Buffer, t: Buffer, p: bigint, cipher: SmCipherName): bigint {
  return big(imPseudoRandom(s, t, p, cipher)) % p;
}

/**
 * The point encoding f_G of the ECDH Integrated Mapping (ICAO 9303-11 Appendix B.2,
 * after Brier et al., CRYPTO 2010), with the prime field of @noble/curves: for
 * 0 < t < p on a curve with p ≡ 3 (mod 4), a point of the prime-order group.
 */
export function imPointEncode(curve: NobleCurve, t: bigint): InstanceType<NobleCurve['Point']> {
  const Fp = curve.Point.Fp;
  const { a, b, h } = curve.Point.CURVE();
  const p = Fp.ORDER;
  if (p % 4n !== 3n) throw new CardDataError('PACE', 'the Integrated Mapping point encoding needs a field prime p ≡ 3 (mod 4)');
  if (t <= 0n || t >= p) throw new CardDataError('PACE', 'the Integrated Mapping value is not in 1…p−1');
  const alpha = Fp.neg(Fp.sqr(t));
  const alpha2 = Fp.add(alpha, Fp.sqr(alpha));
  const den = Fp.mul(a, alpha2);
  if (Fp.is0(den)) throw new CardDataError('PACE', 'the Integrated Mapping value has no point encoding (α + α² = 0)');
  // X2 = −b·(1 + α + α²) / (a·(α + α²))
  const x2 = Fp.neg(Fp.mul(Fp.mul(b, Fp.add(Fp.ONE, alpha2)), Fp.inv(den)));
  const x3 = Fp.mul(alpha, x2);
  const rhs = (x: bigint) => Fp.add(Fp.add(Fp.mul(Fp.sqr(x), x), Fp.mul(a, x)), b);
  const h2 = rhs(x2);
  const u = Fp.mul(Fp.mul(Fp.sqr(t), t), h2);
  const A = Fp.pow(h2, p - 1n - (p + 1n) / 4n);
  const point = Fp.eql(Fp.mul(Fp.sqr(A), h2), Fp.ONE)
    ? curve.Point.fromAffine({ x: x2, y: Fp.mul(A, h2) })
    : curve.Point.fromAffine({ x: x3, y: Fp.mul(A, u) });
  point.assertValidity();
  const mapped = h === 1n ? point : point.multiplyUnsafe(h);
  if (mapped.is0()) throw new CardDataError('PACE', 'the Integrated Mapping gave the point at infinity');
  return mapped;
}

// ───────────────────────── Chip Authentication Mapping ─────────────────────────

/** §4.4.3.5.4: AES-CBC with IV = E(KS_Enc, −1) (the all-ones block), ISO 9797-1 padding method 2. */
function camIv(ksEnc: Buffer): Buffer {
  return aesEcbBlock(ksEnc, Buffer.alloc(16, 0xff));
}

/** The chip's encrypted chip authentication data A_IC = E(KS_Enc, CA_IC), CA_IC = SK_IC⁻¹ · SK_Map,IC mod n (FE2OS, the order's length). */
export function camEncrypt(domain: DomainParameters, ksEnc: Buffer, skIc: bigint, skMapIc: bigint): Buffer {
  if (domain.kind !== 'ECDH') throw new RangeError('Chip Authentication Mapping is defined for ECDH only');
  const Fn = domain.curve.Point.Fn;
  const ca = Fn.mul(Fn.inv(skIc % Fn.ORDER), skMapIc % Fn.ORDER);
  return aesCbc(ksEnc, camIv(ksEnc), padTo(fixed(ca, Fn.BYTES), 16));
}

/** The terminal's side: CA_IC from A_IC. Throws CardDataError when it is not a padded scalar 1…n−1. */
export function camDecrypt(domain: DomainParameters, ksEnc: Buffer, aIc: Buffer): bigint {
  const F = 'PACE';
  if (domain.kind !== 'ECDH') throw new CardDataError(F, 'Chip Authentication Mapping data on a DH domain');
  if (!aIc.length || aIc.length % 16 !== 0 || aIc.length > 128) throw new CardDataError(F, `the encrypted chip authentication data has ${aIc.length} bytes (not whole AES blocks)`);
  const plain = unpad(aesCbc(ksEnc, camIv(ksEnc), aIc, true));
  const Fn = domain.curve.Point.Fn;
  if (!plain || plain.length !== Fn.BYTES) throw new CardDataError(F, 'the chip authentication data does not decrypt to a padded scalar of the curve order\'s length');
  const ca = big(plain);
  if (ca <= 0n || ca >= Fn.ORDER) throw new CardDataError(F, 'the chip authentication data is not a scalar 1…n−1');
  return ca;
}

/** §4.4.3.5.2: PK_Map,IC = KA(CA_IC, PK_IC) — the full point CA_IC · PK_IC equals the chip's mapping key. */
export function camVerify(domain: DomainParameters, caIc: bigint, pkIc: Buffer, pkMapIc: Buffer): boolean {
  if (domain.kind !== 'ECDH') return false;
  let P;
  try { P = domain.curve.Point.fromBytes(new Uint8Array(pkIc)); P.assertValidity(); } catch (e) {
    throw new CardDataError('DG14', `the Chip Authentication public key is not a point on ${domain.name} (${(e as Error).message})`);
  }
  const Q = domain.curve.Point.fromBytes(new Uint8Array(pkMapIc));
  return P.multiply(caIc).equals(Q);
}

/** The group of a session: either a curve point (as bytes 04‖X‖Y) or a DH value (as bytes of p's length). */
export class PaceGroup {
  /** The generator: the domain's, or the mapped one after the mapping. */
  private genEc?: InstanceType<NobleCurve['Point']>;
  private genDh?: bigint;

  constructor(readonly domain: DomainParameters) {
    if (domain.kind === 'ECDH') this.genEc = domain.curve.Point.BASE;
    else this.genDh = domain.g;
  }

  /** Public key for `sk` on the current generator. */
  publicKey(sk: bigint): Buffer {
    if (this.genEc) return Buffer.from(this.genEc.multiply(sk).toBytes(false));
    const d = this.domain as Extract<DomainParameters, { kind: 'DH' }>;
    return this.modPow(this.genDh!, sk, d);
  }

  private modPow(base: bigint, exp: bigint, d: Extract<DomainParameters, { kind: 'DH' }>): Buffer {
    // g^x mod p by OpenSSL: a DiffieHellman whose generator is `base`, private key `exp`.
    const dh = createDiffieHellman(fixed(d.p, d.bytes), fixed(base, d.bytes));
    dh.setPrivateKey(fixed(exp, Math.ceil(exp.toString(16).length / 2)));
    dh.generateKeys();
    return fixed(big(dh.getPublicKey()), d.bytes);
  }

  /** Checks a public key from the other side: on the curve (not the identity), or 1 < y < p-1 in the order-q subgroup. */
  checkPublic(pk: Buffer, what: string): void {
    const d = this.domain;
    if (d.kind === 'ECDH') {
      try {
        const P = d.curve.Point.fromBytes(new Uint8Array(pk));
        P.assertValidity();
        if (P.is0()) throw new Error('the point at infinity');
      } catch (e) {
        throw new CardDataError('PACE', `${what} is not a point on ${d.name} (${(e as Error).message})`);
      }
      return;
    }
    const y = big(pk);
    if (pk.length !== d.bytes || y <= 1n || y >= d.p - 1n) throw new CardDataError('PACE', `${what} is not a valid DH public value`);
    if (big(this.modPow(y, d.q, d)) !== 1n) throw new CardDataError('PACE', `${what} is not in the order-q subgroup`);
  }

  /** The shared point / value sk·PK. */
  private shared(sk: bigint, pk: Buffer): { ec?: InstanceType<NobleCurve['Point']>; dh?: bigint } {
    const d = this.domain;
    if (d.kind === 'ECDH') return { ec: d.curve.Point.fromBytes(new Uint8Array(pk)).multiply(sk) };
    return { dh: big(this.modPow(big(pk), sk, d)) };
  }

  /** Generic Mapping (§4.4.3.3.1): G' = s·G + H with H = sk·PK (ECDH), g' = g^s · h mod p (DH). Returns H / h as bytes. */
  mapGeneric(s: Buffer, sk: bigint, pkOther: Buffer): Buffer {
    const d = this.domain;
    const h = this.shared(sk, pkOther);
    if (d.kind === 'ECDH') {
      const H = h.ec!;
      const G2 = d.curve.Point.BASE.multiply(big(s) % d.curve.Point.Fn.ORDER).add(H);
      if (G2.is0()) throw new CardDataError('PACE', 'the mapped generator is the point at infinity');
      this.genEc = G2;
      return Buffer.from(H.toBytes(false));
    }
    const gs = big(this.modPow(d.g, big(s), d));
    this.genDh = (gs * h.dh!) % d.p;
    if (this.genDh <= 1n) throw new CardDataError('PACE', 'the mapped generator is degenerate');
    return fixed(h.dh!, d.bytes);
  }

  /**
   * Integrated Mapping (§4.4.3.3.2): G' = f_G(R_p(s, t)) (ECDH, Appendix B point
   * encoding) or g' = R_p(s, t)^((p−1)/q) mod p (DH, checked ≠ 1). Returns G' / g'.
   */
  mapIntegrated(s: Buffer, t: Buffer, cipher: SmCipherName): Buffer {
    const d = this.domain;
    if (d.kind === 'ECDH') {
      this.genEc = imPointEncode(d.curve, imRp(s, t, d.curve.Point.Fp.ORDER, cipher));
      return this.generator();
    }
    const x = imRp(s, t, d.p, cipher);
    if (x <= 1n) throw new CardDataError('PACE', 'the Integrated Mapping value is degenerate');
    const g = big(this.modPow(x, (d.p - 1n) / d.q, d));
    if (g <= 1n) throw new CardDataError('PACE', 'the Integrated Mapping generator is 1');
    this.genDh = g;
    return this.generator();
  }

  /** The mapped generator (after mapGeneric), encoded like a public key. */
  generator(): Buffer {
    if (this.genEc) return Buffer.from(this.genEc.toBytes(false));
    return fixed(this.genDh!, (this.domain as Extract<DomainParameters, { kind: 'DH' }>).bytes);
  }

  /** Key agreement on the mapped generator: K = x(sk·PK) (ECDH) or PK^sk mod p (DH), fixed length. */
  agree(sk: bigint, pkOther: Buffer): Buffer {
    const d = this.domain;
    const sh = this.shared(sk, pkOther);
    if (d.kind === 'ECDH') {
      if (sh.ec!.is0()) throw new CardDataError('PACE', 'the shared secret is the point at infinity');
      return fixed(sh.ec!.toAffine().x, d.fieldBytes);
    }
    return fixed(sh.dh!, d.bytes);
  }
}

// ───────────────────────── tokens and session keys ─────────────────────────

/** The public key data object (tag 7F49) the tokens are computed over (ICAO 9303-11 §4.4.3.4 / §9.4.2). */
export function publicKeyDataObject(alg: PaceAlgorithm, pk: Buffer): Buffer {
  return tlv(0x7f49, tlv(0x06, oidBytes(alg.oid)), tlv(alg.agreement === 'ECDH' ? 0x86 : 0x84, pk));
}

/** T = MAC(KS_MAC, public key data object of the other side): CMAC for AES, retail MAC over padded data for 3DES. */
export function authToken(alg: PaceAlgorithm, ksMac: Buffer, pkOther: Buffer): Buffer {
  const input = publicKeyDataObject(alg, pkOther);
  return alg.cipher === '3DES' ? retailMac(ksMac, pad(input)) : aesCmac8(ksMac, input);
}

export interface SessionKeyMaterial {
  ksEnc: Buffer;
  ksMac: Buffer;
  /** SSC starts at zero after PACE and Chip Authentication: 8 bytes for 3DES, 16 for AES. */
  ssc: Buffer;
  cipher: SmCipherName;
}

export function sessionKeys(shared: Buffer, cipher: SmCipherName): SessionKeyMaterial {
  return { ksEnc: kdf(shared, 1, cipher), ksMac: kdf(shared, 2, cipher), ssc: Buffer.alloc(cipher === '3DES' ? 8 : 16), cipher };
}

// ───────────────────────── EF.CardAccess ─────────────────────────

export interface PaceInfo {
  algorithm: PaceAlgorithm;
  version: number;
  /** Standardized domain parameter id, when given. */
  parameterId?: number;
}

export interface CardAccess {
  pace: PaceInfo[];
  /** Other SecurityInfo OIDs (Chip Authentication, Terminal Authentication, …), kept for the record. */
  other: string[];
}

/**
 * Parses EF.CardAccess (SecurityInfos: SET OF SEQUENCE { OID, required data, optional data }).
 * Throws CardDataError('EF.CardAccess') when the structure is malformed; unknown infos are kept as OIDs.
 */
export function parseCardAccess(b: Buffer): CardAccess {
  const F = 'EF.CardAccess';
  const set = readAll(b, F);
  if (set.length !== 1 || set[0]!.tag !== 0x31) throw new CardDataError(F, 'it is not a SET OF SecurityInfo');
  const out: CardAccess = { pace: [], other: [] };
  for (const si of readAll(set[0]!.value, F)) {
    if (si.tag !== 0x30) throw new CardDataError(F, 'a SecurityInfo is not a SEQUENCE');
    const items = readAll(si.value, F);
    if (!items[0] || items[0].tag !== 0x06) throw new CardDataError(F, 'a SecurityInfo has no protocol OID');
    let oid: string;
    try { oid = decodeOid(items[0].value); } catch (e) { throw new CardDataError(F, 'a protocol OID is malformed', e); }
    const alg = paceAlgorithm(oid);
    if (!alg) { out.other.push(oid); continue; }
    const v = items[1];
    if (!v || v.tag !== 0x02 || v.value.length < 1 || v.value.length > 4) throw new CardDataError(F, `PACEInfo ${oid} has no version`);
    const p = items[2];
    let parameterId: number | undefined;
    if (p) {
      if (p.tag !== 0x02 || p.value.length < 1 || p.value.length > 4) throw new CardDataError(F, `PACEInfo ${oid} has a malformed parameter id`);
      parameterId = p.value.reduce((a, x) => a * 256 + x, 0);
    }
    out.pace.push({ algorithm: alg, version: v.value.reduce((a, x) => a * 256 + x, 0), ...(parameterId !== undefined ? { parameterId } : {}) });
  }
  return out;
}

/** Builds EF.CardAccess for the emulator. */
export function buildCardAccess(infos: { oid: string; version?: number; parameterId?: number }[]): Buffer {
  const int = (n: number) => tlv(0x02, Buffer.from([n]));
  return tlv(0x31, ...infos.map((i) => tlv(0x30, tlv(0x06, oidBytes(i.oid)), int(i.version ?? 2), ...(i.parameterId !== undefined ? [int(i.parameterId)] : []))));
}

const CIPHER_RANK: Record<SmCipherName, number> = { 'AES-256': 4, 'AES-192': 3, 'AES-128': 2, '3DES': 1 };
/**
 * Mapping preference: CAM authenticates the chip inside PACE (ICAO 9303-11 Appendix J:
 * "PACE-CAM should be used"), saving the separate Chip Authentication; IM needs no
 * ephemeral mapping keys (one scalar multiplication less on each side); GM last.
 */
const MAPPING_RANK: Record<PaceMapping, number> = { CAM: 3, IM: 2, GM: 1 };

/** The PACEInfo to use: a domain this reader implements; CAM before IM before GM, ECDH before DH, strongest cipher first. */
export function choosePace(infos: PaceInfo[]): { info: PaceInfo; domain: DomainParameters } | undefined {
  const usable = infos
    .filter((i) => i.parameterId !== undefined && STANDARD_DOMAINS[i.parameterId] && STANDARD_DOMAINS[i.parameterId]!.kind === i.algorithm.agreement)
    .sort((a, b) => MAPPING_RANK[b.algorithm.mapping] - MAPPING_RANK[a.algorithm.mapping]
      || (b.algorithm.agreement === 'ECDH' ? 1 : 0) - (a.algorithm.agreement === 'ECDH' ? 1 : 0)
      || CIPHER_RANK[b.algorithm.cipher] - CIPHER_RANK[a.algorithm.cipher]);
  const info = usable[0];
  return info ? { info, domain: STANDARD_DOMAINS[info.parameterId!]! } : undefined;
}

// ───────────────────────── dynamic authentication data ─────────────────────────

/** The inner data object `tag` of a GENERAL AUTHENTICATE answer (7C …). Throws CardDataError when missing. */
export function gaData(resp: Buffer, tag: number, step: string): Buffer {
  const F = 'PACE';
  const outer = readAll(resp, F);
  if (outer.length !== 1 || outer[0]!.tag !== 0x7c) throw new CardDataError(F, `the answer to ${step} is not a dynamic authentication data object (7C)`);
  const inner = readAll(outer[0]!.value, F).find((t) => t.tag === tag);
  if (!inner) throw new CardDataError(F, `the answer to ${step} has no data object ${tag.toString(16).toUpperCase()}`);
  return Buffer.from(inner.value);
}

/** All inner data objects of a 7C template (chip side: parse the terminal's command data). */
export function gaObjects(data: Buffer): Map<number, Buffer> {
  const outer = readAll(data, 'PACE');
  if (outer.length !== 1 || outer[0]!.tag !== 0x7c) throw new CardDataError('PACE', 'not a dynamic authentication data object (7C)');
  return new Map(readAll(outer[0]!.value, 'PACE').map((t) => [t.tag, Buffer.from(t.value)]));
}
