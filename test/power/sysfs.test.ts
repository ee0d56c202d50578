/**
 * The power_supply reader against fake sysfs trees (real files in a directory of
 * each test's own), and the station's power watch on top of it: levels,
 * hysteresis, the critical debounce, nonsense and a node that disappears.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { PowerSupplyTree, SysfsPower, createPower, powerLevel } from '../../drivers/power';
import { PowerWatch } from '../../station/power';

const dirs: string[] = [];
const trees: PowerSupplyTree[] = [];
afterEach(() => {
  for (const t of trees.splice(0)) t.dispose();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tree(initial: ConstructorParameters<typeof PowerSupplyTree>[0] = {}): PowerSupplyTree {
  const t = new PowerSupplyTree(initial);
  trees.push(t);
  return t;
}

/** A tree laid out like a Raspberry Pi with a UPS HAT driver: a UPS battery node and a USB input. */
function customTree(nodes: Record<string, Record<string, string>>): string {
  const root = mkdtempSync(join(tmpdir(), 'ps-custom-'));
  dirs.push(root);
  for (const [n, attrs] of Object.entries(nodes)) {
    mkdirSync(join(root, n));
    for (const [a, v] of Object.entries(attrs)) writeFileSync(join(root, n, a), v);
  }
  return root;
}

function logCapture() {
  const lines: { level: number; msg: string; [k: string]: unknown }[] = [];
  const logger = pino({ level: 'debug' }, { write: (s: string) => { lines.push(JSON.parse(s)); } });
  return { logger, lines };
}

const T = { lowPercent: 20, criticalPercent: 5 };

describe('power_supply reader', () => {
  it('reads capacity, status, voltage (µV → V) and mains online, as the kernel writes them', () => {
    const t = tree({ capacityPct: 64, status: 'discharging', voltageV: 7.412, onAc: false });
    const r = new SysfsPower({ root: t.root }).read();
    expect(r).toMatchObject({ battery: 'BAT0', present: true, capacityPct: 64, status: 'discharging', voltageV: 7.412, onAc: false, problems: [] });
    t.set({ onAc: true, status: 'charging' });
    expect(new SysfsPower({ root: t.root }).read()).toMatchObject({ onAc: true, status: 'charging' });
  });

  it('finds a UPS-type battery and a USB input when there is no node called Battery', () => {
    const root = customTree({
      'rpi-ups': { type: 'UPS\n', capacity: '41\n', status: 'Not charging\n', voltage_now: '3912000\n' },
      usb: { type: 'USB\n', online: '1\n' },
    });
    const r = new SysfsPower({ root }).read();
    expect(r).toMatchObject({ battery: 'rpi-ups', capacityPct: 41, status: 'not-charging', voltageV: 3.912, onAc: true });
    // on USB power but not charging (status "Not charging"): external power counts
    expect(powerLevel({ ...r, capacityPct: 3 }, T)).toBe('ok');
  });

  it('nonsense values are reported by file and read as unknown, never trusted', () => {
    const t = tree();
    t.writeRaw('BAT0', 'capacity', '250\n');
    t.writeRaw('BAT0', 'status', 'Exploding\n');
    t.writeRaw('BAT0', 'voltage_now', '-5\n');
    t.writeRaw('AC', 'online', 'yes\n');
    const r = new SysfsPower({ root: t.root }).read();
    expect(r.capacityPct).toBeNull();
    expect(r.status).toBe('unknown');
    expect(r.voltageV).toBeNull();
    expect(r.onAc).toBeNull();
    expect(r.problems).toEqual([
      'AC/online reads "yes" (expected 0 or 1)',
      'BAT0/capacity reads "250" (expected a percentage 0–100)',
      'BAT0/status reads "Exploding" (expected Charging, Discharging, Full, Not charging or Unknown)',
      'BAT0/voltage_now reads "-5" (expected microvolts)',
    ]);
    expect(powerLevel(r, T)).toBe('unknown');
  });

  it('a configured battery that is missing, or a root that does not exist, is an error naming it', () => {
    const t = tree();
    expect(() => new SysfsPower({ root: t.root, battery: 'BAT1' }).read()).toThrow(/the battery BAT1 is not under .* \(found: AC, BAT0\)/);
    expect(() => new SysfsPower({ root: join(t.root, 'nope') }).read()).toThrow(expect.objectContaining({ code: 'POWER_NO_SYSFS' }));
    t.removeBattery();
    expect(() => new SysfsPower({ root: t.root, battery: 'BAT0' }).read()).toThrow(expect.objectContaining({ code: 'POWER_NODE_MISSING' }));
    // automatic choice: no battery at all is a reading without one (mains only), not an error
    expect(new SysfsPower({ root: t.root }).read()).toMatchObject({ battery: null, present: false, onAc: false });
  });

  it('levels: external power charging means ok whatever the capacity; on battery the thresholds decide', () => {
    const base = { at: 0, battery: 'BAT0', present: true, voltageV: null, problems: [] };
    expect(powerLevel({ ...base, capacityPct: 50, status: 'discharging', onAc: false }, T)).toBe('ok');
    expect(powerLevel({ ...base, capacityPct: 19, status: 'discharging', onAc: false }, T)).toBe('low');
    expect(powerLevel({ ...base, capacityPct: 5, status: 'discharging', onAc: false }, T)).toBe('critical');
    expect(powerLevel({ ...base, capacityPct: 5, status: 'charging', onAc: true }, T)).toBe('ok');
    // a charger that cannot keep up: "online" but the battery still discharging
    expect(powerLevel({ ...base, capacityPct: 4, status: 'discharging', onAc: true }, T)).toBe('critical');
    expect(powerLevel({ ...base, capacityPct: null, status: 'unknown', onAc: false }, T)).toBe('unknown');
  });

  it('createPower({ simulated }) is the same reader over the simulator\'s tree', () => {
    const { monitor, sim } = createPower({ simulated: true, sim: { capacityPct: 33 } });
    trees.push(sim!);
    expect(monitor.read().capacityPct).toBe(33);
    sim!.set({ capacityPct: 12 });
    expect(monitor.read().capacityPct).toBe(12);
  });
});

