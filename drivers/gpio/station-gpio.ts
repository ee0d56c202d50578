import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { StationError } from '../common/errors';
import type { SimPinBackend } from './sim-backend';
import {
  BUZZER_PATTERNS, LED_NAMES,
  type BuzzerPatternName, type ButtonEvent, type GpioFault, type GpioPins, type InputPin, type LedMode, type LedName, type Level, type OutputPin, type PinBackend, type TamperEvent,
} from './types';

export interface StationGpioOptions {
  pins: GpioPins;
  logger: Logger;
  /** A button level must hold this long to count (contacts bounce for a few ms). Default 30. */
  debounceMs?: number;
  /** Same for the tamper switch. Default 50. */
  tamperDebounceMs?: number;
  /** Button wired to ground with a pull-up: pressed reads 0. Default true. */
  buttonActiveLow?: boolean;
  /** Level the tamper line reads when the case is open. Default 1 (switch to ground, pull-up, closed when shut). */
  tamperOpenLevel?: Level;
}

/** Drives the simulated lines; present only when the simulator backs the GPIO. */
export interface GpioSimControl {
  pressButton(): void;
  releaseButton(): void;
  /** Moves the button to `pressed` with contact chatter: `bounces` extra flips `gapMs` apart before it settles. */
  bounceButton(pressed: boolean, bounces?: number, gapMs?: number): Promise<void>;
  openTamper(): void;
  closeTamper(): void;
  /** Watching the button or tamper line fails (a 'fault' event follows). */
  failWatch(role: 'button' | 'tamper', message?: string): void;
  /** Current level of an LED or the buzzer output. */
  isOn(role: LedName | 'buzzer'): boolean;
  /** Every level written to an LED or the buzzer, with a timestamp. */
  writes(role: LedName | 'buzzer'): { at: number; value: Level }[];
}

export interface GpioStatus {
  backend: 'onoff' | 'simulator';
  leds: Record<LedName, LedMode>;
  buzzer: boolean;
  button: 'pressed' | 'released' | 'not wired';
  /** unwatched: watching the line failed while running (a 'fault' event said so). */
  tamper: 'open' | 'closed' | 'not wired' | 'unwatched';
}

interface Input {
  pin: InputPin;
  stable: Level;
  timer?: NodeJS.Timeout;
  /** Watching failed: the settled level is no longer known. */
  unwatched?: boolean;
}

const sleep = (ms: number, timers: Set<NodeJS.Timeout>): Promise<void> =>
  new Promise((r) => {
    const t = setTimeout(() => {
      timers.delete(t);
      r();
    }, ms);
    timers.add(t);
  });

/**
 * The booth's GPIO: LEDs (on/off/blink), buzzer patterns, a debounced capture
 * button and a tamper switch. Events: 'button' (ButtonEvent, on press) and
 * 'tamper' (TamperEvent, on every settled change). Lines set to null in the pin
 * map are not wired: their functions do nothing and report "not wired".
 */
export interface GpioEvents {
  button: [ButtonEvent];
  tamper: [TamperEvent];
  fault: [GpioFault];
}

export class StationGpio extends EventEmitter<GpioEvents> {
  readonly sim?: GpioSimControl;
  private readonly outs = new Map<LedName | 'buzzer', OutputPin>();
  private button?: Input;
  private tamper?: Input;
  private readonly modes: Record<LedName, LedMode> = { ready: 'off', busy: 'off', error: 'off', syncing: 'off' };
  private readonly blinkers = new Map<LedName, NodeJS.Timeout>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private buzzerToken = 0;
  private buzzerOn = false;
  private opened = false;

  constructor(private readonly backend: PinBackend, private readonly o: StationGpioOptions, simBackend?: SimPinBackend) {
    super();
    if (simBackend) this.sim = this.simControl(simBackend);
  }

  get kind(): 'onoff' | 'simulator' {
    return this.backend.kind;
  }

