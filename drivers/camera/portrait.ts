import type SharpTypes from 'sharp';
import { sharp } from '../common/sharp';
import { StationError } from '../common/errors';
import type { PortraitReasonCode, PortraitVerdict } from '../../config/domain';
import { loadFaceModel, type DetectedFace, type FaceDetector, type Point } from './face';

/**
 * The portrait pipeline: camera JPEG → ID photo JPEG + quality verdict, framed on the face the
 * detector found (drivers/camera/face.ts; docs/camera-gpio.md "Portrait pipeline").
 *
 * 1. The camera frame (up to 12 MP) is decoded ONCE, straight to a working scale of about twice
 *    the portrait's height (libjpeg's shrink-on-load does most of the work): enough pixels for a
 *    face that fills a normal part of the frame to be cut at the output size without upscaling.
 * 2. A copy of at most 640 px is given to the face detector (Tiny Face Detector + 68 landmarks).
 * 3. The crop is the ISO/IEC 19794-5 token geometry (§8.4 of the 2005 edition, the token image of
 *    19794-5:2011): image width = 4 × the distance between the eye centres, height = width / ratio,
 *    eye midpoint at half the width and 0.6 × the width from the top (45 % of a 3:4 height). It is
 *    cut from the working frame and scaled to the portrait size; only the small crop is encoded.
 * 4. Verdicts: no face, several faces, face too small (too far: the crop would need > 1.25×
 *    upscaling, or the head is under 60 % of the height), face too large (too close: the crop does
 *    not fit in the frame, or the head is over 90 %), off-centre (the crop had to be moved, so the
 *    eye midpoint leaves 45–55 % of the width or the eye line leaves 30–50 % of the height, the
 *    ISO/IEC 19794-5 full-frontal ranges), tilted (eye line rolled over 8°, or the head turned),
 *    eyes closed (no iris visible at either eye's landmarks: irisOpening under 0.12, judged when
 *    each eye spans at least 12 px) — plus exposure, contrast, sharpness and backdrop as before.
 */
/** Reason codes and verdicts are the domain's (config/domain.ts PORTRAIT_REASON_CODES, PORTRAIT_VERDICTS). */
export type ReasonCode = PortraitReasonCode;

/** English text for each reason code; the kiosk translates by code. */
export const PORTRAIT_REASONS: Record<ReasonCode, string> = {
  'too-dark': 'too dark — turn on or check the booth lights',
  'too-bright': 'too bright — reduce the light on the person or the backdrop',
  'low-contrast': 'low contrast — check the lighting',
  'no-face': 'no face found — ask the person to face the camera',
  'several-faces': 'more than one face — only the person being enrolled may be in the picture',
  'face-too-small': 'face too small — ask the person to come closer to the camera',
  'face-too-large': 'face too large — ask the person to step back from the camera',
  'off-centre': 'move the face to the centre',
  tilted: 'head tilted or turned — ask the person to look straight into the camera',
  'eyes-closed': 'eyes closed — ask the person to open their eyes',
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
  /** Eye midpoint must sit within 0.5 ± this fraction of the width (ISO/IEC 19794-5 full frontal: 45–55 %). */
  maxCentreOffset: number;
  /** Eye line must sit between these fractions of the height from the top (19794-5 full frontal: 50–70 % from the bottom). */
  eyeLineRange: [number, number];
  /** Chin to (estimated) crown as a fraction of the height. */
  headHeightRange: [number, number];
  /** Largest upscale of the crop before the face counts as too small (the person too far away). */
  maxUpscale: number;
  /** Eye line roll beyond this many degrees is tilted. */
  maxRollDegrees: number;
  /** Nose tip off the eye midpoint by more than this × the eye distance: the head is turned. */
  maxYaw: number;
  /** Both eyes' visible iris height per eye width under this: eyes closed (open eyes 0.25–0.45). */
  minEyeOpening: number;
  /** Std-dev of the backdrop pixels (0..255) above this is not uniform. */
  maxBackgroundStdDev: number;
  /** A second face at least this fraction of the main face's width counts as another person. */
  otherFaceMinWidth: number;
}

export const DEFAULT_THRESHOLDS: PortraitThresholds = {
  minExposure: 0.25,
  maxExposure: 0.9,
  maxClipped: 0.25,
  minContrast: 0.08,
  minSharpness: 25,
  maxCentreOffset: 0.05,
  eyeLineRange: [0.3, 0.5],
  headHeightRange: [0.6, 0.9],
  maxUpscale: 1.25,
  maxRollDegrees: 8,
  maxYaw: 0.3,
  minEyeOpening: 0.12,
  maxBackgroundStdDev: 16,
  otherFaceMinWidth: 0.3,
};

