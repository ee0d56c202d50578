/**
 * Builds the contents of an emulated eMRTD: DG1 from an MRZ, DG2 around a face
 * image, EF.COM, and an EF.SOD signed by a generated Document Signer whose
 * certificate is issued by a generated CSCA (ECDSA P-256).
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, getDiffieHellman, randomBytes, sign, X509Certificate, type KeyObject } from 'node:crypto';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import {
  AlgorithmIdentifier, AttributeTypeAndValue, AttributeValue, BasicConstraints, Certificate, Extension, Extensions,
  id_ce_basicConstraints, id_ce_keyUsage, KeyUsage, KeyUsageFlags, Name, RelativeDistinguishedName, SubjectPublicKeyInfo, TBSCertificate, Validity, Version,
  CertificateList, RevokedCertificate, TBSCertList, Time,
} from '@peculiar/asn1-x509';
import {
  Attribute, CertificateChoices, CertificateSet, ContentInfo, DigestAlgorithmIdentifiers, EncapsulatedContent,
  EncapsulatedContentInfo, id_signedData, IssuerAndSerialNumber, SignedData, SignerIdentifier, SignerInfo, SignerInfos,
} from '@peculiar/asn1-cms';
import { checkDigit } from '../crypto';
import { buildDg2 } from '../dg2';
import { splitMrz } from '../mrz';
import { buildDg14, buildDg15, caGroup, checkedDhDomain, ECDSA_PLAIN, type DhDomain, type DhKeyForm } from '../clone';
import { PaceGroup, randomScalar, STANDARD_DOMAINS } from '../pace';
import type { SmCipherName } from '../sm';
import type { ChipKeys } from './card';
import { buildCccdDg13, SPECIMEN_CCCD, type CccdDetails, type CccdGeneration } from '../cccd';
import { HASH_OID_BY_NAME, issuingStateToAlpha2, OID_LDS_SECURITY_OBJECT, OID_MESSAGE_DIGEST, OID_SIGNING_TIME } from '../passive-auth';
import { tlv } from '../tlv';

const OID_ECDSA_SHA256 = '1.2.840.10045.4.3.2';
const OID_CONTENT_TYPE = '1.2.840.113549.1.9.3';

export interface PkiEntity {
  /** DER certificate. */
  cert: Buffer;
  key: KeyObject;
  name: Name;
  serial: Buffer;
}

export interface TestPki {
  csca: PkiEntity;
  ds: PkiEntity;
}

function makeName(country: string, cn: string): Name {
  const rdn = (type: string, v: string) => new RelativeDistinguishedName([new AttributeTypeAndValue({ type, value: new AttributeValue({ printableString: v }) })]);
  return new Name([rdn('2.5.4.6', country), rdn('2.5.4.3', cn)]);
}

interface Validity2 { notBefore: Date; notAfter: Date }

function issue(subject: Name, subjectKey: KeyObject, issuer: Name, issuerKey: KeyObject, ca: boolean, years: number | Validity2): { cert: Buffer; serial: Buffer } {
  const serial = randomBytes(8);
  // DER INTEGER: positive (top bit clear) and minimal (a leading 0x00 before a
  // byte below 0x80 is padding OpenSSL rejects), so the first byte is 0x01–0x7f.
  serial[0] = (serial[0]! & 0x7f) | 0x01;
  const alg = new AlgorithmIdentifier({ algorithm: OID_ECDSA_SHA256 });
  const now = new Date();
  const validity = typeof years === 'number' ? { notBefore: new Date(now.getTime() - 86_400_000), notAfter: new Date(now.getTime() + years * 365 * 86_400_000) } : years;
  const ku = new KeyUsage(ca ? KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign : KeyUsageFlags.digitalSignature);
  const exts = [new Extension({ extnID: id_ce_keyUsage, critical: true, extnValue: new OctetString(AsnConvert.serialize(ku)) })];
  if (ca) exts.push(new Extension({ extnID: id_ce_basicConstraints, critical: true, extnValue: new OctetString(AsnConvert.serialize(new BasicConstraints({ cA: true, pathLenConstraint: 0 }))) }));
  const tbs = new TBSCertificate({
    version: Version.v3,
    serialNumber: new Uint8Array(serial).buffer,
    signature: alg,
    issuer,
    validity: new Validity(validity),
    subject,
    subjectPublicKeyInfo: AsnConvert.parse(subjectKey.export({ type: 'spki', format: 'der' }), SubjectPublicKeyInfo),
    extensions: new Extensions(exts),
  });
  const tbsDer = Buffer.from(AsnConvert.serialize(tbs));
  const sig = sign('sha256', tbsDer, issuerKey);
  const cert = new Certificate({ tbsCertificate: tbs, signatureAlgorithm: alg, signatureValue: new Uint8Array(sig).buffer });
  return { cert: Buffer.from(AsnConvert.serialize(cert)), serial };
}

