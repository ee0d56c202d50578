import sharp from 'sharp';
import { StationError } from '../common/errors';
import type { PortraitReasonCode, PortraitVerdict } from '../../config/domain';

/**
 * The portrait pipeline: camera JPEG → ID photo JPEG + quality verdict.
 *
 * Speed: the camera frame (up to 12 MP) is decoded ONCE, straight to the scale the
 * portrait needs (`resize` of the whole frame, so libjpeg's shrink-on-load does
 * most of the work); the subject is found, the crop is cut and all metrics are
 * computed on that small image in plain JS; only the small crop is encoded.
 * (An `extract` on the full frame before `resize` would force a full-size decode.)
 *
 * Framing heuristic (no face detector): the backdrop colour is the median of the
 * frame's top band and the upper parts of its side bands; pixels far from it are
 * "subject". The head top is the first row with enough subject pixels; the head
 * centre is the centroid of subject pixels in a band below that (head height
 * ≈ 25 % of the frame, above the shoulders). The crop is the largest window of the
 * configured ratio, centred horizontally on the head and, when it is shorter than
 * the frame, placed so the head top sits 8 % below its top edge; it is clamped to
 * the frame, so a person standing too far aside stays off-centre and is refused.
 */
/** Reason codes and verdicts are the domain's (config/domain.ts PORTRAIT_REASON_CODES, PORTRAIT_VERDICTS). */
export type ReasonCode = PortraitReasonCode;

/** English text for each reason code; the kiosk translates by code. */
export const PORTRAIT_REASONS: Record<ReasonCode, string> = {
  'too-dark': 'too dark — turn on or check the booth lights',
  'too-bright': 'too bright — reduce the light on the person or the backdrop',
  'low-contrast': 'low contrast — check the lighting',
  'no-subject': 'no person found — ask the person to stand in front of the camera',
  'off-centre': 'move the face to the centre',
  blurred: 'blurred — ask the person to hold still',
  'background-not-uniform': 'background not uniform — use the plain backdrop behind the person',
};

export interface PortraitReason {
  code: ReasonCode;
  message: string;
}

export interface PortraitThresholds {
  /** Mean luma (0..1) of the face (or the whole photo when no face) below this is too dark. */
  minExposure: number;
  /** Mean luma (0..1) of the face above this is too bright… */
  maxExposure: number;
  /** …as is a photo with more than this fraction of clipped-white pixels. */
  maxClipped: number;
  /** RMS contrast (std-dev of luma / 255) below this is low contrast. */
  minContrast: number;
  /** Variance of the Laplacian on the face, at normalised exposure, below this is blurred. */
  minSharpness: number;
  /** Horizontal head-centre offset from the photo centre, as a fraction of the width. */
  maxCentreOffset: number;
  /** Head top must sit between these fractions of the photo height. */
  headTopRange: [number, number];
  /** Std-dev of the backdrop pixels (0..255) above this is not uniform. */
  maxBackgroundStdDev: number;
}

export const DEFAULT_THRESHOLDS: PortraitThresholds = {
  minExposure: 0.25,
  maxExposure: 0.9,
  maxClipped: 0.25,
  minContrast: 0.08,
  minSharpness: 25,
  maxCentreOffset: 0.1,
  headTopRange: [0.01, 0.4],
  maxBackgroundStdDev: 16,
};

export interface PortraitOptions {
  /** Width / height of the ID photo; default 0.75 (3:4). */
  ratio?: number;
  width?: number;
  height?: number;
  /** The encoded portrait must not exceed this many bytes; default 80 000. */
  maxBytes?: number;
  /** First JPEG quality tried; lowered step by step to meet maxBytes. Default 90. */
  quality?: number;
  /** Below this quality the pipeline gives up with CAM_PORTRAIT_TOO_LARGE. Default 40. */
  minQuality?: number;
  thresholds?: Partial<PortraitThresholds>;
}

