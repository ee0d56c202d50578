/**
 * The committed negative vectors (test/vectors/negative-v1.json, docs/wire-format.md
 * §7): each envelope gets exactly the receipt status and reason it names when it
 * goes through headquarters' checks in their order (layout, station signature,
 * then the record-opening validator with the vector keys); the genuine one opens;
 * the batch hash recomputes; the receipt verifies under the vector receipt key.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createPublicKey } from 'node:crypto';
import { checkSignature, digestEnvelope } from '../../sync/wire/envelope';
import { parseHqPrivateKeys, recordKeysOf, type HqPrivateJson } from '../../sync/wire/keys';
import { batchHash } from '../../sync/wire/frame';
import { TrustedKeys, verifySignedBody } from '../../sync/wire/signed';
import { LocalValidator } from '../../sync/hq/validate';
import { ed25519FromSeed, HQ_RECEIPT_SEED, STATION_ID, STATION_SEED } from '../vectors/vectors';

const dir = join(__dirname, '..', 'vectors');
const neg = JSON.parse(readFileSync(join(dir, 'negative-v1.json'), 'utf8')) as {
  genuineEnvelopeHex: string;
  cases: { name: string; status: string; reason: string; envelopeHex: string }[];
  batchHash: { batchId: string; records: { recordId: string; sha256: string }[]; hashHex: string };
  receipt: { signed: unknown; body: unknown };
};
const base = JSON.parse(readFileSync(join(dir, 'record-v1.json'), 'utf8')) as { hqPrivate: HqPrivateJson };

async function verdict(envelope: Buffer): Promise<{ status: string; reason?: string }> {
  let d;
  try { d = digestEnvelope(envelope); } catch { return { status: 'rejected', reason: 'malformed' }; }
  const stationKey = createPublicKey(ed25519FromSeed(STATION_SEED));
  if (!checkSignature(d, stationKey)) return { status: 'rejected', reason: 'bad-signature' };
  const v = new LocalValidator({ loadKeys: () => recordKeysOf(parseHqPrivateKeys(base.hqPrivate)) });
  const [r] = await v.validate([{ stationId: STATION_ID, recordId: d.parsed.recordId, envelope }]);
  return r!.ok ? { status: 'stored' } : { status: r!.status, reason: r!.reason };
}

describe('negative wire vectors', () => {
  it('the genuine envelope is stored', async () => {
    expect(await verdict(Buffer.from(neg.genuineEnvelopeHex, 'hex'))).toEqual({ status: 'stored' });
  });

  it.each(neg.cases.map((c) => [c.name, c] as const))('%s is refused with its reason', async (_n, c) => {
    expect(await verdict(Buffer.from(c.envelopeHex, 'hex'))).toEqual({ status: c.status, reason: c.reason });
  });

  it('covers every check in order, held and rejected', () => {
    expect(new Set(neg.cases.map((c) => c.reason))).toEqual(new Set(['malformed', 'bad-signature', 'undecryptable', 'unknown-hq-key', 'id-mismatch', 'not-canonical', 'record-invalid']));
  });

  it('the batch hash recomputes and the receipt verifies under the vector receipt key', () => {
    expect(batchHash(neg.batchHash.batchId, neg.batchHash.records)).toBe(neg.batchHash.hashHex);
    const v = verifySignedBody(JSON.stringify(neg.receipt.signed), new TrustedKeys([createPublicKey(ed25519FromSeed(HQ_RECEIPT_SEED))]), ['receipt']);
    expect(v.ok).toBe(true);
    expect(v.ok && v.body).toEqual(neg.receipt.body);
    // one altered byte of the body and it no longer verifies
    const forged = { ...(neg.receipt.signed as Record<string, string>), body: (neg.receipt.signed as { body: string }).body.replace('"stored"', '"stoRed"') };
    expect(verifySignedBody(JSON.stringify(forged), new TrustedKeys([createPublicKey(ed25519FromSeed(HQ_RECEIPT_SEED))]), ['receipt']).ok).toBe(false);
  });
});
