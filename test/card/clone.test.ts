/**
 * Clone detection parsing and verification without a card: DG14 (named and
 * explicit EC parameters, default algorithm, malformed input), DG15, ISO/IEC
 * 9796-2 and ECDSA Active Authentication answers. The protocol runs through
 * pcscd + vpcd in pcsc.test.ts.
 */
import { constants, createHash, generateKeyPairSync, privateEncrypt, createPrivateKey, createPublicKey, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { buildDg14, buildDg15, caOid, chooseChipAuth, ID_PK_ECDH, parseDg14, parseDg15, verifyActiveAuth } from '../../drivers/card/clone';
import { oidBytes, PaceGroup, randomScalar, STANDARD_DOMAINS } from '../../drivers/card/pace';
import { CardDataError, tlv } from '../../drivers/card/tlv';
import { SimulatedCardReader } from '../../drivers/card/simulated';
import { buildDocument } from '../../drivers/card/emulator/document';
import { bacInputFromMrz } from '../../drivers/card/mrz';
import { cscaStoreFrom } from '../../drivers/card/passive-auth';

const dom = STANDARD_DOMAINS[13]!;
const pub = new PaceGroup(dom).publicKey(randomScalar(dom));

function dataError(fn: () => unknown): CardDataError {
  try { fn(); } catch (e) { return e as CardDataError; }
  throw new Error('expected a CardDataError');
}
const intBytes = (v: bigint) => { let h = v.toString(16); if (h.length % 2) h = `0${h}`; if (parseInt(h.slice(0, 2), 16) >= 0x80) h = `00${h}`; return Buffer.from(h, 'hex'); };

describe('DG14', () => {
  it('a named-curve key with its ChipAuthenticationInfo; without the info the ICAO default (3DES) applies', () => {
    const d = parseDg14(buildDg14({ publicKey: pub, parameterId: 13, cipher: 'AES-256', keyId: 7 }));
    expect(d.ca).toEqual([{ algorithm: { oid: caOid('AES-256'), agreement: 'ECDH', cipher: 'AES-256' }, version: 1, keyId: 7 }]);
    expect(d.keys[0]).toMatchObject({ keyId: 7, agreement: 'ECDH', publicKey: pub });
    const c = chooseChipAuth(d);
    expect(c !== 'unsupported' && c?.key.domain?.name).toBe('brainpoolP256r1');
    const noInfo = chooseChipAuth(parseDg14(buildDg14({ publicKey: pub, parameterId: 13, cipher: 'AES-128', withoutCaInfo: true })));
    expect(noInfo !== 'unsupported' && noInfo?.algorithm.cipher).toBe('3DES');
  });

  it('explicit EC parameters are matched to the standard curve by prime and order; an unknown curve is unsupported', () => {
    const P = dom.kind === 'ECDH' ? dom.curve.Point : undefined!;
    const explicit = (p: bigint) => tlv(0x30, tlv(0x02, Buffer.from([1])), tlv(0x30, tlv(0x06, oidBytes('1.2.840.10045.1.1')), tlv(0x02, intBytes(p))),
      tlv(0x30, tlv(0x04, Buffer.alloc(32)), tlv(0x04, Buffer.alloc(32))), tlv(0x04, Buffer.from(P.BASE.toBytes(false))), tlv(0x02, intBytes(P.Fn.ORDER)), tlv(0x02, Buffer.from([1])));
    const dg14 = (params: Buffer) => tlv(0x6e, tlv(0x31, tlv(0x30, tlv(0x06, oidBytes(ID_PK_ECDH)),
      tlv(0x30, tlv(0x30, tlv(0x06, oidBytes('1.2.840.10045.2.1')), params), tlv(0x03, Buffer.concat([Buffer.from([0]), pub]))))));
    const d = parseDg14(dg14(explicit(P.Fp.ORDER)));
    expect(d.keys[0]!.domain?.name).toBe('brainpoolP256r1');
    expect(chooseChipAuth(parseDg14(dg14(explicit(P.Fp.ORDER - 2n))))).toBe('unsupported');
  });

  it('malformed DG14 is a CardDataError naming DG14: wrong tag, not a SET, a key off the curve, a truncated TLV', () => {
    const offCurve = Buffer.from(pub); offCurve[40] = offCurve[40]! ^ 1;
    const cases: [Buffer, RegExp][] = [
      [tlv(0x6f, tlv(0x31)), /tag 6E/],
      [tlv(0x6e, tlv(0x30)), /SET OF SecurityInfo/],
      [buildDg14({ publicKey: offCurve, parameterId: 13, cipher: 'AES-128' }), /not a point on brainpoolP256r1/],
      [buildDg14({ publicKey: pub, parameterId: 13, cipher: 'AES-128' }).subarray(0, 40), /./],
      [tlv(0x6e, tlv(0x31, tlv(0x30, tlv(0x06, oidBytes(caOid('AES-128'))), tlv(0x04, Buffer.from([1]))))), /version is not a small INTEGER/],
    ];
    for (const [b, re] of cases) {
      const e = dataError(() => parseDg14(b));
      expect(e).toBeInstanceOf(CardDataError);
      expect(e.message).toContain('DG14');
      expect(e.message).toMatch(re);
    }
  });
});

describe('Active Authentication answers', () => {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 1024, publicKeyEncoding: { type: 'spki', format: 'der' }, privateKeyEncoding: { type: 'pkcs8', format: 'der' } });
  const rsaPriv = createPrivateKey({ key: rsa.privateKey, format: 'der', type: 'pkcs8' });
  const rsaPub = parseDg15(buildDg15(rsa.publicKey));
  const rnd = Buffer.from('0102030405060708', 'hex');
  const m9796 = (hash: string, trailer: Buffer, header = 0x6a, challenge = rnd) => {
    const h = createHash(hash).update(Buffer.alloc(0)).digest().length;
    const m1 = Buffer.alloc(128 - 1 - h - trailer.length, 0x5a);
    return privateEncrypt({ key: rsaPriv, padding: constants.RSA_NO_PADDING }, Buffer.concat([Buffer.from([header]), m1, createHash(hash).update(m1).update(challenge).digest(), trailer]));
  };

  it('RSA ISO/IEC 9796-2 scheme 1: SHA-1 trailer BC and SHA-256 trailer 34 CC verify; a wrong challenge, header or trailer does not', () => {
    expect(verifyActiveAuth(rsaPub, rnd, m9796('sha1', Buffer.from([0xbc])))).toEqual({ ok: true });
    expect(verifyActiveAuth(rsaPub, rnd, m9796('sha256', Buffer.from([0x34, 0xcc])))).toEqual({ ok: true });
    expect(verifyActiveAuth(rsaPub, rnd, m9796('sha1', Buffer.from([0xbc]), 0x6a, Buffer.alloc(8)))).toMatchObject({ ok: false, why: /does not match the challenge/ });
    expect(verifyActiveAuth(rsaPub, rnd, m9796('sha1', Buffer.from([0xbc]), 0x4b))).toMatchObject({ ok: false, why: /header/ });
    expect(verifyActiveAuth(rsaPub, rnd, m9796('sha1', Buffer.from([0xbd])))).toMatchObject({ ok: false, why: /trailer/ });
    expect(verifyActiveAuth(rsaPub, rnd, Buffer.alloc(64))).toMatchObject({ ok: false, why: /64 bytes/ });
  });

  it('ECDSA (plain r‖s) with the hash DG14 names, SHA-256 by default', () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256', publicKeyEncoding: { type: 'spki', format: 'der' }, privateKeyEncoding: { type: 'pkcs8', format: 'der' } });
    const priv = createPrivateKey({ key: ec.privateKey, format: 'der', type: 'pkcs8' });
    const key = createPublicKey({ key: ec.publicKey, format: 'der', type: 'spki' });
    const sig = sign('sha256', rnd, { key: priv, dsaEncoding: 'ieee-p1363' });
    expect(verifyActiveAuth(key, rnd, sig)).toEqual({ ok: true });
    expect(verifyActiveAuth(key, rnd, sign('sha384', rnd, { key: priv, dsaEncoding: 'ieee-p1363' }), '0.4.0.127.0.7.1.1.4.1.4')).toEqual({ ok: true });
    expect(verifyActiveAuth(key, Buffer.alloc(8), sig)).toMatchObject({ ok: false });
    expect(verifyActiveAuth(key, rnd, sig, '1.2.3.4')).toMatchObject({ ok: false, why: /not implemented/ });
  });

  it('malformed DG15 is a CardDataError naming DG15', () => {
    expect(dataError(() => parseDg15(tlv(0x6e, Buffer.from([0x30, 0])))).message).toMatch(/DG15.*tag 6F/);
    expect(dataError(() => parseDg15(tlv(0x6f, Buffer.from([0x30, 0x03, 0x02, 0x01, 0x00])))).message).toMatch(/DG15.*cannot be read/);
  });
});