export interface TestPkiOptions {
  /** The Document Signer's validity (default: from yesterday for 11 years). */
  dsValidity?: Validity2;
  /** The Document Signer's country code (alpha-2), when it should differ from the CSCA's. */
  dsCountry?: string;
}

/** A fresh CSCA and a Document Signer issued by it, for one country code (MRZ form: "UTO", "VNM", "D"). */
export function createTestPki(country = 'UTO', opts: TestPkiOptions = {}): TestPki {
  const c2 = issuingStateToAlpha2(country) ?? country.slice(0, 2).toUpperCase();
  // The public halves come out encoded by the generation job: exporting a key fresh from
  // generateKeyPairSync can deadlock on Node 20 (see X25519_BASE_POINT in sync/wire/kdf.ts).
  const ecPair = () => {
    const k = generateKeyPairSync('ec', { namedCurve: 'P-256', publicKeyEncoding: { type: 'spki', format: 'der' }, privateKeyEncoding: { type: 'pkcs8', format: 'der' } });
    return { privateKey: createPrivateKey({ key: k.privateKey, format: 'der', type: 'pkcs8' }), publicKey: createPublicKey({ key: k.publicKey, format: 'der', type: 'spki' }) };
  };
  const cscaKeys = ecPair();
  const dsKeys = ecPair();
  const cscaName = makeName(c2, `CSCA ${country} (test)`);
  const dsName = makeName(opts.dsCountry ?? c2, `Document Signer ${country} (test)`);
  // The CSCA is older than any Document Signer it issues (a real one lives 13–15 years).
  const now = Date.now();
  const csca = issue(cscaName, cscaKeys.publicKey, cscaName, cscaKeys.privateKey, true, { notBefore: new Date(now - 3 * 365 * 86_400_000), notAfter: new Date(now + 15 * 365 * 86_400_000) });
  const ds = issue(dsName, dsKeys.publicKey, cscaName, cscaKeys.privateKey, false, opts.dsValidity ?? 11);
  return {
    csca: { cert: csca.cert, key: cscaKeys.privateKey, name: cscaName, serial: csca.serial },
    ds: { cert: ds.cert, key: dsKeys.privateKey, name: dsName, serial: ds.serial },
  };
}

/** A CRL signed by the CSCA listing the given certificates' serial numbers as revoked. */
export function buildCrl(csca: PkiEntity, revokedSerials: Buffer[]): Buffer {
  const alg = new AlgorithmIdentifier({ algorithm: OID_ECDSA_SHA256 });
  const now = new Date();
  const tbs = new TBSCertList({
    version: Version.v2,
    signature: alg,
    issuer: csca.name,
    thisUpdate: new Time({ utcTime: new Date(now.getTime() - 86_400_000) }),
    nextUpdate: new Time({ utcTime: new Date(now.getTime() + 30 * 86_400_000) }),
    revokedCertificates: revokedSerials.map((s) => new RevokedCertificate({ userCertificate: new Uint8Array(s).buffer, revocationDate: new Time({ utcTime: now }) })),
  });
  const der = Buffer.from(AsnConvert.serialize(tbs));
  const sig = sign('sha256', der, csca.key);
  return Buffer.from(AsnConvert.serialize(new CertificateList({ tbsCertList: tbs, signatureAlgorithm: alg, signature: new Uint8Array(sig).buffer })));
}

