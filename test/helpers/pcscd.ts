/**
 * Test harness for a real pcscd with the vpcd driver. pcscd is a singleton on
 * the machine and vpcd binds fixed ports, so every test that needs it lives in
 * one test file (test/card/pcsc.test.ts) and the bench starts its own.
 *
 * A pcscd already running (a system one, maybe socket-activated by systemd) is
 * stopped first: we need to kill and restart pcscd at will.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import type { EmulatedEmrtd } from '../../drivers/card/emulator/card';
import { VpcdCardClient } from '../../drivers/card/emulator/vpcd';

export const VPCD_PORT = 35963;
const COMM_SOCKET = '/run/pcscd/pcscd.comm';

/** Is there a TCP socket in LISTEN state on `port` (IPv4 or IPv6)? Reads /proc, never connects (vpcd would take that as a card). */
export function isListening(port: number): boolean {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try { text = readFileSync(f, 'utf8'); } catch { continue; }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length > 3 && cols[1]!.endsWith(`:${hex}`) && cols[3] === '0A') return true;
    }
  }
  return false;
}

/** PIDs of running pcscd processes (by /proc/PID/comm). */
export function pcscdPids(): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try { if (readFileSync(`/proc/${d}/comm`, 'utf8').trim() === 'pcscd') out.push(Number(d)); } catch { /* gone */ }
  }
  return out;
}

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch { return false; }
}

async function until(what: string, cond: () => boolean, timeoutMs: number): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

let systemdStopped = false;

/**
 * Stops a pcscd we did not start: the systemd units first (with socket
 * activation systemd holds /run/pcscd/pcscd.comm and would start its own pcscd
 * on the next client), then any remaining pcscd process by signal.
 */
export async function stopForeignPcscd(): Promise<void> {
  if (!systemdStopped && existsSync('/run/systemd/system')) {
    spawnSync('systemctl', ['stop', 'pcscd.socket', 'pcscd.service'], { stdio: 'ignore', timeout: 20_000 });
    systemdStopped = true;
  }
  const pids = pcscdPids();
  for (const p of pids) { try { process.kill(p, 'SIGTERM'); } catch { /* gone */ } }
  try {
    await until('foreign pcscd to exit', () => pids.every((p) => !alive(p)), 10_000);
  } catch {
    for (const p of pids) { try { process.kill(p, 'SIGKILL'); } catch { /* gone */ } }
    await until('foreign pcscd to die', () => pids.every((p) => !alive(p)), 5_000);
  }
  await until('vpcd port to close', () => !isListening(VPCD_PORT), 10_000);
}

/** Does process `pid` hold the listening Unix socket /run/pcscd/pcscd.comm (so clients reach it, not a stale file)? */
export function ownsCommSocket(pid: number): boolean {
  let unix: string;
  try { unix = readFileSync('/proc/net/unix', 'utf8'); } catch { return false; }
  const inodes = new Set<string>();
  for (const line of unix.split('\n').slice(1)) {
    const cols = line.trim().split(/\s+/);
    if (cols.length >= 8 && cols[7] === COMM_SOCKET) inodes.add(cols[6]!);
  }
  if (inodes.size === 0) return false;
  let fds: string[];
  try { fds = readdirSync(`/proc/${pid}/fd`); } catch { return false; }
  for (const fd of fds) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m && inodes.has(m[1]!)) return true;
    } catch { /* fd closed meanwhile */ }
  }
  return false;
}

/**
 * pcscd and vpcd's port are one per machine, but several checkouts of this
 * repository (or a test run beside `npm run bench -- card`) may want them at
 * once. A machine-wide lock, `flock` on a file, serialises them: a `flock`
 * child holds it until it is killed or our process dies (its stdin closes).
 */
const MACHINE_LOCK = '/tmp/enroll-station-pcscd.lock';

