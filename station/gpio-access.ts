/**
 * One decision for the booth's GPIO, taken the same way by the daemon, `station
 * doctor` and `station gpio test`:
 *
 * - `devices.gpio.simulated: true` → the simulator (the demo, a bench without GPIO);
 * - otherwise real GPIO or an error that names why — never a silent fall back to the
 *   simulator, which would leave the case switch unwatched on a real booth.
 *
 * Real GPIO is sysfs (onoff). Configured pins are BCM numbers; the sysfs line is the
 * SoC chip's base (read from /sys/class/gpio/gpiochipN/base: 512 on a Pi 4 and 571 on
 * a Pi 5 with kernel 6.6+, 0 before) plus the BCM number, and every line must fall
 * on a chip that exists.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, openSync, constants as fsc } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Config, Pins } from '../config';
import { StationError, UsageError } from '../drivers/common/errors';
import { createGpio, listGpioChips, type GpioChip, type OnoffGpioClass, type PinRole, type StationGpio } from '../drivers/gpio';
import { gpioLineBase } from './gpio-lines';

export const SYSFS_GPIO = '/sys/class/gpio';

export interface GpioDecisionOptions {
  /** Where sysfs GPIO lives (tests point it at a fake tree). Default /sys/class/gpio. */
  sysfsRoot?: string;
  /** Pins overriding the configuration's (BCM numbers; `station gpio test --pins`). */
  pins?: Partial<Record<keyof Pins, number | null>>;
  /** Force the simulator (`station gpio test --simulated`). */
  simulated?: boolean;
  /** Test seam: the onoff Gpio class. */
  onoffGpio?: OnoffGpioClass & { accessible: boolean };
}

export interface GpioPlan {
  simulated: boolean;
  /** sysfs line numbers per role (null = not wired). */
  lines: Pins;
  /** BCM numbers per role, as configured. */
  bcm: Pins;
  base: number;
  chips: GpioChip[];
}

const HINT_SIM = 'On a machine without GPIO (a laptop, CI) set devices.gpio.simulated: true; on a booth never do.';

