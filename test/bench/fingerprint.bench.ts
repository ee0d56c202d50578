/**
 * npm run bench -- fingerprint
 *
 * 1. Image upload wall time through the simulator paced at 115200 baud (R307, 256×288, 4-bit,
 *    288 packets of 128 bytes) against the theoretical line time of the same bytes at that baud
 *    (UpImage command + ack + data packets, 10 bits per byte). Goal ≤ 1.05×.
 * 2. CPU time per image for unpack 4→8 bit + quality score + PNG (the driver's path) against a
 *    bare sharp 8-bit grey PNG encode of the same pixels. Goal ≤ 1.5×.
 * The headline ratio is the worse of the two relative to its goal (named in "headline").
 */
import sharp from 'sharp';
import { createScanner, startSimulator } from '../../drivers/fingerprint';
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

export async function run(): Promise<void> {
  const up = await uploadFigures();
  console.error(`upload: ${up.runs.map((r) => r.toFixed(0)).join(', ')} ms (median ${up.uploadMs.toFixed(0)}) vs line time ${up.lineMs.toFixed(0)} ms at 115200 → ${up.ratio.toFixed(3)}×`);
  const cpu = await cpuFigures();
  console.error(`cpu per image: pipeline ${cpu.pipelineMs.toFixed(2)} ms vs bare PNG ${cpu.bareMs.toFixed(2)} ms → ${cpu.ratio.toFixed(3)}×`);
  const uploadGoal = 1.05;
  const cpuGoal = 1.5;
  const uploadWorse = up.ratio / uploadGoal >= cpu.ratio / cpuGoal;
  const round = (x: number, d = 3) => Math.round(x * 10 ** d) / 10 ** d;
  console.log(JSON.stringify({
    bench: 'fingerprint',
    ratio: round(uploadWorse ? up.ratio : cpu.ratio),
    goal: uploadWorse ? uploadGoal : cpuGoal,
    better: 'lower',
    headline: uploadWorse ? 'upload' : 'cpu',
    uploadRatio: round(up.ratio), uploadGoal, uploadMs: round(up.uploadMs, 1), lineMs: round(up.lineMs, 1), baud: 115200, model: 'r307',
    cpuRatio: round(cpu.ratio), cpuGoal, pipelineCpuMs: round(cpu.pipelineMs), barePngCpuMs: round(cpu.bareMs),
  }));
}
