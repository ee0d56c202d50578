/**
 * `station provision`: creates the data directory and the station's Ed25519
 * signing key (0600, never logged), records the headquarters public identity and
 * broker settings, and prints the station's public identity for headquarters to
 * register (`hq register`). Works offline. Never silently replaces a key.
 */
import { copyFileSync, chmodSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createPublicKey } from 'node:crypto';
import type { Config } from '../config';
import { StationError } from '../drivers/common/errors';
import { ed25519RawPublic, keyFingerprint, loadHqPublicIdentity, stationKeyPaths, writeStationKeyPair } from '../sync/wire/keys';
import { writeFileDurable } from '../config/durable';
import { VERSION } from './version';

/** What headquarters needs to register a station (`hq register FILE`). */
export interface StationIdentity {
  format: 'enroll-station/station-identity';
  version: 1;
  stationId: string;
  unit: { code: string; name: string; district: string };
  /** Ed25519 public key, SPKI PEM. */
  publicKeyPem: string;
  /** Raw 32-byte Ed25519 public key, base64. */
  publicKey: string;
  fingerprint: string;
  /** Fingerprint of the headquarters sealing key this station was provisioned with. */
  hqKeyFingerprint: string | null;
  brokerUrl: string;
  provisionedAt: string;
  software: string;
}

export interface ProvisionOptions {
  hqPublicFile?: string;
  rotate?: boolean;
  now?: Date;
}

export interface ProvisionResult {
  identity: StationIdentity;
  createdKey: boolean;
  rotated: boolean;
  hqRecorded: string | null;
  notes: string[];
}

/**
 * The station user may not write into /etc/enroll-station (root:enroll-station 0750, so
 * the daemon cannot change its own configuration): say so, and give the root command
 * that installs the file, instead of a bare EACCES from copyfile.
 */
function hqKeyWriteError(e: unknown, source: string, target: string): StationError {
  const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
  const denied = code === 'EACCES' || code === 'EPERM' || code === 'EROFS';
  return new StationError('PROVISION_HQ_KEY_WRITE', `cannot install the headquarters key at ${target} (headquarters.publicKeyFile): ${code}${denied ? ` — ${dirname(target)} is not writable by this user` : ''}`, {
    exitCode: 1,
    hint: denied
      ? `Install it as root, readable by the station: sudo install -o root -g enroll-station -m 0644 ${source} ${target} — then run \`station provision\` as the station user without --hq-public (or use systemd/install.sh --hq-public ${source}).`
      : `Check the path of headquarters.publicKeyFile (${target}).`,
    cause: e,
  });
}

export function provision(config: Config, opts: ProvisionOptions = {}): ProvisionResult {
  const notes: string[] = [];
  const dataDir = resolve(config.dataDir);
  if (!existsSync(dataDir)) {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    notes.push(`created data directory ${dataDir} (mode 0700)`);
  } else if ((statSync(dataDir).mode & 0o027) !== 0) {
    chmodSync(dataDir, 0o700);
    notes.push(`tightened data directory ${dataDir} to mode 0700`);
  }

  // Headquarters identity: validate before anything is written, then install it where the config points.
  let hqRecorded: string | null = null;
  const target = config.headquarters.publicKeyFile;
  if (opts.hqPublicFile) {
    loadHqPublicIdentity(opts.hqPublicFile); // throws a clear error naming the file
    if (resolve(opts.hqPublicFile) !== resolve(target)) {
      try {
        mkdirSync(dirname(target), { recursive: true, mode: 0o755 });
      } catch (e) {
        throw hqKeyWriteError(e, opts.hqPublicFile, target);
      }
      if (existsSync(target) && readFileSync(target, 'utf8') !== readFileSync(opts.hqPublicFile, 'utf8') && !opts.rotate) {
        throw new StationError('PROVISION_HQ_KEY_EXISTS', `a different headquarters key is already installed at ${target}`, {
          exitCode: 2,
          hint: 'Pass --rotate to replace it (only when headquarters has issued new keys).',
        });
      }
      try {
        copyFileSync(opts.hqPublicFile, target);
        chmodSync(target, 0o644);
      } catch (e) {
        throw hqKeyWriteError(e, opts.hqPublicFile, target);
      }
    }
    hqRecorded = target;
    notes.push(`headquarters public key installed at ${target}`);
  }
  let hqKeyFingerprint: string | null = null;
  if (existsSync(target)) hqKeyFingerprint = keyFingerprint(loadHqPublicIdentity(target).hpkeX25519);
  else notes.push(`no headquarters public key at ${target} yet: the station refuses to enroll until it is installed (station provision --hq-public FILE)`);

  const { privatePath, publicPath } = stationKeyPaths(dataDir);
  let createdKey = false;
  let rotated = false;
  if (!existsSync(privatePath) || opts.rotate) {
    rotated = existsSync(privatePath);
    writeStationKeyPair(dataDir, { rotate: opts.rotate });
    createdKey = true;
    notes.push(rotated ? `rotated the station signing key (old one kept as *.old in ${dirname(privatePath)}); register the new identity at headquarters` : `created the station signing key ${privatePath} (mode 0600)`);
  } else {
    notes.push(`kept the existing station signing key ${privatePath} (use --rotate to replace it)`);
  }
  const mode = statSync(privatePath).mode & 0o777;
  if (mode !== 0o600) {
    chmodSync(privatePath, 0o600);
    notes.push(`fixed mode of ${privatePath} from ${mode.toString(8)} to 0600`);
  }

  const publicKeyPem = readFileSync(publicPath, 'utf8');
  const raw = ed25519RawPublic(createPublicKey(publicKeyPem));
  const identity: StationIdentity = {
    format: 'enroll-station/station-identity',
    version: 1,
    stationId: config.station.id,
    unit: { code: config.station.unit.code, name: config.station.unit.name, district: config.station.unit.district },
    publicKeyPem,
    publicKey: raw.toString('base64'),
    fingerprint: keyFingerprint(raw),
    hqKeyFingerprint,
    brokerUrl: config.headquarters.brokerUrl,
    provisionedAt: (opts.now ?? new Date()).toISOString(),
    software: VERSION,
  };
  // Recorded locally too, so `station doctor`/`status` and a technician can see what was registered.
  writeFileDurable(join(dataDir, 'identity.json'), `${JSON.stringify(identity, null, 2)}\n`, { mode: 0o644 });
  return { identity, createdKey, rotated, hqRecorded, notes };
}
