/**
 * ICAO 9303-11 passive authentication: every data group read is hashed and
 * compared with EF.SOD's LDS security object, the SOD's CMS signature is checked
 * with the Document Signer certificate it carries, and that certificate is
 * checked against a CSCA store when one is configured.
 */
import { createHash, verify as cryptoVerify, X509Certificate, constants as cc, type KeyObject } from 'node:crypto';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { AsnConvert } from '@peculiar/asn1-schema';
import { ContentInfo, SignedData, id_signedData } from '@peculiar/asn1-cms';
import { Certificate, CertificateList, id_ce_keyUsage, KeyUsage, KeyUsageFlags, Time } from '@peculiar/asn1-x509';
import countries from 'i18n-iso-countries';
import { StationError } from '../common/errors';
import { PA_REASON_CODES, type PaReasonCode, type PaVerdict } from '../../config/domain';
import { CardDataError, expectTlv, readAll, readTlv } from './tlv';

/**
 * Passive authentication fails closed: `valid` only when everything was proven,
 * `invalid` with a named reason otherwise (config/domain.ts PA_VERDICTS, PA_REASONS).
 */
export type PassiveAuthVerdict = PaVerdict;

/** Machine-readable reason (stable; `reason` is the sentence for people). */
export type PassiveAuthReasonCode = PaReasonCode;
/** Every reason an `invalid` verdict can carry. */
export const PASSIVE_AUTH_REASONS = PA_REASON_CODES;

export interface PassiveAuthResult {
  verdict: PassiveAuthVerdict;
  reason?: string;
  reasonCode?: PassiveAuthReasonCode;
  /** Data group numbers whose hash matched the SOD. */
  checkedDataGroups: number[];
  hashAlgorithm?: string;
  signatureAlgorithm?: string;
  documentSigner?: { subject: string; issuer: string; serialNumber: string; validFrom: string; validTo: string; country: string | null };
  csca?: { subject: string };
  /** The time the chain was checked at: the SOD's signing time, or the time of the read when it has none. */
  checkedAt?: string;
}

/** A certificate revocation list from the store, already verified against a CSCA there. */
export interface CscaCrl {
  issuer: string;
  /** Revoked serial numbers, upper-case hex without leading zeros. */
  revoked: Set<string>;
  source: string;
}

/** CSCA certificates (and their CRLs) trusted for the issuing countries. */
export interface CscaStore {
  certificates: X509Certificate[];
  crls?: CscaCrl[];
  /** Where they came from, for messages. */
  source: string;
}

export interface PassiveAuthOptions {
  csca?: CscaStore;
  /** DG1's issuing state (MRZ code, e.g. "VNM", "D", "UTO"): the Document Signer's country must match it. */
  issuingState?: string | null;
  /** When the SOD carries no signing time, the chain is checked at this time (default: now). */
  at?: Date;
}

/** A SOD that parses but uses an algorithm this reader does not implement. */
export class SodUnsupportedError extends CardDataError {}

export const OID_LDS_SECURITY_OBJECT = '2.23.136.1.1.1';
export const OID_MESSAGE_DIGEST = '1.2.840.113549.1.9.4';
export const OID_SIGNING_TIME = '1.2.840.113549.1.9.5';

const HASH_OIDS: Record<string, string> = {
  '1.3.14.3.2.26': 'sha1',
  '2.16.840.1.101.3.4.2.4': 'sha224',
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
};
export const HASH_OID_BY_NAME: Record<string, string> = Object.fromEntries(Object.entries(HASH_OIDS).map(([k, v]) => [v, k]));

