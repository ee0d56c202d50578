/**
 * The compiled daemon's own defences at start (#14 items 4 and 5): it never runs with
 * core dumps enabled.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { STATION_JS, hasStackTrace } from '../helpers/cli';
import { provisionedStation } from '../helpers/station';
import { coreLimit } from '../../station/core-dumps';

const dirs: string[] = [];
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('core dumps', () => {
  it('a daemon started with core dumps enabled turns them off for itself before it is ready', async () => {
    const f = await provisionedStation({ stationId: 'ST-CORE-1', brokerUrl: 'mqtt://127.0.0.1:9' });
    dirs.push(f.dir);
    // as if started by hand from a shell with `ulimit -c unlimited`
    const child = spawn('prlimit', ['--core=unlimited:unlimited', process.execPath, STATION_JS, 'run', '--config', f.file], {
      env: { ...process.env, STATION_PRINT_READY: '1' }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));
    try {
      await expect.poll(() => /^READY/m.test(out) || child.exitCode !== null, { timeout: 30_000 }).toBe(true);
      expect(out).toMatch(/^READY/m);
      expect(coreLimit(child.pid!)).toEqual({ soft: 0, hard: 0 });
      expect(out).toMatch(/core dumps disabled for the daemon/);
      expect(out.indexOf('core dumps disabled')).toBeLessThan(out.indexOf('READY'));
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
    }
  });

  it('refuses to start when it cannot turn them off (exit 1, CORE_DUMPS_ENABLED, says what to do)', async () => {
    const f = await provisionedStation({ stationId: 'ST-CORE-2', brokerUrl: 'mqtt://127.0.0.1:9' });
    dirs.push(f.dir);
    const r = await new Promise<{ code: number | null; out: string }>((resolve) => {
      const child = spawn('prlimit', ['--core=unlimited:unlimited', process.execPath, STATION_JS, 'run', '--config', f.file], {
        env: { ...process.env, STATION_PRLIMIT_BIN: '/nonexistent/prlimit' }, stdio: ['ignore', 'pipe', 'pipe'],
      });
      children.push(child);
      let out = '';
      child.stdout!.on('data', (d) => (out += d));
      child.stderr!.on('data', (d) => (out += d));
      child.on('close', (code) => resolve({ code, out }));
    });
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/core dumps are enabled for the daemon \(RLIMIT_CORE unlimited:unlimited\) and could not be disabled: \/nonexistent\/prlimit is not installed/);
    expect(r.out).toMatch(/LimitCORE=0/);
    expect(r.out).not.toMatch(/station ready/);
    expect(hasStackTrace(r.out)).toBe(false);
  });
});
