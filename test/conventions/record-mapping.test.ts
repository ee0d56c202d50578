/**
 * Docs match the code (#16 item 8): every key the station may write into the record's
 * `details.extra`, and every field of the kiosk's details form, is documented — in
 * docs/domain.md (generated from config/domain.ts DETAILS_EXTRA_KEYS) and in the
 * "From the form to the record" section of docs/local-api.md. A new `extra` key in
 * code without its line in the docs fails here (and, in draftToRecord, does not compile).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { DETAILS_EXTRA_KEYS } from '../../config/domain';
import { DETAIL_FIELDS } from '../../station/workflow/validate';
import { draftToRecord, splitName } from '../../station/workflow/adapters';
import type { EnrollmentDraft } from '../../station/workflow/ports';
import { REPO, sourceFiles, visit } from './source-scan';

const KEYS = Object.keys(DETAILS_EXTRA_KEYS).sort();
const doc = (name: string): string => readFileSync(join(REPO, 'docs', name), 'utf8');

function mappingSection(): string {
  const t = doc('local-api.md');
  const start = t.indexOf('### From the form to the record');
  expect(start, 'docs/local-api.md has a "From the form to the record" section').toBeGreaterThanOrEqual(0);
  const end = t.indexOf('\n### ', start + 1);
  return t.slice(start, end < 0 ? undefined : end);
}

function draft(o: { portrait: boolean; chip: 'read' | 'exception' | 'none'; full: boolean }): EnrollmentDraft {
  return {
    sessionId: 's1', kind: o.chip === 'none' ? 'enrollment' : 'eid-activation', officerId: 'OF-1', startedAt: 1, confirmedAt: 2,
    details: {
      fullName: 'Nguyễn Thị Minh Khai', dateOfBirth: '1990-01-01', sex: 'F', nationalId: o.full ? '001190000001' : '', nationality: 'VNM',
      placeOfOrigin: o.full ? 'Hà Nội' : '', address: '1 Tràng Tiền', unitCode: '00004', phone: o.full ? '0912345678' : '',
      documentNumber: o.full ? 'C01234567' : '', documentExpiry: o.full ? '2035-01-01' : '',
    },
    fingerprints: [{ position: 1, exception: { code: 'missing', reason: 'r' } }],
    portrait: o.portrait ? { capture: { jpeg: Buffer.alloc(4), width: 480, height: 640, metrics: {} } } as EnrollmentDraft['portrait'] : { exception: { code: 'unable', reason: 'no camera' } },
    ...(o.chip === 'read' ? { chip: { read: { dg1: Buffer.alloc(4), sod: Buffer.alloc(4), mrzFields: {}, passiveAuth: { status: 'valid' } } } } : {}),
    ...(o.chip === 'exception' ? { chip: { exception: { code: 'device_failure', reason: 'reader dead' } } } : {}),
  } as EnrollmentDraft;
}

describe('details.extra: what the station writes is what the docs list', () => {
  it('every record draftToRecord can produce carries only documented keys, and together they use every documented key', () => {
    const seen = new Set<string>();
    for (const portrait of [true, false]) for (const chip of ['read', 'exception', 'none'] as const) for (const full of [true, false]) {
      const r = draftToRecord(draft({ portrait, chip, full }), 'ST-1', '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b');
      for (const k of Object.keys(r.details.extra ?? {})) {
        expect(KEYS, `details.extra.${k} is written but not in config/domain.ts DETAILS_EXTRA_KEYS`).toContain(k);
        seen.add(k);
      }
    }
    expect([...seen].sort()).toEqual(KEYS);
  });

  it('no other source file writes a details.extra key that is not documented', () => {
    const bad: string[] = [];
    for (const f of sourceFiles(['station', 'drivers', 'sync/wire'])) {
      visit(f.ast, (n) => {
        // x.extra.KEY = …  /  extra.KEY = …
        if (ts.isBinaryExpression(n) && n.operatorToken.kind === ts.SyntaxKind.EqualsToken && ts.isPropertyAccessExpression(n.left)) {
          const target = n.left.expression.getText(f.ast);
          if (/(^|\.)extra$/.test(target) && !KEYS.includes(n.left.name.text)) bad.push(`${f.path}: ${n.left.getText(f.ast)}`);
        }
        // { …, extra: { KEY: … } }
        if (ts.isPropertyAssignment(n) && ts.isIdentifier(n.name) && n.name.text === 'extra' && ts.isObjectLiteralExpression(n.initializer)) {
          for (const p of n.initializer.properties) {
            const name = p.name && (ts.isIdentifier(p.name) || ts.isStringLiteral(p.name)) ? p.name.text : null;
            if (name && !KEYS.includes(name)) bad.push(`${f.path}: extra.${name}`);
          }
        }
      });
    }
    expect(bad).toEqual([]);
  });

  it('docs/domain.md and the form-to-record section of docs/local-api.md name every key', () => {
    const domain = doc('domain.md');
    const section = mappingSection();
    for (const k of KEYS) {
      expect(domain, `docs/domain.md lacks details.extra key ${k}`).toContain(`| \`${k}\` |`);
      expect(section, `docs/local-api.md "From the form to the record" lacks details.extra key ${k}`).toMatch(new RegExp(`\`(details\\.extra\\.)?${k}\``));
    }
  });

  it('the section has a row for every field of the details form and states the name rule the code uses', () => {
    const section = mappingSection();
    for (const f of DETAIL_FIELDS) expect(section, `no row for the form field ${f}`).toMatch(new RegExp(`^\\| \`${f}\` \\|`, 'm'));
    // the example in the docs is what splitName does
    expect(splitName('Nguyễn Thị Minh Khai')).toEqual({ surname: 'Nguyễn', givenNames: 'Thị Minh Khai' });
    expect(section).toContain('"Nguyễn Thị Minh Khai" → surname "Nguyễn", givenNames "Thị Minh Khai"');
    expect(splitName('An')).toEqual({ surname: 'An', givenNames: '' });
  });
});
