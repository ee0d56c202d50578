/**
 * Regenerates test/vectors/negative-v1.json: envelopes headquarters must refuse,
 * each a byte string with the receipt status and reason it must get
 * (docs/wire-format.md §7), plus a batch hash and a signed receipt.
 *   npx ts-node --transpile-only test/vectors/generate-negative.ts
 * Deterministic: the vector keys and ephemeral key material of vectors.ts.
 */
import { createHash, createPrivateKey, createPublicKey } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeCbor } from '../../sync/wire/cbor';
import { encodeRecord } from '../../sync/wire/record';
import { parseHqPublicIdentity } from '../../sync/wire/keys';
import { Sealer } from '../../sync/wire/envelope';
import { batchHash } from '../../sync/wire/frame';
import { signMessage } from '../../sync/wire/signed';
import { resign } from '../hq/craft';
import { det, ed25519FromSeed, EKM_X25519, HQ_RECEIPT_SEED, SEALED_AT, STATION_ID, STATION_SEED, vectorHqKeys, vectorRecord } from './vectors';

async function main(): Promise<void> {
  const hq = await vectorHqKeys();
  const id = parseHqPublicIdentity(hq.publicJson);
  const station = ed25519FromSeed(STATION_SEED);
  const rec = vectorRecord();
  const seal = (plaintext: Buffer, recordId = rec.recordId, to = id) =>
    new Sealer('x25519-chacha20poly1305', to, station, 'reference').sealBytes(recordId, STATION_ID, plaintext, SEALED_AT, EKM_X25519).then((s) => s.envelope);
  const genuine = await seal(encodeRecord(rec));
  const flip = (b: Buffer, at: number): Buffer => { const c = Buffer.from(b); c[at] ^= 0x01; return c; };
  const ctByte = genuine.length - 64 - 20;
  const otherSk = det('another-hq-x25519', 32);
  const otherPub = Buffer.from((createPublicKey(createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b656e04220420', 'hex'), otherSk]), format: 'der', type: 'pkcs8' })).export({ format: 'jwk' }) as { x: string }).x, 'base64url');
  const otherHq = parseHqPublicIdentity({ ...hq.publicJson, hpkeX25519: otherPub.toString('base64') });
  const otherRecord = { ...rec, recordId: '019ac9e8-5c00-7abc-8def-0123456789ac' };
  const cases: { name: string; status: 'held' | 'rejected'; reason: string; why: string; envelope: Buffer }[] = [
    { name: 'magic', status: 'rejected', reason: 'malformed', why: 'first byte of the magic changed, re-signed', envelope: resign(flip(genuine, 0), station) },
    { name: 'truncated', status: 'rejected', reason: 'malformed', why: 'the last byte of the signature is missing', envelope: genuine.subarray(0, genuine.length - 1) },
    { name: 'ciphertext-unsigned', status: 'rejected', reason: 'bad-signature', why: 'one ciphertext bit flipped, signature left as it was', envelope: flip(genuine, ctByte) },
    { name: 'ciphertext-resigned', status: 'rejected', reason: 'undecryptable', why: 'one ciphertext bit flipped, re-signed by the station (the AEAD tag fails)', envelope: resign(flip(genuine, ctByte), station) },
    { name: 'unknown-hq-key', status: 'held', reason: 'unknown-hq-key', why: 'sealed to an X25519 key headquarters does not hold (det("another-hq-x25519"))', envelope: await seal(encodeRecord(rec), rec.recordId, otherHq) },
    { name: 'inner-id', status: 'rejected', reason: 'id-mismatch', why: 'the plaintext names record …89ac, the header …89ab', envelope: await seal(encodeRecord(otherRecord)) },
    { name: 'not-canonical', status: 'rejected', reason: 'not-canonical', why: 'the plaintext map has its keys out of canonical order', envelope: await seal(Buffer.concat([Buffer.from([0xa2, 0x61, 0x7a, 0x01, 0x61, 0x61, 0x02])])) },
    { name: 'not-a-record', status: 'rejected', reason: 'record-invalid', why: 'canonical CBOR, but a map with one unknown field', envelope: await seal(Buffer.from(encodeCbor({ v: 1, banana: 'yellow' }))) },
  ];
  const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
  const batchId = '019ac9e8-5c00-7abc-8def-0000000000b1';
  const items = [{ recordId: rec.recordId, sha256: sha(genuine) }, { recordId: otherRecord.recordId, sha256: sha(cases[5]!.envelope) }];
  const receiptBody = {
    type: 'receipt' as const, stationId: STATION_ID, batchId, batchHash: batchHash(batchId, items), worker: 'hq-vector', at: SEALED_AT + 5_000,
    results: [
      { recordId: items[0]!.recordId, sha256: items[0]!.sha256, status: 'stored' as const },
      { recordId: items[1]!.recordId, sha256: items[1]!.sha256, status: 'rejected' as const, reason: 'id-mismatch' as const, detail: 'the ids inside the ciphertext differ from its header' },
    ],
  };
  const out = {
    description: 'Enrollment Station: envelopes headquarters must refuse, with the receipt status and reason (docs/wire-format.md §7), a batch hash and a signed receipt. Keys: record-v1.json. TEST KEYS ONLY.',
    genuineEnvelopeHex: genuine.toString('hex'),
    cases: cases.map((c) => ({ name: c.name, status: c.status, reason: c.reason, why: c.why, envelopeHex: c.envelope.toString('hex') })),
    batchHash: { batchId, records: items, hashHex: batchHash(batchId, items) },
    receipt: { signed: signMessage(receiptBody, ed25519FromSeed(HQ_RECEIPT_SEED)), body: receiptBody },
  };
  writeFileSync(join(__dirname, 'negative-v1.json'), `${JSON.stringify(out, null, 2)}\n`);
  console.log('wrote test/vectors/negative-v1.json');
}
void main();
