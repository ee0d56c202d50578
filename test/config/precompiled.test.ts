/**
 * The configuration validator `npm run build` precompiles (tools/config-validator.mjs,
 * Ajv standalone code) says exactly what the one Ajv compiles at run time says: the
 * same defaults filled in, the same errors for bad settings. Generated here in memory
 * from the same schema and options, as the build does.
 */
import { describe, expect, it } from 'vitest';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import Ajv, { type ValidateFunction } from 'ajv';
import standalone from 'ajv/dist/standalone';
import { configSchema, CONFIG_AJV_OPTIONS } from '../../config/schema';
import { configSchemaHash } from '../../config';

const ROOT = join(__dirname, '..', '..');

function precompiled(): ValidateFunction {
  const ajv = new Ajv({ ...CONFIG_AJV_OPTIONS, code: { source: true } });
  const code = standalone(ajv, ajv.compile(configSchema));
  const m = { exports: {} as unknown };
  new Function('module', 'exports', 'require', code)(m, m.exports, createRequire(join(ROOT, 'package.json')));
  return m.exports as ValidateFunction;
}

const cases: Record<string, unknown> = {
  minimal: { version: 1, station: { id: 'VN-HN-0001', unit: { code: '00004' } } },
  'bad model and port': { version: 1, station: { id: 'VN-HN-0001', unit: { code: '00004' } }, devices: { fingerprint: { model: 'r999', baud: 'fast' } }, kiosk: { port: 70000 } },
  'unknown key': { version: 1, station: { id: 'VN-HN-0001', unit: { code: '00004' } }, kiosk: { colour: 'red' } },
  'missing station': { version: 1 },
  'wrong types': { version: 1, station: { id: 7, unit: { code: '00004', dailyQuota: -1 } }, vault: { retentionDays: 'ten' } },
};

describe('the precompiled configuration validator', () => {
  const fresh = new Ajv({ ...CONFIG_AJV_OPTIONS }).compile(configSchema as unknown as object);
  const pre = precompiled();

  for (const [name, input] of Object.entries(cases)) {
    it(`agrees with Ajv at run time: ${name}`, () => {
      const a = structuredClone(input);
      const b = structuredClone(input);
      const okA = fresh(a);
      const okB = pre(b);
      expect(okB).toBe(okA);
      expect(b).toEqual(a); // the same defaults filled in
      const strip = (errs: typeof fresh.errors) => (errs ?? []).map((e) => ({ instancePath: e.instancePath, keyword: e.keyword, params: e.params, message: e.message }));
      expect(strip(pre.errors)).toEqual(strip(fresh.errors));
    });
  }

  it('is stamped with a hash of the schema and options, so a build older than the schema is not used', () => {
    expect(configSchemaHash()).toMatch(/^[0-9a-f]{64}$/);
    expect(configSchemaHash()).toBe(configSchemaHash());
  });
});
