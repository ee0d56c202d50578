/**
 * ICAO 9303-11 Appendix G worked examples (PACE with Generic Mapping) as unit
 * tests: every intermediate value of G.1 (ECDH, brainpoolP256r1, AES-128) and
 * G.2 (DH, RFC 5114 1024-bit group, AES-128), plus AES secure messaging under the
 * G.1 session keys.
 */
import { describe, expect, it } from 'vitest';
import { mrzInformation } from '../../drivers/card/mrz';
import {
  authToken, buildCardAccess, choosePace, decryptNonce, encryptNonce, kdf, paceAlgorithm, paceOid, parseCardAccess, PaceGroup, passwordBytes,
  publicKeyDataObject, sessionKeys, STANDARD_DOMAINS,
} from '../../drivers/card/pace';
import { SecureMessaging } from '../../drivers/card/sm';
import { CardDataError } from '../../drivers/card/tlv';

const H = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const big = (s: string) => BigInt(`0x${s.replace(/\s+/g, '')}`);

// Appendix G: MRZ document number T22000129, born 640812, expires 101031.
const MRZ = { documentNumber: 'T22000129', birthDate: '640812', expiryDate: '101031' };
const K = '7E2D2A41C74EA0B38CD36F863939BFA8E9032AAD';
const K_PI = '89DED1B26624EC1E634C1989302849DD';

