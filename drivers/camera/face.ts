/**
 * Face and eye detection for the portrait check (docs/camera-gpio.md "Face detection").
 *
 * The model and its runtime come from npm packages and nothing is fetched at run time:
 * `@vladmandic/face-api` ships the weights (Tiny Face Detector, 190 KB; 68-point face landmark
 * net, 350 KB) in its `model/` folder, and runs them on TensorFlow.js with the WebAssembly
 * backend (`@tensorflow/tfjs-backend-wasm`, whose .wasm files are in its tarball) — no native
 * addon, no download, the same on a Raspberry Pi (arm64) and x86.
 *
 * Loaded once per process (`loadFaceModel`); a model that cannot be loaded is CAM_FACE_MODEL,
 * which the station reports at start and the portrait step reports when it is taken.
 */
import { dirname, join } from 'node:path';
import { existsSync } from 'node:fs';
import { StationError } from '../common/errors';

export interface Point { x: number; y: number }

export interface DetectedFace {
  /** Detector confidence 0..1. */
  score: number;
  box: { x: number; y: number; width: number; height: number };
  /** Centre of the eye on the image's left (the person's right eye), and on its right. */
  eyeLeft: Point;
  eyeRight: Point;
  /** Chin (jaw landmark 8), nose tip (30), mouth centre. */
  chin: Point;
  nose: Point;
  mouth: Point;
  /** The six landmarks of each eye (iBUG 68 order: outer/inner corner, two upper lid, two lower lid points). */
  eyePointsLeft: Point[];
  eyePointsRight: Point[];
  /**
   * Eye aspect ratio of the landmarks (lid opening / eye width). Measured here, the packaged net
   * fits an open-eye shape to closed eyes too (0.27–0.36 either way), so the portrait check judges
   * openness from the pixels at these landmarks instead (portrait.ts irisOpening).
   */
  eyeOpenLeft: number;
  eyeOpenRight: number;
  /** Outer jaw points 0 and 16 (face width at the ears' height). */
  jawLeft: Point;
  jawRight: Point;
}

export interface FaceDetector {
  /** Faces in an RGB (3 channels) raw image, coordinates in that image's pixels. */
  detect(rgb: Buffer, width: number, height: number): Promise<DetectedFace[]>;
  /** Bare model inference (detector + landmarks) on the same input, for the benchmark. */
  readonly name: string;
}

export interface FaceModelOptions {
  /** Folder holding the weight manifests (default: the face-api package's model/). */
  modelDir?: string;
  /** Detector input size (multiple of 32; default 416). */
  inputSize?: number;
  /** Faces below this detector score are ignored (default 0.5). */
  minScore?: number;
}

// The libraries are typed loosely here: their bundles' declarations pull in DOM types.
interface Tf {
  setBackend(name: string): Promise<boolean>;
  ready(): Promise<void>;
  getBackend(): string;
  tensor3d(values: Uint8Array | Int32Array, shape: [number, number, number], dtype: 'int32'): { dispose(): void };
  engine(): { startScope(): void; endScope(): void };
}
interface Landmarks { positions: Point[] }
interface FaceApi {
  nets: { tinyFaceDetector: { loadFromDisk(dir: string): Promise<void> }; faceLandmark68Net: { loadFromDisk(dir: string): Promise<void> } };
  TinyFaceDetectorOptions: new (o: { inputSize: number; scoreThreshold: number }) => unknown;
  detectAllFaces(input: unknown, opts: unknown): { withFaceLandmarks(): Promise<Array<{ detection: { score: number; box: { x: number; y: number; width: number; height: number } }; landmarks: Landmarks }>> };
}

function modelError(what: string, cause?: unknown): StationError {
  return new StationError('CAM_FACE_MODEL', `the face detection model could not be loaded: ${what}`, {
    hint: 'the portrait check cannot see faces without it: reinstall the station (`npm ci` installs @vladmandic/face-api with its model/ folder and @tensorflow/tfjs-backend-wasm)',
    cause,
  });
}

/** Default model folder: inside the installed face-api package. */
export function defaultModelDir(): string {
  try {
    return join(dirname(require.resolve('@vladmandic/face-api/package.json')), 'model');
  } catch (e) {
    throw modelError('the package @vladmandic/face-api is not installed', e);
  }
}

