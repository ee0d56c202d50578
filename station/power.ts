/**
 * The station's power watch: reads the power monitor on a period (faster when
 * low), turns readings into a level (ok / low / critical / unknown) and reports
 * changes. The composition root wires the consequences: below "low" the kiosk
 * warns and new enrollments are refused (the one in progress may still be
 * confirmed and sealed); at "critical" the station finishes its write and stops.
 *
 * - Leaving "low" needs the capacity back 2 points above the threshold (or external
 *   power): a battery hovering at the threshold does not flap.
 * - "critical" needs two readings in a row: one glitchy value does not stop a booth.
 * - A monitor that cannot be read, or reads nonsense, is "unknown", logged once per
 *   change with what was wrong.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { powerLevel, type PowerLevel, type PowerMonitor, type PowerReading, type PowerThresholds } from '../drivers/power';

export interface PowerState {
  level: PowerLevel;
  reading: PowerReading | null;
  /** Why the level is unknown (the monitor's error or the nonsense it read). */
  error: string | null;
  thresholds: PowerThresholds;
}

export interface PowerWatchOptions {
  monitor: PowerMonitor;
  thresholds: PowerThresholds;
  pollMs: number;
  /** Poll period while low or unknown (default a fifth of pollMs, at least 1 s). */
  fastPollMs?: number;
  logger: Logger;
}

const HYSTERESIS = 2;

export class PowerWatch extends EventEmitter {
  private timer: NodeJS.Timeout | null = null;
  private st: PowerState;
  private criticalStreak = 0;
  private lastProblems = '';

  constructor(private readonly o: PowerWatchOptions) {
    super();
    this.st = { level: 'unknown', reading: null, error: 'not read yet', thresholds: o.thresholds };
  }

  get state(): PowerState {
    return this.st;
  }

  start(): void {
    this.poll();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** One reading now (also what the timer does). Returns the new state. */
  poll(): PowerState {
    if (this.timer) { clearTimeout(this.timer); this.timer = null; }
    let reading: PowerReading | null = null;
    let error: string | null = null;
    try {
      reading = this.o.monitor.read();
    } catch (e) {
      error = (e as Error).message;
    }
    let level: PowerLevel = 'unknown';
    if (reading) {
      level = powerLevel(reading, this.o.thresholds);
      const problems = reading.problems.join('; ');
      if (problems && problems !== this.lastProblems) this.o.logger.warn({ problems: reading.problems }, `power supply reports nonsense: ${problems}`);
      this.lastProblems = problems;
      if (level === 'unknown') error = problems || (reading.battery ? `${reading.battery} reports no capacity` : 'no battery found');
      // hysteresis: stay low until clearly above the threshold
      if (level === 'ok' && this.st.level === 'low' && reading.onAc !== true && reading.capacityPct !== null && reading.capacityPct < this.o.thresholds.lowPercent + HYSTERESIS) level = 'low';
    }
    // debounce: critical only on the second reading in a row
    if (level === 'critical') {
      this.criticalStreak++;
      if (this.criticalStreak < 2) level = this.st.level === 'critical' ? 'critical' : 'low';
    } else {
      this.criticalStreak = 0;
    }
    const prev = this.st;
    this.st = { level, reading, error, thresholds: this.o.thresholds };
    if (prev.level !== level || (level === 'unknown' && prev.error !== error)) {
      const data = { power: level, was: prev.level, capacityPct: reading?.capacityPct ?? null, onAc: reading?.onAc ?? null, status: reading?.status ?? null, ...(error ? { error } : {}) };
      const msg = level === 'critical' ? 'battery critical: the station finishes its write and shuts down'
        : level === 'low' ? 'battery low: new enrollments are refused until the station is charged'
          : level === 'unknown' ? `battery state unknown: ${error}`
            : 'power ok';
      if (level === 'ok') this.o.logger.info(data, msg); else if (level === 'critical') this.o.logger.error(data, msg); else this.o.logger.warn(data, msg);
      this.emit('change', this.st, prev);
      if (level === 'critical') this.emit('critical', this.st);
    }
    const fast = this.o.fastPollMs ?? Math.max(1000, Math.round(this.o.pollMs / 5));
    const wait = level === 'ok' ? this.o.pollMs : fast;
    this.timer = setTimeout(() => this.poll(), wait);
    this.timer.unref();
    return this.st;
  }
}