/** Signature algorithm OID → [kind, hash or undefined = use the digest algorithm]. */
const SIG_OIDS: Record<string, ['ecdsa' | 'rsa' | 'pss', string | undefined]> = {
  '1.2.840.10045.4.1': ['ecdsa', 'sha1'],
  '1.2.840.10045.4.3.1': ['ecdsa', 'sha224'],
  '1.2.840.10045.4.3.2': ['ecdsa', 'sha256'],
  '1.2.840.10045.4.3.3': ['ecdsa', 'sha384'],
  '1.2.840.10045.4.3.4': ['ecdsa', 'sha512'],
  '1.2.840.10045.2.1': ['ecdsa', undefined],
  '1.2.840.113549.1.1.1': ['rsa', undefined],
  '1.2.840.113549.1.1.5': ['rsa', 'sha1'],
  '1.2.840.113549.1.1.14': ['rsa', 'sha224'],
  '1.2.840.113549.1.1.11': ['rsa', 'sha256'],
  '1.2.840.113549.1.1.12': ['rsa', 'sha384'],
  '1.2.840.113549.1.1.13': ['rsa', 'sha512'],
  '1.2.840.113549.1.1.10': ['pss', undefined],
};

/** Decodes a DER OBJECT IDENTIFIER value to dotted form. */
export function decodeOid(v: Buffer): string {
  if (v.length === 0) throw new RangeError('empty OID');
  const parts: number[] = [];
  const first = v[0]!;
  parts.push(first < 80 ? Math.floor(first / 40) : 2, first < 80 ? first % 40 : first - 80);
  let n = 0;
  for (let i = 1; i < v.length; i++) {
    n = n * 128 + (v[i]! & 0x7f);
    if ((v[i]! & 0x80) === 0) { parts.push(n); n = 0; }
  }
  return parts.join('.');
}

export interface LdsSecurityObject {
  hashAlgorithm: string;
  hashes: Map<number, Buffer>;
}

/** Parses the LDSSecurityObject (SEQUENCE { version, AlgorithmIdentifier, SEQUENCE OF DataGroupHash, ... }). */
export function parseLdsSecurityObject(der: Buffer): LdsSecurityObject {
  const F = 'EF.SOD';
  const seq = expectTlv(der, 0x30, F);
  const items = readAll(seq.value, F);
  if (items.length < 3 || items[0]!.tag !== 0x02 || items[1]!.tag !== 0x30 || items[2]!.tag !== 0x30) {
    throw new CardDataError(F, 'LDS security object does not have version, hash algorithm and hash list');
  }
  const algOid = readTlv(items[1]!.value, 0, F);
  if (algOid.tag !== 0x06) throw new CardDataError(F, 'hash algorithm identifier is not an OID');
  const oid = decodeOid(algOid.value);
  const hashAlgorithm = HASH_OIDS[oid];
  if (!hashAlgorithm) throw new SodUnsupportedError(F, `unsupported hash algorithm ${oid}`);
  const hashes = new Map<number, Buffer>();
  for (const dgh of readAll(items[2]!.value, F)) {
    const [num, val] = readAll(dgh.value, F);
    if (dgh.tag !== 0x30 || !num || !val || num.tag !== 0x02 || val.tag !== 0x04 || num.value.length !== 1) {
      throw new CardDataError(F, 'a data group hash entry is malformed');
    }
    hashes.set(num.value[0]!, Buffer.from(val.value));
  }
  return { hashAlgorithm, hashes };
}

export interface ParsedSod {
  lds: LdsSecurityObject;
  eContent: Buffer;
  digestAlgorithm: string;
  signatureAlgorithmOid: string;
  signatureParams?: Buffer;
  signature: Buffer;
  /** DER SET OF signed attributes (what the signature covers), or undefined when absent. */
  signedAttrs?: Buffer;
  messageDigest?: Buffer;
  /** The signingTime signed attribute, when present. */
  signingTime?: Date;
  certificates: Buffer[];
}