describe('ICAO 9303-11 Appendix G.1: PACE ECDH Generic Mapping (brainpoolP256r1, AES-128)', () => {
  const alg = paceAlgorithm('0.4.0.127.0.7.2.2.4.2.2')!;
  const v = {
    z: '95A3A016522EE98D01E76CB6B98B42C3',
    s: '3F00C4D39D153F2B2A214A078D899B22',
    skMapIfd: '7F4EF07B9EA82FD78AD689B38D0BC78CF21F249D953BC46F4C6E19259C010F99',
    pkMapIfd: '047ACF3EFC982EC45565A4B155129EFBC74650DCBFA6362D896FC70262E0C2CC5E544552DCB6725218799115B55C9BAA6D9F6BC3A9618E70C25AF71777A9C4922D',
    skMapIc: '498FF49756F2DC1587840041839A85982BE7761D14715FB091EFA7BCE9058560',
    pkMapIc: '04824FBA91C9CBE26BEF53A0EBE7342A3BF178CEA9F45DE0B70AA601651FBA3F5730D8C879AAA9C9F73991E61B58F4D52EB87A0A0C709A49DC63719363CCD13C54',
    h: '0460332EF2450B5D247EF6D3868397D398852ED6E8CAF6FFEEF6BF85CA57057FD50840CA7415BAF3E43BD414D35AA4608B93A2CAF3A4E3EA4E82C9C13D03EB7181',
    gMapped: '048CED63C91426D4F0EB1435E7CB1D74A46723A0AF21C89634F65A9AE87A9265E28C879506743F8611AC33645C5B985C80B5F09A0B83407C1B6A4D857AE76FE522',
    skDhIfd: 'A73FB703AC1436A18E0CFA5ABB3F7BEC7A070E7A6788486BEE230C4A22762595',
    pkDhIfd: '042DB7A64C0355044EC9DF190514C625CBA2CEA48754887122F3A5EF0D5EDD301C3556F3B3B186DF10B857B58F6A7EB80F20BA5DC7BE1D43D9BF850149FBB36462',
    pkDhIc: '049E880F842905B8B3181F7AF7CAA9F0EFB743847F44A306D2D28C1D9EC65DF6DB7764B22277A2EDDC3C265A9F018F9CB852E111B768B326904B59A0193776F094',
    shared: '28768D20701247DAE81804C9E780EDE582A9996DB4A315020B2733197DB84925',
    ksEnc: 'F5F0E35C0D7161EE6724EE513A0D9A7F',
    ksMac: 'FE251C7858B356B24514B3BD5F4297D1',
    tIfd: 'C2B0BD78D94BA866',
    tIc: '3ABB9674BCE93C08',
  };

  it('password key K = f(π) and K_π = KDF(K, 3); the nonce decrypts', () => {
    const k = passwordBytes({ kind: 'MRZ', mrzInformation: mrzInformation(MRZ) });
    expect(k.toString('hex').toUpperCase()).toBe(K);
    const kPi = kdf(k, 3, alg.cipher);
    expect(kPi.toString('hex').toUpperCase()).toBe(K_PI);
    expect(decryptNonce(kPi, H(v.z), 'AES-128').toString('hex').toUpperCase()).toBe(v.s);
    expect(encryptNonce(kPi, H(v.s), 'AES-128').toString('hex').toUpperCase()).toBe(v.z);
  });

  it('mapping: PK_Map, H and the mapped generator from both sides; key agreement, session keys and tokens', () => {
    const dom = STANDARD_DOMAINS[13]!;
    const terminal = new PaceGroup(dom), chip = new PaceGroup(dom);
    expect(terminal.publicKey(big(v.skMapIfd)).toString('hex').toUpperCase()).toBe(v.pkMapIfd);
    expect(chip.publicKey(big(v.skMapIc)).toString('hex').toUpperCase()).toBe(v.pkMapIc);
    expect(terminal.mapGeneric(H(v.s), big(v.skMapIfd), H(v.pkMapIc)).toString('hex').toUpperCase()).toBe(v.h);
    expect(chip.mapGeneric(H(v.s), big(v.skMapIc), H(v.pkMapIfd)).toString('hex').toUpperCase()).toBe(v.h);
    expect(terminal.generator().toString('hex').toUpperCase()).toBe(v.gMapped);
    expect(chip.generator().toString('hex').toUpperCase()).toBe(v.gMapped);
    expect(terminal.publicKey(big(v.skDhIfd)).toString('hex').toUpperCase()).toBe(v.pkDhIfd);
    const shared = terminal.agree(big(v.skDhIfd), H(v.pkDhIc));
    expect(shared.toString('hex').toUpperCase()).toBe(v.shared);
    const keys = sessionKeys(shared, alg.cipher);
    expect(keys.ksEnc.toString('hex').toUpperCase()).toBe(v.ksEnc);
    expect(keys.ksMac.toString('hex').toUpperCase()).toBe(v.ksMac);
    expect(publicKeyDataObject(alg, H(v.pkDhIc)).toString('hex').toUpperCase()).toBe(`7F494F060A04007F00070202040202864104${v.pkDhIc.slice(2)}`);
    expect(authToken(alg, keys.ksMac, H(v.pkDhIc)).toString('hex').toUpperCase()).toBe(v.tIfd);
    expect(authToken(alg, keys.ksMac, H(v.pkDhIfd)).toString('hex').toUpperCase()).toBe(v.tIc);
  });

  it('AES secure messaging under the G.1 keys (SSC 0): SELECT of the eMRTD application', () => {
    const sm = new SecureMessaging({ ...sessionKeys(H(v.shared), 'AES-128') });
    const wrapped = sm.wrap({ cla: 0, ins: 0xa4, p1: 4, p2: 0x0c, data: H('A0000002471001') });
    expect(wrapped.toString('hex').toUpperCase()).toBe('0CA4040C1D871101752F676B09FAC86A87D632749A49C7CC8E08C18BA1FCE707BD9F00');
    expect(sm.unwrap(H('990290008E08BEA7B381C494A0799000'))).toEqual({ data: Buffer.alloc(0), sw: 0x9000 });
    expect(sm.maxShortResponse).toBe(223);
  });

  it('refuses a chip mapping key that is not on the curve', () => {
    const g = new PaceGroup(STANDARD_DOMAINS[13]!);
    const bad = H(v.pkMapIc); bad[bad.length - 1] ^= 1;
    expect(() => g.checkPublic(bad, 'the chip mapping key')).toThrow(CardDataError);
    expect(() => g.checkPublic(H('0401'), 'the chip mapping key')).toThrow(/not a point on brainpoolP256r1/);
  });
});

