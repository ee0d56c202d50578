/**
 * ICAO 9303-11 BAC cryptography: key derivation, two-key 3DES, ISO 9797-1
 * padding and the retail MAC (MAC algorithm 3 with DES).
 *
 * Node 20's OpenSSL 3 has no single-DES cipher, so single DES is done with
 * two-key 3DES and the key doubled (K‖K): E(K, D(K, E(K, x))) = E(K, x).
 */
import { createCipheriv, createDecipheriv, createHash } from 'node:crypto';

const ZERO_IV = Buffer.alloc(8);

/** ICAO 9303 check digit: weights 7,3,1; 0-9 = value, A-Z = 10-35, '<' = 0. */
export function checkDigit(s: string): number {
  const weights = [7, 3, 1];
  let sum = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    let v: number;
    if (c >= 48 && c <= 57) v = c - 48;
    else if (c >= 65 && c <= 90) v = c - 55;
    else if (c === 60) v = 0;
    else throw new RangeError(`character "${s[i]}" is not allowed in an MRZ field`);
    sum += v * weights[i % 3]!;
  }
  return sum % 10;
}

/** Sets the odd-parity bit of each DES key byte. */
export function adjustParity(key: Buffer): Buffer {
  const out = Buffer.from(key);
  for (let i = 0; i < out.length; i++) {
    const b = out[i]! & 0xfe;
    let ones = 0;
    for (let x = b; x; x >>= 1) ones += x & 1;
    out[i] = b | (ones % 2 === 0 ? 1 : 0);
  }
  return out;
}

export function sha1(...parts: Buffer[]): Buffer {
  const h = createHash('sha1');
  for (const p of parts) h.update(p);
  return h.digest();
}

/** K_seed = first 16 bytes of SHA-1(MRZ information). */
export function kSeedFromMrzInfo(mrzInfo: string): Buffer {
  return sha1(Buffer.from(mrzInfo, 'ascii')).subarray(0, 16);
}

/** Key for counter c (1 = encryption, 2 = MAC) from a key seed. */
export function deriveKey(seed: Buffer, counter: 1 | 2): Buffer {
  return adjustParity(sha1(seed, Buffer.from([0, 0, 0, counter])).subarray(0, 16));
}

/** ISO 9797-1 padding method 2: 0x80 then zeros to a multiple of 8. */
export function pad(data: Buffer): Buffer {
  const n = 8 - (data.length % 8);
  const out = Buffer.alloc(data.length + n);
  data.copy(out);
  out[data.length] = 0x80;
  return out;
}

/** Removes method-2 padding; returns undefined if the padding is invalid. */
export function unpad(data: Buffer): Buffer | undefined {
  let i = data.length - 1;
  while (i >= 0 && data[i] === 0) i--;
  if (i < 0 || data[i] !== 0x80 || data.length - i > 16) return undefined;
  return data.subarray(0, i);
}

export function tdesEncrypt(key: Buffer, data: Buffer, iv: Buffer = ZERO_IV): Buffer {
  const c = createCipheriv('des-ede-cbc', key, iv);
  c.setAutoPadding(false);
  return Buffer.concat([c.update(data), c.final()]);
}

export function tdesDecrypt(key: Buffer, data: Buffer, iv: Buffer = ZERO_IV): Buffer {
  const d = createDecipheriv('des-ede-cbc', key, iv);
  d.setAutoPadding(false);
  return Buffer.concat([d.update(data), d.final()]);
}

/**
 * ISO 9797-1 MAC algorithm 3 (retail MAC) with DES, over data that is already
 * padded to a multiple of 8 bytes. Returns the 8-byte MAC.
 */
export function retailMac(key: Buffer, padded: Buffer): Buffer {
  if (padded.length === 0 || padded.length % 8 !== 0) throw new RangeError('retail MAC input must be a non-empty multiple of 8 bytes');
  const k1 = key.subarray(0, 8);
  let y: Buffer = ZERO_IV;
  if (padded.length > 8) {
    const c = createCipheriv('des-ede-cbc', Buffer.concat([k1, k1]), ZERO_IV);
    c.setAutoPadding(false);
    const enc = c.update(padded.subarray(0, padded.length - 8));
    y = enc.subarray(enc.length - 8);
  }
  const last = Buffer.alloc(8);
  for (let i = 0; i < 8; i++) last[i] = y[i]! ^ padded[padded.length - 8 + i]!;
  const f = createCipheriv('des-ede', key, null);
  f.setAutoPadding(false);
  return f.update(last);
}

/** Increments an 8-byte big-endian counter in place. */
export function incrementSsc(ssc: Buffer): void {
  for (let i = ssc.length - 1; i >= 0; i--) {
    ssc[i] = (ssc[i]! + 1) & 0xff;
    if (ssc[i] !== 0) break;
  }
}

export function xor(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.alloc(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! ^ b[i]!;
  return out;
}
