/** Station-side key helpers on top of sync/wire/keys (which owns the formats). */
import { keyFingerprint, loadHqPublicIdentity, type HqPublicIdentity } from '../sync/wire/keys';

export function loadHqIdentityChecked(path: string): HqPublicIdentity & { fingerprint: string } {
  const id = loadHqPublicIdentity(path);
  return { ...id, fingerprint: keyFingerprint(id.hpkeX25519) };
}
