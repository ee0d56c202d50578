/**
 * Device probes for `station doctor`: open each configured device alone, ask it to
 * identify itself, close it — or say precisely why not and what to do.
 */
import type { Config } from '../config';
import { StationError } from '../drivers/common/errors';
import { createScanner } from '../drivers/fingerprint';
import { createCamera } from '../drivers/camera';
import { createCardReader } from '../drivers/card';
import { nullLogger } from './log';
import { openStationGpio, unitGpioProblem } from './gpio-access';
import type { CheckResult } from './doctor';

async function withTimeout<T>(what: string, ms: number, fn: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      fn(),
      new Promise<T>((_, rej) => {
        timer = setTimeout(() => rej(new StationError('DOCTOR_TIMEOUT', `${what} did not answer within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    if (timer) clearTimeout(timer);
  }
}

function failure(check: string, e: unknown, fallbackHint: string): CheckResult {
  const hint = e instanceof StationError && e.hint ? e.hint : fallbackHint;
  return { check, status: 'fail', message: (e as Error).message, hint };
}

export async function probeDevices(config: Config, timeoutMs: number): Promise<CheckResult[]> {
  const log = nullLogger();
  const out: CheckResult[] = [];
  const d = config.devices;

  if (d.fingerprint.simulated) out.push({ check: 'fingerprint', status: 'skip', message: 'simulated (devices.fingerprint.simulated: true)' });
  else {
    const scanner = createScanner({ model: d.fingerprint.model, port: d.fingerprint.port, baud: d.fingerprint.baud, password: d.fingerprint.password, logger: log });
    try {
      const info = await withTimeout(`fingerprint scanner on ${d.fingerprint.port}`, timeoutMs, () => scanner.open());
      out.push({ check: 'fingerprint', status: 'ok', message: `${d.fingerprint.model} on ${d.fingerprint.port} answered`, details: info as unknown as Record<string, unknown> });
    } catch (e) {
      out.push(failure('fingerprint', e, `Check the wiring and power of the scanner, that devices.fingerprint.model (${d.fingerprint.model}) and baud (${d.fingerprint.baud}) match it, and that the station user is in the dialout group. Then: station fingerprint info --port ${d.fingerprint.port} --model ${d.fingerprint.model}`));
    } finally {
      await scanner.close().catch(() => undefined);
    }
  }

  if (d.camera.simulated) out.push({ check: 'camera', status: 'skip', message: 'simulated (devices.camera.simulated: true)' });
  else {
    const cam = createCamera({ backend: d.camera.backend, device: d.camera.device, timeoutMs: d.camera.timeoutMs, logger: log });
    try {
      await withTimeout(`camera (${d.camera.backend})`, timeoutMs + d.camera.timeoutMs, async () => {
        await cam.open();
        await cam.previewFrame();
      });
      out.push({ check: 'camera', status: 'ok', message: `${cam.description} took a frame` });
    } catch (e) {
      out.push(failure('camera', e, 'Check the camera cable and that no other program uses the camera; then: station camera capture --out /tmp/test.jpg'));
    } finally {
      await cam.close().catch(() => undefined);
    }
  }

  if (d.card.simulated) out.push({ check: 'card reader', status: 'skip', message: 'simulated (devices.card.simulated: true)' });
  else {
    const reader = createCardReader({ mode: 'pcsc', ...(d.card.reader ? { readerPattern: d.card.reader } : {}), logger: log });
    reader.on('error', () => undefined);
    try {
      await withTimeout('the PC/SC service (pcscd)', timeoutMs, () => reader.open());
      // give pcscd a moment to report the readers it has
      await new Promise((r) => setTimeout(r, 500));
      if (!reader.serviceUp) throw new StationError('CARD_NO_SERVICE', 'the PC/SC service (pcscd) is not running or not answering', { hint: 'Start it: sudo systemctl enable --now pcscd.socket (check with `pcsc_scan`).' });
      const names = reader.readers().map((r) => r.name);
      if (names.length === 0) out.push({ check: 'card reader', status: 'fail', message: 'pcscd answers but no card reader is attached', hint: 'Plug the reader in; `pcsc_scan` should list it.' });
      else out.push({ check: 'card reader', status: 'ok', message: `readers: ${names.join(', ')}` });
    } catch (e) {
      out.push(failure('card reader', e, 'Start the PC/SC service: sudo systemctl enable --now pcscd.socket'));
    } finally {
      await reader.close().catch(() => undefined);
    }
  }

  if (d.gpio.simulated) out.push({ check: 'gpio', status: 'skip', message: 'simulated (devices.gpio.simulated: true): the tamper switch is not watched — the demo and benches only' });
  else {
    // the daemon's own decision (station/gpio-access.ts): what passes here is what the daemon opens
    try {
      const { gpio: g, base } = await withTimeout('GPIO', timeoutMs, () => openStationGpio(d.gpio, log));
      const s = g.status();
      await g.close();
      out.push({ check: 'gpio', status: 'ok', message: `sysfs lines = BCM + ${base}; button ${s.button}, tamper switch ${s.tamper}` });
      if (s.tamper === 'open') out.push({ check: 'tamper', status: 'warn', message: 'the tamper switch reads "open": the station will lock when it starts', hint: 'Close the case (or check the switch wiring on the configured pin).' });
      const unit = unitGpioProblem();
      if (unit) out.push({ check: 'gpio under the service', status: 'fail', message: unit.message, hint: unit.hint });
      if (s.tamper === 'not wired') out.push({ check: 'tamper', status: 'warn', message: 'no tamper switch is configured (devices.gpio.pins.tamper: null): opening the case goes unnoticed', hint: 'Wire the case switch and set devices.gpio.pins.tamper to its BCM number.' });
    } catch (e) {
      out.push(failure('gpio', e, 'Add the station user to the gpio group, or set devices.gpio.simulated: true on a machine without GPIO.'));
      if (d.gpio.pins.tamper !== null) {
        out.push({ check: 'tamper', status: 'fail', message: 'the tamper switch cannot be watched: the daemon refuses to start, locks the station and reports it to headquarters', hint: 'Fix the GPIO problem above; once the daemon runs, headquarters unlocks the station.' });
      }
    }
  }
  return out;
}