describe('ICAO 9303-11 Appendix G.2: PACE DH Generic Mapping (1024-bit MODP group, AES-128)', () => {
  const alg = paceAlgorithm('0.4.0.127.0.7.2.2.4.1.2')!;
  const v = {
    z: '854D8DF5827FA6852D1A4FA701CDDDCA',
    s: 'FA5B7E3E49753A0DB9178B7B9BD898C8',
    skMapIfd: '5265030F751F4AD18B08AC565FC7AC952E41618D',
    pkMapIfd: `23FB3749EA030D2A25B278D2A562047ADE3F01B74F17A15402CB7352CA7D2B3EB71C343DB13D1DEBCE9A3666DBCFC920B49174A602CB47965CAA73DC702489A4
      4D41DB914DE9613DC5E98C94160551C0DF86274B9359BC0490D01B03AD54022DCB4F57FAD6322497D7A1E28D46710F461AFE710FBBBC5F8BA166F4311975EC6C`,
    pkMapIc: `78879F57225AA8080D52ED0FC890A4B25336F699AA89A2D3A189654AF70729E623EA5738B26381E4DA19E004706FACE7B235C2DBF2F38748312F3C98C2DD4882
      A41947B324AA1259AC22579DB93F7085655AF30889DBB845D9E6783FE42C9F2449400306254C8AE8EE9DD812A804C0B66E8CAFC14F84D8258950A91B44126EE6`,
    gMapped: `7C9CBFE98F9FBDDA8D143506FA7D9306F4CB17E3C71707AFF5E1C1A12370249684D64EE37AF44B8DBD9D45BF6023919CBAA027AB97ACC771666C8E98FF483301
      BFA4872DEDE9034EDFACB70814166B7F360676829B826BEA57291B5AD69FBC84EF1E779032A305803F74341793E869742D401325B37EE8565FFCDEE618342DC5`,
    skDhIfd: '89CCD99B0E8D3B1F11E1296DCA68EC53411CF2CA',
    pkDhIfd: `907D89E2D425A178AA81AF4A7774EC8E388C115CAE67031E85EECE520BD911551B9AE4D04369F29A02626C86FBC6747CC7BC352645B6161A2A42D44EDA80A08F
      A8D61B76D3A154AD8A5A51786B0BC07147057871A922212C5F67F43173172236B7747D1671E6D692A3C7D40A0C3C5CE397545D015C175EB5130551EDBC2EE5D4`,
    pkDhIc: `075693D9AE941877573E634B6E644F8E60AF17A0076B8B123D9201074D36152BD8B3A213F53820C42ADC79AB5D0AEEC3AEFB91394DA476BD97B9B14D0A65C1FC
      71A0E019CB08AF55E1F729005FBA7E3FA5DC41899238A250767A6D46DB974064386CD456743585F8E5D90CC8B4004B1F6D866C79CE0584E49687FF61BC29AEA1`,
    shared: `6BABC7B3A72BCD7EA385E4C62DB2625BD8613B24149E146A629311C4CA6698E38B834B6A9E9CD7184BA8834AFF5043D436950C4C1E7832367C10CB8C314D40E5
      990B0DF7013E64B4549E2270923D06F08CFF6BD3E977DDE6ABE4C31D55C0FA2E465E553E77BDF75E3193D3834FC26E8EB1EE2FA1E4FC97C18C3F6CFFFE2607FD`,
    ksEnc: '2F7F46ADCC9E7E521B45D192FAFA9126',
    ksMac: '805A1D27D45A5116F73C54469462B7D8',
    tIfd: 'B46DD9BD4D98381F',
    tIc: '917F37B5C0E6D8D1',
  };
  const hex = (s: string) => s.replace(/\s+/g, '');

  it('nonce, mapping, mapped generator, key agreement, session keys and tokens', () => {
    const kPi = kdf(passwordBytes({ kind: 'MRZ', mrzInformation: mrzInformation(MRZ) }), 3, alg.cipher);
    expect(decryptNonce(kPi, H(v.z), 'AES-128').toString('hex').toUpperCase()).toBe(v.s);
    const g = new PaceGroup(STANDARD_DOMAINS[0]!);
    expect(g.publicKey(big(v.skMapIfd)).toString('hex').toUpperCase()).toBe(hex(v.pkMapIfd));
    g.checkPublic(H(v.pkMapIc), 'the chip mapping key');
    g.mapGeneric(H(v.s), big(v.skMapIfd), H(v.pkMapIc));
    expect(g.generator().toString('hex').toUpperCase()).toBe(hex(v.gMapped));
    expect(g.publicKey(big(v.skDhIfd)).toString('hex').toUpperCase()).toBe(hex(v.pkDhIfd));
    const shared = g.agree(big(v.skDhIfd), H(v.pkDhIc));
    expect(shared.toString('hex').toUpperCase()).toBe(hex(v.shared));
    const keys = sessionKeys(shared, alg.cipher);
    expect(keys.ksEnc.toString('hex').toUpperCase()).toBe(v.ksEnc);
    expect(keys.ksMac.toString('hex').toUpperCase()).toBe(v.ksMac);
    expect(authToken(alg, keys.ksMac, H(v.pkDhIc)).toString('hex').toUpperCase()).toBe(v.tIfd);
    expect(authToken(alg, keys.ksMac, H(v.pkDhIfd)).toString('hex').toUpperCase()).toBe(v.tIc);
  });

  it('refuses DH values outside the order-q subgroup', () => {
    const g = new PaceGroup(STANDARD_DOMAINS[0]!);
    const one = Buffer.alloc(128); one[127] = 1;
    const two = Buffer.alloc(128); two[127] = 2;
    expect(() => g.checkPublic(one, 'x')).toThrow(CardDataError);
    expect(() => g.checkPublic(two, 'x')).toThrow(/order-q subgroup/);
  });
});

