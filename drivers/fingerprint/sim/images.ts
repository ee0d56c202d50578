/**
 * Fingerprint-like test images for the simulator, tests and the demo: ridge patterns with a
 * core, ridge period ~9 px (≈ 0.45 mm at 500 ppi), sensor noise, on a light background
 * (optical sensors show dark ridges). Deterministic for a given seed.
 */
import { seededRandom } from '../../common/prng';

export type FingerImageKind = 'good' | 'smudged' | 'partial' | 'empty';
export const FINGER_IMAGE_KINDS: readonly FingerImageKind[] = ['good', 'smudged', 'partial', 'empty'];

function gauss(rnd: () => number): number {
  const u = Math.max(rnd(), 1e-9);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rnd());
}

function boxBlur(src: Float32Array, w: number, h: number, r: number): Float32Array {
  const tmp = new Float32Array(src.length);
  const out = new Float32Array(src.length);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let s = 0;
      let n = 0;
      for (let k = -r; k <= r; k++) {
        const xx = x + k;
        if (xx >= 0 && xx < w) {
          s += src[y * w + xx];
          n++;
        }
      }
      tmp[y * w + x] = s / n;
    }
  }
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let s = 0;
      let n = 0;
      for (let k = -r; k <= r; k++) {
        const yy = y + k;
        if (yy >= 0 && yy < h) {
          s += tmp[yy * w + x];
          n++;
        }
      }
      out[y * w + x] = s / n;
    }
  }
  return out;
}

/** 8-bit grey image, row-major. */
export function generateFingerImage(kind: FingerImageKind, width: number, height: number, seed = 1): Buffer {
  const rnd = seededRandom(seed * 7919 + kind.length);
  const bg = 232;
  const f = new Float32Array(width * height);
  // finger ellipse
  let cx = width * (0.48 + 0.04 * rnd());
  let cy = height * (0.5 + 0.04 * rnd());
  let rx = width * 0.44;
  let ry = height * 0.47;
  if (kind === 'partial') {
    // only the tip of a finger touches one corner
    cx = width * 0.02;
    cy = height * 0.98;
    rx = width * 0.42;
    ry = height * 0.4;
  }
  const coreX = width * (0.45 + 0.1 * rnd());
  const coreY = height * (0.4 + 0.1 * rnd());
  const period = 8.5 + rnd();
  const ph1 = rnd() * 6.28;
  const ph2 = rnd() * 6.28;
  const amp = kind === 'smudged' ? 14 : 85;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      if (kind === 'empty') {
        f[i] = bg + 6 * (x / width - 0.5);
        continue;
      }
      const ex = (x - cx) / rx;
      const ey = (y - cy) / ry;
      const e = ex * ex + ey * ey;
      const inside = e < 1 ? Math.min(1, (1 - e) * 6) : 0; // soft edge
      if (inside === 0) {
        f[i] = bg;
        continue;
      }
      const dx = x - coreX;
      const dy = (y - coreY) * 1.25;
      // loop-ish pattern: warped radial distance, flattening into arches below the core
      let r = Math.sqrt(dx * dx + dy * dy) + 3 * Math.sin(x / 23 + ph1) + 3 * Math.sin(y / 31 + ph2);
      if (dy > 0) {
        const t = Math.min(1, dy / 50); // blend into arches below the core
        r = r + t * (r * 0.6 + dy * 0.55 - r);
      }
      const ridge = Math.cos((2 * Math.PI * r) / period);
      f[i] = bg - inside * (amp * (1 + ridge) + 20);
    }
  }
  let g: Float32Array = f;
  if (kind === 'smudged') {
    g = boxBlur(f, width, height, 3);
    // blotches of pressed-out ink/moisture
    for (let k = 0; k < 12; k++) {
      const bx = rnd() * width;
      const by = rnd() * height;
      const br = 10 + rnd() * 30;
      const depth = 40 + rnd() * 60;
      for (let y = Math.max(0, Math.floor(by - br)); y < Math.min(height, by + br); y++) {
        for (let x = Math.max(0, Math.floor(bx - br)); x < Math.min(width, bx + br); x++) {
          const d = Math.hypot(x - bx, y - by) / br;
          if (d < 1) g[y * width + x] -= depth * (1 - d * d);
        }
      }
    }
  }
  const sigma = kind === 'empty' ? 2 : kind === 'smudged' ? 10 : 6;
  const out = Buffer.alloc(width * height);
  for (let i = 0; i < out.length; i++) {
    const v = g[i] + sigma * gauss(rnd);
    out[i] = v < 0 ? 0 : v > 255 ? 255 : Math.round(v);
  }
  return out;
}
