/**
 * The sealed, signed record envelope (docs/wire-format.md §4).
 *
 *   header  = magic "ESRE" | version u8 | kem_id u16 | kdf_id u16 | aead_id u16
 *             | record id (16 raw UUID bytes) | sealed_at u64 ms | hq key id (32)
 *             | station id length u8 | station id (ASCII)
 *   body    = enc length u16 | enc | ct length u32 | ct
 *   trailer = Ed25519 signature (64) over
 *             "enroll-station/record-sig/v1" 0x00 | SHA-256(header | body)
 *
 * The outbox hash of an envelope is SHA-256 of all of it (header | body |
 * signature); both digests come from one pass over the ciphertext.
 *
 * HPKE base mode, info = "enroll-station/record/v1", aad = header.
 * All integers big-endian.
 */
import { createHash, sign as edSign, verify as edVerify, type KeyObject, type webcrypto } from 'node:crypto';
import { parse as uuidParse, stringify as uuidStringify } from 'uuid';
import type { CipherSuite, SenderContext } from '@hpke/core';
import { decodeRecord, decodeRecordStrict, encodeRecord, isUuidV7, type EnrollmentRecord, type RecordFormatError } from './record';
import { isValidStationId } from '../../config/domain';
import { cipherSuite, suiteByIds, suiteInfo, type SuiteInfo, type SuiteName } from './suites';
import type { HqPrivateKeys, HqPublicIdentity, StationSigningKey } from './keys';
import { StationError } from './errors';
import type { ErrorCode } from '../../config/error-codes';
import { sealInto } from './aead';

export const ENVELOPE_MAGIC = Buffer.from('ESRE', 'ascii');
export const ENVELOPE_VERSION = 1;
export const HPKE_INFO = Buffer.from('enroll-station/record/v1', 'ascii');
export const SIG_CONTEXT = Buffer.from('enroll-station/record-sig/v1\0', 'ascii');
const FIXED_HEADER = 4 + 1 + 2 + 2 + 2 + 16 + 8 + 32 + 1; // 68
const SIG_LEN = 64;
/** Both AEADs (ChaCha20-Poly1305, AES-256-GCM) append a 16-byte tag. */
const AEAD_TAG_LEN = 16;

export interface EnvelopeHeader {
  version: number;
  kemId: number;
  kdfId: number;
  aeadId: number;
  suite: SuiteName;
  recordId: string;
  sealedAt: number;
  hqKeyId: Buffer;
  stationId: string;
}

export interface ParsedEnvelope extends EnvelopeHeader {
  headerBytes: Buffer;
  enc: Buffer;
  ct: Buffer;
  signature: Buffer;
}

function isKeyObject(k: StationSigningKey | KeyObject): k is KeyObject {
  return typeof (k as KeyObject).export === 'function' && typeof (k as KeyObject).type === 'string';
}

function wireError(code: ErrorCode, msg: string, hint?: string): StationError {
  return new StationError(code, msg, { hint });
}

export function encodeHeader(h: Omit<EnvelopeHeader, 'version' | 'suite'> & { version?: number }): Buffer {
  const sid = Buffer.from(h.stationId, 'ascii');
  const b = Buffer.alloc(FIXED_HEADER + sid.length);
  let o = 0;
  ENVELOPE_MAGIC.copy(b, o);
  o += 4;
  b.writeUInt8(h.version ?? ENVELOPE_VERSION, o);
  o += 1;
  b.writeUInt16BE(h.kemId, o);
  o += 2;
  b.writeUInt16BE(h.kdfId, o);
  o += 2;
  b.writeUInt16BE(h.aeadId, o);
  o += 2;
  Buffer.from(uuidParse(h.recordId)).copy(b, o);
  o += 16;
  b.writeBigUInt64BE(BigInt(h.sealedAt), o);
  o += 8;
  h.hqKeyId.copy(b, o);
  o += 32;
  b.writeUInt8(sid.length, o);
  o += 1;
  sid.copy(b, o);
  return b;
}

