/**
 * ICAO 9303-11 Appendix H (PACE Integrated Mapping: H.1 ECDH on brainpoolP256r1,
 * H.2 DH on the RFC 5114 1024-bit group, both AES-128) and Appendix I (PACE Chip
 * Authentication Mapping, brainpoolP256r1, AES-128) as unit tests: every
 * intermediate value the examples publish. Plus the algebra of the point
 * encoding on every curve this reader implements and the bad-input cases.
 */
import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import {
  authToken, camDecrypt, camEncrypt, camVerify, decryptNonce, encryptNonce, imNonceLength, imPointEncode, imPseudoRandom, imRp, kdf, nonceLength,
  paceAlgorithm, paceOid, PaceGroup, passwordBytes, publicKeyDataObject, randomScalar, sessionKeys, STANDARD_DOMAINS, type DomainParameters,
} from '../../drivers/card/pace';
import { CardDataError } from '../../drivers/card/tlv';

const H = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const hex = (b: Buffer) => b.toString('hex').toUpperCase();
const big = (s: string) => BigInt(`0x${s.replace(/\s+/g, '')}`);
const ec = (id: number) => STANDARD_DOMAINS[id] as Extract<DomainParameters, { kind: 'ECDH' }>;
const dh = STANDARD_DOMAINS[0] as Extract<DomainParameters, { kind: 'DH' }>;

describe('ICAO 9303-11 Appendix H.1: PACE ECDH Integrated Mapping (brainpoolP256r1, AES-128)', () => {
  const alg = paceAlgorithm(paceOid('ECDH', 'IM', 'AES-128'))!;
  const v = {
    kPi: '591468CDA83D65219CCCB8560233600F',
    s: '2923BE84E16CD6AE529049F1F1BBE9EB',
    z: '143DC40C08C8E891FBED7DEDB92B64AD',
    t: '5DD4CBFC96F5453B130D890A1CDBAE32',
    r: 'E4447E2DFB3586BAC05DDB00156B57FB B2179A3949294C97254189800C517BAA 8DA0FF397ED8C445D3E421E4FEB57322',
    rp: 'A2F8FF2DF50E52C6599F386ADCB595D229F6A167ADE2BE5F2C3296ADD5B7430E',
    gx: '8E82D31559ED0FDE92A4D0498ADD3C23BABA94FB77691E31E90AEA77FB17D427',
    gy: '4C1AE14BD0C3DBAC0C871B7F3608169364437CA30AC243A089D3F266C1E60FAD',
    skIc: '107CF58696EF6155053340FD633392BA81909DF7B9706F226F32086C7AFF974A',
    pkIc: '0467F78E5F7F7686082B293E8D087E056916D0F74BC01A5F8957D0DE45691E51E8932B69A962B52A0985AD2C0A271EE6A13A8ADDDCD1A3A994B9DED257F4D22753',
    skIfd: 'A73FB703AC1436A18E0CFA5ABB3F7BEC7A070E7A6788486BEE230C4A22762595',
    pkIfd: '0489CBA23FFE96AA18D824627C3E934E54A9FD0B87A95D1471DC1C0ABFDCD640D46755DE9B7B778280B6BEBD57439ADFEB0E21FD4ED6DF42578C13418A59B34C37',
    k: '4F150FDE1D4F0E38E95017B891BAE17133A0DF45B0D3E18B60BA7BEAFDC2C713',
    ksEnc: '0D3FEB33251A6370893D62AE8DAAF51B',
    ksMac: 'B01E89E3D9E8719E586B50B4A7506E0B',
    inTic: '7F494F060A04007F000702020404028641 0489CBA23FFE96AA18D824627C3E934E54A9FD0B87A95D1471DC1C0ABFDCD640D46755DE9B7B778280B6BEBD57439ADFEB0E21FD4ED6DF42578C13418A59B34C37',
    tIc: '75D4D96E8D5B0308',
    tIfd: '450F02B86F6A0909',
  };

  it('the nonce s decrypts from z with K_π; s and t have the lengths §4.4.3.3 gives', () => {
    expect(nonceLength('AES-128', 'IM')).toBe(16);
    expect(imNonceLength('AES-128')).toBe(16);
    expect(hex(decryptNonce(H(v.kPi), H(v.z), 'AES-128', 'IM'))).toBe(v.s);
    expect(hex(encryptNonce(H(v.kPi), H(v.s), 'AES-128'))).toBe(v.z);
  });

  it('R(s,t), R_p(s,t) and the mapped generator f_G(R_p(s,t))', () => {
    const p = ec(13).curve.Point.Fp.ORDER;
    expect(hex(imPseudoRandom(H(v.s), H(v.t), p, 'AES-128'))).toBe(v.r.replace(/\s+/g, ''));
    expect(imRp(H(v.s), H(v.t), p, 'AES-128')).toBe(big(v.rp));
    const G = imPointEncode(ec(13).curve, big(v.rp)).toAffine();
    expect(G.x).toBe(big(v.gx));
    expect(G.y).toBe(big(v.gy));
    const g = new PaceGroup(ec(13));
    expect(hex(g.mapIntegrated(H(v.s), H(v.t), 'AES-128'))).toBe(`04${v.gx}${v.gy}`);
  });

  it('key agreement on the mapped generator, session keys and both tokens', () => {
    const chip = new PaceGroup(ec(13)), terminal = new PaceGroup(ec(13));
    chip.mapIntegrated(H(v.s), H(v.t), 'AES-128');
    terminal.mapIntegrated(H(v.s), H(v.t), 'AES-128');
    expect(hex(chip.publicKey(big(v.skIc)))).toBe(v.pkIc);
    expect(hex(terminal.publicKey(big(v.skIfd)))).toBe(v.pkIfd);
    expect(hex(chip.agree(big(v.skIc), H(v.pkIfd)))).toBe(v.k);
    expect(hex(terminal.agree(big(v.skIfd), H(v.pkIc)))).toBe(v.k);
    const keys = sessionKeys(H(v.k), 'AES-128');
    expect(hex(keys.ksEnc)).toBe(v.ksEnc);
    expect(hex(keys.ksMac)).toBe(v.ksMac);
    expect(hex(publicKeyDataObject(alg, H(v.pkIfd)))).toBe(v.inTic.replace(/\s+/g, ''));
    expect(hex(authToken(alg, keys.ksMac, H(v.pkIfd)))).toBe(v.tIc);
    expect(hex(authToken(alg, keys.ksMac, H(v.pkIc)))).toBe(v.tIfd);
  });
});

