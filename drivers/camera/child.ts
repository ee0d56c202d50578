import { spawn } from 'node:child_process';
import { accessSync, constants as fsConstants } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';
import type { Logger } from 'pino';
import { DeviceTimeoutError, StationError } from '../common/errors';

/**
 * Running a capture tool (rpicam-still, ffmpeg, fswebcam, the fake camera) as a
 * child process that writes one JPEG to stdout. Every way it can go wrong ends in
 * a StationError naming the tool and, where known, the device — and never in a
 * hang: the timeout kills the whole process group.
 */
export interface ChildRunOptions {
  command: string;
  args: string[];
  /** Name shown in errors, e.g. "rpicam-still". */
  what: string;
  /** Device the tool reads, when there is one (shown in errors). */
  device?: string;
  timeoutMs: number;
  /** More stdout than this is refused (a runaway tool must not eat the RAM). */
  maxOutputBytes?: number;
  signal?: AbortSignal;
  env?: NodeJS.ProcessEnv;
  logger?: Logger;
}

const STDERR_KEEP = 4096;
const DEFAULT_MAX_OUTPUT = 64 * 1024 * 1024;

function where(o: { what: string; device?: string }): string {
  return o.device ? `${o.what} on ${o.device}` : o.what;
}

/** Last meaningful stderr line, trimmed for a message. */
function lastLine(stderr: string): string {
  const lines = stderr.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
  const line = lines[lines.length - 1] ?? '';
  return line.length > 200 ? `${line.slice(0, 200)}…` : line;
}

/** The error for a capture tool that ended without a picture (exit code or signal). */
export function childFailureError(o: { what: string; device?: string }, code: number | null, signal: NodeJS.Signals | null, stderr: string): StationError {
  const tail = lastLine(stderr);
  const details = { exitCode: code, signal, stderr: tail };
  if (/busy|in use|failed to acquire|resource temporarily unavailable/i.test(stderr)) {
    return new StationError('CAM_BUSY', `${where(o)} is busy: ${tail || 'the camera is in use'}`, {
      hint: 'Another program is using the camera (a preview, a second station process). Close it and retry.',
      details,
    });
  }
  if (/no cameras? (available|found|detected)|no such (file|device)|cannot open|could not open|not found/i.test(stderr)) {
    return new StationError('CAM_NOT_FOUND', `${where(o)}: no camera found${tail ? ` (${tail})` : ''}`, {
      hint: 'Check the camera cable or USB plug and that the camera is enabled, then retry.',
      details,
    });
  }
  const how = signal ? `crashed (signal ${signal})` : `exited with code ${code}`;
  return new StationError('CAM_CAPTURE_FAILED', `${where(o)} ${how} without a picture${tail ? `: ${tail}` : ''}`, {
    hint: 'Retry the capture; if it keeps failing, reconnect the camera or restart the station.',
    details,
  });
}

/**
 * A picture must look like a JPEG: SOI marker at the start, EOI marker at the
 * end (a few bytes of padding after EOI are tolerated), and a sane size.
 */
export function assertJpeg(buf: Buffer, o: { what: string; device?: string }): Buffer {
  const okStart = buf.length >= 128 && buf[0] === 0xff && buf[1] === 0xd8 && buf[2] === 0xff;
  let okEnd = false;
  for (let i = buf.length - 2; i >= Math.max(0, buf.length - 64); i--) {
    if (buf[i] === 0xff && buf[i + 1] === 0xd9) {
      okEnd = true;
      break;
    }
  }
  if (!okStart || !okEnd) {
    const what = buf.length === 0 ? 'no data' : `${buf.length} bytes that are not a complete JPEG picture`;
    throw new StationError('CAM_GARBAGE', `${where(o)} returned ${what}`, {
      hint: 'Retry the capture; if it keeps happening, reconnect the camera (a loose cable corrupts frames).',
      details: { bytes: buf.length, head: buf.subarray(0, 8).toString('hex') },
    });
  }
  return buf;
}

/** Finds an executable on PATH (or checks an explicit path). Returns null when absent. */
export function findExecutable(name: string, pathEnv = process.env.PATH ?? ''): string | null {
  const candidates = isAbsolute(name) || name.includes('/') ? [name] : pathEnv.split(delimiter).filter(Boolean).map((d) => join(d, name));
  for (const c of candidates) {
    try {
      accessSync(c, fsConstants.X_OK);
      return c;
    } catch {
      /* next */
    }
  }
  return null;
}

