/**
 * Children die with the daemon (#16 item 5): the compiled daemon on simulated devices
 * is killed with SIGKILL (no cleanup runs); the fingerprint simulator's socat goes with
 * it (the kernel's parent-death signal), and the next start removes the pty directory
 * the killed daemon left. The daemon's temp directory is one of this test's own.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto';
import { STATION_JS } from '../helpers/cli';
import { provisionedStation, type StationFixture } from '../helpers/station';

/** Pids of the processes whose parent is `ppid` and whose command is `comm`. */
function childrenOf(ppid: number, comm: string): number[] {
  const out: number[] = [];
  for (const n of readdirSync('/proc')) {
    if (!/^\d+$/.test(n)) continue;
    try {
      const stat = readFileSync(`/proc/${n}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const name = stat.slice(stat.indexOf('(') + 1, close);
      const parent = Number(stat.slice(close + 2).split(' ')[1]);
      if (parent === ppid && name === comm) out.push(Number(n));
    } catch {}
  }
  return out;
}

/** Gone, or a zombie nobody reaped yet (the container's init may not): either way no longer running. */
function dead(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

describe('children of the daemon', () => {
  let broker: Mosquitto;
  let fx: StationFixture;
  let tmp: string;
  const procs: ChildProcess[] = [];

  beforeAll(async () => {
    broker = await startMosquitto();
    fx = await provisionedStation({ stationId: 'ST-CHILD-1', brokerUrl: broker.url });
    tmp = join(fx.dir, 'tmp');
    mkdirSync(tmp);
  }, 60_000);
  afterAll(async () => {
    for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    await broker?.dispose();
    if (fx) rmSync(fx.dir, { recursive: true, force: true });
  });

  const startDaemon = async (): Promise<ChildProcess> => {
    const child = spawn(process.execPath, [STATION_JS, 'run', '--config', fx.file], {
      env: { ...process.env, TMPDIR: tmp, STATION_PRINT_READY: '1', NOTIFY_SOCKET: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    procs.push(child);
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));
    await expect.poll(() => /^READY/m.test(out) || child.exitCode !== null, { timeout: 60_000 }).toBe(true);
    expect(child.exitCode, out).toBeNull();
    return child;
  };
  const exited = (c: ChildProcess) => new Promise<void>((r) => (c.exitCode !== null || c.signalCode !== null ? r() : c.once('exit', () => r())));
  const simDirs = () => readdirSync(tmp).filter((n) => n.startsWith('fpsim-'));

  it('SIGKILL of the daemon takes its socat along; the next start removes the pty directory it left', async () => {
    const first = await startDaemon();
    const socats = childrenOf(first.pid!, 'socat');
    expect(socats).toHaveLength(1);
    const left = simDirs();
    expect(left).toHaveLength(1);
    expect(left[0]).toContain(`-${first.pid}-`);

    first.kill('SIGKILL');
    await exited(first);
    await expect.poll(() => dead(socats[0]!), { timeout: 30_000 }).toBe(true);
    expect(existsSync(join(tmp, left[0]!))).toBe(true); // nothing cleaned up after a SIGKILL…

    const second = await startDaemon();
    expect(existsSync(join(tmp, left[0]!))).toBe(false); // …until the next start
    expect(simDirs()).toHaveLength(1);
    second.kill('SIGTERM');
    await exited(second);
    expect(simDirs()).toEqual([]);
  }, 180_000);
});
