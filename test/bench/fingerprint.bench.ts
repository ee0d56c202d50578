/**
 * npm run bench -- fingerprint
 *
 * 1. Image upload wall time through the simulator paced at 115200 baud (R307, 256×288, 4-bit,
 *    288 packets of 128 bytes) against the theoretical line time of the same bytes at that baud
 *    (UpImage command + ack + data packets, 10 bits per byte). Goal ≤ 1.05×.
 * 2. CPU time per image for unpack 4→8 bit + quality score + PNG (the driver's path) against a
 *    bare sharp 8-bit grey PNG encode of the same pixels. Goal ≤ 1.5×.
 * 3. The session duplicate check (#22.1): bytes it moves on the line per captured finger (the same
 *    capture flow with and without it, counted by the simulator), against one template transfer
 *    (goal ≤ 1 template transfer per finger) and against the image upload's line time. R307: the
 *    template stays inside the module (Img2Tz/Search/Store); GT-521F52: one MakeTemplate out and
 *    one SetTemplate back in, as the module can keep a single capture's template no other way.
 * The headline ratio is the worse of the three relative to its goal (named in "headline").
 */
import sharp from 'sharp';
import { captureFinger, createScanner, startSimulator, type FingerprintModel } from '../../drivers/fingerprint';
import { modelInfo } from '../../drivers/fingerprint/models';
import { r30xLineTimeMs } from '../../drivers/fingerprint/r30x-codec';
import { gtLineTimeMs } from '../../drivers/fingerprint/gt-codec';
import { pack4, processImage } from '../../drivers/fingerprint/image';
import { generateFingerImage } from '../../drivers/fingerprint/sim';

