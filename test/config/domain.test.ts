/**
 * The one domain vocabulary (config/domain.ts): every layer uses its codes, and
 * the configuration schema and the docs are generated from or checked against it.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  CAPTURE_EXCEPTIONS, EXCEPTION_CODES, FINGER_EXCEPTIONS, PA_REASONS, PA_REASON_CODES, PA_VERDICTS, PORTRAIT_REASON_CODES, RECORD_KINDS, RECORD_PA_VERDICTS,
  STATION_ID_PATTERN, SUITE_NAMES, isValidStationId, recordPaVerdict, recordedFingerException,
} from '../../config/domain';
import { configSchema } from '../../config/schema';
import { validateConfig } from '../../config';
import { renderDomain } from '../../config/gen-docs';
import { makeTopics, parseStationTopic } from '../../sync/topics';
import { RecordFormatError, validateRecord, type EnrollmentRecord } from '../../sync/wire/record';
import { suiteInfo } from '../../sync/wire/suites';
import { PORTRAIT_REASONS } from '../../drivers/camera/portrait';
import { draftToRecord } from '../../station/workflow/adapters';
import type { ChipReadResult, EnrollmentDraft } from '../../station/workflow/ports';
import vectors from '../vectors/record-v1.json';

const root = join(__dirname, '..', '..');
const doc = (name: string): string => readFileSync(join(root, 'docs', name), 'utf8');

function record(stationId: string): EnrollmentRecord {
  return {
    recordId: '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b', stationId, officerId: 'OF-1', kind: 'enrollment', startedAt: 1, completedAt: 2,
    details: { surname: 'A', givenNames: 'B', dateOfBirth: '2000-01-01', sex: 'F' }, fingerprints: [],
  };
}

function configWithId(id: string) {
  return validateConfig({ version: 1, station: { id, unit: { code: '1' } } }, 'test', { env: {} });
}

describe('station id: one rule for config, record, envelope and topics', () => {
  const valid = ['A', 'ST-1', 'VN-HN-0001', 'st_7', 'hn.ba-dinh.01', 'x'.repeat(64)];
  const invalid = ['', '.hidden', '..', '-x', 'a/b', 'a+b', 'a#b', '$SYS', 'a b', 'x'.repeat(65), 'trạm'];

  it('the config schema uses the domain pattern', () => {
    expect(configSchema.properties.station.properties.id.pattern).toBe(STATION_ID_PATTERN);
  });

  it.each(valid)('%s is valid everywhere', (id) => {
    expect(isValidStationId(id)).toBe(true);
    expect(configWithId(id).config.station.id).toBe(id);
    expect(() => validateRecord(record(id))).not.toThrow();
    expect(parseStationTopic(makeTopics().health(id))).toEqual({ stationId: id, leaf: 'health' });
  });

  it.each(invalid)('%j is refused everywhere', (id) => {
    expect(isValidStationId(id)).toBe(false);
    expect(() => configWithId(id)).toThrow(/station\.id/);
    expect(() => validateRecord(record(id))).toThrow(RecordFormatError);
    expect(() => makeTopics().health(id)).toThrow(/invalid station id/);
  });

  it('every station id in the committed wire vectors stays valid', () => {
    const ids = new Set<string>();
    JSON.stringify(vectors, (k, v) => { if (k === 'stationId' && typeof v === 'string') ids.add(v); return v; });
    expect(ids.size).toBeGreaterThan(0);
    for (const id of ids) expect(isValidStationId(id)).toBe(true);
  });
});

describe('suites', () => {
  it('the config enum is every suite the wire format defines, and each has algorithms', () => {
    expect(configSchema.properties.vault.properties.suite.enum).toEqual([...SUITE_NAMES]);
    expect(configSchema.properties.vault.properties.suite.enum).toContain('xwing-aes256gcm');
    for (const s of SUITE_NAMES) expect(suiteInfo(s).name).toBe(s);
  });

  it('a config may choose xwing-aes256gcm', () => {
    const { config } = validateConfig({ version: 1, station: { id: 'ST-1', unit: { code: '1' } }, vault: { suite: 'xwing-aes256gcm' } }, 'test', { env: {} });
    expect(config.vault.suite).toBe('xwing-aes256gcm');
  });
});

describe('passive authentication: the record verdict follows the reason code', () => {
  it.each(PA_REASON_CODES)('%s', (code) => {
    const r = PA_REASONS[code];
    expect(recordPaVerdict(r.verdict, code)).toBe(r.record);
  });

  it('fails closed: two verdicts only, every reason is invalid, and the record carries the exact code', () => {
    expect(PA_VERDICTS).toEqual(['valid', 'invalid']);
    expect(recordPaVerdict('valid')).toBe('valid');
    expect(recordPaVerdict('invalid')).toBe('invalid');
    expect(recordPaVerdict('invalid', 'made-up')).toBe('invalid');
    for (const code of PA_REASON_CODES) expect(PA_REASONS[code]).toMatchObject({ verdict: 'invalid', record: 'invalid' });
    const rec = draftToRecord(chipDraft({ status: 'invalid', reason: 'no CSCA certificate in the store issued the Document Signer', reasonCode: 'unknown-issuer' }), 'ST-1', '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b');
    expect(rec.chip?.passiveAuth).toEqual({ verdict: 'invalid', reason: 'no CSCA certificate in the store issued the Document Signer', reasonCode: 'unknown-issuer' });
  });
});

function chipDraft(passiveAuth: ChipReadResult['passiveAuth']): EnrollmentDraft {
  return {
    sessionId: 's1', kind: 'eid-activation', officerId: 'OF-1', startedAt: 1, confirmedAt: 2,
    details: { fullName: 'Nguyễn Văn A', dateOfBirth: '1990-01-01', sex: 'M', nationalId: '', nationality: 'VNM', placeOfOrigin: '', address: '', unitCode: '00004', phone: '', documentNumber: 'C01', documentExpiry: '2035-01-01' },
    fingerprints: [{ position: 1, exception: { code: 'device_failure', reason: 'scanner dead' } }],
    portrait: { exception: { code: 'unable', reason: 'no camera' } },
    chip: { read: { dg1: Buffer.alloc(4), sod: Buffer.alloc(4), mrzFields: {}, passiveAuth } },
  };
}

describe('exceptions and kinds in the record', () => {
  it('a device_failure finger is recorded as unable with the reason saying so', () => {
    expect(recordedFingerException('device_failure', 'x')).toEqual({ exception: 'unable', reason: 'device failure: x' });
    for (const c of FINGER_EXCEPTIONS) expect(recordedFingerException(c, 'r')).toEqual({ exception: c, reason: 'r' });
    const rec = draftToRecord(chipDraft({ status: 'valid' }), 'ST-1', '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b');
    expect(rec.kind).toBe('eid-activation');
    expect(rec.fingerprints[0]).toEqual({ position: 1, status: 'exception', exception: 'unable', reason: 'device failure: scanner dead' });
    expect(rec.details.extra?.portraitException).toBe('unable: no camera');
  });

  it('every capture exception is an officer code', () => {
    for (const list of Object.values(CAPTURE_EXCEPTIONS)) for (const c of list) expect(EXCEPTION_CODES).toContain(c);
  });

  it('the portrait driver has English text for every domain reason code and no other', () => {
    expect(Object.keys(PORTRAIT_REASONS).sort()).toEqual([...PORTRAIT_REASON_CODES].sort());
  });
});

describe('docs', () => {
  it('docs/domain.md is generated from config/domain.ts', () => {
    expect(doc('domain.md')).toBe(renderDomain());
  });

  it('docs/wire-format.md lists the record\'s kinds, finger exceptions and PA verdicts as the domain has them', () => {
    const w = doc('wire-format.md');
    expect(w).toContain(`exception: ${FINGER_EXCEPTIONS.map((e) => `"${e}"`).join(' | ')}`);
    expect(w).toContain(RECORD_KINDS.map((k) => `\`"${k}"\``).join(' or '));
    for (const v of RECORD_PA_VERDICTS) expect(w).toContain(`\`"${v}"\``);
  });

  it('docs/card.md names every PA reason code; docs/local-api.md every officer exception code', () => {
    const c = doc('card.md');
    for (const code of PA_REASON_CODES) expect(c).toContain(`\`${code}\``);
    const l = doc('local-api.md');
    for (const code of EXCEPTION_CODES) expect(l).toContain(`\`${code}\``);
  });
});
