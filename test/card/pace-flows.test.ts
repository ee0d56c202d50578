/**
 * PACE Integrated Mapping, Chip Authentication Mapping and the MRZ retry counter
 * (suspend / resume / block) end to end between the reader (drivers/card/emrtd.ts)
 * and the emulated chip (drivers/card/emulator/card.ts), in process: the same
 * APDU bytes as over pcscd (test/card/pace-pcsc.test.ts runs them through it).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { ApduChannel } from '../../drivers/card/channel';
import { EmrtdReader, PACE_SUSPENDED_MESSAGE, readDocument } from '../../drivers/card/emrtd';
import { CardRemovedSignal, EmulatedEmrtd, paceInfosFor, type CardOptions } from '../../drivers/card/emulator/card';
import { buildDocument, type EmrtdContents } from '../../drivers/card/emulator/document';
import { bacInputFromMrz, mrzInformation } from '../../drivers/card/mrz';
import { choosePace, paceOid, parseCardAccess, buildCardAccess, STANDARD_DOMAINS } from '../../drivers/card/pace';
import { cscaStoreFrom } from '../../drivers/card/passive-auth';
import { StationError } from '../../drivers/common/errors';
import { CardDataError, tlv } from '../../drivers/card/tlv';

let doc: EmrtdContents;
const CAN = '314159';

function channel(card: EmulatedEmrtd): ApduChannel {
  card.reset();
  return new ApduChannel({
    reader: 'in-process', atr: card.atr, protocol: 'T=1',
    transmit: async (apdu) => { try { return await card.process(apdu); } catch (e) { if (e instanceof CardRemovedSignal) throw new Error('removed', { cause: e }); throw e; } },
    disconnect: async () => {},
  });
}

function chip(opts: Partial<CardOptions> = {}): EmulatedEmrtd {
  return new EmulatedEmrtd({ files: doc.files, mrzLines: doc.mrzLines, chipKeys: doc.chipKeys, ...opts });
}

async function expectError(p: Promise<unknown>): Promise<StationError> {
  try { await p; } catch (e) { return e as StationError; }
  throw new Error('expected a rejection');
}

beforeAll(async () => { doc = await buildDocument({ faceBytes: 1500, chipAuth: true }); });

describe('choosePace', () => {
  it('prefers CAM over IM over GM, then ECDH over DH, then the stronger cipher; skips domains it lacks', () => {
    const infos = (l: { oid: string; parameterId: number }[]) => parseCardAccess(buildCardAccess(l)).pace;
    const all = infos([
      { oid: paceOid('ECDH', 'GM', 'AES-256'), parameterId: 13 }, { oid: paceOid('DH', 'IM', 'AES-128'), parameterId: 0 },
      { oid: paceOid('ECDH', 'IM', 'AES-128'), parameterId: 13 }, { oid: paceOid('ECDH', 'CAM', 'AES-128'), parameterId: 13 },
    ]);
    expect(choosePace(all)!.info.algorithm.mapping).toBe('CAM');
    expect(choosePace(all.filter((i) => i.algorithm.mapping !== 'CAM'))!.info.algorithm).toMatchObject({ mapping: 'IM', agreement: 'ECDH' });
    expect(choosePace(infos([{ oid: paceOid('ECDH', 'CAM', 'AES-128'), parameterId: 14 }, { oid: paceOid('DH', 'GM', 'AES-128'), parameterId: 0 }]))!.info.algorithm).toMatchObject({ mapping: 'GM', agreement: 'DH' });
  });
});

describe('PACE Integrated Mapping between the reader and the emulator', () => {
  for (const [agreement, cipher] of [['ECDH', 'AES-128'], ['ECDH', '3DES'], ['ECDH', 'AES-192'], ['DH', 'AES-128'], ['DH', 'AES-256']] as const) {
    it(`${agreement}-IM ${cipher}: the read opens with the CAN, records mapping IM, passive authentication valid`, async () => {
      const card = chip({ pace: { can: CAN, infos: [{ oid: paceOid(agreement, 'IM', cipher), parameterId: agreement === 'ECDH' ? 13 : 0 }] } });
      const res = await readDocument(channel(card), { can: CAN, csca: cscaStoreFrom([doc.pki.csca.cert]) });
      expect(res.access).toMatchObject({ protocol: 'PACE', password: 'CAN', mapping: 'IM', agreement, cipher });
      expect(res.passiveAuth.verdict).toBe('valid');
      expect(res.clone.verdict).toBe('chip-authenticated'); // the separate Chip Authentication (DG14) still runs after IM
      expect(card.caRuns).toBe(1);
    });
  }

  it('a wrong CAN with IM is CARD_ACCESS_DENIED, not a crash', async () => {
    const card = chip({ pace: { can: CAN, infos: paceInfosFor('IM') } });
    const e = await expectError(readDocument(channel(card), { can: '000000' }));
    expect(e.code).toBe('CARD_ACCESS_DENIED');
  });
});

describe('PACE Chip Authentication Mapping between the reader and the emulator', () => {
  it('CAM authenticates the chip within PACE: verdict chip-authenticated, no separate Chip Authentication, mapping CAM', async () => {
    const card = chip({ pace: { can: CAN, infos: [...paceInfosFor('GM'), ...paceInfosFor('CAM')] } });
    const res = await readDocument(channel(card), { bac: bacInputFromMrz(doc.mrzLines.join('\n')), csca: cscaStoreFrom([doc.pki.csca.cert]) });
    expect(res.access).toMatchObject({ protocol: 'PACE', password: 'MRZ', mapping: 'CAM', agreement: 'ECDH', cipher: 'AES-128' });
    expect(res.clone).toEqual({ verdict: 'chip-authenticated', method: 'PACE-CAM ECDH AES-128 on brainpoolP256r1' });
    expect(card.caRuns).toBe(0);
    expect(res.passiveAuth.verdict).toBe('valid');
  });

  for (const [fault, detail] of [['badCaKey', /CA_IC · PK_IC/], ['badCamData', /chip authentication data|CA_IC · PK_IC/]] as const) {
    it(`a chip without DG14's private key (${fault}) fails closed: verdict failed, reason cam-mismatch`, async () => {
      const card = chip({ pace: { can: CAN, infos: paceInfosFor('CAM') }, faults: { [fault]: true } });
      const res = await readDocument(channel(card), { can: CAN, csca: cscaStoreFrom([doc.pki.csca.cert]) });
      expect(res.access.mapping).toBe('CAM');
      expect(res.clone.verdict).toBe('failed');
      expect(res.clone.reasonCode).toBe('cam-mismatch');
      expect(res.clone.reason).toMatch(detail);
    });
  }

  it('a CAM chip whose DG14 has no key on the PACE domain fails closed; without the chip key the emulator refuses CAM', async () => {
    const other = await buildDocument({ faceBytes: 1500, chipAuth: { parameterId: 12 }, pki: doc.pki });
    const card = new EmulatedEmrtd({ files: other.files, mrzLines: other.mrzLines, chipKeys: { ...other.chipKeys!, ca: { ...other.chipKeys!.ca!, parameterId: 13 } }, pace: { can: CAN, infos: paceInfosFor('CAM') } });
    const res = await readDocument(channel(card), { can: CAN });
    expect(res.clone).toMatchObject({ verdict: 'failed', reasonCode: 'cam-mismatch' });
    expect(() => new EmulatedEmrtd({ files: doc.files, mrzLines: doc.mrzLines, pace: { infos: paceInfosFor('CAM') } })).toThrow(/chipKeys.ca/);
  });
});

describe('bad mapping data from the chip is a named CardDataError', () => {
  it('IM: mapping data in 82 (must be empty); GM: the identity / a point off the curve as the chip mapping key', async () => {
    // A chip that answers the Integrated Mapping with a point: wrap the emulator and alter the answer to step 2.
    const card = chip({ pace: { can: CAN, infos: paceInfosFor('IM') } });
    const ch = channel(card);
    const orig = card.process.bind(card);
    card.process = async (apdu: Buffer) => {
      const r = await orig(apdu);
      if (apdu[1] === 0x86 && apdu.length > 8 && apdu[7] === 0x81) return Buffer.concat([Buffer.from('7C0482020102', 'hex'), r.subarray(r.length - 2)]);
      return r;
    };
    const e = await expectError(readDocument(ch, { can: CAN }));
    expect(e).toBeInstanceOf(CardDataError);
    expect(e.message).toMatch(/82 must be empty/);
    for (const bad of ['04' + '00'.repeat(64), '00', '04' + '01'.repeat(64)]) {
      const gm = chip({ pace: { can: CAN } });
      const ch2 = channel(gm);
      const o2 = gm.process.bind(gm);
      gm.process = async (apdu: Buffer) => {
        const r = await o2(apdu);
        if (apdu[1] === 0x86 && apdu.length > 8 && apdu[7] === 0x81) { const pt = Buffer.from(bad, 'hex'); return Buffer.concat([Buffer.from([0x7c, pt.length + 2, 0x82, pt.length]), pt, r.subarray(r.length - 2)]); }
        return r;
      };
      const e2 = await expectError(readDocument(ch2, { can: CAN }));
      expect(e2).toBeInstanceOf(CardDataError);
    }
  });
});

describe('random mapping / chip authentication data never crashes the reader', () => {
  it('IM step 2 and CAM\'s 8A replaced by random bytes: a named CardDataError or a failed verdict, 40 runs each', async () => {
    const { randomBytes } = await import('node:crypto');
    for (let i = 0; i < 40; i++) {
      const card = chip({ pace: { can: CAN, infos: paceInfosFor('IM') } });
      const ch = channel(card);
      const orig = card.process.bind(card);
      const junk = randomBytes(1 + (i % 20));
      card.process = async (apdu: Buffer) => {
        const r = await orig(apdu);
        if (apdu[1] === 0x86 && apdu.length > 8 && apdu[7] === 0x81) return Buffer.concat([i % 2 ? tlv(0x7c, junk) : junk, r.subarray(r.length - 2)]);
        return r;
      };
      const e = await expectError(readDocument(ch, { can: CAN }));
      expect(e).toBeInstanceOf(CardDataError);
    }
    for (let i = 0; i < 40; i++) {
      const card = chip({ pace: { can: CAN, infos: paceInfosFor('CAM') } });
      const ch = channel(card);
      const orig = card.process.bind(card);
      const junk = randomBytes([0, 15, 16, 32, 48, 64][i % 6]!);
      card.process = async (apdu: Buffer) => {
        const r = await orig(apdu);
        // the last GENERAL AUTHENTICATE (CLA 00): keep the token, replace A_IC
        if (apdu[0] === 0x00 && apdu[1] === 0x86 && r.length > 12) return Buffer.concat([tlv(0x7c, r.subarray(2, 12), tlv(0x8a, junk)), r.subarray(r.length - 2)]);
        return r;
      };
      const res = await readDocument(ch, { can: CAN });
      expect(res.clone).toMatchObject({ verdict: 'failed', reasonCode: 'cam-mismatch' });
    }
  });
});

describe('DH Integrated Mapping: a chip key outside the order-q subgroup is refused', () => {
  it('the chip\'s ephemeral DH key p−1, 1 or a non-subgroup element is a CardDataError naming the key', async () => {
    const dhp = (STANDARD_DOMAINS[0] as Extract<(typeof STANDARD_DOMAINS)[number], { kind: 'DH' }>).p;
    const hex128 = (v: bigint) => Buffer.from(v.toString(16).padStart(256, '0'), 'hex');
    for (const bad of [hex128(dhp - 1n), hex128(1n), hex128(2n)]) {
      const card = chip({ pace: { can: CAN, infos: paceInfosFor('IM', 'DH') } });
      const ch = channel(card);
      const orig = card.process.bind(card);
      card.process = async (apdu: Buffer) => {
        const r = await orig(apdu);
        // step 3 (83 = the terminal's ephemeral key): answer with `bad` as the chip's key
        if (apdu[1] === 0x86 && apdu[0] === 0x10 && apdu.includes(0x83) && r.length > 130) return Buffer.concat([tlv(0x7c, tlv(0x84, bad)), r.subarray(r.length - 2)]);
        return r;
      };
      const e = await expectError(readDocument(ch, { can: CAN }));
      expect(e).toBeInstanceOf(CardDataError);
      expect(e.message).toMatch(/ephemeral key/);
    }
  });
});

describe('the MRZ retry counter: tries left, suspended (63C1), resumed with the CAN, blocked (63C0)', () => {
  const wrongMrz = { kind: 'MRZ' as const, mrzInformation: 'X00000000' + '0' + '7001011' + '3001017' };
  const rightMrz = () => ({ kind: 'MRZ' as const, mrzInformation: mrzInformation(bacInputFromMrz(doc.mrzLines.join('\n'))) });
  const choice = () => choosePace(parseCardAccess(buildCardAccess(paceInfosFor('GM'))).pace)!;

  it('two wrong MRZ: 2 tries left, then CARD_PACE_SUSPENDED; the MRZ is refused at MSE:Set AT until a PACE with the CAN; then it works and the counter is reset', async () => {
    const card = chip({ pace: { can: CAN, retries: 3, only: true } });
    const r1 = new EmrtdReader(channel(card));
    const e1 = await expectError(r1.pace(wrongMrz, choice().info, choice().domain));
    expect(e1.code).toBe('CARD_ACCESS_DENIED');
    expect(e1.details).toMatchObject({ attemptsLeft: 2, password: 'MRZ' });
    const e2 = await expectError(new EmrtdReader(channel(card)).pace(wrongMrz, choice().info, choice().domain));
    expect(e2.code).toBe('CARD_PACE_SUSPENDED');
    expect(e2.message).toBe(PACE_SUSPENDED_MESSAGE);
    expect(e2.details).toMatchObject({ password: 'MRZ', attemptsLeft: 1, suspended: true });
    const attempts = card.paceAttempts;
    const e3 = await expectError(new EmrtdReader(channel(card)).pace(rightMrz(), choice().info, choice().domain));
    expect(e3.code).toBe('CARD_PACE_SUSPENDED');
    expect(card.paceAttempts).toBe(attempts); // refused before any PACE step: the try is not used
    // The officer gives the CAN: the read goes on with it.
    const res = await readDocument(channel(card), { can: CAN, bac: bacInputFromMrz(doc.mrzLines.join('\n')), paceOnly: true });
    expect(res.access.password).toBe('CAN');
    // Resume (same power-on session): PACE with the CAN, then the MRZ is accepted again and its counter reset.
    const ch = channel(card);
    const r = new EmrtdReader(ch);
    await r.pace({ kind: 'CAN', can: CAN }, choice().info, choice().domain);
    await r.pace(rightMrz(), choice().info, choice().domain);
    expect(r.access).toMatchObject({ password: 'MRZ' });
    const fresh = await readDocument(channel(card), { bac: bacInputFromMrz(doc.mrzLines.join('\n')), paceOnly: true });
    expect(fresh.access.password).toBe('MRZ');
  });

  it('suspended, resumed with the CAN, then a wrong MRZ again: blocked (63C0) — CARD_PACE_BLOCKED from then on', async () => {
    const card = chip({ pace: { can: CAN, retries: 2, only: true } });
    const e1 = await expectError(new EmrtdReader(channel(card)).pace(wrongMrz, choice().info, choice().domain));
    expect(e1.code).toBe('CARD_PACE_SUSPENDED');
    const r = new EmrtdReader(channel(card));
    await r.pace({ kind: 'CAN', can: CAN }, choice().info, choice().domain);
    const e2 = await expectError(r.pace(wrongMrz, choice().info, choice().domain));
    expect(e2.code).toBe('CARD_ACCESS_DENIED');
    expect(e2.details).toMatchObject({ attemptsLeft: 0 });
    const e3 = await expectError(readDocument(channel(card), { bac: bacInputFromMrz(doc.mrzLines.join('\n')), paceOnly: true }));
    expect(e3.code).toBe('CARD_PACE_BLOCKED');
    expect(e3.details).toMatchObject({ sw: '63C0', password: 'MRZ' });
    // The CAN still opens the chip.
    expect((await readDocument(channel(card), { can: CAN })).access.password).toBe('CAN');
  });

  it('the domain table is untouched (sanity for the fixtures)', () => {
    expect(STANDARD_DOMAINS[13]!.name).toBe('brainpoolP256r1');
  });
});
