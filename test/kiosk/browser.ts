import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

/** Debian's Chromium, headless, with a fresh profile that is deleted afterwards. */
export async function launchBrowser(): Promise<{ browser: Browser; page(): Promise<Page>; close(): Promise<void> }> {
  const profile = mkdtempSync(join(tmpdir(), 'kiosk-chromium-'));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 800 },
    timeout: 60_000,
  });
  return {
    browser: ctx.browser() as Browser,
    async page() { const p = ctx.pages()[0] ?? (await ctx.newPage()); p.setDefaultTimeout(20_000); return p; },
    async close() { await ctx.close().catch(() => undefined); rmSync(profile, { recursive: true, force: true }); },
  };
}

/** Fills the details form field by field (select for sex). */
export async function fillDetails(page: Page, d: Record<string, string>): Promise<void> {
  for (const [k, v] of Object.entries(d)) {
    if (k === 'sex') await page.getByTestId(`f-${k}`).selectOption(v);
    else await page.getByTestId(`f-${k}`).fill(v);
  }
}