describe('malformed EF.CardAccess, DG14 and DG15 on a chip: named, never a crash; the read completes and the next card reads', () => {
  it('a garbage DG14 or DG15 (signed in EF.SOD) is failed/malformed-key; a garbage EF.CardAccess falls back to BAC with the MRZ and is CARD_BAD_DATA with the CAN alone', async () => {
    for (const [n, body] of [[14, tlv(0x6e, Buffer.from([0x31, 0x05, 0x30]))], [15, tlv(0x6f, Buffer.from([0x30, 0x01, 0x00]))]] as const) {
      const doc = await buildDocument({ faceBytes: 1000, extraDataGroups: new Map([[n, body]]) });
      const r = new SimulatedCardReader({ contents: doc });
      await r.open();
      try {
        const res = await r.readDocument({ bac: bacInputFromMrz(doc.mrzLines.join('\n')), csca: cscaStoreFrom([doc.pki.csca.cert]) });
        expect(res.clone).toMatchObject({ verdict: 'failed', reasonCode: 'malformed-key' });
        expect(res.clone.reason).toContain(`DG${n}`);
        expect(res.passiveAuth.verdict).toBe('valid');
        expect(res.dg2).toBeDefined();
      } finally { await r.close(); }
    }
    const doc = await buildDocument({ faceBytes: 1000 });
    doc.files.set(0x011c, tlv(0x31, tlv(0x30, tlv(0x02, Buffer.from([1])))));
    const r = new SimulatedCardReader({ contents: doc, pace: { can: '123456' } });
    await r.open();
    try {
      const res = await r.readDocument({ bac: bacInputFromMrz(doc.mrzLines.join('\n')), csca: cscaStoreFrom([doc.pki.csca.cert]) });
      expect(res.access.protocol).toBe('BAC');
      expect(res.access.note).toMatch(/EF.CardAccess is malformed/);
      const e = await r.readDocument({ can: '123456' }).then(() => undefined, (x: CardDataError) => x);
      expect(e?.code).toBe('CARD_BAD_DATA');
      expect(e?.message).toContain('EF.CardAccess');
    } finally { await r.close(); }
  }, 60_000);
});
