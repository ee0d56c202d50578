/**
 * The fingerprint module's touch/wake output on a GPIO line (R503 pin 5 is low
 * while touched; AS608 WAK and ZFM-708 touch are high): the driver waits on it
 * instead of polling the sensor over the UART. Wired only when
 * devices.gpio.pins.fingerTouch is set and real GPIO is available.
 */
import type { Logger } from 'pino';
import { StationError } from '../config/errors';
import type { TouchSignal } from '../drivers/fingerprint';
import { loadOnoff, type OnoffGpio, type OnoffGpioClass } from '../drivers/gpio/onoff-backend';

export interface TouchLine extends TouchSignal {
  close(): void;
}

export function gpioTouchLine(line: number, activeLevel: 0 | 1, log: Logger, Gpio: OnoffGpioClass = loadOnoff().Gpio): TouchLine {
  let g: OnoffGpio;
  try {
    g = new Gpio(line, 'in', 'both');
  } catch (e) {
    throw new StationError('GPIO_PIN_UNAVAILABLE', `GPIO line ${line} (fingerprint touch) cannot be opened: ${(e as Error).message}`, {
      hint: 'Check devices.gpio.pins.fingerTouch and devices.gpio.lineBase, or set fingerTouch: null to poll the sensor instead.',
      cause: e,
    });
  }
  const waiters = new Set<() => void>();
  g.watch((err, value) => {
    if (err) {
      log.warn({ err, line }, 'touch line read failed');
      return;
    }
    if (value === activeLevel) for (const w of [...waiters]) w();
  });
  return {
    waitForTouch(signal?: AbortSignal): Promise<void> {
      if (g.readSync() === activeLevel) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const done = () => {
          waiters.delete(done);
          signal?.removeEventListener('abort', onAbort);
          resolve();
        };
        const onAbort = () => {
          waiters.delete(done);
          reject(signal?.reason ?? new Error('aborted'));
        };
        if (signal?.aborted) return onAbort();
        waiters.add(done);
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    },
    close(): void {
      waiters.clear();
      try {
        g.unwatchAll();
        g.unexport();
      } catch {}
    },
  };
}
