/**
 * Clone detection parsing and verification without a card: DG14 (named and
 * explicit EC parameters, default algorithm, malformed input), DG15, ISO/IEC
 * 9796-2 and ECDSA Active Authentication answers. The protocol runs through
 * pcscd + vpcd in pcsc.test.ts.
 */
import { constants, createHash, generateKeyPairSync, privateEncrypt, createPrivateKey, createPublicKey, sign, type KeyObject } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { AA_CURVES, buildDg14, buildDg15, caOid, chooseChipAuth, ECDSA_PLAIN, HASH_LABEL, TRAILER_ID, ID_DH_KEY_AGREEMENT, ID_DH_PUBLIC_NUMBER, ID_PK_DH, ID_PK_ECDH, parseDg14, parseDg15, verifyActiveAuth, type DhDomain } from '../../drivers/card/clone';
import { oidBytes, PaceGroup, randomScalar, STANDARD_DOMAINS } from '../../drivers/card/pace';
import { CardDataError, tlv } from '../../drivers/card/tlv';
import { SimulatedCardReader } from '../../drivers/card/simulated';
import { buildDocument, createTestPki, modp2048, type ActiveAuthProfile } from '../../drivers/card/emulator/document';
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
  const rsaPub = parseDg15(buildDg15(rsa.publicKey)) as KeyObject;
  const rnd = Buffer.from('0102030405060708', 'hex');
  const m9796 = (hash: string, trailer: Buffer, header = 0x6a, challenge = rnd) => {
    const h = createHash(hash).update(Buffer.alloc(0)).digest().length;
    const m1 = Buffer.alloc(128 - 1 - h - trailer.length, 0x5a);
    return privateEncrypt({ key: rsaPriv, padding: constants.RSA_NO_PADDING }, Buffer.concat([Buffer.from([header]), m1, createHash(hash).update(m1).update(challenge).digest(), trailer]));
  };

  it('RSA ISO/IEC 9796-2 scheme 1: SHA-1 trailer BC and SHA-256 trailer 34 CC verify; a wrong challenge, header or trailer does not', () => {
    expect(verifyActiveAuth(rsaPub, rnd, m9796('sha1', Buffer.from([0xbc])))).toEqual({ ok: true, hash: 'sha1' });
    expect(verifyActiveAuth(rsaPub, rnd, m9796('sha256', Buffer.from([0x34, 0xcc])))).toEqual({ ok: true, hash: 'sha256' });
    expect(verifyActiveAuth(rsaPub, rnd, m9796('sha1', Buffer.from([0xbc]), 0x6a, Buffer.alloc(8)))).toMatchObject({ ok: false, why: /does not match the challenge/ });
    expect(verifyActiveAuth(rsaPub, rnd, m9796('sha1', Buffer.from([0xbc]), 0x4b))).toMatchObject({ ok: false, why: /header/ });
    expect(verifyActiveAuth(rsaPub, rnd, m9796('sha1', Buffer.from([0xbd])))).toMatchObject({ ok: false, why: /trailer/ });
    expect(verifyActiveAuth(rsaPub, rnd, Buffer.alloc(64))).toMatchObject({ ok: false, why: /64 bytes/ });
  });

  it('ECDSA (plain r‖s) with the hash DG14 names; without one each SHA-1/SHA-2 hash is tried', () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256', publicKeyEncoding: { type: 'spki', format: 'der' }, privateKeyEncoding: { type: 'pkcs8', format: 'der' } });
    const priv = createPrivateKey({ key: ec.privateKey, format: 'der', type: 'pkcs8' });
    const key = createPublicKey({ key: ec.publicKey, format: 'der', type: 'spki' });
    const sig = sign('sha256', rnd, { key: priv, dsaEncoding: 'ieee-p1363' });
    expect(verifyActiveAuth(key, rnd, sig)).toEqual({ ok: true, hash: 'sha256' });
    expect(verifyActiveAuth(key, rnd, sign('sha384', rnd, { key: priv, dsaEncoding: 'ieee-p1363' }), '0.4.0.127.0.7.1.1.4.1.4')).toEqual({ ok: true, hash: 'sha384' });
    expect(verifyActiveAuth(key, Buffer.alloc(8), sig)).toMatchObject({ ok: false });
    expect(verifyActiveAuth(key, rnd, sig, '1.2.3.4')).toMatchObject({ ok: false, why: /1\.2\.3\.4 is not an ECDSA algorithm/ });
  });

  it('malformed DG15 is a CardDataError naming DG15', () => {
    expect(dataError(() => parseDg15(tlv(0x6e, Buffer.from([0x30, 0])))).message).toMatch(/DG15.*tag 6F/);
    expect(dataError(() => parseDg15(tlv(0x6f, Buffer.from([0x30, 0x03, 0x02, 0x01, 0x00])))).message).toMatch(/DG15.*not a SubjectPublicKeyInfo/);
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

describe('Active Authentication for every key a DG15 may hold', () => {
  const rnd = Buffer.from('f173589974bf40c6', 'hex');
  const HASHES = ['sha1', 'sha224', 'sha256', 'sha384', 'sha512'] as const;
  const CURVES = ['prime256v1', 'secp384r1', 'secp521r1', 'brainpoolP256r1', 'brainpoolP384r1', 'brainpoolP512r1'] as const;
  const pair = (o: { rsa?: number; curve?: string }) => {
    const k = o.rsa ? generateKeyPairSync('rsa', { modulusLength: o.rsa, publicKeyEncoding: { type: 'spki', format: 'der' }, privateKeyEncoding: { type: 'pkcs8', format: 'der' } })
      : generateKeyPairSync('ec', { namedCurve: o.curve!, publicKeyEncoding: { type: 'spki', format: 'der' }, privateKeyEncoding: { type: 'pkcs8', format: 'der' } });
    return { priv: createPrivateKey({ key: k.privateKey, format: 'der', type: 'pkcs8' }), pub: parseDg15(buildDg15(k.publicKey)) as KeyObject, spki: k.publicKey };
  };
  const rsa9796 = (priv: KeyObject, k: number, hash: string, opts: { trailerId?: number; complement?: boolean } = {}) => {
    const trailer = hash === 'sha1' && opts.trailerId === undefined ? Buffer.from([0xbc]) : Buffer.from([opts.trailerId ?? TRAILER_ID[hash]!, 0xcc]);
    const h = createHash(hash).digest().length;
    const m1 = Buffer.alloc(k - 1 - h - trailer.length, 0x3c);
    let s = privateEncrypt({ key: priv, padding: constants.RSA_NO_PADDING }, Buffer.concat([Buffer.from([0x6a]), m1, createHash(hash).update(m1).update(rnd).digest(), trailer]));
    if (opts.complement) {
      const n = BigInt(`0x${Buffer.from(priv.export({ format: 'jwk' }).n!, 'base64url').toString('hex')}`);
      s = Buffer.from((n - BigInt(`0x${s.toString('hex')}`)).toString(16).padStart(k * 2, '0'), 'hex');
    }
    return s;
  };

  it('RSA-1024 and RSA-2048, ISO/IEC 9796-2 with SHA-1 (BC), SHA-1/224/256/384/512 (hh CC), s or n − s, RIPEMD-160 (31 CC); a wrong challenge fails; RIPEMD-128 and Whirlpool trailers are refused by name', () => {
    for (const bitsN of [1024, 2048]) {
      const { priv, pub } = pair({ rsa: bitsN });
      const k = bitsN / 8;
      for (const hash of HASHES) {
        for (const complement of [false, true]) {
          expect(verifyActiveAuth(pub, rnd, rsa9796(priv, k, hash, { complement }))).toEqual({ ok: true, hash });
        }
        expect(verifyActiveAuth(pub, Buffer.alloc(8), rsa9796(priv, k, hash))).toMatchObject({ ok: false, why: /does not match the challenge/ });
      }
      expect(verifyActiveAuth(pub, rnd, rsa9796(priv, k, 'sha1', { trailerId: 0x33 }))).toEqual({ ok: true, hash: 'sha1' });
      expect(verifyActiveAuth(pub, rnd, rsa9796(priv, k, 'ripemd160'))).toEqual({ ok: true, hash: 'ripemd160' });
      expect(verifyActiveAuth(pub, Buffer.alloc(8), rsa9796(priv, k, 'ripemd160'))).toMatchObject({ ok: false, why: /does not match the challenge/ });
      expect(verifyActiveAuth(pub, rnd, rsa9796(priv, k, 'sha1', { trailerId: 0x32 }))).toMatchObject({ ok: false, unsupported: true, why: /RIPEMD-128/ });
      expect(verifyActiveAuth(pub, rnd, rsa9796(priv, k, 'sha1', { trailerId: 0x37 }))).toMatchObject({ ok: false, unsupported: true, why: /Whirlpool/ });
      expect(verifyActiveAuth(pub, rnd, rsa9796(priv, k, 'sha1', { trailerId: 0x3f }))).toMatchObject({ ok: false, why: /unknown hash 3f/ });
      expect(verifyActiveAuth(pub, rnd, Buffer.alloc(k, 0xff))).toMatchObject({ ok: false, why: /not below the modulus/ });
    }
  });

  it('ECDSA on each standard curve with each hash (plain r‖s as TR-03111, DER accepted); the wrong hash or challenge fails; without a named hash each is tried', () => {
    for (const curve of CURVES) {
      const { priv, pub } = pair({ curve });
      for (const hash of HASHES) {
        const sig = sign(hash, rnd, { key: priv, dsaEncoding: 'ieee-p1363' });
        expect(sig.length).toBe(2 * AA_CURVES[curve]!.bytes);
        expect(verifyActiveAuth(pub, rnd, sig, ECDSA_PLAIN[hash])).toEqual({ ok: true, hash });
        expect(verifyActiveAuth(pub, rnd, sig)).toEqual({ ok: true, hash });
        expect(verifyActiveAuth(pub, rnd, sign(hash, rnd, { key: priv, dsaEncoding: 'der' }), ECDSA_PLAIN[hash])).toEqual({ ok: true, hash });
        expect(verifyActiveAuth(pub, Buffer.alloc(8), sig, ECDSA_PLAIN[hash])).toMatchObject({ ok: false, why: /does not verify/ });
      }
      const s256 = sign('sha256', rnd, { key: priv, dsaEncoding: 'ieee-p1363' });
      expect(verifyActiveAuth(pub, rnd, s256, ECDSA_PLAIN.sha384)).toMatchObject({ ok: false, why: /does not verify with SHA-384/ });
      expect(verifyActiveAuth(pub, rnd, s256.subarray(1), ECDSA_PLAIN.sha256)).toMatchObject({ ok: false, why: /bytes, not/ });
    }
    const { pub } = pair({ curve: 'prime256v1' });
    expect(verifyActiveAuth(pub, rnd, Buffer.alloc(64), '1.2.3.4')).toMatchObject({ ok: false, unsupported: true, why: /1\.2\.3\.4 is not an ECDSA algorithm/ });
  });

  it('DG15 keys this reader cannot verify are named as unsupported, malformed ones as CardDataError', () => {
    const ed = generateKeyPairSync('ed25519', { publicKeyEncoding: { type: 'spki', format: 'der' }, privateKeyEncoding: { type: 'pkcs8', format: 'der' } });
    expect(parseDg15(buildDg15(ed.publicKey))).toMatchObject({ unsupported: expect.stringMatching(/1\.3\.101\.112 is not one ICAO 9303-11 allows/) });
    const k1 = generateKeyPairSync('ec', { namedCurve: 'secp256k1', publicKeyEncoding: { type: 'spki', format: 'der' }, privateKeyEncoding: { type: 'pkcs8', format: 'der' } });
    expect(parseDg15(buildDg15(k1.publicKey))).toMatchObject({ unsupported: expect.stringMatching(/secp256k1/) });
    const unknownCurve = tlv(0x30, tlv(0x30, tlv(0x06, oidBytes('1.2.840.10045.2.1')), tlv(0x06, oidBytes('1.3.132.0.99'))), tlv(0x03, Buffer.from([0, 4, 1, 2])));
    expect(parseDg15(buildDg15(unknownCurve))).toMatchObject({ unsupported: expect.stringMatching(/1\.3\.132\.0\.99/) });
    for (const [b, re] of [
      [tlv(0x6f, tlv(0x30, tlv(0x30, tlv(0x06, oidBytes('1.2.840.113549.1.1.1'))), tlv(0x03, Buffer.from([0, 1, 2])))), /cannot be read/],
      [tlv(0x6f, tlv(0x04, Buffer.from([1]))), /not a SubjectPublicKeyInfo/],
      [tlv(0x6f, Buffer.from([0x30, 0x82, 0x01])), /./],
    ] as [Buffer, RegExp][]) {
      const e = dataError(() => parseDg15(b));
      expect(e).toBeInstanceOf(CardDataError);
      expect(e.message).toContain('DG15');
      expect(e.message).toMatch(re);
    }
  });

  it('the emulated chip signs with each key and hash: RSA-1024/2048 with each hash (s and n − s), ECDSA on each curve with each hash; a wrong signature is failed/aa-bad-signature', async () => {
    const pki = createTestPki();
    const profiles: ActiveAuthProfile[] = [
      ...([1024, 2048] as const).flatMap((b) => HASHES.map((hash, i) => ({ kind: 'rsa' as const, bits: b, hash, complement: i % 2 === 1 }))),
      ...CURVES.flatMap((curve) => HASHES.map((hash) => ({ kind: 'ecdsa' as const, curve, hash }))),
      { kind: 'ecdsa', curve: 'brainpoolP384r1', hash: 'sha384', withoutAaInfo: true },
    ];
    for (const aa of profiles) {
      const doc = await buildDocument({ face: false, pki, activeAuth: aa });
      const r = new SimulatedCardReader({ contents: doc, extendedLength: true });
      await r.open();
      try {
        const opts = { bac: bacInputFromMrz(doc.mrzLines.join('\n')), csca: cscaStoreFrom([doc.pki.csca.cert]) };
        const ok = await r.readDocument(opts);
        const label = aa.kind === 'rsa' ? `AA RSA-${aa.bits} ISO/IEC 9796-2` : `AA ECDSA ${AA_CURVES[aa.curve!]!.label}`;
        expect(ok.clone, JSON.stringify(aa)).toEqual({ verdict: 'active-authenticated', method: `${label} ${HASH_LABEL[aa.hash!]}` });
        r.card!.setFaults({ badAaSignature: true });
        const bad = await r.readDocument(opts);
        expect(bad.clone, JSON.stringify(aa)).toMatchObject({ verdict: 'failed', reasonCode: 'aa-bad-signature', method: label });
      } finally { await r.close(); }
    }
  }, 240_000);

  it('an ECDSA signature algorithm DG14 names but this reader does not implement is not-supported/unsupported-algorithm without asking the chip; an unsupported DG15 key likewise', async () => {
    const pki = createTestPki();
    const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1', publicKeyEncoding: { type: 'spki', format: 'der' }, privateKeyEncoding: { type: 'pkcs8', format: 'der' } });
    const ed = generateKeyPairSync('ed25519', { publicKeyEncoding: { type: 'spki', format: 'der' }, privateKeyEncoding: { type: 'pkcs8', format: 'der' } });
    for (const [dgs, re] of [
      [new Map([[14, buildDg14({ aaSignatureAlgorithm: '1.2.3.4.5' })], [15, buildDg15(ec.publicKey)]]), /1\.2\.3\.4\.5/],
      [new Map([[15, buildDg15(ed.publicKey)]]), /1\.3\.101\.112/],
    ] as [Map<number, Buffer>, RegExp][]) {
      const doc = await buildDocument({ face: false, pki, extraDataGroups: dgs });
      const r = new SimulatedCardReader({ contents: doc });
      await r.open();
      try {
        const res = await r.readDocument({ bac: bacInputFromMrz(doc.mrzLines.join('\n')), csca: cscaStoreFrom([doc.pki.csca.cert]) });
        expect(res.clone).toMatchObject({ verdict: 'not-supported', reasonCode: 'unsupported-algorithm' });
        expect(res.clone.reason).toMatch(re);
        expect(r.card!.aaRuns).toBe(0);
      } finally { await r.close(); }
    }
  }, 60_000);
});

describe('random corruption of DG14 and DG15 never crashes: a parse or a CardDataError naming the file', () => {
  it('1500 corrupted copies (flipped bytes, cut short, length bytes changed) of ECDH, DH and AA DG14s and RSA/EC DG15s', () => {
    const std = STANDARD_DOMAINS[0]! as DhDomain;
    const ec = generateKeyPairSync('ec', { namedCurve: 'brainpoolP256r1', publicKeyEncoding: { type: 'spki', format: 'der' }, privateKeyEncoding: { type: 'pkcs8', format: 'der' } });
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024, publicKeyEncoding: { type: 'spki', format: 'der' }, privateKeyEncoding: { type: 'pkcs8', format: 'der' } });
    const dg14s = [
      buildDg14({ publicKey: pub, parameterId: 13, cipher: 'AES-128', keyId: 1, aaSignatureAlgorithm: ECDSA_PLAIN.sha256 }),
      buildDg14({ publicKey: new PaceGroup(std).publicKey(randomScalar(std)), cipher: '3DES', dh: { domain: std, form: 'x9.42' } }),
      buildDg14({ publicKey: new PaceGroup(std).publicKey(randomScalar(std)), dh: { domain: std, form: 'standardized' } }),
    ];
    const dg15s = [buildDg15(ec.publicKey), buildDg15(rsa.publicKey)];
    let seed = 7;
    const rand = (n: number) => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n; };
    let errors = 0;
    for (let i = 0; i < 1500; i++) {
      const isDg14 = i % 2 === 0;
      const src = isDg14 ? dg14s[rand(dg14s.length)]! : dg15s[rand(dg15s.length)]!;
      let b = Buffer.from(src);
      const mode = rand(3);
      if (mode === 0) for (let k = 0; k <= rand(4); k++) b[rand(b.length)] = rand(256);
      else if (mode === 1) b = b.subarray(0, rand(b.length));
      else { const at = rand(Math.min(b.length, 40)); b[at] = b[at]! ^ (1 << rand(8)); }
      try {
        if (isDg14) { const d = parseDg14(b); chooseChipAuth(d); } else parseDg15(b);
      } catch (e) {
        expect(e, `case ${i}`).toBeInstanceOf(CardDataError);
        expect((e as Error).message).toContain(isDg14 ? 'DG14' : 'DG15');
        errors++;
      }
    }
    expect(errors).toBeGreaterThan(500);
  });
});
