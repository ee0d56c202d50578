/**
 * What the station trusts from headquarters: the Ed25519 keys that sign receipts
 * and the ops keys that sign commands. Built from the headquarters public
 * identity file (`hq init` output) or given directly.
 */
import type { KeyInput } from './signed';
import { TrustedKeys } from './signed';

export interface HqTrust {
  receiptKeys: KeyInput[];
  opsKeys: KeyInput[];
}

export interface ResolvedTrust {
  receipts: TrustedKeys;
  ops: TrustedKeys;
}

function asList(v: unknown): KeyInput[] {
  if (v === undefined || v === null) return [];
  if (Array.isArray(v)) return v.flatMap(asList);
  if (typeof v === 'string' || Buffer.isBuffer(v)) return [v];
  if (typeof v === 'object') {
    const o = v as Record<string, unknown>;
    // KeyObject
    if (typeof (o as { asymmetricKeyType?: unknown }).asymmetricKeyType === 'string') return [v as KeyInput];
    // { publicKey: "..." } style entries
    for (const k of ['publicKey', 'spki', 'pem', 'key']) if (typeof o[k] === 'string') return [o[k] as string];
  }
  return [];
}

/**
 * Accepts an HqTrust, or a headquarters public identity object with receipt/ops
 * keys under any of the names used by `hq init` (receiptKeys | receiptKey |
 * receiptPublicKey | receipt, opsKeys | opsKey | opsPublicKey | ops).
 */
export function resolveTrust(identity: unknown): ResolvedTrust {
  const o = (identity ?? {}) as Record<string, unknown>;
  const pick = (...names: string[]): KeyInput[] => names.flatMap((n) => asList(o[n]));
  const receipts = new TrustedKeys(pick('receiptKeys', 'receiptKey', 'receiptPublicKey', 'receipt', 'receiptSigningKey'));
  const ops = new TrustedKeys(pick('opsKeys', 'opsKey', 'opsPublicKey', 'ops', 'commandKey'));
  if (receipts.size === 0) throw new Error('headquarters identity has no receipt signing key');
  return { receipts, ops };
}
