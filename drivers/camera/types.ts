/**
 * The camera contract every backend speaks: a still JPEG on demand and small
 * preview frames for the kiosk. Constructors do no I/O; `open()` checks that the
 * camera (binary, device) is there, `close()` stops anything still running.
 */
export type CameraBackend = 'simulated' | 'rpicam' | 'v4l2';

/** Fault modes of the simulated camera (and of the fake child-process binary). */
export const SIM_FAULTS = ['dark', 'bright', 'blurred', 'off-centre', 'cluttered', 'empty', 'eyes-closed', 'tilted', 'too-far', 'too-close', 'slow', 'child-crash', 'busy', 'garbage'] as const;
export type SimFault = (typeof SIM_FAULTS)[number];

export function isSimFault(v: unknown): v is SimFault {
  return typeof v === 'string' && (SIM_FAULTS as readonly string[]).includes(v);
}

export interface CaptureOptions {
  /** Cancels the capture; a running child process is killed. */
  signal?: AbortSignal;
}

export interface CaptureResult {
  /** The JPEG exactly as the camera delivered it (EXIF orientation untouched). */
  jpeg: Buffer;
  backend: CameraBackend;
  durationMs: number;
}

/** Controls of the simulated camera; present only on the simulated backend. */
export interface SimCameraControl {
  /** Fault applied to every capture until changed (null = a good photo). */
  setFault(fault: SimFault | null): void;
  /** Fault applied to the NEXT capture only, then back to the sticky fault. */
  setNextFault(fault: SimFault | null): void;
  readonly fault: SimFault | null;
  /** Captures taken so far (for tests and the demo). */
  readonly captures: number;
}

export interface Camera {
  readonly backend: CameraBackend;
  /** Human description for logs and the technician CLI, e.g. "rpicam-still (/usr/bin/rpicam-still)". */
  readonly description: string;
  open(): Promise<void>;
  /** One full-resolution still. Captures on one camera run one at a time (later calls queue). */
  capture(opts?: CaptureOptions): Promise<CaptureResult>;
  /** A small, quick JPEG for the live view on the kiosk. */
  previewFrame(opts?: CaptureOptions): Promise<Buffer>;
  close(): Promise<void>;
  /** Only on the simulated backend. */
  readonly sim?: SimCameraControl;
}

export interface FrameSize {
  width: number;
  height: number;
}