describe('EF.CardAccess', () => {
  it('parses PACEInfos (the Appendix G example), keeps other infos, chooses a known domain, IM before GM', () => {
    const ca = parseCardAccess(H('31143012060A04007F0007020204020202010202010D'));
    expect(ca.pace).toEqual([{ algorithm: { oid: '0.4.0.127.0.7.2.2.4.2.2', agreement: 'ECDH', mapping: 'GM', cipher: 'AES-128' }, version: 2, parameterId: 13 }]);
    expect(choosePace(ca.pace)!.domain.name).toBe('brainpoolP256r1');
    const many = parseCardAccess(buildCardAccess([
      { oid: paceOid('DH', 'GM', '3DES'), parameterId: 0 }, { oid: paceOid('ECDH', 'IM', 'AES-256'), parameterId: 13 },
      { oid: paceOid('ECDH', 'GM', 'AES-256'), parameterId: 17 }, { oid: '0.4.0.127.0.7.2.2.3.2.4', version: 1 },
    ]));
    expect(many.pace.length).toBe(3);
    expect(many.other).toEqual(['0.4.0.127.0.7.2.2.3.2.4']);
    expect(choosePace(many.pace)!.info.algorithm).toMatchObject({ agreement: 'ECDH', mapping: 'IM', cipher: 'AES-256' });
    expect(choosePace(many.pace.filter((i) => i.algorithm.mapping === 'GM'))!.info.algorithm).toMatchObject({ agreement: 'ECDH', mapping: 'GM', cipher: 'AES-256' });
    // a domain this reader lacks (id 14, brainpoolP320r1) is not chosen
    expect(choosePace(parseCardAccess(buildCardAccess([{ oid: paceOid('ECDH', 'GM', 'AES-128'), parameterId: 14 }])).pace)).toBeUndefined();
  });

  it('malformed EF.CardAccess is a CardDataError naming the file, never a crash', () => {
    for (const b of [H(''), H('30020601'), H('3103020101'), H('31053003020101'), H('310E300C060A04007F00070202040202'), H('3111300F060A04007F0007020204020202810D')]) {
      expect(() => parseCardAccess(b)).toThrow(/EF\.CardAccess/);
    }
  });
});
