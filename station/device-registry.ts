/**
 * The composition root's view of each device (fingerprint scanner, camera, card
 * reader, GPIO): opened, simulated, degraded, lost — with the detail and, for a
 * problem found by preflight, its code. Every change is told on the bus as
 * `device-changed`; who cares (run/state.json, the device-lost alert to
 * headquarters and the audit log, the LEDs) subscribes there.
 *
 * What the officer sees adds the outcome of the last operation on each device
 * (the workflow's device-health.ts, built on these states).
 */
import type { StationBus, DeviceKind } from './bus';
import type { DeviceState, DeviceStateName } from './workflow/ports';

interface Entry { state: DeviceStateName; detail?: string; code?: string; since: number }

export class DeviceRegistry {
  private readonly devices = new Map<DeviceKind, Entry>();

  constructor(private readonly bus: StationBus, private readonly now: () => number = Date.now) {}

  set(device: DeviceKind, state: DeviceStateName, detail?: string, code?: string): void {
    const previous = this.devices.get(device)?.state ?? null;
    this.devices.set(device, { state, ...(detail !== undefined ? { detail } : {}), since: this.now(), ...(code ? { code } : {}) });
    this.bus.emit('device-changed', { device, state, previous, ...(detail ? { detail } : {}) });
  }

  states(): DeviceState[] {
    return [...this.devices.entries()].map(([device, d]) => ({
      device, state: d.state, ...(d.detail ? { detail: d.detail } : {}), ...(d.code ? { code: d.code } : {}), since: d.since,
    }));
  }
}
