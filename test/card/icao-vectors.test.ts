import { describe, expect, it } from 'vitest';
import { bacKeys, chipRespond, terminalAuthData, terminalFinish } from '../../drivers/card/bac';
import { checkDigit, kSeedFromMrzInfo, pad, retailMac, unpad } from '../../drivers/card/crypto';
import { bacInputFromMrz, mrzInformation, parseDg1 } from '../../drivers/card/mrz';
import { SecureMessaging, SmError } from '../../drivers/card/sm';
import { tlv } from '../../drivers/card/tlv';

const h = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const MRZ = 'P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\nL898902C<3UTO6908061F9406236ZE184226B<<<<<14';

describe('ICAO 9303-11 Appendix D worked example', () => {
  it('derives MRZ information and check digits', () => {
    expect(checkDigit('L898902C<')).toBe(3);
    expect(checkDigit('690806')).toBe(1);
    expect(checkDigit('940623')).toBe(6);
    expect(mrzInformation(bacInputFromMrz(MRZ))).toBe('L898902C<369080619406236');
    expect(mrzInformation({ documentNumber: 'l898902c', birthDate: '690806', expiryDate: '940623' })).toBe('L898902C<369080619406236');
  });

  it('derives K_seed, Kenc and Kmac', () => {
    const info = 'L898902C<369080619406236';
    expect(kSeedFromMrzInfo(info).toString('hex').toUpperCase()).toBe('239AB9CB282DAF66231DC5A4DF6BFBAE');
    const k = bacKeys(info);
    expect(k.kEnc.toString('hex').toUpperCase()).toBe('AB94FDECF2674FDFB9B391F85D7F76F2');
    expect(k.kMac.toString('hex').toUpperCase()).toBe('7962D9ECE03D1ACD4C76089DCE131543');
  });

  it('computes E_IFD and M_IFD for MUTUAL AUTHENTICATE', () => {
    const k = bacKeys('L898902C<369080619406236');
    const s = h('781723860C06C2264608F919887022120B795240CB7049B01C19B33E32804F0B');
    const out = terminalAuthData(k, s.subarray(0, 8), s.subarray(8, 16), s.subarray(16));
    expect(out.subarray(0, 32).toString('hex').toUpperCase()).toBe('72C29C2371CC9BDB65B779B8E8D37B29ECC154AA56A8799FAE2F498F76ED92F2');
    expect(out.subarray(32).toString('hex').toUpperCase()).toBe('5F1448EEA8AD90A7');
  });

  it('protects SELECT EF.COM and READ BINARY and verifies the chip answers', () => {
    const sm = new SecureMessaging({ ksEnc: h('979EC13B1CBFE9DCD01AB0FED307EAE5'), ksMac: h('F1CB1F1FB5ADF208806B89DC579DC1F8'), ssc: h('887022120C06C226') });
    const sel = sm.wrap({ cla: 0, ins: 0xa4, p1: 2, p2: 0x0c, data: h('011E') });
    expect(sel.toString('hex').toUpperCase()).toBe('0CA4020C158709016375432908C044F68E08BF8B92D635FF24F800');
    const r1 = sm.unwrap(h('990290008E08FA855A5D4C50A8ED9000'));
    expect(r1.sw).toBe(0x9000);
    expect(r1.data.length).toBe(0);
    const rb = sm.wrap({ cla: 0, ins: 0xb0, p1: 0, p2: 0, le: 4 });
    expect(rb.toString('hex').toUpperCase()).toBe('0CB000000D9701048E08ED6705417E96BA5500');
    const r2 = sm.unwrap(h('8709019FF0EC34F9922651990290008E08AD55CC17140B2DED9000'));
    expect(r2.data.toString('hex').toUpperCase()).toBe('60145F01');
    expect(sm.ssc.toString('hex').toUpperCase()).toBe('887022120C06C22A');
  });

  it('rejects a response whose MAC was altered, and a replayed response (SSC moved on)', () => {
    const mk = () => new SecureMessaging({ ksEnc: h('979EC13B1CBFE9DCD01AB0FED307EAE5'), ksMac: h('F1CB1F1FB5ADF208806B89DC579DC1F8'), ssc: h('887022120C06C226') });
    const sm = mk();
    sm.wrap({ cla: 0, ins: 0xa4, p1: 2, p2: 0x0c, data: h('011E') });
    expect(() => sm.unwrap(h('990290008E08FA855A5D4C50A8EC9000'))).toThrow(SmError);
    const sm2 = mk();
    sm2.wrap({ cla: 0, ins: 0xa4, p1: 2, p2: 0x0c, data: h('011E') });
    sm2.unwrap(h('990290008E08FA855A5D4C50A8ED9000'));
    sm2.wrap({ cla: 0, ins: 0xb0, p1: 0, p2: 0, le: 4 });
    expect(() => sm2.unwrap(h('990290008E08FA855A5D4C50A8ED9000'))).toThrow(/MAC is wrong/);
  });
});

