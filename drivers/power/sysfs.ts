/**
 * The real backend: reads Linux's power_supply class (see types.ts for the files).
 * The root is configurable so tests (and the simulator) point it at a tree of
 * their own. Every value is checked: nonsense is reported in `problems` and read
 * as unknown, never trusted; a battery node that disappears is an error naming it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { StationError } from '../common/errors';
import { BATTERY_STATUSES, type BatteryStatus, type PowerMonitor, type PowerReading } from './types';

export const DEFAULT_POWER_SUPPLY_ROOT = '/sys/class/power_supply';

export interface SysfsPowerOptions {
  root?: string;
  /** Battery node name; empty: the first supply whose type is Battery (or UPS with a capacity). */
  battery?: string;
  now?: () => number;
}

function readAttr(dir: string, name: string): string | null {
  try {
    return readFileSync(join(dir, name), 'utf8').trim();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    // a missing attribute is normal (not every driver has voltage_now); ENODATA/EIO is a driver that cannot answer now
    if (code === 'ENOENT' || code === 'ENODATA' || code === 'EIO' || code === 'EINVAL' || code === 'EAGAIN') return null;
    throw e;
  }
}

export class SysfsPower implements PowerMonitor {
  readonly root: string;
  private readonly wanted: string;
  private readonly now: () => number;

  constructor(o: SysfsPowerOptions = {}) {
    this.root = o.root ?? DEFAULT_POWER_SUPPLY_ROOT;
    this.wanted = o.battery ?? '';
    this.now = o.now ?? Date.now;
  }

  get description(): string {
    return `${this.wanted ? `${this.wanted} under ` : ''}${this.root}`;
  }

  private supplies(): { name: string; dir: string; type: string }[] {
    let names: string[];
    try {
      names = readdirSync(this.root);
    } catch (e) {
      throw new StationError('POWER_NO_SYSFS', `cannot read ${this.root}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, {
        hint: 'On a booth without battery monitoring set devices.power.backend: none; on a Raspberry Pi with a UPS HAT, load its kernel driver so it appears under /sys/class/power_supply.',
      });
    }
    return names.sort().map((name) => {
      const dir = join(this.root, name);
      return { name, dir, type: readAttr(dir, 'type') ?? '' };
    });
  }

  read(): PowerReading {
    const problems: string[] = [];
    const all = this.supplies();
    const bat = this.wanted ? all.find((s) => s.name === this.wanted) : all.find((s) => s.type === 'Battery') ?? all.find((s) => s.type === 'UPS' && readAttr(s.dir, 'capacity') !== null);
    if (this.wanted && !bat) {
      throw new StationError('POWER_NODE_MISSING', `the battery ${this.wanted} is not under ${this.root} (found: ${all.map((s) => s.name).join(', ') || 'nothing'})`, {
        hint: 'Check the UPS HAT or battery connection and its kernel driver; or fix devices.power.battery (empty = the first battery found).',
      });
    }
    const external = all.filter((s) => s !== bat && ['Mains', 'USB', 'UPS', 'USB_C', 'USB_PD', 'Wireless'].includes(s.type));
    let onAc: boolean | null = null;
    for (const s of external) {
      const v = readAttr(s.dir, 'online');
      if (v === null) continue;
      if (v !== '0' && v !== '1' && v !== '2') { problems.push(`${s.name}/online reads ${JSON.stringify(v.slice(0, 32))} (expected 0 or 1)`); continue; }
      onAc = (onAc ?? false) || v !== '0';
    }
    if (!bat) return { at: this.now(), battery: null, present: false, capacityPct: null, status: 'unknown', voltageV: null, onAc, problems };

    const present = readAttr(bat.dir, 'present');
    if (present === null && readAttr(bat.dir, 'type') === null) {
      // the node vanished between listing and reading
      throw new StationError('POWER_NODE_MISSING', `the battery ${bat.name} disappeared from ${this.root}`, { hint: 'Check the battery / UPS HAT connection.' });
    }
    let isPresent = true;
    if (present !== null) {
      if (present === '0') isPresent = false;
      else if (present !== '1') problems.push(`${bat.name}/present reads ${JSON.stringify(present.slice(0, 32))} (expected 0 or 1)`);
    }
    let capacityPct: number | null = null;
    const cap = readAttr(bat.dir, 'capacity');
    if (cap !== null) {
      const n = /^-?\d{1,4}$/.test(cap) ? Number(cap) : NaN;
      if (Number.isInteger(n) && n >= 0 && n <= 100) capacityPct = n;
      else problems.push(`${bat.name}/capacity reads ${JSON.stringify(cap.slice(0, 32))} (expected a percentage 0–100)`);
    }
    let status: BatteryStatus = 'unknown';
    const st = readAttr(bat.dir, 'status');
    if (st !== null) {
      const s = st.toLowerCase().replace(/\s+/g, '-') as BatteryStatus;
      if ((BATTERY_STATUSES as readonly string[]).includes(s)) status = s;
      else problems.push(`${bat.name}/status reads ${JSON.stringify(st.slice(0, 32))} (expected Charging, Discharging, Full, Not charging or Unknown)`);
    }
    let voltageV: number | null = null;
    const uv = readAttr(bat.dir, 'voltage_now');
    if (uv !== null) {
      const n = /^\d{1,9}$/.test(uv) ? Number(uv) : NaN;
      // microvolts; anything from a coin cell to a 48 V pack is plausible, zero or garbage is not
      if (Number.isFinite(n) && n > 0 && n <= 60_000_000) voltageV = Math.round(n / 1000) / 1000;
      else problems.push(`${bat.name}/voltage_now reads ${JSON.stringify(uv.slice(0, 32))} (expected microvolts)`);
    }
    // a battery that says it is charging is on external power even when no Mains node says so
    if (onAc === null && (status === 'charging' || status === 'full')) onAc = true;
    if (onAc === null && status === 'discharging') onAc = false;
    return { at: this.now(), battery: bat.name, present: isPresent, capacityPct: isPresent ? capacityPct : null, status, voltageV: isPresent ? voltageV : null, onAc, problems };
  }
}