const median = (a: number[]): number => {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function uploadFigures(): Promise<{ uploadMs: number; lineMs: number; ratio: number; runs: number[] }> {
  const baud = 115200;
  const sim = await startSimulator({ model: 'r307', image: 'good', baud, paceBaud: true });
  const sc = createScanner({ model: 'r307', port: sim.path, baud });
  try {
    await sc.open();
    const runs: number[] = [];
    for (let i = 0; i < 3; i++) {
      const img = await sc.captureImage({ timeoutMs: 20000 });
      runs.push(img.uploadMs);
      await sc.waitForFingerRemoved({ timeoutMs: 20000 });
    }
    const packets = Math.ceil((256 * 288) / 2 / 128);
    const bytes = 12 /* UpImage */ + 12 /* ack */ + packets * (11 + 128);
    const lineMs = (bytes * 10 * 1000) / baud;
    const uploadMs = median(runs);
    return { uploadMs, lineMs, ratio: uploadMs / lineMs, runs };
  } finally {
    await sc.close();
    await sim.stop();
  }
}

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

async function cpuFigures(): Promise<{ pipelineMs: number; bareMs: number; ratio: number }> {
  const w = 256;
  const h = 288;
  const images = [1, 2, 3, 4].map((seed) => {
    const px = generateFingerImage('good', w, h, seed);
    const wire = pack4(px);
    return { wire, pixels: Buffer.from(px.map((_, i) => ((wire[i >> 1] >> (i & 1 ? 0 : 4)) & 15) * 17)) };
  });
  const bare = (p: Buffer) => sharp(p, { raw: { width: w, height: h, channels: 1 } }).toColourspace('b-w').png().toBuffer();
  // warm up both paths
  for (const im of images) {
    await bare(im.pixels);
    await processImage(im.wire, w, h, 4, 500);
  }
  const n = 60;
  const pipe: number[] = [];
  const base: number[] = [];
  for (let round = 0; round < 7; round++) {
    let t = cpuMs();
    for (let i = 0; i < n; i++) await bare(images[i % 4].pixels);
    base.push((cpuMs() - t) / n);
    t = cpuMs();
    for (let i = 0; i < n; i++) await processImage(images[i % 4].wire, w, h, 4, 500);
    pipe.push((cpuMs() - t) / n);
  }
  const pipelineMs = median(pipe);
  const bareMs = median(base);
  return { pipelineMs, bareMs, ratio: pipelineMs / bareMs };
}

interface DupFigures { model: FingerprintModel; dupBytesPerFinger: number; templateTransferBytes: number; transfers: number; dupLineMs: number; imageLineMs: number }

/** Bytes the duplicate check adds per finger: N fingers captured with it minus the same N without it. */
async function dupFigures(model: FingerprintModel): Promise<DupFigures> {
  const m = modelInfo(model);
  const baud = m.defaultBaud;
  const sim = await startSimulator({ model, autoFinger: false, baud });
  const sc = createScanner({ model, port: sim.path, baud });
  const fingers = [1, 2, 3, 4, 5, 6];
  try {
    await sc.open();
    const pass = async (dup: boolean): Promise<{ bytes: number }> => {
      if (dup) await sc.sessionBegin();
      const b0 = sim.device.bytesIn + sim.device.bytesOut;
      for (const p of fingers) {
        sim.placeFinger('good', `bench finger ${p}`);
        await captureFinger(sc, { position: p, maxAttempts: 1, duplicateCheck: dup, waitForRemoval: false, fingerTimeoutMs: 20000 });
        sim.removeFinger();
      }
      const bytes = sim.device.bytesIn + sim.device.bytesOut - b0;
      if (dup) await sc.sessionEnd();
      return { bytes };
    };
    const plain = await pass(false);
    const withDup = await pass(true);
    const dupBytesPerFinger = (withDup.bytes - plain.bytes) / fingers.length;
    const r30x = m.family === 'r30x';
    // one template moved over the line, framed: R30x data packets of 128 bytes; GT one data packet
    const templateTransferBytes = r30x ? Math.ceil(m.templateBytes / 128) * (11 + 128) : m.templateBytes + 6;
    const imageBytes = (m.width * m.height * m.wireBits) / 8;
    const imageLineMs = r30x ? r30xLineTimeMs(imageBytes, 128, baud) : gtLineTimeMs(imageBytes, baud);
    return {
      model, dupBytesPerFinger, templateTransferBytes, transfers: dupBytesPerFinger / templateTransferBytes,
      dupLineMs: (dupBytesPerFinger * 10 * 1000) / baud, imageLineMs,
    };
  } finally {
    await sc.close();
    await sim.stop();
  }
}

export async function run(): Promise<void> {
  const dups: DupFigures[] = [];
  for (const model of ['r307', 'gt521f52'] as FingerprintModel[]) {
    const d = await dupFigures(model);
    dups.push(d);
    console.error(`duplicate check ${model}: ${d.dupBytesPerFinger.toFixed(0)} bytes per finger on the line = ${d.transfers.toFixed(2)} template transfer(s) of ${d.templateTransferBytes} bytes; line time ${d.dupLineMs.toFixed(0)} ms vs the image upload's ${d.imageLineMs.toFixed(0)} ms (${(100 * d.dupLineMs / d.imageLineMs).toFixed(1)} %)`);
  }
  const up = await uploadFigures();
  console.error(`upload: ${up.runs.map((r) => r.toFixed(0)).join(', ')} ms (median ${up.uploadMs.toFixed(0)}) vs line time ${up.lineMs.toFixed(0)} ms at 115200 → ${up.ratio.toFixed(3)}×`);
  const cpu = await cpuFigures();
  console.error(`cpu per image: pipeline ${cpu.pipelineMs.toFixed(2)} ms vs bare PNG ${cpu.bareMs.toFixed(2)} ms → ${cpu.ratio.toFixed(3)}×`);
  const uploadGoal = 1.05;
  const cpuGoal = 1.5;
  const dupGoal = 1;
  const r307 = dups[0]!;
  const gt = dups[1]!;
  const cands = [
    { name: 'upload', ratio: up.ratio, goal: uploadGoal },
    { name: 'cpu', ratio: cpu.ratio, goal: cpuGoal },
    { name: 'duplicate-check', ratio: r307.transfers, goal: dupGoal },
  ];
  const worst = cands.reduce((a, b) => (b.ratio / b.goal > a.ratio / a.goal ? b : a));
  const round = (x: number, d = 3) => Math.round(x * 10 ** d) / 10 ** d;
  console.log(JSON.stringify({
    bench: 'fingerprint',
    ratio: round(worst.ratio),
    goal: worst.goal,
    better: 'lower',
    headline: worst.name,
    uploadRatio: round(up.ratio), uploadGoal, uploadMs: round(up.uploadMs, 1), lineMs: round(up.lineMs, 1), baud: 115200, model: 'r307',
    cpuRatio: round(cpu.ratio), cpuGoal, pipelineCpuMs: round(cpu.pipelineMs), barePngCpuMs: round(cpu.bareMs),
    dupTemplateTransfersR307: round(r307.transfers), dupGoal, dupBytesPerFingerR307: round(r307.dupBytesPerFinger, 0), templateTransferBytesR307: r307.templateTransferBytes,
    dupLineMsR307: round(r307.dupLineMs, 1), imageLineMsR307: round(r307.imageLineMs, 1),
    dupTemplateTransfersGt521f52: round(gt.transfers), dupBytesPerFingerGt521f52: round(gt.dupBytesPerFinger, 0), templateTransferBytesGt521f52: gt.templateTransferBytes,
    dupLineMsGt521f52: round(gt.dupLineMs, 1), imageLineMsGt521f52: round(gt.imageLineMs, 1),
  }));
}
