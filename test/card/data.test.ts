/** Pure unit tests: TLV / ASN.1 errors name the file, passive authentication verdicts, DG2, APDU coding. */
import { describe, expect, it, beforeAll } from 'vitest';
import fc from 'fast-check';
import { CardDataError, readAll, readTlv, tlv, tlvTotalLength } from '../../drivers/card/tlv';
import { parseCom } from '../../drivers/card/emrtd';
import { parseDg1 } from '../../drivers/card/mrz';
import { buildDg2, extractFace, jpeg2000ToJpeg, readJpeg2000Header } from '../../drivers/card/dg2';
import { cscaStoreFrom, issuingStateToAlpha2, loadCscaStore, PASSIVE_AUTH_REASONS, parseCrl, parseSod, passiveAuthenticate } from '../../drivers/card/passive-auth';
import { X509Certificate } from 'node:crypto';
import { buildCom, buildCrl, buildDg1, buildDocument, buildSod, buildTd1, createTestPki, DEFAULT_PERSON, pem, type EmrtdContents } from '../../drivers/card/emulator/document';
import { decodeCommand, encodeCommand } from '../../drivers/card/apdu';
import { atrSupportsExtendedLength } from '../../drivers/card/channel';
import { mapPcscError, toPattern } from '../../drivers/card/pcsc';
import { DisconnectedError } from '../../drivers/common/errors';
import { EmulatedEmrtd } from '../../drivers/card/emulator/card';
import { SecureMessaging, SmError } from '../../drivers/card/sm';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

let doc: EmrtdContents;
beforeAll(async () => { doc = await buildDocument({ faceBytes: 3000 }); });

function dgs(d: EmrtdContents): Map<number, Buffer> {
  return new Map([[1, d.files.get(0x0101)!], [2, d.files.get(0x0102)!]]);
}

describe('TLV and ASN.1 errors name the file and never crash', () => {
  it('rejects truncated, indefinite and oversized encodings with CardDataError', () => {
    expect(() => readTlv(Buffer.from('6110AABB', 'hex'), 0, 'DG1')).toThrow(/in DG1: tag 61 .* declares 16 bytes/);
    expect(() => readTlv(Buffer.from('618000', 'hex'), 0, 'EF.COM')).toThrow(/in EF\.COM: indefinite length/);
    expect(() => readTlv(Buffer.from('5F', 'hex'), 0, 'DG2')).toThrow(CardDataError);
    expect(() => readTlv(Buffer.from('6185FFFFFFFFFF', 'hex'), 0, 'DG2')).toThrow(/too long/);
    expect(() => tlvTotalLength(Buffer.from('61', 'hex'), 'DG1')).toThrow(/DG1/);
    expect(tlvTotalLength(Buffer.from('7782012C', 'hex'), 'EF.SOD')).toBe(4 + 300);
    const e = (() => { try { readTlv(Buffer.from('6105', 'hex'), 0, 'DG1'); } catch (x) { return x as CardDataError; } })()!;
    expect(e.code).toBe('CARD_BAD_DATA');
    expect(e.details).toEqual({ file: 'DG1' });
  });

  it('random bytes only ever raise CardDataError (property)', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      const b = Buffer.from(bytes);
      for (const f of [() => readAll(b, 'DG1'), () => parseCom(b), () => parseDg1(b), () => extractFace(b), () => parseSod(b)]) {
        try { f(); } catch (e) { if (!(e instanceof CardDataError)) throw e; }
      }
    }), { numRuns: 400 });
  });

  it('malformed EF.COM, DG1, DG2 and EF.SOD are each reported under their own name', () => {
    expect(() => parseCom(tlv(0x60, tlv(0x5f01, Buffer.from('0107'))))).toThrow(/EF\.COM: tag list/);
    expect(parseCom(buildCom([0x61, 0x75, 0x6b]))).toEqual([1, 2, 11]);
    expect(() => parseDg1(tlv(0x61, tlv(0x5f1f, Buffer.from('I<UTO\u0001'))))).toThrow(/DG1: MRZ contains/);
    expect(() => parseDg1(tlv(0x61, tlv(0x5f1f, Buffer.from('I<UTO'))))).toThrow(/in DG1: MRZ could not be parsed/);
    expect(() => extractFace(tlv(0x75, tlv(0x7f61, tlv(0x02, Buffer.from([1])))))).toThrow(/DG2: no biometric data block/);
    expect(() => extractFace(tlv(0x75, tlv(0x7f61, tlv(0x7f60, tlv(0x5f2e, Buffer.from('NOTAFACE____________'))))))).toThrow(/DG2: .*not an ISO 19794-5/);
    expect(() => parseSod(tlv(0x77, tlv(0x30, tlv(0x06, Buffer.from([0x2a])))))).toThrow(/in EF\.SOD: CMS structure is invalid/);
    expect(() => parseSod(Buffer.from('7703010203', 'hex'))).toThrow(/EF\.SOD/);
  });

  it('secure messaging rejects random responses with SmError only', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 3, maxLength: 80 }), (bytes) => {
      const sm = new SecureMessaging({ ksEnc: Buffer.alloc(16, 1), ksMac: Buffer.alloc(16, 2), ssc: Buffer.alloc(8) });
      try { sm.unwrap(Buffer.from(bytes)); } catch (e) { if (!(e instanceof SmError)) throw e; }
      try { sm.unwrapCommand(Buffer.from(bytes)); } catch (e) { if (!(e instanceof SmError)) throw e; }
    }), { numRuns: 300 });
  });
});