export function pem(der: Buffer): string {
  return new X509Certificate(der).toString();
}

function derInt(n: number): Buffer { return tlv(0x02, Buffer.from([n])); }
function derOid(oid: string): Buffer {
  const parts = oid.split('.').map(Number);
  const bytes: number[] = [parts[0]! * 40 + parts[1]!];
  for (const p of parts.slice(2)) {
    const enc: number[] = [];
    let v = p;
    do { enc.unshift(v & 0x7f); v = Math.floor(v / 128); } while (v > 0);
    for (let i = 0; i < enc.length - 1; i++) enc[i]! |= 0x80;
    bytes.push(...enc);
  }
  return tlv(0x06, Buffer.from(bytes));
}

/** LDSSecurityObject v0 over the given data groups. */
export function buildLdsSecurityObject(dataGroups: Map<number, Buffer>, hash = 'sha256'): Buffer {
  const hashes = [...dataGroups].sort((a, b) => a[0] - b[0]).map(([n, b]) => tlv(0x30, derInt(n), tlv(0x04, createHash(hash).update(b).digest())));
  return tlv(0x30, derInt(0), tlv(0x30, derOid(HASH_OID_BY_NAME[hash]!)), tlv(0x30, ...hashes));
}

export interface SodOptions {
  /** Leave the Document Signer certificate out of the SOD. */
  withoutCertificate?: boolean;
  /** A signingTime signed attribute. */
  signingTime?: Date;
}

/** EF.SOD (tag 77) signed by the Document Signer (or any entity given as `ds`). */
export function buildSod(dataGroups: Map<number, Buffer>, ds: PkiEntity, issuerName: Name, opts: SodOptions = {}): Buffer {
  const lds = buildLdsSecurityObject(dataGroups);
  const digest = createHash('sha256').update(lds).digest();
  const attrs = [
    new Attribute({ attrType: OID_CONTENT_TYPE, attrValues: [new Uint8Array(derOid(OID_LDS_SECURITY_OBJECT)).buffer] }),
    new Attribute({ attrType: OID_MESSAGE_DIGEST, attrValues: [new Uint8Array(tlv(0x04, digest)).buffer] }),
  ];
  if (opts.signingTime) attrs.push(new Attribute({ attrType: OID_SIGNING_TIME, attrValues: [AsnConvert.serialize(new Time({ utcTime: opts.signingTime }))] }));
  // DER SET OF: elements sorted by their encodings.
  const encoded = attrs.map((a) => ({ a, der: Buffer.from(AsnConvert.serialize(a)) })).sort((x, y) => Buffer.compare(x.der, y.der));
  const signedSet = tlv(0x31, ...encoded.map((e) => e.der));
  const signature = sign('sha256', signedSet, ds.key);
  const sha256 = new AlgorithmIdentifier({ algorithm: HASH_OID_BY_NAME.sha256! });
  const si = new SignerInfo({
    version: 1,
    sid: new SignerIdentifier({ issuerAndSerialNumber: new IssuerAndSerialNumber({ issuer: issuerName, serialNumber: new Uint8Array(ds.serial).buffer }) }),
    digestAlgorithm: sha256,
    signedAttrs: encoded.map((e) => e.a),
    signatureAlgorithm: new AlgorithmIdentifier({ algorithm: OID_ECDSA_SHA256 }),
    signature: new OctetString(signature),
  });
  const sd = new SignedData({
    version: 3,
    digestAlgorithms: new DigestAlgorithmIdentifiers([sha256]),
    encapContentInfo: new EncapsulatedContentInfo({ eContentType: OID_LDS_SECURITY_OBJECT, eContent: new EncapsulatedContent({ single: new OctetString(lds) }) }),
    ...(opts.withoutCertificate ? {} : { certificates: new CertificateSet([new CertificateChoices({ certificate: AsnConvert.parse(ds.cert, Certificate) })]) }),
    signerInfos: new SignerInfos([si]),
  });
  const ci = new ContentInfo({ contentType: id_signedData, content: AsnConvert.serialize(sd) });
  return tlv(0x77, Buffer.from(AsnConvert.serialize(ci)));
}

