/** Station body language: status LEDs, a buzzer, a capture button and a tamper switch. */
export const LED_NAMES = ['ready', 'busy', 'error', 'syncing'] as const;
export type LedName = (typeof LED_NAMES)[number];
export type LedMode = 'on' | 'off' | 'blink';

export type PinRole = LedName | 'buzzer' | 'button' | 'tamper';
/** GPIO line numbers as sysfs sees them; null = not wired (that function does nothing). */
export type GpioPins = Record<PinRole, number | null>;

export type Level = 0 | 1;

/** Named buzzer patterns: alternating on/off durations in ms, starting with "on". */
export const BUZZER_PATTERNS = {
  /** Short click when the button is taken. */
  click: [40],
  /** Capture accepted. */
  ok: [90],
  /** Something needs the officer's eyes: three short beeps. */
  attention: [80, 80, 80, 80, 80],
  /** Capture refused / error: two long beeps. */
  error: [350, 120, 350],
  /** Tamper: a long alarm. */
  alarm: [500, 250, 500, 250, 500, 250, 500, 250, 500],
} as const satisfies Record<string, readonly number[]>;
export type BuzzerPatternName = keyof typeof BUZZER_PATTERNS;

export interface ButtonEvent {
  pressed: true;
  at: Date;
}
export interface TamperEvent {
  open: boolean;
  at: Date;
}
/** An input line can no longer be watched (the kernel's edge interrupt failed): its events stop. */
export interface GpioFault {
  role: 'button' | 'tamper';
  error: Error;
  at: Date;
}

/** One output line. */
export interface OutputPin {
  write(v: Level): void;
  release(): void;
}
/** One input line; `onChange` fires on every raw edge (bounces included), `onError` when watching fails. */
export interface InputPin {
  read(): Level;
  onChange(cb: (v: Level) => void, onError?: (e: Error) => void): void;
  release(): void;
}
/** What the station logic needs from GPIO hardware; onoff and the simulator implement it. */
export interface PinBackend {
  readonly kind: 'onoff' | 'simulator';
  output(pin: number, role: PinRole): OutputPin;
  input(pin: number, role: PinRole): InputPin;
}
