/**
 * PACE Integrated Mapping (ECDH and DH), Chip Authentication Mapping (and its
 * faults) and the MRZ retry counter through the real pcscd + vpcd, with the
 * project's emulator on the virtual reader and the PC/SC driver reading it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PcscdProcess } from '../helpers/pcscd';
import { PcscCardReader } from '../../drivers/card/pcsc';
import { EmulatedEmrtd, paceInfosFor, type CardFaults, type PaceOptions } from '../../drivers/card/emulator/card';
import { VpcdCardClient } from '../../drivers/card/emulator/vpcd';
import { buildDocument, type EmrtdContents } from '../../drivers/card/emulator/document';
import { bacInputFromMrz } from '../../drivers/card/mrz';
import { cscaStoreFrom } from '../../drivers/card/passive-auth';
import { PACE_SUSPENDED_MESSAGE } from '../../drivers/card/emrtd';
import { StationError } from '../../drivers/common/errors';
import { runCardCli } from './cli-helper';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const R0 = 'Virtual PCD 00 00';
const CAN = '271828';
const pcscd = new PcscdProcess();
let doc: EmrtdContents;
let driver: PcscCardReader;
const clients: VpcdCardClient[] = [];

async function withCard(opts: { faults?: CardFaults; pace: PaceOptions }) {
  const card = new EmulatedEmrtd({ files: doc.files, mrzLines: doc.mrzLines, chipKeys: doc.chipKeys, faults: opts.faults, pace: opts.pace });
  const client = new VpcdCardClient(card);
  clients.push(client);
  const seen = new Promise<void>((resolve) => {
    const on = (e: { reader: string }) => { if (e.reader === R0) { driver.off('card-inserted', on); resolve(); } };
    driver.on('card-inserted', on);
  });
  await client.insert();
  await seen;
  return { card, client };
}

async function removeCard(client: VpcdCardClient): Promise<void> {
  if (!driver.readers().find((r) => r.name === R0)?.cardPresent) { await client.remove(); return; }
  const gone = new Promise<void>((resolve) => {
    const on = (e: { reader: string }) => { if (e.reader === R0) { driver.off('card-removed', on); resolve(); } };
    driver.on('card-removed', on);
  });
  await client.remove();
  await gone;
}

async function expectError(p: Promise<unknown>): Promise<StationError> {
  try { await p; } catch (e) { return e as StationError; }
  throw new Error('expected the read to fail');
}

const bac = () => bacInputFromMrz(doc.mrzLines.join('\n'));
const csca = () => cscaStoreFrom([doc.pki.csca.cert]);

beforeAll(async () => {
  doc = await buildDocument({ faceBytes: 2000, chipAuth: true });
  await pcscd.start();
  driver = new PcscCardReader({ readerPattern: 'Virtual PCD', recoverIntervalMs: 200 });
  await driver.open();
  if (!driver.readers().some((r) => r.name === R0)) {
    await new Promise<void>((resolve) => { const on = () => { if (driver.readers().some((r) => r.name === R0)) { driver.off('reader-added', on); resolve(); } }; driver.on('reader-added', on); on(); });
  }
}, 16 * 60_000); // waiting for the machine-wide pcscd lock (another file may hold it) is not a speed assertion

afterAll(async () => {
  for (const c of clients) await c.remove();
  await driver?.close();
  await pcscd.stop();
}, 60_000);

describe('PACE IM, CAM and the retry counter over real pcscd + vpcd', { timeout: 150_000 }, () => {
  it('ECDH-IM with the CAN and DH-IM with the MRZ: the record says mapping IM; passive and chip authentication pass', async () => {
    for (const [agreement, password] of [['ECDH', 'CAN'], ['DH', 'MRZ']] as const) {
      const { client, card } = await withCard({ pace: { can: CAN, infos: paceInfosFor('IM', agreement) } });
      try {
        const res = await driver.readDocument({ reader: R0, ...(password === 'CAN' ? { can: CAN } : { bac: bac() }), csca: csca() });
        expect(res.access).toMatchObject({ protocol: 'PACE', password, mapping: 'IM', agreement, cipher: 'AES-128' });
        expect(res.passiveAuth.verdict).toBe('valid');
        expect(res.clone.verdict).toBe('chip-authenticated');
        expect(card.paceSuccesses).toBe(1);
      } finally { await removeCard(client); }
    }
  });

  it('CAM offered next to GM: CAM runs, the chip is authenticated within PACE (no separate Chip Authentication)', async () => {
    const { client, card } = await withCard({ pace: { can: CAN, infos: [...paceInfosFor('GM'), ...paceInfosFor('CAM')] } });
    try {
      const res = await driver.readDocument({ reader: R0, can: CAN, csca: csca() });
      expect(res.access).toMatchObject({ protocol: 'PACE', mapping: 'CAM', agreement: 'ECDH' });
      expect(res.clone).toEqual({ verdict: 'chip-authenticated', method: 'PACE-CAM ECDH AES-128 on brainpoolP256r1' });
      expect(card.caRuns).toBe(0);
      expect(res.passiveAuth.verdict).toBe('valid');
    } finally { await removeCard(client); }
  });

  it('CAM faults fail closed: a chip without DG14\'s private key, and a wrong A_IC, are verdict failed (cam-mismatch)', async () => {
    for (const faults of [{ badCaKey: true }, { badCamData: true }]) {
      const { client } = await withCard({ pace: { can: CAN, infos: paceInfosFor('CAM') }, faults });
      try {
        const res = await driver.readDocument({ reader: R0, can: CAN, csca: csca() });
        expect(res.access.mapping).toBe('CAM');
        expect(res.clone).toMatchObject({ verdict: 'failed', reasonCode: 'cam-mismatch' });
        expect(res.passiveAuth.verdict).toBe('valid'); // a full clone passes passive authentication; only CAM tells it apart
      } finally { await removeCard(client); }
    }
  });

  it('PACE-only chip with a retry counter: wrong MRZ → 2 tries left → suspended (asks for the CAN) → the CAN reads the card', async () => {
    const { client, card } = await withCard({ pace: { can: CAN, infos: paceInfosFor('GM'), only: true, retries: 3 } });
    try {
      const wrong = { ...bac(), documentNumber: 'X12345678' };
      const e1 = await expectError(driver.readDocument({ reader: R0, bac: wrong }));
      expect(e1.code).toBe('CARD_ACCESS_DENIED');
      expect(e1.details).toMatchObject({ attemptsLeft: 2, password: 'MRZ' });
      const e2 = await expectError(driver.readDocument({ reader: R0, bac: wrong }));
      expect(e2.code).toBe('CARD_PACE_SUSPENDED');
      const e3 = await expectError(driver.readDocument({ reader: R0, bac: bac() }));
      expect(e3.code).toBe('CARD_PACE_SUSPENDED');
      expect(e3.message).toBe(PACE_SUSPENDED_MESSAGE);
      expect(card.bacAttempts).toBe(0);
      const ok = await driver.readDocument({ reader: R0, can: CAN, csca: csca() });
      expect(ok.access.password).toBe('CAN');
      expect(ok.passiveAuth.verdict).toBe('valid');
    } finally { await removeCard(client); }
  });

  it('station card emulate --pace-mapping CAM with the cccd profile, read by station card read --can (access and clone verdict); bad options are usage errors', async () => {
    for (const args of [['--pace-mapping', 'XM'], ['--pace-mapping', 'CAM', '--pace-dh'], ['--pace-retries', '0']]) {
      const r = await runCardCli(['card', 'emulate', '--port', '35964', ...args]);
      expect(r.code).toBe(2);
    }
    const dir = mkdtempSync(join(tmpdir(), 'card-cli-cam-'));
    const csca = join(dir, 'csca.pem');
    const child = spawn(process.execPath, [require.resolve('ts-node/dist/bin.js'), '--transpile-only', '-e',
      "const { Command } = require('commander'); const p = new Command('station'); p.option('--debug'); require('./station/cli/card').register(p); p.parseAsync(['node', 'station', ...process.argv.slice(1)]);",
      'card', 'emulate', '--port', '35964', '--csca-out', csca, '--profile', 'cccd', '--pace-mapping', 'CAM'], { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (d) => { out += d; });
    child.stderr!.on('data', (d) => { out += d; });
    try {
      await new Promise<void>((resolve) => { const on = (e: { reader: string }) => { if (e.reader === 'Virtual PCD 00 01') { driver.off('card-inserted', on); resolve(); } }; driver.on('card-inserted', on); });
      for (let i = 0; i < 400 && !out.includes('press Ctrl-C'); i++) await new Promise((r) => setTimeout(r, 50));
      expect(out).toContain('(profile cccd, PACE ECDH-CAM and BAC)');
      const read = await runCardCli(['card', 'read', '--reader', 'Virtual PCD 00 01', '--can', '012345', '--csca', csca, '--json']);
      expect(read.code).toBe(0);
      const j = JSON.parse(read.out);
      expect(j.access).toMatchObject({ protocol: 'PACE', password: 'CAN', mapping: 'CAM' });
      expect(j.passiveAuth.verdict).toBe('valid');
      expect(j.clone).toMatchObject({ verdict: 'chip-authenticated', method: 'PACE-CAM ECDH AES-128 on brainpoolP256r1' });
      // the human summary names what authenticated the chip
      const human = await runCardCli(['card', 'read', '--reader', 'Virtual PCD 00 01', '--can', '012345', '--csca', csca]);
      expect(human.out).toMatch(/clone check: +CHIP-AUTHENTICATED \(PACE-CAM ECDH AES-128 on brainpoolP256r1\)/);
      expect(human.code).toBe(0);
    } finally {
      const gone = new Promise<void>((resolve) => { const on = (e: { reader: string }) => { if (e.reader === 'Virtual PCD 00 01') { driver.off('card-removed', on); resolve(); } }; driver.on('card-removed', on); });
      child.kill('SIGTERM');
      await gone;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