function killGroup(pid: number | undefined, fallback: () => void): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    try {
      fallback();
    } catch {
      /* already gone */
    }
  }
}

/** Runs the tool, returns its stdout once it exited with code 0. */
export function runChild(o: ChildRunOptions): Promise<Buffer> {
  const max = o.maxOutputBytes ?? DEFAULT_MAX_OUTPUT;
  return new Promise<Buffer>((resolve, reject) => {
    if (o.signal?.aborted) {
      reject(new StationError('CAM_ABORTED', `${where(o)}: capture cancelled`));
      return;
    }
    const started = Date.now();
    // Own process group, so a timeout also kills grandchildren (a shell wrapper, a helper).
    const child = spawn(o.command, o.args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: o.env ?? process.env });
    const chunks: Buffer[] = [];
    let bytes = 0;
    let stderr = '';
    let settled = false;

    const finish = (err: Error | null, out?: Buffer): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', onAbort);
      if (err) {
        killGroup(child.pid, () => child.kill('SIGKILL'));
        child.stdout?.destroy();
        child.stderr?.destroy();
        o.logger?.warn({ what: o.what, device: o.device, code: (err as StationError).code, ms: Date.now() - started }, 'camera child process failed');
        reject(err);
      } else {
        o.logger?.debug({ what: o.what, device: o.device, bytes: out!.length, ms: Date.now() - started }, 'camera child process delivered');
        resolve(out!);
      }
    };

    const timer = setTimeout(() => {
      finish(
        new DeviceTimeoutError('CAM_TIMEOUT', `${where(o)} did not deliver a picture within ${o.timeoutMs} ms`, {
          hint: 'The camera hung and was stopped. Retry; if it keeps happening, reconnect the camera or restart the station.',
        }),
      );
    }, o.timeoutMs);

    const onAbort = (): void => finish(new StationError('CAM_ABORTED', `${where(o)}: capture cancelled`));
    o.signal?.addEventListener('abort', onAbort, { once: true });

    child.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') {
        finish(
          new StationError('CAM_BINARY_MISSING', `${o.what}: program "${o.command}" not found`, {
            hint: 'Install the camera tools (rpicam-apps for the Pi camera, ffmpeg or fswebcam for USB cameras) or fix camera.binary in the configuration.',
            cause: e,
          }),
        );
      } else if (e.code === 'EACCES') {
        finish(new StationError('CAM_BINARY_NOT_EXECUTABLE', `${o.what}: "${o.command}" is not executable`, { hint: 'Check the file permissions of the camera program.', cause: e }));
      } else {
        finish(new StationError('CAM_CAPTURE_FAILED', `${where(o)}: could not start "${o.command}": ${e.message}`, { cause: e }));
      }
    });
    child.stdout!.on('data', (c: Buffer) => {
      bytes += c.length;
      if (bytes > max) {
        finish(new StationError('CAM_GARBAGE', `${where(o)} wrote more than ${max} bytes; that is not one picture`, { hint: 'Check the camera program and its arguments.' }));
        return;
      }
      chunks.push(c);
    });
    child.stderr!.on('data', (c: Buffer) => {
      stderr = (stderr + c.toString('utf8')).slice(-STDERR_KEEP);
    });
    // 'close' comes after exit AND after stdout/stderr ended, so no output is lost.
    child.on('close', (code, signal) => {
      if (code === 0) {
        try {
          finish(null, assertJpeg(Buffer.concat(chunks, bytes), o));
        } catch (e) {
          finish(e as Error);
        }
      } else {
        finish(childFailureError(o, code, signal, stderr));
      }
    });
  });
}

/** Runs async jobs one at a time (one capture in flight per camera). */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(job: () => Promise<T>): Promise<T> {
    const next = this.tail.then(job, job);
    this.tail = next.catch(() => undefined);
    return next;
  }
}

/**
 * The capture programs a camera backend has running: each run follows the caller's abort signal,
 * and close() aborts them all (their process groups are killed by runChild).
 */
export class ChildRuns {
  private readonly running = new Set<AbortController>();

  async run(o: Omit<ChildRunOptions, 'signal'>, signal?: AbortSignal): Promise<Buffer> {
    const ac = new AbortController();
    const onAbort = (): void => ac.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    if (signal?.aborted) ac.abort();
    this.running.add(ac);
    try {
      return await runChild({ ...o, signal: ac.signal });
    } finally {
      this.running.delete(ac);
      signal?.removeEventListener('abort', onAbort);
    }
  }

  abortAll(): void {
    for (const a of this.running) a.abort();
  }
}
