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
import { existsSync, mkdirSync, readFileSync, renameSync, unlinkSync } from 'node:fs';
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
  /** Every generation's receipt key (base64, 32 bytes each), oldest first; a station trusts all of them. */
  receiptKeys?: string[];
  /** Every generation's ops key (base64, 32 bytes each), oldest first; a station trusts all of them. */
  opsKeys?: string[];
  /** The generation of each duty this identity's current keys belong to. */
  generations?: { record: number; receipt: number; ops: number };
  /** Grows with every rotation; a station never replaces its identity by one with a lower serial. Absent: 0. */
  serial?: number;
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
  /** Every receipt / ops key this identity names (the current one included). */
  receiptKeys: KeyObject[];
  opsKeys: KeyObject[];
  /** Rotation serial (0 for an identity from before key generations). */
  serial: number;
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

// ---------------------------------------------------------------- headquarters key generations

/*
 * Headquarters keeps its private keys in one file per duty, each a list of
 * generations (docs/wire-format.md §8):
 *   hq-record-keys.json   X25519 + X-Wing pairs that open records   (the record-opening service only)
 *   hq-receipt-keys.json  Ed25519 keys that sign receipts            (`hq run`)
 *   hq-ops-keys.json      Ed25519 keys that sign fleet commands      (`hq cmd`)
 * all mode 0600. `hq init --rotate` appends a generation to the duties it
 * rotates and keeps every older one: a record sealed to any generation still
 * opens, a station that has not yet learned the new identity still trusts the
 * old signers. The newest generation of each duty is the current one.
 * A pre-generation hq-private.json is read as generation 1 of every duty and
 * migrated into the three files at the first rotation.
 */
export const HQ_GENERATIONS_FORMAT = 'enroll-station/hq-key-generations';
export type HqKeyDuty = 'record' | 'receipt' | 'ops';
export const HQ_KEY_DUTIES: readonly HqKeyDuty[] = ['record', 'receipt', 'ops'];
export const HQ_DUTY_FILES: Readonly<Record<HqKeyDuty, string>> = { record: 'hq-record-keys.json', receipt: 'hq-receipt-keys.json', ops: 'hq-ops-keys.json' };

export interface RecordKeyGenerationJson {
  generation: number;
  createdAt: string;
  comment?: string;
  /** base64: X25519 private key (32 bytes) and public key (32 bytes). */
  hpkeX25519: { private: string; public: string };
  /** base64: X-Wing seed (32 bytes) and public key (1216 bytes). */
  xWing: { private: string; public: string };
}

export interface SigningKeyGenerationJson {
  generation: number;
  createdAt: string;
  comment?: string;
  /** Ed25519 private key, PKCS#8 PEM. */
  ed25519: string;
  /** base64 of the raw 32-byte public key. */
  public: string;
}

export interface HqGenerationFileJson<D extends HqKeyDuty = HqKeyDuty> {
  format: typeof HQ_GENERATIONS_FORMAT;
  version: 1;
  duty: D;
  generations: D extends 'record' ? RecordKeyGenerationJson[] : SigningKeyGenerationJson[];
}

/** One Ed25519 generation of the receipt or ops duty, loaded. */
export interface HqSigningGeneration {
  generation: number;
  privateKey: KeyObject;
  publicKey: KeyObject;
  publicRaw: Buffer;
}

function genFileError(path: string, what: string): StationError {
  return new StationError('HQ_PRIVATE_KEY_MALFORMED', `headquarters key file ${path} is malformed: ${what}`, {
    hint: `restore it from the backup taken after the last \`hq init\` / \`hq init --rotate\` (format "${HQ_GENERATIONS_FORMAT}", version 1)`,
  });
}

function readJsonFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new StationError('HQ_PRIVATE_KEY_UNREADABLE', `cannot read headquarters keys from ${path} (${(e as NodeJS.ErrnoException).code ?? 'error'})`, {
      hint: 'run `hq init` to create them, or check that this service\'s user may read the file (mode 0600, owned by it)',
    });
  }
  try {
    return JSON.parse(text);
  } catch {
    throw genFileError(path, 'not valid JSON');
  }
}

function b64Field(v: unknown, len: number, path: string, what: string): Buffer {
  if (typeof v !== 'string' || !/^[A-Za-z0-9+/]+={0,2}$/.test(v)) throw genFileError(path, `${what} must be a base64 string`);
  const b = Buffer.from(v, 'base64');
  if (b.length !== len) throw genFileError(path, `${what} must decode to ${len} bytes, got ${b.length}`);
  return b;
}

