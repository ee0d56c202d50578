import type { Command } from 'commander';
import { DEFAULT_PINS, LED_NAMES, type GpioPins, type PinRole } from '../../drivers/gpio';
import { UsageError } from '../../drivers/common/errors';
import { createLogger, nullLogger } from '../log';
import { optionalConfig } from './camera';
import { openStationGpio } from '../gpio-access';
import { action, globalOpts, intOption, printJson } from './util';

const ROLES: PinRole[] = ['ready', 'busy', 'error', 'syncing', 'buzzer', 'button', 'tamper'];

/** "--pins ready=17,busy=27,buzzer=none" → partial pin map. */
export function parsePins(spec: string): Partial<GpioPins> {
  const out: Partial<GpioPins> = {};
  for (const part of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^([a-z]+)=(\d+|none)$/.exec(part);
    if (!m || !ROLES.includes(m[1] as PinRole)) {
      throw new UsageError(`--pins: "${part}" is not ROLE=NUMBER`, `Roles: ${ROLES.join(', ')}; use "none" for a line that is not wired. Example: --pins ready=17,busy=27`);
    }
    out[m[1] as PinRole] = m[2] === 'none' ? null : Number(m[2]);
  }
  return out;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** `station gpio …` — technician commands for LEDs, buzzer, button and tamper switch. */
export function register(program: Command): void {
  const gpio = program.command('gpio').description('status LEDs, buzzer, capture button and tamper switch');
  gpio
    .command('test')
    .description('light each LED in turn, sound the buzzer, and report the button and tamper switch (real GPIO unless devices.gpio.simulated or --simulated; decided as the daemon does)')
    .option('--simulated', 'use the GPIO simulator (also when devices.gpio.simulated: true)')
    .option('--pins <list>', 'override pin numbers, e.g. ready=17,busy=27,buzzer=none')
    .option('--step-ms <ms>', 'how long each LED stays lit', '400')
    .option('--watch <seconds>', 'afterwards, report button presses and tamper changes for this long', '0')
    .option('--json', 'print the result as JSON')
    .action(
      action(async (opts: { simulated?: boolean; pins?: string; stepMs: string; watch: string; json?: boolean }, cmd: Command) => {
        const cfg = optionalConfig(cmd)?.devices.gpio ?? { simulated: false, lineBase: 'auto' as const, pins: { ...DEFAULT_PINS, fingerTouch: null } };
        const stepMs = intOption('--step-ms', opts.stepMs, 0, 10_000)!;
        const watchS = intOption('--watch', opts.watch, 0, 3600)!;
        const logger = globalOpts(cmd).debug ? createLogger({ level: 'debug', destination: process.stderr }) : nullLogger();
        // the same decision as the daemon and `station doctor`: real GPIO or GPIO_UNAVAILABLE, never a quiet simulator
        const opened = await openStationGpio(cfg, logger, { ...(opts.simulated ? { simulated: true } : {}), ...(opts.pins ? { pins: parsePins(opts.pins) } : {}) });
        const { gpio: g, bcm, base: lineBase, chips } = opened;
        const { fingerTouch: _touch, ...pins } = opened.lines;
        const say = (s: string): void => {
          if (!opts.json) process.stdout.write(`${s}\n`);
        };
        const pinOf = (r: PinRole): string => (pins[r] === null || pins[r] === undefined ? 'not wired' : `GPIO ${pins[r]}${lineBase ? ` = BCM ${bcm[r]}` : ''}`);
        const events: { kind: 'button' | 'tamper'; at: string; open?: boolean }[] = [];
        try {
          say(`GPIO: ${g.simulated ? 'simulator (devices.gpio.simulated or --simulated)' : 'onoff (sysfs)'}`);
          if (!g.simulated) for (const c of chips) say(`  chip ${c.name}: ${c.label}, lines ${c.base}–${c.base + c.ngpio - 1}`);
          const leds: Record<string, string> = {};
          for (const name of LED_NAMES) {
            const wired = pins[name] !== null && pins[name] !== undefined;
            g.setLed(name, 'on');
            await sleep(stepMs);
            g.setLed(name, 'off');
            leds[name] = wired ? 'cycled' : 'not wired';
            say(`  LED ${name.padEnd(8)} (${pinOf(name)}): ${leds[name]}`);
          }
          const patterns = ['ok', 'attention'] as const;
          for (const p of patterns) await g.beep(p);
          const buzzer = pins.buzzer === null || pins.buzzer === undefined ? 'not wired' : `played ${patterns.join(', ')}`;
          say(`  buzzer       (${pinOf('buzzer')}): ${buzzer}`);
          const st = g.status();
          say(`  button       (${pinOf('button')}): ${st.button}`);
          say(`  tamper       (${pinOf('tamper')}): ${st.tamper}${st.tamper === 'open' ? '  ← the case is open' : ''}`);
          if (watchS > 0) {
            say(`watching the button and tamper switch for ${watchS} s …`);
            g.on('button', (e) => {
              events.push({ kind: 'button', at: e.at.toISOString() });
              say(`  ${e.at.toISOString()} button pressed`);
              void g.beep('click');
            });
            g.on('tamper', (e) => {
              events.push({ kind: 'tamper', at: e.at.toISOString(), open: e.open });
              say(`  ${e.at.toISOString()} tamper switch ${e.open ? 'OPENED' : 'closed'}`);
            });
            await sleep(watchS * 1000);
          }
          if (opts.json) {
            const end = g.status();
            printJson({ ok: true, backend: g.kind, chips, pins, leds, buzzer, button: end.button, tamper: end.tamper, events });
          }
        } finally {
          await g.close();
        }
        return 0;
      }),
    );
}
