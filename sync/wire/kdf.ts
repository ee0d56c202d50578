/**
 * HKDF-SHA256 for HPKE computed synchronously by OpenSSL (node:crypto)
 * instead of through WebCrypto's asynchronous thread-pool round trips (each
 * HMAC there costs ~0.1 ms of scheduling for microseconds of work). Same
 * algorithm (RFC 5869), same labels: it subclasses @hpke/core's HkdfSha256 and
 * only replaces the three raw primitives. Byte compatibility is checked in
 * test/wire against the library's own implementation.
 */
import { createHmac, hkdfSync } from 'node:crypto';
import { DhkemX25519HkdfSha256, HkdfSha256 } from '@hpke/core';

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
    return hkdfSync('sha256', u8(ikm), u8(salt), u8(info), len);
  }
}

/** DHKEM(X25519, HKDF-SHA256) from @hpke/core with its internal HKDF replaced by FastHkdfSha256. */
export class FastDhkemX25519HkdfSha256 extends DhkemX25519HkdfSha256 {
  constructor() {
    super();
    const kdf = new FastHkdfSha256();
    // suite_id for the KEM's own labels: "KEM" || I2OSP(kem_id, 2)  (RFC 9180 §4.1)
    kdf.init(new Uint8Array([0x4b, 0x45, 0x4d, 0x00, 0x20]));
    this._kdf = kdf;
  }
}
