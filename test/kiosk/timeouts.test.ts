/**
 * The kiosk does not let a slow or stalled client hold a connection (#14 item 6):
 * headers and the whole request have deadlines; a device capture that takes longer
 * than those deadlines to answer is still answered.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { connect } from 'node:net';
import { request } from 'node:http';
import { nullLogger } from '../../station/log';
import { startKiosk, type KioskHandle } from '../../station/kiosk/server';
import { GOOD_DETAILS, makeRig, type Rig } from '../workflow/helpers';

let rig: Rig | null = null;
let kiosk: KioskHandle | null = null;
afterEach(async () => { await kiosk?.stop(); kiosk = null; rig?.cleanup(); rig = null; });

/** Sends `raw` and never more; resolves with everything the server sent once it closes the connection. */
function stall(port: number, raw: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1', () => sock.write(raw));
    let got = '';
    sock.on('data', (d) => (got += d.toString('latin1')));
    sock.on('error', reject);
    sock.on('close', () => resolve(got));
  });
}

function post(port: number, path: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const data = Buffer.from(JSON.stringify(body));
    const req = request({ host: '127.0.0.1', port, method: 'POST', path, headers: { 'Content-Type': 'application/json', 'Content-Length': data.length, ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) }));
    });
    req.on('error', reject);
    req.end(data);
  });
}

describe('kiosk request deadlines', () => {
  it('closes a connection whose headers never finish, and one whose body never finishes, with 408', async () => {
    rig = await makeRig();
    kiosk = await startKiosk({ port: 0, workflow: rig.wf, logger: nullLogger(), headersTimeoutMs: 300, requestTimeoutMs: 600 });
    const host = `Host: 127.0.0.1:${kiosk.port}\r\n`;
    const [headers, body] = await Promise.all([
      stall(kiosk.port, `GET /api/hello HTTP/1.1\r\n${host}X-Slow: `),
      stall(kiosk.port, `POST /api/login HTTP/1.1\r\n${host}Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"officerId":"off1","pin":"12`),
    ]);
    expect(headers).toMatch(/^HTTP\/1\.1 408/);
    expect(body).toMatch(/^HTTP\/1\.1 408/);
    // the half-sent login was never checked
    expect(rig.officers.get('off1')!.failedAttempts).toBe(0);
  });

  it('a capture that takes longer than the request deadline is still answered', async () => {
    rig = await makeRig();
    kiosk = await startKiosk({ port: 0, workflow: rig.wf, logger: nullLogger(), headersTimeoutMs: 200, requestTimeoutMs: 300 });
    const login = await post(kiosk.port, '/api/login', { officerId: 'off1', pin: '123456' });
    const auth = { Authorization: `Bearer ${login.body.token}` };
    await post(kiosk.port, '/api/session/start', {}, auth);
    const shown = (await post(kiosk.port, '/api/session/kind', { kind: 'enrollment' }, auth)).body.state.session.consentText.texts[0];
    await post(kiosk.port, '/api/session/consent', { accepted: true, language: shown.language, sha256: shown.sha256 }, auth);
    expect((await post(kiosk.port, '/api/session/details', { details: GOOD_DETAILS }, auth)).status).toBe(200);
    rig.fp.latencyMs = 1_500; // five times the request deadline
    const r = await post(kiosk.port, '/api/session/finger/capture', {}, auth);
    expect(r.status).toBe(200);
    expect(r.body.state.session.fingers[0].status).toBe('captured');
  });
});
