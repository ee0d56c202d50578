/*
 * What a log line may not carry, for the station's and headquarters' loggers alike
 * (station/log.ts, sync/hq/main.ts). It lives in config/ because both may import it.
 *
 * A field is hidden when its name (case, `_` and `-` ignored) is one of the names below
 * or ends in one of the secret suffixes, at any depth; any byte value (Buffer,
 * Uint8Array) is hidden whatever its name, because keys, images, templates and chip
 * data groups are bytes. A key's `fingerprint` is public and stays visible: the
 * biometric fields are named `fingerprints` (record), `png`, `pixels`, `template`.
 */

/** Secrets: keys, PINs, passwords, tokens and the chip's access passwords (CAN, MRZ). */
export const SECRET_FIELDS = [
  'password', 'passphrase', 'passwd', 'pin', 'pinHash', 'secret', 'token', 'key', 'privateKey', 'secretKey',
  'signingKey', 'sessionKey', 'sharedSecret', 'seed', 'kSeed', 'kEnc', 'kMac', 'ksEnc', 'ksMac', 'apiKey',
  'authorization', 'cookie', 'setCookie', 'can', 'mrz', 'mrzInfo', 'mrzLine', 'mrzLines', 'plaintext',
] as const;

/** Names that end like this are secrets too (officerPin, adminPassword, csrfToken, hpkePrivateKey …). */
export const SECRET_SUFFIXES = ['password', 'passphrase', 'secret', 'token', 'privatekey', 'secretkey', 'pin', 'pinhash'] as const;

/** Personal data: the person's identity and documents (PersonalDetails' fields and the chip's data groups). */
export const PERSONAL_FIELDS = [
  'details', 'personal', 'holder', 'surname', 'givenNames', 'fullName', 'firstName', 'lastName',
  'dateOfBirth', 'birthDate', 'dob', 'placeOfBirth', 'sex', 'nationality', 'address', 'phone', 'email',
  'documentNumber', 'nationalId', 'idNumber', 'personalNumber', 'expiry', 'expiryDate', 'dateOfExpiry',
  'dg1', 'dg2', 'dg11', 'dg12', 'dg13', 'sod',
] as const;

/** Biometrics: finger images and templates, portraits and evidence photos. */
export const BIOMETRIC_FIELDS = [
  'fingerprints', 'template', 'templates', 'minutiae', 'image', 'images', 'png', 'jpeg', 'jp2', 'wsq', 'pixels',
  'portrait', 'photo', 'face', 'evidence',
] as const;

/** Never hidden although they look like it: public key material and identifiers. */
export const PUBLIC_FIELDS = ['fingerprint', 'keyFingerprint', 'previousFingerprint', 'publicKey', 'publicKeyPem'] as const;

export const REDACTED = '[redacted]';

const norm = (k: string): string => k.toLowerCase().replace(/[-_]/g, '');
const EXACT = new Set<string>([...SECRET_FIELDS, ...PERSONAL_FIELDS, ...BIOMETRIC_FIELDS].map(norm));
const PUBLIC = new Set<string>(PUBLIC_FIELDS.map(norm));

export function isSensitiveField(name: string): boolean {
  const n = norm(name);
  if (PUBLIC.has(n)) return false;
  return EXACT.has(n) || SECRET_SUFFIXES.some((s) => n.endsWith(s));
}

const MAX_DEPTH = 8;

/**
 * A copy of `value` with sensitive fields and byte values replaced. Errors are kept as they
 * are (pino's err serializer shows message, stack and code); Dates as they are.
 */
export function redactValue(value: unknown, depth = 0, seen: WeakSet<object> = new WeakSet()): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (value instanceof Uint8Array || value instanceof ArrayBuffer || ArrayBuffer.isView(value)) return `${REDACTED} ${(value as ArrayBuffer).byteLength} bytes`;
  if (value instanceof Error || value instanceof Date) return value;
  if (seen.has(value)) return '[circular]';
  if (depth >= MAX_DEPTH) return '[too deep]';
  seen.add(value);
  if (Array.isArray(value)) return value.map((v) => redactValue(v, depth + 1, seen));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    out[k] = isSensitiveField(k) ? REDACTED : redactValue(v, depth + 1, seen);
  }
  return out;
}

/** pino `redact` paths (top level and two levels down) for child bindings, which formatters do not see. */
export function redactPaths(): string[] {
  const names = [...SECRET_FIELDS, ...PERSONAL_FIELDS, ...BIOMETRIC_FIELDS];
  return names.flatMap((k) => [k, `*.${k}`, `*.*.${k}`]);
}

/**
 * Options to spread into `pino({...})`: every log call's object goes through redactValue,
 * bindings through pino's path redaction.
 */
export function redactingLogOptions(): { redact: { paths: string[]; censor: string }; formatters: { log: (o: Record<string, unknown>) => Record<string, unknown> } } {
  return {
    redact: { paths: redactPaths(), censor: REDACTED },
    formatters: { log: (o) => redactValue(o) as Record<string, unknown> },
  };
}
