import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import type { Logger } from 'pino';
import { StationError } from '../common/errors';
import { ChildRuns, findExecutable, SerialQueue } from './child';
import type { Camera, CaptureOptions, CaptureResult } from './types';

export type V4l2Tool = 'ffmpeg' | 'fswebcam';

export interface V4l2Options {
  logger: Logger;
  timeoutMs: number;
  device?: string;
  /** Which grabber to use; default: ffmpeg when installed, else fswebcam. */
  tool?: V4l2Tool;
  /** Explicit program path (the tool is then taken from its name unless `tool` is set). */
  binary?: string;
  width?: number;
  height?: number;
  /** Frames thrown away first: UVC cameras need a few to settle exposure. */
  warmupFrames?: number;
  pathEnv?: string;
  env?: NodeJS.ProcessEnv;
}

/** USB (UVC) camera through V4L2, grabbed by ffmpeg or fswebcam as a child process. */
export class V4l2Camera implements Camera {
  readonly backend = 'v4l2' as const;
  private path: string | null = null;
  private tool: V4l2Tool | null = null;
  private readonly queue = new SerialQueue();
  private readonly children = new ChildRuns();
  private readonly device: string;

  constructor(private readonly o: V4l2Options) {
    this.device = o.device ?? '/dev/video0';
  }

  get description(): string {
    return `USB camera ${this.device}${this.tool ? ` via ${this.tool}` : ''}`;
  }

  private async checkDevice(): Promise<void> {
    try {
      await stat(this.device);
    } catch {
      throw new StationError('CAM_NOT_FOUND', `USB camera ${this.device} not found`, {
        hint: 'Plug the camera in (or check camera.device; `v4l2-ctl --list-devices` lists cameras), then retry.',
        details: { device: this.device },
      });
    }
  }

  async open(): Promise<void> {
    await this.checkDevice();
    const pathEnv = this.o.pathEnv ?? process.env.PATH ?? '';
    const tries: [V4l2Tool, string][] = this.o.binary
      ? [[this.o.tool ?? (basename(this.o.binary).includes('fswebcam') ? 'fswebcam' : 'ffmpeg'), this.o.binary]]
      : this.o.tool
        ? [[this.o.tool, this.o.tool]]
        : [['ffmpeg', 'ffmpeg'], ['fswebcam', 'fswebcam']];
    for (const [tool, name] of tries) {
      const p = findExecutable(name, pathEnv);
      if (p) {
        this.path = p;
        this.tool = tool;
        this.o.logger.info({ tool, binary: p, device: this.device }, 'camera: using USB camera grabber');
        return;
      }
    }
    throw new StationError('CAM_BINARY_MISSING', `no USB camera grabber found (looked for ${tries.map((t) => t[1]).join(', ')} on PATH)`, {
      hint: 'Install ffmpeg or fswebcam (sudo apt install ffmpeg).',
    });
  }

  async close(): Promise<void> {
    this.children.abortAll();
  }

  private args(width: number, height: number, warmup: number): string[] {
    const size = `${width}x${height}`;
    if (this.tool === 'fswebcam') {
      return ['-q', '-d', this.device, '-r', size, '--no-banner', '--skip', String(warmup), '--jpeg', '95', '-'];
    }
    const a = ['-hide_banner', '-loglevel', 'error', '-f', 'v4l2', '-video_size', size, '-i', this.device];
    if (warmup > 0) a.push('-vf', `select=gte(n\\,${warmup})`);
    a.push('-frames:v', '1', '-q:v', '2', '-f', 'image2pipe', '-c:v', 'mjpeg', '-');
    return a;
  }

  private async run(args: () => string[], signal?: AbortSignal): Promise<Buffer> {
    if (!this.path) await this.open();
    else await this.checkDevice();
    return this.children.run({ command: this.path!, args: args(), what: this.tool!, device: this.device, timeoutMs: this.o.timeoutMs, env: this.o.env, logger: this.o.logger }, signal);
  }

  capture(opts: CaptureOptions = {}): Promise<CaptureResult> {
    return this.queue.run(async () => {
      const t0 = Date.now();
      const jpeg = await this.run(() => this.args(this.o.width ?? 1920, this.o.height ?? 1080, this.o.warmupFrames ?? 10), opts.signal);
      return { jpeg, backend: this.backend, durationMs: Date.now() - t0 };
    });
  }

  previewFrame(opts: CaptureOptions = {}): Promise<Buffer> {
    return this.queue.run(() => this.run(() => this.args(640, 480, 0), opts.signal));
  }
}
