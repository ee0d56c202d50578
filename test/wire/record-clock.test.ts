/**
 * The record's `clock` (docs/wire-format.md §3, #21): a booth without a real-time clock seals the
 * local time it has and, next to it, its trusted estimate from headquarters' signed time (offset
 * + uncertainty) or "none". Checked at both ends: the booth's builder with a StationClock on fake
 * time (1970 start, then a receipt), and headquarters' record-opening validator, which stores a
 * record carrying it, still stores one without it, and refuses a malformed one as record-invalid.
 */
import { describe, expect, it } from 'vitest';
import { encodeCbor, type CborValue } from '../../sync/wire/cbor';
import { decodeRecord, decodeRecordStrict, encodeRecord, type EnrollmentRecord } from '../../sync/wire/record';
import { Sealer } from '../../sync/wire/envelope';
import { parseHqPrivateKeys, parseHqPublicIdentity, recordKeysOf, stationSigningKeyFrom } from '../../sync/wire/keys';
import { LocalValidator } from '../../sync/hq/validate';
import { StationClock } from '../../station/clock';
import { recordClock, vaultSealer } from '../../station/workflow/adapters';
import type { EnrollmentDraft } from '../../station/workflow/ports';
import { ed25519FromSeed, STATION_ID, STATION_SEED, vectorHqKeys, vectorRecord } from '../vectors/vectors';

const TRUE_NOW = Date.parse('2026-12-02T08:00:00Z');

function fakeClocks(wall0: number) {
  let wall = wall0;
  let mono = 1_000;
  return {
    wall: () => wall,
    mono: () => mono,
    advance(ms: number) { wall += ms; mono += ms; },
  };
}

/** A record as headquarters would get it: CBOR map with `patch` applied (bypassing the station's own encoder). */
function plaintext(r: EnrollmentRecord, patch: Record<string, unknown>): Buffer {
  return encodeCbor({ v: 1, ...(r as unknown as Record<string, CborValue>), ...(patch as Record<string, CborValue>) });
}

async function hqVerdicts(plaintexts: Buffer[]): Promise<{ ok: boolean; reason?: string; detail?: string }[]> {
  const hq = await vectorHqKeys();
  const sealer = new Sealer('x25519-chacha20poly1305', parseHqPublicIdentity(hq.publicJson), stationSigningKeyFrom(ed25519FromSeed(STATION_SEED)));
  const rec = vectorRecord();
  const items = [];
  for (const pt of plaintexts) {
    const s = await sealer.sealBytes(rec.recordId, STATION_ID, pt, Date.now());
    items.push({ stationId: STATION_ID, recordId: rec.recordId, envelope: s.envelope });
  }
  const v = new LocalValidator({ loadKeys: () => recordKeysOf(parseHqPrivateKeys(hq.privateJson)) });
  const out = await v.validate(items);
  await v.close();
  return out.map((r) => (r.ok ? { ok: true } : { ok: false, reason: r.reason, detail: r.detail }));
}

