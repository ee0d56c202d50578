import type { Logger } from 'pino';
import { UsageError } from '../common/errors';
import { RpicamCamera } from './rpicam';
import { SimulatedCamera } from './sim/simulated';
import type { Camera, CameraBackend, SimFault } from './types';
import { V4l2Camera, type V4l2Tool } from './v4l2';

export * from './types';
export { processPortrait, PORTRAIT_REASONS, DEFAULT_THRESHOLDS } from './portrait';
export type { PortraitOptions, PortraitResult, PortraitMetrics, PortraitReason, PortraitThresholds, ReasonCode } from './portrait';
export { previewFrames } from './preview';
export { RpicamCamera } from './rpicam';
export { V4l2Camera } from './v4l2';
export { SimulatedCamera } from './sim/simulated';
export { renderScene } from './sim/scene';
export { fakeCameraCommand } from './sim/fake-command';

export interface CreateCameraOptions {
  backend: CameraBackend;
  /** V4L2 device (default /dev/video0). */
  device?: string;
  /** Per-capture limit; a camera program still running after this is killed. */
  timeoutMs: number;
  logger: Logger;
  /** Override the camera program (path or name on PATH). */
  binary?: string;
  /** V4L2 grabber; default ffmpeg when installed, else fswebcam. */
  tool?: V4l2Tool;
  width?: number;
  height?: number;
  sim?: { fault?: SimFault | null; slowMs?: number };
}

/** Composition-root factory: one camera of the configured kind (no I/O until open()). */
export function createCamera(o: CreateCameraOptions): Camera {
  if (!(o.timeoutMs > 0)) throw new UsageError(`camera timeout must be a positive number of milliseconds, got ${o.timeoutMs}`, 'Fix camera.timeoutMs in the configuration.', 'CONFIG_INVALID');
  const logger = o.logger.child({ component: 'camera' });
  switch (o.backend) {
    case 'simulated':
      return new SimulatedCamera({ logger, timeoutMs: o.timeoutMs, fault: o.sim?.fault ?? null, slowMs: o.sim?.slowMs, width: o.width, height: o.height });
    case 'rpicam':
      return new RpicamCamera({ logger, timeoutMs: o.timeoutMs, binary: o.binary, width: o.width, height: o.height });
    case 'v4l2':
      return new V4l2Camera({ logger, timeoutMs: o.timeoutMs, device: o.device, tool: o.tool, binary: o.binary, width: o.width, height: o.height });
    default:
      throw new UsageError(`unknown camera backend "${String(o.backend)}"`, 'Use one of: simulated, rpicam, v4l2.', 'CONFIG_INVALID');
  }
}
