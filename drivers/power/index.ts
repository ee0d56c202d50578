import { PowerSupplyTree, type SimulatedBattery } from './simulated';
import { SysfsPower } from './sysfs';
import type { PowerMonitor } from './types';

export * from './types';
export { SysfsPower, DEFAULT_POWER_SUPPLY_ROOT, type SysfsPowerOptions } from './sysfs';
export { PowerSupplyTree, type SimulatedBattery } from './simulated';

export interface CreatePowerOptions {
  simulated: boolean;
  /** power_supply root (real sysfs by default). */
  root?: string;
  battery?: string;
  /** Starting state of the simulated battery. */
  sim?: Partial<SimulatedBattery>;
}

/** Composition-root factory: the sysfs reader, over real sysfs or over the simulator's tree. */
export function createPower(o: CreatePowerOptions): { monitor: PowerMonitor; sim?: PowerSupplyTree } {
  if (o.simulated) {
    const sim = new PowerSupplyTree(o.sim);
    return { monitor: new SysfsPower({ root: sim.root, battery: 'BAT0' }), sim };
  }
  return { monitor: new SysfsPower({ ...(o.root ? { root: o.root } : {}), ...(o.battery ? { battery: o.battery } : {}) }) };
}
