import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync, statSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { STEPS_ACTIVATION } from '../../station/workflow/machine';
import { PORTRAIT_REASONS } from '../../drivers/camera/portrait';
import { loadCatalogue, loadCatalogues } from '../../station/kiosk/catalogue';
import { PA_REASON_CODES, PA_VERDICTS } from '../../config/domain';

const root = join(__dirname, '..', '..', 'station', 'kiosk');
const { en, vi } = loadCatalogues(join(root, 'i18n'));
/** Every script of the page (public/app.js and public/steps/*.js). */
function pageFiles(dir = join(root, 'public')): string[] {
  return readdirSync(dir).flatMap((f) => (statSync(join(dir, f)).isDirectory() ? pageFiles(join(dir, f)) : f.endsWith('.js') ? [join(dir, f)] : []));
}
const app = pageFiles().map((f) => readFileSync(f, 'utf8')).join('\n');

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

  it('every key the page names exists (literal calls, and key-shaped strings in any expression)', () => {
    const calls = [...app.matchAll(/\btt?\('([a-zA-Z0-9_.-]+)'\s*[,)]/g)].map((m) => m[1]!);
    expect(calls.length).toBeGreaterThan(100);
    // 'ns.some.key' strings anywhere (ternaries, tables), for the namespaces the catalogue has; prefixes end with '.'
    const spaces = new Set(Object.keys(en).map((k) => k.split('.')[0]!));
    const shaped = [...app.matchAll(/'([a-zA-Z]+\.[a-zA-Z0-9_.-]*[a-zA-Z0-9_-])'/g)].map((m) => m[1]!).filter((k) => spaces.has(k.split('.')[0]!) && !/\.(js|css|json|png)$/.test(k));
    const missing = [...new Set([...calls, ...shaped])].filter((k) => !(k in en));
    expect(missing).toEqual([]);
  });

  it('covers every step, finger, exception, field-error, refusal, input rule and device state the station can send', () => {
    for (const s of [...STEPS_ACTIVATION, 'sealing']) expect(en, s).toHaveProperty([`step.${s}`]);
    for (let p = 1; p <= 10; p++) { expect(en).toHaveProperty([`finger.${p}`]); expect(en).toHaveProperty([`finger.short.${p}`]); }
    for (const c of ['missing', 'amputated', 'bandaged', 'unable', 'device_failure']) expect(en).toHaveProperty([`exc.${c}`]);
    for (const c of Object.keys(PORTRAIT_REASONS)) expect(en, c).toHaveProperty([`reason.${c}`]);
    for (const c of ['locked', 'offline_policy', 'disk_low', 'hq_key', 'no_card_reader']) expect(en).toHaveProperty([`refused.${c}`]);
    for (const s of ['ready', 'busy', 'degraded', 'error', 'absent', 'simulated']) { expect(en).toHaveProperty([`devstate.${s}`]); expect(en).toHaveProperty([`devstate.long.${s}`]); }
    const validate = readFileSync(join(__dirname, '..', '..', 'station', 'workflow', 'validate.ts'), 'utf8');
    const codes = [...validate.matchAll(/err\('\w+', '([a-z_]+)'/g)].map((m) => m[1]!);
    expect(codes.length).toBeGreaterThan(15);
    for (const c of codes) expect(en, c).toHaveProperty([`errors.${c}`]);
    const machine = readFileSync(join(__dirname, '..', '..', 'station', 'workflow', 'machine.ts'), 'utf8');
    const rules = [...machine.matchAll(/inputError\('([a-z_]+)'/g), ...machine.matchAll(/rule: '([a-z_]+)'/g)].map((m) => m[1]!);
    expect(rules.length).toBeGreaterThan(8);
    for (const r of rules) expect(en, r).toHaveProperty([`input.${r}`]);
    for (const c of PA_REASON_CODES) expect(en, c).toHaveProperty([`pa.reason.${c}`]);
    for (const v of PA_VERDICTS) { expect(en, v).toHaveProperty([`chip.pa.${v}`]); expect(en, v).toHaveProperty([`chip.pa.${v}.todo`]); }
    // every device error code class has words, so nothing falls through to the English message
    for (const p of ['FP', 'CAM', 'CARD', 'VAULT', 'WORKFLOW', 'KIOSK', 'OFFICER']) expect(en).toHaveProperty([`code.${p}_*`]);
  });

  it('merges a feature’s own <lang>.<part>.json and refuses a key defined twice or missing in one language', () => {
    const dir = mkdtempSync(join(tmpdir(), 'i18n-'));
    try {
      writeFileSync(join(dir, 'vi.json'), JSON.stringify({ a: 'một' }));
      writeFileSync(join(dir, 'en.json'), JSON.stringify({ a: 'one' }));
      writeFileSync(join(dir, 'vi.extra.json'), JSON.stringify({ b: 'hai' }));
      expect(loadCatalogue(dir, 'vi')).toEqual({ a: 'một', b: 'hai' });
      expect(() => loadCatalogues(dir)).toThrow(/en lacks b/);
      writeFileSync(join(dir, 'en.extra.json'), JSON.stringify({ a: 'again' }));
      expect(() => loadCatalogues(dir)).toThrow(/a is defined in both en\.json and en\.extra\.json/);
    } finally { rmSync(dir, { recursive: true, force: true }); }
  });
});
