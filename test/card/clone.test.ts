/**
 * Clone detection parsing and verification without a card: DG14 (named and
 * explicit EC parameters, default algorithm, malformed input), DG15, ISO/IEC
 * 9796-2 and ECDSA Active Authentication answers. The protocol runs through
 * pcscd + vpcd in pcsc.test.ts.
 */
import { constants, createHash, generateKeyPairSync, privateEncrypt, createPrivateKey, createPublicKey, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { buildDg14, buildDg15, caOid, chooseChipAuth, ID_DH_KEY_AGREEMENT, ID_DH_PUBLIC_NUMBER, ID_PK_DH, ID_PK_ECDH, parseDg14, parseDg15, verifyActiveAuth, type DhDomain } from '../../drivers/card/clone';
import { oidBytes, PaceGroup, randomScalar, STANDARD_DOMAINS } from '../../drivers/card/pace';
import { CardDataError, tlv } from '../../drivers/card/tlv';
import { SimulatedCardReader } from '../../drivers/card/simulated';
import { buildDocument, createTestPki, modp2048 } from '../../drivers/card/emulator/document';
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

describe('DH Chip Authentication keys in DG14 (id-PK-DH): the group and the public value are checked before use', () => {
  const group = modp2048();
  const std = STANDARD_DOMAINS[0]! as DhDomain;
  const keyOn = (d: DhDomain) => new PaceGroup(d).publicKey(randomScalar(d));
  const spkiDg14 = (alg: Buffer, y: bigint) => tlv(0x6e, tlv(0x31, tlv(0x30, tlv(0x06, oidBytes(ID_PK_DH)), tlv(0x30, alg, tlv(0x03, Buffer.concat([Buffer.from([0]), tlv(0x02, intBytes(y))]))))));
  const x942 = (p: bigint, g: bigint, q: bigint) => tlv(0x30, tlv(0x06, oidBytes(ID_DH_PUBLIC_NUMBER)), tlv(0x30, tlv(0x02, intBytes(p)), tlv(0x02, intBytes(g)), tlv(0x02, intBytes(q))));
  const big = (b: Buffer) => BigInt(`0x${b.toString('hex')}`);

  it('X9.42 (p, g, q), PKCS #3 (p, g) with a safe prime, and the standardized id 0 are read; DG14 without ChipAuthenticationInfo defaults to DH 3DES', () => {
    for (const form of ['x9.42', 'pkcs3'] as const) {
      const pk = keyOn(group);
      const d = parseDg14(buildDg14({ publicKey: pk, cipher: 'AES-256', dh: { domain: group, form } }));
      const c = chooseChipAuth(d);
      expect(c).not.toBe('unsupported');
      if (c === 'unsupported' || !c) throw new Error('no choice');
      expect(c.algorithm).toEqual({ oid: caOid('AES-256', 'DH'), agreement: 'DH', cipher: 'AES-256' });
      expect(c.key.publicKey.equals(pk)).toBe(true);
      expect(c.key.domain).toMatchObject({ kind: 'DH', p: group.p, q: group.q, g: 2n, bytes: 256 });
      expect(c.key.domain!.name).toBe(form === 'x9.42' ? 'DH-2048/2047 (X9.42)' : 'DH-2048/2047 (PKCS #3, safe prime)');
    }
    const pk0 = keyOn(std);
    const s = chooseChipAuth(parseDg14(buildDg14({ publicKey: pk0, dh: { domain: std, form: 'standardized' }, withoutCaInfo: true })));
    expect(s !== 'unsupported' && s?.algorithm).toEqual({ oid: caOid('3DES', 'DH'), agreement: 'DH', cipher: '3DES' });
    expect(s !== 'unsupported' && s?.key.domain?.name).toBe(std.name);
    // A standardized DH group this reader does not implement (id 2: MODP-2048/256) is not-supported, not failed.
    const unknown = tlv(0x6e, tlv(0x31, tlv(0x30, tlv(0x06, oidBytes(ID_PK_DH)), tlv(0x30, tlv(0x30, tlv(0x06, oidBytes(ID_PK_DH)), tlv(0x02, Buffer.from([2]))), tlv(0x03, Buffer.concat([Buffer.from([0]), tlv(0x02, Buffer.from([5]))]))))));
    expect(chooseChipAuth(parseDg14(unknown))).toBe('unsupported');
  });

  it('bad groups and public values are a CardDataError naming DG14 and what is wrong', () => {
    const y = big(keyOn(std));
    const cases: [Buffer, RegExp][] = [
      [spkiDg14(x942(std.p, std.g, std.q + 2n), y), /q does not divide p − 1|q is not prime/],
      [spkiDg14(x942(std.p + 2n, std.g, std.q), y), /q does not divide p − 1|p is not prime/],
      [spkiDg14(x942(std.p, 2n, std.q), y), /g does not generate the order-q subgroup/],
      [spkiDg14(x942(std.p, std.g, std.q), std.p - 1n), /1 < y < p − 1/],
      [spkiDg14(x942(std.p, std.g, std.q), 1n), /not in the group/],
      [spkiDg14(x942(std.p, std.g, std.q), 2n), /order-q subgroup/],
      [spkiDg14(x942(std.p, std.g, std.q), std.p + 5n), /1 < y < p − 1/],
      [spkiDg14(x942(std.p, std.g, std.q), std.p << 8n), /longer than p/],
      [spkiDg14(x942(std.p >> 200n, std.g, std.q), y), /p has 824 bits/],
      [spkiDg14(tlv(0x30, tlv(0x06, oidBytes(ID_DH_KEY_AGREEMENT)), tlv(0x30, tlv(0x02, intBytes(std.p)), tlv(0x02, intBytes(std.g)))), y), /not a safe prime/],
      [spkiDg14(tlv(0x30, tlv(0x06, oidBytes(ID_PK_DH))), y), /no domain parameters/],
      [spkiDg14(tlv(0x30, tlv(0x06, oidBytes(ID_PK_DH)), tlv(0x04, Buffer.from([1]))), y), /neither a standardized id nor a SEQUENCE/],
      [spkiDg14(tlv(0x30, tlv(0x06, oidBytes(ID_DH_PUBLIC_NUMBER)), tlv(0x30, tlv(0x02, intBytes(std.p)), tlv(0x04, Buffer.from([2])), tlv(0x02, intBytes(std.q)))), y), /g is not a positive INTEGER/],
      [tlv(0x6e, tlv(0x31, tlv(0x30, tlv(0x06, oidBytes(ID_PK_DH)), tlv(0x30, x942(std.p, std.g, std.q), tlv(0x03, Buffer.from([0, 0x04, 0x01, 0x05])))))), /public value is malformed/],
      [tlv(0x6e, tlv(0x31, tlv(0x30, tlv(0x06, oidBytes(ID_PK_DH))))), /not a SubjectPublicKeyInfo/],
    ];
    for (const [b, re] of cases) {
      const e = dataError(() => parseDg14(b));
      expect(e).toBeInstanceOf(CardDataError);
      expect(e.message).toContain('DG14');
      expect(e.message).toMatch(re);
    }
  });
});

describe('DH Chip Authentication against the emulated chip (in process; pcsc.test.ts runs it through pcscd + vpcd)', () => {
  it('every DH form and cipher, after BAC and after PACE: chip-authenticated with secure messaging under the CA keys; another key is failed/ca-key-mismatch', async () => {
    const pki = createTestPki();
    const cases = [
      { chipAuth: { agreement: 'DH', cipher: '3DES' }, pace: false, method: 'CA DH 3DES on DH-2048/2047 (X9.42)' },
      { chipAuth: { agreement: 'DH', cipher: 'AES-128', dhForm: 'pkcs3' }, pace: true, method: 'CA DH AES-128 on DH-2048/2047 (PKCS #3, safe prime)' },
      { chipAuth: { agreement: 'DH', cipher: 'AES-192', dhForm: 'standardized' }, pace: false, method: 'CA DH AES-192 on MODP-1024/160 (RFC 5114)' },
      { chipAuth: { agreement: 'DH', cipher: 'AES-256' }, pace: true, method: 'CA DH AES-256 on DH-2048/2047 (X9.42)' },
    ] as const;
    for (const c of cases) {
      const doc = await buildDocument({ faceBytes: 1000, pki, chipAuth: c.chipAuth });
      const r = new SimulatedCardReader({ contents: doc, ...(c.pace ? { pace: { can: '123456' } } : {}) });
      await r.open();
      try {
        const opts = { bac: bacInputFromMrz(doc.mrzLines.join('\n')), ...(c.pace ? { can: '123456' } : {}), csca: cscaStoreFrom([doc.pki.csca.cert]) };
        const ok = await r.readDocument(opts);
        expect(ok.clone).toEqual({ verdict: 'chip-authenticated', method: c.method });
        expect(ok.access.chipAuthentication).toBe(c.method);
        expect(ok.access.protocol).toBe(c.pace ? 'PACE' : 'BAC');
        expect(ok.passiveAuth.verdict).toBe('valid');
        expect(ok.dg2!.equals(doc.files.get(0x0102)!)).toBe(true);
        r.card!.setFaults({ badCaKey: true });
        const clone = await r.readDocument(opts);
        expect(clone.clone).toMatchObject({ verdict: 'failed', reasonCode: 'ca-key-mismatch', method: c.method });
        expect(clone.dg2!.equals(doc.files.get(0x0102)!)).toBe(true);
      } finally { await r.close(); }
    }
  }, 120_000);
});