describe('passive authentication fails closed', () => {
  const UTO = { issuingState: 'UTO' };
  it('valid only with the issuing CSCA and the right country; without a store or for an unknown issuer it is invalid', () => {
    const sod = doc.files.get(0x011d)!;
    const ok = passiveAuthenticate(sod, dgs(doc), { csca: cscaStoreFrom([doc.pki.csca.cert]), ...UTO });
    expect(ok.verdict).toBe('valid');
    expect(ok.reason).toBeUndefined();
    expect(ok.reasonCode).toBeUndefined();
    expect(ok.signatureAlgorithm).toBe('ECDSA/sha256');
    expect(ok.csca!.subject).toContain('CSCA UTO');
    expect(ok.documentSigner!.country).toBe('UT');
    const none = passiveAuthenticate(sod, dgs(doc), UTO);
    expect(none).toMatchObject({ verdict: 'invalid', reasonCode: 'no-csca-store' });
    const foreign = createTestPki('ZZZ');
    const other = passiveAuthenticate(sod, dgs(doc), { csca: cscaStoreFrom([foreign.csca.cert], 'store X'), ...UTO });
    expect(other).toMatchObject({ verdict: 'invalid', reasonCode: 'unknown-issuer', reason: expect.stringMatching(/no CSCA certificate in store X issued the Document Signer/) });
    // the issuing state is part of the proof: unknown or different from the DS country is invalid
    expect(passiveAuthenticate(sod, dgs(doc), { csca: cscaStoreFrom([doc.pki.csca.cert]) })).toMatchObject({ verdict: 'invalid', reasonCode: 'country-mismatch' });
    expect(passiveAuthenticate(sod, dgs(doc), { csca: cscaStoreFrom([doc.pki.csca.cert]), issuingState: 'VNM' })).toMatchObject({ verdict: 'invalid', reasonCode: 'country-mismatch', reason: expect.stringMatching(/issued by VNM \(VN\) but signed by a Document Signer of UT/) });
  });

  it('every forged or broken SOD is invalid with its own reason', async () => {
    const csca = cscaStoreFrom([doc.pki.csca.cert]);
    const sod = doc.files.get(0x011d)!;
    const pa = (s: Buffer | undefined, d = dgs(doc), o: { csca?: typeof csca; issuingState?: string } = { csca, ...UTO }) => passiveAuthenticate(s, d, o);
    const changed = dgs(doc);
    const dg1 = Buffer.from(changed.get(1)!); dg1[dg1.length - 1] ^= 1; changed.set(1, dg1);
    expect(pa(sod, changed)).toMatchObject({ verdict: 'invalid', reasonCode: 'hash-mismatch', reason: expect.stringMatching(/DG1 does not match/) });
    const extra = dgs(doc); extra.set(11, tlv(0x6b, Buffer.from('x')));
    expect(pa(sod, extra)).toMatchObject({ verdict: 'invalid', reasonCode: 'hash-missing', reason: expect.stringMatching(/DG11 is not listed/) });
    // Re-sign the same security object with a key that is not the DS certificate's key.
    const rogue = createTestPki('UTO');
    const forged = buildSod(dgs(doc), { ...rogue.ds, cert: doc.pki.ds.cert }, doc.pki.csca.name);
    expect(pa(forged)).toMatchObject({ verdict: 'invalid', reasonCode: 'bad-signature', reason: expect.stringMatching(/signature .* is wrong/) });
    // A DS certificate issued by a different CSCA that has the same name.
    expect(pa(buildSod(dgs(doc), rogue.ds, rogue.csca.name))).toMatchObject({ verdict: 'invalid', reasonCode: 'unknown-issuer', reason: expect.stringMatching(/not signed by that CSCA/) });
    // An attacker's own CSCA and DS: the issuer is not in the store.
    const attacker = createTestPki('UTO');
    const own = await buildDocument({ faceBytes: 800, pki: attacker });
    expect(pa(own.files.get(0x011d), dgs(own))).toMatchObject({ verdict: 'invalid', reasonCode: 'unknown-issuer' });
    // Another country's trusted CSCA + DS vouching for this document.
    const vn = createTestPki('VNM');
    const vouched = buildSod(dgs(doc), vn.ds, vn.csca.name);
    expect(pa(vouched, dgs(doc), { csca: cscaStoreFrom([doc.pki.csca.cert, vn.csca.cert]), ...UTO })).toMatchObject({ verdict: 'invalid', reasonCode: 'country-mismatch' });
    // A DS of another country under this CSCA.
    const otherCountry = createTestPki('UTO', { dsCountry: 'VN' });
    const oc = buildSod(dgs(doc), otherCountry.ds, otherCountry.csca.name);
    expect(pa(oc, dgs(doc), { csca: cscaStoreFrom([otherCountry.csca.cert]), ...UTO })).toMatchObject({ verdict: 'invalid', reasonCode: 'country-mismatch' });
    // Signed with the CSCA's own key (its certificate in the SOD).
    const byCsca = buildSod(dgs(doc), doc.pki.csca, doc.pki.csca.name);
    expect(pa(byCsca)).toMatchObject({ verdict: 'invalid', reasonCode: 'key-usage' });
    // An expired Document Signer (validity ended before the signing time).
    const day = 86_400_000, now = Date.now();
    const old = createTestPki('UTO', { dsValidity: { notBefore: new Date(now - 400 * day), notAfter: new Date(now - 10 * day) } });
    const expired = buildSod(dgs(doc), old.ds, old.csca.name, { signingTime: new Date(now - day) });
    expect(pa(expired, dgs(doc), { csca: cscaStoreFrom([old.csca.cert]), ...UTO })).toMatchObject({ verdict: 'invalid', reasonCode: 'expired', reason: expect.stringMatching(/at signing time/) });
    // a SOD signed while that DS was valid is still genuine after the DS expired
    const inTime = buildSod(dgs(doc), old.ds, old.csca.name, { signingTime: new Date(now - 20 * day) });
    expect(pa(inTime, dgs(doc), { csca: cscaStoreFrom([old.csca.cert]), ...UTO })).toMatchObject({ verdict: 'valid' });
    // No DS certificate in the SOD.
    expect(pa(buildSod(dgs(doc), doc.pki.ds, doc.pki.csca.name, { withoutCertificate: true }))).toMatchObject({ verdict: 'invalid', reasonCode: 'no-ds-certificate' });
    // Revoked by a CRL in the store.
    const crl = parseCrl(buildCrl(doc.pki.csca, [doc.pki.ds.serial]), [new X509Certificate(doc.pki.csca.cert)], 'test.crl');
    expect(pa(sod, dgs(doc), { csca: cscaStoreFrom([doc.pki.csca.cert], 'store', [crl]), ...UTO })).toMatchObject({ verdict: 'invalid', reasonCode: 'revoked' });
    // Absent / empty / garbage security object.
    expect(pa(undefined)).toMatchObject({ verdict: 'invalid', reasonCode: 'no-security-object' });
    expect(pa(Buffer.alloc(0))).toMatchObject({ verdict: 'invalid', reasonCode: 'no-security-object' });
    expect(pa(tlv(0x77, Buffer.from('3003020100', 'hex')))).toMatchObject({ verdict: 'invalid', reasonCode: 'malformed-security-object', reason: expect.stringMatching(/EF\.SOD/) });
    // every code the tests met is in the published list
    expect(PASSIVE_AUTH_REASONS).toEqual(expect.arrayContaining(['no-security-object', 'unknown-issuer', 'expired', 'country-mismatch', 'hash-mismatch', 'no-ds-certificate', 'unsupported-algorithm']));
  });

  it('a CRL no CSCA in the store signed is refused when the store loads', () => {
    const dir = mkdtempSync(join(tmpdir(), 'csca-crl-'));
    try {
      writeFileSync(join(dir, 'csca.pem'), pem(doc.pki.csca.cert));
      writeFileSync(join(dir, 'ok.crl'), buildCrl(doc.pki.csca, [doc.pki.ds.serial]));
      const store = loadCscaStore(dir);
      expect(store.crls!.length).toBe(1);
      expect(passiveAuthenticate(doc.files.get(0x011d)!, dgs(doc), { csca: store, issuingState: 'UTO' }).reasonCode).toBe('revoked');
      writeFileSync(join(dir, 'rogue.crl'), buildCrl(createTestPki('UTO').csca, []));
      expect(() => loadCscaStore(dir)).toThrow(/rogue\.crl cannot be used: it is not signed by any CSCA/);
    } finally { rmSync(dir, { recursive: true, force: true }); }
  });

  it('DG1 of the ICAO specimen (state UTO) keeps its issuing state and nationality', () => {
    const m = parseDg1(buildDg1(['P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<', 'L898902C36UTO7408122F1204159ZE184226B<<<<<10']));
    expect(m).toMatchObject({ format: 'TD3', issuingState: 'UTO', nationality: 'UTO', valid: true });
    expect(issuingStateToAlpha2('UTO')).toBe('UT');
    expect(issuingStateToAlpha2('D<<')).toBe('DE');
    expect(issuingStateToAlpha2('VNM')).toBe('VN');
  });

  it('loads a CSCA store from a directory of PEM/DER files and names a broken file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'csca-'));
    try {
      writeFileSync(join(dir, 'a.pem'), pem(doc.pki.csca.cert) + pem(createTestPki('ZZZ').csca.cert));
      writeFileSync(join(dir, 'b.der'), createTestPki('YYY').csca.cert);
      writeFileSync(join(dir, 'readme.txt'), 'ignored');
      const store = loadCscaStore(dir);
      expect(store.certificates.length).toBe(3);
      expect(passiveAuthenticate(doc.files.get(0x011d)!, dgs(doc), { csca: store, issuingState: 'UTO' }).verdict).toBe('valid');
      writeFileSync(join(dir, 'c.cer'), 'garbage');
      expect(() => loadCscaStore(dir)).toThrow(/c\.cer cannot be parsed/);
      expect(() => loadCscaStore(join(dir, 'nope'))).toThrow(/cannot be read/);
    } finally { rmSync(dir, { recursive: true, force: true }); }
  });
});

