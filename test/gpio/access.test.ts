/**
 * GPIO fails closed (#14 item 4): one decision for the daemon, `station doctor` and
 * `station gpio test` (station/gpio-access.ts), on fake sysfs trees shaped like the
 * kernel's: BCM pins map to the header chip's lines (base 512 on a Pi 4, 571 on a Pi 5),
 * and real GPIO that is not there is GPIO_UNAVAILABLE, never the simulator.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Config } from '../../config';
import { StationError } from '../../drivers/common/errors';
import type { Level, OnoffGpio } from '../../drivers/gpio';
import { openStationGpio, planGpio, sysfsGpioProblem, unitGpioProblem } from '../../station/gpio-access';
import { nullLogger } from '../../station/log';

const logger = nullLogger();
type GpioConfig = Config['devices']['gpio'];
const PINS = { ready: 17, busy: 27, error: 22, syncing: 23, buzzer: 24, button: 25, tamper: 5, fingerTouch: null };
const cfg = (o: Partial<GpioConfig> = {}): GpioConfig => ({ simulated: false, lineBase: 'auto', pins: { ...PINS }, ...o });

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A /sys/class/gpio as the kernel lays it out: export, unexport and one directory per chip. */
function sysfs(chips: [name: string, base: number, ngpio: number, label: string][]): string {
  const root = mkdtempSync(join(tmpdir(), 'sysgpio-'));
  dirs.push(root);
  writeFileSync(join(root, 'export'), '');
  writeFileSync(join(root, 'unexport'), '');
  for (const [name, base, n, label] of chips) {
    mkdirSync(join(root, name));
    writeFileSync(join(root, name, 'base'), `${base}\n`);
    writeFileSync(join(root, name, 'ngpio'), `${n}\n`);
    writeFileSync(join(root, name, 'label'), `${label}\n`);
  }
  return root;
}
const PI4: [string, number, number, string][] = [['gpiochip512', 512, 58, 'pinctrl-bcm2711'], ['gpiochip570', 570, 8, 'raspberrypi-exp-gpio']];
const PI5: [string, number, number, string][] = [['gpiochip512', 512, 32, 'gpio-brcmstb@107d508500'], ['gpiochip544', 544, 4, 'gpio-brcmstb@107d517c00'], ['gpiochip571', 571, 54, 'pinctrl-rp1']];

/** onoff's Gpio class, recording which line numbers were opened and how. */
function fakeOnoff() {
  const opened = new Map<number, { direction: string; edge?: string }>();
  class FakeGpio implements OnoffGpio {
    static accessible = true;
    constructor(pin: number, direction: 'in' | 'out', edge?: 'none' | 'both') {
      opened.set(pin, { direction, ...(edge ? { edge } : {}) });
    }
    readSync(): Level { return 0; }
    writeSync(): void {}
    watch(): void {}
    unwatchAll(): void {}
    unexport(): void {}
  }
  return { FakeGpio, opened };
}

describe('BCM pins → sysfs lines from the chip base', () => {
  it('Pi 4 on kernel 6.6+ (header chip at 512): the tamper switch on BCM 5 is line 517, and that line is what gets opened', async () => {
    const root = sysfs(PI4);
    const plan = planGpio(cfg(), { sysfsRoot: root });
    expect(plan).toMatchObject({ simulated: false, base: 512 });
    expect(plan.lines).toEqual({ ready: 529, busy: 539, error: 534, syncing: 535, buzzer: 536, button: 537, tamper: 517, fingerTouch: null });
    const { FakeGpio, opened } = fakeOnoff();
    const g = await openStationGpio(cfg(), logger, { sysfsRoot: root, onoffGpio: FakeGpio });
    try {
      expect(g.gpio.simulated).toBe(false);
      expect(opened.get(517)).toEqual({ direction: 'in', edge: 'both' });
      expect(opened.get(537)).toEqual({ direction: 'in', edge: 'both' });
      expect(opened.get(529)).toEqual({ direction: 'out' });
      expect([...opened.keys()].every((l) => l >= 512)).toBe(true);
      expect(g.gpio.status().tamper).toBe('closed');
    } finally {
      await g.gpio.close();
    }
  });

  it('Pi 5 (header on RP1 at 571, SoC chips from 512): the header chip is chosen, not the lowest base', () => {
    const plan = planGpio(cfg(), { sysfsRoot: sysfs(PI5) });
    expect(plan.base).toBe(571);
    expect(plan.lines.tamper).toBe(576);
  });

  it('older kernels number from 0; an explicit lineBase is used as given', () => {
    const old = sysfs([['gpiochip0', 0, 54, 'pinctrl-bcm2835'], ['gpiochip504', 504, 8, 'raspberrypi-exp-gpio']]);
    expect(planGpio(cfg(), { sysfsRoot: old }).lines.tamper).toBe(5);
    // a lineBase left at 0 from an old kernel on a new one names the first pin it cannot place
    expect(() => planGpio(cfg({ lineBase: 0 }), { sysfsRoot: sysfs(PI4) })).toThrow(/GPIO pin ready = 17 is line 17, which is on no GPIO chip here/);
  });

  it('a line on no chip, or chips with no header chip and lineBase auto, are configuration errors naming what to fix', () => {
    const root = sysfs(PI4);
    const e = (() => { try { planGpio(cfg({ pins: { ...PINS, tamper: 70 } }), { sysfsRoot: root }); } catch (x) { return x; } })() as StationError;
    expect(e.code).toBe('CONFIG_INVALID');
    expect(e.exitCode).toBe(2);
    expect(e.message).toMatch(/GPIO pin tamper = 70 is line 582, which is on no GPIO chip here \(pinctrl-bcm2711: 512–569, raspberrypi-exp-gpio: 570–577\)/);
    expect(e.hint).toMatch(/BCM numbers/);
    const strange = sysfs([['gpiochip300', 300, 32, 'some-expander']]);
    expect(() => planGpio(cfg(), { sysfsRoot: strange })).toThrow(/no GPIO chip here is a Raspberry Pi header chip/);
    expect(planGpio(cfg({ lineBase: 300 }), { sysfsRoot: strange }).lines.tamper).toBe(305);
  });
});

