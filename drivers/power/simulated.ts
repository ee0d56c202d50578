/**
 * The power simulator speaks the real interface: it writes a power_supply tree
 * (a battery and a mains adapter, the same files the kernel exposes) into a
 * directory of its own, and the real sysfs reader reads it. Tests and the demo
 * change the battery through it; tests can also write nonsense or remove nodes.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BatteryStatus } from './types';

export interface SimulatedBattery {
  capacityPct: number;
  status: BatteryStatus;
  voltageV: number;
  onAc: boolean;
}

const STATUS_TEXT: Record<BatteryStatus, string> = { charging: 'Charging', discharging: 'Discharging', full: 'Full', 'not-charging': 'Not charging', unknown: 'Unknown' };

export class PowerSupplyTree {
  readonly root: string;
  private readonly owned: boolean;
  state: SimulatedBattery;

  /** A tree under `root` (created), or in a fresh temporary directory. */
  constructor(initial: Partial<SimulatedBattery> = {}, root?: string) {
    this.owned = root === undefined;
    this.root = root ?? mkdtempSync(join(tmpdir(), 'power-supply-'));
    this.state = { capacityPct: 80, status: 'discharging', voltageV: 7.6, onAc: false, ...initial };
    this.write();
  }

  /** Writes the current state as the kernel would (capacity %, status text, voltage in µV, online 0/1). */
  write(): void {
    const bat = join(this.root, 'BAT0');
    const ac = join(this.root, 'AC');
    mkdirSync(bat, { recursive: true });
    mkdirSync(ac, { recursive: true });
    writeFileSync(join(bat, 'type'), 'Battery\n');
    writeFileSync(join(bat, 'present'), '1\n');
    writeFileSync(join(bat, 'capacity'), `${Math.round(this.state.capacityPct)}\n`);
    writeFileSync(join(bat, 'status'), `${STATUS_TEXT[this.state.status]}\n`);
    writeFileSync(join(bat, 'voltage_now'), `${Math.round(this.state.voltageV * 1e6)}\n`);
    writeFileSync(join(ac, 'type'), 'Mains\n');
    writeFileSync(join(ac, 'online'), this.state.onAc ? '1\n' : '0\n');
  }

  set(s: Partial<SimulatedBattery>): void {
    this.state = { ...this.state, ...s };
    this.write();
  }

  /** Writes a raw value into one attribute (e.g. nonsense, for tests). */
  writeRaw(node: 'BAT0' | 'AC', attr: string, text: string): void {
    writeFileSync(join(this.root, node, attr), text);
  }

  /** The battery node disappears (HAT unplugged, driver unloaded). */
  removeBattery(): void {
    rmSync(join(this.root, 'BAT0'), { recursive: true, force: true });
  }

  dispose(): void {
    if (this.owned) rmSync(this.root, { recursive: true, force: true });
  }
}
