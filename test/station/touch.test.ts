import { describe, expect, it } from 'vitest';
import { gpioTouchLine } from '../../station/touch';
import { nullLogger } from '../../station/log';
import type { OnoffGpio } from '../../drivers/gpio/onoff-backend';

/** A stand-in for onoff's Gpio class: a line whose level the test sets (no GPIO on the CI machine). */
function fakeLine(initial: 0 | 1) {
  const lines: FakeGpio[] = [];
  class FakeGpio implements OnoffGpio {
    level: 0 | 1 = initial;
    cb: ((err: Error | null | undefined, v: 0 | 1) => void) | null = null;
    unexported = false;
    constructor(readonly pin: number, readonly dir: string, readonly edge?: string) { lines.push(this); }
    readSync(): 0 | 1 { return this.level; }
    writeSync(): void {}
    watch(cb: (err: Error | null | undefined, v: 0 | 1) => void): void { this.cb = cb; }
    unwatchAll(): void { this.cb = null; }
    unexport(): void { this.unexported = true; }
    set(v: 0 | 1): void { this.level = v; this.cb?.(null, v); }
  }
  return { FakeGpio, lines };
}

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('fingerprint touch line', () => {
  it('active-low (R503): waits for the falling level, resolves at once when already touched, aborts cleanly', async () => {
    const { FakeGpio, lines } = fakeLine(1);
    const t = gpioTouchLine(517, 0, nullLogger(), FakeGpio);
    expect(lines[0]).toMatchObject({ pin: 517, dir: 'in', edge: 'both' });
    let touched = false;
    const p = t.waitForTouch().then(() => (touched = true));
    // The fake line calls back synchronously and a touch resolves in microtasks, which all run
    // before the next macrotask: once it has run, "not touched" is a fact, not a guess on time.
    await turn();
    expect(touched).toBe(false);
    lines[0].set(1); // still released
    await turn();
    expect(touched).toBe(false);
    lines[0].set(0);
    await p;
    expect(touched).toBe(true);
    await t.waitForTouch(); // level is low now: immediate
    lines[0].set(1);
    const ac = new AbortController();
    const aborted = t.waitForTouch(ac.signal);
    ac.abort(new Error('session aborted'));
    await expect(aborted).rejects.toThrow('session aborted');
    t.close();
    expect(lines[0].unexported).toBe(true);
  });

  it('active-high (AS608 WAK) and a line that cannot be opened', async () => {
    const { FakeGpio, lines } = fakeLine(0);
    const t = gpioTouchLine(530, 1, nullLogger(), FakeGpio);
    const p = t.waitForTouch();
    lines[0].set(1);
    await expect(p).resolves.toBeUndefined();
    class Broken { constructor() { throw Object.assign(new Error('EBUSY'), { code: 'EBUSY' }); } }
    expect(() => gpioTouchLine(531, 1, nullLogger(), Broken as never)).toThrow(/GPIO line 531 \(fingerprint touch\) cannot be opened/);
  });
});
