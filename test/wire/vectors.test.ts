import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  decodeRecord,
  encodeRecord,
  openEnvelope,
  parseEnvelope,
  parseHqPrivateKeys,
  parseHqPublicIdentity,
  Sealer,
  signedMessage,
  stationSigningKeyFrom,
  verifyAuditChain,
  type AuditEntry,
  type SuiteName,
} from '../../sync/wire';
import { ed25519FromSeed, vectorAudit, vectorHqKeys, vectorRecord } from '../vectors/vectors';

interface EnvelopeVector {
  ekmHex: string;
  headerHex: string;
  encHex: string;
  signedMessageHex: string;
  envelopeHex: string;
  sha256: string;
}
const V = JSON.parse(readFileSync(join(__dirname, '..', 'vectors', 'record-v1.json'), 'utf8')) as {
  stationId: string;
  sealedAt: number;
  hpkeInfoHex: string;
  stationEd25519: { seedHex: string; publicKeyHex: string };
  hqPublic: unknown;
  hqPrivate: never;
  plaintextHex: string;
  envelopes: Record<SuiteName, EnvelopeVector>;
  audit: AuditEntry[];
};

const station = stationSigningKeyFrom(ed25519FromSeed(Buffer.from(V.stationEd25519.seedHex, 'hex')));

describe('committed wire-format vectors (test/vectors/record-v1.json)', () => {
  it('keys derive to the committed public keys', async () => {
    expect(station.publicKeyRaw.toString('hex')).toBe(V.stationEd25519.publicKeyHex);
    const hq = await vectorHqKeys();
    expect(hq.publicJson).toEqual(V.hqPublic);
    expect(Buffer.from('enroll-station/record/v1').toString('hex')).toBe(V.hpkeInfoHex);
  });

  it('the record serializes to the committed plaintext bytes, and they decode back', () => {
    const pt = encodeRecord(vectorRecord());
    expect(pt.toString('hex')).toBe(V.plaintextHex);
    expect(encodeRecord(decodeRecord(Buffer.from(V.plaintextHex, 'hex'))).toString('hex')).toBe(V.plaintextHex);
  });

  for (const suite of Object.keys(V.envelopes) as SuiteName[]) {
    const ev = V.envelopes[suite];
    for (const impl of ['fast', 'reference'] as const) {
      it(`${suite} (${impl}): sealing with the committed ephemeral key gives the committed bytes`, async () => {
        const s = await new Sealer(suite, parseHqPublicIdentity(V.hqPublic), station, impl).seal(vectorRecord(), {
          sealedAt: V.sealedAt,
          testEphemeral: Buffer.from(ev.ekmHex, 'hex'),
        });
        const p = parseEnvelope(s.envelope);
        expect(p.headerBytes.toString('hex')).toBe(ev.headerHex);
        expect(p.enc.toString('hex')).toBe(ev.encHex);
        expect(signedMessage(p.headerBytes, p.enc, p.ct).toString('hex')).toBe(ev.signedMessageHex);
        expect(s.envelope.toString('hex')).toBe(ev.envelopeHex);
        expect(s.sha256).toBe(ev.sha256);
      });

      it(`${suite} (${impl}): the committed envelope verifies and opens to the committed record`, async () => {
        const hq = parseHqPrivateKeys(V.hqPrivate);
        const { header, record } = await openEnvelope(Buffer.from(ev.envelopeHex, 'hex'), { stationPublicKey: station.publicKey, hq }, impl);
        expect(header.stationId).toBe(V.stationId);
        expect(header.sealedAt).toBe(V.sealedAt);
        expect(encodeRecord(record).toString('hex')).toBe(V.plaintextHex);
      });
    }
  }

  it('audit entries hash and sign to the committed values and the chain verifies', () => {
    expect(vectorAudit()).toEqual(V.audit);
    const r = verifyAuditChain(V.audit, station.publicKey, { stationId: V.stationId });
    expect(r).toMatchObject({ ok: true, count: 3, signedThrough: 3 });
  });
});
