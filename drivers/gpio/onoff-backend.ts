import type { Logger } from 'pino';
import { StationError } from '../common/errors';
import { listGpioChips } from './chips';
import type { InputPin, Level, OutputPin, PinBackend, PinRole } from './types';

/** The part of onoff's Gpio class this backend uses (injectable for tests). */
export interface OnoffGpio {
  readSync(): Level;
  writeSync(v: Level): void;
  watch(cb: (err: Error | null | undefined, value: Level) => void): void;
  unwatchAll(): void;
  unexport(): void;
}
export type OnoffGpioClass = new (pin: number, direction: 'in' | 'out', edge?: 'none' | 'both') => OnoffGpio;

/** Loaded on first use only: onoff pulls in a native module that a simulator-only run does not need. */
export function loadOnoff(): { Gpio: OnoffGpioClass & { accessible: boolean } } {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('onoff') as { Gpio: OnoffGpioClass & { accessible: boolean } };
}

function baseHint(): string {
  const chips = listGpioChips().filter((c) => /pinctrl|bcm2835|rp1/i.test(c.label));
  return chips.length ? ` — here ${chips.map((c) => `${c.label} starts at ${c.base}`).join(', ')}` : ' (512 on a Pi 4, 571 on a Pi 5)';
}

function pinError(e: unknown, pin: number, role: PinRole): StationError {
  const code = (e as NodeJS.ErrnoException).code;
  const why =
    code === 'EBUSY' ? 'is already in use by another program or driver'
      : code === 'EACCES' || code === 'EPERM' ? 'cannot be opened (permission denied)'
        : code === 'EINVAL' || code === 'ENOENT' ? 'does not exist on this board'
          : `cannot be opened (${(e as Error).message})`;
  const hint =
    code === 'EACCES' || code === 'EPERM' ? 'Add the station user to the gpio group (sudo usermod -aG gpio enroll-station) and restart.'
      : code === 'EBUSY' ? 'Another service or a device-tree overlay owns this line; free it or choose another pin.'
        : `Check devices.gpio.pins (BCM numbers) and devices.gpio.lineBase in the configuration: the sysfs line is BCM + the chip base${baseHint()}; lineBase: auto finds it (see docs/camera-gpio.md).`;
  return new StationError('GPIO_PIN_UNAVAILABLE', `GPIO ${pin} (${role}) ${why}`, { hint, cause: e, details: { pin, role } });
}

/** Real GPIO through onoff (sysfs). Interrupt-driven edges; debouncing is done by the station layer. */
export class OnoffBackend implements PinBackend {
  readonly kind = 'onoff' as const;
  constructor(private readonly Gpio: OnoffGpioClass, private readonly logger: Logger) {}

  output(pin: number, role: PinRole): OutputPin {
    let g: OnoffGpio;
    try {
      g = new this.Gpio(pin, 'out');
    } catch (e) {
      throw pinError(e, pin, role);
    }
    return {
      write: (v) => {
        try {
          g.writeSync(v);
        } catch (e) {
          this.logger.warn({ gpio: pin, role, err: e }, 'gpio write failed');
        }
      },
      release: () => {
        try {
          g.writeSync(0);
          g.unexport();
        } catch {
          /* already gone */
        }
      },
    };
  }

  input(pin: number, role: PinRole): InputPin {
    let g: OnoffGpio;
    try {
      g = new this.Gpio(pin, 'in', 'both');
    } catch (e) {
      throw pinError(e, pin, role);
    }
    return {
      read: () => g.readSync(),
      onChange: (cb, onError) =>
        g.watch((err, value) => {
          if (err) {
            this.logger.error({ gpio: pin, role, err }, 'gpio watch error: this line is no longer watched');
            onError?.(err);
          } else cb(value);
        }),
      release: () => {
        try {
          g.unwatchAll();
          g.unexport();
        } catch {
          /* already gone */
        }
      },
    };
  }
}
