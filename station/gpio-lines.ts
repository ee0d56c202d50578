/**
 * Pins in the configuration are BCM numbers as printed on wiring diagrams. Since
 * kernel 6.6, Raspberry Pi OS numbers sysfs GPIO lines from the header chip's base
 * (512 on a Pi 4, 571 on a Pi 5), so the line is base + BCM number.
 */
import type { Config, Pins } from '../config';
import { UsageError } from '../drivers/common/errors';
import { listGpioChips, type GpioChip } from '../drivers/gpio';

/**
 * The chips that carry the 40-pin header, most specific first. A Pi 5 also lists the
 * SoC's own gpio-brcmstb chips (base 512 there) and every Pi the firmware's
 * raspberrypi-exp-gpio expander: neither carries header pins.
 */
const HEADER_CHIPS = [/pinctrl-rp1/i, /pinctrl-bcm27\d\d/i, /pinctrl-bcm28\d\d/i];

export function gpioLineBase(setting: Config['devices']['gpio']['lineBase'], chips: GpioChip[] = listGpioChips()): number {
  if (setting !== 'auto') return setting;
  for (const re of HEADER_CHIPS) {
    const chip = chips.find((c) => re.test(c.label));
    if (chip) return chip.base;
  }
  // before kernel 6.6 (or no sysfs GPIO at all): lines are numbered from 0
  if (chips.length === 0 || chips.some((c) => c.base === 0)) return 0;
  throw new UsageError(
    `devices.gpio.lineBase is auto, but no GPIO chip here is a Raspberry Pi header chip (${chips.map((c) => `${c.name} "${c.label}" from ${c.base}`).join(', ')})`,
    'Set devices.gpio.lineBase to the base of the chip the pins are on (see `station gpio test`, or cat /sys/class/gpio/gpiochip*/label).',
    'CONFIG_INVALID',
  );
}

export function gpioLines(gpio: Config['devices']['gpio'], chips?: GpioChip[]): Pins {
  const base = gpioLineBase(gpio.lineBase, chips);
  const out = {} as Pins;
  for (const [role, pin] of Object.entries(gpio.pins) as [keyof Pins, number | null][]) out[role] = pin === null ? null : pin + base;
  return out;
}