/** Parses an envelope's layout (no cryptography). Throws WIRE_ENVELOPE_MALFORMED. */
export function parseEnvelope(buf: Buffer): ParsedEnvelope {
  const bad = (what: string) => wireError('WIRE_ENVELOPE_MALFORMED', `sealed record envelope is malformed: ${what}`);
  if (buf.length < FIXED_HEADER + 2 + 4 + SIG_LEN) throw bad(`too short (${buf.length} bytes)`);
  if (!buf.subarray(0, 4).equals(ENVELOPE_MAGIC)) throw bad('bad magic (expected "ESRE")');
  const version = buf.readUInt8(4);
  if (version !== ENVELOPE_VERSION) throw bad(`unsupported format version ${version}`);
  const kemId = buf.readUInt16BE(5);
  const kdfId = buf.readUInt16BE(7);
  const aeadId = buf.readUInt16BE(9);
  const suite = suiteByIds(kemId, kdfId, aeadId);
  if (!suite) throw bad(`unknown HPKE suite kem=0x${kemId.toString(16)} kdf=0x${kdfId.toString(16)} aead=0x${aeadId.toString(16)}`);
  const recordId = uuidStringify(buf.subarray(11, 27));
  if (!isUuidV7(recordId)) throw bad('record id is not a UUIDv7');
  const sealedAt = Number(buf.readBigUInt64BE(27));
  const hqKeyId = Buffer.from(buf.subarray(35, 67));
  const sidLen = buf.readUInt8(67);
  if (sidLen < 1 || sidLen > 64) throw bad(`station id length ${sidLen} out of range`);
  let o = FIXED_HEADER + sidLen;
  if (buf.length < o + 2) throw bad('truncated header');
  const stationId = buf.subarray(FIXED_HEADER, o).toString('ascii');
  if (!isValidStationId(stationId)) throw bad('station id has invalid characters');
  const headerBytes = buf.subarray(0, o);
  const encLen = buf.readUInt16BE(o);
  o += 2;
  if (encLen !== suite.nEnc) throw bad(`encapsulated key is ${encLen} bytes, ${suite.name} uses ${suite.nEnc}`);
  if (buf.length < o + encLen + 4) throw bad('truncated enc');
  const enc = buf.subarray(o, o + encLen);
  o += encLen;
  const ctLen = buf.readUInt32BE(o);
  o += 4;
  if (buf.length !== o + ctLen + SIG_LEN) throw bad(`length mismatch (ct length ${ctLen}, total ${buf.length})`);
  if (ctLen < AEAD_TAG_LEN) throw bad(`ciphertext of ${ctLen} bytes is shorter than the ${AEAD_TAG_LEN}-byte AEAD tag`);
  const ct = buf.subarray(o, o + ctLen);
  o += ctLen;
  const signature = buf.subarray(o, o + SIG_LEN);
  return { version, kemId, kdfId, aeadId, suite: suite.name, recordId, sealedAt, hqKeyId, stationId, headerBytes, enc, ct, signature };
}

function lenU16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}
function lenU32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

/** The exact bytes the station signs: context || SHA-256(header || body). */
export function signedMessage(headerBytes: Buffer, enc: Buffer, ct: Buffer): Buffer {
  const h = createHash('sha256').update(headerBytes).update(lenU16(enc.length)).update(enc).update(lenU32(ct.length)).update(ct);
  return Buffer.concat([SIG_CONTEXT, h.digest()]);
}

export interface SealOptions {
  suite: SuiteName;
  hq: HqPublicIdentity;
  signingKey: StationSigningKey | KeyObject;
  /** Defaults to Date.now(). */
  sealedAt?: number;
  /** TEST VECTORS ONLY: fixed ephemeral key material (HPKE ekm) to make sealing deterministic. */
  testEphemeral?: Uint8Array;
}

export interface SealedRecord {
  recordId: string;
  envelope: Buffer;
  /** Lower-case hex SHA-256 of `envelope`. */
  sha256: string;
  sealedAt: number;
  suite: SuiteName;
}