export interface PortraitMetrics {
  /** Mean luma of the whole portrait, 0..1. */
  exposure: number;
  /** Mean luma of the face region, 0..1 (null when no subject was found). */
  faceExposure: number | null;
  /** Fraction of pixels at or near full white. */
  clipped: number;
  /** RMS contrast: std-dev of luma / 255. */
  contrast: number;
  /** Variance of the Laplacian of luma over the face (whole photo without subject). */
  sharpness: number;
  /** Same, scaled to a mid-grey exposure so that a dark photo is not read as blurred. */
  sharpnessNormalised: number;
  /** 1 = perfectly even backdrop, 0 = std-dev ≥ 64. */
  backgroundUniformity: number;
  backgroundStdDev: number;
  subjectFound: boolean;
  /** Head centre offset from the middle, fraction of width (signed, + = right). */
  centreOffset: number | null;
  /** Head top as a fraction of the photo height. */
  headTop: number | null;
}

export interface PortraitResult {
  jpeg: Buffer;
  width: number;
  height: number;
  quality: number;
  metrics: PortraitMetrics;
  verdict: PortraitVerdict;
  reasons: PortraitReason[];
  /** The crop in the (orientation-corrected) camera frame, in camera pixels. */
  crop: { left: number; top: number; width: number; height: number };
  /** Camera frame size after orientation. */
  source: { width: number; height: number; orientation: number };
}

interface Subject {
  cx: number;
  top: number;
  left: number;
  right: number;
  bandHeight: number;
}

function badImage(msg: string, cause?: unknown): StationError {
  return new StationError('CAM_BAD_IMAGE', `camera picture could not be read: ${msg}`, {
    hint: 'Retake the photo; if it keeps happening, reconnect the camera.',
    cause,
  });
}

function resolveSize(o: PortraitOptions): { ratio: number; width: number; height: number } {
  const ratio = o.ratio ?? (o.width && o.height ? o.width / o.height : 0.75);
  const width = o.width ?? (o.height ? Math.round(o.height * ratio) : 480);
  const height = o.height ?? Math.round(width / ratio);
  if (!(ratio > 0.2 && ratio < 5) || width < 16 || height < 16 || width > 4000 || height > 4000) {
    throw new StationError('CAM_PORTRAIT_CONFIG', `portrait size ${width}×${height} (ratio ${ratio}) is not usable`, { exitCode: 2, hint: 'Fix camera.portrait in the configuration.' });
  }
  if (Math.abs(width / height - ratio) > 0.01) {
    throw new StationError('CAM_PORTRAIT_CONFIG', `portrait size ${width}×${height} does not match ratio ${ratio}`, { exitCode: 2, hint: 'Make width / height equal the configured ratio.' });
  }
  return { ratio, width, height };
}

/** Median of a 256-bin histogram. */
function histMedian(h: Uint32Array, n: number): number {
  let acc = 0;
  for (let i = 0; i < 256; i++) {
    acc += h[i]!;
    if (acc * 2 >= n) return i;
  }
  return 255;
}

