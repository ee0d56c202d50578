/**
 * `npm run bench -- card`: a full chip read (BAC + EF.COM + DG1 + ~20 KB DG2 +
 * EF.SOD with secure messaging, short APDUs) against the floor of the same
 * number of plain APDU round trips (GET CHALLENGE) to the same emulated card
 * through the same pcscd + vpcd, in the same run. Starts its own pcscd.
 */
import { PcscdProcess } from '../helpers/pcscd';
import { PcscCardReader } from '../../drivers/card/pcsc';
import { SimulatedCardReader } from '../../drivers/card/simulated';
import { EmulatedEmrtd } from '../../drivers/card/emulator/card';
import { VpcdCardClient } from '../../drivers/card/emulator/vpcd';
import { buildDocument } from '../../drivers/card/emulator/document';
import { bacInputFromMrz } from '../../drivers/card/mrz';
import { cscaStoreFrom } from '../../drivers/card/passive-auth';
import { encodeCommand } from '../../drivers/card/apdu';

const GOAL = 1.3;
const ROUNDS = 3;

export async function run(): Promise<void> {
  const doc = await buildDocument({ faceBytes: 20_000 });
  const bac = bacInputFromMrz(doc.mrzLines.join('\n'));
  const csca = cscaStoreFrom([doc.pki.csca.cert]);
  const pcscd = new PcscdProcess();
  await pcscd.start();
  const driver = new PcscCardReader({ readerPattern: 'Virtual PCD 00 00' });
  const emu = new VpcdCardClient(new EmulatedEmrtd({ files: doc.files, mrzLines: doc.mrzLines }));
  try {
    await driver.open();
    await emu.insert();
    const info = await driver.waitForCard({ timeoutMs: 20_000 });
    const challenge = encodeCommand({ cla: 0, ins: 0x84, p1: 0, p2: 0, le: 8 });
    const selectApp = encodeCommand({ cla: 0, ins: 0xa4, p1: 4, p2: 0x0c, data: Buffer.from('A0000002471001', 'hex') });
    // warm-up
    await driver.readDocument({ reader: info.name, bac, csca, readDg2: false });
    let readMs = 0, floorMs = 0, apdus = 0, dg2Bytes = 0;
    for (let i = 0; i < ROUNDS; i++) {
      const t0 = performance.now();
      const res = await driver.readDocument({ reader: info.name, bac, csca });
      const t1 = performance.now();
      if (res.passiveAuth.verdict !== 'valid') throw new Error(`bench read not valid: ${res.passiveAuth.reason}`);
      readMs += t1 - t0;
      apdus += res.apduCount;
      dg2Bytes = res.dg2?.length ?? 0;
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
    const sim = new SimulatedCardReader({ contents: doc });
    await sim.open();
    const s0 = performance.now();
    const sres = await sim.readDocument({ bac, csca });
    const simMs = performance.now() - s0;
    await sim.close();

    const perApdu = readMs / apdus;
    const floorPerApdu = floorMs / apdus;
    const ratio = readMs / floorMs;
    console.error(`chip read: ${apdus / ROUNDS} APDUs, ${(readMs / ROUNDS).toFixed(0)} ms/read (${perApdu.toFixed(2)} ms/APDU); plain floor ${(floorMs / ROUNDS).toFixed(0)} ms (${floorPerApdu.toFixed(2)} ms/APDU); in-process ${simMs.toFixed(0)} ms`);
    console.log(JSON.stringify({
      bench: 'card', ratio: Number(ratio.toFixed(3)), goal: GOAL, better: 'lower',
      apdusPerRead: apdus / ROUNDS, dg2Bytes,
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