export interface PersonData {
  documentNumber: string;
  /** YYMMDD */
  birthDate: string;
  /** YYMMDD */
  expiryDate: string;
  surname?: string;
  givenNames?: string;
  sex?: 'M' | 'F' | '<';
  nationality?: string;
  issuingState?: string;
  /** Document code, 1–2 letters (default "I"; Vietnam's citizen cards: "ID"). */
  documentCode?: string;
  /** TD1 optional data after the document number's check digit (line 1, 15 characters). */
  optionalData?: string;
}

function field(s: string, n: number): string {
  return s.toUpperCase().replace(/[^A-Z0-9]+/g, '<').padEnd(n, '<').slice(0, n);
}

/** TD1 (ID card, 3 × 30) MRZ with correct check digits. Document numbers up to 9 characters. */
export function buildTd1(p: PersonData): string[] {
  const doc = field(p.documentNumber, 9);
  const st = field(p.issuingState ?? 'UTO', 3);
  const code = (p.documentCode ?? 'I').padEnd(2, '<').slice(0, 2);
  const l1 = `${code}${st}${doc}${checkDigit(doc)}${field(p.optionalData ?? '', 15)}`.padEnd(30, '<');
  const l2a = `${p.birthDate}${checkDigit(p.birthDate)}${p.sex ?? '<'}${p.expiryDate}${checkDigit(p.expiryDate)}${field(p.nationality ?? st, 3)}`.padEnd(29, '<');
  const composite = checkDigit(l1.slice(5, 30) + l2a.slice(0, 7) + l2a.slice(8, 15) + l2a.slice(18, 29));
  const l2 = `${l2a}${composite}`;
  const name = `${(p.surname ?? 'SPECIMEN').toUpperCase().replace(/[^A-Z]+/g, '<')}<<${(p.givenNames ?? 'TEST').toUpperCase().replace(/[^A-Z]+/g, '<')}`;
  return [l1, l2, name.padEnd(30, '<').slice(0, 30)];
}

export function buildDg1(mrzLines: string[]): Buffer {
  return tlv(0x61, tlv(0x5f1f, Buffer.from(mrzLines.join(''), 'ascii')));
}

export function buildCom(dgTags: number[]): Buffer {
  return tlv(0x60, tlv(0x5f01, Buffer.from('0107')), tlv(0x5f36, Buffer.from('040000')), tlv(0x5c, Buffer.from(dgTags)));
}

/** A synthetic face JPEG of roughly `targetBytes` (noise compresses badly, so size is controllable). */
export async function syntheticFaceJpeg(targetBytes = 20_000): Promise<{ jpeg: Buffer; width: number; height: number }> {
  const sharp = (await import('sharp')).default;
  // A bigger picture for bigger targets (a high-resolution face); noise keeps the size controllable.
  const [width, height] = targetBytes > 36_000 ? [480, 640] : [240, 320];
  // Noise compresses badly, so the size follows the quality: bisect to the target.
  let lo = 1, hi = 95;
  let best: Buffer | undefined;
  for (let i = 0; i < 7; i++) {
    const quality = Math.round((lo + hi) / 2);
    const jpeg = await sharp({ create: { width, height, channels: 3, background: { r: 180, g: 150, b: 130 }, noise: { type: 'gaussian', mean: 128, sigma: 24 } } })
      .jpeg({ quality }).toBuffer();
    if (!best || Math.abs(jpeg.length - targetBytes) < Math.abs(best.length - targetBytes)) best = jpeg;
    if (jpeg.length > targetBytes) hi = quality - 1; else lo = quality + 1;
    if (lo > hi) break;
  }
  return { jpeg: best!, width, height };
}

