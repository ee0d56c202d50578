/**
 * In-memory implementations of the workflow ports: no hardware, no latency
 * unless asked. Used by workflow/kiosk tests, the workflow bench and as a
 * fallback wherever a real part is not wired. They produce real image bytes
 * (a grey ridge-like PNG, a JPEG portrait) so previews and sizes are realistic.
 */
import { randomUUID } from 'node:crypto';
import sharp from 'sharp';
import { DeviceTimeoutError, StationError } from '../../drivers/common/errors';
import type { ErrorCode } from '../../config/error-codes';
import type {
  CameraPort, CaptureProgress, ChipPort, ChipReadResult, DeviceState, DeviceStatusPort, EnrollmentDraft, FingerCaptureResult,
  FingerPosition, FingerprintPort, GuardVerdict, ChipKey, MrzInfo, OfficerCardPort, PortraitResult, SealerPort, StationGuardPort, UplinkStatus, UplinkStatusPort,
} from './ports';

let fingerPng: Promise<Buffer> | null = null;
/** A 256×288 8-bit grey PNG with a ridge-like pattern (generated once). */
export function syntheticFingerPng(): Promise<Buffer> {
  fingerPng ??= (() => {
    const w = 256, h = 288;
    const px = Buffer.alloc(w * h);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
      const dx = x - w / 2, dy = y - h / 2;
      const r = Math.sqrt(dx * dx + dy * dy * 0.8);
      const inside = (dx * dx) / (110 * 110) + (dy * dy) / (135 * 135) < 1;
      px[y * w + x] = inside ? (Math.sin(r / 2.6) > 0 ? 40 : 210) : 255;
    }
    return sharp(px, { raw: { width: w, height: h, channels: 1 } }).toColourspace('b-w').png().withMetadata({ density: 500 }).toBuffer();
  })();
  return fingerPng;
}

const portraitCache = new Map<string, Promise<Buffer>>();
/** A 480×640 JPEG: a face-like ellipse on a plain background; 'dark' makes it dark. */
export function syntheticPortraitJpeg(kind: 'good' | 'dark' = 'good'): Promise<Buffer> {
  let p = portraitCache.get(kind);
  if (!p) {
    const w = 480, h = 640;
    const px = Buffer.alloc(w * h * 3);
    const k = kind === 'dark' ? 0.12 : 1;
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
      const dx = (x - w / 2) / 130, dy = (y - h * 0.42) / 170;
      const face = dx * dx + dy * dy < 1;
      const shoulders = y > h * 0.78 && Math.abs(x - w / 2) < 200;
      const i = (y * w + x) * 3;
      const [r, g, b] = face ? [224, 180, 150] : shoulders ? [40, 50, 90] : [235, 238, 242];
      px[i] = r * k; px[i + 1] = g * k; px[i + 2] = b * k;
    }
    p = sharp(px, { raw: { width: w, height: h, channels: 3 } }).jpeg({ quality: 85 }).toBuffer();
    portraitCache.set(kind, p);
  }
  return p;
}

function delay(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0) { if (signal.aborted) return Promise.reject(new Error('aborted')); return Promise.resolve(); }
  return new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => { clearTimeout(t); reject(new Error('aborted')); }, { once: true });
  });
}

export class FakeFingerprint implements FingerprintPort {
  /** Qualities returned by successive captures (cycled); default always 80. */
  qualities: number[] = [80];
  threshold = 40;
  latencyMs = 0;
  /** Set to make the next capture(s) fail like an unplugged scanner. */
  failNext = 0;
  calls = 0;

  async captureFinger(position: FingerPosition, opts: { signal: AbortSignal; onProgress?: (p: CaptureProgress) => void }): Promise<FingerCaptureResult> {
    const q = this.qualities[this.calls++ % this.qualities.length]!;
    opts.onProgress?.({ phase: 'place_finger', attempt: 1 });
    await delay(this.latencyMs, opts.signal);
    if (this.failNext > 0) {
      this.failNext--;
      throw new DeviceTimeoutError('FP_TIMEOUT', 'fingerprint scanner (simulated) did not answer within 2000 ms', { hint: 'check the scanner cable, then retry' });
    }
    opts.onProgress?.({ phase: 'captured', attempt: 1, quality: q });
    const png = Buffer.from(await syntheticFingerPng());
    return { position, png, width: 256, height: 288, quality: q, attempts: 1, passed: q >= this.threshold, threshold: this.threshold };
  }
}

export class FakeCamera implements CameraPort {
  /** Verdicts for successive captures (cycled). */
  mode: Array<'good' | 'dark'> = ['good'];
  latencyMs = 0;
  failNext = 0;
  /** Error code of the failures failNext makes (default CAM_CAPTURE_FAILED; CAM_NOT_FOUND = an unplugged camera). */
  failCode: ErrorCode = 'CAM_CAPTURE_FAILED';
  /** When set, the live view fails too (an unplugged camera). */
  previewFails = false;
  calls = 0;