/**
 * Seals records for headquarters: keeps the deserialized HQ public key and the
 * cipher suite between calls. One Sealer per (suite, HQ identity, station key).
 */
export class Sealer {
  private readonly info: SuiteInfo;
  private readonly suite: CipherSuite;
  private recipient: webcrypto.CryptoKey | null = null;
  private nextContext: Promise<SenderContext> | null = null;
  private preparing = false;
  private readonly hqKeyId: Buffer;
  private readonly hqKeyBytes: Buffer;
  private readonly privateKey: KeyObject;

  constructor(
    suite: SuiteName,
    hq: HqPublicIdentity,
    signingKey: StationSigningKey | KeyObject,
    impl: 'fast' | 'reference' = 'fast',
  ) {
    this.info = suiteInfo(suite);
    this.suite = cipherSuite(this.info.name, impl);
    this.hqKeyBytes = hq[this.info.hqKey];
    this.hqKeyId = hq.keyIds[this.info.hqKey];
    this.privateKey = isKeyObject(signingKey) ? signingKey : signingKey.privateKey;
  }

  /**
   * The HPKE sender context (fresh ephemeral key, encapsulation, key schedule)
   * does not depend on the record, so the next one is prepared ahead: right
   * after a seal, on the next turn of the event loop (while the caller waits
   * for the record to be stored), so a seal usually only runs the AEAD.
   */
  private takeContext(recipient: webcrypto.CryptoKey): Promise<SenderContext> {
    const ready = this.nextContext ?? this.newContext(recipient);
    this.nextContext = null;
    return ready;
  }

  private prepareNext(recipient: webcrypto.CryptoKey): void {
    if (this.nextContext || this.preparing) return;
    this.preparing = true;
    setImmediate(() => {
      this.preparing = false;
      this.nextContext ??= this.newContext(recipient);
    });
  }

  private newContext(recipient: webcrypto.CryptoKey): Promise<SenderContext> {
    const p = this.suite.createSenderContext({ recipientPublicKey: recipient, info: HPKE_INFO } as never);
    p.catch(() => {}); // a failure surfaces when this context is taken
    return p;
  }

  get suiteName(): SuiteName {
    return this.info.name;
  }

  async seal(record: EnrollmentRecord, opts: { sealedAt?: number; testEphemeral?: Uint8Array } = {}): Promise<SealedRecord> {
    const sealedAt = opts.sealedAt ?? Date.now();
    const plaintext = encodeRecord(record);
    try {
      return await this.sealBytes(record.recordId, record.stationId, plaintext, sealedAt, opts.testEphemeral);
    } finally {
      plaintext.fill(0);
    }
  }