/** Parses EF.SOD (tag 77 → CMS ContentInfo → SignedData). Structural problems throw CardDataError naming EF.SOD. */
export function parseSod(sod: Buffer): ParsedSod {
  const F = 'EF.SOD';
  const outer = expectTlv(sod, 0x77, F);
  let signed: SignedData;
  try {
    const ci = AsnConvert.parse(outer.value, ContentInfo);
    if (ci.contentType !== id_signedData) throw new Error(`content type is ${ci.contentType}, not signedData`);
    signed = AsnConvert.parse(ci.content, SignedData);
  } catch (e) {
    if (e instanceof CardDataError) throw e;
    throw new CardDataError(F, `CMS structure is invalid (${(e as Error).message})`, e);
  }
  const eci = signed.encapContentInfo;
  if (eci.eContentType !== OID_LDS_SECURITY_OBJECT) throw new CardDataError(F, `signed content type is ${eci.eContentType}, not the LDS security object`);
  const ec = eci.eContent?.single ?? eci.eContent?.any;
  if (!ec) throw new CardDataError(F, 'signed content is missing');
  const eContent = Buffer.from(ec instanceof ArrayBuffer ? ec : (ec as { buffer: ArrayBuffer }).buffer);
  const lds = parseLdsSecurityObject(eContent);
  const si = signed.signerInfos[0];
  if (!si) throw new CardDataError(F, 'there is no signer');
  const digestAlgorithm = HASH_OIDS[si.digestAlgorithm.algorithm];
  if (!digestAlgorithm) throw new SodUnsupportedError(F, `unsupported digest algorithm ${si.digestAlgorithm.algorithm}`);
  let signedAttrs: Buffer | undefined;
  let messageDigest: Buffer | undefined;
  let signingTime: Date | undefined;
  if (si.signedAttrs) {
    signedAttrs = rawSignedAttrs(outer.value);
    signedAttrs[0] = 0x31; // [0] IMPLICIT → SET OF, as signed
    const md = si.signedAttrs.find((a) => a.attrType === OID_MESSAGE_DIGEST);
    if (md && md.attrValues[0]) {
      const t = readTlv(Buffer.from(md.attrValues[0]), 0, F);
      if (t.tag !== 0x04) throw new CardDataError(F, 'messageDigest attribute is not an OCTET STRING');
      messageDigest = Buffer.from(t.value);
    }
    const st = si.signedAttrs.find((a) => a.attrType === OID_SIGNING_TIME);
    if (st && st.attrValues[0]) {
      try { signingTime = AsnConvert.parse(st.attrValues[0], Time).getTime(); } catch (e) {
        throw new CardDataError(F, 'signingTime attribute is not a time', e);
      }
    }
  }
  const certificates: Buffer[] = [];
  for (const c of signed.certificates ?? []) if (c.certificate) certificates.push(Buffer.from(AsnConvert.serialize(c.certificate)));
  return {
    lds, eContent, digestAlgorithm,
    signatureAlgorithmOid: si.signatureAlgorithm.algorithm,
    signatureParams: si.signatureAlgorithm.parameters ? Buffer.from(si.signatureAlgorithm.parameters) : undefined,
    signature: Buffer.from(si.signature.buffer),
    signedAttrs, messageDigest, signingTime, certificates,
  };
}

/** The signed attributes exactly as encoded in the SOD (the signature covers these bytes, not a re-encoding). */
function rawSignedAttrs(contentInfo: Buffer): Buffer {
  const F = 'EF.SOD';
  const ci = readAll(expectTlv(contentInfo, 0x30, F).value, F);
  const explicit = ci.find((t) => t.tag === 0xa0);
  if (!explicit) throw new CardDataError(F, 'ContentInfo has no content');
  const sd = readAll(expectTlv(explicit.value, 0x30, F).value, F);
  const sis = sd[sd.length - 1];
  if (!sis || sis.tag !== 0x31) throw new CardDataError(F, 'signerInfos missing');
  const si = readAll(readTlv(sis.value, 0, F).value, F);
  const attrs = si.find((t) => t.tag === 0xa0);
  if (!attrs) throw new CardDataError(F, 'signed attributes missing');
  return Buffer.from(attrs.raw);
}

