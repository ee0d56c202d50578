/**
 * `npm run bench -- portrait`: a 12 MP camera JPEG → ID portrait + face detection + quality
 * metrics (processPortrait), against the bare limit measured in the same run on the same frame:
 * sharp decoding the file and producing a 480×640 JPEG with resize/cover (shrink-on-load on) and
 * nothing else, plus the bare model inference (Tiny Face Detector + 68 landmarks) on the frame
 * scaled to the detector's 640 px input. Goal: ratio ≤ 1.2.
 */
import sharp from 'sharp';
import { loadFaceModel } from '../../drivers/camera/face';
import { processPortrait } from '../../drivers/camera/portrait';
import { renderScene } from '../../drivers/camera/sim/scene';

const W = 4056, H = 3040; // Raspberry Pi HQ camera full resolution, 12.3 MP
const PASSES = 15;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

export async function run(): Promise<void> {
  const frame = await renderScene({ width: W, height: H, seed: 12, quality: 92 });
  const detector = await loadFaceModel();
  console.error(`# 12 MP frame: ${W}×${H}, ${(frame.length / 1e6).toFixed(2)} MB JPEG, sharp concurrency ${sharp.concurrency()}, ${detector.name}`);
  const quality = 90;
  // the detector's input, prepared once outside the timing: the inference alone is the bare figure
  const det = await sharp(frame).resize(640, 640, { fit: 'inside' }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const bareSharp = async (): Promise<void> => {
    await sharp(frame).resize(480, 640, { fit: 'cover' }).jpeg({ quality }).toBuffer();
  };
  const bareModel = async (): Promise<void> => {
    const f = await detector.detect(det.data, det.info.width, det.info.height);
    if (f.length !== 1) throw new Error(`bench frame: the bare model found ${f.length} faces`);
  };
  const pipeline = async (): Promise<void> => {
    const r = await processPortrait(frame, { ratio: 0.75, width: 480, height: 640, maxBytes: 1_000_000, quality, detector });
    if (r.verdict !== 'accept') throw new Error(`bench frame was rejected: ${r.reasons.map((x) => x.code).join(', ')}`);
  };
  // Warm up all three (libvips caches, JIT, the wasm kernels).
  for (let i = 0; i < 3; i++) { await bareSharp(); await bareModel(); await pipeline(); }
  const ts: number[] = [], tm: number[] = [], tp: number[] = [];
  const time = async (fn: () => Promise<void>): Promise<number> => {
    const t = process.hrtime.bigint();
    await fn();
    return Number(process.hrtime.bigint() - t) / 1e6;
  };
  for (let i = 0; i < PASSES; i++) {
    // Interleaved so machine noise hits all alike.
    ts.push(await time(bareSharp));
    tm.push(await time(bareModel));
    tp.push(await time(pipeline));
  }
  const sharpMs = median(ts), modelMs = median(tm), pipeMs = median(tp);
  // Each pass measures all three back to back; the median of the per-pass ratios is the figure.
  const ratio = Math.round(median(tp.map((p, i) => p / (ts[i]! + tm[i]!))) * 1000) / 1000;
  const minRatio = Math.round((Math.min(...tp) / (Math.min(...ts) + Math.min(...tm))) * 1000) / 1000;
  console.error(`# bare sharp decode-resize-encode ${sharpMs.toFixed(1)} ms + bare inference ${modelMs.toFixed(1)} ms vs portrait pipeline with face detection ${pipeMs.toFixed(1)} ms (medians of ${PASSES}); best-case ratio ${minRatio}`);
  console.log(JSON.stringify({
    bench: 'portrait', ratio, goal: 1.2, better: 'lower', pipelineMs: Math.round(pipeMs * 10) / 10, bareSharpMs: Math.round(sharpMs * 10) / 10,
    bareInferenceMs: Math.round(modelMs * 10) / 10, minRatio, frame: `${W}x${H}`, out: '480x640', passes: PASSES,
  }));
}
