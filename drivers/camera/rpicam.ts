import type { Logger } from 'pino';
import { StationError } from '../common/errors';
import { ChildRuns, findExecutable, SerialQueue } from './child';
import type { Camera, CaptureOptions, CaptureResult } from './types';

export interface RpicamOptions {
  logger: Logger;
  timeoutMs: number;
  /** Program to run; default: the first of rpicam-still, libcamera-still found on PATH. */
  binary?: string;
  /** Camera index for boards with two cameras (--camera). */
  cameraIndex?: number;
  width?: number;
  height?: number;
  quality?: number;
  /** Time the camera runs before the still, for exposure and white balance to settle (-t). */
  settleMs?: number;
  /** PATH to search (tests); default process.env.PATH. */
  pathEnv?: string;
  /** Environment for the child (tests). */
  env?: NodeJS.ProcessEnv;
}

const CANDIDATES = ['rpicam-still', 'libcamera-still'];

/**
 * Raspberry Pi camera through rpicam-still (Bookworm and later) or its older name
 * libcamera-still: one process per still, JPEG on stdout (`-o -`).
 */
export class RpicamCamera implements Camera {
  readonly backend = 'rpicam' as const;
  private path: string | null = null;
  private readonly queue = new SerialQueue();
  private readonly children = new ChildRuns();

  constructor(private readonly o: RpicamOptions) {}

  get description(): string {
    return this.path ? `Raspberry Pi camera via ${this.path}` : 'Raspberry Pi camera (rpicam-still / libcamera-still)';
  }

  async open(): Promise<void> {
    const names = this.o.binary ? [this.o.binary] : CANDIDATES;
    for (const n of names) {
      const p = findExecutable(n, this.o.pathEnv ?? process.env.PATH ?? '');
      if (p) {
        this.path = p;
        this.o.logger.info({ binary: p }, 'camera: using Raspberry Pi camera program');
        return;
      }
    }
    throw new StationError('CAM_BINARY_MISSING', `Raspberry Pi camera program not found (looked for ${names.join(', ')} on PATH)`, {
      hint: 'Install rpicam-apps (sudo apt install rpicam-apps), or set camera.backend to v4l2 for a USB camera.',
    });
  }

  async close(): Promise<void> {
    this.children.abortAll();
  }

  private args(width: number, height: number, quality: number, settleMs: number): string[] {
    const a = ['--nopreview', '-t', String(settleMs), '--encoding', 'jpg', '-q', String(quality), '--width', String(width), '--height', String(height)];
    if (this.o.cameraIndex !== undefined) a.push('--camera', String(this.o.cameraIndex));
    a.push('-o', '-');
    return a;
  }

  private async run(args: string[], signal?: AbortSignal): Promise<Buffer> {
    if (!this.path) await this.open();
    return this.children.run({ command: this.path!, args, what: 'rpicam-still', timeoutMs: this.o.timeoutMs, env: this.o.env, logger: this.o.logger }, signal);
  }

  capture(opts: CaptureOptions = {}): Promise<CaptureResult> {
    return this.queue.run(async () => {
      const t0 = Date.now();
      const jpeg = await this.run(this.args(this.o.width ?? 2028, this.o.height ?? 1520, this.o.quality ?? 93, this.o.settleMs ?? 1000), opts.signal);
      return { jpeg, backend: this.backend, durationMs: Date.now() - t0 };
    });
  }

  previewFrame(opts: CaptureOptions = {}): Promise<Buffer> {
    return this.queue.run(() => this.run(this.args(640, 480, 70, 1), opts.signal));
  }
}