/** Why sysfs GPIO cannot be written here, in words and with what to do; null when it can. */
export function sysfsGpioProblem(root = SYSFS_GPIO): { message: string; hint: string } | null {
  const exp = join(root, 'export');
  if (!existsSync(root) || !existsSync(exp)) {
    return {
      message: `GPIO is not available on this machine: ${exp} does not exist (no sysfs GPIO: not a Raspberry Pi, or a kernel without CONFIG_GPIO_SYSFS)`,
      hint: `On the booth check the kernel (ls ${root}). ${HINT_SIM}`,
    };
  }
  let fd: number | undefined;
  try {
    fd = openSync(exp, fsc.O_WRONLY);
    return null;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EROFS') {
      return {
        message: `GPIO is not available: ${root} is read-only for this process (a service sandbox, e.g. ProtectKernelTunables= without ReadWritePaths= for GPIO)`,
        hint: 'Install the shipped systemd/enroll-station.service, which keeps /sys read-only except /sys/class/gpio and the GPIO chips under /sys/devices/platform.',
      };
    }
    if (code === 'EACCES' || code === 'EPERM') {
      return {
        message: `GPIO is not available: no permission to write ${exp}`,
        hint: 'Add the station user to the gpio group (sudo usermod -aG gpio enroll-station) and restart the station.',
      };
    }
    return { message: `GPIO is not available: ${exp} cannot be opened (${(e as Error).message})`, hint: HINT_SIM };
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * BCM pins → sysfs lines, checked against the chips sysfs lists: a line that falls on
 * no chip is a configuration error naming the pin (a wrong lineBase, or a BCM number
 * the board does not have).
 */
export function planGpio(gpio: Config['devices']['gpio'], o: GpioDecisionOptions = {}): GpioPlan {
  const simulated = o.simulated === true || gpio.simulated;
  const bcm = { ...gpio.pins, ...(o.pins ?? {}) } as Pins;
  const chips = simulated ? [] : listGpioChips(o.sysfsRoot ?? SYSFS_GPIO);
  const base = simulated ? 0 : gpioLineBase(gpio.lineBase, chips);
  const lines = {} as Pins;
  for (const [role, pin] of Object.entries(bcm) as [keyof Pins, number | null][]) {
    lines[role] = pin === null ? null : pin + base;
    if (pin !== null && chips.length && !chips.some((c) => pin + base >= c.base && pin + base < c.base + c.ngpio)) {
      throw new UsageError(
        `GPIO pin ${role} = ${pin} is line ${pin + base}, which is on no GPIO chip here (${chips.map((c) => `${c.label || c.name}: ${c.base}–${c.base + c.ngpio - 1}`).join(', ')})`,
        'Pins are BCM numbers: fix devices.gpio.pins, and leave devices.gpio.lineBase at auto unless the chip base is known to differ.',
        'CONFIG_INVALID',
      );
    }
  }
  return { simulated, lines, bcm, base, chips };
}

export interface OpenedGpio extends GpioPlan {
  gpio: StationGpio;
}

/**
 * Builds and opens the GPIO the configuration asks for. Real GPIO that cannot be had is
 * GPIO_UNAVAILABLE (the reason and what to do in the message and hint); a line that
 * cannot be opened is GPIO_PIN_UNAVAILABLE.
 */
export async function openStationGpio(gpio: Config['devices']['gpio'], logger: Logger, o: GpioDecisionOptions = {}): Promise<OpenedGpio> {
  const plan = planGpio(gpio, o);
  const { fingerTouch: _touch, ...roles } = plan.lines;
  if (!plan.simulated) {
    const problem = sysfsGpioProblem(o.sysfsRoot ?? SYSFS_GPIO);
    if (problem) throw new StationError('GPIO_UNAVAILABLE', problem.message, { hint: problem.hint, details: { sysfs: o.sysfsRoot ?? SYSFS_GPIO } });
  }
  const g = createGpio({ pins: roles as Record<PinRole, number | null>, simulated: plan.simulated, logger, ...(o.onoffGpio ? { onoffGpio: o.onoffGpio } : {}) });
  await g.open();
  return { ...plan, gpio: g };
}

/** The lock reason when the tamper switch cannot be watched on a booth that has one. */
export function tamperUnwatchedReason(e: unknown): string {
  const code = e instanceof StationError ? e.code : 'GPIO_OPEN_FAILED';
  return `tamper switch not watched (${code}): ${(e as Error).message}`;
}

/**
 * `station doctor` runs as the technician, outside the service's sandbox: sysfs GPIO can
 * open there and still be read-only for the daemon. This reads the installed unit's
 * effective settings (`systemctl show`, drop-ins included) and says when its sandbox
 * would leave the tamper switch unwatched. null when fine, or when there is no
 * systemd or no installed unit to judge.
 */
export function unitGpioProblem(show: () => string | null = systemctlShow): { message: string; hint: string } | null {
  const out = show();
  if (!out) return null;
  const props = new Map(out.split('\n').map((l) => { const i = l.indexOf('='); return [l.slice(0, i), l.slice(i + 1).trim()] as [string, string]; }));
  if (props.get('LoadState') !== 'loaded') return null;
  if (props.get('ProtectKernelTunables') !== 'yes') return null;
  const rw = (props.get('ReadWritePaths') ?? '').split(/\s+/).filter(Boolean).map((p) => p.replace(/^[-+]+/, ''));
  const missing = ['/sys/class/gpio', '/sys/devices/platform'].filter((need) => !rw.some((p) => need === p || need.startsWith(`${p.replace(/\/$/, '')}/`)));
  if (!missing.length) return null;
  return {
    message: `the installed enroll-station.service sets ProtectKernelTunables=yes without ReadWritePaths= for ${missing.join(' and ')}: under it sysfs GPIO is read-only and the daemon refuses to start (GPIO_UNAVAILABLE)`,
    hint: 'Install the shipped systemd/enroll-station.service (or add ReadWritePaths=-/sys/class/gpio -/sys/devices/platform in a drop-in), then systemctl daemon-reload.',
  };
}

function systemctlShow(): string | null {
  try {
    return execFileSync('systemctl', ['show', 'enroll-station.service', '-p', 'LoadState', '-p', 'ProtectKernelTunables', '-p', 'ReadWritePaths'], { timeout: 3000, stdio: ['ignore', 'pipe', 'ignore'], encoding: 'utf8' });
  } catch {
    return null;
  }
}
