/**
 * Honest device state for the kiosk header and the health message: what the
 * composition root knows about a device (opened, disconnected, …) merged with
 * the outcome of the last operation the workflow ran on it. A camera whose
 * every capture fails must not stay green because it once opened.
 *
 *   last operation failed, device still there   → degraded (amber)
 *   last operation says the device is missing   → error (red)
 *   the person's or officer's doing (no finger on the sensor, no card on the
 *   reader, wrong document number, cancelled)   → no change
 *   last operation succeeded after a failure     → ready again
 */
import type { DeviceState } from './ports';
import type { ErrorCode } from '../../config/error-codes';

export type DeviceName = 'fingerprint' | 'camera' | 'card';

/** Codes that mean the device itself is not there or cannot be reached. */
const MISSING = new Set<string>([
  'FP_DISCONNECTED', 'FP_NO_ANSWER', 'FP_NOT_OPEN', 'FP_PORT_MISSING', 'FP_PORT_OPEN', 'FP_CLOSED',
  'CAM_NOT_FOUND', 'CAM_BINARY_MISSING', 'CAM_BINARY_NOT_EXECUTABLE', 'CAM_CLOSED',
  'CARD_NO_READER', 'CARD_PCSCD_DOWN', 'CARD_READER_GONE', 'CARD_PCSC_MISSING',
] satisfies ErrorCode[]);

/** Codes caused by the person or the officer, not by the device. */
const NOT_THE_DEVICE = new Set<string>([
  'FP_NO_FINGER', 'FP_ABORTED', 'FP_CAPTURE_FAILED', 'FP_POOR_IMAGE',
  'CAM_ABORTED',
  'CARD_NO_CARD', 'CARD_REMOVED', 'CARD_ACCESS_DENIED', 'CARD_BAC_DENIED', 'CARD_BAC_FAILED', 'CARD_NOT_EMRTD', 'CARD_ABORTED', 'CARD_ABSENT',
] satisfies ErrorCode[]);

export function classifyDeviceError(code: string): 'missing' | 'fault' | 'not-the-device' {
  if (MISSING.has(code)) return 'missing';
  if (NOT_THE_DEVICE.has(code) || code.startsWith('WORKFLOW_')) return 'not-the-device';
  return 'fault';
}

export type DeviceOutcome = { ok: true; at: number } | { ok: false; at: number; code: string; message: string };

const GREEN = new Set(['ready', 'simulated', 'busy']);

export class DeviceHealth {
  private readonly last = new Map<string, DeviceOutcome>();

  /** Records the outcome of an operation; returns true when it changes what the chip shows. */
  record(device: DeviceName, o: DeviceOutcome): boolean {
    if (!o.ok && classifyDeviceError(o.code) === 'not-the-device') return false;
    const prev = this.last.get(device);
    this.last.set(device, o);
    return !prev || prev.ok !== o.ok || (!prev.ok && !o.ok && prev.code !== o.code);
  }

  outcome(device: string): DeviceOutcome | undefined {
    return this.last.get(device);
  }

  /** The composition root's states with the last operations' outcomes applied. */
  merge(base: DeviceState[]): DeviceState[] {
    const out = base.map((d) => ({ ...d }));
    for (const [device, o] of this.last) {
      let d = out.find((x) => x.device === device);
      if (!d) { d = { device, state: 'ready' }; out.push(d); }
      const baseSince = d.since ?? 0;
      if (o.ok) {
        // The device worked after the root last said it was broken: believe the newer news.
        if (!GREEN.has(d.state) && o.at >= baseSince) { d.state = 'ready'; delete d.code; delete d.detail; d.since = o.at; }
        continue;
      }
      if (o.at >= baseSince) {
        const missing = classifyDeviceError(o.code) === 'missing';
        d.state = missing ? 'error' : (d.state === 'error' || d.state === 'absent' ? d.state : 'degraded');
        d.code = o.code;
        d.detail = o.message;
        d.since = o.at;
      }
    }
    return out;
  }
}
