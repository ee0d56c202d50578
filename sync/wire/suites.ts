/**
 * HPKE cipher suites a station can seal with, selected by name in config.
 * All are RFC 9180 base mode with HKDF-SHA256, run by @hpke/core's CipherSuite.
 * The `fast` implementations keep the library's KEMs and key schedule but let
 * OpenSSL compute the HKDF and AEAD primitives (kdf.ts, aead.ts).
 */
import { Aes256Gcm, CipherSuite, HkdfSha256, type AeadInterface, type KemInterface } from '@hpke/core';
import { DhkemX25519HkdfSha256 as PureDhkemX25519HkdfSha256 } from '@hpke/dhkem-x25519';
import { Chacha20Poly1305 } from '@hpke/chacha20poly1305';
import { XWing } from '@hpke/hybridkem-x-wing';
import { NodeAes256Gcm, NodeChacha20Poly1305 } from './aead';
import { FastDhkemX25519HkdfSha256, FastHkdfSha256 } from './kdf';
import { StationError } from './errors';

import { DEFAULT_SUITE, SUITE_NAMES, isSuiteName, type SuiteName } from '../../config/domain';

// The suite names are the domain's (config/domain.ts); this module binds each to its algorithms.
export { DEFAULT_SUITE, SUITE_NAMES, isSuiteName, type SuiteName };

/** RFC 9180 registry values (X-Wing: draft-connolly-cfrg-xwing-kem). */
export const KEM_X25519 = 0x0020;
export const KEM_XWING = 0x647a;
export const KDF_HKDF_SHA256 = 0x0001;
export const AEAD_AES256GCM = 0x0002;
export const AEAD_CHACHA20POLY1305 = 0x0003;

export interface SuiteInfo {
  name: SuiteName;
  kemId: number;
  kdfId: number;
  aeadId: number;
  /** Which HQ public key the suite encapsulates to. */
  hqKey: 'hpkeX25519' | 'xWing';
  /** Length of the KEM's encapsulated key (`Nenc`): 32 for X25519, 1120 for X-Wing. */
  nEnc: number;
}

const INFO: Record<SuiteName, SuiteInfo> = {
  'x25519-chacha20poly1305': { name: 'x25519-chacha20poly1305', kemId: KEM_X25519, kdfId: KDF_HKDF_SHA256, aeadId: AEAD_CHACHA20POLY1305, hqKey: 'hpkeX25519', nEnc: 32 },
  'xwing-chacha20poly1305': { name: 'xwing-chacha20poly1305', kemId: KEM_XWING, kdfId: KDF_HKDF_SHA256, aeadId: AEAD_CHACHA20POLY1305, hqKey: 'xWing', nEnc: 1120 },
  'x25519-aes256gcm': { name: 'x25519-aes256gcm', kemId: KEM_X25519, kdfId: KDF_HKDF_SHA256, aeadId: AEAD_AES256GCM, hqKey: 'hpkeX25519', nEnc: 32 },
  'xwing-aes256gcm': { name: 'xwing-aes256gcm', kemId: KEM_XWING, kdfId: KDF_HKDF_SHA256, aeadId: AEAD_AES256GCM, hqKey: 'xWing', nEnc: 1120 },
};

export function suiteInfo(name: string): SuiteInfo {
  if (!isSuiteName(name)) {
    throw new StationError('VAULT_BAD_SUITE', `unknown HPKE suite "${name}"`, { exitCode: 2, hint: `use one of: ${SUITE_NAMES.join(', ')}` });
  }
  return INFO[name];
}

export function suiteByIds(kemId: number, kdfId: number, aeadId: number): SuiteInfo | undefined {
  return Object.values(INFO).find((s) => s.kemId === kemId && s.kdfId === kdfId && s.aeadId === aeadId);
}

function kemFor(kemId: number, impl: 'fast' | 'reference'): KemInterface {
  if (kemId === KEM_XWING) return new XWing();
  return impl === 'fast' ? new FastDhkemX25519HkdfSha256() : new PureDhkemX25519HkdfSha256();
}

function aeadFor(aeadId: number, impl: 'fast' | 'reference'): AeadInterface {
  if (aeadId === AEAD_CHACHA20POLY1305) return impl === 'fast' ? new NodeChacha20Poly1305() : new Chacha20Poly1305();
  return impl === 'fast' ? new NodeAes256Gcm() : new Aes256Gcm();
}

/**
 * The @hpke/core CipherSuite for a suite. `fast` (default) uses WebCrypto X25519
 * and OpenSSL AEADs; `reference` uses the pure-JS @hpke/dhkem-x25519 and
 * @hpke/chacha20poly1305 packages (used in tests to prove byte compatibility).
 */
export function cipherSuite(name: SuiteName, impl: 'fast' | 'reference' = 'fast'): CipherSuite {
  const s = INFO[name];
  return new CipherSuite({ kem: kemFor(s.kemId, impl), kdf: impl === 'fast' ? new FastHkdfSha256() : new HkdfSha256(), aead: aeadFor(s.aeadId, impl) });
}
