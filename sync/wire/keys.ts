/**
 * Key material: the station's Ed25519 signing key and headquarters' keys.
 *
 * Station (written by `station provision`):
 *   <dataDir>/keys/station-ed25519.key  PKCS#8 PEM, mode 0600
 *   <dataDir>/keys/station-ed25519.pub  SPKI PEM
 *
 * Headquarters (written by `generateHqKeys` + `writeHqKeys`):
 *   <dir>/hq-private.json  all private keys, mode 0600 — never leaves HQ
 *   <dir>/hq-public.json   the public identity a station is configured with
 *
 * Four HQ key pairs: HPKE X25519 and X-Wing (records are sealed to them), an
 * Ed25519 receipt key (the ingest service signs receipts) and a SEPARATE
 * Ed25519 ops key (fleet commands). They are separate so the always-online
 * ingest service never holds the power to command stations.
 * Key bytes are never logged and never put into error messages.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { DhkemX25519HkdfSha256 } from '@hpke/core';
import { XWing } from '@hpke/hybridkem-x-wing';
import { StationError } from './errors';
import { fsyncDir, writeFileDurable } from '../../config/durable';
import type { HqRecordKey } from './envelope';

// ---------------------------------------------------------------- helpers

export function ed25519PublicFromRaw(raw: Uint8Array): KeyObject {
  if (raw.length !== 32) throw new Error('an Ed25519 public key is 32 bytes');
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(raw).toString('base64url') }, format: 'jwk' });
}

export function ed25519RawPublic(key: KeyObject): Buffer {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  const jwk = pub.export({ format: 'jwk' }) as { x?: string };
  return Buffer.from(jwk.x ?? '', 'base64url');
}

/** Short public-key fingerprint: first 16 hex chars of SHA-256(raw public key). */
export function keyFingerprint(raw: Uint8Array): string {
  return createHash('sha256').update(raw).digest('hex').slice(0, 16);
}

// ---------------------------------------------------------------- station key

export const STATION_KEY_FILE = 'station-ed25519.key';
export const STATION_PUB_FILE = 'station-ed25519.pub';

export function stationKeyPaths(dataDir: string): { dir: string; privatePath: string; publicPath: string } {
  const dir = join(dataDir, 'keys');
  return { dir, privatePath: join(dir, STATION_KEY_FILE), publicPath: join(dir, STATION_PUB_FILE) };
}

export interface StationKeyPairPem {
  privateKeyPem: string;
  publicKeyPem: string;
}

export interface StationSigningKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** 32-byte raw Ed25519 public key. */
  publicKeyRaw: Buffer;
  publicKeyPem: string;
  fingerprint: string;
}

/**
 * A fresh Ed25519 pair as PEM, encoded by the key-generation job itself: on Node
 * 20, exporting a key object fresh from generateKeyPairSync can deadlock when a
 * garbage collection during the export finalizes the generation job (see
 * X25519_BASE_POINT in kdf.ts).
 */
function ed25519PemPair(): { privateKeyPem: string; publicKeyPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519', {
    privateKeyEncoding: { format: 'pem', type: 'pkcs8' },
    publicKeyEncoding: { format: 'pem', type: 'spki' },
  });
  return { privateKeyPem: privateKey, publicKeyPem: publicKey };
}

export function generateStationKeyPair(): StationKeyPairPem {
  return ed25519PemPair();
}

/**
 * Generates and writes the station key pair. Refuses to replace an existing key
 * unless `rotate` is set; on rotation the old pair is kept as
 * `station-ed25519.<timestamp>.key.old` / `.pub.old` (0600) so records signed
 * with it can still be explained. Returns the paths and the public key.
 */