describe('DG2, DG1 and APDU coding', () => {
  it('extracts JPEG and JPEG 2000 faces', () => {
    const face = extractFace(doc.files.get(0x0102)!);
    expect(face.format).toBe('jpeg');
    expect(face.width).toBe(240);
    expect(face.raw.subarray(0, 2).toString('hex')).toBe('ffd8');
    const jp2 = Buffer.concat([Buffer.from('0000000C6A5020200D0A870A', 'hex'), Buffer.alloc(50, 7)]);
    const f2 = extractFace(buildDg2(jp2, 100, 120, 'jpeg2000'));
    expect(f2.format).toBe('jpeg2000');
    expect(f2.raw.equals(jp2)).toBe(true);
  });

  it('a malformed JPEG 2000 face in DG2 is a CARD_BAD_DATA error naming DG2', async () => {
    const sig = Buffer.from('0000000C6A5020200D0A870A', 'hex');
    const f = extractFace(buildDg2(Buffer.concat([sig, Buffer.alloc(50, 7)]), 100, 120, 'jpeg2000'));
    await expect(jpeg2000ToJpeg(f.raw)).rejects.toMatchObject({ code: 'CARD_BAD_DATA', details: { file: 'DG2' } });
    await expect(jpeg2000ToJpeg(f.raw)).rejects.toThrow(/in DG2: JP2 box/);
    expect(() => readJpeg2000Header(Buffer.from('FFD8FFE0', 'hex'))).toThrow(/in DG2: face image is neither a JP2 file nor a JPEG 2000 codestream/);
    // SIZ with a component count that does not fit its length
    const siz = Buffer.from('FF4FFF510029000000000040000000400000000000000000000000400000004000000000000000000003070101', 'hex');
    expect(() => readJpeg2000Header(siz)).toThrow(/in DG2: JPEG 2000 SIZ marker is inconsistent/);
  });

  it('random bytes behind a JPEG 2000 signature only ever raise CardDataError (property)', async () => {
    const heads = [Buffer.from('0000000C6A5020200D0A870A', 'hex'), Buffer.from('FF4FFF51', 'hex'), Buffer.from('FF4FFF510029000000000020000000200000000000000000000000200000002000000000000000000001070101', 'hex')];
    await fc.assert(fc.asyncProperty(fc.constantFrom(...heads), fc.uint8Array({ maxLength: 300 }), async (head, tail) => {
      const e = await jpeg2000ToJpeg(Buffer.concat([head, Buffer.from(tail)])).then(() => undefined, (x: unknown) => x);
      if (e !== undefined) {
        expect(e).toBeInstanceOf(CardDataError);
        expect((e as CardDataError).details).toEqual({ file: 'DG2' });
      }
    }), { numRuns: 150 });
  });

  it('builds TD1 MRZs that parse with valid check digits', () => {
    const lines = buildTd1({ ...DEFAULT_PERSON, issuingState: 'D', nationality: 'D' });
    const f = parseDg1(buildDg1(lines));
    expect(f.valid).toBe(true);
    expect(f.documentNumber).toBe('D23145890');
  });

  it('encodes and decodes short and extended APDUs (all four cases)', () => {
    const cases = [
      { cla: 0, ins: 0xa4, p1: 4, p2: 0x0c, data: Buffer.from('A0000002471001', 'hex') },
      { cla: 0, ins: 0x84, p1: 0, p2: 0, le: 8 },
      { cla: 0, ins: 0xb0, p1: 0, p2: 0, le: 256 },
      { cla: 0x0c, ins: 0xb0, p1: 1, p2: 2, data: Buffer.alloc(300, 1), le: 65536 },
      { cla: 0, ins: 0xb0, p1: 0, p2: 0, le: 4096 },
      { cla: 0, ins: 0x20, p1: 0, p2: 0 },
    ];
    for (const c of cases) expect(decodeCommand(encodeCommand(c))).toMatchObject(c);
    expect(encodeCommand({ cla: 0, ins: 0x84, p1: 0, p2: 0, le: 256 }).toString('hex')).toBe('0084000000');
    expect(encodeCommand({ cla: 0, ins: 0xb0, p1: 0, p2: 0, le: 4096 }).toString('hex')).toBe('00b00000001000');
    expect(decodeCommand(Buffer.from('00A4040C0700', 'hex'))).toBeUndefined();
  });

  it('reads the extended-length capability from the ATR', () => {
    const ext = new EmulatedEmrtd({ files: doc.files, mrzLines: doc.mrzLines, extendedLength: true });
    const short = new EmulatedEmrtd({ files: doc.files, mrzLines: doc.mrzLines });
    expect(atrSupportsExtendedLength(ext.atr)).toBe(true);
    expect(atrSupportsExtendedLength(short.atr)).toBe(false);
    expect(atrSupportsExtendedLength(Buffer.from('3B8F8001804F0CA000000306030001000000006A', 'hex'))).toBe(false);
  });

  it('reader patterns: substring, "/regex/" and empty', () => {
    expect(toPattern('')).toBeUndefined();
    expect(toPattern('ACS')).toBe('ACS');
    const re = toPattern('/PCD 00 0[1]$/i') as RegExp;
    expect(re).toBeInstanceOf(RegExp);
    expect(re.test('virtual pcd 00 01')).toBe(true);
    expect(toPattern('/[/')).toBe('/[/');
  });

  it('maps PC/SC error codes to errors that say what to do', () => {
    const removed = mapPcscError(new Error('SCardTransmit error: Card was removed.(0x80100069)'), 'R1', 'APDU exchange');
    expect(removed).toBeInstanceOf(DisconnectedError);
    expect(removed.code).toBe('CARD_REMOVED');
    expect(removed.message).toContain('R1');
    expect(mapPcscError(new Error('SCardConnect error: Sharing violation.(0x8010000B)'), 'R1', 'connect').code).toBe('CARD_READER_BUSY');
    expect(mapPcscError(new Error('SCardTransmit error: RPC transport error.(0x80100013)'), 'R1', 'x').code).toBe('CARD_PCSCD_DOWN');
    expect(mapPcscError(new Error('weird'), 'R1', 'x').code).toBe('CARD_PCSC');
  });
});