function pssOptions(params: Buffer | undefined): { hash: string; saltLength: number } {
  let hash = 'sha1', saltLength = 20;
  if (!params || params.length < 2) return { hash, saltLength };
  const seq = readTlv(params, 0, 'EF.SOD');
  for (const item of readAll(seq.value, 'EF.SOD')) {
    if (item.tag === 0xa0) {
      const alg = readTlv(item.value, 0, 'EF.SOD');
      const oid = readTlv(alg.value, 0, 'EF.SOD');
      hash = HASH_OIDS[decodeOid(oid.value)] ?? hash;
    } else if (item.tag === 0xa2) {
      const n = readTlv(item.value, 0, 'EF.SOD');
      saltLength = n.value.reduce((a, b) => a * 256 + b, 0);
    }
  }
  return { hash, saltLength };
}

/** Verifies `signature` over `data` with the algorithm named by its OID (ECDSA, RSA PKCS#1 v1.5, RSASSA-PSS). */
export function verifyWithOid(key: KeyObject, oid: string, params: Buffer | undefined, data: Buffer, signature: Buffer, digestAlgorithm?: string): { ok: boolean; alg: string } {
  const entry = SIG_OIDS[oid];
  if (!entry) throw new Error(`unsupported signature algorithm ${oid}`);
  const [kind, h] = entry;
  if (kind === 'pss') {
    const p = pssOptions(params);
    return { ok: cryptoVerify(p.hash, data, { key, padding: cc.RSA_PKCS1_PSS_PADDING, saltLength: p.saltLength }, signature), alg: `RSASSA-PSS/${p.hash}` };
  }
  const hash = h ?? digestAlgorithm;
  if (!hash) throw new Error(`signature algorithm ${oid} names no hash`);
  // ECDSA signatures in certificates and SODs are DER; some chips use plain r||s (BSI TR-03111).
  let ok = cryptoVerify(hash, data, key, signature);
  if (!ok && kind === 'ecdsa' && signature[0] !== 0x30) ok = cryptoVerify(hash, data, { key, dsaEncoding: 'ieee-p1363' }, signature);
  return { ok, alg: `${kind === 'ecdsa' ? 'ECDSA' : 'RSA'}/${hash}` };
}

function verifySignature(key: KeyObject, sod: ParsedSod, data: Buffer): { ok: boolean; alg: string } {
  return verifyWithOid(key, sod.signatureAlgorithmOid, sod.signatureParams, data, sod.signature, sod.digestAlgorithm);
}

/** ICAO nationality/issuing-state codes that are not ISO 3166-1 alpha-3 (ICAO 9303-3), with the alpha-2 code their certificates carry. */
const ICAO_SPECIAL_STATES: Record<string, string> = {
  D: 'DE', UTO: 'UT', GBD: 'GB', GBN: 'GB', GBO: 'GB', GBP: 'GB', GBS: 'GB', EUE: 'EU', RKS: 'XK',
};

/** Issuing state as printed in the MRZ → the ISO 3166-1 alpha-2 code a CSCA/DS certificate's C attribute holds. */
export function issuingStateToAlpha2(state: string | null | undefined): string | undefined {
  if (!state) return undefined;
  const s = state.replace(/</g, '').toUpperCase();
  return ICAO_SPECIAL_STATES[s] ?? countries.alpha3ToAlpha2(s) ?? undefined;
}

function countryOf(c: X509Certificate): string | null {
  const m = /^C=(.+)$/m.exec(c.subject);
  return m ? m[1]!.trim().toUpperCase() : null;
}

/** The KeyUsage bits of a certificate, or undefined when it has no KeyUsage extension. */
function keyUsageOf(c: X509Certificate): number | undefined {
  const cert = AsnConvert.parse(c.raw, Certificate);
  const ext = cert.tbsCertificate.extensions?.find((e) => e.extnID === id_ce_keyUsage);
  if (!ext) return undefined;
  return AsnConvert.parse(ext.extnValue.buffer, KeyUsage).toNumber();
}

