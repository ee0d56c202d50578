/**
 * The demo's trainer panel (`station demo --faults`): switches that make the
 * simulated scanner, camera and card reader fail and the embedded broker
 * vanish, so officers can rehearse what the kiosk shows and which exception to
 * record. Each switch acts on the simulator itself (the scanner's pty is
 * unplugged, the camera's process "crashes", the secure channel to the chip breaks, the broker
 * stops listening): the station's real drivers, health and uplink see the
 * failure exactly as on a booth. Never built outside the demo.
 */
import type { Logger } from 'pino';
import { StationError } from '../drivers/common/errors';

export const DEMO_FAULTS = ['scanner', 'camera', 'card', 'broker'] as const;
export type DemoFault = (typeof DEMO_FAULTS)[number];

export function isDemoFault(v: unknown): v is DemoFault {
  return typeof v === 'string' && (DEMO_FAULTS as readonly string[]).includes(v);
}

/** Turns one failure on (true) or off (false). */
export type FaultSwitch = (on: boolean) => Promise<void> | void;

export class DemoFaults {
  private readonly switches = new Map<DemoFault, FaultSwitch>();
  private readonly on = new Set<DemoFault>();
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly log?: Logger) {}

  /** The demo (broker) and the composition root (devices) register what they can break. */
  register(name: DemoFault, sw: FaultSwitch): void {
    this.switches.set(name, sw);
  }

  /** What the kiosk's panel shows: every registered switch and whether it is on. */
  state(): Partial<Record<DemoFault, boolean>> {
    const out: Partial<Record<DemoFault, boolean>> = {};
    for (const n of DEMO_FAULTS) if (this.switches.has(n)) out[n] = this.on.has(n);
    return out;
  }

  /** Sets one failure; switches run one at a time (a broker stop and start never overlap). */
  set(name: unknown, on: unknown): Promise<Partial<Record<DemoFault, boolean>>> {
    if (!isDemoFault(name) || !this.switches.has(name)) {
      throw new StationError('WORKFLOW_INPUT', `no demo fault "${String(name)}" (one of ${[...this.switches.keys()].join(', ')})`, { details: { rule: 'demo_fault' } });
    }
    if (typeof on !== 'boolean') throw new StationError('WORKFLOW_INPUT', 'demo fault "on" must be true or false', { details: { rule: 'demo_fault' } });
    const run = this.queue.then(async () => {
      if (this.on.has(name) === on) return this.state();
      await this.switches.get(name)!(on);
      if (on) this.on.add(name); else this.on.delete(name);
      this.log?.warn({ fault: name, on }, on ? `demo: the trainer made the ${name} fail` : `demo: the trainer restored the ${name}`);
      return this.state();
    });
    this.queue = run.catch(() => undefined);
    return run;
  }
}
