import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createGpio, DEFAULT_PINS, listGpioChips, type OnoffGpio, type StationGpio, type ButtonEvent, type TamperEvent, type Level } from '../../drivers/gpio';
import { StationError, UsageError } from '../../drivers/common/errors';
import { nullLogger } from '../../station/log';

const logger = nullLogger();
const open: StationGpio[] = [];
async function make(extra: Partial<Parameters<typeof createGpio>[0]> = {}): Promise<StationGpio> {
  const g = createGpio({ pins: DEFAULT_PINS, simulated: true, logger, debounceMs: 50, tamperDebounceMs: 50, ...extra });
  await g.open();
  open.push(g);
  return g;
}
afterEach(async () => {
  vi.useRealTimers();
  for (const g of open.splice(0)) await g.close();
});

const wait = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** Fakes the clock and timers for the rest of the test (restored after each). */
function fakeTime(): void {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
}
async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await wait(10);
  }
}

describe('GPIO on the simulator', () => {
  it('uses the simulator only when asked: real GPIO that is not accessible is GPIO_UNAVAILABLE, never a quiet simulator', () => {
    const notAccessible = Object.assign(function () { throw new Error('must not be constructed'); }, { accessible: false }) as never;
    const g = createGpio({ pins: DEFAULT_PINS, logger, simulated: true, onoffGpio: notAccessible });
    expect(g.simulated).toBe(true);
    expect(g.sim).toBeDefined();
    const e = (() => { try { createGpio({ pins: DEFAULT_PINS, logger, simulated: false, onoffGpio: notAccessible }); } catch (x) { return x; } })() as StationError;
    expect(e).toBeInstanceOf(StationError);
    expect(e.code).toBe('GPIO_UNAVAILABLE');
    expect(e.hint).toMatch(/devices\.gpio\.simulated: true/);
  });

  it('refuses a pin used twice or out of range as a configuration error', () => {
    expect(() => createGpio({ pins: { ...DEFAULT_PINS, busy: DEFAULT_PINS.ready }, logger, simulated: true })).toThrow(/configured twice \(ready and busy\)/);
    expect(() => createGpio({ pins: { ...DEFAULT_PINS, buzzer: -1 }, logger, simulated: true })).toThrow(UsageError);
  });

  it('switches and blinks LEDs; status shows one of ready/busy/error', async () => {
    const g = await make();
    // Time is the subject (blink period, "stopped blinking"): fake timers, so every interval that
    // would have fired in the time checked really has been run.
    fakeTime();
    g.setLed('syncing', 'on');
    expect(g.sim!.isOn('syncing')).toBe(true);
    g.showStatus('ready');
    expect([g.sim!.isOn('ready'), g.sim!.isOn('busy'), g.sim!.isOn('error')]).toEqual([true, false, false]);
    g.showStatus('error');
    expect(g.status().leds).toEqual({ ready: 'off', busy: 'off', error: 'blink', syncing: 'on' });
    const before = g.sim!.writes('error').length;
    vi.advanceTimersByTime(2_000);
    expect(g.sim!.writes('error').length).toBeGreaterThanOrEqual(before + 3);
    const vals = g.sim!.writes('error').slice(-3).map((w) => w.value);
    expect(new Set(vals).size).toBe(2); // it really toggles
    g.setLed('error', 'off');
    const n = g.sim!.writes('error').length;
    vi.advanceTimersByTime(5_000);
    expect(g.sim!.writes('error').length).toBe(n); // blinking stopped
    expect(g.sim!.isOn('error')).toBe(false);
  });

  it('plays buzzer patterns and a new pattern cuts the running one short', async () => {
    const g = await make();
    fakeTime(); // the pattern's timing is the subject: on fake timers it is exact, however loaded the machine
    const start = g.sim!.writes('buzzer').length;
    const error = g.beep('error');
    await vi.advanceTimersByTimeAsync(350 + 120 + 350);
    await error;
    expect(g.sim!.writes('buzzer').slice(start).map((w) => w.value)).toEqual([1, 0, 1, 0]);
    const w = g.sim!.writes('buzzer').slice(start);
    expect(w[3]!.at - w[0]!.at).toBe(350 + 120 + 350);
    let alarmDone = false;
    const alarm = g.beep('alarm').then(() => { alarmDone = true; });
    await vi.advanceTimersByTimeAsync(50);
    const click = g.beep('click');
    await vi.advanceTimersByTimeAsync(1_000); // the alarm alone would run 3.5 s
    await click;
    expect(alarmDone).toBe(true); // ended early: the step it was in, then the new pattern's token stopped it
    await alarm;
    expect(g.sim!.isOn('buzzer')).toBe(false);
    await expect(g.beep('siren' as 'ok')).rejects.toThrow(/unknown buzzer pattern/);
  });

  it('debounces the button: a bouncing press is one event, a short glitch is none', async () => {
    const g = await make();
    const events: ButtonEvent[] = [];
    g.on('button', (e) => events.push(e));
    // The 50 ms quiet period is the subject: fake timers, so a loaded machine cannot stretch a
    // 3 ms bounce or a 5 ms glitch past it, and "no event" is proven by having run every timer.
    fakeTime();
    const press = g.sim!.bounceButton(true, 6, 3);
    await vi.advanceTimersByTimeAsync(6 * 3);
    await press;
    await vi.advanceTimersByTimeAsync(49);
    expect(events).toHaveLength(0); // not yet a level that holds
    await vi.advanceTimersByTimeAsync(1);
    expect(events).toHaveLength(1);
    expect(g.buttonPressed()).toBe(true);
    const release = g.sim!.bounceButton(false, 6, 3);
    await vi.advanceTimersByTimeAsync(6 * 3);
    await release;
    await vi.advanceTimersByTimeAsync(50);
    expect(g.buttonPressed()).toBe(false);
    // A 5 ms glitch (shorter than the 50 ms debounce) is not a press.
    g.sim!.pressButton();
    await vi.advanceTimersByTimeAsync(5);
    g.sim!.releaseButton();
    await vi.runAllTimersAsync();
    expect(g.buttonPressed()).toBe(false);
    expect(events.length).toBe(1);
    expect(events[0]!.pressed).toBe(true);
  });

  it('reports tamper open and closed; polarity follows the options', async () => {
    const g = await make();
    const seen: TamperEvent[] = [];
    g.on('tamper', (e) => seen.push(e));
    expect(g.status().tamper).toBe('closed');
    g.sim!.openTamper();
    await until(() => seen.length === 1);
    expect(seen[0]!.open).toBe(true);
    expect(g.status().tamper).toBe('open');
    g.sim!.closeTamper();
    await until(() => seen.length === 2);
    expect(seen[1]!.open).toBe(false);

    // Active-high button and a tamper line that reads 0 when open.
    const h = await make({ buttonActiveLow: false, tamperOpenLevel: 0 });
    expect(h.status()).toMatchObject({ button: 'released', tamper: 'closed' });
    h.sim!.pressButton();
    h.sim!.openTamper();
    await until(() => h.buttonPressed() && h.tamperOpen());
  });

  it('lines set to null are not wired and do nothing', async () => {
    const g = await make({ pins: { ...DEFAULT_PINS, buzzer: null, tamper: null, syncing: null } });
    g.setLed('syncing', 'on');
    await g.beep('ok');
    expect(g.sim!.isOn('syncing')).toBe(false);
    expect(g.status()).toMatchObject({ tamper: 'not wired', button: 'released' });
  });
});

