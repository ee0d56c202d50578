/**
 * The compiled daemon as systemd runs it: sd_notify READY/WATCHDOG/STOPPING over a
 * real AF_UNIX datagram socket (python3 listens, since Node cannot), a real
 * Mosquitto for the "online"/"offline" status, SIGTERM for a graceful stop, and a
 * corrupt vault for a refused start.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto';
import { runCli, STATION_JS, hasStackTrace } from '../helpers/cli';
import { provisionedStation } from '../helpers/station';

const LISTENER = `
import socket, sys, os
path = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
print("LISTENING", flush=True)
while True:
    data = s.recv(65536)
    print(data.decode().replace("\\n", " | "), flush=True)
`;

interface Listener {
  path: string;
  messages: string[];
  proc: ChildProcess;
  waitFor(re: RegExp, timeoutMs?: number): Promise<string>;
}

async function notifyListener(dir: string): Promise<Listener> {
  const path = join(dir, 'notify.sock');
  const script = join(dir, 'listener.py');
  writeFileSync(script, LISTENER);
  const proc = spawn('python3', [script, path], { stdio: ['ignore', 'pipe', 'inherit'] });
  const messages: string[] = [];
  let buf = '';
  const waiters: Array<() => void> = [];
  proc.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    const lines = buf.split('\n');
    buf = lines.pop()!;
    messages.push(...lines);
    waiters.splice(0).forEach((w) => w());
  });
  const l: Listener = {
    path,
    messages,
    proc,
    waitFor: (re, timeoutMs = 20_000) =>
      new Promise((resolve, reject) => {
        const deadline = Date.now() + timeoutMs;
        const check = () => {
          const m = messages.find((x) => re.test(x));
          if (m) return resolve(m);
          if (Date.now() > deadline) return reject(new Error(`no notify message matching ${re}; got: ${messages.join(' / ')}`));
          waiters.push(check);
          setTimeout(() => {
            const i = waiters.indexOf(check);
            if (i >= 0) waiters.splice(i, 1);
            check();
          }, 200);
        };
        check();
      }),
  };
  await l.waitFor(/LISTENING/);
  return l;
}

function exitOf(child: ChildProcess, timeoutMs = 30_000): Promise<number | null> {
  return new Promise((resolve, reject) => {
    if (child.exitCode !== null) return resolve(child.exitCode);
    const t = setTimeout(() => reject(new Error('daemon did not exit')), timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(t);
      resolve(code);
    });
  });
}

describe('station daemon lifecycle', () => {
  let broker: Mosquitto;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    broker = await startMosquitto();
  });
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    await broker?.dispose();
  });

  it('notifies READY, pings the watchdog, announces online; on SIGTERM says STOPPING, publishes offline and exits 0', async () => {
    const { dir, file: cfg } = await provisionedStation({ stationId: 'ST-DAEMON-1', brokerUrl: broker.url });
    const listener = await notifyListener(dir);
    children.push(listener.proc);
    const statuses: string[] = [];
    const watcher = mqtt.connect(broker.url, { protocolVersion: 5 });
    watcher.on('message', (_t, p) => statuses.push(p.toString()));
    await new Promise<void>((r) => watcher.on('connect', () => watcher.subscribe('enroll/v1/st/ST-DAEMON-1/status', () => r())));

    let out = '';
    const child = spawn(process.execPath, [STATION_JS, 'run', '--config', cfg], {
      env: { ...process.env, NOTIFY_SOCKET: listener.path, WATCHDOG_USEC: '1000000' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));

    const ready = await listener.waitFor(/READY=1/);
    expect(ready).toContain(`MAINPID=${child.pid}`);
    await listener.waitFor(/WATCHDOG=1/, 5000);
    // status "online" (retained) reaches ops
    await expect.poll(() => statuses.some((s) => /"state":"online"/.test(s)), { timeout: 15_000 }).toBe(true);
    const watchdogs = () => listener.messages.filter((m) => /WATCHDOG=1/.test(m)).length;
    // the pings keep coming (their period, WATCHDOG_USEC / 2, is checked on fake timers in notify.test.ts)
    const w0 = watchdogs();
    await expect.poll(() => watchdogs(), { timeout: 30_000, interval: 100 }).toBeGreaterThanOrEqual(w0 + 3);

    child.kill('SIGTERM');
    const code = await exitOf(child);
    expect(code, out).toBe(0);
    await listener.waitFor(/STOPPING=1/, 5000);
    await expect.poll(() => statuses.some((s) => /"state":"offline"/.test(s)), { timeout: 10_000 }).toBe(true);
    expect(out).toMatch(/station stopped/);
    // the private key never appears in logs
    const keyBody = readFileSync(join(dir, 'data', 'keys', 'station-ed25519.key'), 'utf8').split('\n')[1];
    expect(out).not.toContain(keyBody);
    watcher.end(true);
    listener.proc.kill();
  });

  it('without NOTIFY_SOCKET sends nothing (no systemd-notify is spawned)', async () => {
    const { dir, file: cfg } = await provisionedStation({ stationId: 'ST-DAEMON-1', brokerUrl: broker.url });
    const marker = join(dir, 'notify-called');
    const fake = join(dir, 'fake-notify.sh');
    writeFileSync(fake, `#!/bin/sh\necho "$@" >> ${marker}\n`);
    chmodSync(fake, 0o755);
    const env: NodeJS.ProcessEnv = { ...process.env, SYSTEMD_NOTIFY_BIN: fake, STATION_PRINT_READY: '1' };
    delete env.NOTIFY_SOCKET;
    const child = spawn(process.execPath, [STATION_JS, 'run', '--config', cfg], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    await expect.poll(() => /^READY/m.test(out), { timeout: 20_000 }).toBe(true);
    child.kill('SIGINT');
    expect(await exitOf(child)).toBe(0);
    expect(existsSync(marker)).toBe(false);
    // and with NOTIFY_SOCKET the same fake binary is called: the check above can fail
    const child2 = spawn(process.execPath, [STATION_JS, 'run', '--config', cfg], { env: { ...env, NOTIFY_SOCKET: join(dir, 'nowhere.sock') }, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child2);
    let out2 = '';
    child2.stdout!.on('data', (d) => (out2 += d));
    await expect.poll(() => /^READY/m.test(out2), { timeout: 20_000 }).toBe(true);
    await expect.poll(() => existsSync(marker), { timeout: 5000 }).toBe(true);
    child2.kill('SIGTERM');
    expect(await exitOf(child2)).toBe(0);
    expect(readFileSync(marker, 'utf8')).toMatch(/READY=1[\s\S]*STOPPING=1/);
  });

  it('refuses to start on a corrupt vault: exit 1, says so, leaves the file untouched', async () => {
    const { dir, file: cfg } = await provisionedStation({ stationId: 'ST-DAEMON-1', brokerUrl: 'mqtt://127.0.0.1:9' });
    mkdirSync(join(dir, 'data', 'vault'), { recursive: true, mode: 0o700 });
    const db = join(dir, 'data', 'vault', 'vault.db');
    const garbage = Buffer.from('this is not an sqlite database, but records may be inside'.repeat(100));
    writeFileSync(db, garbage, { mode: 0o600 });
    const r = await runCli(['run', '--config', cfg], { timeoutMs: 30_000 });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/vault database .*vault\.db is damaged/);
    expect(hasStackTrace(r.stderr)).toBe(false);
    expect(readFileSync(db).equals(garbage)).toBe(true);
  });
});
