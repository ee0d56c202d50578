/**
 * Audit log entries (docs/wire-format.md §5): an append-only hash chain.
 *
 *   hash_n = SHA-256( "enroll-station/audit/v1" 0x00 | CBOR([station_id, seq, ts, kind, data, prev_hash]) )
 *   prev_hash of seq 1 = 32 zero bytes
 *   head signature (optional per entry) = Ed25519 over
 *     "enroll-station/audit-head/v1" 0x00 | station id length u8 | station id | seq u64 | hash_n
 *
 * `data` is a flat map of text keys to text / integer / boolean / null. It
 * carries ids and counts, never personal or biometric data.
 */
import { createHash, sign as edSign, verify as edVerify, type KeyObject } from 'node:crypto';
import { encodeCbor } from './cbor';

export const AUDIT_KINDS = [
  'login',
  'logout',
  'record_sealed',
  'batch_sent',
  'receipt_received',
  'release',
  'config_change',
  'command_received',
  'tamper',
  'alert',
  'vault_open',
  'override',
] as const;
export type AuditKind = (typeof AUDIT_KINDS)[number];

export type AuditData = Record<string, string | number | boolean | null>;

/** An audit entry as stored and as sent to headquarters (JSON-safe). */
export interface AuditEntry {
  seq: number;
  /** ms since epoch. */
  ts: number;
  kind: AuditKind;
  data: AuditData;
  /** Lower-case hex, 64 chars. */
  prevHash: string;
  hash: string;
  /** Base64 Ed25519 signature of the chain head at this entry, when signed. */
  sig?: string;
}

const HASH_CONTEXT = Buffer.from('enroll-station/audit/v1\0', 'ascii');
const HEAD_CONTEXT = Buffer.from('enroll-station/audit-head/v1\0', 'ascii');
export const GENESIS_HASH = '0'.repeat(64);

export function isAuditKind(k: string): k is AuditKind {
  return (AUDIT_KINDS as readonly string[]).includes(k);
}

/** Throws on data that is not a flat map of short scalars. */
export function checkAuditData(data: AuditData): void {
  for (const [k, v] of Object.entries(data)) {
    if (k.length === 0 || k.length > 64) throw new Error(`audit data key "${k.slice(0, 64)}" must be 1..64 chars`);
    if (v === null || typeof v === 'boolean') continue;
    if (typeof v === 'number' && Number.isSafeInteger(v)) continue;
    if (typeof v === 'string' && v.length <= 512) continue;
    throw new Error(`audit data "${k}" must be text (≤512 chars), a safe integer, a boolean or null`);
  }
}

export function auditEntryHash(stationId: string, e: Pick<AuditEntry, 'seq' | 'ts' | 'kind' | 'data' | 'prevHash'>): string {
  const body = encodeCbor([stationId, e.seq, e.ts, e.kind, { ...e.data }, Buffer.from(e.prevHash, 'hex')]);
  return createHash('sha256').update(HASH_CONTEXT).update(body).digest('hex');
}

export function auditHeadMessage(stationId: string, seq: number, hash: string): Buffer {
  const sid = Buffer.from(stationId, 'ascii');
  const b = Buffer.alloc(HEAD_CONTEXT.length + 1 + sid.length + 8 + 32);
  let o = HEAD_CONTEXT.copy(b, 0);
  b.writeUInt8(sid.length, o);
  o += 1;
  o += sid.copy(b, o);
  b.writeBigUInt64BE(BigInt(seq), o);
  o += 8;
  Buffer.from(hash, 'hex').copy(b, o);
  return b;
}

export function signAuditHead(stationId: string, seq: number, hash: string, key: KeyObject): string {
  return edSign(null, auditHeadMessage(stationId, seq, hash), key).toString('base64');
}

export interface AuditChainResult {
  ok: boolean;
  /** Entries checked. */
  count: number;
  /** Last entry whose hash links and recomputes (0 when none). */
  lastSeq: number;
  lastHash: string;
  /** Highest seq covered by a verified head signature (0 when none). */
  signedThrough: number;
  /** When !ok: the first problem, naming the seq. */
  error?: string;
}