describe('simulated: false is honoured', () => {
  it('no sysfs GPIO → GPIO_UNAVAILABLE naming the missing file and what to do; the simulator only when configured', async () => {
    const missing = join(mkdtempSync(join(tmpdir(), 'nogpio-')), 'gpio');
    dirs.push(missing.replace(/\/gpio$/, ''));
    expect(sysfsGpioProblem(missing)?.message).toContain(`${missing}/export does not exist`);
    const { FakeGpio, opened } = fakeOnoff();
    const e = (await openStationGpio(cfg(), logger, { sysfsRoot: missing, onoffGpio: FakeGpio }).catch((x: unknown) => x)) as StationError;
    expect(e).toBeInstanceOf(StationError);
    expect(e.code).toBe('GPIO_UNAVAILABLE');
    expect(e.hint).toMatch(/devices\.gpio\.simulated: true/);
    expect(opened.size).toBe(0);
    const sim = await openStationGpio(cfg({ simulated: true }), logger, { sysfsRoot: missing });
    expect(sim.gpio.simulated).toBe(true);
    await sim.gpio.close();
    const forced = await openStationGpio(cfg(), logger, { sysfsRoot: missing, simulated: true });
    expect(forced.gpio.simulated).toBe(true);
    await forced.gpio.close();
  });

  it('a writable sysfs tree has no problem', () => {
    expect(sysfsGpioProblem(sysfs(PI4))).toBeNull();
  });
});

describe('doctor judges the installed unit, which the daemon runs under', () => {
  const shipped = readFileSync(join(__dirname, '..', '..', 'systemd', 'enroll-station.service'), 'utf8');
  const rwOf = (unit: string): string => unit.split('\n').filter((l) => l.startsWith('ReadWritePaths=')).map((l) => l.slice('ReadWritePaths='.length)).join(' ');
  const show = (o: { load?: string; pkt?: string; rw: string }) => () => `LoadState=${o.load ?? 'loaded'}\nProtectKernelTunables=${o.pkt ?? 'yes'}\nReadWritePaths=${o.rw}\n`;

  it('the shipped unit passes; one without the GPIO exemptions is named, with the fix', () => {
    expect(shipped).toMatch(/^ProtectKernelTunables=yes$/m);
    expect(unitGpioProblem(show({ rw: rwOf(shipped) }))).toBeNull();
    const old = unitGpioProblem(show({ rw: '/var/lib/enroll-station' }));
    expect(old?.message).toMatch(/ProtectKernelTunables=yes without ReadWritePaths= for \/sys\/class\/gpio and \/sys\/devices\/platform: .*GPIO_UNAVAILABLE/);
    expect(old?.hint).toMatch(/ReadWritePaths=-\/sys\/class\/gpio -\/sys\/devices\/platform/);
    expect(unitGpioProblem(show({ rw: '/var/lib/enroll-station -/sys/class/gpio' }))?.message).toMatch(/for \/sys\/devices\/platform:/);
    // a drop-in that opens a parent directory covers both
    expect(unitGpioProblem(show({ rw: '/var/lib/enroll-station /sys' }))).toBeNull();
  });

  it('nothing to judge: no systemd, the unit not installed, or /sys not made read-only', () => {
    expect(unitGpioProblem(() => null)).toBeNull();
    expect(unitGpioProblem(show({ load: 'not-found', rw: '' }))).toBeNull();
    expect(unitGpioProblem(show({ pkt: 'no', rw: '' }))).toBeNull();
  });
});