  /** Seals an already-serialized record (the benchmark uses this to separate costs). */
  async sealBytes(recordId: string, stationId: string, plaintext: Uint8Array, sealedAt: number, testEphemeral?: Uint8Array): Promise<SealedRecord> {
    if (!isUuidV7(recordId)) throw wireError('WIRE_BAD_RECORD', 'record id is not a lower-case UUIDv7');
    if (!isValidStationId(stationId)) throw wireError('WIRE_BAD_RECORD', 'station id must be 1..64 chars [A-Za-z0-9._-]');
    if (!this.recipient) this.recipient = (await this.suite.kem.deserializePublicKey(this.hqKeyBytes)) as webcrypto.CryptoKey;
    const recipient = this.recipient;
    const headerBytes = encodeHeader({ kemId: this.info.kemId, kdfId: this.info.kdfId, aeadId: this.info.aeadId, recordId, sealedAt, hqKeyId: this.hqKeyId, stationId });
    // Hand the library the exact ArrayBuffer when we can: it copies views, and a
    // 400 KB copy per record is measurable garbage.
    const ptArg = plaintext.byteOffset === 0 && plaintext.byteLength === plaintext.buffer.byteLength ? plaintext.buffer : plaintext;
    let ctx: SenderContext;
    if (testEphemeral) {
      ctx = await this.suite.createSenderContext({ recipientPublicKey: recipient, info: HPKE_INFO, ekm: testEphemeral } as never);
    } else {
      try {
        ctx = await this.takeContext(recipient);
      } finally {
        this.prepareNext(recipient);
      }
    }
    // The envelope is laid out first and the AEAD writes the ciphertext straight
    // into it (sealInto); the library's own AEADs return it and it is copied in.
    const encB = Buffer.from(ctx.enc);
    const ctLength = plaintext.byteLength + this.suite.aead.tagSize;
    const ctAt = headerBytes.length + 2 + encB.length + 4;
    const envelope = Buffer.allocUnsafe(ctAt + ctLength + SIG_LEN);
    let o = headerBytes.copy(envelope, 0);
    o = envelope.writeUInt16BE(encB.length, o);
    o += encB.copy(envelope, o);
    envelope.writeUInt32BE(ctLength, o);
    const wroteInPlace = ptArg instanceof ArrayBuffer ? sealInto(ptArg, envelope, ctAt) : () => false;
    // Each context seals exactly one message (sequence number 0), as single-shot HPKE does.
    const returned = await ctx.seal(ptArg as ArrayBuffer, headerBytes);
    if (!wroteInPlace()) {
      if (returned.byteLength !== ctLength) throw wireError('WIRE_SEAL_FAILED', `HPKE returned ${returned.byteLength} bytes of ciphertext, expected ${ctLength}`);
      envelope.set(new Uint8Array(returned), ctAt);
    }
    // One pass over the ciphertext: the running hash of header||body is copied
    // for the signature, then continued over the signature for the outbox hash.
    const h = createHash('sha256').update(envelope.subarray(0, ctAt + ctLength));
    const signature = edSign(null, Buffer.concat([SIG_CONTEXT, h.copy().digest()]), this.privateKey);
    signature.copy(envelope, ctAt + ctLength);
    const sha256 = h.update(signature).digest('hex');
    return { recordId, envelope, sha256, sealedAt, suite: this.info.name };
  }
}

/** One-shot seal (tests, tools). The vault keeps a Sealer instead. */
export async function sealRecord(record: EnrollmentRecord, opts: SealOptions): Promise<SealedRecord> {
  return new Sealer(opts.suite, opts.hq, opts.signingKey).seal(record, { sealedAt: opts.sealedAt, testEphemeral: opts.testEphemeral });
}

/**
 * Checks layout and the station's signature — what headquarters does BEFORE
 * decrypting anything. Throws WIRE_BAD_SIGNATURE / WIRE_ENVELOPE_MALFORMED.
 */
export function verifyEnvelope(envelope: Buffer, stationPublicKey: KeyObject): ParsedEnvelope {
  const p = parseEnvelope(envelope);
  const ok = edVerify(null, signedMessage(p.headerBytes, p.enc, p.ct), stationPublicKey, p.signature);
  if (!ok) throw wireError('WIRE_BAD_SIGNATURE', `record ${p.recordId}: station signature does not verify`, 'reject the record; it was altered or signed by another key');
  return p;
}

/**
 * One pass over an envelope for a receiver: parses it, and hashes it once for
 * both digests it needs — the signed message (SHA-256 of everything before the
 * signature, which is exactly header‖len‖enc‖len‖ct) and the SHA-256 of the
 * whole envelope (that prefix continued over the signature), the outbox hash.
 * Throws WIRE_ENVELOPE_MALFORMED. Check the signature with `checkSignature`.
 */
export function digestEnvelope(envelope: Buffer): { parsed: ParsedEnvelope; message: Buffer; sha256: string } {
  const parsed = parseEnvelope(envelope);
  const h = createHash('sha256').update(envelope.subarray(0, envelope.length - SIG_LEN));
  const message = Buffer.concat([SIG_CONTEXT, h.copy().digest()]);
  const sha256 = h.update(parsed.signature).digest('hex');
  return { parsed, message, sha256 };
}

