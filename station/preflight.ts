/**
 * Checks that must pass before the daemon starts anything (exit 2 otherwise, never
 * a partial start), shared with `station doctor`.
 */
import { accessSync, constants, existsSync, statSync, statfsSync } from 'node:fs';
import type { Config } from '../config';
import { StationError } from '../drivers/common/errors';
import type { ErrorCode } from '../config/error-codes';
import { modelInfo } from '../drivers/fingerprint/models';

export interface Problem {
  key: string;
  message: string;
  hint: string;
  /**
   * A capture device the problem is about. The daemon starts without it (degraded: that
   * step offers its exception path, the kiosk and health say why); only the data
   * directory, the vault and the keys are required to start.
   */
  device?: 'fingerprint' | 'camera' | 'card';
  /** For a device problem: the error code the kiosk translates (code.<CODE> in its catalogue). */
  code?: ErrorCode;
}

export function checkDataDir(dataDir: string): Problem[] {
  const key = 'dataDir';
  let st;
  try {
    st = statSync(dataDir);
  } catch {
    return [{ key, message: `data directory ${dataDir} does not exist`, hint: 'Run `station provision` to create it with its keys.' }];
  }
  if (!st.isDirectory()) return [{ key, message: `data directory ${dataDir} is not a directory`, hint: 'Point dataDir at a directory (default /var/lib/enroll-station).' }];
  const problems: Problem[] = [];
  if ((st.mode & 0o027) !== 0) {
    problems.push({
      key,
      message: `data directory ${dataDir} has mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}: it is writable by its group or readable/writable by others`,
      hint: `chmod 0700 ${dataDir}  (it holds the station's private key and the vault)`,
    });
  }
  const uid = process.getuid?.();
  if (uid !== undefined && uid !== 0 && st.uid !== uid) {
    problems.push({ key, message: `data directory ${dataDir} is owned by uid ${st.uid}, not by the station user (uid ${uid})`, hint: `chown -R enroll-station:enroll-station ${dataDir}` });
  }
  try {
    accessSync(dataDir, constants.W_OK | constants.R_OK | constants.X_OK);
  } catch {
    problems.push({ key, message: `data directory ${dataDir} is not writable by this user`, hint: `chown -R enroll-station:enroll-station ${dataDir}` });
  }
  return problems;
}

export function freeBytes(path: string): number {
  const s = statfsSync(path);
  return Number(s.bavail) * Number(s.bsize);
}

/** No consent text, no capture: the daemon needs the text the person confirms before anything is taken. */
export function checkConsent(config: Config): Problem[] {
  if (config.consent?.text?.vi) return [];
  return [{
    key: 'consent',
    message: 'there is no consent text: the station shows it to every person before capture and seals its hash into the record, so it cannot enroll without one',
    hint: 'add a consent section (version and text.vi, optionally text.en) with the programme\'s text; config/station.example.yaml has a sample',
  }];
}

/** Device paths named in the configuration that do not exist, and files the uplink needs. */
export function checkDevicePaths(config: Config): Problem[] {
  return [...checkCaptureDevices(config), ...checkUplinkFiles(config)];
}

/** Problems with a capture device's configuration: each is tagged with its device (see Problem.device). */
export function checkCaptureDevices(config: Config): Problem[] {
  const problems: Problem[] = [];
  const fp = config.devices.fingerprint;
  if (!fp.simulated && !existsSync(fp.port)) {
    problems.push({
      key: 'devices.fingerprint.port', device: 'fingerprint', code: 'FP_PORT_MISSING',
      message: `fingerprint scanner port ${fp.port} does not exist`,
      hint: 'Plug the scanner in and check `ls -l /dev/serial/by-id/ /dev/enroll-*`, fix devices.fingerprint.port, or set devices.fingerprint.simulated: true.',
    });
  }
  const m = modelInfo(fp.model);
  if (!fp.simulated && !m.bauds.includes(fp.baud)) {
    problems.push({ key: 'devices.fingerprint.baud', device: 'fingerprint', code: 'FP_BAUD_UNSUPPORTED', message: `${fp.baud} baud is not a speed the ${m.label} supports`, hint: `Use one of ${m.bauds.join(', ')} (the module's factory speed is ${m.defaultBaud}).` });
  }
  const cam = config.devices.camera;
  if (!cam.simulated && cam.backend === 'v4l2' && !existsSync(cam.device)) {
    problems.push({
      key: 'devices.camera.device', device: 'camera', code: 'CAM_NOT_FOUND',
      message: `camera device ${cam.device} does not exist`,
      hint: 'Plug the USB camera in and check `ls /dev/video*`, fix devices.camera.device, or set devices.camera.simulated: true.',
    });
  }
  const card = config.devices.card;
  if (card.cscaDir && !existsSync(card.cscaDir)) {
    problems.push({ key: 'devices.card.cscaDir', device: 'card', code: 'CARD_NO_CSCA', message: `CSCA directory ${card.cscaDir} does not exist`, hint: 'Copy the issuing countries\' CSCA certificates (and their CRLs) there.' });
  } else if (!card.simulated && !card.cscaDir) {
    // Chip trust fails closed: without CSCA certificates no chip can be authenticated (every read would be refused).
    problems.push({ key: 'devices.card.cscaDir', device: 'card', code: 'CARD_NO_CSCA', message: 'no CSCA store is configured: chip ID cards and passports cannot be authenticated without it', hint: 'Set devices.card.cscaDir to a directory holding the issuing countries\' CSCA certificates (PEM/DER) and CRLs (only the demo\'s simulated card brings its own test CSCA).' });
  }
  return problems;
}

/** TLS files for the broker connection named in the configuration that do not exist. */
export function checkUplinkFiles(config: Config): Problem[] {
  const problems: Problem[] = [];
  for (const k of ['caFile', 'certFile', 'keyFile'] as const) {
    const f = config.headquarters[k];
    if (f && !existsSync(f)) problems.push({ key: `headquarters.${k}`, message: `${f} does not exist`, hint: `Install the file or set headquarters.${k}: null.` });
  }
  return problems;
}

export function problemsError(problems: Problem[], what = 'the station cannot start'): StationError {
  const text = problems.map((p) => `  • ${p.key}: ${p.message}\n    → ${p.hint}`).join('\n');
  return new StationError('PREFLIGHT', `${what}:\n${text}`, { exitCode: 2, hint: 'Fix the above, then run `station doctor`.' });
}