  get simulated(): boolean {
    return this.backend.kind === 'simulator';
  }

  private get buttonPressedLevel(): Level {
    return (this.o.buttonActiveLow ?? true) ? 0 : 1;
  }

  private get tamperOpenLevel(): Level {
    return this.o.tamperOpenLevel ?? 1;
  }

  async open(): Promise<void> {
    if (this.opened) return;
    const { pins } = this.o;
    try {
      for (const name of [...LED_NAMES, 'buzzer'] as const) {
        const pin = pins[name];
        if (pin === null) continue;
        const out = this.backend.output(pin, name);
        out.write(0);
        this.outs.set(name, out);
      }
      if (pins.button !== null) {
        this.button = this.watch(pins.button, 'button', this.o.debounceMs ?? 30, (v) => {
          if (v === this.buttonPressedLevel) this.emit('button', { pressed: true, at: new Date() } satisfies ButtonEvent);
        });
      }
      if (pins.tamper !== null) {
        this.tamper = this.watch(pins.tamper, 'tamper', this.o.tamperDebounceMs ?? 50, (v) => {
          const open = v === this.tamperOpenLevel;
          this.o.logger.warn({ open }, open ? 'tamper switch opened' : 'tamper switch closed');
          this.emit('tamper', { open, at: new Date() } satisfies TamperEvent);
        });
      }
    } catch (e) {
      this.releaseAll();
      throw e instanceof StationError ? e : new StationError('GPIO_OPEN_FAILED', `GPIO could not be opened: ${(e as Error).message}`, { cause: e });
    }
    this.opened = true;
    this.o.logger.info({ backend: this.backend.kind, pins }, 'gpio open');
  }

  private watch(pinNo: number, role: 'button' | 'tamper', debounceMs: number, onStable: (v: Level) => void): Input {
    const pin = this.backend.input(pinNo, role);
    const input: Input = { pin, stable: pin.read() };
    const onError = (error: Error): void => {
      if (input.timer) clearTimeout(input.timer);
      input.timer = undefined;
      input.unwatched = true;
      this.o.logger.error({ role, err: error }, `the ${role} line is no longer watched`);
      this.emit('fault', { role, error, at: new Date() } satisfies GpioFault);
    };
    pin.onChange(() => {
      // Restart the quiet-period timer on every edge; only a level that holds counts.
      if (input.timer) clearTimeout(input.timer);
      input.timer = setTimeout(() => {
        input.timer = undefined;
        const v = pin.read();
        if (v !== input.stable) {
          input.stable = v;
          onStable(v);
        }
      }, debounceMs);
    }, onError);
    return input;
  }