describe('power watch', () => {
  function watch(t: PowerSupplyTree, battery?: string) {
    const { logger, lines } = logCapture();
    const w = new PowerWatch({ monitor: new SysfsPower({ root: t.root, ...(battery ? { battery } : {}) }), thresholds: T, pollMs: 3_600_000, logger });
    const changes: string[] = [];
    let critical = 0;
    w.on('change', (s: { level: string }) => changes.push(s.level));
    w.on('critical', () => critical++);
    return { w, lines, changes, critical: () => critical };
  }

  it('low with hysteresis, critical only on a second reading, back to ok on mains', () => {
    const t = tree({ capacityPct: 50 });
    const { w, changes, critical, lines } = watch(t);
    expect(w.poll().level).toBe('ok');
    t.set({ capacityPct: 19 });
    expect(w.poll().level).toBe('low');
    t.set({ capacityPct: 21 }); // within the hysteresis band: still low
    expect(w.poll().level).toBe('low');
    t.set({ capacityPct: 22 });
    expect(w.poll().level).toBe('ok');
    t.set({ capacityPct: 4 });
    expect(w.poll().level).toBe('low'); // one reading at critical: not yet
    expect(critical()).toBe(0);
    expect(w.poll().level).toBe('critical');
    expect(critical()).toBe(1);
    t.set({ onAc: true, status: 'charging' });
    expect(w.poll().level).toBe('ok');
    expect(changes).toEqual(['ok', 'low', 'ok', 'low', 'critical', 'ok']);
    expect(lines.some((l) => l.level === 50 && /battery critical/.test(l.msg))).toBe(true);
    w.stop();
  });

  it('a glitch reading of 0 % between good ones never reaches critical', () => {
    const t = tree({ capacityPct: 60 });
    const { w, changes } = watch(t);
    w.poll();
    t.set({ capacityPct: 0 });
    w.poll();
    t.set({ capacityPct: 60 });
    w.poll();
    expect(changes).not.toContain('critical');
    w.stop();
  });

  it('a node that disappears or reads nonsense is unknown with the reason, logged once per change', () => {
    const t = tree({ capacityPct: 70 });
    const { w, lines, changes } = watch(t, 'BAT0');
    w.poll();
    t.removeBattery();
    expect(w.poll()).toMatchObject({ level: 'unknown', error: expect.stringMatching(/BAT0 .*not under/) });
    w.poll();
    expect(lines.filter((l) => /battery state unknown/.test(l.msg))).toHaveLength(1);
    t.set({ capacityPct: 70 }); // back
    expect(w.poll().level).toBe('ok');
    t.writeRaw('BAT0', 'capacity', 'NaN\n');
    expect(w.poll()).toMatchObject({ level: 'unknown', error: 'BAT0/capacity reads "NaN" (expected a percentage 0–100)' });
    expect(lines.some((l) => /power supply reports nonsense/.test(l.msg))).toBe(true);
    expect(changes).toEqual(['ok', 'unknown', 'ok', 'unknown']);
    w.stop();
  });
});