export function writeStationKeyPair(dataDir: string, opts: { rotate?: boolean } = {}): { privatePath: string; publicPath: string; publicKeyPem: string; fingerprint: string } {
  const { dir, privatePath, publicPath } = stationKeyPaths(dataDir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (existsSync(privatePath) || existsSync(publicPath)) {
    if (!opts.rotate) {
      throw new StationError('VAULT_KEY_EXISTS', `a station signing key already exists at ${privatePath}`, {
        hint: 'refusing to overwrite it; pass --rotate to replace it (the old key is kept as *.old) after headquarters has been told',
      });
    }
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    if (existsSync(privatePath)) renameSync(privatePath, join(dir, `station-ed25519.${stamp}.key.old`));
    if (existsSync(publicPath)) renameSync(publicPath, join(dir, `station-ed25519.${stamp}.pub.old`));
    fsyncDir(dir);
  }
  const pair = generateStationKeyPair();
  writeFileDurable(privatePath, pair.privateKeyPem, { mode: 0o600 });
  writeFileDurable(publicPath, pair.publicKeyPem, { mode: 0o644 });
  const raw = ed25519RawPublic(createPublicKey(pair.publicKeyPem));
  return { privatePath, publicPath, publicKeyPem: pair.publicKeyPem, fingerprint: keyFingerprint(raw) };
}

/** Loads the station's Ed25519 signing key; errors name the file and never its content. */
export function loadStationSigningKey(dataDir: string): StationSigningKey {
  const { privatePath } = stationKeyPaths(dataDir);
  let pem: string;
  try {
    pem = readFileSync(privatePath, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new StationError('VAULT_STATION_KEY_MISSING', `cannot read the station signing key ${privatePath} (${code ?? 'error'})`, {
      hint: code === 'ENOENT' ? 'run `station provision` to create it' : 'check the file permissions (it must be readable by the station user, mode 0600)',
    });
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(pem);
  } catch {
    throw new StationError('VAULT_STATION_KEY_MALFORMED', `the station signing key ${privatePath} is not a PKCS#8 PEM private key`, {
      hint: 'restore it from backup or re-provision with `station provision --rotate`',
    });
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') {
    throw new StationError('VAULT_STATION_KEY_MALFORMED', `the station signing key ${privatePath} is a ${privateKey.asymmetricKeyType} key, not Ed25519`, {
      hint: 're-provision with `station provision --rotate`',
    });
  }
  return stationSigningKeyFrom(privateKey);
}

/**
 * Where the station's current signing key is read from, at every signature (the
 * station's one holder is station/keys.ts StationKeyHolder): after a rotation
 * every reader signs with the new key at once, none keeps a copy of the old one.
 */
export interface SigningKeySource {
  current(): StationSigningKey;
}

export function isSigningKeySource(k: unknown): k is SigningKeySource {
  return typeof (k as SigningKeySource | null)?.current === 'function';
}

export function stationSigningKeyFrom(privateKey: KeyObject): StationSigningKey {
  const publicKey = createPublicKey(privateKey);
  const publicKeyRaw = ed25519RawPublic(publicKey);
  return {
    privateKey,
    publicKey,
    publicKeyRaw,
    publicKeyPem: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
    fingerprint: keyFingerprint(publicKeyRaw),
  };
}

/** Parses a station public key given as SPKI PEM, or 32 raw bytes / their base64. */
export function parseStationPublicKey(input: string | Uint8Array): KeyObject {
  if (typeof input === 'string' && input.includes('-----BEGIN')) return createPublicKey(input);
  const raw = typeof input === 'string' ? Buffer.from(input, 'base64') : input;
  return ed25519PublicFromRaw(raw);
}

// ---------------------------------------------------------------- headquarters keys

export const HQ_PUBLIC_FORMAT = 'enroll-station/hq-public';
export const HQ_PRIVATE_FORMAT = 'enroll-station/hq-private';
export const HQ_KEY_VERSION = 1;
export const HQ_PUBLIC_FILE = 'hq-public.json';
export const HQ_PRIVATE_FILE = 'hq-private.json';

/** The JSON shape of hq-public.json (all keys base64, standard alphabet, raw bytes). */
export interface HqPublicJson {
  format: typeof HQ_PUBLIC_FORMAT;
  version: 1;
  /** HPKE DHKEM(X25519) public key, 32 bytes. */
  hpkeX25519: string;
  /** X-Wing public key, 1216 bytes. */
  xWing: string;
  /** Ed25519 public key that verifies headquarters' receipts, 32 bytes. */
  receiptEd25519: string;
  /** Ed25519 public key that verifies operations commands, 32 bytes. */
  opsEd25519: string;
  /** Free text (e.g. "HQ keys generation 2026-11"). */
  comment?: string;
}

export interface HqPrivateJson {
  format: typeof HQ_PRIVATE_FORMAT;
  version: 1;
  /** X25519 private key, 32 bytes. */
  hpkeX25519: string;
  /** X-Wing private key (the 32-byte seed). */
  xWing: string;
  /** Ed25519 private keys, PKCS#8 PEM. */
  receiptEd25519: string;
  opsEd25519: string;
  public: HqPublicJson;
}

export interface HqPublicIdentity {
  /** The file it came from (for error messages), or '(memory)'. */
  path: string;
  hpkeX25519: Buffer;
  xWing: Buffer;
  receiptKey: KeyObject;
  opsKey: KeyObject;
  receiptKeyRaw: Buffer;
  opsKeyRaw: Buffer;
  /** SHA-256 of each KEM public key: the hq key id written into every envelope header. */
  keyIds: { hpkeX25519: Buffer; xWing: Buffer };
  json: HqPublicJson;
}

export interface HqPrivateKeys {
  hpkeX25519: Buffer;
  xWing: Buffer;
  receiptKey: KeyObject;
  opsKey: KeyObject;
  public: HqPublicIdentity;
}

export interface HqKeySet {
  publicJson: HqPublicJson;
  privateJson: HqPrivateJson;
}

function b64(b: ArrayBuffer | Uint8Array): string {
  return Buffer.from(b instanceof ArrayBuffer ? new Uint8Array(b) : b).toString('base64');
}

/** Generates a fresh set of headquarters keys (nothing is written). */
export async function generateHqKeys(comment?: string): Promise<HqKeySet> {
  const x = new DhkemX25519HkdfSha256();
  const xkp = await x.generateKeyPair();
  const xw = new XWing();
  const wkp = await xw.generateKeyPair();
  const receipt = ed25519PemPair();
  const ops = ed25519PemPair();
  const publicJson: HqPublicJson = {
    format: HQ_PUBLIC_FORMAT,
    version: HQ_KEY_VERSION,
    hpkeX25519: b64(await x.serializePublicKey(xkp.publicKey)),
    xWing: b64(await xw.serializePublicKey(wkp.publicKey)),
    receiptEd25519: b64(ed25519RawPublic(createPublicKey(receipt.publicKeyPem))),
    opsEd25519: b64(ed25519RawPublic(createPublicKey(ops.publicKeyPem))),
    ...(comment ? { comment } : {}),
  };
  const privateJson: HqPrivateJson = {
    format: HQ_PRIVATE_FORMAT,
    version: HQ_KEY_VERSION,
    hpkeX25519: b64(await x.serializePrivateKey(xkp.privateKey)),
    xWing: b64(await xw.serializePrivateKey(wkp.privateKey)),
    receiptEd25519: receipt.privateKeyPem,
    opsEd25519: ops.privateKeyPem,
    public: publicJson,
  };
  return { publicJson, privateJson };
}

/**
 * Writes hq-private.json (0600, directory 0700) and hq-public.json (0644) into
 * `dir`. Refuses to overwrite existing keys unless `rotate` is set.
 */
export function writeHqKeys(dir: string, keys: HqKeySet, opts: { rotate?: boolean } = {}): { privatePath: string; publicPath: string } {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const privatePath = join(dir, HQ_PRIVATE_FILE);
  const publicPath = join(dir, HQ_PUBLIC_FILE);
  if ((existsSync(privatePath) || existsSync(publicPath)) && !opts.rotate) {
    throw new StationError('HQ_KEY_EXISTS', `headquarters keys already exist in ${dir}`, { hint: 'refusing to overwrite them; rotate deliberately (stations must get the new hq-public.json)' });
  }
  writeFileDurable(privatePath, `${JSON.stringify(keys.privateJson, null, 2)}\n`, { mode: 0o600 });
  writeFileDurable(publicPath, `${JSON.stringify(keys.publicJson, null, 2)}\n`, { mode: 0o644 });
  return { privatePath, publicPath };
}

function malformed(path: string, what: string): StationError {
  return new StationError('VAULT_HQ_KEY_MALFORMED', `the headquarters public key file ${path} is malformed: ${what}`, {
    hint: 'replace it with the hq-public.json issued by headquarters (format "enroll-station/hq-public", version 1)',
    exitCode: 2,
  });
}

function keyField(obj: Record<string, unknown>, name: string, len: number, path: string): Buffer {
  const v = obj[name];
  if (typeof v !== 'string' || !/^[A-Za-z0-9+/]+={0,2}$/.test(v)) throw malformed(path, `"${name}" must be a base64 string`);
  const b = Buffer.from(v, 'base64');
  if (b.length !== len) throw malformed(path, `"${name}" must decode to ${len} bytes, got ${b.length}`);
  return b;
}

/** Validates parsed hq-public.json content; `path` only names the source in errors. */
export function parseHqPublicIdentity(value: unknown, path = '(memory)'): HqPublicIdentity {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw malformed(path, 'expected a JSON object');
  const o = value as Record<string, unknown>;
  if (o.format !== HQ_PUBLIC_FORMAT) throw malformed(path, `"format" must be "${HQ_PUBLIC_FORMAT}"`);
  if (o.version !== HQ_KEY_VERSION) throw malformed(path, `unsupported "version" ${JSON.stringify(o.version)} (this station understands ${HQ_KEY_VERSION})`);
  const hpkeX25519 = keyField(o, 'hpkeX25519', 32, path);
  const xWing = keyField(o, 'xWing', 1216, path);
  const receiptKeyRaw = keyField(o, 'receiptEd25519', 32, path);
  const opsKeyRaw = keyField(o, 'opsEd25519', 32, path);
  let receiptKey: KeyObject;
  let opsKey: KeyObject;
  try {
    receiptKey = ed25519PublicFromRaw(receiptKeyRaw);
    opsKey = ed25519PublicFromRaw(opsKeyRaw);
  } catch {
    throw malformed(path, 'an Ed25519 key is not a valid public key');
  }
  const sha = (b: Buffer) => createHash('sha256').update(b).digest();
  return {
    path,
    hpkeX25519,
    xWing,
    receiptKey,
    opsKey,
    receiptKeyRaw,
    opsKeyRaw,
    keyIds: { hpkeX25519: sha(hpkeX25519), xWing: sha(xWing) },
    json: o as unknown as HqPublicJson,
  };
}

/** Loads hq-public.json; a missing or malformed file is a StationError naming it. */
export function loadHqPublicIdentity(path: string): HqPublicIdentity {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new StationError('VAULT_HQ_KEY_MISSING', `cannot read the headquarters public key file ${path} (${code ?? 'error'})`, {
      hint: 'install the hq-public.json issued by headquarters and point the station config at it',
      exitCode: 2,
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw malformed(path, 'not valid JSON');
  }
  return parseHqPublicIdentity(json, path);
}

/** HQ side: loads hq-private.json (a file path, or the directory holding it). */
export function loadHqPrivateKeys(pathOrDir: string): HqPrivateKeys {
  const path = pathOrDir.endsWith('.json') ? pathOrDir : join(pathOrDir, HQ_PRIVATE_FILE);
  let o: HqPrivateJson;
  try {
    o = JSON.parse(readFileSync(path, 'utf8')) as HqPrivateJson;
  } catch (e) {
    throw new StationError('HQ_PRIVATE_KEY_UNREADABLE', `cannot read headquarters private keys from ${path}: ${(e as Error).message.split('\n')[0].replace(/\{.*$/, '')}`, {
      hint: 'check the path and that the file is the hq-private.json written by key generation',
    });
  }
  return parseHqPrivateKeys(o, path);
}

export function parseHqPrivateKeys(o: HqPrivateJson, path = '(memory)'): HqPrivateKeys {
  const bad = (what: string) => new StationError('HQ_PRIVATE_KEY_MALFORMED', `headquarters private key file ${path} is malformed: ${what}`);
  if (o?.format !== HQ_PRIVATE_FORMAT || o.version !== HQ_KEY_VERSION) throw bad('wrong format/version');
  const x = Buffer.from(o.hpkeX25519 ?? '', 'base64');
  const w = Buffer.from(o.xWing ?? '', 'base64');
  if (x.length !== 32 || w.length !== 32) throw bad('KEM private keys must be 32 bytes');
  let receiptKey: KeyObject;
  let opsKey: KeyObject;
  try {
    receiptKey = createPrivateKey(o.receiptEd25519);
    opsKey = createPrivateKey(o.opsEd25519);
  } catch {
    throw bad('Ed25519 keys must be PKCS#8 PEM');
  }
  return { hpkeX25519: x, xWing: w, receiptKey, opsKey, public: parseHqPublicIdentity(o.public, path) };
}

/** The record (KEM) keys of a legacy single-generation hq-private.json, as generation 1. */
export function recordKeysOf(keys: HqPrivateKeys, generation = 1): HqRecordKey[] {
  return [
    { generation, kem: 'hpkeX25519', keyId: keys.public.keyIds.hpkeX25519, privateKey: keys.hpkeX25519, publicKey: keys.public.hpkeX25519 },
    { generation, kem: 'xWing', keyId: keys.public.keyIds.xWing, privateKey: keys.xWing, publicKey: keys.public.xWing },
  ];
}