/** Parses a generation file of `duty`; generations must be 1, 2, 3… in order. */
export function parseGenerationFile<D extends HqKeyDuty>(value: unknown, duty: D, path = '(memory)'): HqGenerationFileJson<D> {
  const o = value as Partial<HqGenerationFileJson>;
  if (!o || typeof o !== 'object' || o.format !== HQ_GENERATIONS_FORMAT || o.version !== 1) throw genFileError(path, `"format" must be "${HQ_GENERATIONS_FORMAT}" and "version" 1`);
  if (o.duty !== duty) throw genFileError(path, `it holds ${JSON.stringify(o.duty)} keys, expected ${duty} keys`);
  if (!Array.isArray(o.generations) || o.generations.length === 0) throw genFileError(path, '"generations" must be a non-empty list');
  o.generations.forEach((g, i) => {
    if (!g || typeof g !== 'object' || (g as { generation?: unknown }).generation !== i + 1) throw genFileError(path, `generation #${i + 1} is missing or out of order`);
  });
  return o as HqGenerationFileJson<D>;
}

function generationPath(dir: string, duty: HqKeyDuty): string {
  return join(dir, HQ_DUTY_FILES[duty]);
}

/** The generation file of a duty; a legacy hq-private.json in `dir` stands for generation 1 of every duty. */
export function readGenerationFile<D extends HqKeyDuty>(dir: string, duty: D): HqGenerationFileJson<D> {
  const path = generationPath(dir, duty);
  if (existsSync(path)) return parseGenerationFile(readJsonFile(path), duty, path);
  const legacy = join(dir, HQ_PRIVATE_FILE);
  if (existsSync(legacy)) return legacyGeneration(readJsonFile(legacy) as HqPrivateJson, duty, legacy);
  throw new StationError('HQ_PRIVATE_KEY_UNREADABLE', `no headquarters ${duty} keys in ${dir} (${HQ_DUTY_FILES[duty]})`, {
    hint: 'run `hq init` first, or install this duty\'s key file (docs/mqtt-api.md, deployment)',
  });
}

function legacyGeneration<D extends HqKeyDuty>(o: HqPrivateJson, duty: D, path: string): HqGenerationFileJson<D> {
  const k = parseHqPrivateKeys(o, path);
  const createdAt = new Date(0).toISOString();
  const gens = duty === 'record'
    ? [{ generation: 1, createdAt, hpkeX25519: { private: b64(k.hpkeX25519), public: b64(k.public.hpkeX25519) }, xWing: { private: b64(k.xWing), public: b64(k.public.xWing) } }]
    : [{ generation: 1, createdAt, ed25519: duty === 'receipt' ? o.receiptEd25519 : o.opsEd25519, public: b64(duty === 'receipt' ? k.public.receiptKeyRaw : k.public.opsKeyRaw) }];
  return { format: HQ_GENERATIONS_FORMAT, version: 1, duty, generations: gens } as HqGenerationFileJson<D>;
}

/** Every record-key generation in `dir` (two keys each: X25519 and X-Wing), oldest first. */
export function loadRecordKeys(dir: string): HqRecordKey[] {
  const path = generationPath(dir, 'record');
  const f = readGenerationFile(dir, 'record');
  const sha = (b: Buffer) => createHash('sha256').update(b).digest();
  return f.generations.flatMap((g) => {
    const xPriv = b64Field(g.hpkeX25519?.private, 32, path, `generation ${g.generation} hpkeX25519.private`);
    const xPub = b64Field(g.hpkeX25519?.public, 32, path, `generation ${g.generation} hpkeX25519.public`);
    const wPriv = b64Field(g.xWing?.private, 32, path, `generation ${g.generation} xWing.private`);
    const wPub = b64Field(g.xWing?.public, 1216, path, `generation ${g.generation} xWing.public`);
    return [
      { generation: g.generation, kem: 'hpkeX25519' as const, keyId: sha(xPub), privateKey: xPriv, publicKey: xPub },
      { generation: g.generation, kem: 'xWing' as const, keyId: sha(wPub), privateKey: wPriv, publicKey: wPub },
    ];
  });
}

