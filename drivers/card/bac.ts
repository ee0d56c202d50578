/** ICAO 9303-11 Basic Access Control: key derivation and the mutual authentication exchange (both sides). */
import { deriveKey, kSeedFromMrzInfo, pad, retailMac, tdesDecrypt, tdesEncrypt, xor } from './crypto';
import { SecureMessaging } from './sm';

export interface BacKeys {
  kEnc: Buffer;
  kMac: Buffer;
}

export function bacKeys(mrzInfo: string): BacKeys {
  const seed = kSeedFromMrzInfo(mrzInfo);
  return { kEnc: deriveKey(seed, 1), kMac: deriveKey(seed, 2) };
}

/** Terminal: E_IFD ‖ M_IFD for MUTUAL AUTHENTICATE from S = RND.IFD ‖ RND.IC ‖ K.IFD. */
export function terminalAuthData(keys: BacKeys, rndIfd: Buffer, rndIc: Buffer, kIfd: Buffer): Buffer {
  const e = tdesEncrypt(keys.kEnc, Buffer.concat([rndIfd, rndIc, kIfd]));
  return Buffer.concat([e, retailMac(keys.kMac, pad(e))]);
}

function sessionFrom(kSeed: Buffer, rndIc: Buffer, rndIfd: Buffer): SecureMessaging {
  return new SecureMessaging({
    ksEnc: deriveKey(kSeed, 1),
    ksMac: deriveKey(kSeed, 2),
    ssc: Buffer.concat([rndIc.subarray(4, 8), rndIfd.subarray(4, 8)]),
  });
}

export type BacResult = { ok: true; sm: SecureMessaging } | { ok: false; reason: string };

/** Terminal: checks the chip's answer (E_IC ‖ M_IC) and derives the session. */
export function terminalFinish(keys: BacKeys, resp: Buffer, rndIfd: Buffer, rndIc: Buffer, kIfd: Buffer): BacResult {
  if (resp.length !== 40) return { ok: false, reason: `chip answer has ${resp.length} bytes instead of 40` };
  const e = resp.subarray(0, 32);
  if (!retailMac(keys.kMac, pad(e)).equals(resp.subarray(32))) return { ok: false, reason: 'chip MAC is wrong' };
  const r = tdesDecrypt(keys.kEnc, e);
  if (!r.subarray(0, 8).equals(rndIc) || !r.subarray(8, 16).equals(rndIfd)) return { ok: false, reason: 'chip echoed the wrong challenge' };
  const kIc = r.subarray(16, 32);
  return { ok: true, sm: sessionFrom(xor(kIfd, kIc), rndIc, rndIfd) };
}

/** Chip: checks MUTUAL AUTHENTICATE data; on success returns the answer and the session. */
export function chipRespond(keys: BacKeys, cmd: Buffer, rndIc: Buffer, kIc: Buffer): { resp: Buffer; sm: SecureMessaging } | undefined {
  if (cmd.length !== 40) return undefined;
  const e = cmd.subarray(0, 32);
  if (!retailMac(keys.kMac, pad(e)).equals(cmd.subarray(32))) return undefined;
  const s = tdesDecrypt(keys.kEnc, e);
  const rndIfd = s.subarray(0, 8);
  if (!s.subarray(8, 16).equals(rndIc)) return undefined;
  const kIfd = s.subarray(16, 32);
  const eIc = tdesEncrypt(keys.kEnc, Buffer.concat([rndIc, rndIfd, kIc]));
  const resp = Buffer.concat([eIc, retailMac(keys.kMac, pad(eIc))]);
  return { resp, sm: sessionFrom(xor(kIfd, kIc), rndIc, rndIfd) };
}