/** ISO/IEC 19794-5 token geometry: image width = 4 × eye distance; eye midpoint 0.6 × width from the top. */
export const TOKEN = { widthPerEyeDistance: 4, eyeLineFromTopPerWidth: 0.6 } as const;

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
  /** The face detector (default: the packaged model, loaded once per process). */
  detector?: FaceDetector;
}

export interface PortraitMetrics {
  /** Mean luma of the whole portrait, 0..1. */
  exposure: number;
  /** Mean luma of the face region, 0..1 (null when no face was found). */
  faceExposure: number | null;
  /** Fraction of pixels at or near full white. */
  clipped: number;
  /** RMS contrast: std-dev of luma / 255. */
  contrast: number;
  /** Variance of the Laplacian of luma over the face (whole photo without a face). */
  sharpness: number;
  /** Same, scaled to a mid-grey exposure so that a dark photo is not read as blurred. */
  sharpnessNormalised: number;
  /** 1 = perfectly even backdrop, 0 = std-dev ≥ 64. */
  backgroundUniformity: number;
  backgroundStdDev: number;
  /** A face was found. */
  subjectFound: boolean;
  /** Faces the detector found (other people included). */
  faceCount: number;
  /** Detector confidence of the face used, 0..1. */
  faceScore: number | null;
  /** Eye midpoint offset from the middle, fraction of the portrait width (signed, + = right). */
  centreOffset: number | null;
  /** Eye line, fraction of the portrait height from the top. */
  eyeLine: number | null;
  /** Eye centre distance in portrait pixels (the token geometry makes it width / 4). */
  eyeDistance: number | null;
  /** Chin to estimated crown, fraction of the portrait height. */
  headHeight: number | null;
  /** Estimated crown (head top), fraction of the portrait height. */
  headTop: number | null;
  /** Eye line roll, degrees (+ = clockwise in the picture). */
  roll: number | null;
  /** Nose tip offset from the eye midpoint per eye distance (head turned left/right). */
  yaw: number | null;
  /** Visible iris height per eye width of the more open eye (null when the eyes are too small to judge). */
  eyeOpening: number | null;
  /** Upscale the crop needed from the working frame (> 1 = fewer camera pixels than portrait pixels). */
  upscale: number | null;
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
 * Std-dev of the backdrop, all three channels, over the upper 45 % of the portrait (down to the
 * eye line) beside the head: the token geometry leaves about a tenth of the width on each side of
 * a head. Without a face, the top strip and the outer fifths of the upper half.
 */
function backgroundStd(px: Buffer, w: number, h: number, ch: number, head: { left: number; right: number } | null): number {
  const upper = Math.round(h * 0.45);
  const strip = Math.round(h * 0.05);
  const side = Math.round(w * 0.2);
  let s = 0, s2 = 0, n = 0;
  for (let y = 0; y < upper; y += 2) {
    for (let x = 0; x < w; x += 2) {
      if (head) {
        if (x >= head.left && x <= head.right) continue;
      } else if (y >= strip && x >= side && x < w - side) continue;
      const i = (y * w + x) * ch;
      for (let c = 0; c < Math.min(ch, 3); c++) { const v = px[i + c]!; s += v; s2 += v * v; n++; }
    }
  }
  if (n === 0) return 0;
  const m = s / n;
  return Math.sqrt(Math.max(0, s2 / n - m * m));
}

/**
 * How open an eye is, from the pixels at its landmarks: an open eye shows the iris, a dark disc
 * about two fifths of the eye's width tall; a closed one only the lash line. Per column across the
 * middle 30 % of the eye (inside the iris when it is open), the longest vertical run of pixels
 * darker than halfway between the region's darkest twentieth and its median; the median run, per
 * eye width. Null when the eye is too small to judge (< 12 px).
 */
export function irisOpening(px: Buffer, w: number, h: number, ch: number, eye: Point[]): number | null {
  const a = eye[0]!, b = eye[3]!;
  const ew = Math.hypot(b.x - a.x, b.y - a.y);
  if (ew < 12) return null;
  const cx = eye.reduce((s, p) => s + p.x, 0) / eye.length, cy = eye.reduce((s, p) => s + p.y, 0) / eye.length;
  const x0 = Math.max(0, Math.round(cx - ew * 0.15)), x1 = Math.min(w - 1, Math.round(cx + ew * 0.15));
  const y0 = Math.max(0, Math.round(cy - ew * 0.45)), y1 = Math.min(h - 1, Math.round(cy + ew * 0.45));
  if (x1 <= x0 || y1 <= y0) return null;
  const hist = new Uint32Array(256);
  let n = 0;
  for (let y = y0; y <= y1; y++) for (let x = x0; x <= x1; x++) { hist[lumaAt(px, (y * w + x) * ch, ch)]!++; n++; }
  let acc = 0, med = -1, low = -1;
  for (let i = 0; i < 256; i++) {
    acc += hist[i]!;
    if (low < 0 && acc * 20 >= n) low = i;
    if (acc * 2 >= n) { med = i; break; }
  }
  // darker than halfway between the darkest twentieth (pupil or lash line) and the region's median
  const dark = (low + med) / 2;
  const runs: number[] = [];
  for (let x = x0; x <= x1; x++) {
    let best = 0, cur = 0;
    for (let y = y0; y <= y1; y++) {
      if (lumaAt(px, (y * w + x) * ch, ch) < dark) { cur++; if (cur > best) best = cur; } else cur = 0;
    }
    runs.push(best);
  }
  runs.sort((p, q) => p - q);
  return runs[runs.length >> 1]! / ew;
}

const round = (v: number, d = 3): number => Math.round(v * 10 ** d) / 10 ** d;

const DETECT_MAX = 640;

/** The face the photo is of: the largest plausible one; the others count as other people. */
function plausible(f: DetectedFace): boolean {
  const eed = Math.hypot(f.eyeRight.x - f.eyeLeft.x, f.eyeRight.y - f.eyeLeft.y);
  // landmark fits on something that is not a face put the eyes almost together or outside the box
  return eed >= 0.2 * f.box.width && eed <= 0.75 * f.box.width;
}

/** Camera JPEG → ID photo + quality verdict. Throws CAM_BAD_IMAGE for an unreadable picture, CAM_FACE_MODEL without a model. */
export async function processPortrait(jpeg: Buffer, opts: PortraitOptions = {}): Promise<PortraitResult> {
  const { ratio, width: outW, height: outH } = resolveSize(opts);
  const th: PortraitThresholds = { ...DEFAULT_THRESHOLDS, ...opts.thresholds };
  const maxBytes = opts.maxBytes ?? 80_000;
  const minQuality = opts.minQuality ?? 40;
  const detector = opts.detector ?? (await loadFaceModel());

  let meta: SharpTypes.Metadata;
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

  // 1. The working frame, about twice the portrait's height (never upscaled), and 2. the
  // detector's copy of at most 640 px, decoded side by side: the big decode runs on a libuv thread
  // while the model works on the small one on this thread.
  const workH = Math.min(H, Math.round(2 * outH));
  const decode = (img: SharpTypes.Sharp): Promise<{ data: Buffer; info: SharpTypes.OutputInfo }> =>
    img.removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true }).catch((e: unknown) => { throw badImage((e as Error).message, e); });
  const workP = decode(sharp(jpeg).autoOrient().resize({ height: workH, withoutEnlargement: true }));
  workP.catch(() => undefined);
  const small = await decode(sharp(jpeg).autoOrient().resize(DETECT_MAX, DETECT_MAX, { fit: 'inside', withoutEnlargement: true }));
  let faces = await detector.detect(small.data, small.info.width, small.info.height);
  const frame = await workP;
  const fw = frame.info.width, fh = frame.info.height;
  const scale = fh / H; // working frame pixels per camera pixel
  faces = faces.map((f) => scaleFace(f, fw / small.info.width, fh / small.info.height));
  faces = faces.filter(plausible).sort((a, b) => b.box.width * b.box.height - a.box.width * a.box.height);
  const face = faces[0] ?? null;
  const others = face ? faces.slice(1).filter((f) => f.box.width >= th.otherFaceMinWidth * face.box.width).length : 0;

  // 3. The token crop in working-frame pixels.
  let cw: number, chh: number, cl: number, ct: number;
  let eyeMid: Point | null = null, eed = 0, tooLarge = false;
  if (face) {
    eyeMid = { x: (face.eyeLeft.x + face.eyeRight.x) / 2, y: (face.eyeLeft.y + face.eyeRight.y) / 2 };
    eed = Math.hypot(face.eyeRight.x - face.eyeLeft.x, face.eyeRight.y - face.eyeLeft.y);
    cw = TOKEN.widthPerEyeDistance * eed;
    chh = cw / ratio;
    if (cw > fw || chh > fh) {
      // closer than the token geometry allows: the largest window of the ratio, centred on the eyes
      tooLarge = true;
      const k = Math.min(fw / cw, fh / chh);
      cw *= k;
      chh *= k;
    }
    cl = eyeMid.x - cw / 2;
    ct = eyeMid.y - TOKEN.eyeLineFromTopPerWidth * cw;
  } else {
    // nobody: the largest centred window (the photo is refused anyway; the officer still sees it)
    cw = Math.min(fw, fh * ratio);
    chh = cw / ratio;
    cl = (fw - cw) / 2;
    ct = (fh - chh) / 2;
  }
  cl = Math.min(Math.max(0, cl), fw - cw);
  ct = Math.min(Math.max(0, ct), fh - chh);
  const rect = { left: Math.round(cl), top: Math.round(ct), width: Math.min(fw, Math.round(cw)), height: Math.min(fh, Math.round(chh)) };
  rect.left = Math.min(rect.left, fw - rect.width);
  rect.top = Math.min(rect.top, fh - rect.height);
  const k = outW / rect.width; // portrait pixels per working-frame pixel

  let crop: Buffer;
  try {
    crop = await sharp(frame.data, { raw: { width: fw, height: fh, channels: 3 } }).extract(rect).resize(outW, outH, { fit: 'fill' }).raw().toBuffer();
  } catch (e) {
    throw badImage((e as Error).message, e);
  }
  const ch = 3;

  // Face geometry in portrait coordinates.
  const P = (p: Point): Point => ({ x: (p.x - rect.left) * k, y: (p.y - rect.top) * k });
  let geo: null | { eyeMid: Point; eed: number; chin: Point; crown: number; roll: number; yaw: number; opening: number | null; left: number; right: number } = null;
  if (face && eyeMid) {
    const el = P(face.eyeLeft), er = P(face.eyeRight), chin = P(face.chin), nose = P(face.nose), m = P(eyeMid);
    const e = eed * k;
    const roll = (Math.atan2(er.y - el.y, er.x - el.x) * 180) / Math.PI;
    // crown: the eye line sits about halfway between chin and crown
    const crown = m.y - (chin.y - m.y);
    // openness from the working frame's pixels (more of them than the portrait's)
    const ol = irisOpening(frame.data, fw, fh, 3, face.eyePointsLeft);
    const or = irisOpening(frame.data, fw, fh, 3, face.eyePointsRight);
    const opening = ol === null || or === null ? null : Math.max(ol, or);
    geo = { eyeMid: m, eed: e, chin, crown, roll, yaw: (nose.x - m.x) / e, opening, left: P(face.jawLeft).x, right: P(face.jawRight).x };
  }

  // Metrics on the portrait itself (exposure and contrast on every 2nd pixel both ways: plenty for a mean).
  const all = lumaStats(crop, outW, ch, 0, 0, outW, outH, 2);
  // Face box: between the jaw points, from the brows (half an eye distance above the eyes) to the mouth.
  const faceBox = geo
    ? {
        x0: Math.max(0, Math.round(geo.left + (geo.right - geo.left) * 0.15)),
        x1: Math.min(outW, Math.round(geo.right - (geo.right - geo.left) * 0.15)),
        y0: Math.max(0, Math.round(geo.eyeMid.y - geo.eed * 0.5)),
        y1: Math.min(outH, Math.round(geo.eyeMid.y + (geo.chin.y - geo.eyeMid.y) * 0.8)),
      }
    : null;
  const faceOk = faceBox && faceBox.x1 - faceBox.x0 > 8 && faceBox.y1 - faceBox.y0 > 8 ? faceBox : null;
  const faceStats = faceOk ? lumaStats(crop, outW, ch, faceOk.x0, faceOk.y0, faceOk.x1, faceOk.y1, 1) : null;
  const sharpRegion = faceOk ?? { x0: 0, y0: 0, x1: outW, y1: outH };
  const sharpness = laplacianVariance(crop, outW, outH, ch, sharpRegion.x0, sharpRegion.y0, sharpRegion.x1, sharpRegion.y1);
  const regionMean = (faceStats ?? all).mean;
  const sharpnessNormalised = regionMean > 1 ? sharpness * (128 / regionMean) ** 2 : 0;
  // hair and ears reach about half an eye distance beyond the jaw points
  const head = geo ? { left: geo.left - geo.eed * 0.45, right: geo.right + geo.eed * 0.45 } : null;
  const bgStd = backgroundStd(crop, outW, outH, ch, head);

  const upscale = face ? k : null;
  const metrics: PortraitMetrics = {
    exposure: round(all.mean / 255),
    faceExposure: faceStats ? round(faceStats.mean / 255) : null,
    clipped: round(all.clipped),
    contrast: round(all.std / 255),
    sharpness: round(sharpness, 1),
    sharpnessNormalised: round(sharpnessNormalised, 1),
    backgroundUniformity: round(Math.max(0, 1 - bgStd / 64)),
    backgroundStdDev: round(bgStd, 1),
    subjectFound: face !== null,
    faceCount: faces.length,
    faceScore: face ? round(face.score) : null,
    centreOffset: geo ? round(geo.eyeMid.x / outW - 0.5) : null,
    eyeLine: geo ? round(geo.eyeMid.y / outH) : null,
    eyeDistance: geo ? round(geo.eed, 1) : null,
    headHeight: geo ? round((geo.chin.y - geo.crown) / outH) : null,
    headTop: geo ? round(geo.crown / outH) : null,
    roll: geo ? round(geo.roll, 1) : null,
    yaw: geo ? round(geo.yaw) : null,
    eyeOpening: geo?.opening != null ? round(geo.opening) : null,
    upscale: upscale !== null ? round(upscale) : null,
  };

  const codes: ReasonCode[] = [];
  const lit = metrics.faceExposure ?? metrics.exposure;
  const dark = lit < th.minExposure;
  const bright = !dark && (lit > th.maxExposure || metrics.clipped > th.maxClipped);
  if (dark) codes.push('too-dark');
  if (bright) codes.push('too-bright');
  // Contrast and sharpness cannot be judged on a badly exposed photo; the exposure reason says it all.
  // A bare backdrop is flat and "blurred" by nature: without a face only the exposure and the absence are reported.
  const judge = !dark && !bright && face !== null;
  if (judge && metrics.contrast < th.minContrast) codes.push('low-contrast');
  if (!face) codes.push('no-face');
  else {
    if (others > 0) codes.push('several-faces');
    const hh = metrics.headHeight!;
    if (tooLarge || hh > th.headHeightRange[1]) codes.push('face-too-large');
    else if (upscale! > th.maxUpscale || hh < th.headHeightRange[0]) codes.push('face-too-small');
    if (Math.abs(metrics.centreOffset!) > th.maxCentreOffset || metrics.eyeLine! < th.eyeLineRange[0] || metrics.eyeLine! > th.eyeLineRange[1]) codes.push('off-centre');
    if (Math.abs(metrics.roll!) > th.maxRollDegrees || Math.abs(metrics.yaw!) > th.maxYaw) codes.push('tilted');
    // the iris is judged only on a well exposed, sharp photo (a blurred or washed-out eye has no dark disc)
    if (judge && sharpnessNormalised >= th.minSharpness && metrics.eyeOpening !== null && metrics.eyeOpening < th.minEyeOpening) codes.push('eyes-closed');
  }
  if (judge && sharpnessNormalised < th.minSharpness) codes.push('blurred');
  if (bgStd > th.maxBackgroundStdDev) codes.push('background-not-uniform');

  // Encode within the byte budget.
  let quality = opts.quality ?? 90;
  let out: Buffer;
  for (;;) {
    out = await sharp(crop, { raw: { width: outW, height: outH, channels: ch } }).jpeg({ quality }).toBuffer();
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
    crop: { left: Math.round(rect.left / scale), top: Math.round(rect.top / scale), width: Math.round(rect.width / scale), height: Math.round(rect.height / scale) },
    source: { width: W, height: H, orientation },
  };
}

function scaleFace(f: DetectedFace, kx: number, ky: number): DetectedFace {
  const p = (q: Point): Point => ({ x: q.x * kx, y: q.y * ky });
  return {
    ...f, box: { x: f.box.x * kx, y: f.box.y * ky, width: f.box.width * kx, height: f.box.height * ky },
    eyePointsLeft: f.eyePointsLeft.map(p), eyePointsRight: f.eyePointsRight.map(p),
    eyeLeft: p(f.eyeLeft), eyeRight: p(f.eyeRight), chin: p(f.chin), nose: p(f.nose), mouth: p(f.mouth), jawLeft: p(f.jawLeft), jawRight: p(f.jawRight),
  };
}