/** The station signature over a digested envelope. */
export function checkSignature(d: { parsed: ParsedEnvelope; message: Buffer }, stationPublicKey: KeyObject): boolean {
  return edVerify(null, d.message, stationPublicKey, d.parsed.signature);
}

/**
 * Headquarters side: verifies the signature, opens the HPKE ciphertext and
 * checks the record's ids match its header. `impl: 'reference'` uses the pure-JS
 * @hpke packages (interop checks).
 */
export async function openEnvelope(envelope: Buffer, keys: { stationPublicKey: KeyObject; hq: HqPrivateKeys }, impl: 'fast' | 'reference' = 'fast'): Promise<{ header: ParsedEnvelope; record: EnrollmentRecord }> {
  const p = verifyEnvelope(envelope, keys.stationPublicKey);
  const info = suiteInfo(p.suite);
  const expectedKeyId = keys.hq.public.keyIds[info.hqKey];
  if (!p.hqKeyId.equals(expectedKeyId)) {
    throw wireError('WIRE_WRONG_HQ_KEY', `record ${p.recordId} was sealed to another headquarters key (key id ${p.hqKeyId.toString('hex').slice(0, 16)})`);
  }
  const suite = cipherSuite(info.name, impl);
  const kp = await suite.kem.deserializePrivateKey(keys.hq[info.hqKey]);
  const pub = await suite.kem.deserializePublicKey(keys.hq.public[info.hqKey]);
  let pt: ArrayBuffer;
  try {
    pt = await suite.open({ recipientKey: { privateKey: kp, publicKey: pub }, enc: p.enc, info: HPKE_INFO } as never, p.ct, p.headerBytes);
  } catch {
    throw wireError('WIRE_OPEN_FAILED', `record ${p.recordId}: HPKE open failed (wrong key or altered ciphertext)`);
  }
  const record = decodeRecord(new Uint8Array(pt));
  if (record.recordId !== p.recordId || record.stationId !== p.stationId) {
    throw wireError('WIRE_ID_MISMATCH', `record ${p.recordId}: ids inside the ciphertext do not match the header`);
  }
  return { header: p, record };
}

/** One headquarters KEM private key, as a key generation file holds it. */
export interface HqRecordKey {
  /** Key generation number (1, 2, …); a generation holds one X25519 and one X-Wing key. */
  generation: number;
  kem: 'hpkeX25519' | 'xWing';
  /** SHA-256 of the public key: the HQ key id in every envelope sealed to it. */
  keyId: Buffer;
  /** X25519: the 32-byte private key; X-Wing: the 32-byte seed. */
  privateKey: Buffer;
  publicKey: Buffer;
}

/** Why a signature-checked envelope could not be opened (docs/wire-format.md §7 reasons). */
export class OpenError extends Error {
  constructor(readonly reason: 'unknown-hq-key' | 'malformed' | 'undecryptable' | 'not-canonical' | 'record-invalid' | 'id-mismatch', message: string) {
    super(message);
    this.name = 'OpenError';
  }
}

/**
 * Opens envelopes with headquarters' record keys of every generation: picks the
 * key by the header's HQ key id, runs HPKE, then decodes the plaintext strictly
 * and checks it against its header (decodeRecordStrict, ids). Keeps each key's
 * deserialized form, so a record costs one decapsulation and one AEAD pass.
 * Does not check the station signature: callers verify it first.
 */
export class RecordOpener {
  private readonly byId = new Map<string, { key: HqRecordKey; pair?: Promise<webcrypto.CryptoKeyPair> }>();
  private readonly suites = new Map<SuiteName, CipherSuite>();

  constructor(keys: HqRecordKey[] = [], private readonly impl: 'fast' | 'reference' = 'fast') {
    this.setKeys(keys);
  }

