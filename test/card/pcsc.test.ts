/**
 * Everything that needs pcscd + vpcd lives in this one file: pcscd is a machine
 * singleton and vpcd binds fixed ports, so these tests must never run in parallel.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { once } from 'node:events';
import { PcscdProcess, isListening, VPCD_PORT } from '../helpers/pcscd';
import { PcscCardReader } from '../../drivers/card/pcsc';
import { EmulatedEmrtd, type CardFaults, type PaceOptions } from '../../drivers/card/emulator/card';
import { paceOid } from '../../drivers/card/pace';
import { VpcdCardClient } from '../../drivers/card/emulator/vpcd';
import { buildDocument, createTestPki, type EmrtdContents } from '../../drivers/card/emulator/document';
import { bacInputFromMrz } from '../../drivers/card/mrz';
import { cscaStoreFrom } from '../../drivers/card/passive-auth';
import { ACCESS_DENIED_MESSAGE, CAN_DENIED_MESSAGE } from '../../drivers/card/emrtd';
import { encodeCommand } from '../../drivers/card/apdu';
import { DeviceTimeoutError, DisconnectedError, StationError } from '../../drivers/common/errors';
import { tlv } from '../../drivers/card/tlv';
import { generateKeyPairSync } from 'node:crypto';
import { buildDg14, buildDg15, ID_DH_PUBLIC_NUMBER, ID_PK_DH, ID_PK_ECDH, type DhDomain } from '../../drivers/card/clone';
import { oidBytes, PaceGroup, randomScalar, STANDARD_DOMAINS } from '../../drivers/card/pace';
import { runCardCli } from './cli-helper';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const R0 = 'Virtual PCD 00 00';
const pub13 = new PaceGroup(STANDARD_DOMAINS[13]!).publicKey(randomScalar(STANDARD_DOMAINS[13]!));
const pcscd = new PcscdProcess();
let doc: EmrtdContents;
let smallDoc: EmrtdContents;
let driver: PcscCardReader;
const clients: VpcdCardClient[] = [];

async function withCard(contents: EmrtdContents, opts: { faults?: CardFaults; extendedLength?: boolean; port?: number; pace?: PaceOptions; noMfSelect?: boolean; bufferSizes?: { maxCommand: number; maxResponse: number } } = {}) {
  const card = new EmulatedEmrtd({ files: contents.files, mrzLines: contents.mrzLines, faults: opts.faults, extendedLength: opts.extendedLength, pace: opts.pace, noMfSelect: opts.noMfSelect, chipKeys: contents.chipKeys, bufferSizes: opts.bufferSizes });
  const client = new VpcdCardClient(card, { port: opts.port });
  clients.push(client);
  const reader = opts.port === 35964 ? 'Virtual PCD 00 01' : R0;
  const seen = new Promise<void>((resolve) => {
    const on = (e: { reader: string }) => { if (e.reader === reader) { driver.off('card-inserted', on); resolve(); } };
    driver.on('card-inserted', on);
  });
  await client.insert();
  await seen;
  return { card, client, reader };
}

async function removeCard(client: VpcdCardClient, reader = R0): Promise<void> {
  if (!driver.readers().find((r) => r.name === reader)?.cardPresent) { await client.remove(); return; }
  const gone = new Promise<void>((resolve) => {
    const on = (e: { reader: string }) => { if (e.reader === reader) { driver.off('card-removed', on); resolve(); } };
    driver.on('card-removed', on);
  });
  await client.remove();
  await gone;
}

function bac(c: EmrtdContents) { return bacInputFromMrz(c.mrzLines.join('\n')); }

async function expectError<T extends Error>(p: Promise<unknown>): Promise<T> {
  try { await p; } catch (e) { return e as T; }
  throw new Error('expected the promise to reject');
}

beforeAll(async () => {
  [doc, smallDoc] = await Promise.all([buildDocument(), buildDocument({ faceBytes: 2000 })]);
  await pcscd.start();
  driver = new PcscCardReader({ readerPattern: 'Virtual PCD', recoverIntervalMs: 200 });
  await driver.open();
  if (driver.readers().length < 2) {
    await new Promise<void>((resolve) => { const on = () => { if (driver.readers().length >= 2) { driver.off('reader-added', on); resolve(); } }; driver.on('reader-added', on); on(); });
  }
}, 16 * 60_000); // waiting for the machine-wide pcscd lock (another file may hold it) is not a speed assertion

afterAll(async () => {
  for (const c of clients) await c.remove();
  await driver?.close();
  await pcscd.stop();
}, 60_000);

describe('PC/SC driver and ICAO 9303 reading over real pcscd + vpcd', { timeout: 150_000 }, () => {
  it('lists the vpcd readers and reports card insertion and removal as events', async () => {
    expect(driver.serviceUp).toBe(true);
    expect(driver.readers().map((r) => r.name).sort()).toEqual([R0, 'Virtual PCD 00 01']);
    expect(driver.readers().every((r) => !r.cardPresent)).toBe(true);
    const { client, card } = await withCard(smallDoc);
    const r = driver.readers().find((x) => x.name === R0)!;
    expect(r.cardPresent).toBe(true);
    expect(r.atr).toBe(card.atr.toString('hex').toUpperCase());
    await removeCard(client);
    expect(driver.readers().find((x) => x.name === R0)!.cardPresent).toBe(false);
  });

  it('reads EF.COM, DG1, a ~20 KB DG2 and EF.SOD with BAC + secure messaging; passive authentication is valid against the CSCA', async () => {
    const { client, card } = await withCard(doc);
    try {
      const res = await driver.readDocument({ reader: R0, bac: bac(doc), csca: cscaStoreFrom([doc.pki.csca.cert]) });
      expect(res.dg1.equals(doc.files.get(0x0101)!)).toBe(true);
      expect(res.dg2!.equals(doc.files.get(0x0102)!)).toBe(true);
      expect(res.dg2!.length).toBeGreaterThan(18_000);
      expect(res.sod.equals(doc.files.get(0x011d)!)).toBe(true);
      expect(res.com!.equals(doc.files.get(0x011e)!)).toBe(true);
      expect(res.dataGroupsPresent).toEqual([1, 2]);
      expect(res.mrz).toMatchObject({ format: 'TD1', documentNumber: 'D23145890', birthDate: '740812', expirationDate: '340415', lastName: 'ERIKSSON', firstName: 'ANNA MARIA' });
      expect(res.face!.format).toBe('jpeg');
      expect(res.faceJpeg!.subarray(0, 3).toString('hex')).toBe('ffd8ff');
      expect(res.passiveAuth.verdict).toBe('valid');
      expect(res.passiveAuth.checkedDataGroups).toEqual([1, 2]);
      // short APDUs: 231 bytes per READ BINARY, the most one 256-byte 3DES-protected answer holds; each file's first read goes by SFI (no SELECT)
      expect(res.chunkBytes).toBe(231);
      const floor = [res.com!.length, res.dg1.length, res.dg2!.length, res.sod.length].reduce((a, n) => a + Math.ceil(n / res.chunkBytes), 0);
      expect(res.apduCount).toBe(floor + 4); // + READ EF.CardAccess (none), SELECT application, GET CHALLENGE, MUTUAL AUTHENTICATE
      expect(card.bacAttempts).toBe(1);
    } finally { await removeCard(client); }
  });

  it('forged chips are refused, each with its named reason (fails closed, no third verdict)', async () => {
    const day = 86_400_000, now = Date.now();
    const small = { faceBytes: 800 } as const;
    const expiredPki = createTestPki('UTO', { dsValidity: { notBefore: new Date(now - 400 * day), notAfter: new Date(now - 10 * day) } });
    const cases: { name: string; doc: EmrtdContents; csca?: Buffer; reason: string }[] = [
      { name: "an attacker's own CSCA and DS", doc: await buildDocument({ ...small, pki: createTestPki('UTO') }), reason: 'unknown-issuer' },
      { name: 'a SOD with no DS certificate', doc: await buildDocument({ ...small, pki: smallDoc.pki, sod: { withoutCertificate: true } }), reason: 'no-ds-certificate' },
      { name: 'an expired DS', doc: await buildDocument({ ...small, pki: expiredPki, sod: { signingTime: new Date(now - day) } }), csca: expiredPki.csca.cert, reason: 'expired' },
      { name: 'a document of another country', doc: await buildDocument({ ...small, pki: smallDoc.pki, person: { issuingState: 'VNM', nationality: 'VNM' } }), reason: 'country-mismatch' },
      { name: "a SOD signed with the CSCA's own key", doc: await buildDocument({ ...small, pki: smallDoc.pki, sod: { signWithCsca: true } }), reason: 'key-usage' },
      { name: 'an empty EF.SOD', doc: await buildDocument({ ...small, pki: smallDoc.pki, sod: { empty: true } }), reason: 'no-security-object' },
    ];
    for (const c of cases) {
      const { client } = await withCard(c.doc, { extendedLength: true });
      try {
        const res = await driver.readDocument({ reader: R0, bac: bac(c.doc), csca: cscaStoreFrom([c.csca ?? smallDoc.pki.csca.cert]), readDg2: false });
        expect({ name: c.name, verdict: res.passiveAuth.verdict, reasonCode: res.passiveAuth.reasonCode }).toEqual({ name: c.name, verdict: 'invalid', reasonCode: c.reason });
        expect(res.passiveAuth.reason).toBeTruthy();
      } finally { await removeCard(client); }
    }
    // no CSCA store at all: refused too
    const { client } = await withCard(smallDoc, { extendedLength: true });
    try {
      const a = await driver.readDocument({ reader: R0, bac: bac(smallDoc), readDg2: false });
      expect(a.passiveAuth).toMatchObject({ verdict: 'invalid', reasonCode: 'no-csca-store' });
    } finally { await removeCard(client); }
  });

  it('uses extended-length READ BINARY when the ATR offers it (far fewer APDUs), odd INS past 32 KB, a DG2 over 64 KiB (4-byte BER length)', async () => {
    const big = await buildDocument({ faceBytes: 72_000, pki: doc.pki });
    expect(big.files.get(0x0102)!.length).toBeGreaterThan(65_536);
    expect(big.files.get(0x0102)![1]).toBe(0x83); // tag 75, length in 3 bytes: a 5-byte header
    const { client } = await withCard(big, { extendedLength: true });
    try {
      const res = await driver.readDocument({ reader: R0, bac: bac(big), csca: cscaStoreFrom([big.pki.csca.cert]) });
      expect(res.dg2!.equals(big.files.get(0x0102)!)).toBe(true);
      expect(res.passiveAuth.verdict).toBe('valid');
      expect(res.apduCount).toBeLessThan(40);
    } finally { await removeCard(client); }
  });

  it('closing a reader never blocks: 200 readers opened and closed while waits are pending', async () => {
    const { client } = await withCard(smallDoc);
    try {
      for (let i = 0; i < 200; i++) {
        const d = new PcscCardReader({ readerPattern: R0 });
        const opening = d.open();
        const waiting = d.waitForCard({ timeoutMs: 120_000 }).then(() => 'card', (e: StationError) => e.code);
        if (i % 3 === 1) await opening; // close as soon as the context works: status calls pending
        if (i % 3 === 2) expect(await waiting).toBe('card'); // close after the card was reported
        await d.close();
        await opening;
        expect(['card', 'CARD_READER_CLOSED']).toContain(await waiting);
      }
    } finally { await removeCard(client); }
  });

  it('handles T=0 style answers: 61xx → GET RESPONSE and 6Cxx → resend with the right Le', async () => {
    for (const faults of [{ getResponse: true }, { wrongLe: true }] as CardFaults[]) {
      const { client } = await withCard(smallDoc, { faults });
      try {
        const ch = await driver.connect(R0);
        try {
          const r = await ch.transmit(encodeCommand({ cla: 0, ins: 0xa4, p1: 4, p2: 0x0c, data: Buffer.from('A0000002471001', 'hex') }));
          expect(r.sw).toBe(0x9000);
          const before = ch.exchanges;
          const chal = await ch.transmit(encodeCommand({ cla: 0, ins: 0x84, p1: 0, p2: 0, le: faults.wrongLe ? 16 : 8 }));
          expect(chal.sw).toBe(0x9000);
          expect(chal.data.length).toBe(8);
          expect(ch.exchanges - before).toBe(2); // first answer was 61 08 / 6C 08
        } finally { await ch.close(); }
        const res = await driver.readDocument({ reader: R0, bac: bac(smallDoc), csca: cscaStoreFrom([smallDoc.pki.csca.cert]) });
        expect(res.passiveAuth.verdict).toBe('valid');
        expect(res.dg1.equals(smallDoc.files.get(0x0101)!)).toBe(true);
      } finally { await removeCard(client); }
    }
  });

  it('wrong MRZ: one MUTUAL AUTHENTICATE only, then "access denied — check the document number and dates"', async () => {
    const { client, card } = await withCard(smallDoc);
    try {
      const e = await expectError<StationError>(driver.readDocument({ reader: R0, bac: { documentNumber: 'D23145891', birthDate: '740812', expiryDate: '340415' } }));
      expect(e).toBeInstanceOf(StationError);
      expect(e.code).toBe('CARD_ACCESS_DENIED');
      expect(e.message).toBe(ACCESS_DENIED_MESSAGE);
      expect(card.bacAttempts).toBe(1);
      expect(card.bacFailures).toBe(1);
      // the right MRZ still works on the same card
      const ok = await driver.readDocument({ reader: R0, bac: bac(smallDoc) });
      expect(ok.mrz.documentNumber).toBe('D23145890');
      expect(card.bacAttempts).toBe(2);
    } finally { await removeCard(client); }
  });

  it('card removed mid-read: a clean CARD_REMOVED error, and a retry after putting it back works', async () => {
    const { client, card } = await withCard(smallDoc, { faults: { removeAfterApdus: 12 } });
    try {
      const e = await expectError<StationError>(driver.readDocument({ reader: R0, bac: bac(smallDoc) }));
      expect(e).toBeInstanceOf(DisconnectedError);
      expect(e.code).toBe('CARD_REMOVED');
      expect(e.message).toContain(R0);
      await removeCard(client);
      card.setFaults({});
      const seen = once(driver, 'card-inserted');
      await client.insert();
      await seen;
      const res = await driver.readDocument({ reader: R0, bac: bac(smallDoc), csca: cscaStoreFrom([smallDoc.pki.csca.cert]) });
      expect(res.passiveAuth.verdict).toBe('valid');
    } finally { await removeCard(client); }
  });

  it('slow answers past the APDU timeout give CARD_TIMEOUT; the officer can read again', async () => {
    const { client, card } = await withCard(smallDoc, { faults: { slowMs: 2500, slowAfterApdus: 3 } });
    try {
      const e = await expectError<StationError>(driver.readDocument({ reader: R0, bac: bac(smallDoc), channel: { timeoutMs: 800 } }));
      expect(e).toBeInstanceOf(DeviceTimeoutError);
      expect(e.code).toBe('CARD_TIMEOUT');
      card.setFaults({});
      // no waiting here: the driver lets the late answer and the old disconnect land before connecting again
      const res = await driver.readDocument({ reader: R0, bac: bac(smallDoc) });
      expect(res.mrz.lastName).toBe('ERIKSSON');
    } finally { await removeCard(client); }
  });

  it('a chip that answers "file not found" unprotected keeps the session: a card without DG2 reads fine', async () => {
    const noFace = await buildDocument({ face: false, pki: smallDoc.pki });
    const { client } = await withCard(noFace, { faults: { plainErrors: true } });
    try {
      const res = await driver.readDocument({ reader: R0, bac: bac(noFace), csca: cscaStoreFrom([noFace.pki.csca.cert]) });
      expect(res.dg2).toBeUndefined();
      expect(res.face).toBeUndefined();
      expect(res.dataGroupsPresent).toEqual([1]);
      expect(res.passiveAuth).toMatchObject({ verdict: 'valid', checkedDataGroups: [1] });
    } finally { await removeCard(client); }
  });

  it('a corrupted response MAC is rejected with an error naming the file', async () => {
    // protected responses: 1 READ EF.COM (by SFI, whole file), 2 READ DG1 (by SFI)
    const { client } = await withCard(smallDoc, { faults: { corruptMacAt: 2 } });
    try {
      const e = await expectError<StationError>(driver.readDocument({ reader: R0, bac: bac(smallDoc) }));
      expect(e.code).toBe('CARD_SM_FAILED');
      expect(e.message).toMatch(/DG1/);
      expect(e.message).toMatch(/MAC/);
    } finally { await removeCard(client); }
  });

  it('a tampered data group makes passive authentication fail and names it', async () => {
    const tampered = await buildDocument({ faceBytes: 2000, pki: smallDoc.pki });
    const { client } = await withCard(tampered, { faults: { tamperDataGroup: 2 }, extendedLength: true });
    try {
      const res = await driver.readDocument({ reader: R0, bac: bac(tampered), csca: cscaStoreFrom([tampered.pki.csca.cert]) });
      expect(res.passiveAuth.verdict).toBe('invalid');
      expect(res.passiveAuth.reason).toMatch(/DG2 does not match/);
    } finally { await removeCard(client); }
  });

  it('wrong status words become errors naming the operation and file', async () => {
    const a = await withCard(smallDoc, { faults: { statusWord: { sw: 0x6a82, ins: 0xa4, count: 1 } } });
    try {
      const e = await expectError<StationError>(driver.readDocument({ reader: R0, bac: bac(smallDoc) }));
      expect(e.code).toBe('CARD_NOT_EMRTD');
    } finally { await removeCard(a.client); }
    const b = await withCard(smallDoc, { faults: { statusWord: { sw: 0x6f00, ins: 0xb0 } } });
    try {
      const e = await expectError<StationError>(driver.readDocument({ reader: R0, bac: bac(smallDoc) }));
      expect(e.code).toBe('CARD_READ_FAILED');
      expect(e.message).toMatch(/6F00 to READ BINARY of EF\.COM/);
    } finally { await removeCard(b.client); }
  });

  it('malformed TLV from the chip is an error naming the file, not a crash', async () => {
    const files = new Map(smallDoc.files);
    files.set(0x0101, Buffer.concat([Buffer.from([0x61, 0x10]), tlv(0x5f1f, Buffer.from('I<UTO'))])); // DG1 says 16 bytes, holds 8
    const bad: EmrtdContents = { ...smallDoc, files };
    const { client } = await withCard(bad);
    try {
      const e = await expectError<StationError>(driver.readDocument({ reader: R0, bac: bac(smallDoc) }));
      expect(e.code).toBe('CARD_BAD_DATA');
      expect(e.message).toMatch(/in DG1/);
    } finally { await removeCard(client); }
  });

  it('connects in shared mode: two connections to the same card at once', async () => {
    const { client } = await withCard(smallDoc);
    const other = new PcscCardReader({ readerPattern: R0 });
    await other.open();
    try {
      await other.waitForCard({ timeoutMs: 10_000 });
      const c1 = await driver.connect(R0);
      const c2 = await other.connect(R0);
      const sel = encodeCommand({ cla: 0, ins: 0xa4, p1: 4, p2: 0x0c, data: Buffer.from('A0000002471001', 'hex') });
      expect((await c2.transmit(sel)).sw).toBe(0x9000);
      expect((await c1.transmit(sel)).sw).toBe(0x9000);
      await c2.close();
      await c1.close();
    } finally {
      await other.close();
      await removeCard(client);
    }
  });

  it('uses the second vpcd reader when asked by name', async () => {
    const { client, reader } = await withCard(smallDoc, { port: 35964 });
    try {
      const res = await driver.readDocument({ reader: '00 01', bac: bac(smallDoc) });
      expect(res.reader).toBe(reader);
    } finally { await removeCard(client, reader); }
  });

  it('station card list / read over PC/SC, and station card emulate for technicians', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'card-cli-'));
    const csca = join(dir, 'csca.pem');
    const child = spawn(process.execPath, [require.resolve('ts-node/dist/bin.js'), '--transpile-only', '-e',
      "const { Command } = require('commander'); const p = new Command('station'); p.option('--debug'); require('./station/cli/card').register(p); p.parseAsync(['node', 'station', ...process.argv.slice(1)]);",
      'card', 'emulate', '--port', '35964', '--csca-out', csca, '--mrz', smallDoc.mrzLines.join('')], { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (d) => { out += d; });
    child.stderr!.on('data', (d) => { out += d; });
    const exited = new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    try {
      const inserted = new Promise<void>((resolve) => { const on = (e: { reader: string }) => { if (e.reader === 'Virtual PCD 00 01') { driver.off('card-inserted', on); resolve(); } }; driver.on('card-inserted', on); });
      await inserted;
      for (let i = 0; i < 200 && !out.includes('press Ctrl-C'); i++) await new Promise((r) => setTimeout(r, 50));
      expect(out).toContain('emulated card inserted on vpcd 127.0.0.1:35964');
      const list = await runCardCli(['card', 'list', '--json']);
      expect(list.code).toBe(0);
      expect(JSON.parse(list.out).readers).toEqual(expect.arrayContaining([{ name: 'Virtual PCD 00 01', cardPresent: true, atr: expect.stringMatching(/^3B/) }]));
      const photo = join(dir, 'p.jpg');
      const read = await runCardCli(['card', 'read', '--reader', 'Virtual PCD 00 01', '--mrz', smallDoc.mrzLines.join('\n'), '--csca', csca, '--photo', photo, '--json']);
      expect(read.err).toBe('');
      expect(read.code).toBe(0);
      const j = JSON.parse(read.out);
      expect(j.reader).toBe('Virtual PCD 00 01');
      expect(j.passiveAuth.verdict).toBe('valid');
      expect(readFileSync(photo).subarray(0, 2).toString('hex')).toBe('ffd8');
      const denied = await runCardCli(['card', 'read', '--reader', '/PCD 00 01$/', '--doc', 'D23145890', '--birth', '740812', '--expiry', '340416']);
      expect(denied.code).toBe(1);
      expect(denied.err).toContain('access denied — check the document number and dates');
      const removed = new Promise<void>((resolve) => { const on = (e: { reader: string }) => { if (e.reader === 'Virtual PCD 00 01') { driver.off('card-removed', on); resolve(); } }; driver.on('card-removed', on); });
      child.kill('SIGINT');
      expect(await exited).toBe(0);
      await removed;
    } finally {
      if (child.exitCode === null) { child.kill('SIGKILL'); await exited; }
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('pcscd killed and restarted: the driver reports the loss, recovers with a fresh context and reads again', async () => {
    const lost = once(driver, 'service-lost');
    const recovered = once(driver, 'service-recovered');
    const readerEvents: string[] = [];
    const onAdd = (n: string) => readerEvents.push(`+${n}`);
    const onRemove = (n: string) => readerEvents.push(`-${n}`);
    driver.on('reader-added', onAdd);
    driver.on('reader-removed', onRemove);
    await pcscd.stop('SIGKILL', { keepLock: true });
    expect(isListening(VPCD_PORT)).toBe(false);
    await lost;
    expect(driver.serviceUp).toBe(false);
    const e = await expectError<StationError>(driver.connect(R0));
    expect(e.code).toBe('CARD_PCSCD_DOWN');
    await pcscd.start();
    await recovered;
    expect(driver.serviceUp).toBe(true);
    if (driver.readers().length < 2) await new Promise<void>((resolve) => { const on = () => { if (driver.readers().length >= 2) { driver.off('reader-added', on); resolve(); } }; driver.on('reader-added', on); on(); });
    driver.off('reader-added', onAdd);
    driver.off('reader-removed', onRemove);
    // the readers disappeared with pcscd and came back with the fresh context
    expect(readerEvents.filter((e) => e.startsWith('-')).sort()).toEqual([`-${R0}`, '-Virtual PCD 00 01']);
    expect(readerEvents.filter((e) => e.startsWith('+')).sort()).toEqual([`+${R0}`, '+Virtual PCD 00 01']);
    const { client } = await withCard(smallDoc, { extendedLength: true });
    try {
      const res = await driver.readDocument({ reader: R0, bac: bac(smallDoc) });
      expect(res.mrz.documentNumber).toBe('D23145890');
    } finally { await removeCard(client); }
  });
});

describe('PACE (ICAO 9303-11 §4.4, Generic Mapping) over real pcscd + vpcd', { timeout: 150_000 }, () => {
  const CAN = '472915';

  it('reads the whole document with PACE and the CAN: EF.CardAccess in the clear, MSE:Set AT, four GENERAL AUTHENTICATE, AES secure messaging; no BAC', async () => {
    const { client, card } = await withCard(doc, { pace: { can: CAN } });
    try {
      const res = await driver.readDocument({ reader: R0, can: CAN, csca: cscaStoreFrom([doc.pki.csca.cert]) });
      expect(res.access).toEqual({ protocol: 'PACE', password: 'CAN', mapping: 'GM', agreement: 'ECDH', cipher: 'AES-128', domain: 'brainpoolP256r1', oid: '0.4.0.127.0.7.2.2.4.2.2' });
      for (const [fid, got] of [[0x0101, res.dg1], [0x0102, res.dg2], [0x011d, res.sod], [0x011e, res.com]] as const) expect(got!.equals(doc.files.get(fid)!)).toBe(true);
      expect(res.passiveAuth.verdict).toBe('valid');
      expect(res.mrz.documentNumber).toBe('D23145890');
      expect(card.paceSuccesses).toBe(1);
      expect(card.bacAttempts).toBe(0);
      // AES: 223 plaintext bytes fill one 256-byte protected answer
      expect(res.chunkBytes).toBe(223);
      const floor = [res.com!.length, res.dg1.length, res.dg2!.length, res.sod.length].reduce((a, n) => a + Math.ceil(n / 223), 0);
      // + READ EF.CardAccess, MSE:Set AT, 4 × GENERAL AUTHENTICATE, protected SELECT of the application
      expect(res.apduCount).toBe(floor + 7);
    } finally { await removeCard(client); }
  });

  it('PACE with the MRZ on other domains and ciphers (brainpoolP384r1 AES-256 with extended length, NIST P-256 AES-192, DH 1024/160 3DES), PACE-only chips', async () => {
    const offers = [
      { infos: [{ oid: paceOid('ECDH', 'GM', 'AES-256'), parameterId: 16 }], extendedLength: true, cipher: 'AES-256', domain: 'brainpoolP384r1' },
      { infos: [{ oid: paceOid('ECDH', 'GM', 'AES-192'), parameterId: 12 }], extendedLength: false, cipher: 'AES-192', domain: 'NIST P-256' },
      { infos: [{ oid: paceOid('DH', 'GM', '3DES'), parameterId: 0 }], extendedLength: false, cipher: '3DES', domain: 'MODP-1024/160 (RFC 5114)' },
    ];
    for (const o of offers) {
      const { client, card } = await withCard(smallDoc, { pace: { infos: o.infos, only: true }, extendedLength: o.extendedLength });
      try {
        const res = await driver.readDocument({ reader: R0, bac: bac(smallDoc), csca: cscaStoreFrom([smallDoc.pki.csca.cert]) });
        expect(res.access).toMatchObject({ protocol: 'PACE', password: 'MRZ', cipher: o.cipher, domain: o.domain });
        expect(res.passiveAuth.verdict).toBe('valid');
        expect(res.dg2!.equals(smallDoc.files.get(0x0102)!)).toBe(true);
        expect(res.chunkBytes).toBe(o.extendedLength ? 4096 : o.cipher === '3DES' ? 231 : 223);
        expect(card.bacAttempts).toBe(0);
        // a PACE-only chip refuses BAC outright
        const ch = await driver.connect(R0);
        try {
          expect((await ch.transmit(encodeCommand({ cla: 0, ins: 0xa4, p1: 4, p2: 0x0c, data: Buffer.from('A0000002471001', 'hex') }))).sw).toBe(0x9000);
          expect((await ch.transmit(encodeCommand({ cla: 0, ins: 0x84, p1: 0, p2: 0, le: 8 }))).sw).toBe(0x6d00);
        } finally { await ch.close(); }
      } finally { await removeCard(client); }
    }
  });

  it('wrong CAN: one PACE run, one message with the attempts left; the right CAN then works; a used-up counter is CARD_PACE_BLOCKED', async () => {
    const { client, card } = await withCard(smallDoc, { pace: { can: CAN, retries: 3 } });
    try {
      const e = await expectError<StationError>(driver.readDocument({ reader: R0, can: '472916' }));
      expect(e.code).toBe('CARD_ACCESS_DENIED');
      expect(e.message).toBe(`${CAN_DENIED_MESSAGE} (2 attempts left)`);
      expect(e.details).toMatchObject({ attemptsLeft: 2, password: 'CAN' });
      expect(card.paceAttempts).toBe(1);
      expect(card.paceFailures).toBe(1);
      expect(card.bacAttempts).toBe(0); // no silent fallback to BAC after a wrong password
      const ok = await driver.readDocument({ reader: R0, can: CAN, csca: cscaStoreFrom([smallDoc.pki.csca.cert]) });
      expect(ok.access.password).toBe('CAN');
      expect(ok.passiveAuth.verdict).toBe('valid');
      for (const left of [2, 1, 0]) {
        const w = await expectError<StationError>(driver.readDocument({ reader: R0, can: '000000' }));
        expect(w.details).toMatchObject({ attemptsLeft: left });
      }
      const blocked = await expectError<StationError>(driver.readDocument({ reader: R0, can: CAN }));
      expect(blocked.code).toBe('CARD_PACE_BLOCKED');
      expect(card.paceSuccesses).toBe(1);
    } finally { await removeCard(client); }
  });

  it('card removed mid-PACE is CARD_REMOVED and the next read works; a chip whose PACE token is wrong is refused', async () => {
    const { client, card } = await withCard(smallDoc, { pace: { can: CAN }, faults: { removeAtPaceStep: 3 } });
    try {
      const e = await expectError<StationError>(driver.readDocument({ reader: R0, can: CAN }));
      expect(e).toBeInstanceOf(DisconnectedError);
      await removeCard(client);
      card.setFaults({ badPaceToken: true });
      const seen = new Promise<void>((resolve) => { const on = (x: { reader: string }) => { if (x.reader === R0) { driver.off('card-inserted', on); resolve(); } }; driver.on('card-inserted', on); });
      await client.insert();
      await seen;
      const bad = await expectError<StationError>(driver.readDocument({ reader: R0, can: CAN }));
      expect(bad.code).toBe('CARD_PACE_FAILED');
      expect(bad.message).toContain('wrong authentication token');
      card.setFaults({});
      const ok = await driver.readDocument({ reader: R0, can: CAN, csca: cscaStoreFrom([smallDoc.pki.csca.cert]) });
      expect(ok.passiveAuth.verdict).toBe('valid');
    } finally { await removeCard(client); }
  });

  it('BAC fallback: a chip without EF.CardAccess, and one that lists PACE but refuses MSE:Set AT; the record says which ran and why', async () => {
    const plain = await withCard(smallDoc);
    try {
      const res = await driver.readDocument({ reader: R0, bac: bac(smallDoc) });
      expect(res.access).toEqual({ protocol: 'BAC', password: 'MRZ', cipher: '3DES' });
    } finally { await removeCard(plain.client); }
    const refusing = await withCard(smallDoc, { pace: { can: CAN }, faults: { statusWord: { sw: 0x6a80, ins: 0x22 } } });
    try {
      const res = await driver.readDocument({ reader: R0, bac: bac(smallDoc), csca: cscaStoreFrom([smallDoc.pki.csca.cert]) });
      expect(res.access.protocol).toBe('BAC');
      expect(res.access.note).toContain('refused MSE:Set AT');
      expect(res.passiveAuth.verdict).toBe('valid');
      expect(refusing.card.bacAttempts).toBe(1);
      // with the CAN alone there is nothing to fall back to
      const e = await expectError<StationError>(driver.readDocument({ reader: R0, can: CAN }));
      expect(e.code).toBe('CARD_PACE_REFUSED');
    } finally { await removeCard(refusing.client); }
  });
});

describe('Vietnamese citizen card profile over real pcscd + vpcd', { timeout: 150_000 }, () => {
  it('SELECT MF answers 6D00, EF.CardAccess is read directly (SFI, or SELECT 011C with P1=02 when SFI is refused); PACE-CAN read with DG13 decoded and signed', async () => {
    const cccd = await buildDocument({ cccd: { generation: '2021' }, faceBytes: 3000 });
    const { client, card } = await withCard(cccd, { pace: { can: cccd.can }, noMfSelect: true, faults: { statusWord: { sw: 0x6a86, ins: 0xb0, count: 1 } } });
    try {
      const res = await driver.readDocument({ reader: R0, can: cccd.can, csca: cscaStoreFrom([cccd.pki.csca.cert]) });
      expect(res.access).toMatchObject({ protocol: 'PACE', password: 'CAN' });
      expect(res.mrz).toMatchObject({ format: 'TD1', documentCode: 'ID', issuingState: 'VNM', documentNumber: '190012345' });
      expect(res.nationalId).toBe('079190012345');
      expect(res.dg13!.equals(cccd.files.get(0x010d)!)).toBe(true);
      expect(res.cccd).toMatchObject({ fullName: 'Nguyễn Thị Thu Hằng', sex: 'F', dateOfBirthIso: '1990-08-12', identifyingMarks: 'Nốt ruồi C:2cm trên trước đầu mày phải', fatherName: 'Nguyễn Văn Đức' });
      expect(res.passiveAuth.verdict).toBe('valid');
      expect(res.passiveAuth.checkedDataGroups).toEqual([1, 2, 13]);
      expect(card.paceSuccesses).toBe(1);
      const ch = await driver.connect(R0);
      try {
        expect((await ch.transmit(encodeCommand({ cla: 0, ins: 0xa4, p1: 0, p2: 0x0c, data: Buffer.from([0x3f, 0x00]) }))).sw).toBe(0x6d00);
        expect((await ch.transmit(encodeCommand({ cla: 0, ins: 0xa4, p1: 2, p2: 0x0c, data: Buffer.from([0x01, 0x1c]) }))).sw).toBe(0x9000);
        const ca = await ch.transmit(encodeCommand({ cla: 0, ins: 0xb0, p1: 0, p2: 0, le: 256 }));
        expect(ca.data.equals(card.files.get(0x011c)!)).toBe(true);
      } finally { await ch.close(); }
      // the MRZ still works for PACE (and BAC) on the 2021 card
      const viaMrz = await driver.readDocument({ reader: R0, bac: bac(cccd) });
      expect(viaMrz.access).toMatchObject({ protocol: 'PACE', password: 'MRZ' });
    } finally { await removeCard(client); }
  });

  it('station card emulate --profile cccd-2024 and station card read --can', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'card-cli-cccd-'));
    const csca = join(dir, 'csca.pem');
    const child = spawn(process.execPath, [require.resolve('ts-node/dist/bin.js'), '--transpile-only', '-e',
      "const { Command } = require('commander'); const p = new Command('station'); p.option('--debug'); require('./station/cli/card').register(p); p.parseAsync(['node', 'station', ...process.argv.slice(1)]);",
      'card', 'emulate', '--port', '35964', '--csca-out', csca, '--profile', 'cccd-2024', '--face', '/dev/null'], { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (d) => { out += d; });
    child.stderr!.on('data', (d) => { out += d; });
    const exited = new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    try {
      // a face that is not an image is a usage error naming the option
      expect(await exited).toBe(2);
      expect(out).toContain('--face /dev/null');
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    const child2 = spawn(process.execPath, [require.resolve('ts-node/dist/bin.js'), '--transpile-only', '-e',
      "const { Command } = require('commander'); const p = new Command('station'); p.option('--debug'); require('./station/cli/card').register(p); p.parseAsync(['node', 'station', ...process.argv.slice(1)]);",
      'card', 'emulate', '--port', '35964', '--csca-out', csca, '--profile', 'cccd-2024'], { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'pipe'] });
    let out2 = '';
    child2.stdout!.on('data', (d) => { out2 += d; });
    child2.stderr!.on('data', (d) => { out2 += d; });
    const exited2 = new Promise<number | null>((r) => child2.once('exit', (c) => r(c)));
    try {
      const inserted = new Promise<void>((resolve) => { const on = (e: { reader: string }) => { if (e.reader === 'Virtual PCD 00 01') { driver.off('card-inserted', on); resolve(); } }; driver.on('card-inserted', on); });
      await inserted;
      for (let i = 0; i < 400 && !out2.includes('press Ctrl-C'); i++) await new Promise((r) => setTimeout(r, 50));
      expect(out2).toContain('(profile cccd-2024, PACE only)');
      expect(out2).toContain('CAN: 012345');
      const read = await runCardCli(['card', 'read', '--reader', 'Virtual PCD 00 01', '--can', '012345', '--csca', csca, '--json']);
      expect(read.code).toBe(0);
      const j = JSON.parse(read.out);
      expect(j.access).toMatchObject({ protocol: 'PACE', password: 'CAN' });
      expect(j.nationalId).toBe('079190012345');
      expect(j.cccd.fullName).toBe('Nguyễn Thị Thu Hằng');
      expect(j.cccd.identifyingMarks).toBeUndefined(); // the 2024 layout leaves them out
      expect(j.passiveAuth.verdict).toBe('valid');
      const wrong = await runCardCli(['card', 'read', '--reader', 'Virtual PCD 00 01', '--can', '012346']);
      expect(wrong.code).toBe(1);
      expect(wrong.err).toContain('check the 6-digit card access number (CAN)');
      const bad = await runCardCli(['card', 'read', '--reader', 'Virtual PCD 00 01', '--can', '12ab']);
      expect(bad.code).toBe(2);
      expect(bad.err).toContain('must be the 6 digits printed on the card');
      const human = await runCardCli(['card', 'read', '--reader', 'Virtual PCD 00 01', '--can', '012345', '--csca', csca]);
      expect(human.out).toContain('DG13 full name:       Nguyễn Thị Thu Hằng');
      expect(human.out).toContain('access:        PACE with the CAN');
      child2.kill('SIGINT');
      expect(await exited2).toBe(0);
    } finally {
      if (child2.exitCode === null) { child2.kill('SIGKILL'); await exited2; }
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('clone detection over real pcscd + vpcd: Chip Authentication (DG14) and Active Authentication (DG15)', { timeout: 150_000 }, () => {
  it('Chip Authentication: secure messaging continues under the new keys (AES after PACE, 3DES after BAC); a chip with another key than DG14 is failed/ca-key-mismatch and the read still completes', async () => {
    const cases = [
      { doc: await buildDocument({ faceBytes: 1500, pki: smallDoc.pki, chipAuth: true }), pace: { can: '123456' }, read: { can: '123456' }, method: 'CA ECDH AES-128 on brainpoolP256r1' },
      { doc: await buildDocument({ faceBytes: 1500, pki: smallDoc.pki, chipAuth: { parameterId: 12, cipher: '3DES' as const } }), read: {}, method: 'CA ECDH 3DES on NIST P-256' },
    ];
    for (const c of cases) {
      const { client, card } = await withCard(c.doc, { ...(c.pace ? { pace: c.pace } : {}) });
      try {
        const opts = { reader: R0, bac: bac(c.doc), ...c.read, csca: cscaStoreFrom([c.doc.pki.csca.cert]) };
        const ok = await driver.readDocument(opts);
        expect(ok.clone).toEqual({ verdict: 'chip-authenticated', method: c.method });
        expect(ok.access.chipAuthentication).toBe(c.method);
        expect(ok.dg14!.equals(c.doc.files.get(0x010e)!)).toBe(true);
        expect(ok.dg2!.equals(c.doc.files.get(0x0102)!)).toBe(true); // read under the CA keys
        expect(ok.passiveAuth.checkedDataGroups).toEqual([1, 2, 14]);
        expect(card.caRuns).toBe(1);
        card.setFaults({ badCaKey: true });
        const clone = await driver.readDocument(opts);
        expect(clone.clone).toMatchObject({ verdict: 'failed', reasonCode: 'ca-key-mismatch', method: c.method });
        expect(clone.access.note).toContain('opened again after a failed Chip Authentication');
        expect(clone.dg2!.equals(c.doc.files.get(0x0102)!)).toBe(true);
        expect(clone.passiveAuth.verdict).toBe('valid'); // a perfect copy passes passive authentication
        card.setFaults({});
      } finally { await removeCard(client); }
    }
  });

  it('DH Chip Authentication: a 2048-bit key in short APDUs (command chaining) after BAC and with extended length after PACE, the standardized 1024-bit group; `station card emulate --chip-auth dh` read by `station card read`', async () => {
    const cases = [
      { doc: await buildDocument({ faceBytes: 1500, pki: smallDoc.pki, chipAuth: { agreement: 'DH', cipher: '3DES' } }), read: {}, extendedLength: false, method: 'CA DH 3DES on DH-2048/2047 (X9.42)' },
      { doc: await buildDocument({ faceBytes: 1500, pki: smallDoc.pki, chipAuth: { agreement: 'DH', cipher: 'AES-256', dhForm: 'pkcs3' } }), pace: { can: '123456' }, read: { can: '123456' }, extendedLength: true, method: 'CA DH AES-256 on DH-2048/2047 (PKCS #3, safe prime)' },
      { doc: await buildDocument({ faceBytes: 1500, pki: smallDoc.pki, chipAuth: { agreement: 'DH', cipher: 'AES-128', dhForm: 'standardized' } }), pace: { can: '123456' }, read: { can: '123456' }, extendedLength: false, method: 'CA DH AES-128 on MODP-1024/160 (RFC 5114)' },
    ];
    for (const c of cases) {
      const { client, card } = await withCard(c.doc, { extendedLength: c.extendedLength, ...(c.pace ? { pace: c.pace } : {}) });
      try {
        const opts = { reader: R0, bac: bac(c.doc), ...c.read, csca: cscaStoreFrom([c.doc.pki.csca.cert]) };
        const ok = await driver.readDocument(opts);
        expect(ok.clone).toEqual({ verdict: 'chip-authenticated', method: c.method });
        expect(ok.access.chipAuthentication).toBe(c.method);
        expect(ok.dg2!.equals(c.doc.files.get(0x0102)!)).toBe(true); // read under the CA keys
        expect(ok.passiveAuth.checkedDataGroups).toEqual([1, 2, 14]);
        expect(card.caRuns).toBe(1);
        card.setFaults({ badCaKey: true });
        const clone = await driver.readDocument(opts);
        expect(clone.clone).toMatchObject({ verdict: 'failed', reasonCode: 'ca-key-mismatch', method: c.method });
        expect(clone.dg2!.equals(c.doc.files.get(0x0102)!)).toBe(true);
        card.setFaults({});
      } finally { await removeCard(client); }
    }
    const dir = mkdtempSync(join(tmpdir(), 'card-cli-dh-'));
    const csca = join(dir, 'csca.pem');
    for (const fault of [[], ['--fault', 'bad-ca-key']]) {
      const child = spawn(process.execPath, [require.resolve('ts-node/dist/bin.js'), '--transpile-only', '-e',
        "const { Command } = require('commander'); const p = new Command('station'); p.option('--debug'); require('./station/cli/card').register(p); p.parseAsync(['node', 'station', ...process.argv.slice(1)]);",
        'card', 'emulate', '--port', '35964', '--csca-out', csca, '--pace', '--chip-auth', 'dh:AES-256', ...fault], { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout!.on('data', (d) => { out += d; });
      child.stderr!.on('data', (d) => { out += d; });
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      try {
        const inserted = new Promise<void>((resolve) => { const on = (e: { reader: string }) => { if (e.reader === 'Virtual PCD 00 01') { driver.off('card-inserted', on); resolve(); } }; driver.on('card-inserted', on); });
        await inserted;
        for (let i = 0; i < 400 && !out.includes('press Ctrl-C'); i++) await new Promise((r) => setTimeout(r, 50));
        expect(out).toContain('Chip Authentication: DH AES-256');
        const read = await runCardCli(['card', 'read', '--reader', 'Virtual PCD 00 01', '--can', '123456', '--csca', csca, '--json']);
        const j = JSON.parse(read.out);
        expect(j.passiveAuth.verdict).toBe('valid');
        if (fault.length) {
          expect(j.clone).toMatchObject({ verdict: 'failed', reasonCode: 'ca-key-mismatch', method: 'CA DH AES-256 on DH-2048/2047 (X9.42)' });
          expect(read.code).toBe(1); // a failed clone check fails the command like a failed passive authentication
        } else {
          expect(j.clone).toEqual({ verdict: 'chip-authenticated', method: 'CA DH AES-256 on DH-2048/2047 (X9.42)' });
          expect(read.code).toBe(0);
        }
        const removed = new Promise<void>((resolve) => { const on = (e: { reader: string }) => { if (e.reader === 'Virtual PCD 00 01') { driver.off('card-removed', on); resolve(); } }; driver.on('card-removed', on); });
        child.kill('SIGINT');
        expect(await exited).toBe(0);
        await removed;
      } finally {
        if (child.exitCode === null) { child.kill('SIGKILL'); await exited; }
      }
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('Active Authentication: RSA ISO/IEC 9796-2 and ECDSA verify; a wrong signature is failed/aa-bad-signature; without DG14/DG15 not-supported; a key not covered by valid passive authentication is failed/not-signed', async () => {
    for (const kind of ['rsa', 'ecdsa'] as const) {
      const d = await buildDocument({ faceBytes: 1500, pki: smallDoc.pki, activeAuth: kind });
      const { client, card } = await withCard(d);
      try {
        const ok = await driver.readDocument({ reader: R0, bac: bac(d), csca: cscaStoreFrom([d.pki.csca.cert]) });
        expect(ok.clone).toEqual({ verdict: 'active-authenticated', method: kind === 'rsa' ? 'AA RSA-1024 ISO/IEC 9796-2 SHA-1' : 'AA ECDSA NIST P-256 SHA-256' });
        expect(card.aaRuns).toBe(1);
        card.setFaults({ badAaSignature: true });
        const bad = await driver.readDocument({ reader: R0, bac: bac(d), csca: cscaStoreFrom([d.pki.csca.cert]) });
        expect(bad.clone).toMatchObject({ verdict: 'failed', reasonCode: 'aa-bad-signature' });
        card.setFaults({});
        const unsigned = await driver.readDocument({ reader: R0, bac: bac(d) });
        expect(unsigned.clone).toMatchObject({ verdict: 'failed', reasonCode: 'not-signed' });
        expect(unsigned.clone.reason).toContain('no-csca-store');
      } finally { await removeCard(client); }
    }
    const plain = await withCard(smallDoc);
    try {
      const res = await driver.readDocument({ reader: R0, bac: bac(smallDoc), csca: cscaStoreFrom([smallDoc.pki.csca.cert]) });
      expect(res.clone).toMatchObject({ verdict: 'not-supported', reasonCode: 'no-dg14-dg15' });
    } finally { await removeCard(plain.client); }
  });

  it('Active Authentication with the larger keys: RSA-2048 SHA-256 (extended length), ECDSA brainpoolP512r1 SHA-512 and NIST P-521 SHA-384; a wrong signature fails; `station card emulate --active-auth` read by `station card read`', async () => {
    const cases = [
      { aa: { kind: 'rsa', bits: 2048, hash: 'sha256', complement: true }, extendedLength: true, method: 'AA RSA-2048 ISO/IEC 9796-2 SHA-256' },
      { aa: { kind: 'ecdsa', curve: 'brainpoolP512r1', hash: 'sha512' }, extendedLength: false, method: 'AA ECDSA brainpoolP512r1 SHA-512' },
      { aa: { kind: 'ecdsa', curve: 'secp521r1', hash: 'sha384' }, extendedLength: false, pace: { can: '123456' }, method: 'AA ECDSA NIST P-521 SHA-384' },
    ] as const;
    for (const c of cases) {
      const d = await buildDocument({ faceBytes: 1500, pki: smallDoc.pki, activeAuth: c.aa });
      const { client, card } = await withCard(d, { extendedLength: c.extendedLength, ...('pace' in c ? { pace: c.pace } : {}) });
      try {
        const opts = { reader: R0, bac: bac(d), ...('pace' in c ? { can: '123456' } : {}), csca: cscaStoreFrom([d.pki.csca.cert]) };
        const ok = await driver.readDocument(opts);
        expect(ok.clone).toEqual({ verdict: 'active-authenticated', method: c.method });
        card.setFaults({ badAaSignature: true });
        const bad = await driver.readDocument(opts);
        expect(bad.clone).toMatchObject({ verdict: 'failed', reasonCode: 'aa-bad-signature' });
        card.setFaults({});
      } finally { await removeCard(client); }
    }
    const dir = mkdtempSync(join(tmpdir(), 'card-cli-aa-'));
    const csca = join(dir, 'csca.pem');
    const child = spawn(process.execPath, [require.resolve('ts-node/dist/bin.js'), '--transpile-only', '-e',
      "const { Command } = require('commander'); const p = new Command('station'); p.option('--debug'); require('./station/cli/card').register(p); p.parseAsync(['node', 'station', ...process.argv.slice(1)]);",
      'card', 'emulate', '--port', '35964', '--csca-out', csca, '--mrz', smallDoc.mrzLines.join(''), '--active-auth', 'ecdsa:brainpoolP384r1:sha384'], { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (x) => { out += x; });
    child.stderr!.on('data', (x) => { out += x; });
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      const inserted = new Promise<void>((resolve) => { const on = (e: { reader: string }) => { if (e.reader === 'Virtual PCD 00 01') { driver.off('card-inserted', on); resolve(); } }; driver.on('card-inserted', on); });
      await inserted;
      for (let i = 0; i < 400 && !out.includes('press Ctrl-C'); i++) await new Promise((r) => setTimeout(r, 50));
      expect(out).toContain('Active Authentication: ecdsa:brainpoolP384r1:sha384');
      const read = await runCardCli(['card', 'read', '--reader', 'Virtual PCD 00 01', '--mrz', smallDoc.mrzLines.join('\n'), '--csca', csca]);
      expect(read.code).toBe(0);
      expect(read.out).toContain('clone check:   ACTIVE-AUTHENTICATED (AA ECDSA brainpoolP384r1 SHA-384)');
      const removed = new Promise<void>((resolve) => { const on = (e: { reader: string }) => { if (e.reader === 'Virtual PCD 00 01') { driver.off('card-removed', on); resolve(); } }; driver.on('card-removed', on); });
      child.kill('SIGINT');
      expect(await exited).toBe(0);
      await removed;
    } finally {
      if (child.exitCode === null) { child.kill('SIGKILL'); await exited; }
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('bad DG14 / DG15 on real pcscd + vpcd: named, never a crash or a hang, and the reader serves the next card', { timeout: 150_000 }, () => {
  it('malformed, truncated and unsupported keys, one card after another in the same reader session, then a good card is chip-authenticated', async () => {
    const std = STANDARD_DOMAINS[0]! as DhDomain;
    const uint = (v: bigint) => { let h = v.toString(16); if (h.length % 2) h = `0${h}`; if (parseInt(h.slice(0, 2), 16) >= 0x80) h = `00${h}`; return tlv(0x02, Buffer.from(h, 'hex')); };
    const dhDg14 = (p: bigint, g: bigint, q: bigint) => tlv(0x6e, tlv(0x31, tlv(0x30, tlv(0x06, oidBytes(ID_PK_DH)),
      tlv(0x30, tlv(0x30, tlv(0x06, oidBytes(ID_DH_PUBLIC_NUMBER)), tlv(0x30, uint(p), uint(g), uint(q))), tlv(0x03, Buffer.concat([Buffer.from([0]), uint(5n)]))))));
    const k1 = generateKeyPairSync('ec', { namedCurve: 'secp256k1', publicKeyEncoding: { type: 'spki', format: 'der' }, privateKeyEncoding: { type: 'pkcs8', format: 'der' } });
    const good = buildDg14({ publicKey: pub13, parameterId: 13, cipher: 'AES-128' });
    const cases: { name: string; dgs: Map<number, Buffer>; truncate?: number; verdict: string; reasonCode: string; reason: RegExp }[] = [
      { name: 'DH group whose q does not divide p − 1', dgs: new Map([[14, dhDg14(std.p, std.g, std.q + 2n)]]), verdict: 'failed', reasonCode: 'malformed-key', reason: /DG14.*prime-order subgroup/ },
      { name: 'DH group whose g is outside the subgroup', dgs: new Map([[14, dhDg14(std.p, 2n, std.q)]]), verdict: 'failed', reasonCode: 'malformed-key', reason: /g does not generate/ },
      { name: 'unknown key algorithm', dgs: new Map([[14, tlv(0x6e, tlv(0x31, tlv(0x30, tlv(0x06, oidBytes(ID_PK_ECDH)), tlv(0x30, tlv(0x30, tlv(0x06, oidBytes('1.2.3.4'))), tlv(0x03, Buffer.from([0, 4])))))) ]]), verdict: 'failed', reasonCode: 'malformed-key', reason: /1\.2\.3\.4 is unknown/ },
      { name: 'DG14 with a wrong outer tag', dgs: new Map([[14, tlv(0x6d, tlv(0x31))]]), verdict: 'failed', reasonCode: 'malformed-key', reason: /tag 6E/ },
      { name: 'DG14 shorter than its length field', dgs: new Map([[14, good]]), truncate: 14, verdict: 'failed', reasonCode: 'malformed-key', reason: /DG14/ },
      { name: 'DG15 with a wrong outer tag', dgs: new Map([[15, tlv(0x6e, k1.publicKey)]]), verdict: 'failed', reasonCode: 'malformed-key', reason: /DG15.*tag 6F/ },
      { name: 'DG15 shorter than its length field', dgs: new Map([[15, buildDg15(k1.publicKey)]]), truncate: 15, verdict: 'failed', reasonCode: 'malformed-key', reason: /DG15/ },
      { name: 'DG15 on a curve this reader does not implement', dgs: new Map([[15, buildDg15(k1.publicKey)]]), verdict: 'not-supported', reasonCode: 'unsupported-algorithm', reason: /secp256k1/ },
    ];
    for (const c of cases) {
      const d = await buildDocument({ face: false, pki: smallDoc.pki, extraDataGroups: c.dgs });
      if (c.truncate) { const fid = 0x0100 + c.truncate; d.files.set(fid, d.files.get(fid)!.subarray(0, d.files.get(fid)!.length - 9)); }
      const { client } = await withCard(d);
      try {
        const res = await driver.readDocument({ reader: R0, bac: bac(d), csca: cscaStoreFrom([d.pki.csca.cert]) });
        expect(res.clone, c.name).toMatchObject({ verdict: c.verdict, reasonCode: c.reasonCode });
        expect(res.clone.reason, c.name).toMatch(c.reason);
        expect(res.mrz.documentNumber, c.name).toBe('D23145890'); // the rest of the chip was read
      } finally { await removeCard(client); }
    }
    const okDoc = await buildDocument({ faceBytes: 1500, pki: smallDoc.pki, chipAuth: { agreement: 'DH', cipher: 'AES-128', dhForm: 'standardized' } });
    const { client } = await withCard(okDoc);
    try {
      const res = await driver.readDocument({ reader: R0, bac: bac(okDoc), csca: cscaStoreFrom([okDoc.pki.csca.cert]) });
      expect(res.clone).toEqual({ verdict: 'chip-authenticated', method: 'CA DH AES-128 on MODP-1024/160 (RFC 5114)' });
      expect(res.passiveAuth.verdict).toBe('valid');
    } finally { await removeCard(client); }
  });
});

describe('fewer round trips: the largest answer the chip accepts', { timeout: 150_000 }, () => {
  it('extended length with EF.ATR/INFO: READ BINARY asks for what one protected answer of the chip\'s buffer holds, never more; the APDU count is the minimum for those bytes', async () => {
    for (const c of [{ pace: { can: '123456' }, read: { can: '123456' }, block: 16, overhead: 8 }, { read: {}, block: 8, overhead: 5 }]) {
      const { client, card } = await withCard(doc, { extendedLength: true, bufferSizes: { maxCommand: 1000, maxResponse: 1500 }, ...(c.pace ? { pace: c.pace } : {}) });
      try {
        const res = await driver.readDocument({ reader: R0, bac: bac(doc), ...c.read, csca: cscaStoreFrom([doc.pki.csca.cert]) });
        expect(res.passiveAuth.verdict).toBe('valid');
        const chunk = Math.floor((1500 - 19) / c.block) * c.block - 1;
        expect(res.chunkBytes).toBe(chunk);
        expect(card.oversizeResponses).toBe(0);
        const files = [res.com!, res.dg1, res.dg2!, res.sod];
        const minimum = files.reduce((a, f) => a + Math.ceil(f.length / chunk), 0);
        // + EF.ATR/INFO, EF.CardAccess, then PACE (MSE, 4 × GA, SELECT) or BAC (SELECT, GET CHALLENGE, MUTUAL AUTHENTICATE)
        expect(res.apduCount).toBe(minimum + c.overhead);
        // forcing a larger Le than the buffer is refused by the chip: the limit is real
        const tooBig = await expectError<StationError>(driver.readDocument({ reader: R0, bac: bac(doc), ...c.read, chunkSize: chunk + 64 }));
        expect(tooBig).toBeInstanceOf(StationError);
        expect(card.oversizeResponses).toBeGreaterThan(0);
      } finally { await removeCard(client); }
    }
  });
});
