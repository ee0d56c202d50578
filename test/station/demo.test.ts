/**
 * The README's first command: `station demo` on a fresh machine. One person is
 * enrolled through the kiosk's local API (as the page does) and the demo's own
 * headquarters must report the sealed record stored; Ctrl+C stops it cleanly.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { request } from 'node:http';
import { STATION_JS } from '../helpers/cli';
import { GOOD_DETAILS } from '../workflow/helpers';

function call(port: number, method: string, path: string, body?: unknown, token?: string): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const req = request(
      { host: '127.0.0.1', port, method, path, headers: { ...(data ? { 'Content-Type': 'application/json', 'Content-Length': data.length } : {}), ...(token ? { Authorization: `Bearer ${token}` } : {}) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const raw = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode!, body: raw.startsWith('{') ? JSON.parse(raw) : raw });
        });
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

describe('station demo', () => {
  let child: ChildProcess | undefined;
  afterAll(() => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
  });

  it('serves the kiosk, seals an enrollment and its headquarters stores it; Ctrl+C stops it and removes the temporary data', async () => {
    child = spawn(process.execPath, [STATION_JS, 'demo', '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));
    await expect.poll(() => /Kiosk:\s+http:\/\/127\.0\.0\.1:\d+\//.test(out), { timeout: 45_000, interval: 200 }).toBe(true);
    const port = Number(/Kiosk:\s+http:\/\/127\.0\.0\.1:(\d+)\//.exec(out)![1]);
    const dataDir = /Data:\s+(\S+)/.exec(out)![1];
    expect(out).toMatch(/Officer:\s+demo\s+PIN: 123456/);

    const page = await call(port, 'GET', '/');
    expect(page.status).toBe(200);
    const login = await call(port, 'POST', '/api/login', { officerId: 'demo', pin: '123456' });
    expect(login.status, JSON.stringify(login.body)).toBe(200);
    const t = login.body.token as string;
    expect((await call(port, 'POST', '/api/session/start', {}, t)).status).toBe(200);
    const kind = await call(port, 'POST', '/api/session/kind', { kind: 'enrollment' }, t);
    expect(kind.body.state.session.step).toBe('consent');
    const shown = kind.body.state.session.consentText.texts[0];
    expect((await call(port, 'POST', '/api/session/consent', { accepted: true, language: shown.language, sha256: shown.sha256 }, t)).body.state.session.step).toBe('details');
    const details = await call(port, 'POST', '/api/session/details', { details: { ...GOOD_DETAILS, unitCode: '00004' } }, t);
    expect(details.status, JSON.stringify(details.body)).toBe(200);
    // the demo captures two fingers (positions 2 and 7) through the R307 protocol simulator
    for (let i = 0; i < 2; i++) {
      const f = await call(port, 'POST', '/api/session/finger/capture', {}, t);
      expect(f.status, JSON.stringify(f.body)).toBe(200);
    }
    expect((await call(port, 'POST', '/api/session/next', {}, t)).body.state.session.step).toBe('portrait');
    const p = await call(port, 'POST', '/api/session/portrait/capture', {}, t);
    expect(p.status, JSON.stringify(p.body)).toBe(200);
    expect((await call(port, 'POST', '/api/session/next', {}, t)).body.state.session.step).toBe('review');
    const sealed = await call(port, 'POST', '/api/session/confirm', {}, t);
    expect(sealed.body.state.session.step).toBe('sealed');
    const recordId = sealed.body.state.session.recordId as string;
    expect(recordId).toMatch(/^[0-9a-f-]{36}$/);

    await expect.poll(() => new RegExp(`headquarters stored record ${recordId}`).test(out), { timeout: 30_000, interval: 200 }).toBe(true);
    await expect.poll(async () => (await call(port, 'GET', '/api/state', undefined, t)).body.uplink?.waiting, { timeout: 20_000 }).toBe(0);

    // the demo's ops dashboard sees the booth and counts the enrollment in the demo campaign
    expect(out).toMatch(/Dashboard:\s+http:\/\/127\.0\.0\.1:\d+\/\s+ops \/ demo-ops-pass \(operator\)/);
    const dashPort = Number(/Dashboard:\s+http:\/\/127\.0\.0\.1:(\d+)\//.exec(out)![1]);
    const dl = await fetch(`http://127.0.0.1:${dashPort}/api/login`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ user: 'ops', password: 'demo-ops-pass' }) });
    expect(dl.status).toBe(200);
    const cookie = (dl.headers.get('set-cookie') ?? '').split(';')[0]!;
    const dget = async (path: string) => (await fetch(`http://127.0.0.1:${dashPort}${path}`, { headers: { Cookie: cookie } })).json() as Promise<any>;
    await expect.poll(async () => (await dget('/api/fleet')).stations.find((x: any) => x.stationId === 'DEMO-0001')?.state, { timeout: 20_000 }).toBe('online');
    const camp = await dget('/api/campaigns/demo-60/summary?level=ward');
    expect(camp.units.find((u: any) => u.code === '00004')).toMatchObject({ enrollments: 1, activations: 0, quota: 2400 });

    const exited = new Promise<number | null>((r) => child!.once('exit', (c) => r(c)));
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(existsSync(dataDir)).toBe(false);
  });
});
