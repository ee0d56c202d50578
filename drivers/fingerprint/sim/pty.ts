/**
 * A pseudo-terminal pair made by socat: the simulator opens one end, the host (driver, CLI,
 * daemon) opens the other through node-serialport like any serial device. Killing socat closes
 * both ends: to the host that is a real disconnect (writes fail with EIO, the path vanishes).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { StationError } from '../../common/errors';
import { dieWithParent, findExecutable } from '../../common/child-guard';

export interface PtyPair {
  devicePath: string;
  hostPath: string;
  pid: number;
  close(): Promise<void>;
}

export async function openPtyPair(devicePath: string, hostPath: string, timeoutMs = 10000): Promise<PtyPair> {
  const socat = findExecutable('socat');
  if (!socat) throw new StationError('FP_SOCAT_MISSING', 'the fingerprint simulator needs socat, which is not installed', { hint: 'install the Debian package: sudo apt-get install socat' });
  // Killed by the kernel with its parent: a daemon ended by SIGKILL leaves no socat behind.
  const run = dieWithParent(socat, ['-d', '-d', `pty,raw,echo=0,link=${devicePath}`, `pty,raw,echo=0,link=${hostPath}`]);
  const child: ChildProcess = spawn(run.command, run.args, {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  let exited = false;
  const exitP = new Promise<void>((resolve) => child.once('exit', () => {
    exited = true;
    resolve();
  }));
  let ready = false;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGTERM');
      reject(new StationError('FP_SIM_PTY', `socat did not create the pseudo-terminals within ${timeoutMs} ms`, { hint: stderr.trim().split('\n').pop() }));
    }, timeoutMs);
    child.once('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(e.code === 'ENOENT'
        ? new StationError('FP_SOCAT_MISSING', 'the fingerprint simulator needs socat, which is not installed', { hint: 'install the Debian package: sudo apt-get install socat' })
        : new StationError('FP_SIM_PTY', `cannot start socat: ${e.message}`, { cause: e }));
    });
    child.once('exit', (code) => {
      if (ready) return;
      clearTimeout(timer);
      reject(new StationError('FP_SIM_PTY', `socat exited (code ${code}) before the pseudo-terminals were ready`, { hint: stderr.trim().split('\n').pop() }));
    });
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (stderr.length > 8192) stderr = stderr.slice(-4096);
      if (stderr.includes('starting data transfer loop') && existsSync(devicePath) && existsSync(hostPath)) {
        clearTimeout(timer);
        ready = true;
        resolve();
      }
    });
  });
  child.stderr?.resume();
  return {
    devicePath,
    hostPath,
    pid: child.pid ?? -1,
    async close() {
      if (exited) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exitP;
      clearTimeout(t);
    },
  };
}
