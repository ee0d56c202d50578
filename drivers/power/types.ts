/**
 * The station's power source: a battery (or a UPS HAT that the kernel exposes as
 * one) and whether external power is present. Read from Linux's power_supply
 * class in sysfs (Documentation/ABI/testing/sysfs-class-power):
 *
 *   /sys/class/power_supply/<name>/type         Battery | Mains | USB | UPS | …
 *   /sys/class/power_supply/<name>/present      1 | 0                     (batteries)
 *   /sys/class/power_supply/<name>/capacity     0–100, percent            (batteries)
 *   /sys/class/power_supply/<name>/status       Charging | Discharging | Full | Not charging | Unknown
 *   /sys/class/power_supply/<name>/voltage_now  microvolts
 *   /sys/class/power_supply/<name>/online       1 | 0                     (Mains, USB, UPS: external power)
 */
export const BATTERY_STATUSES = ['charging', 'discharging', 'full', 'not-charging', 'unknown'] as const;
export type BatteryStatus = (typeof BATTERY_STATUSES)[number];

export interface PowerReading {
  /** ms since epoch (local clock) of the reading. */
  at: number;
  /** The battery's node name (e.g. BAT0), or null when no battery was found. */
  battery: string | null;
  /** A battery is present and reporting. */
  present: boolean;
  capacityPct: number | null;
  status: BatteryStatus;
  voltageV: number | null;
  /** External power present (a Mains/USB/UPS supply online); null when no such supply is reported. */
  onAc: boolean | null;
  /** Values that made no sense, each naming the file and what was wrong (they are read as unknown). */
  problems: string[];
}

/** What the station decides from a reading. */
export type PowerLevel = 'ok' | 'low' | 'critical' | 'unknown';

export interface PowerThresholds {
  /** Below this capacity (percent, on battery) new enrollments are refused. */
  lowPercent: number;
  /** At or below this the station finishes its write and shuts down. */
  criticalPercent: number;
}

/** What the station needs from a power monitor; the sysfs reader implements it (over real sysfs or the simulator's tree). */
export interface PowerMonitor {
  readonly description: string;
  /** Reads once. Throws StationError POWER_* when the supply cannot be read at all. */
  read(): PowerReading;
}

/**
 * External power that is actually charging (or holding full) the battery means no
 * threshold applies; otherwise the battery's capacity decides. No capacity → unknown.
 */
export function powerLevel(r: PowerReading, t: PowerThresholds): PowerLevel {
  if (r.onAc === true && r.status !== 'discharging') return 'ok';
  if (!r.present) return r.onAc === true ? 'ok' : 'unknown';
  if (r.capacityPct === null) return 'unknown';
  if (r.capacityPct <= t.criticalPercent) return 'critical';
  if (r.capacityPct < t.lowPercent) return 'low';
  return 'ok';
}