describe('ICAO 9303-11 Appendix H.2: PACE DH Integrated Mapping (1024-bit MODP group, AES-128)', () => {
  const alg = paceAlgorithm(paceOid('DH', 'IM', 'AES-128'))!;
  const v = {
    kPi: '591468CDA83D65219CCCB8560233600F',
    s: 'FA5B7E3E49753A0DB9178B7B9BD898C8',
    z: '9ABB8864CA0FF1551E620D1EF4E13510',
    t: 'B3A6DB3C870C3E99245E0D1C06B747DE',
    r: `EAB98D13E09052952AA729907C3C946184DEA0FE74AD2B3AF506F0A83018459C38099CD1F7FF4EA0A078DB1FAC1365505E3DC85500EF95E20B4EEF2E88489233
        BEE0546B472F994B618D168702406791DEEF3CB4810932EC278F3533FDB860EB4835C36FA4F1BF3FA0B828A718C96BDE88FBA38A3E6C35AAA10959251EB5FC71
        0FC187258995944C0F926E249373F485`,
    rp: `A0C7C50C002061A51CC87D254EF38068607417B6EE1B36473CFB800D2D2E5FA2B6980F01105D24FAB22ACD1BFA5C8A4C093ECDFAFE6D7125D42A843E33860383
         5CF19AFAFF75EFE21DC5F6AA1F9AE46C25087E7368166FB08C1E4627AFED7D93570417B790FF7F747E57F432B04E1236819E0DFEF5B6E77CA4999925328182D2`,
    g: `1D7D767F11E333BCD6DBAEF40E799E7A926B96973550656FF3C830726D118D61C276CDCC61D475CF03A98E0C0E79CAEBA5BE25578BD4551D0B10903236F0B0F9
        76852FA78EEA14EA0ACA87D1E91F688FE0DFF897BBE35A472621D343564B262F34223AE8FC59B664BFEDFA2BFE7516CA5510A6BBB633D517EC25D4E0BBAA16C2`,
    skIc: `020F018C7284B047FA7721A337EFB7ACB1440BB30C5252BD41C97C30C994BB78E9F0C5B32744D84017D21FFA6878396A6469CA283EF5C000DAF7D261A39AB886
           0ED4610AB5343390897AAB5A7787E4FAEFA0649C6A94FDF82D991E8E3FC332F5142729E7040A3F7D5A4D3CD75CBEE1F043C1CAD2DD484FEB4ED22B597D36688E`,
    pkIc: `928D9A0F9DBA450F13FC859C6F290D1D36E42431138A4378500BEB4E0401854CFF111F71CB6DC1D0335807A11388CC8EAA87B07907AAD9FBA6B169AF6D8C26AF
           8DDDC39ADC3AD2E3FF882B84D23E9768E95A80E4746FB07A9767679FE92133B4D379935C771BD7FBED6C7BB4B1708B275EA75679524CDC9C6A91370CC662A2F3`,
    skIfd: `4BD0E54740F9A028E6A515BFDAF967848C4F5F5FFF65AA0915947FFD1A0DF2FA6981271BC905F3551457B7E03AC3B8066DE4AA406C1171FB43DD939C4BA16175
            103BA3DEE16419AA248118F90CC36A3D6F4C373652E0C3CCE7F0F1D0C5425B3600F0F0D6A67F004C8BBA33F2B4733C7252445C1DFC4F1107203F71D2EFB28161`,
    pkIfd: `0F0CC62945A8029251FB7EF3C094E12EC68E4EF07F27CB9D9CD04C5C4250FAE0E4F8A951557E929AEB48E5C6DD47F2F5CD7C351A9BD2CD722C07EDE166770F08
            FFCB370262CF308DD7B07F2E0DA9CAAA1492344C852906919538C98A4BA4187E76CE9D87832386D319CE2E043C3343AEAE6EDBA1A9894DC5094D22F7FE1351D5`,
    k: `419410D6C0A17A4C07C54872CE1CBCEB0A2705C1A434C8A89A4CFE41F1D78124CA7EC52BDE7615E5345E48AB1ABB6E7D1D59A57F3174084D3CA4570397C1F622
        28BDFDB2DA191EA2239E2C060DBE3BBC23C2FCD0AF12E0F9E0B99FCF91FF1959011D5798B2FCBC1F14FCC24E441F4C8F9B08D977E9498560E63E7FFAB3134EA7`,
    ksEnc: '01AFC10CF87BE36D8179E87370171F07',
    ksMac: '23F0FBD05FD6C7B8B88F4C8309669061',
    tIc: 'C2F04230187E1525',
    tIfd: '55D61977CBF5307E',
  };
  const c = (s: string) => s.replace(/\s+/g, '');

  it('z, R(s,t), R_p(s,t) and the mapped generator g\' = R_p^((p−1)/q)', () => {
    expect(hex(decryptNonce(H(v.kPi), H(v.z), 'AES-128', 'IM'))).toBe(v.s);
    expect(hex(imPseudoRandom(H(v.s), H(v.t), dh.p, 'AES-128'))).toBe(c(v.r));
    expect(imRp(H(v.s), H(v.t), dh.p, 'AES-128')).toBe(big(v.rp));
    expect(hex(new PaceGroup(dh).mapIntegrated(H(v.s), H(v.t), 'AES-128'))).toBe(c(v.g));
  });

  it('key agreement, session keys and tokens', () => {
    const chip = new PaceGroup(dh), terminal = new PaceGroup(dh);
    chip.mapIntegrated(H(v.s), H(v.t), 'AES-128');
    terminal.mapIntegrated(H(v.s), H(v.t), 'AES-128');
    expect(hex(chip.publicKey(big(v.skIc)))).toBe(c(v.pkIc));
    expect(hex(terminal.publicKey(big(v.skIfd)))).toBe(c(v.pkIfd));
    chip.checkPublic(H(v.pkIfd), 'terminal key');
    expect(hex(chip.agree(big(v.skIc), H(v.pkIfd)))).toBe(c(v.k));
    expect(hex(terminal.agree(big(v.skIfd), H(v.pkIc)))).toBe(c(v.k));
    const keys = sessionKeys(H(v.k), 'AES-128');
    expect(hex(keys.ksEnc)).toBe(v.ksEnc);
    expect(hex(keys.ksMac)).toBe(v.ksMac);
    expect(hex(authToken(alg, keys.ksMac, H(v.pkIfd)))).toBe(v.tIc);
    expect(hex(authToken(alg, keys.ksMac, H(v.pkIc)))).toBe(v.tIfd);
  });
});

