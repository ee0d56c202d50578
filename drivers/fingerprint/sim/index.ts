/**
 * The fingerprint module simulator: each supported model emulated byte for byte behind a
 * pseudo-terminal, so the real serialport binding is exercised. Used by tests, the demo and
 * `station fingerprint simulate`.
 */
import { UsageError } from '../../common/errors';
import { MODELS, MODEL_TABLE, isModel, type FingerprintModel } from '../models';
import type { SimDevice, SimDeviceOptions, SimFaults } from './device';
import { GtSim } from './gt-sim';
import type { FingerImageKind } from './images';
import { R30xSim } from './r30x-sim';

export { generateFingerImage, FINGER_IMAGE_KINDS, type FingerImageKind } from './images';
export type { SimFaults } from './device';
export { R30xSim } from './r30x-sim';
export { GtSim } from './gt-sim';

export type SimulatorOptions = SimDeviceOptions;

export interface SimulatorHandle {
  /** Path the host opens (a symlink to a /dev/pts device; stable across unplug/replug). */
  readonly path: string;
  readonly model: FingerprintModel;
  /** The module's current line speed. */
  readonly baud: number;
  /** Mutable fault switches. */
  faults: SimFaults;
  /** Put a finger on the sensor; `who` identifies the finger (same finger → matching templates). */
  placeFinger(kind?: FingerImageKind, who?: string): void;
  removeFinger(): void;
  /** Power off / pull the cable: the pty closes, the host sees a disconnect. */
  unplug(): Promise<void>;
  /** Power back on (new pty at the same path); stored settings apply. */
  replug(): Promise<void>;
  stop(): Promise<void>;
  /** The emulated device, for tests that look inside. */
  readonly device: SimDevice;
}

export function createSimDevice(opts: SimulatorOptions): SimDevice {
  if (!isModel(opts.model)) throw new UsageError(`unknown fingerprint model "${String(opts.model)}"`, `use one of: ${MODELS.join(', ')}`, 'FP_MODEL');
  return MODEL_TABLE[opts.model].family === 'r30x' ? new R30xSim(opts) : new GtSim(opts);
}

export async function startSimulator(opts: SimulatorOptions): Promise<SimulatorHandle> {
  const dev = createSimDevice(opts);
  await dev.start();
  return {
    get path() {
      return dev.path;
    },
    model: dev.model,
    get baud() {
      return dev.baud;
    },
    get faults() {
      return dev.faults;
    },
    set faults(f: SimFaults) {
      dev.faults = f;
    },
    placeFinger: (k, who) => dev.placeFinger(k, who),
    removeFinger: () => dev.removeFinger(),
    unplug: () => dev.unplug(),
    replug: () => dev.replug(),
    stop: () => dev.stop(),
    device: dev,
  };
}
