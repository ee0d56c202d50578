import { describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import type { Logger } from 'pino';
import { createLogger } from '../../station/log';
import { createHqLogger } from '../../sync/hq/log';
import type { EnrollmentRecord } from '../../sync/wire';

/** A destination that keeps every line written to it. */
function sink(): { stream: Writable; lines: () => Record<string, unknown>[]; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({ write(c: Buffer, _e, cb) { chunks.push(c.toString('utf8')); cb(); } });
  const text = (): string => chunks.join('');
  return { stream, text, lines: () => text().trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>) };
}

// Values that must not reach a log line, each unique enough to find in the output.
const SECRET = {
  password: 'pw-Zq81', pin: '918273', officerPin: '564738', token: 'tok-Yx55', csrfToken: 'csrf-Ab12',
  key: 'k3y-material-77', can: '472901', mrz: 'P<UTOERIKSSON<<ANNA<MARIA', passphrase: 'horse-battery-9',
  authorization: 'Bearer abc-Q9', hqPrivateKey: 'priv-Hh31',
};
const MARK = { png: Buffer.from('FINGERPNG-marker-1'), jpeg: Buffer.from('PORTRAITJPEG-marker-2'), dg2: Buffer.from('DG2-marker-3'), photo: Buffer.from('HANDPHOTO-marker-4'), privateKey: Buffer.from('PRIVATEKEY-marker-5') };

function record(): EnrollmentRecord {
  return {
    recordId: '01890a5d-ac96-774b-bcce-b302099a8057', stationId: 'booth-1', officerId: 'off1', kind: 'enrollment',
    startedAt: 1, completedAt: 2,
    details: { surname: 'Okonkwo', givenNames: 'Adaeze Chioma', dateOfBirth: '1991-04-17', sex: 'F', placeOfBirth: 'Enugu', address: '12 Market Road', documentNumber: 'C01X00T47', nationalId: 'NI-778899', phone: '+234-555-0101', extra: { district: 'Kisumu-Ward-9' } },
    fingerprints: [
      { position: 2, status: 'captured', png: MARK.png, width: 256, height: 288, ppi: 500, quality: 70, attempts: 1 },
      { position: 7, status: 'exception', exception: 'amputated', reason: 'missing since birth', photo: { jpeg: MARK.photo, width: 10, height: 10 } },
    ],
    portrait: { jpeg: MARK.jpeg, width: 480, height: 640, metrics: { sharpness: 0.8 } },
    chip: { dg1: Buffer.from('DG1-marker-6'), dg2: MARK.dg2, sod: Buffer.from('SOD'), passiveAuth: { verdict: 'valid' } },
  } as EnrollmentRecord;
}
const PERSONAL_VALUES = ['Okonkwo', 'Adaeze', '1991-04-17', 'Enugu', '12 Market Road', 'C01X00T47', 'NI-778899', '+234-555-0101', 'Kisumu-Ward-9'];
const BYTE_MARKERS = [...Object.values(MARK), Buffer.from('DG1-marker-6')].flatMap((b) => [b.toString('utf8'), b.toString('base64'), b.toString('hex')]);

const loggers: [string, (s: Writable) => Logger][] = [
  ['station (station/log.ts)', (s) => createLogger({ destination: s, level: 'debug' })],
  ['headquarters (sync/hq/log.ts)', (s) => createHqLogger('debug', s)],
];

describe.each(loggers)('redaction in the %s logger', (_name, make) => {
  it('hides secrets at the top level, nested, in arrays and in child bindings', () => {
    const out = sink();
    const log = make(out.stream);
    log.info({ ...SECRET }, 'top');
    log.info({ a: { b: { c: { ...SECRET } } } }, 'nested');
    log.info({ list: [{ pin: SECRET.pin }, { token: SECRET.token }] }, 'array');
    log.child({ component: 'x', token: SECRET.token, password: SECRET.password }).info('child');
    log.info({ PIN: SECRET.pin, private_key: SECRET.hqPrivateKey, 'set-cookie': SECRET.token }, 'spelled differently');
    const text = out.text();
    for (const v of Object.values(SECRET)) expect(text, v).not.toContain(v);
    const [top] = out.lines();
    expect(top!.pin).toBe('[redacted]'); // the field is still there, its value is not
    expect(top!.can).toBe('[redacted]');
    expect(out.lines()).toHaveLength(5);
  });

  it('hides personal data and biometrics of a whole record, and any bytes', () => {
    const out = sink();
    const log = make(out.stream);
    const r = record();
    log.info({ record: r }, 'record');
    log.info({ details: r.details }, 'details');
    log.info({ surname: 'Okonkwo', givenNames: 'Adaeze', fullName: 'Okonkwo Adaeze', dateOfBirth: '1991-04-17', nationalId: 'NI-778899' }, 'flat');
    log.info({ capture: { position: 2, png: MARK.png, pixels: MARK.png, template: MARK.png } }, 'capture');
    log.info({ blob: MARK.privateKey, nested: { privateKey: MARK.privateKey } }, 'bytes under an innocent name');
    const text = out.text();
    for (const v of [...PERSONAL_VALUES, ...BYTE_MARKERS]) expect(text, v).not.toContain(v);
    const [rec] = out.lines();
    // What is not personal stays readable: ids, kinds, positions, verdicts.
    expect(rec!.record).toMatchObject({ recordId: r.recordId, stationId: 'booth-1', officerId: 'off1', kind: 'enrollment', details: '[redacted]', fingerprints: '[redacted]', portrait: '[redacted]' });
    expect((rec!.record as { chip: unknown }).chip).toMatchObject({ dg1: '[redacted]', passiveAuth: { verdict: 'valid' } });
    expect(out.lines()[4]!.blob).toMatch(/^\[redacted\] \d+ bytes$/);
  });

  it('keeps key fingerprints, public keys and what a technician needs', () => {
    const out = sink();
    const log = make(out.stream);
    const fp = 'ab12cd34ef56ab12cd34ef56ab12cd34';
    log.info({ fingerprint: fp, keyFingerprint: fp, previousFingerprint: fp, publicKey: 'MCowBQYDK2VwAyEA', stationId: 'booth-1', component: 'uplink', quality: 71, position: 2 }, 'station key rotated');
    log.error({ err: new Error('broker refused: not authorised') }, 'failed');
    const [a, b] = out.lines();
    expect(a).toMatchObject({ fingerprint: fp, keyFingerprint: fp, previousFingerprint: fp, publicKey: 'MCowBQYDK2VwAyEA', stationId: 'booth-1', component: 'uplink', quality: 71, position: 2 });
    expect((b!.err as { message: string }).message).toBe('broker refused: not authorised');
    expect(typeof (b!.err as { stack: string }).stack).toBe('string');
  });

  it('survives a cycle', () => {
    const out = sink();
    const log = make(out.stream);
    const a: Record<string, unknown> = { name: 'a' };
    a.self = a;
    log.info({ a }, 'cycle');
    expect(out.lines()[0]!.a).toEqual({ name: 'a', self: '[circular]' });
  });
});