function within(c: X509Certificate, t: Date): boolean {
  return new Date(c.validFrom).getTime() <= t.getTime() && t.getTime() <= new Date(c.validTo).getTime();
}

function serialKey(hex: string): string {
  return hex.toUpperCase().replace(/^0+(?=.)/, '');
}

function optionsFrom(o?: CscaStore | PassiveAuthOptions): PassiveAuthOptions {
  if (!o) return {};
  return 'certificates' in o ? { csca: o } : o;
}

/**
 * Runs passive authentication. `dataGroups` maps DG number → file bytes as read.
 * Never throws: every failure is an `invalid` verdict with a reason code
 * (an absent or empty EF.SOD is `no-security-object`; a malformed one
 * `malformed-security-object`, naming the problem).
 */
export function passiveAuthenticate(sodBytes: Buffer | undefined, dataGroups: Map<number, Buffer>, options?: CscaStore | PassiveAuthOptions): PassiveAuthResult {
  const o = optionsFrom(options);
  const fail = (res: PassiveAuthResult, reasonCode: PassiveAuthReasonCode, reason: string): PassiveAuthResult => ({ ...res, verdict: 'invalid', reasonCode, reason });
  const base: PassiveAuthResult = { verdict: 'invalid', checkedDataGroups: [] };
  if (!sodBytes || sodBytes.length === 0) return fail(base, 'no-security-object', 'the chip holds no document security object (EF.SOD is absent or empty): its data cannot be authenticated');
  let sod: ParsedSod;
  try { sod = parseSod(sodBytes); } catch (e) {
    if (e instanceof SodUnsupportedError) return fail(base, 'unsupported-algorithm', e.message);
    return fail(base, 'malformed-security-object', (e as Error).message);
  }
  const res: PassiveAuthResult = { ...base, hashAlgorithm: sod.lds.hashAlgorithm };
  for (const [n, bytes] of [...dataGroups].sort((a, b) => a[0] - b[0])) {
    const expected = sod.lds.hashes.get(n);
    if (!expected) return fail(res, 'hash-missing', `DG${n} is not listed in the document security object`);
    const actual = createHash(sod.lds.hashAlgorithm).update(bytes).digest();
    if (!actual.equals(expected)) return fail(res, 'hash-mismatch', `DG${n} does not match its hash in the document security object (data altered)`);
    res.checkedDataGroups.push(n);
  }
  if (sod.certificates.length === 0) return fail(res, 'no-ds-certificate', 'EF.SOD carries no Document Signer certificate, so its signature cannot be checked');
  let ds: X509Certificate;
  try { ds = new X509Certificate(sod.certificates[0]!); } catch (e) {
    return fail(res, 'malformed-ds-certificate', `the Document Signer certificate cannot be parsed (${(e as Error).message})`);
  }
  res.documentSigner = {
    subject: ds.subject.replace(/\n/g, ', '), issuer: ds.issuer.replace(/\n/g, ', '), serialNumber: ds.serialNumber,
    validFrom: ds.validFrom, validTo: ds.validTo, country: countryOf(ds),
  };
  if (sod.signedAttrs) {
    if (!sod.messageDigest) return fail(res, 'message-digest-mismatch', 'the signed attributes lack the message digest');
    const md = createHash(sod.digestAlgorithm).update(sod.eContent).digest();
    if (!md.equals(sod.messageDigest)) return fail(res, 'message-digest-mismatch', 'the security object does not match the signed message digest');
  }
  let sig: { ok: boolean; alg: string };
  try {
    sig = verifySignature(ds.publicKey, sod, sod.signedAttrs ?? sod.eContent);
  } catch (e) {
    return fail(res, 'unsupported-algorithm', `the signature cannot be checked: ${(e as Error).message}`);
  }
  res.signatureAlgorithm = sig.alg;
  if (!sig.ok) return fail(res, 'bad-signature', 'the Document Signer signature over the security object is wrong');
  let dsUsage: number | undefined;
  try { dsUsage = keyUsageOf(ds); } catch { dsUsage = undefined; }
  if (ds.ca || dsUsage === undefined || (dsUsage & KeyUsageFlags.digitalSignature) === 0 || (dsUsage & KeyUsageFlags.keyCertSign) !== 0) {
    return fail(res, 'key-usage', `the certificate that signed the security object ("${res.documentSigner.subject}") is not a Document Signer certificate (it must carry key usage digitalSignature only, and not be a CA)`);
  }
  const csca = o.csca;
  if (!csca || csca.certificates.length === 0) {
    return fail(res, 'no-csca-store', 'no CSCA store is configured, so the Document Signer cannot be traced to an issuing country (set devices.card.cscaDir)');
  }
  const byName = csca.certificates.filter((c) => ds.checkIssued(c));
  if (byName.length === 0) {
    return fail(res, 'unknown-issuer', `no CSCA certificate in ${csca.source} issued the Document Signer (issuer "${res.documentSigner.issuer}")`);
  }
  const signer = byName.find((c) => { try { return ds.verify(c.publicKey); } catch { return false; } });
  if (!signer) return fail(res, 'unknown-issuer', `the Document Signer certificate names the CSCA "${res.documentSigner.issuer}" but was not signed by that CSCA in ${csca.source} (another key under the same name)`);
  res.csca = { subject: signer.subject.replace(/\n/g, ', ') };
  let cscaUsage: number | undefined;
  try { cscaUsage = keyUsageOf(signer); } catch { cscaUsage = undefined; }
  if (!signer.ca || (cscaUsage !== undefined && (cscaUsage & KeyUsageFlags.keyCertSign) === 0)) {
    return fail(res, 'key-usage', `the CSCA certificate "${res.csca.subject}" is not a certification authority (basic constraints CA and key usage keyCertSign)`);
  }
  const at = sod.signingTime ?? o.at ?? new Date();
  res.checkedAt = at.toISOString();
  const when = sod.signingTime ? `at signing time ${at.toISOString()}` : `now (${at.toISOString()}; the SOD has no signing time)`;
  if (!within(ds, at)) return fail(res, 'expired', `the Document Signer certificate is not valid ${when}: valid ${ds.validFrom} – ${ds.validTo}`);
  if (!within(signer, at)) return fail(res, 'expired', `the CSCA certificate "${res.csca.subject}" is not valid ${when}: valid ${signer.validFrom} – ${signer.validTo}`);
  for (const crl of csca.crls ?? []) {
    if (crl.issuer === signer.subject && crl.revoked.has(serialKey(ds.serialNumber))) {
      return fail(res, 'revoked', `the Document Signer certificate (serial ${ds.serialNumber}) is revoked by the CRL ${crl.source}`);
    }
  }
  const dsCountry = res.documentSigner.country;
  const cscaCountry = countryOf(signer);
  const expected = issuingStateToAlpha2(o.issuingState);
  if (!dsCountry || dsCountry !== cscaCountry) {
    return fail(res, 'country-mismatch', `the Document Signer's country (${dsCountry ?? 'none'}) differs from its CSCA's (${cscaCountry ?? 'none'})`);
  }
  if (!expected) {
    return fail(res, 'country-mismatch', `DG1's issuing state ${o.issuingState ? `"${o.issuingState}" is not a known country code` : 'is unknown'}, so the Document Signer's country (${dsCountry}) cannot be matched with it`);
  }
  if (dsCountry !== expected) {
    return fail(res, 'country-mismatch', `the document was issued by ${o.issuingState} (${expected}) but signed by a Document Signer of ${dsCountry}`);
  }
  const { reason: _r, reasonCode: _c, ...ok } = res;
  void _r; void _c;
  return { ...ok, verdict: 'valid' };
}

