import type { InputPin, Level, OutputPin, PinBackend, PinRole } from './types';

/**
 * In-memory GPIO lines. Tests (and the demo) drive input levels with `setLevel`;
 * every level change is delivered to watchers synchronously, like an edge interrupt,
 * so bounces arrive exactly as sent. Output writes are recorded.
 */
export class SimPinBackend implements PinBackend {
  readonly kind = 'simulator' as const;
  private readonly levels = new Map<number, Level>();
  private readonly watchers = new Map<number, ((v: Level) => void)[]>();
  private readonly errorWatchers = new Map<number, ((e: Error) => void)[]>();
  private readonly history = new Map<number, { at: number; value: Level }[]>();
  private readonly claimed = new Map<number, PinRole>();

  /** Level an input rests at before anyone drives it (e.g. pulled up). */
  constructor(private readonly idle: Partial<Record<number, Level>> = {}) {}

  private claim(pin: number, role: PinRole): void {
    const other = this.claimed.get(pin);
    if (other && other !== role) throw new Error(`simulated GPIO ${pin} already used by ${other}`);
    this.claimed.set(pin, role);
  }

  output(pin: number, role: PinRole): OutputPin {
    this.claim(pin, role);
    this.levels.set(pin, 0);
    return {
      write: (v) => {
        this.levels.set(pin, v);
        const h = this.history.get(pin) ?? [];
        h.push({ at: Date.now(), value: v });
        if (h.length > 1000) h.shift();
        this.history.set(pin, h);
      },
      release: () => {
        this.levels.set(pin, 0);
        this.claimed.delete(pin);
      },
    };
  }

  input(pin: number, role: PinRole): InputPin {
    this.claim(pin, role);
    if (!this.levels.has(pin)) this.levels.set(pin, this.idle[pin] ?? 0);
    return {
      read: () => this.levels.get(pin) ?? 0,
      onChange: (cb, onError) => {
        this.watchers.set(pin, [...(this.watchers.get(pin) ?? []), cb]);
        if (onError) this.errorWatchers.set(pin, [...(this.errorWatchers.get(pin) ?? []), onError]);
      },
      release: () => {
        this.watchers.delete(pin);
        this.errorWatchers.delete(pin);
        this.claimed.delete(pin);
      },
    };
  }

  /** Drive an input line (or look at an output with `level`). */
  setLevel(pin: number, v: Level): void {
    if (this.levels.get(pin) === v) return;
    this.levels.set(pin, v);
    for (const cb of this.watchers.get(pin) ?? []) cb(v);
  }

  /** Watching an input fails, as when the kernel's edge interrupt does; the line's edges stop. */
  failWatch(pin: number, error: Error): void {
    const errs = this.errorWatchers.get(pin) ?? [];
    this.watchers.delete(pin);
    this.errorWatchers.delete(pin);
    for (const cb of errs) cb(error);
  }

  level(pin: number): Level {
    return this.levels.get(pin) ?? 0;
  }

  writes(pin: number): { at: number; value: Level }[] {
    return [...(this.history.get(pin) ?? [])];
  }
}