  private releaseAll(): void {
    for (const t of this.blinkers.values()) clearInterval(t);
    this.blinkers.clear();
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const i of [this.button, this.tamper]) {
      if (i?.timer) clearTimeout(i.timer);
      i?.pin.release();
    }
    this.button = this.tamper = undefined;
    for (const out of this.outs.values()) out.release();
    this.outs.clear();
  }

  async close(): Promise<void> {
    if (!this.opened) return;
    this.buzzerToken++;
    for (const name of LED_NAMES) this.modes[name] = 'off';
    this.releaseAll();
    this.buzzerOn = false;
    this.opened = false;
    this.o.logger.info('gpio closed');
  }

  private write(role: LedName | 'buzzer', v: Level): void {
    this.outs.get(role)?.write(v);
  }

  setLed(name: LedName, mode: LedMode, periodMs = 500): void {
    const old = this.blinkers.get(name);
    if (old) {
      clearInterval(old);
      this.blinkers.delete(name);
    }
    this.modes[name] = mode;
    if (!this.opened) return;
    if (mode === 'blink') {
      let on: Level = 1;
      this.write(name, on);
      const t = setInterval(() => {
        on = on ? 0 : 1;
        this.write(name, on);
      }, Math.max(20, periodMs / 2));
      this.blinkers.set(name, t);
    } else {
      this.write(name, mode === 'on' ? 1 : 0);
    }
  }

  /** One of ready / busy / error lit (error blinking), the others off; `syncing` is left alone. */
  showStatus(status: 'ready' | 'busy' | 'error' | 'off'): void {
    for (const name of ['ready', 'busy', 'error'] as const) {
      this.setLed(name, name !== status ? 'off' : name === 'error' ? 'blink' : 'on');
    }
  }

  /** Plays a pattern; a new pattern cuts the running one short. Resolves when it ends. */
  async beep(pattern: BuzzerPatternName | readonly number[]): Promise<void> {
    const seq = typeof pattern === 'string' ? BUZZER_PATTERNS[pattern] : pattern;
    if (!seq) throw new StationError('GPIO_BAD_PATTERN', `unknown buzzer pattern "${String(pattern)}"`, { hint: `Use one of: ${Object.keys(BUZZER_PATTERNS).join(', ')}.` });
    const token = ++this.buzzerToken;
    if (!this.opened) return;
    for (let i = 0; i < seq.length; i++) {
      if (token !== this.buzzerToken) return;
      const on = i % 2 === 0;
      this.buzzerOn = on;
      this.write('buzzer', on ? 1 : 0);
      await sleep(Math.max(0, seq[i]!), this.timers);
    }
    if (token === this.buzzerToken) {
      this.buzzerOn = false;
      this.write('buzzer', 0);
    }
  }

  stopBuzzer(): void {
    this.buzzerToken++;
    this.buzzerOn = false;
    this.write('buzzer', 0);
  }

  /** Settled (debounced) button state; false when not wired. */
  buttonPressed(): boolean {
    return this.button !== undefined && this.button.stable === this.buttonPressedLevel;
  }

  /** Settled tamper state; false when not wired. */
  tamperOpen(): boolean {
    return this.tamper !== undefined && this.tamper.stable === this.tamperOpenLevel;
  }

  status(): GpioStatus {
    return {
      backend: this.backend.kind,
      leds: { ...this.modes },
      buzzer: this.buzzerOn,
      button: this.o.pins.button === null ? 'not wired' : this.buttonPressed() ? 'pressed' : 'released',
      tamper: this.o.pins.tamper === null ? 'not wired' : this.tamper?.unwatched ? 'unwatched' : this.tamperOpen() ? 'open' : 'closed',
    };
  }

  private simControl(sim: SimPinBackend): GpioSimControl {
    const pins = this.o.pins;
    const set = (pin: number | null, v: Level): void => {
      if (pin !== null) sim.setLevel(pin, v);
    };
    const pressed = (): Level => this.buttonPressedLevel;
    const released = (): Level => (this.buttonPressedLevel ? 0 : 1);
    return {
      pressButton: () => set(pins.button, pressed()),
      releaseButton: () => set(pins.button, released()),
      bounceButton: async (isPressed, bounces = 4, gapMs = 2) => {
        const target = isPressed ? pressed() : released();
        const other: Level = target ? 0 : 1;
        for (let i = 0; i < bounces; i++) {
          set(pins.button, i % 2 === 0 ? target : other);
          await new Promise((r) => setTimeout(r, gapMs));
        }
        set(pins.button, target);
      },
      openTamper: () => set(pins.tamper, this.tamperOpenLevel),
      failWatch: (role, message = 'EIO: i/o error, epoll_wait') => {
        const pin = pins[role];
        if (pin !== null) sim.failWatch(pin, Object.assign(new Error(message), { code: 'EIO' }));
      },
      closeTamper: () => set(pins.tamper, this.tamperOpenLevel ? 0 : 1),
      isOn: (role) => pins[role] !== null && sim.level(pins[role]!) === 1,
      writes: (role) => (pins[role] === null ? [] : sim.writes(pins[role]!)),
    };
  }
}