describe('ICAO 9303-11 Appendix I: PACE Chip Authentication Mapping (brainpoolP256r1, AES-128)', () => {
  const alg = paceAlgorithm('0.4.0.127.0.7.2.2.4.6.2')!;
  const v = {
    k: '894D03F148C6265E89845B218856EA34D00EF8E8',
    kPi: '4E6F6FBF7BE748B932C7B74161BBA9DF',
    s: '658B860BC94DF6F044FCE6D5C82CF8E5',
    z: 'CB60E8E0D85B76A9BD304747C2AD42E2',
    skMapIfd: '5D8BB87BD74D985A4B7D4325B9F7B976FE83512277340079 8914AA22738135CC',
    pkMapIfd: '047F1D410ADB7DDB3B84BF1030800981A9105D7457B4A3ADE002384F3086C67EDE1AB889104A27DB6D842B019020FBF3CEACB0DC627F7BDCAC29969E19D0E553C1',
    skMapIc: '9E56A6B59C95D06ECE5CD10F983BB2F4F1943528E577F23881D89D8C3BBEE0AA',
    pkMapIc: '04A234236AA9B9621E8EFB73B5245C0E09D2576E5277183C1208BDD55280CAE8B304F365713A356E65A451E165ECC9AC0AC46E3771342C8FE5AEDD092685338E23',
    h: '042C1DCC1773346492C6636A36EE4B965E292E9AAE7EE37736EF58B9D0A043F348403A8CF33CA7DC0D9DF61D0889CE24424FF97C1AAD48A5CA2A554B071EF7638D',
    g: '0489F0B5EABF3BE293C75903A3986131925C9F5B515CA95AF485DC7E886F03245D44BEFB2DD3A0DBD71CB5E618971CF4747F12B79E548379A40E45963BAAF3E829',
    skIfd: '76ECFDAA9841C323A3F5FC5E88B88DB3EFF7E35EBF57A7E6946CB630006C2120',
    pkIfd: '04446C934084D9DAB863944F219520076C29EE3F7AE6722B11FF319EC1C7728F955483400BFF60BF0C5929270009277DC2A515E12575010AD9BA916CF1BF86FEFC',
    skIc: 'CD626EF3C256E235FE8912CAC28279E626008EDA6B3A05C4CF862A3BDAB79E78',
    pkIc: '0402AD566F3C6EC7F9324509AD50A51FA52030782A4968FCFEDF737DAEA993333111C3B9B4C2287789BD137E7F8AA882E2A3C633CCD6ECC2C63C57AD401A09C2E1',
    shared: '67950559D0C06B4D4B86972D14460837461087F8419FDBC36AAF6CEAAC462832',
    ksEnc: '0A9DA4DB03BDDE39FC5202BC44B2E89E',
    ksMac: '4B1C06491ED5140CA2B537D344C6C0B1',
    tIfd: 'E86BD06018A1CD3B',
    tIc: '8596CF055C67C1A3',
    aIc: '1EEA964DAAE372AC990E3EFDE6333353BFC89A6704D93DA8798CF77F5B7A54BD10CBA372B42BE0B9B5F28AA8DE2F4F92',
    caIc: '85DC3FA93D0952BFA82F5FD189EE75BD82F11D1F0B8ED4BF5319AC9B53C426B3',
    pkCa: '041872709494399E7470A6431BE25E83EEE24FEA568C2ED28DB48E05DB3A610DC884D256A40E35EFCB59BF6753D3A489D28C7A4D973C2DA138A6E7A4A08F68E16F',
  };

  it('K, K_π and the nonce (MRZ C11T002JM4 / 960812 / 231031)', () => {
    const k = passwordBytes({ kind: 'MRZ', mrzInformation: 'C11T002JM4' + '9608122' + '2310314' });
    expect(hex(k)).toBe(v.k);
    const kPi = kdf(k, 3, 'AES-128');
    expect(hex(kPi)).toBe(v.kPi);
    expect(hex(decryptNonce(kPi, H(v.z), 'AES-128', 'CAM'))).toBe(v.s);
  });

  it('the mapping is the Generic one: H and Ĝ; key agreement, session keys, tokens', () => {
    const d = ec(13);
    const terminal = new PaceGroup(d), chip = new PaceGroup(d);
    expect(hex(terminal.publicKey(big(v.skMapIfd)))).toBe(v.pkMapIfd);
    expect(hex(chip.publicKey(big(v.skMapIc)))).toBe(v.pkMapIc);
    expect(hex(terminal.mapGeneric(H(v.s), big(v.skMapIfd), H(v.pkMapIc)))).toBe(v.h);
    chip.mapGeneric(H(v.s), big(v.skMapIc), H(v.pkMapIfd));
    expect(hex(terminal.generator())).toBe(v.g);
    expect(hex(chip.generator())).toBe(v.g);
    expect(hex(terminal.publicKey(big(v.skIfd)))).toBe(v.pkIfd);
    // The example's SK_IC (CD62…) is larger than the group order: the same point as SK_IC mod n.
    expect(hex(chip.publicKey(big(v.skIc) % d.curve.Point.Fn.ORDER))).toBe(v.pkIc);
    expect(hex(terminal.agree(big(v.skIfd), H(v.pkIc)))).toBe(v.shared);
    expect(hex(chip.agree(big(v.skIc) % d.curve.Point.Fn.ORDER, H(v.pkIfd)))).toBe(v.shared);
    const keys = sessionKeys(H(v.shared), 'AES-128');
    expect(hex(keys.ksEnc)).toBe(v.ksEnc);
    expect(hex(keys.ksMac)).toBe(v.ksMac);
    expect(hex(authToken(alg, keys.ksMac, H(v.pkIc)))).toBe(v.tIfd);
    expect(hex(authToken(alg, keys.ksMac, H(v.pkIfd)))).toBe(v.tIc);
  });

  it('A_IC decrypts to CA_IC, and CA_IC · PK_IC = PK_Map,IC; a wrong CA key or altered A_IC does not verify', () => {
    const d = ec(13);
    const ca = camDecrypt(d, H(v.ksEnc), H(v.aIc));
    expect(ca).toBe(big(v.caIc));
    expect(camVerify(d, ca, H(v.pkCa), H(v.pkMapIc))).toBe(true);
    expect(camVerify(d, ca, H(v.pkIc), H(v.pkMapIc))).toBe(false);
    const bad = H(v.aIc);
    bad[20] ^= 1;
    let ok: boolean;
    try { ok = camVerify(d, camDecrypt(d, H(v.ksEnc), bad), H(v.pkCa), H(v.pkMapIc)); } catch (e) { expect(e).toBeInstanceOf(CardDataError); ok = false; }
    expect(ok).toBe(false);
  });

  it('the chip side: A_IC from SK_IC and SK_Map,IC round-trips through the terminal check', () => {
    const d = ec(13);
    const skCa = randomScalar(d);
    const pkCa = new PaceGroup(d).publicKey(skCa);
    const a = camEncrypt(d, H(v.ksEnc), skCa, big(v.skMapIc));
    expect(a.length).toBe(48);
    expect(camVerify(d, camDecrypt(d, H(v.ksEnc), a), pkCa, H(v.pkMapIc))).toBe(true);
  });

  it('malformed A_IC is a CardDataError: empty, not whole blocks, bad padding, zero scalar', () => {
    const d = ec(13), ks = H(v.ksEnc);
    for (const a of [Buffer.alloc(0), Buffer.alloc(17), randomBytes(32)]) expect(() => camDecrypt(d, ks, a)).toThrow(CardDataError);
    expect(() => camDecrypt(dh, ks, H(v.aIc))).toThrow(CardDataError);
  });
});

