/// <reference lib="dom" />
/**
 * The second-officer override on the kiosk page (#14 items 2-3), in a real Chromium
 * at the booth's smallest screen (800×480), against the real kiosk server and
 * workflow: a chip refused by passive authentication and of another person
 * ("Nguyễn Văn An, M, 1990" typed, "ERIKSSON ANNA MARIA, F" on the chip) is shown in
 * words, the mismatch field by field; continuing is refused; the officer running the
 * session cannot co-sign, a wrong second PIN says how many attempts are left, the
 * right one co-signs; the record carries both co-signatures. Every word shown comes
 * from the catalogue of the page's language.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { nullLogger } from '../../station/log';
import { startKiosk, type KioskHandle } from '../../station/kiosk/server';
import { GOOD_DETAILS, makeRig, type Rig } from '../workflow/helpers';
import { catalogue, expectInViewport, fillDetails, launchBrowser, screenshot, uncatalogued } from './browser';

let b: Awaited<ReturnType<typeof launchBrowser>>;
let rig: Rig | null = null;
let kiosk: KioskHandle | null = null;

beforeAll(async () => { b = await launchBrowser({ width: 800, height: 480 }); }, 90_000);
afterAll(async () => { await b?.close(); });
afterEach(async () => { await kiosk?.stop(); kiosk = null; rig?.cleanup(); rig = null; });

const ACTIVATION = { ...GOOD_DETAILS, documentNumber: '001090012', documentExpiry: '2035-05-17' };
const REASON_PA = 'thẻ mẫu cũ, đã đối chiếu bằng mắt';
const REASON_MISMATCH = 'đổi tên sau khi cấp thẻ';

describe.each(['en', 'vi'] as const)('override on the kiosk page (%s)', (lang) => {
  it('refusal in words and field by field; same officer and wrong PIN refused; a second officer co-signs both into the record', async () => {
    const cat = catalogue(lang);
    rig = await makeRig();
    await rig.officers.add({ id: 'off2', name: 'Officer Two', pin: '654321' });
    rig.chip.verdict = { status: 'invalid', reason: 'no CSCA certificate in the store issued the Document Signer', reasonCode: 'unknown-issuer' };
    rig.chip.person = { lastName: 'ERIKSSON', firstName: 'ANNA MARIA', sex: 'female' };
    kiosk = await startKiosk({ port: 0, workflow: rig.wf, logger: nullLogger(), language: lang, statusIntervalMs: 300 });
    const page = await b.page();
    await page.goto(kiosk.url);
    await page.getByTestId('login-id').waitFor();
    await page.evaluate((l) => { sessionStorage.clear(); localStorage.clear(); localStorage.setItem('kioskLang', l); }, lang);
    await page.goto(kiosk.url);
    const data = [...Object.values(ACTIVATION), '17/05/1990', '17/05/2035', 'Officer One', 'ERIKSSON ANNA MARIA', 'ERIKSSON', 'ANNA MARIA', 'off2', REASON_PA, REASON_MISMATCH];
    const words = async (what: string): Promise<void> => {
      expect(await uncatalogued(page, cat, data), `${what}: strings not in the ${lang} catalogue`).toEqual([]);
      await screenshot(page, `override-${lang}`, what);
    };

    await page.getByTestId('login-id').fill('off1');
    await page.getByTestId('login-pin').fill('123456');
    await page.getByTestId('login-submit').click();
    await page.getByTestId('start-activation').click();
    await page.getByTestId('consent-agree').click();
    await page.getByTestId('f-fullName').waitFor();
    await fillDetails(page, ACTIVATION);
    await page.getByTestId('details-submit').click();
    await page.getByTestId('finger-capture').click();
    await page.locator('[data-testid="finger-2"][data-status="captured"]').waitFor();
    await page.getByTestId('finger-capture').click();
    await page.locator('[data-testid="finger-7"][data-status="captured"]').waitFor();
    await page.getByTestId('next').click();
    await page.getByTestId('portrait-capture').click();
    await page.locator('[data-testid="portrait-verdict"][data-verdict="accept"]').waitFor();
    await page.getByTestId('next').click();
    await page.getByTestId('chip-mode-mrz').click(); // the CAN is the default; this chip is opened with the details' MRZ fields
    await page.getByTestId('chip-read').click();

    // both refusals, in words: the reason code of the verdict, the mismatch field by field
    const pa = page.getByTestId('blocker-chip-authenticity');
    await pa.waitFor();
    expect(await pa.getAttribute('data-cosigned')).toBe('false');
    expect(await pa.getByTestId('blocker-why').textContent()).toBe(cat['pa.reason.unknown-issuer']);
    const mm = page.getByTestId('blocker-chip-details-mismatch');
    const row = (f: string, side: string) => mm.locator(`tr[data-field="${f}"] td[data-side="${side}"]`).textContent();
    expect(await row('fullName', 'entered')).toBe('Nguyễn Văn An');
    expect(await row('fullName', 'chip')).toBe('ERIKSSON ANNA MARIA');
    expect(await row('sex', 'entered')).toBe(cat['sex.M']);
    expect(await row('sex', 'chip')).toBe(cat['sex.F']);
    // what matches is not listed
    expect(await mm.locator('tr[data-field="dateOfBirth"]').count()).toBe(0);
    expect(await mm.locator('tr[data-field="documentNumber"]').count()).toBe(0);
    await words('chip-refused');

    // continuing is not offered until the refusal of this step is co-signed
    expect(await page.getByTestId('next').isDisabled()).toBe(true);

    // the dialog: the officer running the session cannot co-sign
    await page.getByTestId('override-chip-authenticity').click();
    await page.getByTestId('override-dialog').waitFor();
    await expectInViewport(page, '[data-testid="override-sign"]', 'co-sign button at 800×480');
    await page.getByTestId('override-sign').click();
    expect(await page.getByTestId('override-error').locator('.error-text').textContent()).toBe(cat['input.override_no_id']);
    await page.getByTestId('override-id').fill('off1');
    await page.getByTestId('override-pin').fill('123456');
    await page.getByTestId('override-reason').fill(REASON_PA);
    await page.getByTestId('override-sign').click();
    await expect.poll(() => page.getByTestId('override-error').locator('.error-text').textContent()).toBe(cat['override.cause.same_officer']);
    // a wrong PIN typed on the on-screen keypad: refused, with the attempts left; nothing else typed is lost
    await page.getByTestId('override-id').fill('off2');
    await page.getByTestId('override-pin').click();
    for (const k of '111111') await page.locator(`[data-testid="override-keypad"] [data-key="${k}"]`).click();
    await page.getByTestId('override-sign').click();
    await expect.poll(() => page.getByTestId('override-error').locator('.error-text').textContent()).toBe(cat['override.cause.bad']!.replace('{n}', '2'));
    expect(await page.getByTestId('override-id').inputValue()).toBe('off2');
    expect(await page.getByTestId('override-reason').inputValue()).toBe(REASON_PA);
    expect(await page.getByTestId('override-pin').inputValue()).toBe('');
    await words('override-wrong-pin');
    await page.getByTestId('override-pin').fill('654321');
    await page.getByTestId('override-sign').click();
    await page.getByTestId('override-dialog').waitFor({ state: 'detached' });
    await page.locator('[data-testid="blocker-chip-authenticity"][data-cosigned="true"]').waitFor();
    expect(await pa.getByTestId('cosigned-by').textContent()).toContain('off2');
    expect(await pa.getByTestId('cosigned-by').textContent()).toContain(REASON_PA);
    await words('chip-cosigned');
    expect(await page.getByTestId('next').isDisabled()).toBe(false);

    // on to review; confirm is refused while the mismatch stands; co-signed, it seals
    await page.getByTestId('next').click();
    await page.getByTestId('confirm').waitFor();
    await page.getByTestId('confirm').click();
    // said as what it is (the details differ), once, and gone once co-signed
    const refusal = page.getByTestId('error-chip-details-mismatch');
    await refusal.waitFor();
    expect(await refusal.locator('.error-text').textContent()).toBe(cat['refused.chip-details-mismatch']);
    expect(await page.locator('[data-error]').count()).toBe(1);
    await words('confirm-refused');
    await page.getByTestId('override-chip-details-mismatch').click();
    await page.getByTestId('override-id').fill('off2');
    await page.getByTestId('override-pin').fill('654321');
    await page.getByTestId('override-reason').fill(REASON_MISMATCH);
    await page.getByTestId('override-sign').click();
    await page.locator('[data-testid="blocker-chip-details-mismatch"][data-cosigned="true"]').waitFor();
    expect(await page.locator('[data-error]').count()).toBe(0);
    await words('review-cosigned');
    await page.getByTestId('confirm').click();
    await expect.poll(() => rig!.sealer.sealed.length).toBe(1);
    expect(rig.sealer.sealed[0]!.draft.overrides).toEqual([
      expect.objectContaining({ kind: 'chip-authenticity', code: 'unknown-issuer', officerId: 'off2', reason: REASON_PA }),
      expect.objectContaining({ kind: 'chip-details-mismatch', code: 'details-mismatch', officerId: 'off2', reason: REASON_MISMATCH, fields: ['fullName', 'sex'] }),
    ]);
  });
});
