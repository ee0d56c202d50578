import { afterEach, describe, expect, it, vi } from 'vitest';
import { createGpio, DEFAULT_PINS, type StationGpio } from '../../drivers/gpio';
import { nullLogger } from '../../station/log';
import { TAMPER_LOCK_REASON, TAMPER_UNWATCHED_REASON, wireTamper, type TamperActions } from '../../station/tamper';

const logger = nullLogger();
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function gpio(): Promise<StationGpio> {
  const g = createGpio({ pins: DEFAULT_PINS, simulated: true, logger, tamperDebounceMs: 40 });
  cleanups.push(() => g.close());
  return g;
}

function recorder(fail: Partial<Record<keyof TamperActions, boolean>> = {}) {
  const calls: { fn: string; args: unknown[] }[] = [];
  const mk = (fn: keyof TamperActions) => async (...args: unknown[]) => {
    calls.push({ fn, args });
    if (fail[fn]) throw new Error(`${fn} is down`);
  };
  const actions: TamperActions = { lock: mk('lock'), publishEvent: mk('publishEvent'), audit: mk('audit') };
  return { calls, actions };
}

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('tamper switch → lock + event for headquarters + audit entry', () => {
  it('opening the case locks, audits and publishes, in that order; closing it does not unlock', async () => {
    const g = await gpio();
    await g.open();
    const { calls, actions } = recorder();
    let alarms = 0;
    const w = wireTamper(g, actions, { logger, alarm: () => { alarms++; } });
    cleanups.push(() => w.stop());
    expect(calls).toEqual([]);
    g.sim!.openTamper();
    await until(() => calls.length === 3);
    await w.settled();
    expect(calls.map((c) => c.fn)).toEqual(['lock', 'audit', 'publishEvent']);
    expect(calls[0]!.args).toEqual([TAMPER_LOCK_REASON]);
    expect(calls[1]!.args[0]).toBe('tamper.opened');
    expect(calls[1]!.args[1]).toMatchObject({ state: 'open', atStartup: false, locked: true });
    expect(calls[2]!.args).toEqual(['tamper', calls[1]!.args[1]]);
    expect(Date.parse((calls[1]!.args[1] as { at: string }).at)).not.toBeNaN();
    expect(alarms).toBe(1);

    g.sim!.closeTamper();
    await until(() => calls.length === 5);
    await w.settled();
    expect(calls.slice(3).map((c) => [c.fn, c.args[0], (c.args[1] as { state: string }).state])).toEqual([
      ['audit', 'tamper.closed', 'closed'],
      ['publishEvent', 'tamper', 'closed'],
    ]);
    expect(calls.filter((c) => c.fn === 'lock')).toHaveLength(1);
  });

  it('a case already open at start-up is a tamper too', async () => {
    const g = await gpio();
    g.sim!.openTamper(); // opened while the station was off
    await g.open();
    const { calls, actions } = recorder();
    const w = wireTamper(g, actions, { logger });
    cleanups.push(() => w.stop());
    await w.settled();
    expect(calls.map((c) => c.fn)).toEqual(['lock', 'audit', 'publishEvent']);
    expect(calls[1]!.args[1]).toMatchObject({ state: 'open', atStartup: true });
  });

  it('a bouncing tamper contact gives one response, not many', async () => {
    const g = await gpio();
    await g.open();
    const { calls, actions } = recorder();
    const w = wireTamper(g, actions, { logger });
    cleanups.push(() => w.stop());
    // Time is the subject (a 40 ms quiet period): the debounce runs on fake timers, so a loaded
    // machine cannot stretch a 3 ms bounce past it, and "no second response" is proven by having
    // run every timer there is rather than by waiting.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    cleanups.push(() => { vi.useRealTimers(); });
    for (let i = 0; i < 7; i++) {
      if (i % 2 === 0) g.sim!.openTamper();
      else g.sim!.closeTamper();
      vi.advanceTimersByTime(3);
    }
    vi.advanceTimersByTime(36); // 39 ms after the last edge: not yet a level that holds
    await w.settled();
    expect(calls).toEqual([]);
    vi.advanceTimersByTime(1);
    await w.settled();
    expect(calls.map((c) => c.fn)).toEqual(['lock', 'audit', 'publishEvent']);
    vi.runAllTimers();
    await w.settled();
    expect(vi.getTimerCount()).toBe(0);
    expect(calls.map((c) => c.fn)).toEqual(['lock', 'audit', 'publishEvent']);
  });

  it('a failing step does not stop the others, and the audit says the lock failed', async () => {
    const g = await gpio();
    await g.open();
    const { calls, actions } = recorder({ lock: true, publishEvent: true });
    const w = wireTamper(g, actions, { logger });
    cleanups.push(() => w.stop());
    g.sim!.openTamper();
    await until(() => calls.length === 3);
    await w.settled();
    expect(calls.map((c) => c.fn)).toEqual(['lock', 'audit', 'publishEvent']);
    expect(calls[1]!.args[1]).toMatchObject({ locked: false });
  });

  it('after stop() edges are ignored', async () => {
    const g = await gpio();
    await g.open();
    const { calls, actions } = recorder();
    const w = wireTamper(g, actions, { logger });
    w.stop();
    let seen = 0;
    g.on('tamper', () => seen++);
    g.sim!.openTamper();
    await until(() => seen === 1);
    await w.settled();
    expect(calls).toEqual([]);
  });

  it('a tamper line that stops being watched while running locks, audits and tells headquarters (#14 item 4); a button fault does not', async () => {
    const g = await gpio();
    await g.open();
    const { calls, actions } = recorder();
    let alarms = 0;
    const w = wireTamper(g, actions, { logger, alarm: () => { alarms++; } });
    cleanups.push(() => w.stop());
    const faults: string[] = [];
    g.on('fault', (f) => faults.push(f.role));
    g.sim!.failWatch('button');
    expect(faults).toEqual(['button']);
    await w.settled();
    expect(calls).toEqual([]);
    expect(g.status().tamper).toBe('closed');

    g.sim!.failWatch('tamper', 'EIO: i/o error, epoll_wait');
    expect(faults).toEqual(['button', 'tamper']);
    await w.settled();
    expect(calls.map((c) => c.fn)).toEqual(['lock', 'audit', 'publishEvent']);
    expect(calls[0]!.args).toEqual([TAMPER_UNWATCHED_REASON]);
    expect(calls[1]!.args).toEqual(['tamper.unwatched', expect.objectContaining({ state: 'unwatched', code: 'GPIO_WATCH_FAILED', locked: true })]);
    expect(calls[2]!.args).toEqual(['tamper', expect.objectContaining({ state: 'unwatched', code: 'GPIO_WATCH_FAILED', message: 'EIO: i/o error, epoll_wait', locked: true })]);
    expect(alarms).toBe(1);
    expect(g.status().tamper).toBe('unwatched');
    // the line is dead: a later level change is not taken for a closed case
    g.sim!.openTamper();
    g.sim!.closeTamper();
    await w.settled();
    expect(calls).toHaveLength(3);
  });
});