export interface EmrtdContents {
  files: Map<number, Buffer>;
  mrzLines: string[];
  pki: TestPki;
  /** The card access number printed on the card (PACE with CAN), for profiles that have one. */
  can?: string;
  /** The Vietnamese citizen card holder written to DG13 (profile cccd). */
  cccd?: Partial<CccdDetails>;
  /** Private keys for Chip Authentication (DG14) and Active Authentication (DG15), for the emulated chip. */
  chipKeys?: ChipKeys;
}

export interface DocumentOptions {
  /** Full MRZ (lines or one string); default: a TD1 built from `person`. */
  mrz?: string | string[];
  person?: Partial<PersonData>;
  /** Face image for DG2 (JPEG or JPEG 2000); default: a synthetic ~20 KB JPEG. `false` leaves DG2 out. */
  face?: { image: Buffer; width: number; height: number; format?: 'jpeg' | 'jpeg2000' } | false;
  faceBytes?: number;
  /** Extra data groups (number → file bytes) to store and list in the SOD. */
  extraDataGroups?: Map<number, Buffer>;
  pki?: TestPki;
  /**
   * A Vietnamese citizen card: TD1 "IDVNM" MRZ with the 12-digit ID number (last 9
   * digits in the document number field, all 12 at the start of the optional
   * data), DG13 with the holder's details, a CAN (default: the ID's last 6 digits).
   */
  cccd?: { generation?: CccdGeneration; details?: Partial<CccdDetails>; can?: string };
  /**
   * Chip Authentication: a static key in DG14. ECDH by default (brainpoolP256r1,
   * id 13, AES-128); `agreement: 'DH'` puts a DH key in DG14 (`dhForm`: x9.42 =
   * the 2048-bit MODP group of RFC 3526 as explicit p, g, q (default); pkcs3 =
   * the same group as PKCS #3 p, g; standardized = id 0, MODP-1024/160).
   */
  chipAuth?: boolean | ChipAuthProfile;
  /**
   * Active Authentication: a key in DG15. 'rsa' = RSA-1024 (ISO/IEC 9796-2,
   * SHA-1), 'ecdsa' = ECDSA P-256 (SHA-256); or a profile with the key size,
   * curve and hash. For ECDSA DG14 carries the ActiveAuthenticationInfo with
   * ecdsa-plain-SHA* (`withoutAaInfo` leaves it out).
   */
  activeAuth?: 'rsa' | 'ecdsa' | ActiveAuthProfile;
  /** How EF.SOD is made: without certificate, signed by the CSCA itself, with a signing time, or left empty. */
  sod?: SodOptions & { signWithCsca?: boolean; empty?: boolean };
}

export type AaHash = 'sha1' | 'sha224' | 'sha256' | 'sha384' | 'sha512';
export type ActiveAuthProfile =
  | { kind: 'rsa'; bits?: 1024 | 1536 | 2048 | 3072; hash?: AaHash; complement?: boolean }
  | { kind: 'ecdsa'; curve?: 'prime256v1' | 'secp384r1' | 'secp521r1' | 'brainpoolP256r1' | 'brainpoolP384r1' | 'brainpoolP512r1'; hash?: AaHash; withoutAaInfo?: boolean };

export interface ChipAuthProfile { agreement?: 'ECDH' | 'DH'; parameterId?: number; cipher?: SmCipherName; dhForm?: DhKeyForm }

/** RFC 3526 group 14 (2048-bit safe prime, g = 2 of order q = (p − 1)/2), from OpenSSL's table, as explicit DH parameters. */
export function modp2048(): DhDomain {
  const p = BigInt(`0x${getDiffieHellman('modp14').getPrime('hex')}`);
  return checkedDhDomain(p, 2n, (p - 1n) / 2n, 'emulator', 'RFC 3526 MODP-2048');
}

export const DEFAULT_PERSON: PersonData = {
  documentNumber: 'D23145890', birthDate: '740812', expiryDate: '340415',
  surname: 'ERIKSSON', givenNames: 'ANNA MARIA', sex: 'F', nationality: 'UTO', issuingState: 'UTO',
};

