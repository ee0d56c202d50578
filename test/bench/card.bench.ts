/**
 * `npm run bench -- card`: a PACE-CAN read of a Vietnamese citizen card
 * (EF.COM, DG1, a ~20 KB DG2, DG13, DG14, EF.SOD with passive authentication and
 * Chip Authentication, AES secure messaging, short APDUs as on contactless
 * readers) against the same number of plain APDU round trips (GET CHALLENGE) to
 * the same emulated card through the same pcscd + vpcd, in the same run. Also
 * the APDU count against the minimum the chip's answer size allows for those
 * bytes (each file in answers of the largest Le one protected answer holds).
 * Starts its own pcscd.
 */
import { PcscdProcess } from '../helpers/pcscd';
import { PcscCardReader } from '../../drivers/card/pcsc';
import { SimulatedCardReader } from '../../drivers/card/simulated';
import { EmulatedEmrtd } from '../../drivers/card/emulator/card';
import { VpcdCardClient } from '../../drivers/card/emulator/vpcd';
import { buildDocument } from '../../drivers/card/emulator/document';
import { cscaStoreFrom } from '../../drivers/card/passive-auth';
import { encodeCommand } from '../../drivers/card/apdu';

const GOAL = 1.1;
const APDU_GOAL = 1.1;
const ROUNDS = 3;

export async function run(): Promise<void> {
  const doc = await buildDocument({ faceBytes: 20_000, cccd: { generation: '2021' }, chipAuth: true });
  const can = doc.can!;
  const csca = cscaStoreFrom([doc.pki.csca.cert]);
  const pcscd = new PcscdProcess();
  await pcscd.start();
  const driver = new PcscCardReader({ readerPattern: 'Virtual PCD 00 00' });
  const chip = () => new EmulatedEmrtd({ files: doc.files, mrzLines: doc.mrzLines, pace: { can }, noMfSelect: true, chipKeys: doc.chipKeys });
  const emu = new VpcdCardClient(chip());
  try {
    await driver.open();
    await emu.insert();
    const info = await driver.waitForCard({ timeoutMs: 20_000 });
    const challenge = encodeCommand({ cla: 0, ins: 0x84, p1: 0, p2: 0, le: 8 });
    const selectApp = encodeCommand({ cla: 0, ins: 0xa4, p1: 4, p2: 0x0c, data: Buffer.from('A0000002471001', 'hex') });
    // warm-up
    await driver.readDocument({ reader: info.name, can, csca, readDg2: false });
    let readMs = 0, floorMs = 0, apdus = 0, minimum = 0, fileBytes = 0, chunk = 0;
    for (let i = 0; i < ROUNDS; i++) {
      const t0 = performance.now();
      const res = await driver.readDocument({ reader: info.name, can, csca });
      const t1 = performance.now();
      if (res.passiveAuth.verdict !== 'valid') throw new Error(`bench read not valid: ${res.passiveAuth.reason}`);
      if (res.clone.verdict !== 'chip-authenticated') throw new Error(`bench read not chip-authenticated: ${res.clone.reason}`);
      if (res.access.protocol !== 'PACE' || !res.cccd?.fullName) throw new Error('bench read did not run PACE or decode DG13');
      readMs += t1 - t0;
      apdus += res.apduCount;
      chunk = res.chunkBytes;
      const files = [res.com, res.dg1, res.dg2, res.dg13, res.dg14, res.sod].filter((f): f is Buffer => Boolean(f));
      fileBytes = files.reduce((a, f) => a + f.length, 0);
      minimum = files.reduce((a, f) => a + Math.ceil(f.length / chunk), 0);
      // Floor: the same number of plain round trips on a fresh connection (connect + disconnect included, as in the read).
      const f0 = performance.now();
      const ch = await driver.connect(info.name);
      await ch.transmit(selectApp);
      for (let k = 1; k < res.apduCount; k++) {
        const r = await ch.transmit(challenge);
        if (r.sw !== 0x9000) throw new Error(`plain APDU failed: ${r.sw.toString(16)}`);
      }
      await ch.close();
      floorMs += performance.now() - f0;
    }
    // In-process figure: the same read without pcscd/vpcd (crypto + parsing cost per APDU).
    const sim = new SimulatedCardReader({ contents: doc, pace: { can }, noMfSelect: true });
    await sim.open();
    const s0 = performance.now();
    const sres = await sim.readDocument({ can, csca });
    const simMs = performance.now() - s0;
    await sim.close();

    const perRead = apdus / ROUNDS;
    const perApdu = readMs / apdus;
    const floorPerApdu = floorMs / apdus;
    const ratio = readMs / floorMs;
    const apduRatio = perRead / minimum;
    console.error(`chip read (PACE-CAN + CA + PA, ${fileBytes} bytes): ${perRead} APDUs (minimum ${minimum} at ${chunk} bytes per answer, ${apduRatio.toFixed(3)}×), ${(readMs / ROUNDS).toFixed(0)} ms/read (${perApdu.toFixed(2)} ms/APDU); plain floor ${(floorMs / ROUNDS).toFixed(0)} ms (${floorPerApdu.toFixed(2)} ms/APDU); in-process ${simMs.toFixed(0)} ms`);
    console.log(JSON.stringify({
      bench: 'card', ratio: Number(ratio.toFixed(3)), goal: GOAL, better: 'lower',
      apduRatio: Number(apduRatio.toFixed(3)), apduGoal: APDU_GOAL, apdusPerRead: perRead, minimumApdus: minimum, chunkBytes: chunk, fileBytes,
      readMs: Number((readMs / ROUNDS).toFixed(1)), floorMs: Number((floorMs / ROUNDS).toFixed(1)),
      msPerApdu: Number(perApdu.toFixed(3)), floorMsPerApdu: Number(floorPerApdu.toFixed(3)),
      overheadMsPerApdu: Number((perApdu - floorPerApdu).toFixed(3)),
      inProcessReadMs: Number(simMs.toFixed(1)), inProcessMsPerApdu: Number((simMs / sres.apduCount).toFixed(3)),
      rounds: ROUNDS,
    }));
  } finally {
    await emu.remove();
    await driver.close();
    await pcscd.stop();
  }
}