describe('Integrated Mapping on every implemented curve and cipher (algebraic properties)', () => {
  for (const id of [12, 13, 15, 16, 17, 18]) {
    it(`${ec(id).name}: f_G(t) is on the curve, not the identity, deterministic, and both sides agree`, () => {
      const d = ec(id);
      for (let i = 0; i < 4; i++) {
        const t = (BigInt(`0x${randomBytes(d.fieldBytes + 8).toString('hex')}`) % (d.curve.Point.Fp.ORDER - 1n)) + 1n;
        const P = imPointEncode(d.curve, t);
        P.assertValidity();
        expect(P.is0()).toBe(false);
        expect(P.multiply(d.curve.Point.Fn.ORDER - 1n).add(P).is0()).toBe(true);
        expect(imPointEncode(d.curve, t).equals(P)).toBe(true);
      }
      for (const cipher of ['3DES', 'AES-128', 'AES-192', 'AES-256'] as const) {
        const s = randomBytes(nonceLength(cipher, 'IM')), t = randomBytes(imNonceLength(cipher));
        const a = new PaceGroup(d), b = new PaceGroup(d);
        expect(a.mapIntegrated(s, t, cipher).equals(b.mapIntegrated(s, t, cipher))).toBe(true);
        const ska = randomScalar(d), skb = randomScalar(d);
        expect(a.agree(ska, b.publicKey(skb)).equals(b.agree(skb, a.publicKey(ska)))).toBe(true);
      }
    });
  }

  it('DH: g\' is in the order-q subgroup and not 1, for every cipher', () => {
    for (const cipher of ['3DES', 'AES-128', 'AES-192', 'AES-256'] as const) {
      const g = new PaceGroup(dh);
      const gen = g.mapIntegrated(randomBytes(nonceLength(cipher, 'IM')), randomBytes(imNonceLength(cipher)), cipher);
      g.checkPublic(gen, 'g\'');
    }
  });

  it('nonce lengths: 3DES s=16 t=16, AES-192 s=32 t=24, AES-256 s=32 t=32; wrong lengths are CardDataError', () => {
    expect([nonceLength('3DES', 'IM'), imNonceLength('3DES')]).toEqual([16, 16]);
    expect([nonceLength('AES-192', 'IM'), imNonceLength('AES-192')]).toEqual([32, 24]);
    expect([nonceLength('AES-256', 'IM'), imNonceLength('AES-256')]).toEqual([32, 32]);
    const p = ec(13).curve.Point.Fp.ORDER;
    expect(() => imPseudoRandom(Buffer.alloc(15), Buffer.alloc(16), p, 'AES-128')).toThrow(CardDataError);
    expect(() => imPseudoRandom(Buffer.alloc(16), Buffer.alloc(0), p, 'AES-128')).toThrow(CardDataError);
    expect(() => imPointEncode(ec(13).curve, 0n)).toThrow(CardDataError);
    expect(() => imPointEncode(ec(13).curve, p)).toThrow(CardDataError);
    expect(() => decryptNonce(Buffer.alloc(16), Buffer.alloc(16), 'AES-256', 'IM')).toThrow(CardDataError);
  });
});