/** The issuing state whose test PKI signs a document built from these options (VNM for a citizen card). */
export function documentCountry(opts: DocumentOptions): string {
  if (opts.cccd) return 'VNM';
  if (opts.person?.issuingState) return opts.person.issuingState;
  if (opts.mrz) return (Array.isArray(opts.mrz) ? opts.mrz : splitMrz(opts.mrz))[0]!.slice(2, 5).replace(/</g, '');
  return 'UTO';
}

/** Builds every file of an emulated document. */
export async function buildDocument(opts: DocumentOptions = {}): Promise<EmrtdContents> {
  if (opts.cccd) return buildCccdDocument(opts, opts.cccd);
  const mrzLines = opts.mrz ? (Array.isArray(opts.mrz) ? opts.mrz : splitMrz(opts.mrz)) : buildTd1({ ...DEFAULT_PERSON, ...opts.person });
  const pki = opts.pki ?? createTestPki(documentCountry(opts));
  const dgs = new Map<number, Buffer>([[1, buildDg1(mrzLines)]]);
  if (opts.face !== false) {
    let f = opts.face;
    if (!f) {
      const x = await syntheticFaceJpeg(opts.faceBytes ?? 20_000);
      f = { image: x.jpeg, width: x.width, height: x.height, format: 'jpeg' };
    }
    dgs.set(2, buildDg2(f.image, f.width, f.height, f.format ?? 'jpeg'));
  }
  for (const [n, b] of opts.extraDataGroups ?? []) dgs.set(n, b);
  const chipKeys = cloneKeys(opts, dgs);
  const tags: Record<number, number> = { 1: 0x61, 2: 0x75, 3: 0x63, 11: 0x6b, 12: 0x6c, 14: 0x6e, 15: 0x6f };
  const files = new Map<number, Buffer>();
  for (const [n, b] of dgs) files.set(0x0100 + n, b);
  files.set(0x011e, buildCom([...dgs.keys()].map((n) => tags[n] ?? 0x60 + n)));
  const signer = opts.sod?.signWithCsca ? pki.csca : pki.ds;
  files.set(0x011d, opts.sod?.empty ? Buffer.alloc(0) : buildSod(dgs, signer, pki.csca.name, opts.sod));
  return { files, mrzLines, pki, ...(chipKeys ? { chipKeys } : {}) };
}

/** Generates the chip's Chip / Active Authentication keys and puts DG14 / DG15 into `dgs`. */
function cloneKeys(opts: DocumentOptions, dgs: Map<number, Buffer>): ChipKeys | undefined {
  if (!opts.chipAuth && !opts.activeAuth) return undefined;
  const keys: ChipKeys = {};
  let aaInfo: { aaSignatureAlgorithm?: string } = {};
  if (opts.activeAuth) {
    const aa: ActiveAuthProfile = typeof opts.activeAuth === 'object' ? opts.activeAuth : { kind: opts.activeAuth };
    // Encoded by the generation job (see createTestPki on exporting fresh keys).
    const k = aa.kind === 'rsa'
      ? generateKeyPairSync('rsa', { modulusLength: aa.bits ?? 1024, publicExponent: 65537, publicKeyEncoding: { type: 'spki', format: 'der' }, privateKeyEncoding: { type: 'pkcs8', format: 'der' } })
      : generateKeyPairSync('ec', { namedCurve: aa.curve ?? 'prime256v1', publicKeyEncoding: { type: 'spki', format: 'der' }, privateKeyEncoding: { type: 'pkcs8', format: 'der' } });
    keys.aa = createPrivateKey({ key: k.privateKey, format: 'der', type: 'pkcs8' });
    if (aa.hash) keys.aaHash = aa.hash;
    if (aa.kind === 'rsa' && aa.complement) keys.aaRsaComplement = true;
    if (aa.kind === 'ecdsa' && !aa.withoutAaInfo) aaInfo = { aaSignatureAlgorithm: ECDSA_PLAIN[aa.hash ?? 'sha256']! };
    dgs.set(15, buildDg15(k.publicKey));
  }
  if (!opts.chipAuth && aaInfo.aaSignatureAlgorithm) dgs.set(14, buildDg14(aaInfo));
  if (opts.chipAuth) {
    const o: ChipAuthProfile = typeof opts.chipAuth === 'object' ? opts.chipAuth : {};
    const cipher = o.cipher ?? 'AES-128';
    if (o.agreement === 'DH') {
      const form = o.dhForm ?? 'x9.42';
      const domain = form === 'standardized' ? STANDARD_DOMAINS[o.parameterId ?? 0] : modp2048();
      if (!domain || domain.kind !== 'DH') throw new RangeError(`DH Chip Authentication in the emulator needs a DH domain, not ${o.parameterId}`);
      const privateKey = randomScalar(domain);
      const publicKey = caGroup(domain).publicKey(privateKey);
      keys.ca = { privateKey, parameterId: domain.id, domain };
      dgs.set(14, buildDg14({ publicKey, cipher, dh: { domain, form }, ...aaInfo }));
    } else {
      const parameterId = o.parameterId ?? 13;
      const domain = STANDARD_DOMAINS[parameterId];
      if (!domain || domain.kind !== 'ECDH') throw new RangeError(`ECDH Chip Authentication in the emulator needs an EC domain, not ${parameterId}`);
      const privateKey = randomScalar(domain);
      const publicKey = new PaceGroup(domain).publicKey(privateKey);
      keys.ca = { privateKey, parameterId };
      dgs.set(14, buildDg14({ publicKey, parameterId, cipher, ...aaInfo }));
    }
  }
  return keys;
}

