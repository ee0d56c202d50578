/** Station-side key helpers on top of sync/wire/keys (which owns the formats). */
import { join } from 'node:path';
import { existsSync, mkdirSync } from 'node:fs';
import { writeFileDurable } from '../config/durable';
import { keyFingerprint, loadHqPublicIdentity, loadStationSigningKey, writeStationKeyPair, type HqPublicIdentity, type SigningKeySource, type StationSigningKey } from '../sync/wire/keys';

export function loadHqIdentityChecked(path: string): HqPublicIdentity & { fingerprint: string } {
  const id = loadHqPublicIdentity(path);
  return { ...id, fingerprint: keyFingerprint(id.hpkeX25519) };
}

/**
 * Where a station keeps the headquarters identity it learned by a signed
 * `update-hq-key` command (the installed headquarters.publicKeyFile usually
 * lives under /etc, which the daemon may not write).
 */
export function learnedHqIdentityPath(dataDir: string): string {
  return join(dataDir, 'keys', 'hq-public.learned.json');
}

/**
 * The headquarters identity file to use: the learned one when it is usable and
 * newer (higher rotation serial) than the installed one, else the installed
 * one (so a technician's fresh install wins ties, and a damaged learned file
 * never hides a good installed one).
 */
export function resolveHqIdentityFile(installed: string, dataDir: string): string {
  const learned = learnedHqIdentityPath(dataDir);
  if (!existsSync(learned)) return installed;
  let l: HqPublicIdentity;
  try { l = loadHqPublicIdentity(learned); } catch { return installed; }
  let i: HqPublicIdentity | null = null;
  try { i = loadHqPublicIdentity(installed); } catch { /* unusable: the learned one */ }
  return !i || l.serial > i.serial ? learned : installed;
}

/** Keeps a learned identity durably (0644: it holds public keys only). */
export function saveLearnedHqIdentity(dataDir: string, identity: HqPublicIdentity): string {
  const path = learnedHqIdentityPath(dataDir);
  mkdirSync(join(dataDir, 'keys'), { recursive: true, mode: 0o700 });
  writeFileDurable(path, `${JSON.stringify(identity.json, null, 2)}\n`, { mode: 0o644 });
  return path;
}

export interface RotatedKey {
  /** Raw 32-byte public key, base64 (what headquarters registers). */
  publicKey: string;
  publicKeyPem: string;
  fingerprint: string;
  previousFingerprint: string;
}

/**
 * The one holder of the station's signing key in a running station. It is
 * loaded once; the vault (records, audit heads) and the uplink (command results)
 * read `current()` whenever they sign, so a rotation takes effect for all of
 * them at the same moment, and no component keeps its own copy.
 */
export class StationKeyHolder implements SigningKeySource {
  private key: StationSigningKey;
  private readonly listeners = new Set<(next: StationSigningKey, previous: StationSigningKey) => void>();

  constructor(private readonly dataDir: string, key?: StationSigningKey) {
    this.key = key ?? loadStationSigningKey(dataDir);
  }

  current(): StationSigningKey {
    return this.key;
  }

  /**
   * Generates a new pair on disk (the old one kept as *.old), loads it and makes
   * it current for every reader. The file is written before the switch: a crash
   * in between restarts with the new key, never with one only in memory.
   */
  rotate(): RotatedKey {
    const previous = this.key;
    const r = writeStationKeyPair(this.dataDir, { rotate: true });
    const next = loadStationSigningKey(this.dataDir);
    this.key = next;
    for (const fn of this.listeners) {
      try { fn(next, previous); } catch { /* a listener's failure must not undo the rotation */ }
    }
    return { publicKey: next.publicKeyRaw.toString('base64'), publicKeyPem: r.publicKeyPem, fingerprint: next.fingerprint, previousFingerprint: previous.fingerprint };
  }

  /** Called after each rotation (e.g. to write an audit entry); returns the unsubscribe function. */
  onRotate(fn: (next: StationSigningKey, previous: StationSigningKey) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }
}