/** Finds the head in the (scaled) camera frame; null when nobody is there. */
function findSubject(px: Buffer, w: number, h: number, ch: number): Subject | null {
  const step = Math.max(1, Math.round(w / 320));
  const hr = new Uint32Array(256), hg = new Uint32Array(256), hb = new Uint32Array(256);
  let n = 0;
  const sample = (x: number, y: number): void => {
    const i = (y * w + x) * ch;
    hr[px[i]!]!++;
    hg[px[i + (ch > 1 ? 1 : 0)]!]!++;
    hb[px[i + (ch > 1 ? 2 : 0)]!]!++;
    n++;
  };
  const topBand = Math.max(1, Math.round(h * 0.05));
  const sideBand = Math.max(1, Math.round(w * 0.05));
  for (let y = 0; y < topBand; y += step) for (let x = 0; x < w; x += step) sample(x, y);
  for (let y = topBand; y < h * 0.5; y += step) {
    for (let x = 0; x < sideBand; x += step) sample(x, y);
    for (let x = w - sideBand; x < w; x += step) sample(x, y);
  }
  const mr = histMedian(hr, n), mg = histMedian(hg, n), mb = histMedian(hb, n);
  const dist = (i: number): number => Math.abs(px[i]! - mr) + Math.abs(px[i + (ch > 1 ? 1 : 0)]! - mg) + Math.abs(px[i + (ch > 1 ? 2 : 0)]! - mb);
  // Backdrop noise level: median distance of the backdrop samples from the median colour.
  const hd = new Uint32Array(766);
  let nd = 0;
  const addD = (x: number, y: number): void => {
    hd[Math.min(765, dist((y * w + x) * ch))]!++;
    nd++;
  };
  for (let y = 0; y < topBand; y += step) for (let x = 0; x < w; x += step) addD(x, y);
  let acc = 0, medD = 0;
  for (let i = 0; i < 766; i++) {
    acc += hd[i]!;
    if (acc * 2 >= nd) { medD = i; break; }
  }
  const threshold = Math.max(6, 4 * medD, 0.12 * (mr + mg + mb));

  const cols = Math.ceil(w / step);
  const minRow = Math.max(2, Math.round(cols * 0.03));
  const rowCount = (y: number): number => {
    let c = 0;
    for (let x = 0; x < w; x += step) if (dist((y * w + x) * ch) > threshold) c++;
    return c;
  };
  let top = -1;
  for (let y = 0; y + 2 * step < h; y += step) {
    if (rowCount(y) >= minRow && rowCount(y + step) >= minRow && rowCount(y + 2 * step) >= minRow) {
      top = y;
      break;
    }
  }
  if (top < 0 || top > h * 0.8) return null;
  const bandHeight = Math.round(h * 0.25);
  const colHits = new Uint32Array(cols);
  let sx = 0, count = 0, rows = 0;
  for (let y = top; y < Math.min(h, top + bandHeight); y += step) {
    rows++;
    for (let x = 0, c = 0; x < w; x += step, c++) {
      if (dist((y * w + x) * ch) > threshold) {
        sx += x;
        count++;
        colHits[c]!++;
      }
    }
  }
  if (count < rows * 2) return null;
  let left = -1, right = -1;
  const minHits = Math.max(1, rows * 0.1);
  for (let c = 0; c < cols; c++) if (colHits[c]! >= minHits) { if (left < 0) left = c * step; right = c * step; }
  return { cx: sx / count, top, left: Math.max(0, left), right: Math.max(left, right), bandHeight };
}

interface Stats { mean: number; std: number; clipped: number }

/** Luma (BT.601, integer weights) of pixel i of an RGB or grey buffer. */
function lumaAt(px: Buffer, i: number, ch: number): number {
  return ch === 1 ? px[i]! : (77 * px[i]! + 150 * px[i + 1]! + 29 * px[i + 2]!) >> 8;
}

/** Luma mean / std-dev / clipped fraction over a region, on every `step`-th pixel both ways. */
function lumaStats(px: Buffer, w: number, ch: number, x0: number, y0: number, x1: number, y1: number, step: number): Stats {
  let s = 0, s2 = 0, n = 0, clipped = 0;
  for (let y = y0; y < y1; y += step) {
    for (let x = x0, i = (y * w + x0) * ch; x < x1; x += step, i += step * ch) {
      const v = lumaAt(px, i, ch);
      s += v; s2 += v * v; n++;
      if (v >= 250) clipped++;
    }
  }
  if (n === 0) return { mean: 0, std: 0, clipped: 0 };
  const mean = s / n;
  return { mean, std: Math.sqrt(Math.max(0, s2 / n - mean * mean)), clipped: clipped / n };
}

/** Variance of the 4-neighbour Laplacian of luma over a region (full resolution: blur lives in the fine detail). */
function laplacianVariance(px: Buffer, w: number, h: number, ch: number, x0: number, y0: number, x1: number, y1: number): number {
  const xa = Math.max(0, x0 - 1), xb = Math.min(w, x1 + 1), ya = Math.max(0, y0 - 1), yb = Math.min(h, y1 + 1);
  const rw = xb - xa, rh = yb - ya;
  if (rw < 3 || rh < 3) return 0;
  const l = new Int16Array(rw * rh);
  for (let y = 0; y < rh; y++) for (let x = 0, i = ((ya + y) * w + xa) * ch, k = y * rw; x < rw; x++, i += ch, k++) l[k] = lumaAt(px, i, ch);
  let s = 0, s2 = 0, n = 0;
  for (let y = 1; y < rh - 1; y++) {
    for (let x = 1, i = y * rw + 1; x < rw - 1; x++, i++) {
      const v = l[i - 1]! + l[i + 1]! + l[i - rw]! + l[i + rw]! - 4 * l[i]!;
      s += v; s2 += v * v; n++;
    }
  }
  if (n === 0) return 0;
  const m = s / n;
  return s2 / n - m * m;
}

