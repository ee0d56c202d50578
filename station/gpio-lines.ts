/**
 * Pins in the configuration are BCM numbers as printed on wiring diagrams. Since
 * kernel 6.6, Raspberry Pi OS numbers sysfs GPIO lines from the SoC chip's base
 * (512 on a Pi 4, 571 on a Pi 5), so the line is base + BCM number.
 */
import type { Config, Pins } from '../config';
import { listGpioChips, type GpioChip } from '../drivers/gpio';

const SOC_LABEL = /pinctrl-bcm|pinctrl-rp1|raspberrypi|brcmstb/i;

export function gpioLineBase(setting: Config['devices']['gpio']['lineBase'], chips: GpioChip[] = listGpioChips()): number {
  if (setting !== 'auto') return setting;
  const soc = chips.find((c) => SOC_LABEL.test(c.label));
  return soc ? soc.base : 0;
}

export function gpioLines(gpio: Config['devices']['gpio'], chips?: GpioChip[]): Pins {
  const base = gpioLineBase(gpio.lineBase, chips);
  const out = {} as Pins;
  for (const [role, pin] of Object.entries(gpio.pins) as [keyof Pins, number | null][]) out[role] = pin === null ? null : pin + base;
  return out;
}
