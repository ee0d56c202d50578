import sharp from 'sharp';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { loadFaceModel } from '../../drivers/camera/face';
import { describe, expect, it, beforeAll } from 'vitest';
import { StationError } from '../../drivers/common/errors';
import { DEFAULT_THRESHOLDS, PORTRAIT_REASONS, processPortrait, type PortraitResult } from '../../drivers/camera/portrait';
import { renderScene } from '../../drivers/camera/sim/scene';
import type { SimFault } from '../../drivers/camera/types';

const W = 1640, H = 1232;
const codes = (r: PortraitResult): string[] => r.reasons.map((x) => x.code);

describe('portrait pipeline on generated scenes', () => {
  let good: Buffer;
  beforeAll(async () => {
    good = await renderScene({ width: W, height: H, seed: 7 });
  });

  it('accepts a well-lit, sharp, centred person and produces a 480×640 JPEG within budget', async () => {
    const r = await processPortrait(good, { ratio: 0.75, width: 480, height: 640, maxBytes: 80_000 });
    expect(r.verdict).toBe('accept');
    expect(r.reasons).toEqual([]);
    expect(r.jpeg.length).toBeLessThanOrEqual(80_000);
    const meta = await sharp(r.jpeg).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['jpeg', 480, 640]);
    expect(meta.exif).toBeUndefined(); // no camera metadata carried into the ID photo
    expect(r.metrics.subjectFound).toBe(true);
    expect(r.metrics.faceCount).toBe(1);
    expect(Math.abs(r.metrics.centreOffset!)).toBeLessThan(0.03);
    // ISO/IEC 19794-5 token geometry: eye distance = width / 4, eye line 0.6 × width from the top (45 % of 3:4)
    expect(r.metrics.eyeDistance!).toBeGreaterThan(120 * 0.95);
    expect(r.metrics.eyeDistance!).toBeLessThan(120 * 1.05);
    expect(r.metrics.eyeLine!).toBeCloseTo(0.45, 2);
    expect(r.metrics.headHeight!).toBeGreaterThan(0.6);
    expect(r.metrics.headHeight!).toBeLessThan(0.9);
    expect(r.metrics.eyeOpening!).toBeGreaterThan(0.25);
    // Crop: 3:4, centred on the face (the scene's eyes are 9.6 % of the frame height apart)
    expect(r.crop.width / r.crop.height).toBeCloseTo(0.75, 2);
    expect(r.crop.width).toBeGreaterThan(4 * 0.096 * H * 0.9);
    expect(r.crop.width).toBeLessThan(4 * 0.096 * H * 1.1);
    expect(Math.abs(r.crop.left + r.crop.width / 2 - W / 2)).toBeLessThan(W * 0.03);
  });

  const cases: [SimFault, string][] = [
    ['dark', 'too-dark'],
    ['bright', 'too-bright'],
    ['blurred', 'blurred'],
    ['off-centre', 'off-centre'],
    ['cluttered', 'background-not-uniform'],
    ['empty', 'no-face'],
    ['eyes-closed', 'eyes-closed'],
    ['tilted', 'tilted'],
    ['too-far', 'face-too-small'],
    ['too-close', 'face-too-large'],
  ];
  for (const [fault, code] of cases) {
    it(`refuses a ${fault} photo with reason ${code}, and for that reason only`, async () => {
      const r = await processPortrait(await renderScene({ width: W, height: H, fault, seed: 3 }));
      expect(r.verdict).toBe('reject');
      expect(codes(r)).toEqual(fault === 'dark' ? ['too-dark', 'no-face'] : [code]);
      const reason = r.reasons.find((x) => x.code === code)!;
      expect(reason.message).toBe(PORTRAIT_REASONS[code as keyof typeof PORTRAIT_REASONS]);
    });
  }

  it('does not call a dark photo blurred, nor a blurred photo dark', async () => {
    const dark = await processPortrait(await renderScene({ width: W, height: H, fault: 'dark' }));
    expect(codes(dark)).not.toContain('blurred');
    const blurred = await processPortrait(await renderScene({ width: W, height: H, fault: 'blurred' }));
    expect(codes(blurred)).toEqual(['blurred']);
  });

  it('judges defects added to a good photo afterwards (not only the simulator’s own faults)', async () => {
    const base = await processPortrait(good);
    const blurred = await processPortrait(await sharp(good).blur(8).jpeg().toBuffer());
    expect(blurred.metrics.sharpness).toBeLessThan(base.metrics.sharpness / 10);
    expect(codes(blurred)).toContain('blurred');
    const dimmed = await processPortrait(await sharp(good).linear(0.2, 0).jpeg().toBuffer());
    expect(dimmed.metrics.exposure).toBeLessThan(base.metrics.exposure / 3);
    expect(codes(dimmed)).toContain('too-dark');
    const flat = await processPortrait(await sharp(good).linear(0.3, 110).jpeg().toBuffer());
    expect(flat.metrics.contrast).toBeLessThan(0.08);
    expect(codes(flat)).toContain('low-contrast');
  });

  it('message wording says what to do', () => {
    expect(PORTRAIT_REASONS['too-dark']).toMatch(/^too dark/);
    expect(PORTRAIT_REASONS.blurred).toBe('blurred — ask the person to hold still');
    expect(PORTRAIT_REASONS['off-centre']).toBe('move the face to the centre');
  });

  for (const orientation of [6, 8, 3] as const) {
    it(`honours EXIF orientation ${orientation} (sideways or upside-down mounted camera)`, async () => {
      const turned = await renderScene({ width: W, height: H, orientation, seed: 7 });
      const meta = await sharp(turned).metadata();
      expect(meta.orientation).toBe(orientation);
      const r = await processPortrait(turned);
      expect(r.source).toEqual({ width: W, height: H, orientation });
      expect(r.verdict).toBe('accept');
      expect(Math.abs(r.metrics.centreOffset!)).toBeLessThan(0.03);
      expect(r.metrics.headTop!).toBeLessThan(0.3);
    });
  }

  it('places the token crop on a portrait-shaped frame', async () => {
    const tall = await renderScene({ width: 900, height: 1800, seed: 2 });
    const r = await processPortrait(tall);
    expect(r.verdict).toBe('accept');
    expect(r.crop.height).toBeLessThan(1800);
    expect(r.metrics.eyeLine!).toBeCloseTo(0.45, 2);
    expect(r.metrics.headTop!).toBeGreaterThan(0.02);
    expect(r.metrics.headTop!).toBeLessThan(0.2);
  });

  it('meets a tight byte budget by lowering the JPEG quality', async () => {
    const loose = await processPortrait(good, { maxBytes: 1_000_000 });
    const budget = Math.floor(loose.jpeg.length * 0.6);
    const tight = await processPortrait(good, { maxBytes: budget });
    expect(tight.jpeg.length).toBeLessThanOrEqual(budget);
    expect(tight.quality).toBeLessThan(loose.quality);
    const err = await processPortrait(good, { maxBytes: 500 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StationError);
    expect((err as StationError).code).toBe('CAM_PORTRAIT_TOO_LARGE');
    expect((err as StationError).message).toContain('500');
  });

  it('supports other sizes and greyscale input', async () => {
    const r = await processPortrait(good, { ratio: 35 / 45, width: 350, height: 450 });
    expect([r.width, r.height]).toEqual([350, 450]);
    expect((await sharp(r.jpeg).metadata()).width).toBe(350);
    const grey = await processPortrait(await sharp(good).greyscale().jpeg().toBuffer());
    expect(grey.metrics.subjectFound).toBe(true);
    expect(grey.verdict).toBe('accept');
  });

  it('rejects a size that does not match the ratio as a configuration error', async () => {
    const err = (await processPortrait(good, { ratio: 0.75, width: 500, height: 500 }).catch((e: unknown) => e)) as StationError;
    expect(err.code).toBe('CAM_PORTRAIT_CONFIG');
    expect(err.exitCode).toBe(2);
  });

  it('turns garbage and truncated pictures into CAM_BAD_IMAGE, not a crash', async () => {
    for (const bad of [Buffer.from('not a picture at all'), good.subarray(0, good.length >> 1), Buffer.alloc(0)]) {
      const err = (await processPortrait(bad).catch((e: unknown) => e)) as StationError;
      expect(err).toBeInstanceOf(StationError);
      expect(err.code).toBe('CAM_BAD_IMAGE');
      expect(err.hint).toMatch(/Retake/);
    }
  });
});