/**
 * Std-dev of the backdrop, all three channels. Measured where a well-framed ID
 * photo shows only backdrop: the top strip and the outer fifths of the upper half,
 * minus the head box when the head was found and is of a plausible width.
 */
function backgroundStd(px: Buffer, w: number, h: number, ch: number, head: { left: number; right: number; top: number } | null): number {
  const upper = Math.round(h * 0.45);
  const strip = Math.round(h * 0.05);
  const side = Math.round(w * 0.2);
  const margin = Math.round(w * 0.03);
  const useHead = head !== null && head.right - head.left < w * 0.6;
  const exT = useHead ? head!.top - margin : h, exL = useHead ? head!.left - margin : w, exR = useHead ? head!.right + margin : -1;
  let s = 0, s2 = 0, n = 0;
  for (let y = 0; y < upper; y += 2) {
    for (let x = 0; x < w; x += 2) {
      if (y >= strip && x >= side && x < w - side) continue;
      if (y >= exT && x >= exL && x <= exR) continue;
      const i = (y * w + x) * ch;
      for (let c = 0; c < Math.min(ch, 3); c++) { const v = px[i + c]!; s += v; s2 += v * v; n++; }
    }
  }
  if (n === 0) return 0;
  const m = s / n;
  return Math.sqrt(Math.max(0, s2 / n - m * m));
}

const round = (v: number, d = 3): number => Math.round(v * 10 ** d) / 10 ** d;

