import type { Logger } from 'pino';
import { StationError, UsageError } from '../common/errors';
import { loadOnoff, OnoffBackend, type OnoffGpioClass } from './onoff-backend';
import { SimPinBackend } from './sim-backend';
import { StationGpio } from './station-gpio';
import type { GpioPins, Level, PinBackend, PinRole } from './types';

export * from './types';
export { StationGpio, type GpioSimControl, type GpioStatus, type StationGpioOptions } from './station-gpio';
export { SimPinBackend } from './sim-backend';
export { listGpioChips, type GpioChip } from './chips';
export { OnoffBackend, type OnoffGpio, type OnoffGpioClass } from './onoff-backend';

/** Defaults matching the configuration schema's pin defaults. */
export const DEFAULT_PINS: GpioPins = { ready: 17, busy: 27, error: 22, syncing: 23, buzzer: 24, button: 25, tamper: 5 };

export interface CreateGpioOptions {
  /** Line numbers; a missing or null role is not wired. */
  pins: Partial<Record<PinRole, number | null>>;
  /**
   * true: the simulator. false: real GPIO or GPIO_UNAVAILABLE — never a silent fall back to
   * the simulator (a booth whose tamper switch is simulated watches nothing).
   */
  simulated: boolean;
  logger: Logger;
  debounceMs?: number;
  tamperDebounceMs?: number;
  buttonActiveLow?: boolean;
  tamperOpenLevel?: Level;
  /** Test seam: the onoff Gpio class (default: the real one). */
  onoffGpio?: OnoffGpioClass & { accessible: boolean };
}

const ROLES: PinRole[] = ['ready', 'busy', 'error', 'syncing', 'buzzer', 'button', 'tamper'];

function checkPins(p: CreateGpioOptions['pins']): GpioPins {
  const pins = {} as GpioPins;
  const seen = new Map<number, PinRole>();
  for (const role of ROLES) {
    const v = p[role] ?? null;
    if (v !== null && (!Number.isInteger(v) || v < 0 || v > 1023)) {
      throw new UsageError(`GPIO pin for ${role} must be a line number 0–1023 or null, got ${String(v)}`, 'Fix devices.gpio.pins in the configuration.', 'CONFIG_INVALID');
    }
    if (v !== null && seen.has(v)) {
      throw new UsageError(`GPIO ${v} is configured twice (${seen.get(v)} and ${role})`, 'Give every LED, the buzzer, the button and the tamper switch its own line.', 'CONFIG_INVALID');
    }
    if (v !== null) seen.set(v, role);
    pins[role] = v;
  }
  return pins;
}

/** Composition-root factory. Chooses onoff or the simulator; no I/O until open(). */
export function createGpio(o: CreateGpioOptions): StationGpio {
  const pins = checkPins(o.pins);
  const logger = o.logger.child({ component: 'gpio' });
  const opts = { pins, logger, debounceMs: o.debounceMs, tamperDebounceMs: o.tamperDebounceMs, buttonActiveLow: o.buttonActiveLow, tamperOpenLevel: o.tamperOpenLevel };
  const simulator = (): StationGpio => {
    const idle: Partial<Record<number, Level>> = {};
    // Resting levels of the simulated lines: button released, case shut.
    if (pins.button !== null) idle[pins.button] = (o.buttonActiveLow ?? true) ? 1 : 0;
    if (pins.tamper !== null) idle[pins.tamper] = (o.tamperOpenLevel ?? 1) ? 0 : 1;
    const sim = new SimPinBackend(idle);
    return new StationGpio(sim, opts, sim);
  };
  if (o.simulated === true) return simulator();
  let Gpio: (OnoffGpioClass & { accessible: boolean }) | undefined = o.onoffGpio;
  if (!Gpio) {
    try {
      Gpio = loadOnoff().Gpio;
    } catch (e) {
      logger.warn({ err: e }, 'onoff could not be loaded');
    }
  }
  if (!Gpio?.accessible) {
    throw new StationError('GPIO_UNAVAILABLE', 'GPIO is not accessible on this machine (no writable /sys/class/gpio/export)', {
      hint: 'On the booth: add the station user to the gpio group and use the shipped systemd unit. Elsewhere: set devices.gpio.simulated: true.',
    });
  }
  const backend: PinBackend = new OnoffBackend(Gpio, logger);
  return new StationGpio(backend, opts);
}