describe('record clock: the booth', () => {
  it('a booth started at 1970 seals "none" until the first signed time, then the offset to true time', async () => {
    const c = fakeClocks(0); // boots at 1970, no RTC
    const clock = new StationClock({ wall: c.wall, mono: c.mono });
    const sealed: EnrollmentRecord[] = [];
    const vault = { stationId: STATION_ID, async seal(r: EnrollmentRecord) { sealed.push(decodeRecord(encodeRecord(r))); return { recordId: r.recordId, sha256: '' }; } };
    const sealer = vaultSealer(vault, c.wall, () => clock.trusted());
    const base = vectorRecord();
    const draft = (id: string): EnrollmentDraft => ({
      sessionId: `s-${id}`, recordId: id, officerId: base.officerId, kind: 'enrollment', startedAt: c.wall(),
      details: { fullName: 'NGUYEN VAN AN', dateOfBirth: '1990-01-01', sex: 'F', nationalId: '', nationality: 'VNM', placeOfOrigin: '', address: '', unitCode: '', phone: '' },
      fingerprints: [], portrait: { exception: { code: 'refused', reason: 'test' } },
    }) as unknown as EnrollmentDraft;

    await sealer.seal(draft('0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b'));
    expect(sealed[0]!.clock).toEqual({ source: 'none' });
    expect(sealed[0]!.completedAt).toBe(0); // the local reading is kept as it was

    // a receipt signed at TRUE_NOW, the batch sent 400 ms before it arrived
    const sent = c.mono();
    c.advance(400);
    clock.observe(TRUE_NOW, sent, c.mono());
    c.advance(10_000);
    await sealer.seal(draft('0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c'));
    const r = sealed[1]!;
    expect(r.clock?.source).toBe('hq');
    const k = r.clock as { offsetMs: number; uncertaintyMs: number };
    expect(k.uncertaintyMs).toBe(201); // half the 400 ms window + 10 s × 100 ppm
    // local time + offset is the true time of sealing: TRUE_NOW + 200 (centred) + 10 s
    expect(r.completedAt + k.offsetMs).toBe(TRUE_NOW + 200 + 10_000);
  });

  it('recordClock rounds and never gives a negative uncertainty', () => {
    expect(recordClock({ offsetMs: -1234.6, uncertaintyMs: 7.4 })).toEqual({ source: 'hq', offsetMs: -1235, uncertaintyMs: 7 });
    expect(recordClock(null)).toEqual({ source: 'none' });
  });
});

describe('record clock: the record model', () => {
  it('round-trips both forms and a negative offset byte-exactly (strict decode)', () => {
    for (const clock of [{ source: 'hq', offsetMs: -86_400_000 * 2, uncertaintyMs: 150 }, { source: 'hq', offsetMs: 1_764_000_000_000, uncertaintyMs: 0 }, { source: 'none' }] as const) {
      const r = { ...vectorRecord(), clock };
      const b = encodeRecord(r);
      expect(decodeRecordStrict(b).clock).toEqual(clock);
    }
  });

  it.each([
    ['unknown source', { source: 'ntp', offsetMs: 1, uncertaintyMs: 1 }, /clock\.source/],
    ['offset with "none"', { source: 'none', offsetMs: 5 }, /clock\.offsetMs/],
    ['missing uncertainty', { source: 'hq', offsetMs: 5 }, /clock\.uncertaintyMs/],
    ['fractional offset', { source: 'hq', offsetMs: 1.5, uncertaintyMs: 1 }, /clock\.offsetMs/],
    ['negative uncertainty', { source: 'hq', offsetMs: 1, uncertaintyMs: -1 }, /clock\.uncertaintyMs/],
    ['extra field', { source: 'hq', offsetMs: 1, uncertaintyMs: 1, stratum: 2 }, /clock\.stratum/],
    ['not a map', 'none', /clock/],
  ])('refuses %s, naming the field', (_n, clock, re) => {
    expect(() => decodeRecordStrict(plaintext(vectorRecord(), { clock }))).toThrow(re);
    try { decodeRecordStrict(plaintext(vectorRecord(), { clock })); } catch (e) { expect((e as { code?: string }).code).toBe('record-invalid'); }
  });
});

describe('record clock: headquarters validation', () => {
  it('stores records with and without the clock, refuses a malformed clock as record-invalid', async () => {
    const r = vectorRecord();
    const v = await hqVerdicts([
      encodeRecord({ ...r, clock: { source: 'hq', offsetMs: 1_700_000_000_000, uncertaintyMs: 80 } }),
      encodeRecord({ ...r, clock: { source: 'none' } }),
      encodeRecord(r), // sealed by a booth before the field existed
      plaintext(r, { clock: { source: 'hq', offsetMs: 3 } }),
    ]);
    expect(v.slice(0, 3)).toEqual([{ ok: true }, { ok: true }, { ok: true }]);
    expect(v[3]).toMatchObject({ ok: false, reason: 'record-invalid' });
    expect(v[3]!.detail).toMatch(/clock\.uncertaintyMs/);
  });
});