/** Camera JPEG → ID photo + quality verdict. Throws CAM_BAD_IMAGE for an unreadable picture. */
export async function processPortrait(jpeg: Buffer, opts: PortraitOptions = {}): Promise<PortraitResult> {
  const { ratio, width: outW, height: outH } = resolveSize(opts);
  const th: PortraitThresholds = { ...DEFAULT_THRESHOLDS, ...opts.thresholds };
  const maxBytes = opts.maxBytes ?? 80_000;
  const minQuality = opts.minQuality ?? 40;

  let meta: sharp.Metadata;
  try {
    meta = await sharp(jpeg).metadata();
  } catch (e) {
    throw badImage((e as Error).message, e);
  }
  if (!meta.width || !meta.height) throw badImage('no image size in the file');
  const orientation = meta.orientation ?? 1;
  const turned = orientation >= 5 && orientation <= 8;
  const W = turned ? meta.height : meta.width;
  const H = turned ? meta.width : meta.height;

  // Scale the whole frame so the largest window of the ratio becomes exactly the
  // output size ('outside': aspect kept, both sides ≥ the target). Keeping the
  // aspect ratio matters: a 'fill' resize is more than a third slower here.
  let frame: { data: Buffer; info: sharp.OutputInfo };
  try {
    let img = sharp(jpeg).autoOrient().resize(outW, outH, { fit: 'outside' }).removeAlpha();
    if (meta.space !== 'srgb' && meta.space !== 'b-w') img = img.toColourspace('srgb');
    frame = await img.raw().toBuffer({ resolveWithObject: true });
  } catch (e) {
    throw badImage((e as Error).message, e);
  }
  const ch = frame.info.channels;
  const px = frame.data;
  const fw = frame.info.width, fh = frame.info.height;
  const scale = W / H > ratio ? fh / H : fw / W;

  const subject = findSubject(px, fw, fh, ch);
  const cx = subject ? subject.cx : fw / 2;
  const left = Math.min(Math.max(0, Math.round(cx - outW / 2)), fw - outW);
  const top = fh > outH && subject ? Math.min(Math.max(0, Math.round(subject.top - 0.08 * outH)), fh - outH) : Math.round((fh - outH) / 2);

  // Cut the crop out of the scaled frame.
  const rowBytes = outW * ch;
  const crop = Buffer.allocUnsafe(outH * rowBytes);
  for (let y = 0; y < outH; y++) {
    const src = ((top + y) * fw + left) * ch;
    px.copy(crop, y * rowBytes, src, src + rowBytes);
  }

  // Metrics on the portrait itself (exposure and contrast on every 2nd pixel both ways: plenty for a mean).
  const all = lumaStats(crop, outW, ch, 0, 0, outW, outH, 2);
  const head = subject
    ? { left: subject.left - left, right: subject.right - left, top: subject.top - top, cx: subject.cx - left, band: subject.bandHeight }
    : null;
  // Face box: the middle of the head band (below the hairline, inside the head's width).
  const face = head
    ? {
        x0: Math.max(0, Math.round(head.cx - (head.right - head.left) * 0.3)),
        x1: Math.min(outW, Math.round(head.cx + (head.right - head.left) * 0.3)),
        y0: Math.max(0, Math.round(head.top + head.band * 0.35)),
        y1: Math.min(outH, Math.round(head.top + head.band * 1.1)),
      }
    : null;
  const faceOk = face && face.x1 - face.x0 > 8 && face.y1 - face.y0 > 8 ? face : null;
  const faceStats = faceOk ? lumaStats(crop, outW, ch, faceOk.x0, faceOk.y0, faceOk.x1, faceOk.y1, 1) : null;
  const sharpRegion = faceOk ?? { x0: 0, y0: 0, x1: outW, y1: outH };
  const sharpness = laplacianVariance(crop, outW, outH, ch, sharpRegion.x0, sharpRegion.y0, sharpRegion.x1, sharpRegion.y1);
  const regionMean = (faceStats ?? all).mean;
  const sharpnessNormalised = regionMean > 1 ? sharpness * (128 / regionMean) ** 2 : 0;
  const bgStd = backgroundStd(crop, outW, outH, ch, head);

  const metrics: PortraitMetrics = {
    exposure: round(all.mean / 255),
    faceExposure: faceStats ? round(faceStats.mean / 255) : null,
    clipped: round(all.clipped),
    contrast: round(all.std / 255),
    sharpness: round(sharpness, 1),
    sharpnessNormalised: round(sharpnessNormalised, 1),
    backgroundUniformity: round(Math.max(0, 1 - bgStd / 64)),
    backgroundStdDev: round(bgStd, 1),
    subjectFound: subject !== null,
    centreOffset: head ? round(head.cx / outW - 0.5) : null,
    headTop: head ? round(head.top / outH) : null,
  };

  const codes: ReasonCode[] = [];
  const lit = metrics.faceExposure ?? metrics.exposure;
  const dark = lit < th.minExposure;
  const bright = !dark && (lit > th.maxExposure || metrics.clipped > th.maxClipped);
  if (dark) codes.push('too-dark');
  if (bright) codes.push('too-bright');
  // Contrast and sharpness cannot be judged on a badly exposed photo; the exposure reason says it all.
  // A bare backdrop is flat and "blurred" by nature: without a subject only the exposure and the absence are reported.
  const judge = !dark && !bright && subject !== null;
  if (judge && metrics.contrast < th.minContrast) codes.push('low-contrast');
  if (!subject) codes.push('no-subject');
  else if (Math.abs(metrics.centreOffset!) > th.maxCentreOffset || metrics.headTop! < th.headTopRange[0] || metrics.headTop! > th.headTopRange[1]) codes.push('off-centre');
  if (judge && sharpnessNormalised < th.minSharpness) codes.push('blurred');
  if (bgStd > th.maxBackgroundStdDev) codes.push('background-not-uniform');

  // Encode within the byte budget.
  let quality = opts.quality ?? 90;
  let out: Buffer;
  for (;;) {
    out = await sharp(crop, { raw: { width: outW, height: outH, channels: ch as 1 | 3 } }).jpeg({ quality }).toBuffer();
    if (out.length <= maxBytes) break;
    if (quality <= minQuality) {
      throw new StationError('CAM_PORTRAIT_TOO_LARGE', `portrait needs ${out.length} bytes even at JPEG quality ${quality}; the limit is ${maxBytes}`, {
        hint: 'Raise camera.portrait.maxBytes or lower the portrait size in the configuration.',
      });
    }
    quality = Math.max(minQuality, quality - 8);
  }

  return {
    jpeg: out,
    width: outW,
    height: outH,
    quality,
    metrics,
    verdict: codes.length ? 'reject' : 'accept',
    reasons: codes.map((code) => ({ code, message: PORTRAIT_REASONS[code] })),
    crop: { left: Math.round(left / scale), top: Math.round(top / scale), width: Math.round(outW / scale), height: Math.round(outH / scale) },
    source: { width: W, height: H, orientation },
  };
}
