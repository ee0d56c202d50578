/**
 * Ed25519-signed JSON messages (receipts, commands, command results).
 * The signature covers the exact UTF-8 bytes of `body` as sent, so no JSON
 * canonicalisation is needed: the receiver verifies first, then parses.
 */
import { createHash, createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { checkPayload, type AuditAckBody, type TimeBody, type CommandBody, type CommandResultBody, type ReceiptBody, type SignedMessage } from './payloads';

export type KeyInput = KeyObject | string | Buffer;

/** Accepts a KeyObject, PEM text, base64/hex DER (SPKI) or a raw 32-byte Ed25519 public key. */
export function toPublicKey(k: KeyInput): KeyObject {
  if (typeof k === 'object' && !Buffer.isBuffer(k)) {
    return k.type === 'private' ? createPublicKey(k) : k;
  }
  if (typeof k === 'string') {
    const s = k.trim();
    if (s.includes('-----BEGIN')) return createPublicKey(s);
    const buf = /^[0-9a-fA-F]+$/.test(s) && s.length % 2 === 0 ? Buffer.from(s, 'hex') : Buffer.from(s, 'base64');
    return toPublicKey(buf);
  }
  if (k.length === 32) {
    return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: k.toString('base64url') }, format: 'jwk' });
  }
  return createPublicKey({ key: k, format: 'der', type: 'spki' });
}

/** Accepts a KeyObject, PEM text or base64 PKCS#8 DER. */
export function toPrivateKey(k: KeyInput): KeyObject {
  if (typeof k === 'object' && !Buffer.isBuffer(k)) return k;
  if (typeof k === 'string') {
    const s = k.trim();
    if (s.includes('-----BEGIN')) return createPrivateKey(s);
    return createPrivateKey({ key: Buffer.from(s, 'base64'), format: 'der', type: 'pkcs8' });
  }
  if (k.includes(Buffer.from('-----BEGIN'))) return createPrivateKey(k);
  return createPrivateKey({ key: k, format: 'der', type: 'pkcs8' });
}

export function rawPublicKey(k: KeyObject): Buffer {
  const jwk = toPublicKey(k).export({ format: 'jwk' }) as { x?: string };
  if (!jwk.x) throw new Error('not an Ed25519 key');
  return Buffer.from(jwk.x, 'base64url');
}

/** Key id: first 16 hex chars of SHA-256 over the raw public key. */
export function keyId(k: KeyObject): string {
  return createHash('sha256').update(rawPublicKey(k)).digest('hex').slice(0, 16);
}

export function signMessage(body: object, privateKey: KeyObject, kid?: string): SignedMessage {
  const text = JSON.stringify(body);
  const sig = sign(null, Buffer.from(text, 'utf8'), privateKey).toString('base64');
  return { v: 1, body: text, sig, kid: kid ?? keyId(privateKey) };
}

export function encodeSigned(m: SignedMessage): Buffer {
  return Buffer.from(JSON.stringify(m), 'utf8');
}

export type VerifyResult<T> = { ok: true; body: T; kid: string } | { ok: false; reason: string };

/** A set of trusted Ed25519 public keys, indexed by key id. */
export class TrustedKeys {
  private readonly keys = new Map<string, KeyObject>();
  constructor(keys: KeyInput[] = []) {
    for (const k of keys) this.add(k);
  }
  add(k: KeyInput): string {
    const pub = toPublicKey(k);
    const id = keyId(pub);
    this.keys.set(id, pub);
    return id;
  }
  get size(): number { return this.keys.size; }
  get(kid: string): KeyObject | undefined { return this.keys.get(kid); }
  ids(): string[] { return [...this.keys.keys()]; }
}

/** Parses and verifies a SignedMessage; never throws. */
export function verifySigned<T>(payload: Buffer | string, trusted: TrustedKeys): VerifyResult<T> {
  let m: unknown;
  try {
    m = JSON.parse(typeof payload === 'string' ? payload : payload.toString('utf8'));
  } catch {
    return { ok: false, reason: 'not JSON' };
  }
  if (!m || typeof m !== 'object') return { ok: false, reason: 'not an object' };
  const loose = m as Partial<SignedMessage>;
  if (typeof loose.sig === 'string' && loose.sig.length === 0) return { ok: false, reason: 'unsigned' };
  if (loose.v !== 1 || typeof loose.body !== 'string' || typeof loose.sig !== 'string' || typeof loose.kid !== 'string') {
    return { ok: false, reason: 'missing body/sig/kid' };
  }
  const checked = checkPayload('signed', m);
  if (!checked.ok) return { ok: false, reason: `malformed signed message: ${checked.error}` };
  const sm = checked.value;
  const key = trusted.get(sm.kid);
  if (!key) return { ok: false, reason: `unknown signing key ${sm.kid}` };
  let good: boolean;
  try {
    good = verify(null, Buffer.from(sm.body, 'utf8'), key, Buffer.from(sm.sig, 'base64'));
  } catch {
    good = false;
  }
  if (!good) return { ok: false, reason: 'bad signature' };
  try {
    const body = JSON.parse(sm.body) as T;
    if (!body || typeof body !== 'object') return { ok: false, reason: 'body is not an object' };
    return { ok: true, body, kid: sm.kid };
  } catch {
    return { ok: false, reason: 'body is not JSON' };
  }
}

/** Which payload schema a signed body's `type` selects. */
const BODY_KINDS = { receipt: 'receipt', 'audit-ack': 'auditAck', time: 'time', command: 'command', 'command-result': 'commandResult' } as const;
type BodyType = keyof typeof BODY_KINDS;
interface BodyTypes {
  receipt: ReceiptBody;
  'audit-ack': AuditAckBody;
  time: TimeBody;
  command: CommandBody;
  'command-result': CommandResultBody;
}

/**
 * Verifies a signed message, then validates its body against the schema its
 * `type` names, which must be one of `accept`. Never throws; the reason names
 * the first problem (signature first: nothing in an unverified body is looked at).
 */
export function verifySignedBody<T extends BodyType>(payload: Buffer | string, trusted: TrustedKeys, accept: readonly T[]): { ok: true; body: BodyTypes[T]; kid: string } | { ok: false; reason: string } {
  const v = verifySigned<{ type?: unknown }>(payload, trusted);
  if (!v.ok) return v;
  const type = v.body.type;
  if (typeof type !== 'string' || !(accept as readonly string[]).includes(type)) {
    return { ok: false, reason: `body type ${JSON.stringify(type).slice(0, 40)} is not one of ${accept.join(', ')}` };
  }
  const checked = checkPayload(BODY_KINDS[type as T], v.body);
  if (!checked.ok) return { ok: false, reason: `malformed ${type}: ${checked.error}` };
  return { ok: true, body: checked.value as unknown as BodyTypes[T], kid: v.kid };
}
