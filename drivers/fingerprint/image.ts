/**
 * Fingerprint image handling: 4-bit unpack, a quality score computed from the pixels, and an
 * 8-bit grey PNG that carries the sensor resolution.
 *
 * Quality score (0..100), computed on 8×8... see QUALITY below: the image is cut into square
 * blocks. A block is foreground when its grey-level spread is clearly above sensor noise. For each
 * foreground block we compute the ridge orientation coherence from the gradient structure tensor
 * (1 = perfectly parallel ridges, 0 = no dominant direction). The score is the product of three
 * factors, each clamped to 0..1:
 *   area      — share of the sensor covered by foreground blocks (partial prints score low)
 *   coherence — mean coherence over foreground blocks (smudged or noisy prints score low)
 *   contrast  — mean grey-level spread of foreground blocks (faint prints score low)
 * An empty sensor has no foreground and scores 0.
 */
import { sharp } from '../common/sharp';

export interface GreyImage {
  width: number;
  height: number;
  /** 8-bit grey, row-major, top to bottom. */
  pixels: Buffer;
}

/** 4 bits per pixel, high nibble = even (left) pixel; expanded ×17 to 0..255. */
export function unpack4(packed: Uint8Array, width: number, height: number): Buffer {
  const n = width * height;
  if (packed.length * 2 < n) throw new RangeError(`4-bit image has ${packed.length} bytes, ${width}×${height} needs ${Math.ceil(n / 2)}`);
  const out = Buffer.allocUnsafe(n);
  const half = n >> 1;
  for (let i = 0; i < half; i++) {
    const b = packed[i];
    out[2 * i] = (b >> 4) * 17;
    out[2 * i + 1] = (b & 0x0f) * 17;
  }
  if (n & 1) out[n - 1] = (packed[half] >> 4) * 17;
  return out;
}

/** 8-bit → 4-bit (rounded), high nibble first. Used by the simulator. */
export function pack4(pixels: Uint8Array): Buffer {
  const out = Buffer.alloc(Math.ceil(pixels.length / 2));
  for (let i = 0; i < pixels.length; i += 2) {
    const hi = Math.round(pixels[i] / 17);
    const lo = i + 1 < pixels.length ? Math.round(pixels[i + 1] / 17) : 0;
    out[i >> 1] = (hi << 4) | lo;
  }
  return out;
}

export const QUALITY = {
  block: 16,
  /** Grey-level standard deviation above which a block counts as foreground. */
  foregroundStd: 12,
  /** Area share mapped to 0 and 1. */
  areaLow: 0.15,
  areaHigh: 0.75,
  /** Mean coherence mapped to 0 and 1. */
  coherenceLow: 0.25,
  coherenceHigh: 0.95,
  /** Mean block std mapped to 0 and 1. */
  contrastLow: 12,
  contrastHigh: 50,
} as const;

export interface QualityReport {
  score: number;
  area: number;
  coherence: number;
  contrast: number;
}

const clamp01 = (x: number): number => (x < 0 ? 0 : x > 1 ? 1 : x);

export function qualityScore(img: GreyImage): QualityReport {
  const { width: w, height: h, pixels: p } = img;
  const B = QUALITY.block;
  const bw = Math.floor(w / B);
  const bh = Math.floor(h / B);
  if (bw === 0 || bh === 0) return { score: 0, area: 0, coherence: 0, contrast: 0 };
  let fg = 0;
  let cohSum = 0;
  let stdSum = 0;
  for (let by = 0; by < bh; by++) {
    for (let bx = 0; bx < bw; bx++) {
      const x0 = bx * B;
      const y0 = by * B;
      let s = 0;
      let ss = 0;
      for (let y = y0; y < y0 + B; y++) {
        let o = y * w + x0;
        for (let x = 0; x < B; x++, o++) {
          const v = p[o];
          s += v;
          ss += v * v;
        }
      }
      const n = B * B;
      const mean = s / n;
      const std = Math.sqrt(Math.max(0, ss / n - mean * mean));
      if (std < QUALITY.foregroundStd) continue;
      // structure tensor from central differences, inner pixels of the block (clamped to image)
      let gxx = 0;
      let gyy = 0;
      let gxy = 0;
      const ya = Math.max(1, y0);
      const yb = Math.min(h - 1, y0 + B);
      const xa = Math.max(1, x0);
      const xb = Math.min(w - 1, x0 + B);
      for (let y = ya; y < yb; y++) {
        let o = y * w + xa;
        for (let x = xa; x < xb; x++, o++) {
          const gx = p[o + 1] - p[o - 1];
          const gy = p[o + w] - p[o - w];
          gxx += gx * gx;
          gyy += gy * gy;
          gxy += gx * gy;
        }
      }
      const den = gxx + gyy;
      const coh = den > 0 ? Math.sqrt((gxx - gyy) * (gxx - gyy) + 4 * gxy * gxy) / den : 0;
      fg++;
      cohSum += coh;
      stdSum += std;
    }
  }
  const area = fg / (bw * bh);
  if (fg === 0) return { score: 0, area: 0, coherence: 0, contrast: 0 };
  const coherence = cohSum / fg;
  const contrast = stdSum / fg;
  const fa = clamp01((area - QUALITY.areaLow) / (QUALITY.areaHigh - QUALITY.areaLow));
  const fc = clamp01((coherence - QUALITY.coherenceLow) / (QUALITY.coherenceHigh - QUALITY.coherenceLow));
  const fk = clamp01((contrast - QUALITY.contrastLow) / (QUALITY.contrastHigh - QUALITY.contrastLow));
  const score = Math.round(100 * fa * fc * fk);
  return { score, area: round3(area), coherence: round3(coherence), contrast: round3(contrast) };
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;

/** 8-bit single-channel PNG with the sensor resolution in its pHYs chunk. */
export async function toPng(img: GreyImage, ppi: number): Promise<Buffer> {
  return sharp(img.pixels, { raw: { width: img.width, height: img.height, channels: 1 } })
    .toColourspace('b-w')
    .withDensity(ppi)
    .png()
    .toBuffer();
}

export interface ProcessedImage extends GreyImage {
  ppi: number;
  png: Buffer;
  quality: QualityReport;
}

/** Wire bytes from the module → pixels, quality, PNG. wireBits 4 = R30x nibbles, 8 = GT-521 bytes. */
export async function processImage(wire: Uint8Array, width: number, height: number, wireBits: 4 | 8, ppi: number): Promise<ProcessedImage> {
  const pixels = wireBits === 4 ? unpack4(wire, width, height) : Buffer.from(wire.buffer, wire.byteOffset, width * height);
  const img = { width, height, pixels };
  const quality = qualityScore(img);
  const png = await toPng(img, ppi);
  return { ...img, ppi, png, quality };
}