  async capturePortrait(opts: { signal: AbortSignal; onProgress?: (p: CaptureProgress) => void }): Promise<PortraitResult> {
    const m = this.mode[this.calls++ % this.mode.length]!;
    opts.onProgress?.({ phase: 'capturing' });
    await delay(this.latencyMs, opts.signal);
    if (this.failNext > 0) {
      this.failNext--;
      throw new StationError(this.failCode, this.failCode === 'CAM_NOT_FOUND' ? 'USB camera /dev/video0 not found' : 'camera (simulated) exited with status 1', { hint: 'retry; if it persists check the camera cable' });
    }
    const jpeg = Buffer.from(await syntheticPortraitJpeg(m));
    const checks = (exposure: number): PortraitResult['checks'] => [
      { id: 'subject', value: 1, min: 1, lo: 0, hi: 1, ok: true },
      { id: 'exposure', value: exposure, min: 0.25, max: 0.9, lo: 0, hi: 1, ok: exposure >= 0.25 && exposure <= 0.9 },
      { id: 'sharpness', value: 180, min: 25, lo: 0, hi: 100, ok: true },
      { id: 'background', value: 4, max: 16, lo: 0, hi: 64, ok: true },
    ];
    if (m === 'dark') {
      return { jpeg, width: 480, height: 640, metrics: { exposure: 0.1, contrast: 0.2, sharpness: 180, background: 0.95 }, checks: checks(0.1), verdict: 'reject', reasons: [{ code: 'too-dark', message: 'too dark — turn on or check the booth lights' }] };
    }
    return { jpeg, width: 480, height: 640, metrics: { exposure: 0.55, contrast: 0.6, sharpness: 240, background: 0.97 }, checks: checks(0.55), verdict: 'accept', reasons: [] };
  }

  evidence = 0;
  /** A still of the hand for a finger exception (fails like a capture when failNext is set). */
  async captureEvidence(opts: { signal: AbortSignal }): Promise<{ jpeg: Buffer; width: number; height: number }> {
    this.evidence++;
    await delay(this.latencyMs, opts.signal);
    if (this.failNext > 0) {
      this.failNext--;
      throw new StationError(this.failCode, 'camera (simulated) exited with status 1', { hint: 'retry; if it persists check the camera cable' });
    }
    return { jpeg: Buffer.from(await syntheticPortraitJpeg('good')), width: 480, height: 640 };
  }

  previews = 0;
  async previewFrame(): Promise<Buffer> {
    this.previews++;
    if (this.previewFails) throw new StationError(this.failCode, 'USB camera /dev/video0 not found', { hint: 'plug the camera in' });
    return Buffer.from(await syntheticPortraitJpeg(this.mode[this.calls % this.mode.length]!));
  }
}

export class FakeChip implements ChipPort {
  verdict: ChipReadResult['passiveAuth'] = { status: 'valid' };
  /** Clone detection as the chip adapter reports it (absent: not reported). */
  clone?: ChipReadResult['clone'];
  /** DG1's person (the MRZ's document number and dates come from the BAC input); default the tests' Nguyễn Văn An. */
  person: { lastName: string | null; firstName: string | null; sex: string | null } = { lastName: 'NGUYEN', firstName: 'VAN AN', sex: 'male' };
  /** When set, BAC fails unless the MRZ document number matches. */
  expectedDocumentNumber: string | null = null;
  latencyMs = 0;
  calls = 0;

  /** When set, PACE with a CAN fails unless it is this one (with a retry counter like a real chip's). */
  can: string | null = null;
  canAttemptsLeft = 3;
  /** DG13 details the chip reports (Vietnamese citizen card). */
  chipDetails?: ChipReadResult['chipDetails'];

