import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { STEPS_ACTIVATION } from '../../station/workflow/machine';
import { PORTRAIT_REASONS } from '../../drivers/camera/portrait';

const root = join(__dirname, '..', '..', 'station', 'kiosk');
const en = JSON.parse(readFileSync(join(root, 'i18n', 'en.json'), 'utf8')) as Record<string, string>;
const vi = JSON.parse(readFileSync(join(root, 'i18n', 'vi.json'), 'utf8')) as Record<string, string>;
const app = readFileSync(join(root, 'public', 'app.js'), 'utf8');

describe('kiosk translations', () => {
  it('Vietnamese and English have the same keys, none empty, with the same {placeholders}', () => {
    expect(Object.keys(vi).sort()).toEqual(Object.keys(en).sort());
    for (const k of Object.keys(en)) {
      expect(en[k]!.trim(), k).not.toBe('');
      expect(vi[k]!.trim(), k).not.toBe('');
      const ph = (s: string): string[] => (s.match(/\{\w+\}/g) ?? []).sort();
      expect(ph(vi[k]!), k).toEqual(ph(en[k]!));
    }
  });

  it('every literal key the page asks for exists', () => {
    const keys = [...app.matchAll(/\btt?\('([a-zA-Z0-9_.-]+)'\s*[,)]/g)].map((m) => m[1]!);
    expect(keys.length).toBeGreaterThan(50);
    const missing = [...new Set(keys)].filter((k) => !(k in en));
    expect(missing).toEqual([]);
  });

  it('covers every step, finger, exception, field-error and refusal code the station can send', () => {
    for (const s of [...STEPS_ACTIVATION, 'sealing']) expect(en, s).toHaveProperty([`step.${s}`]);
    for (let p = 1; p <= 10; p++) expect(en).toHaveProperty([`finger.${p}`]);
    for (const c of ['missing', 'amputated', 'bandaged', 'unable', 'device_failure']) expect(en).toHaveProperty([`exc.${c}`]);
    for (const c of Object.keys(PORTRAIT_REASONS)) expect(en, c).toHaveProperty([`reason.${c}`]);
    for (const c of ['locked', 'offline_policy', 'disk_low', 'hq_key', 'no_card_reader']) expect(en).toHaveProperty([`refused.${c}`]);
    const validate = readFileSync(join(__dirname, '..', '..', 'station', 'workflow', 'validate.ts'), 'utf8');
    const codes = [...validate.matchAll(/err\('\w+', '([a-z_]+)'/g)].map((m) => m[1]!);
    expect(codes.length).toBeGreaterThan(15);
    for (const c of codes) expect(en, c).toHaveProperty([`errors.${c}`]);
  });
});
