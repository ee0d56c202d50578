/**
 * The per-finger capture flow used during enrollment: for one finger position, up to N
 * attempts, keep the best image by quality, stop early once the threshold is met; or record an
 * exception (missing, amputated, bandaged, unable) with the officer's reason.
 *
 * The result objects have the same shape as FingerprintCapture / FingerprintException in
 * sync/wire/record.ts; positions and exception codes are the domain's (config/domain.ts).
 */
import type { Logger } from 'pino';
import { DisconnectedError, StationError, UsageError } from '../common/errors';
import { FINGER_EXCEPTIONS, FINGER_NAMES, isFingerException, type FingerExceptionCode, type FingerPosition } from '../../config/domain';
import type { CapturedImage, FingerprintScanner } from './types';

export interface FingerCapture {
  position: FingerPosition;
  status: 'captured';
  png: Buffer;
  width: number;
  height: number;
  ppi: number;
  /** 0..100, see docs/fingerprint.md "Quality score". */
  quality: number;
  /** Attempts made for this finger (>= 1). */
  attempts: number;
  /** Whether the kept image reached the threshold (false = best of N, below threshold). */
  meetsThreshold: boolean;
  /**
   * With `duplicateCheck`: 'checked' = compared with the session's other fingers by the module's
   * matcher and kept as this finger's template; 'unchecked' = the module could extract no
   * features from the kept image (a poor print), so it could not be compared.
   */
  duplicateCheck?: 'checked' | 'unchecked';
  /** Quality of every attempt in order (0 for attempts that failed). */
  attemptQualities: number[];
}

export interface FingerException {
  position: FingerPosition;
  status: 'exception';
  exception: FingerExceptionCode;
  reason: string;
}

export type FingerResult = FingerCapture | FingerException;

export interface AttemptReport {
  position: FingerPosition;
  attempt: number;
  quality?: number;
  error?: string;
  best: number;
}

export interface CaptureFlowOptions {
  position: number;
  /** Attempts before giving up and keeping the best (default 3). */
  maxAttempts?: number;
  /** Quality at which an attempt is accepted at once (default 40). */
  threshold?: number;
  /** How long to wait for the finger on each attempt (default 20 s). */
  fingerTimeoutMs?: number;
  /** Between attempts, wait for the finger to be lifted (default true). */
  waitForRemoval?: boolean;
  signal?: AbortSignal;
  onAttempt?: (r: AttemptReport) => void;
  logger?: Logger;
  /**
   * Same finger twice: every attempt is compared by the scanner's own matcher with the fingers
   * kept so far in this session (scanner.sessionBegin() must have been called); a match stops the
   * finger with FP_DUPLICATE_FINGER, and the kept attempt becomes this finger's session template.
   */
  duplicateCheck?: boolean;
}

/** The error that stops a finger which the matcher says is another finger of this session. */
export function duplicateFingerError(position: FingerPosition, matched: number, score?: number): StationError {
  const other = FINGER_NAMES[matched as FingerPosition] ?? `finger ${matched}`;
  return new StationError('FP_DUPLICATE_FINGER', `this looks like the ${other} already captured`, {
    hint: `place the ${FINGER_NAMES[position]} on the sensor (the scanner matched it with the ${other} of this session); if that finger is missing, record an exception`,
    details: { position, matchedPosition: matched, ...(score !== undefined ? { score } : {}) },
  });
}

export function checkPosition(position: number): FingerPosition {
  if (!Number.isInteger(position) || position < 1 || position > 10) {
    throw new UsageError(`finger position must be 1..10 (1 right thumb … 10 left little), got ${position}`, undefined, 'FP_POSITION');
  }
  return position as FingerPosition;
}

/** Errors after which another attempt makes sense (the scanner is still there). */
function retryable(e: unknown): boolean {
  if (e instanceof DisconnectedError) return false;
  const code = (e as StationError)?.code;
  return code === 'FP_CORRUPT' || code === 'FP_DEVICE' || code === 'FP_TIMEOUT';
}