describe('portrait pipeline on photographs of people (the face-api package ships them)', () => {
  const sample = (n: number): Buffer => readFileSync(join(dirname(require.resolve('@vladmandic/face-api/package.json')), 'demo', `sample${n}.jpg`));

  it('a group photo is refused: several faces', async () => {
    const r = await processPortrait(sample(1));
    expect(r.metrics.faceCount).toBeGreaterThanOrEqual(3);
    expect(codes(r)).toContain('several-faces');
  });

  it('one real face, cut out of a group photo: found, framed to the token geometry, eyes open', async () => {
    // the leftmost woman of sample 6 (her neighbour starts 16 px right of this window)
    const one = await sharp(sample(6)).extract({ left: 100, top: 250, width: 500, height: 750 }).jpeg({ quality: 95 }).toBuffer();
    const r = await processPortrait(one, { ratio: 0.75, width: 300, height: 400 });
    expect(r.metrics.faceCount).toBe(1);
    expect(codes(r)).not.toContain('several-faces');
    expect(codes(r)).not.toContain('no-face');
    expect(codes(r)).not.toContain('off-centre');
    expect(r.metrics.eyeLine!).toBeCloseTo(0.45, 2);
    expect(r.metrics.eyeDistance!).toBeCloseTo(75, -1);
    expect(r.metrics.eyeOpening!).toBeGreaterThan(DEFAULT_THRESHOLDS.minEyeOpening);
    expect(codes(r)).not.toContain('eyes-closed');
  });

  it('generated negatives: noise and a blank wall have no face', async () => {
    const noise = await sharp(randomBytes(640 * 480 * 3), { raw: { width: 640, height: 480, channels: 3 } }).jpeg().toBuffer();
    for (const img of [noise, await sharp({ create: { width: 800, height: 600, channels: 3, background: '#c8ccd2' } }).jpeg().toBuffer()]) {
      const r = await processPortrait(img, { maxBytes: 1_000_000 });
      expect(r.metrics.faceCount).toBe(0);
      expect(codes(r)).toContain('no-face');
    }
  });
});

describe('face model', () => {
  it('a model folder without the weights is a clear error, not a silent pass', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'facemodel-'));
    try {
      const err = (await loadFaceModel({ modelDir: dir }).catch((e: unknown) => e)) as StationError;
      expect(err).toBeInstanceOf(StationError);
      expect(err.code).toBe('CAM_FACE_MODEL');
      expect(err.message).toContain(dir);
      expect(err.hint).toMatch(/npm ci/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
