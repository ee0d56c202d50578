import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface GpioChip {
  name: string;
  /** First sysfs line number of this chip: sysfs number = base + offset on the chip. */
  base: number;
  ngpio: number;
  label: string;
}

/**
 * The GPIO chips sysfs knows, with their base numbers. On Raspberry Pi OS with
 * kernel 6.6 and later the header pins are no longer numbered from 0: BCM n is
 * sysfs base + n (base 512 on a Pi 4, 571 on a Pi 5), which is what the pin
 * numbers in the configuration must use. Empty where there is no sysfs GPIO.
 */
export function listGpioChips(root = '/sys/class/gpio'): GpioChip[] {
  let names: string[];
  try {
    names = readdirSync(root).filter((n) => n.startsWith('gpiochip'));
  } catch {
    return [];
  }
  const chips: GpioChip[] = [];
  for (const name of names) {
    try {
      const rd = (f: string): string => readFileSync(join(root, name, f), 'utf8').trim();
      chips.push({ name, base: Number(rd('base')), ngpio: Number(rd('ngpio')), label: rd('label') });
    } catch {
      /* a chip without the usual files: skip */
    }
  }
  return chips.sort((a, b) => a.base - b.base);
}
