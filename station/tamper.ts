import type { Logger } from 'pino';

/**
 * Tamper switch → station response. When the case is opened the station locks
 * (no more enrollments until a supervisor unlocks it), headquarters gets an event
 * and the audit log gets an entry. Closing the case again is recorded and
 * reported too, but it does NOT unlock: that is a supervisor's decision.
 *
 * The vault and uplink are reached through three small injected functions, so
 * this file depends on neither.
 */
export interface TamperActions {
  lock(reason: string): void | Promise<void>;
  publishEvent(kind: 'tamper', data: Record<string, unknown>): void | Promise<void>;
  audit(kind: string, data: Record<string, unknown>): void | Promise<void>;
}

type FaultListener = (e: { role: string; error: Error; at: Date }) => void;

/** What a tamper source offers (StationGpio fits). */
export interface TamperSource {
  on(event: 'tamper', listener: (e: { open: boolean; at: Date }) => void): unknown;
  off(event: 'tamper', listener: (e: { open: boolean; at: Date }) => void): unknown;
  /** Watching a line failed: for the tamper line, the case is no longer watched. */
  on(event: 'fault', listener: FaultListener): unknown;
  off(event: 'fault', listener: FaultListener): unknown;
  tamperOpen(): boolean;
}

export interface TamperWiringOptions {
  logger: Logger;
  /** Extra local alarm (buzzer, red LED) when the case opens. */
  alarm?: () => void;
  now?: () => Date;
}

export interface TamperWiring {
  /** Stop listening. */
  stop(): void;
  /** Resolves when every response started so far has finished (tests, orderly shutdown). */
  settled(): Promise<void>;
}

export const TAMPER_LOCK_REASON = 'tamper switch opened: the station case was opened';
export const TAMPER_UNWATCHED_REASON = 'tamper switch not watched (GPIO_WATCH_FAILED): the tamper line stopped reporting; whether the case was opened is unknown';

/**
 * Listens for tamper edges. If the case is already open when wired (opened while
 * the station was off), that is handled as a tamper at start-up.
 */
export function wireTamper(source: TamperSource, actions: TamperActions, o: TamperWiringOptions): TamperWiring {
  const pending = new Set<Promise<void>>();
  const now = o.now ?? (() => new Date());

  const step = async (what: string, fn: () => void | Promise<void>): Promise<boolean> => {
    try {
      await fn();
      return true;
    } catch (e) {
      // One failing response must not stop the others.
      o.logger.error({ err: e, step: what }, 'tamper response step failed');
      return false;
    }
  };

  const respond = async (open: boolean, at: Date, atStartup: boolean): Promise<void> => {
    const when = at.toISOString();
    if (open) {
      o.logger.warn({ atStartup }, 'TAMPER: case opened — locking the station');
      if (o.alarm) await step('alarm', o.alarm);
      // Lock first: nothing may be enrolled on a station whose case is open.
      const locked = await step('lock', () => actions.lock(TAMPER_LOCK_REASON));
      const data = { state: 'open', at: when, atStartup, locked };
      await step('audit', () => actions.audit('tamper.opened', data));
      await step('publish', () => actions.publishEvent('tamper', data));
    } else {
      o.logger.warn('tamper switch closed again; the station stays locked until a supervisor unlocks it');
      const data = { state: 'closed', at: when, atStartup };
      await step('audit', () => actions.audit('tamper.closed', data));
      await step('publish', () => actions.publishEvent('tamper', data));
    }
  };

  const track = (p: Promise<void>): void => {
    pending.add(p);
    void p.finally(() => pending.delete(p));
  };

  /** The line stopped being watched while running: as good as an open case (nobody can tell). */
  const unwatched = async (error: Error, at: Date): Promise<void> => {
    o.logger.error({ err: error }, 'TAMPER: the tamper line is no longer watched — locking the station');
    if (o.alarm) await step('alarm', o.alarm);
    const locked = await step('lock', () => actions.lock(TAMPER_UNWATCHED_REASON));
    const code = 'GPIO_WATCH_FAILED';
    await step('audit', () => actions.audit('tamper.unwatched', { state: 'unwatched', at: at.toISOString(), code, locked }));
    await step('publish', () => actions.publishEvent('tamper', { state: 'unwatched', at: at.toISOString(), code, message: error.message, locked }));
  };

  const listener = (e: { open: boolean; at: Date }): void => track(respond(e.open, e.at, false));
  const faultListener: FaultListener = (e) => { if (e.role === 'tamper') track(unwatched(e.error, e.at)); };
  source.on('tamper', listener);
  source.on('fault', faultListener);
  if (source.tamperOpen()) track(respond(true, now(), true));

  return {
    stop: () => {
      source.off('tamper', listener);
      source.off('fault', faultListener);
    },
    settled: async () => {
      while (pending.size) await Promise.all([...pending]);
    },
  };
}
