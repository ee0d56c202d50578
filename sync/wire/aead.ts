/**
 * HPKE AEAD primitives backed by Node's OpenSSL (node:crypto), plugged into
 * @hpke/core's CipherSuite through its public AeadInterface.
 *
 * Why: @hpke/chacha20poly1305 is a pure-JavaScript ChaCha20-Poly1305 (noble);
 * on a 400 KB record it costs ~10× what OpenSSL does and would dominate the
 * seal. The algorithm, key, nonce and tag layout are identical (RFC 8439 /
 * RFC 9180 §7.3), so the bytes are the same: test/wire checks that records
 * sealed with these open with the library's own AEADs and vice versa.
 * Input is fed in 64 KiB slices (one huge update() is slowed by allocation).
 *
 * A caller that builds a larger message around the ciphertext (the sealed
 * envelope) can ask for it to be written in place: `sealInto(plaintext, out,
 * offset)` before the library's seal of that exact plaintext ArrayBuffer makes
 * the AEAD write ciphertext‖tag into `out` at `offset` and hand the library
 * an empty result. This saves a copy of the whole ciphertext per record.
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { AeadId, OpenError, type AeadEncryptionContext, type AeadInterface } from '@hpke/core';

const SLICE = 64 * 1024;
const TAG = 16;

type Bytes = ArrayBufferLike | ArrayBufferView;

function view(b: Bytes): Uint8Array {
  if (ArrayBuffer.isView(b)) return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  return new Uint8Array(b);
}

type Algo = 'chacha20-poly1305' | 'aes-256-gcm';

/** Runs input through the cipher in SLICE-sized updates, writing the output into `o`; returns bytes written. */
function pump(c: { update(b: Uint8Array): Buffer; final(): Buffer }, input: Uint8Array, o: Uint8Array): number {
  let w = 0;
  for (let i = 0; i < input.length; i += SLICE) {
    const part = c.update(input.subarray(i, Math.min(i + SLICE, input.length)));
    o.set(part, w);
    w += part.length;
  }
  const fin = c.final();
  o.set(fin, w);
  return w + fin.length;
}

/** Where the seal of a given plaintext buffer writes its output (see `sealInto`). */
const targets = new WeakMap<object, { out: Uint8Array; offset: number }>();

/**
 * The next seal of exactly `plaintext` (the same ArrayBuffer) writes its
 * ciphertext and tag into `out` at `offset` and returns an empty ArrayBuffer.
 * Returns a function that tells whether that happened (and forgets the request).
 */
export function sealInto(plaintext: ArrayBuffer, out: Uint8Array, offset: number): () => boolean {
  targets.set(plaintext, { out, offset });
  return () => !targets.delete(plaintext);
}

class NodeAeadContext implements AeadEncryptionContext {
  private readonly key: Buffer;
  constructor(private readonly algo: Algo, key: Bytes) {
    this.key = Buffer.from(view(key));
  }

  async seal(iv: Bytes, data: Bytes, aad: Bytes): Promise<ArrayBuffer> {
    const pt = view(data);
    const c = createCipheriv(this.algo as 'chacha20-poly1305', this.key, view(iv), { authTagLength: TAG });
    c.setAAD(view(aad), { plaintextLength: pt.length });
    const target = ArrayBuffer.isView(data) ? undefined : targets.get(data);
    if (target) {
      targets.delete(data);
      const o = target.out.subarray(target.offset, target.offset + pt.length + TAG);
      if (o.length !== pt.length + TAG) throw new Error('sealInto: the output buffer is too small');
      const w = pump(c, pt, o);
      o.set(c.getAuthTag(), w);
      return new ArrayBuffer(0);
    }
    const out = new ArrayBuffer(pt.length + TAG);
    const o = new Uint8Array(out);
    const w = pump(c, pt, o);
    o.set(c.getAuthTag(), w);
    return out;
  }

  async open(iv: Bytes, data: Bytes, aad: Bytes): Promise<ArrayBuffer> {
    const ct = view(data);
    if (ct.length < TAG) throw new OpenError('ciphertext shorter than the tag');
    const body = ct.subarray(0, ct.length - TAG);
    const d = createDecipheriv(this.algo as 'chacha20-poly1305', this.key, view(iv), { authTagLength: TAG });
    d.setAAD(view(aad), { plaintextLength: body.length });
    d.setAuthTag(ct.subarray(ct.length - TAG));
    const out = new ArrayBuffer(body.length);
    const o = new Uint8Array(out);
    try {
      pump(d, body, o);
    } catch (e) {
      o.fill(0);
      throw new OpenError(e);
    }
    return out;
  }
}

export class NodeChacha20Poly1305 implements AeadInterface {
  readonly id: AeadId = AeadId.Chacha20Poly1305;
  readonly keySize = 32;
  readonly nonceSize = 12;
  readonly tagSize = TAG;
  createEncryptionContext(key: Bytes): AeadEncryptionContext {
    return new NodeAeadContext('chacha20-poly1305', key);
  }
}

export class NodeAes256Gcm implements AeadInterface {
  readonly id: AeadId = AeadId.Aes256Gcm;
  readonly keySize = 32;
  readonly nonceSize = 12;
  readonly tagSize = TAG;
  createEncryptionContext(key: Bytes): AeadEncryptionContext {
    return new NodeAeadContext('aes-256-gcm', key);
  }
}
