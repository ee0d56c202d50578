/// <reference lib="dom" />
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { expect } from 'vitest';
import { loadCatalogue } from '../../station/kiosk/catalogue';

/** Debian's Chromium, headless, with a fresh profile that is deleted afterwards. */
export async function launchBrowser(viewport = { width: 1280, height: 800 }): Promise<{ browser: Browser; context: BrowserContext; page(): Promise<Page>; close(): Promise<void> }> {
  const profile = mkdtempSync(join(tmpdir(), 'kiosk-chromium-'));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport,
    timeout: 60_000,
  });
  return {
    browser: ctx.browser() as Browser,
    context: ctx,
    async page() { const p = ctx.pages()[0] ?? (await ctx.newPage()); p.setDefaultTimeout(20_000); return p; },
    async close() { await ctx.close().catch(() => undefined); rmSync(profile, { recursive: true, force: true }); },
  };
}

/** Fills the details form field by field (select for sex; dates as DD/MM/YYYY when given as YYYY-MM-DD). */
export async function fillDetails(page: Page, d: Record<string, string>): Promise<void> {
  for (const [k, v] of Object.entries(d)) {
    if (k === 'sex' || k === 'nationality') await page.getByTestId(`f-${k}`).selectOption(v);
    else if ((k === 'dateOfBirth' || k === 'documentExpiry') && /^\d{4}-\d{2}-\d{2}$/.test(v)) await page.getByTestId(`f-${k}`).fill(`${v.slice(8, 10)}/${v.slice(5, 7)}/${v.slice(0, 4)}`);
    else await page.getByTestId(`f-${k}`).fill(v);
  }
}

/** Test artefacts (screenshots) go here: gitignored, kept after the run (README "Tests"). */
export const ARTEFACTS = join(__dirname, '..', '..', 'test-artifacts');

/** Empties a screenshot folder at the start of a run, so what is there is this run's. */
export function resetArtefacts(folder: string): void {
  rmSync(join(ARTEFACTS, folder), { recursive: true, force: true });
}

export async function screenshot(page: Page, folder: string, name: string): Promise<void> {
  const dir = join(ARTEFACTS, folder);
  mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: join(dir, `${name}.png`) });
}

/** The element's box lies entirely inside the viewport (what the officer sees without scrolling). */
export async function expectInViewport(page: Page, selector: string, what = selector): Promise<void> {
  const el = page.locator(selector).first();
  await el.waitFor({ state: 'visible' });
  // the page re-renders from the station's pushed state: the element can be replaced between the wait and
  // the measurement (its box is then null for that instant) — measure the one that is there
  let box = await el.boundingBox();
  for (let i = 0; box === null && i < 20; i++) { await el.waitFor({ state: 'visible' }); box = await el.boundingBox(); }
  const vp = page.viewportSize()!;
  expect(box, `${what} has a box`).not.toBeNull();
  const b = box!;
  expect(b.x, `${what} left edge`).toBeGreaterThanOrEqual(0);
  expect(b.y, `${what} top edge`).toBeGreaterThanOrEqual(0);
  expect(b.x + b.width, `${what} right edge at ${vp.width}×${vp.height}`).toBeLessThanOrEqual(vp.width + 0.5);
  expect(b.y + b.height, `${what} bottom edge at ${vp.width}×${vp.height}`).toBeLessThanOrEqual(vp.height + 0.5);
  // and nothing covers it (another band, an overlay)
  const hit = await el.evaluate((e) => {
    const r = e.getBoundingClientRect();
    const top = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
    return !!top && (top === e || e.contains(top));
  });
  expect(hit, `${what} is not covered`).toBe(true);
}

const CATALOGUE_DIR = join(__dirname, '..', '..', 'station', 'kiosk', 'i18n');

/**
 * Every piece of text the page shows (and every label a screen reader reads) must
 * come from the catalogue of the page's language; data the officer typed or the
 * chip holds is marked data-raw and must be one of `data` (or digits and dates).
 * Returns the offending strings.
 */
export async function uncatalogued(page: Page, catalogue: Record<string, string>, data: string[]): Promise<string[]> {
  return page.evaluate(({ cat, data }) => {
    const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    // a catalogue text with {placeholders}: what fills them must itself be known (a word of the catalogue, data, digits)
    const patterns = Object.values(cat).map((v) => new RegExp(`^${esc(v).replace(/\\\{\w+\\\}/g, '([\\s\\S]+?)')}$`));
    const okData = (s: string): boolean => {
      const t = s.replace(/^[“"]|[”"]$/g, '').trim();
      return t === '—' || !/\p{L}/u.test(t) || data.includes(t);
    };
    const known = (s: string, depth = 0): boolean => {
      const whole = s.replace(/\s+/g, ' ').trim();
      const t = whole.replace(/^[·:\-–—\s“”"(]+|[·:\-–—\s“”")]+$/g, '');
      if (!/\p{L}/u.test(t)) return true; // digits, times, punctuation
      if (depth > 3) return false;
      for (const c of [whole, t]) {
        for (const p of patterns) {
          const m = p.exec(c);
          if (m && m.slice(1).every((g) => known(g, depth + 1) || okData(g))) return true;
        }
      }
      // composed labels ("Camera: ready", "Offline · Last contact: 10:32"): every part known
      const parts = t.split(/ · |: /);
      return parts.length > 1 && parts.every((x) => known(x, depth + 1));
    };
    const bad: string[] = [];
    const visible = (el: Element): boolean => (el as HTMLElement).checkVisibility({ checkOpacity: true, checkVisibilityCSS: true });
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const text = n.nodeValue ?? '';
      if (!text.trim()) continue;
      const el = n.parentElement!;
      if (el.closest('script,style')) continue;
      const inSelect = el.closest('select');
      if (!inSelect && !visible(el)) continue;
      if (inSelect && !visible(inSelect)) continue;
      const rawEl = el.closest('[data-raw]');
      if (rawEl) { if (!okData(text)) bad.push(`data: ${text}`); continue; }
      if (!known(text)) bad.push(text.trim());
    }
    for (const el of Array.from(document.querySelectorAll('[placeholder],[aria-label],[title],img[alt]'))) {
      if (!visible(el)) continue;
      for (const a of ['placeholder', 'aria-label', 'title', 'alt']) {
        const v = el.getAttribute(a);
        if (v && !known(v)) bad.push(`${a}: ${v}`);
      }
    }
    return [...new Set(bad)];
  }, { cat: catalogue, data });
}

/** The served catalogue: the merge of <lang>.json and <lang>.*.json (station/kiosk/catalogue.ts). */
export function catalogue(lang: 'vi' | 'en'): Record<string, string> {
  return loadCatalogue(CATALOGUE_DIR, lang);
}
