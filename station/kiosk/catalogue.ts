/**
 * The kiosk's translation catalogues: `i18n/<lang>.json` plus any
 * `i18n/<lang>.<part>.json` (a feature's own strings, so that engineers adding
 * a panel do not all edit one file), merged into one catalogue per language and
 * served as `/i18n/<lang>.json`. A key defined twice, a value that is not a
 * string, or a language missing a key the other has fails the station's start
 * (and the i18n test) rather than showing a blank in front of an officer.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { StationError } from '../../drivers/common/errors';

export const LANGUAGES = ['vi', 'en'] as const;
export type Language = (typeof LANGUAGES)[number];
export type Catalogue = Record<string, string>;

export function catalogueFiles(dir: string, lang: Language): string[] {
  const parts = readdirSync(dir).filter((f) => f.startsWith(`${lang}.`) && f.endsWith('.json') && f !== `${lang}.json`).sort();
  return [`${lang}.json`, ...parts];
}

export function loadCatalogue(dir: string, lang: Language): Catalogue {
  const out: Catalogue = {};
  const from: Record<string, string> = {};
  for (const f of catalogueFiles(dir, lang)) {
    let j: unknown;
    try {
      j = JSON.parse(readFileSync(join(dir, f), 'utf8'));
    } catch (e) {
      throw new StationError('KIOSK_I18N', `kiosk translation file ${join(dir, f)} is not valid JSON: ${(e as Error).message}`, { hint: 'fix the file (it is part of the station package)' });
    }
    if (!j || typeof j !== 'object' || Array.isArray(j)) throw new StationError('KIOSK_I18N', `kiosk translation file ${join(dir, f)} must be one JSON object of "key": "text"`);
    for (const [k, v] of Object.entries(j as Record<string, unknown>)) {
      if (typeof v !== 'string') throw new StationError('KIOSK_I18N', `kiosk translation ${k} in ${f} is not a string`);
      if (k in out) throw new StationError('KIOSK_I18N', `kiosk translation ${k} is defined in both ${from[k]} and ${f}`, { hint: 'keep each key in one file' });
      out[k] = v;
      from[k] = f;
    }
  }
  return out;
}

/** Both catalogues; throws when one has a key the other lacks. */
export function loadCatalogues(dir: string): Record<Language, Catalogue> {
  const vi = loadCatalogue(dir, 'vi');
  const en = loadCatalogue(dir, 'en');
  const missing = [...Object.keys(vi).filter((k) => !(k in en)).map((k) => `en lacks ${k}`), ...Object.keys(en).filter((k) => !(k in vi)).map((k) => `vi lacks ${k}`)];
  if (missing.length) throw new StationError('KIOSK_I18N', `kiosk translations differ: ${missing.slice(0, 10).join(', ')}${missing.length > 10 ? ', …' : ''}`, { hint: 'add the missing translations' });
  return { vi, en };
}
