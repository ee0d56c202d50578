/**
 * The second-officer override over the kiosk API: a refused chip answers 409 with
 * the refusal in words, a wrong second PIN 403 (the officer's own login stays), the
 * right one lets the session go on to a sealed record that carries the co-signature.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'node:http';
import { nullLogger } from '../../station/log';
import { startKiosk, type KioskHandle } from '../../station/kiosk/server';
import { GOOD_DETAILS, makeRig, type Rig } from '../workflow/helpers';

let rig: Rig | null = null;
let kiosk: KioskHandle | null = null;
afterEach(async () => { await kiosk?.stop(); kiosk = null; rig?.cleanup(); rig = null; });

function call(port: number, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const req = request({ host: '127.0.0.1', port, method, path, headers: { ...(data ? { 'Content-Type': 'application/json', 'Content-Length': data.length } : {}), ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) }));
    });
    req.on('error', reject);
    req.end(data);
  });
}

describe('kiosk API: second-officer override', () => {
  it('409 with the refusal, 403 for a wrong second PIN, then co-signed through to a sealed record', async () => {
    rig = await makeRig();
    await rig.officers.add({ id: 'off2', name: 'Officer Two', pin: '654321' });
    rig.chip.verdict = { status: 'invalid', reason: 'no CSCA certificate in the store issued the Document Signer', reasonCode: 'unknown-issuer' };
    kiosk = await startKiosk({ port: 0, workflow: rig.wf, logger: nullLogger() });
    const p = kiosk.port;
    const login = await call(p, 'POST', '/api/login', { officerId: 'off1', pin: '123456' });
    const auth = { Authorization: `Bearer ${login.body.token}` };
    const post = (path: string, body: unknown = {}) => call(p, 'POST', path, body, auth);
    await post('/api/session/start');
    const shown = (await post('/api/session/kind', { kind: 'eid-activation' })).body.state.session.consentText.texts[0];
    await post('/api/session/consent', { accepted: true, language: shown.language, sha256: shown.sha256 });
    expect((await post('/api/session/details', { details: { ...GOOD_DETAILS, documentNumber: '001090012345', documentExpiry: '2035-05-17' } })).status).toBe(200);
    await post('/api/session/finger/capture'); await post('/api/session/finger/capture'); await post('/api/session/next');
    await post('/api/session/portrait/capture'); await post('/api/session/next');
    const read = await post('/api/session/chip/read');
    expect(read.body.state.session.chip.status).toBe('rejected');
    expect(read.body.state.session.blockers[0]).toMatchObject({ kind: 'chip-authenticity', code: 'unknown-issuer', cosigned: null });

    const blocked = await post('/api/session/next');
    expect(blocked.status).toBe(409);
    expect(blocked.body.error).toMatchObject({ code: 'WORKFLOW_BLOCKED', message: expect.stringMatching(/no CSCA certificate in the store issued the Document Signer/), hint: expect.stringMatching(/second officer/), details: { blockers: [{ kind: 'chip-authenticity' }] } });

    const wrong = await post('/api/session/override', { kind: 'chip-authenticity', officerId: 'off2', pin: '111111', reason: 'checked the card by hand' });
    expect(wrong.status).toBe(403);
    expect(wrong.body.error).toMatchObject({ code: 'OVERRIDE_REFUSED', details: { cause: 'OFFICER_BAD_CREDENTIALS', remaining: 2 } });
    // the session and the officer's login are untouched by the refusal
    const state = await call(p, 'GET', '/api/state', undefined, auth);
    expect(state.status).toBe(200);
    expect(state.body.session.step).toBe('chip');

    const ok = await post('/api/session/override', { kind: 'chip-authenticity', officerId: 'off2', pin: '654321', reason: 'checked the card by hand' });
    expect(ok.status).toBe(200);
    expect(ok.body.state.session.blockers[0].cosigned).toMatchObject({ officerId: 'off2' });
    expect((await post('/api/session/next')).status).toBe(200);
    const sealed = await post('/api/session/confirm');
    expect(sealed.body.state.session.step).toBe('sealed');
    expect(rig.sealer.sealed[0]!.draft.overrides).toEqual([expect.objectContaining({ kind: 'chip-authenticity', code: 'unknown-issuer', officerId: 'off2' })]);
  });
});