const cache = new Map<string, Promise<FaceDetector>>();

/** Loads (once per model folder and options) the runtime and the two nets. */
export function loadFaceModel(o: FaceModelOptions = {}): Promise<FaceDetector> {
  const key = JSON.stringify([o.modelDir ?? '', o.inputSize ?? 416, o.minScore ?? 0.5]);
  let p = cache.get(key);
  if (!p) {
    p = load(o);
    cache.set(key, p);
    p.catch(() => cache.delete(key));
  }
  return p;
}

async function load(o: FaceModelOptions): Promise<FaceDetector> {
  const dir = o.modelDir ?? defaultModelDir();
  for (const f of ['tiny_face_detector_model-weights_manifest.json', 'face_landmark_68_model-weights_manifest.json']) {
    if (!existsSync(join(dir, f))) throw modelError(`${join(dir, f)} is missing`);
  }
  let tf: Tf;
  let faceapi: FaceApi;
  try {
    /* eslint-disable @typescript-eslint/no-require-imports -- loaded on first use: the runtime is large */
    tf = require('@tensorflow/tfjs') as Tf;
    require('@tensorflow/tfjs-backend-wasm');
    faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js') as FaceApi;
    /* eslint-enable @typescript-eslint/no-require-imports */
    if (!(await tf.setBackend('wasm'))) throw new Error('the WebAssembly backend did not initialise');
    await tf.ready();
  } catch (e) {
    throw modelError(`the TensorFlow.js WebAssembly runtime did not start (${(e as Error).message})`, e);
  }
  try {
    await faceapi.nets.tinyFaceDetector.loadFromDisk(dir);
    await faceapi.nets.faceLandmark68Net.loadFromDisk(dir);
  } catch (e) {
    throw modelError(`${dir}: ${(e as Error).message}`, e);
  }
  const inputSize = o.inputSize ?? 416;
  const options = new faceapi.TinyFaceDetectorOptions({ inputSize, scoreThreshold: o.minScore ?? 0.5 });
  return {
    name: `face-api TinyFaceDetector ${inputSize} + 68-point landmarks (tfjs ${tf.getBackend()})`,
    async detect(rgb, width, height) {
      if (rgb.length !== width * height * 3) throw new StationError('CAM_BAD_IMAGE', `face detection needs ${width}×${height} RGB pixels, got ${rgb.length} bytes`);
      const t = tf.tensor3d(new Uint8Array(rgb.buffer, rgb.byteOffset, rgb.length), [height, width, 3], 'int32');
      try {
        const found = await faceapi.detectAllFaces(t, options).withFaceLandmarks();
        return found.map((f) => describe(f.detection.score, f.detection.box, f.landmarks.positions));
      } finally {
        t.dispose();
      }
    },
  };
}

const mean = (ps: Point[]): Point => ({ x: ps.reduce((s, p) => s + p.x, 0) / ps.length, y: ps.reduce((s, p) => s + p.y, 0) / ps.length });
const dist = (a: Point, b: Point): number => Math.hypot(a.x - b.x, a.y - b.y);

/** Eye aspect ratio of the six points of one eye (iBUG 68 order: corner, 2 upper, corner, 2 lower). */
export function eyeAspectRatio(e: Point[]): number {
  const w = dist(e[0]!, e[3]!);
  return w > 0 ? (dist(e[1]!, e[5]!) + dist(e[2]!, e[4]!)) / (2 * w) : 0;
}

function describe(score: number, box: { x: number; y: number; width: number; height: number }, pts: Point[]): DetectedFace {
  const p = pts.map((q) => ({ x: q.x, y: q.y }));
  const left = p.slice(36, 42); // iBUG 68: 36–41 the eye on the image's left
  const right = p.slice(42, 48);
  return {
    score, box: { x: box.x, y: box.y, width: box.width, height: box.height },
    eyeLeft: mean(left), eyeRight: mean(right), chin: p[8]!, nose: p[30]!, mouth: mean(p.slice(48, 68)),
    eyePointsLeft: left, eyePointsRight: right,
    eyeOpenLeft: eyeAspectRatio(left), eyeOpenRight: eyeAspectRatio(right), jawLeft: p[0]!, jawRight: p[16]!,
  };
}