/**
 * Headquarters side: checks a slice of a station's audit chain. Entries must be
 * consecutive; the first links to `anchor` (the last hash HQ already holds; the
 * genesis hash when the slice starts at seq 1). Every `sig` present must verify;
 * with `requireSignedTail` (default true) the last entry must carry one, so the
 * whole slice is attested by the station key. Pass several public keys when
 * the station rotated its key within the slice (each signature must verify
 * with one of them).
 */
export function verifyAuditChain(
  entries: AuditEntry[],
  stationPublicKey: KeyObject | KeyObject[],
  opts: {
    stationId: string;
    anchor?: { seq: number; hash: string };
    requireSignedTail?: boolean;
    /**
     * 'all' (default): every head signature present is checked. 'last': the hash chain is checked
     * entry by entry, but only the last signature present — it covers every entry before it through
     * the chain. A receiver that trusts entries on that basis must not keep the unchecked earlier
     * signatures as if checked. On any failure the slice is checked again with 'all', so the error
     * and `signedThrough` are the same as 'all' would give.
     */
    signatures?: 'all' | 'last';
  },
): AuditChainResult {
  const keys = Array.isArray(stationPublicKey) ? stationPublicKey : [stationPublicKey];
  if (opts.signatures === 'last') {
    let lastSigned = -1;
    for (let i = entries.length - 1; i >= 0; i--) if (entries[i]!.sig !== undefined) { lastSigned = i; break; }
    const unsigned = entries.map((e, i) => (i === lastSigned || e.sig === undefined ? e : { ...e, sig: undefined }));
    const r = verifyAuditChain(unsigned, keys, { ...opts, signatures: 'all' });
    return r.ok ? r : verifyAuditChain(entries, keys, { ...opts, signatures: 'all' });
  }
  const res: AuditChainResult = { ok: true, count: 0, lastSeq: 0, lastHash: GENESIS_HASH, signedThrough: 0 };
  const fail = (msg: string): AuditChainResult => ({ ...res, ok: false, error: msg });
  if (entries.length === 0) return res;
  let prevSeq: number;
  let prevHash: string;
  if (opts.anchor) {
    prevSeq = opts.anchor.seq;
    prevHash = opts.anchor.hash;
  } else if (entries[0].seq === 1) {
    prevSeq = 0;
    prevHash = GENESIS_HASH;
  } else {
    return fail(`slice starts at seq ${entries[0].seq} but no anchor (previous hash) was given`);
  }
  res.lastSeq = prevSeq;
  res.lastHash = prevHash;
  for (const e of entries) {
    if (e.seq !== prevSeq + 1) return fail(`seq ${e.seq} follows seq ${prevSeq} (gap or reordering)`);
    if (e.prevHash !== prevHash) return fail(`seq ${e.seq}: prevHash does not match the hash of seq ${prevSeq}`);
    if (!isAuditKind(e.kind)) return fail(`seq ${e.seq}: unknown kind "${String(e.kind)}"`);
    let h: string;
    try {
      h = auditEntryHash(opts.stationId, e);
    } catch (err) {
      return fail(`seq ${e.seq}: cannot encode entry (${(err as Error).message})`);
    }
    if (h !== e.hash) return fail(`seq ${e.seq}: hash does not match its content`);
    if (e.sig !== undefined) {
      const msg = auditHeadMessage(opts.stationId, e.seq, e.hash);
      const sig = Buffer.from(e.sig, 'base64');
      const ok = keys.some((k) => edVerify(null, msg, k, sig));
      if (!ok) return fail(`seq ${e.seq}: head signature does not verify`);
      res.signedThrough = e.seq;
    }
    prevSeq = e.seq;
    prevHash = e.hash;
    res.count += 1;
    res.lastSeq = e.seq;
    res.lastHash = e.hash;
  }
  if ((opts.requireSignedTail ?? true) && res.signedThrough !== res.lastSeq) {
    return fail(`entries after seq ${res.signedThrough} are not covered by a head signature`);
  }
  return res;
}
