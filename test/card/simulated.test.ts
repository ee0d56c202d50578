/**
 * The in-process simulated reader (demo without pcscd): same interface, same
 * APDU bytes as over PC/SC. The ICAO reading itself is tested over real pcscd in pcsc.test.ts.
 */
import { describe, expect, it, beforeAll } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCardReader, SIMULATED_READER_NAME, SimulatedCardReader } from '../../drivers/card';
import { buildDocument, type EmrtdContents } from '../../drivers/card/emulator/document';
import { bacInputFromMrz } from '../../drivers/card/mrz';
import { cscaStoreFrom } from '../../drivers/card/passive-auth';
import { DeviceTimeoutError, DisconnectedError, StationError } from '../../drivers/common/errors';
import { runCardCli } from './cli-helper';

let doc: EmrtdContents;
beforeAll(async () => { doc = await buildDocument({ faceBytes: 3000 }); });
const bac = () => bacInputFromMrz(doc.mrzLines.join('\n'));

async function rejectOf(p: Promise<unknown>): Promise<StationError> {
  try { await p; } catch (e) { return e as StationError; }
  throw new Error('expected rejection');
}

describe('simulated reader (in-process emulator)', () => {
  it('exposes the same interface and events, and reads a valid document', async () => {
    const events: string[] = [];
    const r = createCardReader({ mode: 'simulated', contents: doc });
    for (const e of ['reader-added', 'card-inserted', 'card-removed', 'reader-removed']) r.on(e, () => events.push(e));
    await r.open();
    expect(r.mode).toBe('simulated');
    expect(r.readers()).toEqual([{ name: SIMULATED_READER_NAME, cardPresent: true, atr: expect.stringMatching(/^3B/) }]);
    const res = await r.readDocument({ bac: bac(), csca: cscaStoreFrom([doc.pki.csca.cert]) });
    expect(res.passiveAuth.verdict).toBe('valid');
    expect(res.dg2!.equals(doc.files.get(0x0102)!)).toBe(true);
    await r.close();
    expect(events).toEqual(['reader-added', 'card-inserted', 'card-removed', 'reader-removed']);
  });

  it('removal mid-read, wrong MRZ and slow answers behave as on PC/SC', async () => {
    const r = new SimulatedCardReader({ contents: doc, faults: { removeAfterApdus: 8 } });
    await r.open();
    const e1 = await rejectOf(r.readDocument({ bac: bac() }));
    expect(e1).toBeInstanceOf(DisconnectedError);
    expect(e1.code).toBe('CARD_REMOVED');
    expect(r.readers()[0]!.cardPresent).toBe(false);
    r.card!.setFaults({});
    r.insert();
    expect((await r.readDocument({ bac: bac() })).mrz.documentNumber).toBe('D23145890');
    const e2 = await rejectOf(r.readDocument({ bac: { ...bac(), expiryDate: '340416' } }));
    expect(e2.code).toBe('CARD_ACCESS_DENIED');
    expect(r.card!.bacFailures).toBe(1);
    r.card!.setFaults({ slowMs: 300, slowAfterApdus: 2 });
    const e3 = await rejectOf(r.readDocument({ bac: bac(), channel: { timeoutMs: 100 } }));
    expect(e3).toBeInstanceOf(DeviceTimeoutError);
    await r.close();
  });

  it('reads files over 32 KB with odd-INS READ BINARY (offset in DO 54), short and extended', async () => {
    const big = await buildDocument({ faceBytes: 45_000, pki: doc.pki });
    expect(big.files.get(0x0102)!.length).toBeGreaterThan(40_000);
    for (const extendedLength of [false, true]) {
      const r = new SimulatedCardReader({ contents: big, extendedLength });
      await r.open();
      const res = await r.readDocument({ bac: bacInputFromMrz(big.mrzLines.join('\n')), csca: cscaStoreFrom([big.pki.csca.cert]) });
      await r.close();
      expect(res.dg2!.equals(big.files.get(0x0102)!)).toBe(true);
      expect(res.passiveAuth.verdict).toBe('valid');
    }
  });

  it('tampering is applied once even when faults are set again', async () => {
    const r = new SimulatedCardReader({ contents: doc, faults: { tamperDataGroup: 2 } });
    await r.open();
    r.card!.setFaults({ ...r.card!.faults, slowMs: 0 });
    const orig = doc.files.get(0x0102)!, now = r.card!.files.get(0x0102)!;
    let diff = 0;
    for (let i = 0; i < orig.length; i++) if (orig[i] !== now[i]) diff++;
    expect(diff).toBe(1);
    const res = await r.readDocument({ bac: bac(), csca: cscaStoreFrom([doc.pki.csca.cert]) });
    expect(res.passiveAuth).toMatchObject({ verdict: 'invalid', reasonCode: 'hash-mismatch' });
    await r.close();
  });

  it('keeps a malformed JPEG 2000 face raw and says why, without failing the read', async () => {
    const jp2 = Buffer.concat([Buffer.from('0000000C6A5020200D0A870A', 'hex'), Buffer.alloc(400, 3)]);
    const d2 = await buildDocument({ face: { image: jp2, width: 90, height: 120, format: 'jpeg2000' }, pki: doc.pki });
    const r = new SimulatedCardReader({ contents: d2 });
    await r.open();
    const res = await r.readDocument({ bac: bacInputFromMrz(d2.mrzLines.join('\n')) });
    await r.close();
    expect(res.face!.format).toBe('jpeg2000');
    expect(res.face!.raw.equals(jp2)).toBe(true);
    // Decodable JPEG 2000 faces are covered in jpeg2000.test.ts; these bytes are not one.
    expect(res.faceJpeg).toBeUndefined();
    expect(res.face!.errorCode).toBe('CARD_BAD_DATA');
    expect(res.face!.note).toMatch(/malformed data in DG2: JP2 box '0x03030303' at byte 12 has a bad length; raw bytes kept/);
    // the rest of the read came back: MRZ and a verdict (no CSCA store given here: fails closed)
    expect(res.mrz.documentNumber).toBe(doc.mrzLines[0]!.slice(5, 14).replace(/<+$/, ''));
    expect(res.passiveAuth).toMatchObject({ verdict: 'invalid', reasonCode: 'no-csca-store' });
  });
});

