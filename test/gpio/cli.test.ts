import { afterEach, describe, expect, it, vi } from 'vitest';
import { parsePins, register } from '../../station/cli/gpio';
import { inProcessStation } from '../helpers/cli-inprocess';

afterEach(() => {
  vi.restoreAllMocks();
  process.exitCode = undefined;
});

const station = inProcessStation(register);

describe('station gpio test', () => {
  it('cycles LEDs and buzzer and reports button and tamper on the simulator', async () => {
    const r = await station('gpio', 'test', '--simulated', '--step-ms', '20');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/GPIO: simulator/);
    for (const led of ['ready', 'busy', 'error', 'syncing']) expect(r.out).toMatch(new RegExp(`LED ${led}\\s+\\(GPIO \\d+\\): cycled`));
    expect(r.out).toMatch(/buzzer\s+\(GPIO 24\): played ok, attention/);
    expect(r.out).toMatch(/button\s+\(GPIO 25\): released/);
    expect(r.out).toMatch(/tamper\s+\(GPIO 5\): closed/);
  });

  it('--json with pin overrides; unwired lines say so', async () => {
    const r = await station('gpio', 'test', '--simulated', '--step-ms', '0', '--pins', 'ready=4,buzzer=none,tamper=none', '--json');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j).toMatchObject({ ok: true, backend: 'simulator', buzzer: 'not wired', tamper: 'not wired', button: 'released' });
    expect(j.pins).toMatchObject({ ready: 4, buzzer: null, tamper: null, busy: 27 });
  });

  it('bad pin lists are usage errors (exit 2)', async () => {
    expect(() => parsePins('ready=x')).toThrow(/ROLE=NUMBER/);
    expect(parsePins('ready=1, busy=none')).toEqual({ ready: 1, busy: null });
    expect((await station('gpio', 'test', '--simulated', '--pins', 'lamp=3')).code).toBe(2);
    const dup = await station('gpio', 'test', '--simulated', '--pins', 'busy=17');
    expect(dup.code).toBe(2);
    expect(dup.err).toMatch(/GPIO 17 is configured twice/);
  });
});
