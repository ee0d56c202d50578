/** Regenerates test/vectors/record-v1.json (only when the format deliberately changes). */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeRecord, parseEnvelope, parseHqPublicIdentity, Sealer, signedMessage, stationSigningKeyFrom, HPKE_INFO, type SuiteName } from '../../sync/wire';
import { EKM_X25519, EKM_XWING, SEALED_AT, STATION_SEED, ed25519FromSeed, vectorAudit, vectorHqKeys, vectorRecord } from './vectors';

function hexify(v: unknown): unknown {
  if (Buffer.isBuffer(v)) return { hex: v.toString('hex') };
  if (Array.isArray(v)) return v.map(hexify);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, hexify(x)]));
  return v;
}

async function main(): Promise<void> {
  const hq = await vectorHqKeys();
  const station = stationSigningKeyFrom(ed25519FromSeed(STATION_SEED));
  const record = vectorRecord();
  const envelopes: Record<string, unknown> = {};
  for (const [suite, ekm] of [['x25519-chacha20poly1305', EKM_X25519], ['xwing-chacha20poly1305', EKM_XWING], ['x25519-aes256gcm', EKM_X25519]] as [SuiteName, Buffer][]) {
    const s = await new Sealer(suite, parseHqPublicIdentity(hq.publicJson), station, 'reference').seal(record, { sealedAt: SEALED_AT, testEphemeral: ekm });
    const p = parseEnvelope(s.envelope);
    envelopes[suite] = {
      ekmHex: ekm.toString('hex'),
      headerHex: p.headerBytes.toString('hex'),
      encHex: p.enc.toString('hex'),
      signedMessageHex: signedMessage(p.headerBytes, p.enc, p.ct).toString('hex'),
      envelopeHex: s.envelope.toString('hex'),
      sha256: s.sha256,
    };
  }
  const out = {
    description: 'Enrollment Station wire format v1 test vectors. TEST KEYS ONLY. See docs/wire-format.md.',
    stationId: record.stationId,
    sealedAt: SEALED_AT,
    hpkeInfoHex: HPKE_INFO.toString('hex'),
    stationEd25519: { seedHex: STATION_SEED.toString('hex'), publicKeyHex: station.publicKeyRaw.toString('hex') },
    hqPublic: hq.publicJson,
    hqPrivate: hq.privateJson,
    record: hexify(record),
    plaintextHex: encodeRecord(record).toString('hex'),
    envelopes,
    audit: vectorAudit(),
  };
  writeFileSync(join(__dirname, 'record-v1.json'), `${JSON.stringify(out, null, 2)}\n`);
  console.log('wrote test/vectors/record-v1.json');
}
void main();