/** Splits PEM bundles / reads DER files. */
function certsFromBytes(b: Buffer): X509Certificate[] {
  const text = b.toString('latin1');
  if (text.includes('-----BEGIN CERTIFICATE-----')) {
    const pems = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
    return pems.map((p) => new X509Certificate(p));
  }
  return [new X509Certificate(b)];
}

function crlDers(b: Buffer): Buffer[] {
  const text = b.toString('latin1');
  if (text.includes('-----BEGIN X509 CRL-----')) {
    return (text.match(/-----BEGIN X509 CRL-----([\s\S]+?)-----END X509 CRL-----/g) ?? [])
      .map((p) => Buffer.from(p.replace(/-----(BEGIN|END) X509 CRL-----/g, '').replace(/\s+/g, ''), 'base64'));
  }
  return [b];
}

/** Parses a CRL and verifies its signature against the CSCAs; throws when it cannot be trusted. */
export function parseCrl(der: Buffer, cscas: X509Certificate[], source: string): CscaCrl {
  const cl = AsnConvert.parse(der, CertificateList);
  const tbs = Buffer.from(AsnConvert.serialize(cl.tbsCertList));
  const issuerCert = cscas.find((c) => {
    try {
      return verifyWithOid(c.publicKey, cl.signatureAlgorithm.algorithm, cl.signatureAlgorithm.parameters ? Buffer.from(cl.signatureAlgorithm.parameters) : undefined, tbs, Buffer.from(cl.signature)).ok;
    } catch { return false; }
  });
  if (!issuerCert) throw new Error('it is not signed by any CSCA certificate in the store');
  const revoked = new Set<string>();
  for (const r of cl.tbsCertList.revokedCertificates ?? []) revoked.add(serialKey(Buffer.from(r.userCertificate).toString('hex')));
  return { issuer: issuerCert.subject, revoked, source };
}

