/**
 * Deterministic inputs for the committed wire-format test vectors
 * (test/vectors/record-v1.json). `npm`-less regeneration:
 *   npx ts-node --transpile-only test/vectors/generate.ts
 * The test (test/wire/vectors.test.ts) recomputes everything from these inputs
 * and compares with the committed bytes, and opens the committed envelopes.
 */
import { createHash, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { XWing } from '@hpke/hybridkem-x-wing';
import { auditEntryHash, GENESIS_HASH, signAuditHead, type AuditEntry } from '../../sync/wire/audit';
import { parseHqPrivateKeys, type HqPrivateJson, type HqPublicJson } from '../../sync/wire/keys';
import type { EnrollmentRecord } from '../../sync/wire/record';

/** SHA-256 counter-mode stream: deterministic filler bytes for the vector record. */
export function det(label: string, len: number): Buffer {
  const out: Buffer[] = [];
  for (let i = 0; out.length * 32 < len; i++) out.push(createHash('sha256').update(`${label}/${i}`).digest());
  return Buffer.concat(out).subarray(0, len);
}

const PKCS8_ED25519 = Buffer.from('302e020100300506032b657004220420', 'hex');
const PKCS8_X25519 = Buffer.from('302e020100300506032b656e04220420', 'hex');

export function ed25519FromSeed(seed: Buffer): KeyObject {
  return createPrivateKey({ key: Buffer.concat([PKCS8_ED25519, seed]), format: 'der', type: 'pkcs8' });
}

function rawPub(k: KeyObject): Buffer {
  return Buffer.from((createPublicKey(k).export({ format: 'jwk' }) as { x: string }).x, 'base64url');
}

export const STATION_ID = 'ST-VECTOR-01';
export const SEALED_AT = 1_764_331_200_000; // 2025-11-28T12:00:00Z
export const STATION_SEED = det('station-ed25519', 32);
export const HQ_X25519_SK = det('hq-x25519', 32);
export const HQ_XWING_SEED = det('hq-xwing', 32);
export const HQ_RECEIPT_SEED = det('hq-receipt-ed25519', 32);
export const HQ_OPS_SEED = det('hq-ops-ed25519', 32);
export const EKM_X25519 = det('ekm-x25519', 32);
export const EKM_XWING = det('ekm-xwing', 64);

export async function vectorHqKeys(): Promise<{ publicJson: HqPublicJson; privateJson: HqPrivateJson }> {
  const x = createPrivateKey({ key: Buffer.concat([PKCS8_X25519, HQ_X25519_SK]), format: 'der', type: 'pkcs8' });
  const xw = new XWing();
  const wkp = await xw.generateKeyPairDerand(new Uint8Array(HQ_XWING_SEED));
  const receipt = ed25519FromSeed(HQ_RECEIPT_SEED);
  const ops = ed25519FromSeed(HQ_OPS_SEED);
  const publicJson: HqPublicJson = {
    format: 'enroll-station/hq-public',
    version: 1,
    hpkeX25519: rawPub(x).toString('base64'),
    xWing: Buffer.from(await xw.serializePublicKey(wkp.publicKey)).toString('base64'),
    receiptEd25519: rawPub(receipt).toString('base64'),
    opsEd25519: rawPub(ops).toString('base64'),
    comment: 'TEST VECTOR KEYS - never use in production',
  };
  const privateJson: HqPrivateJson = {
    format: 'enroll-station/hq-private',
    version: 1,
    hpkeX25519: HQ_X25519_SK.toString('base64'),
    xWing: Buffer.from(await xw.serializePrivateKey(wkp.privateKey)).toString('base64'),
    receiptEd25519: receipt.export({ format: 'pem', type: 'pkcs8' }).toString(),
    opsEd25519: ops.export({ format: 'pem', type: 'pkcs8' }).toString(),
    public: publicJson,
  };
  parseHqPrivateKeys(privateJson);
  return { publicJson, privateJson };
}

export function vectorRecord(): EnrollmentRecord {
  return {
    recordId: '019ac9e8-5c00-7abc-8def-0123456789ab',
    stationId: STATION_ID,
    officerId: 'officer-042',
    kind: 'enrollment',
    startedAt: SEALED_AT - 300_000,
    completedAt: SEALED_AT - 1_000,
    details: { surname: 'Mwangi', givenNames: 'Wanjiru Achieng', dateOfBirth: '1988-02-29', sex: 'F', nationality: 'KEN', nationalId: 'A1234567', extra: { district: 'Kisumu' } },
    fingerprints: [
      { position: 1, status: 'captured', png: det('png-1', 200), width: 256, height: 288, ppi: 500, quality: 87, attempts: 1 },
      { position: 2, status: 'captured', png: det('png-2', 150), width: 256, height: 288, ppi: 500, quality: 64, attempts: 2 },
      { position: 3, status: 'exception', exception: 'bandaged', reason: 'fresh cut, recapture in 2 weeks' },
    ],
    portrait: { jpeg: det('jpeg', 300), width: 480, height: 640, metrics: { sharpness: 0.8125, brightness: 0.5, faces: 1 } },
    chip: { dg1: det('dg1', 93), sod: det('sod', 120), passiveAuth: { verdict: 'valid' } },
  };
}

/** A short audit chain signed by the vector station key. */
export function vectorAudit(): AuditEntry[] {
  const key = ed25519FromSeed(STATION_SEED);
  const items: Pick<AuditEntry, 'kind' | 'data'>[] = [
    { kind: 'vault_open', data: { schema: 1, suite: 'x25519-chacha20poly1305', hqKey: 'ok' } },
    { kind: 'login', data: { officerId: 'officer-042' } },
    { kind: 'record_sealed', data: { recordId: '019ac9e8-5c00-7abc-8def-0123456789ab', size: 1234, suite: 'x25519-chacha20poly1305', ok: true, note: null } },
  ];
  let prev = GENESIS_HASH;
  return items.map((it, i) => {
    const e: AuditEntry = { seq: i + 1, ts: SEALED_AT + i, kind: it.kind, data: it.data, prevHash: prev, hash: '' };
    e.hash = auditEntryHash(STATION_ID, e);
    if (i !== 1) e.sig = signAuditHead(STATION_ID, e.seq, e.hash, key);
    prev = e.hash;
    return e;
  });
}
