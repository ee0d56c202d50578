import { describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { pack4, processImage, qualityScore, unpack4 } from '../../drivers/fingerprint/image';
import { MODEL_TABLE, MODELS } from '../../drivers/fingerprint/models';
import { FINGER_IMAGE_KINDS, generateFingerImage } from '../../drivers/fingerprint/sim/images';

describe('4-bit image unpack', () => {
  it('puts the high nibble on the left pixel and expands ×17', () => {
    expect([...unpack4(Buffer.from([0xf0, 0x1e]), 4, 1)]).toEqual([255, 0, 17, 238]);
  });
  it('handles an odd pixel count and rejects short data', () => {
    expect([...unpack4(Buffer.from([0x12, 0x30]), 3, 1)]).toEqual([17, 34, 51]);
    expect(() => unpack4(Buffer.alloc(10), 256, 288)).toThrow(/36864/);
  });
  it('pack4 then unpack4 keeps values within one grey step', () => {
    const px = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const back = unpack4(pack4(px), 16, 16);
    for (let i = 0; i < 256; i++) expect(Math.abs(back[i] - px[i])).toBeLessThanOrEqual(9);
  });
});

describe('quality score separates good from smudged, partial and empty captures', () => {
  for (const model of MODELS) {
    const { width, height } = MODEL_TABLE[model];
    it(`${model} (${width}×${height})`, () => {
      for (const seed of [1, 2, 3, 4]) {
        const score = (k: (typeof FINGER_IMAGE_KINDS)[number]) => {
          const px = generateFingerImage(k, width, height, seed);
          const pixels = MODEL_TABLE[model].wireBits === 4 ? unpack4(pack4(px), width, height) : px;
          return qualityScore({ width, height, pixels });
        };
        const good = score('good');
        expect(good.score).toBeGreaterThanOrEqual(60);
        expect(good.area).toBeGreaterThan(0.5);
        for (const bad of ['smudged', 'partial', 'empty'] as const) expect(score(bad).score).toBeLessThanOrEqual(20);
        expect(score('partial').area).toBeLessThan(0.3);
        expect(score('smudged').coherence).toBeLessThan(0.3);
        expect(score('empty')).toEqual({ score: 0, area: 0, coherence: 0, contrast: 0 });
      }
    });
  }
});

describe('PNG output', () => {
  it('is 8-bit single-channel grey with the sensor resolution', async () => {
    const px = generateFingerImage('good', 256, 288, 9);
    const out = await processImage(pack4(px), 256, 288, 4, 500);
    const meta = await sharp(out.png).metadata();
    expect(meta).toMatchObject({ format: 'png', width: 256, height: 288, channels: 1, depth: 'uchar', density: 500 });
    const { data } = await sharp(out.png).toColourspace('b-w').raw().toBuffer({ resolveWithObject: true });
    expect(data.equals(out.pixels)).toBe(true);
  });
  it('8-bit GT-521 wire data is used as is', async () => {
    const px = generateFingerImage('good', 202, 258, 3);
    const out = await processImage(px, 202, 258, 8, 450);
    expect(out.pixels.equals(px)).toBe(true);
    expect((await sharp(out.png).metadata()).density).toBe(450);
  });
});