  async readChip(key: ChipKey, opts: { signal: AbortSignal; onProgress?: (p: CaptureProgress) => void }): Promise<ChipReadResult> {
    this.calls++;
    opts.onProgress?.({ phase: 'reading_chip' });
    await delay(this.latencyMs, opts.signal);
    if (key.can !== undefined && this.can !== null && key.can !== this.can) {
      this.canAttemptsLeft = Math.max(0, this.canAttemptsLeft - 1);
      throw new StationError('CARD_ACCESS_DENIED', `access denied — check the 6-digit card access number (CAN) (${this.canAttemptsLeft} attempt${this.canAttemptsLeft === 1 ? '' : 's'} left)`, {
        hint: 'type the six digits printed on the front of the card; the chip was asked once only', details: { password: 'CAN', attemptsLeft: this.canAttemptsLeft },
      });
    }
    const mrz: MrzInfo = key.mrz ?? { documentNumber: this.expectedDocumentNumber ?? '', birthDate: '', expiryDate: '' };
    if (this.expectedDocumentNumber && mrz.documentNumber !== this.expectedDocumentNumber) {
      throw new StationError('CARD_BAC_DENIED', 'access denied — check the document number and dates', { hint: 'compare the typed document number and dates with the card' });
    }
    return {
      dg1: Buffer.from('FAKE-DG1'), sod: Buffer.from('FAKE-SOD'), dg2: Buffer.from('FAKE-DG2'),
      // the same fields the real chip adapter gives (names from the `mrz` package)
      mrzFields: { documentNumber: mrz.documentNumber, birthDate: mrz.birthDate, expirationDate: mrz.expiryDate, nationality: 'VNM', issuingState: 'VNM', ...this.person },
      faceJpeg: Buffer.from(await syntheticPortraitJpeg('good')), passiveAuth: this.verdict, ...(this.clone ? { clone: this.clone } : {}),
      ...(this.chipDetails ? { chipDetails: this.chipDetails } : {}), access: { protocol: key.can !== undefined ? 'PACE' : 'BAC', password: key.can !== undefined ? 'CAN' : 'MRZ' },
    };
  }
}

export class MemorySealer implements SealerPort {
  readonly sealed: Array<{ recordId: string; draft: EnrollmentDraft; bytes: number; sealedAt: number }> = [];
  failNext = 0;
  /** Keep the drafts (tests); when false only ids and sizes are kept (benches). */
  keep = true;

  lookup(recordId: string): { sealedAt: number } | null {
    const r = this.sealed.find((x) => x.recordId === recordId);
    return r ? { sealedAt: r.sealedAt } : null;
  }

  async seal(draft: EnrollmentDraft): Promise<{ recordId: string }> {
    if (this.failNext > 0) { this.failNext--; throw new StationError('VAULT_WRITE', 'vault (memory) refused the record', { hint: 'retry' }); }
    const recordId = draft.recordId ?? randomUUID();
    if (this.sealed.some((x) => x.recordId === recordId)) throw new StationError('VAULT_DUPLICATE_RECORD', `record ${recordId} is already sealed`);
    let bytes = Buffer.byteLength(JSON.stringify(draft.details));
    for (const f of draft.fingerprints) bytes += f.capture?.png.length ?? 0;
    bytes += draft.portrait.capture?.jpeg.length ?? 0;
    // Deep-copy buffers: the workflow wipes its own copies after sealing.
    const copy: EnrollmentDraft = {
      ...draft, details: { ...draft.details },
      fingerprints: draft.fingerprints.map((f) => (f.capture ? { ...f, capture: { ...f.capture, png: Buffer.from(f.capture.png) } } : { ...f, ...(f.photo ? { photo: { ...f.photo, jpeg: Buffer.from(f.photo.jpeg) } } : {}) })),
      portrait: draft.portrait.capture ? { capture: { ...draft.portrait.capture, jpeg: Buffer.from(draft.portrait.capture.jpeg) } } : { ...draft.portrait },
    };
    this.sealed.push({ recordId, draft: this.keep ? copy : (undefined as unknown as EnrollmentDraft), bytes, sealedAt: Date.now() });
    return { recordId };
  }
}

export class FakeGuard implements StationGuardPort {
  verdict: GuardVerdict = { ok: true };
  canEnroll(): GuardVerdict { return this.verdict; }
  lock(reason = 'campaign paused', by = 'headquarters'): void {
    this.verdict = { ok: false, code: 'locked', message: `the station is locked: ${reason}`, hint: 'ask headquarters to unlock it', lock: { by, at: Date.now(), reason } };
  }
  unlock(): void { this.verdict = { ok: true }; }
}

export class FakeUplink implements UplinkStatusPort {
  constructor(private readonly sealer?: MemorySealer) {}
  value: UplinkStatus = { waiting: 0, lastSyncAt: null, connected: false };
  status(): UplinkStatus { return this.sealer ? { ...this.value, waiting: this.sealer.sealed.length } : this.value; }
}

export class FakeDevices implements DeviceStatusPort {
  list: DeviceState[] = [
    { device: 'fingerprint', state: 'simulated' }, { device: 'camera', state: 'simulated' }, { device: 'card', state: 'simulated' },
  ];
  states(): DeviceState[] { return this.list; }
}

export class FakeOfficerCard implements OfficerCardPort {
  identity: { atr: string; uid: string | null } | null = { atr: '3b8f8001804f0ca000000306030001000000006a', uid: '04a1b2c3d4e5f6' };
  async readIdentity(): Promise<{ atr: string; uid: string | null }> {
    if (!this.identity) throw new StationError('CARD_ABSENT', 'no card in the officer reader', { hint: 'insert the officer card' });
    return this.identity;
  }
}