/** Every generation of the receipt or ops duty, oldest first (the last is current). */
export function loadSigningGenerations(dir: string, duty: 'receipt' | 'ops'): HqSigningGeneration[] {
  const path = generationPath(dir, duty);
  const f = readGenerationFile(dir, duty);
  return f.generations.map((g) => {
    let privateKey: KeyObject;
    try {
      privateKey = createPrivateKey(g.ed25519);
    } catch {
      throw genFileError(path, `generation ${g.generation}: the Ed25519 key must be PKCS#8 PEM`);
    }
    if (privateKey.asymmetricKeyType !== 'ed25519') throw genFileError(path, `generation ${g.generation} is not an Ed25519 key`);
    const publicKey = createPublicKey(privateKey);
    const publicRaw = ed25519RawPublic(publicKey);
    if (g.public !== undefined && b64Field(g.public, 32, path, `generation ${g.generation} public`).compare(publicRaw) !== 0) {
      throw genFileError(path, `generation ${g.generation}: "public" is not the public half of its private key`);
    }
    return { generation: g.generation, privateKey, publicKey, publicRaw };
  });
}

/** The current (newest) generation of a signing duty. */
export function currentSigningKey(dir: string, duty: 'receipt' | 'ops'): HqSigningGeneration {
  const all = loadSigningGenerations(dir, duty);
  return all[all.length - 1]!;
}

/**
 * hq-public.json from the generation files: the current record keys (stations
 * seal to them), the current receipt and ops keys under their version-1 names,
 * and every generation's receipt and ops keys in `receiptKeys` / `opsKeys` (a
 * station trusts all of them, so it keeps accepting the old signer during a
 * rotation). `serial` grows with every rotation: a station never replaces its
 * identity by one with a lower serial.
 */
export function buildHqPublic(dir: string, comment?: string): HqPublicJson {
  const rec = readGenerationFile(dir, 'record').generations;
  const cur = rec[rec.length - 1]!;
  const receipt = readGenerationFile(dir, 'receipt').generations;
  const ops = readGenerationFile(dir, 'ops').generations;
  const pubOf = (g: SigningKeyGenerationJson): string => g.public ?? b64(ed25519RawPublic(createPublicKey(createPrivateKey(g.ed25519))));
  return {
    format: HQ_PUBLIC_FORMAT,
    version: HQ_KEY_VERSION,
    hpkeX25519: cur.hpkeX25519.public,
    xWing: cur.xWing.public,
    receiptEd25519: pubOf(receipt[receipt.length - 1]!),
    opsEd25519: pubOf(ops[ops.length - 1]!),
    receiptKeys: receipt.map(pubOf),
    opsKeys: ops.map(pubOf),
    generations: { record: cur.generation, receipt: receipt.length, ops: ops.length },
    serial: rec.length + receipt.length + ops.length - 2,
    ...(comment ? { comment } : {}),
  };
}

function generationsFrom(keys: HqKeySet, duty: HqKeyDuty, generation: number, createdAt: string): RecordKeyGenerationJson | SigningKeyGenerationJson {
  const p = keys.privateJson;
  const c = p.public.comment ? { comment: p.public.comment } : {};
  if (duty === 'record') return { generation, createdAt, ...c, hpkeX25519: { private: p.hpkeX25519, public: p.public.hpkeX25519 }, xWing: { private: p.xWing, public: p.public.xWing } };
  return duty === 'receipt'
    ? { generation, createdAt, ...c, ed25519: p.receiptEd25519, public: p.public.receiptEd25519 }
    : { generation, createdAt, ...c, ed25519: p.opsEd25519, public: p.public.opsEd25519 };
}

export interface WrittenHqKeys {
  /** The record-key file (kept for callers of the single-file era: the one path to back up first). */
  privatePath: string;
  publicPath: string;
  files: Record<HqKeyDuty, string>;
  generations: Record<HqKeyDuty, number>;
  public: HqPublicJson;
}

/**
 * Writes headquarters' keys into `dir` (0700): a generation file per duty
 * (0600) and hq-public.json (0644). Without `rotate`, refuses when keys exist.
 * With `rotate`, appends `keys` as the next generation of each duty in
 * `duties` (default: all three) and keeps every older generation; a legacy
 * hq-private.json is migrated into the three files first and then removed.
 * Each file is written durably (temp, fsync, rename): a crash leaves either
 * the old or the new list, never a half-written one.
 */
