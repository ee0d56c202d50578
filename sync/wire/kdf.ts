/**
 * HKDF-SHA256 for HPKE computed synchronously by OpenSSL (node:crypto)
 * instead of through WebCrypto's asynchronous thread-pool round trips (each
 * HMAC there costs ~0.1 ms of scheduling for microseconds of work). Same
 * algorithm (RFC 5869), same labels: it subclasses @hpke/core's HkdfSha256 and
 * only replaces the three raw primitives. Byte compatibility is checked in
 * test/wire against the library's own implementation.
 */
import { createHmac, createPublicKey, diffieHellman, generateKeyPairSync, type KeyObject, type webcrypto } from 'node:crypto';
import { DhkemX25519HkdfSha256, HkdfSha256, type SenderContextParams } from '@hpke/core';

type Bytes = ArrayBufferLike | ArrayBufferView;

function u8(b: Bytes): Uint8Array {
  if (ArrayBuffer.isView(b)) return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  return new Uint8Array(b);
}

function toArrayBuffer(b: Buffer | Uint8Array): ArrayBuffer {
  const out = new ArrayBuffer(b.length);
  new Uint8Array(out).set(b);
  return out;
}

export class FastHkdfSha256 extends HkdfSha256 {
  override async extract(salt: Bytes, ikm: Bytes): Promise<ArrayBuffer> {
    const s = u8(salt);
    const key = s.byteLength === 0 ? Buffer.alloc(32) : s;
    if (key.byteLength !== 32) throw new Error('The salt length must be the same as the hashSize');
    return toArrayBuffer(createHmac('sha256', key).update(u8(ikm)).digest());
  }

  override async expand(prk: Bytes, info: Bytes, len: number): Promise<ArrayBuffer> {
    if (len > 255 * 32) throw new Error('Entropy limit reached');
    const key = u8(prk);
    const inf = u8(info);
    const out = Buffer.alloc(len);
    let prev: Buffer = Buffer.alloc(0);
    for (let i = 1, cur = 0; cur < len; i++) {
      prev = createHmac('sha256', key).update(prev).update(inf).update(Buffer.from([i])).digest();
      cur += prev.copy(out, cur, 0, Math.min(prev.length, len - cur));
    }
    return toArrayBuffer(out);
  }

  override async extractAndExpand(salt: Bytes, ikm: Bytes, info: Bytes, len: number): Promise<ArrayBuffer> {
    // Two HMACs; node's hkdfSync wraps the key in a KeyObject and runs a job per call, ~3× slower.
    return this.expand(await this.extract(salt, ikm), info, len);
  }
}

/**
 * The X25519 base point (u = 9) as a public key: X25519(k, 9) is k's public key
 * (RFC 7748 §6.1), so the ephemeral public key comes out of a Diffie-Hellman
 * call instead of a key export. Exporting a key fresh from generateKeyPairSync
 * can hang the thread for good on Node 20: the export holds the key's mutex
 * while it allocates the JWK strings; if that allocation runs a garbage
 * collection which finalizes the (already unreachable) key-generation job, the
 * job's destructor waits for the same mutex. Seen here as a vault benchmark
 * that stopped forever (gdb: ExportJWKEdKey → GC → ~KeyGenJob → mutex lock);
 * a loop of generate + export hangs within some 4,000–40,000 rounds, while the
 * same loop with diffieHellman in place of the export ran 190,000 rounds
 * without hanging (test/wire: "never hang").
 */
const X25519_BASE_POINT = createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: Buffer.concat([Buffer.from([9]), Buffer.alloc(31)]).toString('base64url') }, format: 'jwk' });

const LABEL_EAE_PRK = new TextEncoder().encode('eae_prk');
const LABEL_SHARED_SECRET = new TextEncoder().encode('shared_secret');

/**
 * DHKEM(X25519, HKDF-SHA256) from @hpke/core, with two shortcuts that keep
 * the bytes identical:
 * - its internal HKDF is FastHkdfSha256;
 * - the common sender path (base mode, random ephemeral key) runs the X25519
 *   steps with node:crypto's synchronous KeyObject API instead of four
 *   WebCrypto thread-pool round trips (keygen, two raw exports, deriveBits),
 *   then derives the shared secret with the library's own labelled
 *   ExtractAndExpand (RFC 9180 §4.1 Encap). Deterministic (`ekm`), auth-mode
 *   and recipient paths stay entirely the library's.
 */
export class FastDhkemX25519HkdfSha256 extends DhkemX25519HkdfSha256 {
  private readonly rawPublic = new WeakMap<object, { raw: Buffer; key: KeyObject }>();

  constructor() {
    super();
    const kdf = new FastHkdfSha256();
    // suite_id for the KEM's own labels: "KEM" || I2OSP(kem_id, 2)  (RFC 9180 §4.1)
    kdf.init(new Uint8Array([0x4b, 0x45, 0x4d, 0x00, 0x20]));
    this._kdf = kdf;
  }

  override async deserializePublicKey(key: Bytes): Promise<webcrypto.CryptoKey> {
    const k = (await super.deserializePublicKey(key)) as webcrypto.CryptoKey;
    const raw = Buffer.from(u8(key));
    this.rawPublic.set(k, { raw, key: createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: raw.toString('base64url') }, format: 'jwk' }) });
    return k;
  }

  override async encap(params: SenderContextParams): Promise<{ sharedSecret: ArrayBuffer; enc: ArrayBuffer }> {
    const known = params.ekm === undefined && params.senderKey === undefined ? this.rawPublic.get(params.recipientPublicKey) : undefined;
    if (!known) return super.encap(params);
    const { privateKey: eph } = generateKeyPairSync('x25519');
    const dh = diffieHellman({ privateKey: eph, publicKey: known.key });
    if (dh.every((b) => b === 0)) throw new Error('X25519 shared secret is all zero');
    const enc = diffieHellman({ privateKey: eph, publicKey: X25519_BASE_POINT }); // the ephemeral public key; see X25519_BASE_POINT
    const kemContext = Buffer.concat([enc, known.raw]);
    const labeledIkm = this._kdf.buildLabeledIkm(LABEL_EAE_PRK, dh);
    const labeledInfo = this._kdf.buildLabeledInfo(LABEL_SHARED_SECRET, kemContext, 32);
    const sharedSecret = await this._kdf.extractAndExpand(new ArrayBuffer(0), labeledIkm, labeledInfo, 32);
    dh.fill(0);
    return { sharedSecret, enc: toArrayBuffer(enc) };
  }
}