describe('BAC and secure messaging round trip (terminal ↔ chip code)', () => {
  it('terminal and chip agree on session keys and the chip refuses a wrong MRZ', () => {
    const chipKeys = bacKeys('L898902C<369080619406236');
    const rndIc = h('4608F91988702212'), kIc = h('0B4F80323EB3191CB04970CB4052790B');
    const rndIfd = h('781723860C06C226'), kIfd = h('0B795240CB7049B01C19B33E32804F0B');
    const cmd = terminalAuthData(chipKeys, rndIfd, rndIc, kIfd);
    const chip = chipRespond(chipKeys, cmd, rndIc, kIc);
    expect(chip).toBeDefined();
    // Appendix D: the chip's answer and session keys
    expect(chip!.resp.toString('hex').toUpperCase()).toBe('46B9342A41396CD7386BF5803104D7CEDC122B9132139BAF2EEDC94EE178534F2F2D235D074D7449');
    const t = terminalFinish(chipKeys, chip!.resp, rndIfd, rndIc, kIfd);
    expect(t.ok).toBe(true);
    if (!t.ok) return;
    expect(t.sm.ksEnc.toString('hex').toUpperCase()).toBe('979EC13B1CBFE9DCD01AB0FED307EAE5');
    expect(t.sm.ksMac.toString('hex').toUpperCase()).toBe('F1CB1F1FB5ADF208806B89DC579DC1F8');
    expect(t.sm.ssc.toString('hex').toUpperCase()).toBe('887022120C06C226');
    const wrong = terminalAuthData(bacKeys('L898902C<369080619406237'), rndIfd, rndIc, kIfd);
    expect(chipRespond(chipKeys, wrong, rndIc, kIc)).toBeUndefined();
    // command/response through both sides
    const chipSm = chip!.sm;
    const wrapped = t.sm.wrap({ cla: 0, ins: 0xb0, p1: 0, p2: 5, le: 200 });
    const plain = chipSm.unwrapCommand(wrapped);
    expect(plain).toMatchObject({ ins: 0xb0, p1: 0, p2: 5, le: 200 });
    const data = Buffer.alloc(200, 7);
    expect(t.sm.unwrap(chipSm.wrapResponse(data, 0x9000)).data.equals(data)).toBe(true);
  });

  it('pads and unpads per ISO 9797-1 method 2, and retail MAC needs full blocks', () => {
    expect(pad(Buffer.alloc(8)).length).toBe(16);
    expect(unpad(pad(Buffer.from('abc')))!.toString()).toBe('abc');
    expect(unpad(Buffer.alloc(8))).toBeUndefined();
    expect(() => retailMac(Buffer.alloc(16), Buffer.alloc(5))).toThrow(RangeError);
  });

  it('parses DG1 (TD1 ID card)', () => {
    const mrz = 'I<UTOD231458907'.padEnd(30, '<') + '7408122F1204159UTO'.padEnd(29, '<') + '6' + 'ERIKSSON<<ANNA<MARIA'.padEnd(30, '<');
    const dg1 = tlv(0x61, tlv(0x5f1f, Buffer.from(mrz)));
    const f = parseDg1(dg1);
    expect(f.format).toBe('TD1');
    expect(f.documentNumber).toBe('D23145890');
    expect(f.birthDate).toBe('740812');
    expect(f.lastName).toBe('ERIKSSON');
    expect(mrzInformation(bacInputFromMrz(mrz))).toBe(`D23145890${checkDigit('D23145890')}7408122${'120415'}9`);
  });
});
