/**
 * sd_notify's watchdog period on fake timers: WATCHDOG_USEC / 2, as systemd asks,
 * so a watchdog of 1 s gets a ping every 500 ms; none for another process's
 * WATCHDOG_PID, none without NOTIFY_SOCKET. The messages go to a stand-in for
 * systemd-notify (SYSTEMD_NOTIFY_BIN), and execFile is not run by fake timers,
 * so the test counts the calls the timer makes.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { nullLogger } from '../../station/log';
import { SystemdNotifier } from '../../station/notify';

afterEach(() => { vi.useRealTimers(); vi.restoreAllMocks(); });

function notifier(env: NodeJS.ProcessEnv): { n: SystemdNotifier; sent: string[][] } {
  const n = new SystemdNotifier(nullLogger(), env);
  const sent: string[][] = [];
  vi.spyOn(n, 'send').mockImplementation(async (...a: string[]) => { sent.push(a); });
  return { n, sent };
}

describe('systemd watchdog pings', () => {
  it('pings every WATCHDOG_USEC / 2 after READY, and stops at STOPPING', async () => {
    vi.useFakeTimers();
    const { n, sent } = notifier({ NOTIFY_SOCKET: '/run/x', WATCHDOG_USEC: '1000000' });
    await n.ready();
    const pings = () => sent.filter((a) => a[0] === 'WATCHDOG=1').length;
    vi.advanceTimersByTime(499);
    expect(pings()).toBe(0);
    vi.advanceTimersByTime(1);
    expect(pings()).toBe(1);
    vi.advanceTimersByTime(2000);
    expect(pings()).toBe(5);
    await n.stopping();
    vi.advanceTimersByTime(5000);
    expect(pings()).toBe(5);
  });

  it('does not ping for another process (WATCHDOG_PID) or without NOTIFY_SOCKET', async () => {
    vi.useFakeTimers();
    const other = notifier({ NOTIFY_SOCKET: '/run/x', WATCHDOG_USEC: '1000000', WATCHDOG_PID: String(process.pid + 1) });
    await other.n.ready();
    vi.advanceTimersByTime(5000);
    expect(other.sent.filter((a) => a[0] === 'WATCHDOG=1')).toHaveLength(0);
    expect(new SystemdNotifier(nullLogger(), { WATCHDOG_USEC: '1000000' }).watchdogUsec).toBe(0);
  });
});