/**
 * Loads CSCA certificates from a file (PEM bundle or DER) or a directory of
 * .pem/.crt/.cer/.der files, and the CRLs (.crl, PEM or DER) beside them. A file
 * that cannot be parsed, or a CRL no CSCA there signed, is a StationError naming it.
 */
export function loadCscaStore(path: string): CscaStore {
  const files: string[] = [];
  const crlFiles: string[] = [];
  let st;
  try { st = statSync(path); } catch (e) {
    throw new StationError('CARD_CSCA_STORE', `CSCA store ${path} cannot be read: ${(e as Error).message}`, { hint: 'check devices.card.cscaDir in the configuration', cause: e, exitCode: 2 });
  }
  if (st.isDirectory()) {
    for (const f of readdirSync(path).sort()) {
      if (/\.(pem|crt|cer|der)$/i.test(f)) files.push(join(path, f));
      else if (/\.crl$/i.test(f)) crlFiles.push(join(path, f));
    }
  } else files.push(path);
  const certificates: X509Certificate[] = [];
  for (const f of files) {
    try { certificates.push(...certsFromBytes(readFileSync(f))); } catch (e) {
      throw new StationError('CARD_CSCA_STORE', `CSCA certificate file ${f} cannot be parsed: ${(e as Error).message}`, { hint: 'remove or replace the file (PEM or DER X.509 certificates only)', cause: e, exitCode: 2 });
    }
  }
  const crls: CscaCrl[] = [];
  for (const f of crlFiles) {
    try { for (const der of crlDers(readFileSync(f))) crls.push(parseCrl(der, certificates, f)); } catch (e) {
      throw new StationError('CARD_CSCA_STORE', `CRL file ${f} cannot be used: ${(e as Error).message}`, { hint: 'replace it with the CRL published by the issuing country (PEM or DER), or remove it', cause: e, exitCode: 2 });
    }
  }
  return { certificates, crls, source: path };
}

export function cscaStoreFrom(certs: (Buffer | string)[], source = 'the configured CSCA list', crls: CscaCrl[] = []): CscaStore {
  return { certificates: certs.map((c) => new X509Certificate(c)), crls, source };
}
