/**
 * The composition root's parts on their own: the typed bus, the lifecycle's
 * reverse stop after a failed start (the failed component included), the LEDs
 * following the bus, and maintenance running after a receipt.
 */
import { describe, expect, it, vi } from 'vitest';
import { createStationBus } from '../../station/bus';
import { Lifecycle, component } from '../../station/lifecycle';
import { StatusLeds, ledModes, type LedMode } from '../../station/leds';
import { VaultMaintenance } from '../../station/maintenance';
import { DeviceRegistry } from '../../station/device-registry';
import { nullLogger } from '../../station/log';
import type { Vault } from '../../station/vault';

describe('the station bus', () => {
  it('delivers to every listener in order, and one that throws does not keep the event from the others', () => {
    const bus = createStationBus(nullLogger());
    const seen: string[] = [];
    bus.on('hq-event', (e) => seen.push(`a:${e.kind}`));
    bus.on('hq-event', () => { throw new Error('broken listener'); });
    const off = bus.on('hq-event', (e) => seen.push(`c:${e.kind}`));
    bus.emit('hq-event', { kind: 'locked', data: { by: 'headquarters' } });
    off();
    bus.emit('hq-event', { kind: 'unlocked' });
    expect(seen).toEqual(['a:locked', 'c:locked', 'a:unlocked']);
    expect(bus.listenerCount('hq-event')).toBe(2);
    expect(bus.listenerCount('acknowledged')).toBe(0);
  });
});

describe('the lifecycle', () => {
  it('a failed start stops the failed component and every one started before it, in reverse, and rejects with the failure', async () => {
    const order: string[] = [];
    const lc = new Lifecycle(nullLogger());
    for (const name of ['vault', 'uplink']) lc.add(component(name, () => { order.push(`start ${name}`); }, () => { order.push(`stop ${name}`); }));
    lc.add(component('kiosk', () => { order.push('start kiosk'); throw new Error('port in use'); }, () => { order.push('stop kiosk'); }));
    lc.add(component('leds', () => { order.push('start leds'); }, () => { order.push('stop leds'); }));
    await expect(lc.start()).rejects.toThrow('port in use');
    expect(order).toEqual(['start vault', 'start uplink', 'start kiosk', 'stop kiosk', 'stop uplink', 'stop vault']);
    // stopping again does nothing more
    await lc.stop();
    expect(order).toHaveLength(6);
  });

  it('a stop that fails is logged and the others still stop', async () => {
    const order: string[] = [];
    const lc = new Lifecycle(nullLogger());
    lc.add(component('a', () => undefined, () => { order.push('a'); }));
    lc.add(component('b', () => undefined, () => { throw new Error('stuck'); }));
    lc.add(component('c', () => undefined, () => { order.push('c'); }));
    await lc.start();
    await lc.stop();
    expect(order).toEqual(['c', 'a']);
  });
});

describe('the status LEDs', () => {
  it('show ready, error and syncing from the station state', () => {
    expect(ledModes({ locked: false, deviceError: false, uplink: { connected: true, inFlight: 0 } })).toEqual({ ready: 'on', error: 'off', syncing: 'on' });
    expect(ledModes({ locked: true, deviceError: false, uplink: { connected: true, inFlight: 2 } })).toEqual({ ready: 'off', error: 'blink', syncing: 'blink' });
    expect(ledModes({ locked: false, deviceError: true, uplink: null })).toEqual({ ready: 'off', error: 'on', syncing: 'off' });
  });

  it('follow the bus at once, and stop following it when stopped', async () => {
    const bus = createStationBus();
    const leds = new Map<string, LedMode>();
    let locked = false;
    const c = new StatusLeds({
      panel: () => ({ setLed: (n, m) => { leds.set(n, m); } }),
      bus,
      view: { locked: () => locked, deviceError: () => false, uplink: () => ({ connected: false, inFlight: 0 }) },
      periodMs: 3_600_000,
    });
    await c.start();
    expect(leds.get('ready')).toBe('on');
    locked = true;
    bus.emit('status-changed', { why: 'lock' });
    expect(leds.get('error')).toBe('blink');
    await c.stop();
    expect(bus.listenerCount('status-changed')).toBe(0);
  });

  it('without GPIO (it failed to open) there is nothing to set and nothing subscribed', async () => {
    const bus = createStationBus();
    const c = new StatusLeds({ panel: () => undefined, bus, view: { locked: () => false, deviceError: () => false, uplink: () => null } });
    await c.start();
    expect(bus.listenerCount('status-changed')).toBe(0);
    await c.stop();
  });
});

describe('vault maintenance', () => {
  it('runs a few seconds after the last receipt, once for a burst of receipts, and survives a failing pass', async () => {
    vi.useFakeTimers();
    try {
      const bus = createStationBus();
      let passes = 0;
      const vault = { maintenance: () => { passes++; if (passes === 1) throw new Error('disk I/O error'); return { released: 1, purged: 0 }; } } as unknown as Vault;
      const m = new VaultMaintenance({ vault: () => vault, bus, logger: nullLogger(), periodMs: 60_000, settleMs: 3_000 });
      await m.start();
      bus.emit('acknowledged', {});
      await vi.advanceTimersByTimeAsync(2_000);
      bus.emit('acknowledged', {});
      await vi.advanceTimersByTimeAsync(2_999);
      expect(passes).toBe(0);
      await vi.advanceTimersByTimeAsync(1);
      expect(passes).toBe(1); // failed, logged
      await vi.advanceTimersByTimeAsync(60_000);
      expect(passes).toBe(2); // the periodic pass retries
      await m.stop();
      bus.emit('acknowledged', {});
      await vi.advanceTimersByTimeAsync(120_000);
      expect(passes).toBe(2);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('the device registry', () => {
  it('keeps each device state with its detail and code, and tells every change on the bus with the state before', () => {
    const bus = createStationBus();
    const seen: unknown[] = [];
    bus.on('device-changed', (e) => seen.push(e));
    let t = 1000;
    const reg = new DeviceRegistry(bus, () => t);
    reg.set('card', 'busy', 'opening');
    t = 2000;
    reg.set('card', 'error', 'PC/SC service lost', 'CARD_PCSC_DOWN');
    reg.set('gpio', 'simulated');
    expect(reg.states()).toEqual([
      { device: 'card', state: 'error', detail: 'PC/SC service lost', code: 'CARD_PCSC_DOWN', since: 2000 },
      { device: 'gpio', state: 'simulated', since: 2000 },
    ]);
    expect(seen).toEqual([
      { device: 'card', state: 'busy', previous: null, detail: 'opening' },
      { device: 'card', state: 'error', previous: 'busy', detail: 'PC/SC service lost' },
      { device: 'gpio', state: 'simulated', previous: null },
    ]);
  });
});
