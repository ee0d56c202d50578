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
import { StationError } from '../common/errors';
import type { PaReasonCode, PaVerdict } from '../../config/domain';
import { CardDataError, expectTlv, readAll, readTlv } from './tlv';

/** The verdict and reason codes are the domain's (config/domain.ts PA_VERDICTS, PA_REASONS). */
export type PassiveAuthVerdict = PaVerdict;

/** Machine-readable reason (stable; `reason` is the sentence for people). */
export type PassiveAuthReasonCode = PaReasonCode;

export interface PassiveAuthResult {
  verdict: PassiveAuthVerdict;
  reason?: string;
  reasonCode?: PassiveAuthReasonCode;
  /** Data group numbers whose hash matched the SOD. */
  checkedDataGroups: number[];
  hashAlgorithm?: string;
  signatureAlgorithm?: string;
  documentSigner?: { subject: string; issuer: string; serialNumber: string; validTo: string };
  csca?: { subject: string };
}

/** CSCA certificates trusted for the issuing countries. */
export interface CscaStore {
  certificates: X509Certificate[];
  /** Where they came from, for messages. */
  source: string;
}

export const OID_LDS_SECURITY_OBJECT = '2.23.136.1.1.1';
export const OID_MESSAGE_DIGEST = '1.2.840.113549.1.9.4';

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
  if (!hashAlgorithm) throw new CardDataError(F, `unsupported hash algorithm ${oid}`);
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
  if (!digestAlgorithm) throw new CardDataError(F, `unsupported digest algorithm ${si.digestAlgorithm.algorithm}`);
  let signedAttrs: Buffer | undefined;
  let messageDigest: Buffer | undefined;
  if (si.signedAttrs) {
    signedAttrs = rawSignedAttrs(outer.value);
    signedAttrs[0] = 0x31; // [0] IMPLICIT → SET OF, as signed
    const md = si.signedAttrs.find((a) => a.attrType === OID_MESSAGE_DIGEST);
    if (md && md.attrValues[0]) {
      const t = readTlv(Buffer.from(md.attrValues[0]), 0, F);
      if (t.tag !== 0x04) throw new CardDataError(F, 'messageDigest attribute is not an OCTET STRING');
      messageDigest = Buffer.from(t.value);
    }
  }
  const certificates: Buffer[] = [];
  for (const c of signed.certificates ?? []) if (c.certificate) certificates.push(Buffer.from(AsnConvert.serialize(c.certificate)));
  return {
    lds, eContent, digestAlgorithm,
    signatureAlgorithmOid: si.signatureAlgorithm.algorithm,
    signatureParams: si.signatureAlgorithm.parameters ? Buffer.from(si.signatureAlgorithm.parameters) : undefined,
    signature: Buffer.from(si.signature.buffer),
    signedAttrs, messageDigest, certificates,
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

function verifySignature(key: KeyObject, sod: ParsedSod, data: Buffer): { ok: boolean; alg: string } {
  const entry = SIG_OIDS[sod.signatureAlgorithmOid];
  if (!entry) throw new Error(`unsupported signature algorithm ${sod.signatureAlgorithmOid}`);
  const [kind, h] = entry;
  if (kind === 'pss') {
    const p = pssOptions(sod.signatureParams);
    return { ok: cryptoVerify(p.hash, data, { key, padding: cc.RSA_PKCS1_PSS_PADDING, saltLength: p.saltLength }, sod.signature), alg: `RSASSA-PSS/${p.hash}` };
  }
  const hash = h ?? sod.digestAlgorithm;
  return { ok: cryptoVerify(hash, data, key, sod.signature), alg: `${kind === 'ecdsa' ? 'ECDSA' : 'RSA'}/${hash}` };
}

/**
 * Runs passive authentication. `dataGroups` maps DG number → file bytes as read.
 * Never throws for a verification failure: the verdict says what happened.
 * Throws CardDataError only when EF.SOD itself is malformed.
 */
export function passiveAuthenticate(sodBytes: Buffer, dataGroups: Map<number, Buffer>, csca?: CscaStore): PassiveAuthResult {
  const sod = parseSod(sodBytes);
  const res: PassiveAuthResult = { verdict: 'invalid', checkedDataGroups: [], hashAlgorithm: sod.lds.hashAlgorithm };
  for (const [n, bytes] of [...dataGroups].sort((a, b) => a[0] - b[0])) {
    const expected = sod.lds.hashes.get(n);
    if (!expected) return { ...res, reasonCode: 'dg-not-in-sod', reason: `DG${n} is not listed in the document security object` };
    const actual = createHash(sod.lds.hashAlgorithm).update(bytes).digest();
    if (!actual.equals(expected)) return { ...res, reasonCode: 'dg-hash-mismatch', reason: `DG${n} does not match its hash in the document security object (data altered)` };
    res.checkedDataGroups.push(n);
  }
  if (sod.certificates.length === 0) return { ...res, verdict: 'not-checkable', reasonCode: 'no-ds-certificate', reason: 'EF.SOD carries no Document Signer certificate' };
  let ds: X509Certificate;
  try { ds = new X509Certificate(sod.certificates[0]!); } catch (e) {
    throw new CardDataError('EF.SOD', `Document Signer certificate cannot be parsed (${(e as Error).message})`, e);
  }
  res.documentSigner = { subject: ds.subject.replace(/\n/g, ', '), issuer: ds.issuer.replace(/\n/g, ', '), serialNumber: ds.serialNumber, validTo: ds.validTo };
  if (sod.signedAttrs) {
    if (!sod.messageDigest) return { ...res, reasonCode: 'message-digest-missing', reason: 'signed attributes lack the message digest' };
    const md = createHash(sod.digestAlgorithm).update(sod.eContent).digest();
    if (!md.equals(sod.messageDigest)) return { ...res, reasonCode: 'message-digest-mismatch', reason: 'the security object does not match the signed message digest' };
  }
  let sig: { ok: boolean; alg: string };
  try {
    sig = verifySignature(ds.publicKey, sod, sod.signedAttrs ?? sod.eContent);
  } catch (e) {
    return { ...res, verdict: 'not-checkable', reasonCode: 'unsupported-algorithm', reason: `signature cannot be checked: ${(e as Error).message}` };
  }
  res.signatureAlgorithm = sig.alg;
  if (!sig.ok) return { ...res, reasonCode: 'bad-signature', reason: 'the Document Signer signature over the security object is wrong' };
  if (!csca || csca.certificates.length === 0) {
    return { ...res, verdict: 'not-checkable', reasonCode: 'no-csca-store', reason: 'data and signature are intact, but no CSCA store is configured to check the Document Signer certificate' };
  }
  const byName = csca.certificates.filter((c) => ds.checkIssued(c));
  if (byName.length === 0) {
    return { ...res, verdict: 'not-checkable', reasonCode: 'no-csca-for-issuer', reason: `no CSCA certificate in ${csca.source} for issuer "${res.documentSigner.issuer}"` };
  }
  const signer = byName.find((c) => { try { return ds.verify(c.publicKey); } catch { return false; } });
  if (!signer) return { ...res, reasonCode: 'ds-not-signed-by-csca', reason: `the Document Signer certificate was not signed by the CSCA "${res.documentSigner.issuer}" in ${csca.source}` };
  res.csca = { subject: signer.subject.replace(/\n/g, ', ') };
  const { reason: _r, ...ok } = res;
  void _r;
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

/**
 * Loads CSCA certificates from a file (PEM bundle or DER) or a directory of
 * .pem/.crt/.cer/.der files. A file that cannot be parsed is a StationError naming it.
 */
export function loadCscaStore(path: string): CscaStore {
  const files: string[] = [];
  let st;
  try { st = statSync(path); } catch (e) {
    throw new StationError('CARD_CSCA_STORE', `CSCA store ${path} cannot be read: ${(e as Error).message}`, { hint: 'check card.cscaStore in the configuration', cause: e, exitCode: 2 });
  }
  if (st.isDirectory()) {
    for (const f of readdirSync(path).sort()) if (/\.(pem|crt|cer|der)$/i.test(f)) files.push(join(path, f));
  } else files.push(path);
  const certificates: X509Certificate[] = [];
  for (const f of files) {
    try { certificates.push(...certsFromBytes(readFileSync(f))); } catch (e) {
      throw new StationError('CARD_CSCA_STORE', `CSCA certificate file ${f} cannot be parsed: ${(e as Error).message}`, { hint: 'remove or replace the file (PEM or DER X.509 certificates only)', cause: e, exitCode: 2 });
    }
  }
  return { certificates, source: path };
}

export function cscaStoreFrom(certs: (Buffer | string)[], source = 'the configured CSCA list'): CscaStore {
  return { certificates: certs.map((c) => new X509Certificate(c)), source };
}