  /** Replaces the key set (a reloaded key generation file); keys kept keep their cached form. */
  setKeys(keys: HqRecordKey[]): void {
    const next = new Map<string, { key: HqRecordKey; pair?: Promise<webcrypto.CryptoKeyPair> }>();
    for (const k of keys) {
      const id = k.keyId.toString('hex');
      const had = this.byId.get(id);
      next.set(id, had && had.key.privateKey.equals(k.privateKey) ? had : { key: k });
    }
    this.byId.clear();
    for (const [id, v] of next) this.byId.set(id, v);
  }

  has(keyId: Buffer): boolean {
    return this.byId.has(keyId.toString('hex'));
  }

  /** Key generation of the key an envelope names, or null when none is loaded. */
  generationOf(keyId: Buffer): number | null {
    return this.byId.get(keyId.toString('hex'))?.key.generation ?? null;
  }

  private suite(name: SuiteName): CipherSuite {
    let s = this.suites.get(name);
    if (!s) {
      s = cipherSuite(name, this.impl);
      this.suites.set(name, s);
    }
    return s;
  }

  /** The plaintext bytes (caller zeroes them when done). Throws OpenError. */
  async plaintext(p: ParsedEnvelope): Promise<Uint8Array> {
    const entry = this.byId.get(p.hqKeyId.toString('hex'));
    if (!entry) throw new OpenError('unknown-hq-key', `record ${p.recordId} was sealed to headquarters key id ${p.hqKeyId.toString('hex').slice(0, 16)}…, which is not among the loaded key generations`);
    const info = suiteInfo(p.suite);
    if (entry.key.kem !== info.hqKey) throw new OpenError('malformed', `record ${p.recordId}: its key id names the ${entry.key.kem} key of generation ${entry.key.generation}, but its suite ${p.suite} uses ${info.hqKey}`);
    const suite = this.suite(info.name);
    if (!entry.pair) {
      const k = entry.key;
      entry.pair = (async () => ({
        privateKey: (await suite.kem.deserializePrivateKey(k.privateKey)) as webcrypto.CryptoKey,
        publicKey: (await suite.kem.deserializePublicKey(k.publicKey)) as webcrypto.CryptoKey,
      }))();
      entry.pair.catch(() => { entry.pair = undefined; });
    }
    const recipientKey = await entry.pair;
    try {
      return new Uint8Array(await suite.open({ recipientKey, enc: p.enc, info: HPKE_INFO } as never, p.ct, p.headerBytes));
    } catch {
      throw new OpenError('undecryptable', `record ${p.recordId}: HPKE open failed with generation ${entry.key.generation} (ciphertext or encapsulated key altered)`);
    }
  }

  /** Opens and validates: the record, or OpenError naming the reason. */
  async open(p: ParsedEnvelope): Promise<{ record: EnrollmentRecord; generation: number }> {
    const pt = await this.plaintext(p);
    try {
      let record: EnrollmentRecord;
      try {
        record = decodeRecordStrict(pt);
      } catch (e) {
        const err = e as RecordFormatError;
        throw new OpenError(err.code ?? 'record-invalid', `record ${p.recordId}: ${err.message}`);
      }
      if (record.recordId !== p.recordId || record.stationId !== p.stationId) {
        throw new OpenError('id-mismatch', `record ${p.recordId}: the ids inside the ciphertext (${record.recordId} of ${record.stationId}) differ from its header`);
      }
      return { record, generation: this.generationOf(p.hqKeyId)! };
    } finally {
      pt.fill(0);
    }
  }

  /** Opens and validates, keeping nothing: what the ingest needs before a receipt. */
  async check(p: ParsedEnvelope): Promise<{ generation: number }> {
    const { generation, record } = await this.open(p);
    wipeRecord(record);
    return { generation };
  }
}

/** Zeroes the byte strings of an opened record (biometrics) once it is no longer needed. */
export function wipeRecord(r: EnrollmentRecord): void {
  for (const f of r.fingerprints) if (f.status === 'captured') f.png.fill(0);
  r.portrait?.jpeg.fill(0);
  if (r.chip) {
    r.chip.dg1.fill(0);
    r.chip.dg2?.fill(0);
    r.chip.sod.fill(0);
  }
}