export function writeHqKeys(dir: string, keys: HqKeySet, opts: { rotate?: boolean; duties?: readonly HqKeyDuty[]; now?: number } = {}): WrittenHqKeys {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const publicPath = join(dir, HQ_PUBLIC_FILE);
  const legacy = join(dir, HQ_PRIVATE_FILE);
  const exists = existsSync(legacy) || existsSync(publicPath) || HQ_KEY_DUTIES.some((d) => existsSync(generationPath(dir, d)));
  if (exists && !opts.rotate) {
    throw new StationError('HQ_KEY_EXISTS', `headquarters keys already exist in ${dir}`, { hint: 'refusing to overwrite them; `hq init --rotate` adds a generation and keeps the old ones' });
  }
  const createdAt = new Date(opts.now ?? Date.now()).toISOString();
  const duties = opts.duties && opts.duties.length > 0 ? opts.duties : HQ_KEY_DUTIES;
  const files = {} as Record<HqKeyDuty, string>;
  const generations = {} as Record<HqKeyDuty, number>;
  for (const duty of HQ_KEY_DUTIES) {
    const path = generationPath(dir, duty);
    files[duty] = path;
    const had = exists ? readGenerationFile(dir, duty) : null;
    const list = (had?.generations ?? []) as (RecordKeyGenerationJson | SigningKeyGenerationJson)[];
    const next = !had || duties.includes(duty) ? [...list, generationsFrom(keys, duty, list.length + 1, createdAt)] : list;
    generations[duty] = next.length;
    if (had && next === list && existsSync(path)) continue; // not rotated and already in its own file
    const file = { format: HQ_GENERATIONS_FORMAT, version: 1, duty, generations: next };
    writeFileDurable(path, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
  }
  if (existsSync(legacy)) {
    // every key it held is now in the generation files (written durably above)
    unlinkSync(legacy);
    fsyncDir(dir);
  }
  const pub = buildHqPublic(dir, keys.publicJson.comment);
  writeFileDurable(publicPath, `${JSON.stringify(pub, null, 2)}\n`, { mode: 0o644 });
  return { privatePath: files.record, publicPath, files, generations, public: pub };
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
  const keyList = (name: 'receiptKeys' | 'opsKeys', current: KeyObject): KeyObject[] => {
    const v = o[name];
    if (v === undefined) return [current];
    if (!Array.isArray(v) || v.length === 0 || v.length > 64) throw malformed(path, `"${name}" must be a list of 1 to 64 base64 Ed25519 keys`);
    const out = v.map((x, i) => {
      const raw = keyField({ k: x }, 'k', 32, path);
      try { return ed25519PublicFromRaw(raw); } catch { throw malformed(path, `"${name}"[${i}] is not a valid Ed25519 public key`); }
    });
    const curRaw = ed25519RawPublic(current);
    if (!out.some((k) => ed25519RawPublic(k).equals(curRaw))) throw malformed(path, `"${name}" must include the current key`);
    return out;
  };
  const serial = o.serial ?? 0;
  if (typeof serial !== 'number' || !Number.isSafeInteger(serial) || serial < 0) throw malformed(path, '"serial" must be a whole number ≥ 0');
  return {
    path,
    hpkeX25519,
    xWing,
    receiptKey,
    opsKey,
    receiptKeyRaw,
    opsKeyRaw,
    keyIds: { hpkeX25519: sha(hpkeX25519), xWing: sha(xWing) },
    receiptKeys: keyList('receiptKeys', receiptKey),
    opsKeys: keyList('opsKeys', opsKey),
    serial,
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

/**
 * HQ side: the CURRENT key of every duty, from a legacy hq-private.json (its
 * path, or a directory holding it) or from the generation files in a
 * directory. For tools that need all duties at once (tests, the demo); the
 * services load only their own duty (loadRecordKeys, currentSigningKey).
 */
export function loadHqPrivateKeys(pathOrDir: string): HqPrivateKeys {
  const legacy = pathOrDir.endsWith('.json') ? pathOrDir : join(pathOrDir, HQ_PRIVATE_FILE);
  if (pathOrDir.endsWith('.json') || existsSync(legacy)) {
    let o: HqPrivateJson;
    try {
      o = JSON.parse(readFileSync(legacy, 'utf8')) as HqPrivateJson;
    } catch (e) {
      throw new StationError('HQ_PRIVATE_KEY_UNREADABLE', `cannot read headquarters private keys from ${legacy}: ${(e as Error).message.split('\n')[0].replace(/\{.*$/, '')}`, {
        hint: 'check the path and that the file is the hq-private.json written by key generation',
      });
    }
    return parseHqPrivateKeys(o, legacy);
  }
  const rec = loadRecordKeys(pathOrDir);
  const x = rec.filter((k) => k.kem === 'hpkeX25519').pop()!;
  const w = rec.filter((k) => k.kem === 'xWing').pop()!;
  const receipt = currentSigningKey(pathOrDir, 'receipt');
  const ops = currentSigningKey(pathOrDir, 'ops');
  return { hpkeX25519: x.privateKey, xWing: w.privateKey, receiptKey: receipt.privateKey, opsKey: ops.privateKey, public: parseHqPublicIdentity(buildHqPublic(pathOrDir), pathOrDir) };
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