async function acquireMachineLock(timeoutMs: number): Promise<ChildProcess> {
  const holder = spawn('flock', ['-x', '-w', String(Math.ceil(timeoutMs / 1000)), MACHINE_LOCK, '-c', 'echo locked; exec cat >/dev/null'],
    { stdio: ['pipe', 'pipe', 'pipe'] });
  let err = '';
  holder.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  await new Promise<void>((resolve, reject) => {
    holder.stdout!.once('data', () => resolve());
    holder.once('exit', (code) => reject(new Error(`could not take the machine-wide pcscd lock ${MACHINE_LOCK} within ${timeoutMs} ms (another test run or benchmark holds it; flock exit ${code}) ${err}`)));
    holder.once('error', reject);
  });
  holder.unref();
  (holder.stdout as unknown as { unref?: () => void }).unref?.();
  (holder.stdin as unknown as { unref?: () => void }).unref?.();
  (holder.stderr as unknown as { unref?: () => void }).unref?.();
  return holder;
}

export class PcscdProcess {
  private child?: ChildProcess;
  private exited?: Promise<void>;
  private lock?: ChildProcess;
  log = '';

  get pid(): number | undefined { return this.child?.pid; }
  get running(): boolean { return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null; }

  /** Starts `pcscd --foreground` and waits until vpcd listens and the client socket exists. */
  async start(timeoutMs = 20_000, lockTimeoutMs = 15 * 60_000): Promise<void> {
    if (this.running) return;
    this.lock ??= await acquireMachineLock(lockTimeoutMs);
    await stopForeignPcscd();
    const child = spawn('pcscd', ['--foreground'], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.log = '';
    const keep = (d: Buffer) => { this.log = (this.log + d.toString()).slice(-20_000); };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    this.exited = new Promise((r) => child.once('exit', () => r()));
    try {
      await until('pcscd to start (vpcd LISTEN on 35963 and our pcscd on /run/pcscd/pcscd.comm)', () => {
        if (!this.running) throw new Error(`pcscd exited at start: ${this.log}`);
        return isListening(VPCD_PORT) && ownsCommSocket(child.pid!);
      }, timeoutMs);
    } catch (e) {
      await this.stop();
      throw e;
    }
  }

  /**
   * Stops pcscd (SIGTERM, or SIGKILL to make it vanish) and waits until vpcd's
   * port is closed; then gives up the machine-wide lock unless `keepLock` (a
   * test that restarts pcscd on purpose keeps it, so nobody else's pcscd runs in between).
   */
  async stop(signal: NodeJS.Signals = 'SIGTERM', opts: { keepLock?: boolean } = {}): Promise<void> {
    const child = this.child;
    if (child) {
      if (this.running) child.kill(signal);
      const timer = setTimeout(() => { if (this.running) child.kill('SIGKILL'); }, 10_000);
      await this.exited;
      clearTimeout(timer);
      this.child = undefined;
      await until('vpcd port to close', () => !isListening(VPCD_PORT), 10_000);
    }
    if (!opts.keepLock && this.lock) { this.lock.kill('SIGKILL'); this.lock = undefined; }
  }

  async restart(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    await this.stop(signal, { keepLock: true });
    await this.start();
  }
}

/** What insertCard/removeCard need of a reader driver: its insert/remove events. */
interface ReaderEvents {
  on(event: 'card-inserted' | 'card-removed', fn: (e: { reader: string }) => void): unknown;
  off(event: 'card-inserted' | 'card-removed', fn: (e: { reader: string }) => void): unknown;
}

/** Resolves at the driver's next `event` for `reader` (subscribed before the action that causes it). */
function nextReaderEvent(driver: ReaderEvents, event: 'card-inserted' | 'card-removed', reader: string): Promise<void> {
  return new Promise<void>((resolve) => {
    const on = (e: { reader: string }) => { if (e.reader === reader) { driver.off(event, on); resolve(); } };
    driver.on(event, on);
  });
}

/**
 * Puts an emulated chip on the vpcd reader and resolves once the driver has seen it arrive, so
 * a read that follows finds the card (pcscd reports the insertion asynchronously).
 */
export async function insertCard(driver: ReaderEvents, reader: string, chip: EmulatedEmrtd): Promise<VpcdCardClient> {
  const client = new VpcdCardClient(chip);
  const seen = nextReaderEvent(driver, 'card-inserted', reader);
  await client.insert();
  await seen;
  return client;
}

/** Lifts the card and resolves once the driver has seen it go. */
export async function removeCard(driver: ReaderEvents, reader: string, client: { remove(): Promise<void> }): Promise<void> {
  const gone = nextReaderEvent(driver, 'card-removed', reader);
  await client.remove();
  await gone;
}