/** Vietnamese text as the MRZ writes it: no diacritics, Đ → D, upper case. */
export function mrzTransliterate(s: string): string {
  return s.normalize('NFD').replace(/[\u0300-\u036f]/g, '').replace(/đ/g, 'd').replace(/Đ/g, 'D').toUpperCase();
}

function yymmdd(ddmmyyyy: string | undefined, what: string): string {
  const m = ddmmyyyy ? /^(\d{2})\/(\d{2})\/(\d{4})$/.exec(ddmmyyyy) : null;
  if (!m) throw new RangeError(`${what} "${ddmmyyyy}" must be dd/mm/yyyy`);
  return `${m[3]!.slice(2)}${m[2]}${m[1]}`;
}

async function buildCccdDocument(opts: DocumentOptions, c: NonNullable<DocumentOptions['cccd']>): Promise<EmrtdContents> {
  const d: Partial<CccdDetails> = { ...SPECIMEN_CCCD, ...c.details };
  const id = d.idNumber ?? '';
  if (!/^\d{12}$/.test(id)) throw new RangeError(`a citizen card ID number has 12 digits, not "${id}"`);
  const words = mrzTransliterate(d.fullName ?? '').split(/\s+/).filter(Boolean);
  const mrzLines = buildTd1({
    documentCode: 'ID', issuingState: 'VNM', nationality: 'VNM', documentNumber: id.slice(3), optionalData: id,
    birthDate: yymmdd(d.dateOfBirth, 'date of birth'),
    // "Không thời hạn" (no expiry) is written as the far future on the card's MRZ here.
    expiryDate: /^\d/.test(d.dateOfExpiry ?? '') ? yymmdd(d.dateOfExpiry, 'date of expiry') : '991231',
    sex: d.sexText === 'Nam' ? 'M' : d.sexText?.normalize('NFC') === 'Nữ'.normalize('NFC') ? 'F' : '<',
    surname: words[0] ?? '', givenNames: words.slice(1).join(' '),
  });
  const extra = new Map(opts.extraDataGroups ?? []);
  extra.set(13, buildCccdDg13(d, c.generation ?? '2021'));
  const pki = opts.pki ?? createTestPki(documentCountry(opts));
  const inner = await buildDocument({ ...opts, cccd: undefined, mrz: mrzLines, pki, extraDataGroups: extra });
  return { ...inner, can: c.can ?? id.slice(6), cccd: d };
}
