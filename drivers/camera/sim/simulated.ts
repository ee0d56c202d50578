import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { DeviceTimeoutError, StationError } from '../../common/errors';
import { assertJpeg, childFailureError, SerialQueue } from '../child';
import type { Camera, CaptureOptions, CaptureResult, SimCameraControl, SimFault } from '../types';
import { renderScene } from './scene';

export interface SimulatedCameraOptions {
  logger: Logger;
  /** Same meaning as for real cameras: a capture slower than this fails with CAM_TIMEOUT. */
  timeoutMs: number;
  /** Sticky fault from the start (null = good photos). */
  fault?: SimFault | null;
  width?: number;
  height?: number;
  /** How long the 'slow' fault takes (default: twice the timeout, so it times out). */
  slowMs?: number;
}

const WHAT = { what: 'simulated camera' };

/**
 * The in-process simulated camera used by the demo and the tests. Image faults
 * change the rendered scene; process faults (crash, busy, garbage, slow) fail
 * through the same error constructors and checks the child-process backends use.
 */
export class SimulatedCamera implements Camera {
  readonly backend = 'simulated' as const;
  readonly description = 'simulated camera (synthetic portrait scene)';
  readonly sim: SimCameraControl;
  private sticky: SimFault | null;
  private next: SimFault | null | undefined;
  private count = 0;
  private readonly queue = new SerialQueue();
  private closed = false;
  private readonly pending = new Set<() => void>();

  constructor(private readonly o: SimulatedCameraOptions) {
    this.sticky = o.fault ?? null;
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const self = this;
    this.sim = {
      setFault(f) { self.sticky = f; self.o.logger.info({ fault: f }, 'simulated camera: fault set'); },
      setNextFault(f) { self.next = f; self.o.logger.info({ fault: f }, 'simulated camera: next capture fault set'); },
      get fault() { return self.next !== undefined ? self.next : self.sticky; },
      get captures() { return self.count; },
    };
  }

  async open(): Promise<void> {
    this.closed = false;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const cancel of this.pending) cancel();
  }

  capture(opts: CaptureOptions = {}): Promise<CaptureResult> {
    const fault = this.next !== undefined ? this.next : this.sticky;
    this.next = undefined;
    return this.queue.run(async () => {
      const t0 = Date.now();
      const jpeg = await this.produce(fault, this.o.width ?? 1640, this.o.height ?? 1232, 92, opts.signal);
      this.count++;
      return { jpeg, backend: this.backend, durationMs: Date.now() - t0 };
    });
  }

  previewFrame(opts: CaptureOptions = {}): Promise<Buffer> {
    return this.queue.run(() => this.produce(this.sticky, 640, 480, 75, opts.signal));
  }

  private async produce(fault: SimFault | null, width: number, height: number, quality: number, signal?: AbortSignal): Promise<Buffer> {
    if (this.closed) throw new StationError('CAM_CLOSED', 'simulated camera is closed', { hint: 'Open the camera before capturing.' });
    switch (fault) {
      case 'slow':
        await this.wait(this.o.slowMs ?? this.o.timeoutMs * 2, signal);
        break;
      case 'child-crash':
        throw childFailureError(WHAT, null, 'SIGSEGV', 'simulated camera process crashed');
      case 'busy':
        throw childFailureError(WHAT, 255, null, 'ERROR: failed to acquire camera: Device or resource busy');
      case 'garbage':
        assertJpeg(Buffer.concat([Buffer.from('ERROR: frame dropped\n'), randomBytes(2000)]), WHAT);
        break;
      default:
        break;
    }
    return renderScene({ width, height, quality, fault, seed: this.count + 1 });
  }

  /** Waits like a slow camera: the capture timeout (or an abort, or close()) ends it with an error. */
  private wait(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let done = false;
      const end = (err?: Error): void => {
        if (done) return;
        done = true;
        clearTimeout(slow);
        clearTimeout(limit);
        signal?.removeEventListener('abort', onAbort);
        this.pending.delete(cancel);
        if (err) reject(err);
        else resolve();
      };
      const slow = setTimeout(() => end(), ms);
      const limit = setTimeout(
        () => end(new DeviceTimeoutError('CAM_TIMEOUT', `simulated camera did not deliver a picture within ${this.o.timeoutMs} ms`, { hint: 'The camera hung and was stopped. Retry the capture.' })),
        this.o.timeoutMs,
      );
      const onAbort = (): void => end(new StationError('CAM_ABORTED', 'simulated camera: capture cancelled'));
      const cancel = (): void => end(new StationError('CAM_CLOSED', 'simulated camera was closed during a capture'));
      signal?.addEventListener('abort', onAbort, { once: true });
      this.pending.add(cancel);
    });
  }
}
