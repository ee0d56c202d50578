/**
 * sd_notify for Type=notify units. Node cannot open AF_UNIX datagram sockets, so
 * messages go through systemd's own `systemd-notify` helper with --pid set to
 * this process (the unit uses NotifyAccess=all so systemd accepts it).
 * Without NOTIFY_SOCKET nothing is sent and no process is spawned.
 */
import { execFile } from 'node:child_process';
import type { Logger } from 'pino';

export class SystemdNotifier {
  private watchdogTimer: NodeJS.Timeout | undefined;
  private readonly socket: string | undefined;
  private readonly binary: string;

  constructor(private readonly log: Logger, env: NodeJS.ProcessEnv = process.env) {
    this.socket = env.NOTIFY_SOCKET || undefined;
    this.binary = env.SYSTEMD_NOTIFY_BIN || 'systemd-notify';
    const usec = Number(env.WATCHDOG_USEC);
    const pid = env.WATCHDOG_PID ? Number(env.WATCHDOG_PID) : process.pid;
    this.watchdogUsec = this.socket && Number.isFinite(usec) && usec > 0 && pid === process.pid ? usec : 0;
  }

  readonly watchdogUsec: number;

  get enabled(): boolean {
    return this.socket !== undefined;
  }

  send(...assignments: string[]): Promise<void> {
    if (!this.socket) return Promise.resolve();
    return new Promise((resolve) => {
      execFile(this.binary, [`--pid=${process.pid}`, ...assignments], { timeout: 5000 }, (err) => {
        if (err) this.log.warn({ err: err.message, assignments }, 'sd_notify failed (is systemd-notify installed?)');
        resolve();
      });
    });
  }

  async ready(status?: string): Promise<void> {
    await this.send('READY=1', ...(status ? [`STATUS=${status}`] : []));
    if (this.watchdogUsec > 0 && !this.watchdogTimer) {
      const everyMs = Math.max(100, Math.floor(this.watchdogUsec / 2000));
      this.watchdogTimer = setInterval(() => void this.send('WATCHDOG=1'), everyMs);
      this.watchdogTimer.unref();
      this.log.debug({ everyMs }, 'systemd watchdog pings enabled');
    }
  }

  async stopping(): Promise<void> {
    if (this.watchdogTimer) clearInterval(this.watchdogTimer);
    this.watchdogTimer = undefined;
    await this.send('STOPPING=1');
  }

  status(text: string): Promise<void> {
    return this.send(`STATUS=${text}`);
  }
}
