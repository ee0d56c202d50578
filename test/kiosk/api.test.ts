import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'node:http';
import { nullLogger } from '../../station/log';
import { startKiosk, type KioskHandle } from '../../station/kiosk/server';
import { GOOD_DETAILS, makeRig, type Rig } from '../workflow/helpers';

let rig: Rig | null = null;
let kiosk: KioskHandle | null = null;
afterEach(async () => { await kiosk?.stop(); kiosk = null; rig?.cleanup(); rig = null; });

interface Res { status: number; body: any; headers: Record<string, string | string[] | undefined> }
function call(k: KioskHandle, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Res> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
    const req = request({ host: '127.0.0.1', port: k.port, method, path, headers: { ...(data ? { 'Content-Type': 'application/json', 'Content-Length': data.length } : {}), ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const raw = Buffer.concat(chunks);
        let parsed: unknown = raw;
        if (String(res.headers['content-type']).startsWith('application/json')) parsed = JSON.parse(raw.toString('utf8'));
        resolve({ status: res.statusCode!, body: parsed, headers: res.headers });
      });
    });
    req.on('error', reject);
    req.end(data);
  });
}

async function setup(): Promise<{ k: KioskHandle; auth: Record<string, string> }> {
  rig = await makeRig();
  kiosk = await startKiosk({ port: 0, workflow: rig.wf, logger: nullLogger() });
  const r = await call(kiosk, 'POST', '/api/login', { officerId: 'off1', pin: '123456' });
  expect(r.status).toBe(200);
  return { k: kiosk, auth: { Authorization: `Bearer ${r.body.token}` } };
}

describe('kiosk local API', () => {
  it('binds to loopback only and refuses a non-loopback host', async () => {
    rig = await makeRig();
    await expect(startKiosk({ port: 0, host: '0.0.0.0', workflow: rig.wf, logger: nullLogger() })).rejects.toThrow(/loopback/);
  });

  it('refuses every API call without a valid session token', async () => {
    const { k } = await setup();
    const paths = ['/api/state', '/api/preview/portrait', '/api/preview/finger/2'];
    for (const p of paths) expect((await call(k, 'GET', p)).status).toBe(401);
    for (const p of ['/api/session/start', '/api/session/kind', '/api/session/details', '/api/session/finger/capture', '/api/session/confirm', '/api/session/abort', '/api/logout']) {
      const r = await call(k, 'POST', p, {}, { Authorization: 'Bearer AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' });
      expect(r.status, p).toBe(401);
      expect(r.body.error.code).toBe('WORKFLOW_AUTH');
    }
    expect((await call(k, 'GET', '/api/events?token=bogus')).status).toBe(401);
    expect((await call(k, 'POST', '/api/login', { officerId: 'off1', pin: '000000' })).status).toBe(401);
  });

  it('refuses requests from another origin or host name (DNS rebinding, cross-site)', async () => {
    const { k, auth } = await setup();
    expect((await call(k, 'GET', '/api/state', undefined, { ...auth, Host: 'evil.example:80' })).status).toBe(403);
    expect((await call(k, 'POST', '/api/session/start', {}, { ...auth, Origin: 'http://evil.example' })).status).toBe(403);
    expect((await call(k, 'POST', '/api/session/start', {}, { ...auth, Origin: `http://127.0.0.1:${k.port}` })).status).toBe(200);
  });

  it('serves the page and translations with no-store and a strict content security policy', async () => {
    const { k } = await setup();
    const r = await call(k, 'GET', '/');
    expect(r.status).toBe(200);
    expect(r.headers['cache-control']).toBe('no-store');
    expect(String(r.headers['content-security-policy'])).toMatch(/default-src 'none'/);
    const html = (r.body as Buffer).toString('utf8');
    expect(html).not.toMatch(/https?:\/\//);
    const vi = await call(k, 'GET', '/i18n/vi.json');
    const en = await call(k, 'GET', '/i18n/en.json');
    expect(Object.keys(vi.body).sort()).toEqual(Object.keys(en.body).sort());
    expect(vi.body['login.submit']).toBe('Đăng nhập');
  });

  it('drives a whole enrollment over HTTP; bad details come back field by field with 422', async () => {
    const { k, auth } = await setup();
    expect((await call(k, 'POST', '/api/session/start', {}, auth)).status).toBe(200);
    const kind = await call(k, 'POST', '/api/session/kind', { kind: 'enrollment' }, auth);
    expect(kind.body.state.session.step).toBe('consent');
    // the person agrees to the text the page shows (its hash comes back with the answer)
    const shown = kind.body.state.session.consentText.texts[0];
    expect(shown.language).toBe('vi');
    const agreed = await call(k, 'POST', '/api/session/consent', { accepted: true, language: shown.language, sha256: shown.sha256 }, auth);
    expect(agreed.body.state.session.step).toBe('details');
    const bad = await call(k, 'POST', '/api/session/details', { details: { ...GOOD_DETAILS, dateOfBirth: '2999-01-01' } }, auth);
    expect(bad.status).toBe(422);
    expect(bad.body.errors.find((e: { field: string }) => e.field === 'dateOfBirth').code).toBe('in_future');
    expect((await call(k, 'POST', '/api/session/details', { details: GOOD_DETAILS }, auth)).status).toBe(200);
    await call(k, 'POST', '/api/session/finger/capture', {}, auth);
    await call(k, 'POST', '/api/session/finger/capture', {}, auth);
    const png = await call(k, 'GET', '/api/preview/finger/2', undefined, auth);
    expect(png.status).toBe(200);
    expect(png.headers['content-type']).toBe('image/png');
    expect(png.headers['cache-control']).toBe('no-store');
    expect((await call(k, 'POST', '/api/session/next', {}, auth)).body.state.session.step).toBe('portrait');
    await call(k, 'POST', '/api/session/portrait/capture', {}, auth);
    await call(k, 'POST', '/api/session/next', {}, auth);
    const sealed = await call(k, 'POST', '/api/session/confirm', {}, auth);
    expect(sealed.body.state.session.step).toBe('sealed');
    expect(sealed.body.state.uplink.waiting).toBe(1);
    expect(rig!.sealer.sealed).toHaveLength(1);
  });

  it('answers bad requests with clear errors and never crashes', async () => {
    const { k, auth } = await setup();
    expect((await call(k, 'POST', '/api/session/start', '{not json', auth)).status).toBe(400);
    expect((await call(k, 'POST', '/api/session/start', 'x'.repeat(70_000), auth)).status).toBe(413);
    expect((await call(k, 'POST', '/api/session/start', '{}', { ...auth, 'Content-Type': 'text/plain' })).status).toBe(415);
    expect((await call(k, 'GET', '/api/nope', undefined, auth)).status).toBe(404);
    expect((await call(k, 'POST', '/api/session/finger/capture', {}, auth)).status).toBe(409);
    expect((await call(k, 'GET', '/api/state', undefined, auth)).status).toBe(200);
  });
});
