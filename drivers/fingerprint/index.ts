/**
 * Fingerprint scanners: one interface (FingerprintScanner) for the R30x family (R307, R503,
 * AS608, ZFM-20) and the GT-521F32/F52, chosen by model. See docs/fingerprint.md.
 */
import { UsageError } from '../common/errors';
import { GtScanner } from './gt-driver';
import { MODELS, isModel, modelInfo } from './models';
import { R30xScanner } from './r30x-driver';
import type { FingerprintScanner, ScannerOptions } from './types';

export * from './types';
export { MODELS, MODEL_TABLE, isModel, modelInfo, type FingerprintModel, type ModelInfo } from './models';
export { serialPortFactory, type PortFactory, type SerialLike } from './port';
export { qualityScore, unpack4, toPng, processImage, QUALITY, type QualityReport } from './image';
export { captureFinger, declareException, type FingerCapture, type FingerException, type FingerResult, type CaptureFlowOptions } from './capture-flow';
export { startSimulator, type SimulatorOptions, type SimulatorHandle } from './sim';
export { R30xScanner } from './r30x-driver';
export { GtScanner } from './gt-driver';

/** Composition-root factory. Does no I/O: call open(). */
export function createScanner(opts: ScannerOptions): FingerprintScanner {
  if (!isModel(opts.model)) {
    throw new UsageError(`unknown fingerprint scanner model "${String(opts.model)}"`, `use one of: ${MODELS.join(', ')}`, 'FP_MODEL');
  }
  const m = modelInfo(opts.model);
  if (opts.baud !== undefined && !m.bauds.includes(opts.baud)) {
    throw new UsageError(`${m.label} does not support ${opts.baud} baud`, `supported: ${m.bauds.join(', ')}`, 'FP_BAD_BAUD');
  }
  return m.family === 'r30x' ? new R30xScanner(opts) : new GtScanner(opts);
}