describe('GPIO through the onoff backend (onoff Gpio class injected)', () => {
  class FakeGpio implements OnoffGpio {
    static accessible = true;
    static all = new Map<number, FakeGpio>();
    static busy = new Set<number>();
    value: Level = 0;
    watchers: ((err: Error | null | undefined, v: Level) => void)[] = [];
    unexported = false;
    constructor(readonly pin: number, readonly direction: 'in' | 'out', readonly edge?: string) {
      if (FakeGpio.busy.has(pin)) throw Object.assign(new Error('EBUSY: resource busy or locked, write'), { code: 'EBUSY' });
      if (pin === 25) this.value = 1; // button pulled up
      FakeGpio.all.set(pin, this);
    }
    readSync(): Level { return this.value; }
    writeSync(v: Level): void { this.value = v; }
    watch(cb: (err: Error | null | undefined, v: Level) => void): void { this.watchers.push(cb); }
    unwatchAll(): void { this.watchers = []; }
    unexport(): void { this.unexported = true; }
    drive(v: Level): void { this.value = v; for (const w of this.watchers) w(null, v); }
  }

  it('drives real-looking lines: outputs, edge watch with debounce, release on close', async () => {
    FakeGpio.all.clear();
    const g = createGpio({ pins: DEFAULT_PINS, logger, simulated: false, onoffGpio: FakeGpio, debounceMs: 20 });
    expect(g.simulated).toBe(false);
    expect(g.sim).toBeUndefined();
    await g.open();
    expect(FakeGpio.all.get(DEFAULT_PINS.button!)!.edge).toBe('both');
    expect(FakeGpio.all.get(DEFAULT_PINS.ready!)!.direction).toBe('out');
    g.showStatus('busy');
    expect(FakeGpio.all.get(DEFAULT_PINS.busy!)!.value).toBe(1);
    const presses: ButtonEvent[] = [];
    g.on('button', (e) => presses.push(e));
    const btn = FakeGpio.all.get(DEFAULT_PINS.button!)!;
    btn.drive(0); btn.drive(1); btn.drive(0);
    await until(() => presses.length === 1);
    await g.close();
    for (const p of FakeGpio.all.values()) expect(p.unexported).toBe(true);
    expect(FakeGpio.all.get(DEFAULT_PINS.busy!)!.value).toBe(0);
  });

  it('an edge watch that fails (onoff hands the error to the callback) is a fault event for that role, not a silent warning', async () => {
    FakeGpio.all.clear();
    const g = createGpio({ pins: DEFAULT_PINS, logger, simulated: false, onoffGpio: FakeGpio });
    await g.open();
    try {
      const faults: { role: string; message: string }[] = [];
      g.on('fault', (f) => faults.push({ role: f.role, message: f.error.message }));
      const tamper = FakeGpio.all.get(DEFAULT_PINS.tamper!)!;
      for (const w of tamper.watchers) w(new Error('EIO: i/o error, epoll_wait'), 0);
      expect(faults).toEqual([{ role: 'tamper', message: 'EIO: i/o error, epoll_wait' }]);
      expect(g.status().tamper).toBe('unwatched');
    } finally {
      await g.close();
    }
  });

  it('a line owned by someone else → GPIO_PIN_UNAVAILABLE naming pin and role; nothing left exported', async () => {
    FakeGpio.all.clear();
    FakeGpio.busy.add(DEFAULT_PINS.tamper!);
    try {
      const g = createGpio({ pins: DEFAULT_PINS, logger, simulated: false, onoffGpio: FakeGpio });
      const e = (await g.open().catch((x: unknown) => x)) as StationError;
      expect(e.code).toBe('GPIO_PIN_UNAVAILABLE');
      expect(e.message).toBe(`GPIO ${DEFAULT_PINS.tamper} (tamper) is already in use by another program or driver`);
      for (const p of FakeGpio.all.values()) expect(p.unexported).toBe(true);
    } finally {
      FakeGpio.busy.clear();
    }
  });
});

describe('listGpioChips', () => {
  it('reads chip bases from a sysfs-shaped tree (kernel 6.6+ numbering) and is empty without one', async () => {
    const root = mkdtempSync(join(tmpdir(), 'sysgpio-'));
    try {
      for (const [name, base, n, label] of [['gpiochip571', 571, 54, 'pinctrl-rp1'], ['gpiochip512', 512, 32, 'gpio-brcmstb@107d508500']] as const) {
        mkdirSync(join(root, name));
        writeFileSync(join(root, name, 'base'), `${base}\n`);
        writeFileSync(join(root, name, 'ngpio'), `${n}\n`);
        writeFileSync(join(root, name, 'label'), `${label}\n`);
      }
      writeFileSync(join(root, 'export'), '');
      expect(listGpioChips(root)).toEqual([
        { name: 'gpiochip512', base: 512, ngpio: 32, label: 'gpio-brcmstb@107d508500' },
        { name: 'gpiochip571', base: 571, ngpio: 54, label: 'pinctrl-rp1' },
      ]);
      expect(listGpioChips(join(root, 'missing'))).toEqual([]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