describe('station card read --simulated', () => {
  const cli = runCardCli;

  it('reads, writes the photo and prints JSON; usage errors exit 2; wrong MRZ exits 1 with the officer message', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'card-cli-'));
    try {
      const photo = join(dir, 'face.jpg');
      const ok = await cli(['card', 'read', '--simulated', '--doc', 'D23145890', '--birth', '740812', '--expiry', '340415', '--json', '--photo', photo]);
      expect(ok.code).toBe(0);
      const j = JSON.parse(ok.out);
      expect(j.mrz.documentNumber).toBe('D23145890');
      expect(j.passiveAuth.verdict).toBe('valid');
      expect(j.face.format).toBe('jpeg');
      expect(readFileSync(photo).subarray(0, 3).toString('hex')).toBe('ffd8ff');
      const human = await cli(['card', 'read', '--simulated', '--mrz', doc.mrzLines.join('\n')]);
      expect(human.out).toMatch(/document: +I D23145890/);
      const bad = await cli(['card', 'read', '--simulated', '--doc', 'D23145890', '--birth', '741312', '--expiry', '340415']);
      expect(bad.code).toBe(2);
      expect(bad.err).toMatch(/birth date "741312" must be YYMMDD/);
      const neither = await cli(['card', 'read', '--simulated']);
      expect(neither.code).toBe(2);
      const denied = await cli(['card', 'read', '--simulated', '--doc', 'X1234567', '--birth', '740812', '--expiry', '340415']);
      expect(denied.code).toBe(1);
      expect(denied.err).toContain('access denied — check the document number and dates');
      expect(denied.err).not.toMatch(/\n\s+at /); // no stack trace without --debug
    } finally { rmSync(dir, { recursive: true, force: true }); }
  });
});