export async function captureFinger(scanner: FingerprintScanner, opts: CaptureFlowOptions): Promise<FingerCapture> {
  const position = checkPosition(opts.position);
  const maxAttempts = opts.maxAttempts ?? 3;
  const threshold = opts.threshold ?? 40;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1 || maxAttempts > 20) throw new UsageError(`maxAttempts must be 1..20, got ${maxAttempts}`);
  if (!(threshold >= 0 && threshold <= 100)) throw new UsageError(`quality threshold must be 0..100, got ${threshold}`);
  let best: CapturedImage | undefined;
  let bestChecked = false;
  const qualities: number[] = [];
  let lastErr: unknown;
  const dup = opts.duplicateCheck === true;
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    if (opts.signal?.aborted) throw new StationError('FP_ABORTED', `capture of the ${FINGER_NAMES[position]} was cancelled`);
    if (attempt > 1 && opts.waitForRemoval !== false) {
      await scanner.waitForFingerRemoved({ timeoutMs: opts.fingerTimeoutMs ?? 20000, signal: opts.signal });
    }
    let img: CapturedImage;
    try {
      img = await scanner.captureImage({ timeoutMs: opts.fingerTimeoutMs ?? 20000, signal: opts.signal });
    } catch (e) {
      if (!retryable(e)) {
        if ((e as StationError)?.code === 'FP_NO_FINGER' && best) break; // keep what we have
        throw e;
      }
      lastErr = e;
      qualities.push(0);
      opts.logger?.warn({ position, attempt, code: (e as StationError).code }, 'capture attempt failed');
      opts.onAttempt?.({ position, attempt, error: (e as Error).message, best: best?.quality.score ?? 0 });
      continue;
    }
    qualities.push(img.quality.score);
    let checked = false;
    if (dup) {
      // the attempt is compared even when its quality is low: a duplicate is a duplicate
      try {
        const hit = await scanner.sessionMatch(position);
        if (hit) {
          opts.logger?.warn({ position, matched: hit.position, score: hit.score }, 'duplicate finger in this session');
          throw duplicateFingerError(position, hit.position, hit.score);
        }
        checked = true;
      } catch (e) {
        if ((e as StationError)?.code !== 'FP_POOR_IMAGE') throw e;
        opts.logger?.info({ position, attempt }, 'no features for the duplicate check in this attempt');
      }
    }
    // a comparable attempt beats an uncomparable one of the same quality
    if (!best || img.quality.score > best.quality.score || (checked && !bestChecked && img.quality.score === best.quality.score)) {
      best = img;
      bestChecked = checked;
      if (checked) {
        try {
          await scanner.sessionHold(position);
        } catch (e) {
          if ((e as StationError)?.code !== 'FP_POOR_IMAGE') throw e;
          bestChecked = false;
        }
      }
    }
    opts.logger?.info({ position, attempt, quality: img.quality.score, best: best.quality.score }, 'capture attempt');
    opts.onAttempt?.({ position, attempt, quality: img.quality.score, best: best.quality.score });
    if (img.quality.score >= threshold) break;
  }
  if (!best) throw lastErr ?? new StationError('FP_CAPTURE_FAILED', `no usable image of the ${FINGER_NAMES[position]} after ${maxAttempts} attempts`);
  if (dup) {
    if (bestChecked) await scanner.sessionCommit(position);
    else await scanner.sessionForget(position); // an earlier capture of this finger no longer stands for it
  }
  return {
    position, status: 'captured', png: best.png, width: best.width, height: best.height, ppi: best.ppi,
    quality: best.quality.score, attempts: qualities.length, meetsThreshold: best.quality.score >= threshold, attemptQualities: qualities,
    ...(dup ? { duplicateCheck: bestChecked ? 'checked' as const : 'unchecked' as const } : {}),
  };
}

/** Record that a finger cannot be captured. The reason is required (it goes into the record). */
export function declareException(position: number, exception: string, reason: string): FingerException {
  const pos = checkPosition(position);
  if (!isFingerException(exception)) {
    throw new UsageError(`finger exception must be one of ${FINGER_EXCEPTIONS.join(', ')}, got "${exception}"`, undefined, 'FP_EXCEPTION');
  }
  const r = (reason ?? '').trim();
  if (!r) throw new UsageError(`a reason is required when the ${FINGER_NAMES[pos]} is recorded as ${exception}`, undefined, 'FP_EXCEPTION');
  if (r.length > 500) throw new UsageError('the exception reason is limited to 500 characters', undefined, 'FP_EXCEPTION');
  return { position: pos, status: 'exception', exception, reason: r };
}
