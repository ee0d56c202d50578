/**
 * The status LEDs follow the station's state: ready (green) while the station can
 * enroll, error (red) blinking while it is locked and steady on a device fault,
 * syncing (blue) on while connected to headquarters and blinking while records are
 * in flight. They are set every second and at once when the bus says the status
 * or a device changed.
 */
import type { Component } from './lifecycle';
import type { StationBus } from './bus';

export type LedMode = 'on' | 'off' | 'blink';

/** What the LEDs need of the GPIO (StationGpio fits). */
export interface LedPanel {
  setLed(name: 'ready' | 'error' | 'syncing', mode: LedMode, periodMs?: number): void;
}

/** What the LEDs show, read when they are set. */
export interface LedView {
  locked(): boolean;
  deviceError(): boolean;
  /** null: no uplink (no headquarters identity). */
  uplink(): { connected: boolean; inFlight: number } | null;
}

export function ledModes(v: { locked: boolean; deviceError: boolean; uplink: { connected: boolean; inFlight: number } | null }): Record<'ready' | 'error' | 'syncing', LedMode> {
  return {
    ready: !v.locked && !v.deviceError ? 'on' : 'off',
    error: v.locked ? 'blink' : v.deviceError ? 'on' : 'off',
    syncing: v.uplink && v.uplink.inFlight > 0 ? 'blink' : v.uplink?.connected ? 'on' : 'off',
  };
}

export interface StatusLedsOptions {
  /** The panel, once GPIO is open (undefined: a booth whose GPIO failed has no LEDs to set). */
  panel: () => LedPanel | undefined;
  view: LedView;
  bus: StationBus;
  periodMs?: number;
}

export class StatusLeds implements Component {
  readonly name = 'status-leds';
  private timer: NodeJS.Timeout | undefined;
  private readonly unsubscribe: (() => void)[] = [];

  constructor(private readonly o: StatusLedsOptions) {}

  update(): void {
    const panel = this.o.panel();
    if (!panel) return;
    const v = this.o.view;
    const modes = ledModes({ locked: v.locked(), deviceError: v.deviceError(), uplink: v.uplink() });
    panel.setLed('ready', modes.ready);
    panel.setLed('error', modes.error);
    panel.setLed('syncing', modes.syncing);
  }

  async start(): Promise<void> {
    if (!this.o.panel()) return;
    this.update();
    const now = (): void => this.update();
    this.unsubscribe.push(this.o.bus.on('status-changed', now), this.o.bus.on('device-changed', now), this.o.bus.on('device-chip-changed', now), this.o.bus.on('uplink-changed', now));
    this.timer = setInterval(now, this.o.periodMs ?? 1000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    for (const u of this.unsubscribe.splice(0)) u();
  }
}
