/**
 * The ops dashboard's HTTP surface (#20 item 1, 4, 5): authentication (scrypt accounts, lockout
 * counted before the hash, parallel guesses included), sessions in an HttpOnly SameSite=Strict
 * cookie, CSRF tokens, Host/Origin checks, roles, alarm acknowledgement recorded with who, commands
 * signed by the separate signer (which refuses anything but the four dashboard commands), and the
 * live fleet over server-sent events with a booth's last will turning it "lost" — against a real
 * Mosquitto and a real SQLite store.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { request, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { readFileSync } from 'node:fs';
import { issue, makeCa } from '../helpers/pki';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import pino from 'pino';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto';
import { SqliteHqStore } from '../../sync/hq/store-api';
import { addAccount, removeAccount, Throttle } from '../../sync/hq/dashboard/accounts';
import { LiveFleet } from '../../sync/hq/dashboard/live';
import { startDashboard, type DashboardHandle } from '../../sync/hq/dashboard/server';
import { socketSigner, startSigner, type SignerService } from '../../sync/hq/dashboard/signer';
import { TrustedKeys, verifySignedBody } from '../../sync/wire/signed';
import { generateStationKeyPair } from '../../sync/wire';
import { frame } from '../../sync/hq/validator-service';
import { createConnection, createServer } from 'node:net';
import { signCommand } from '../../sync/commands';
import { decodeCbor, type CborValue } from '../../sync/wire/cbor';

const silent = pino({ level: 'silent' });
let broker: Mosquitto;
let dir: string;
let store: SqliteHqStore;
let live: LiveFleet;
let dash: DashboardHandle;
let signer: SignerService;
const ops = generateKeyPairSync('ed25519');
const accounts = () => join(dir, 'accounts.json');

interface Res { status: number; headers: IncomingHttpHeaders; text: string; json: any }

function http(method: string, path: string, o: { host?: string; origin?: string; cookie?: string; csrf?: string; body?: unknown; type?: string } = {}): Promise<Res> {
  const u = new URL(path, dash.url);
  const body = o.body === undefined ? undefined : Buffer.from(typeof o.body === 'string' ? o.body : JSON.stringify(o.body));
  return new Promise((resolve, reject) => {
    const r = request({ host: u.hostname, port: u.port, path: u.pathname + u.search, method, headers: {
      Host: o.host ?? u.host, ...(o.origin ? { Origin: o.origin } : {}), ...(o.cookie ? { Cookie: o.cookie } : {}), ...(o.csrf ? { 'X-CSRF-Token': o.csrf } : {}),
      ...(body ? { 'Content-Type': o.type ?? 'application/json', 'Content-Length': body.length } : {}),
    } }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d: string) => { text += d; }).on('end', () => {
        let json: unknown = null;
        try { json = JSON.parse(text); } catch { /* not JSON */ }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
    });
    r.on('error', reject);
    r.end(body);
  });
}

async function login(user: string, password: string): Promise<{ cookie: string; csrf: string; res: Res }> {
  const res = await http('POST', '/api/login', { body: { user, password } });
  const set = String(res.headers['set-cookie'] ?? '');
  return { cookie: set.split(';')[0] ?? '', csrf: res.json?.csrf as string, res };
}

/** Reads server-sent events until `until` is satisfied by one of them. */
function events(cookie: string, until: (event: string, data: any) => boolean): Promise<{ event: string; data: any }> {
  const u = new URL('/api/events', dash.url);
  return new Promise((resolve, reject) => {
    const r = request({ host: u.hostname, port: u.port, path: u.pathname, headers: { Cookie: cookie } }, (res) => {
      let buf = '';
      res.setEncoding('utf8').on('data', (d: string) => {
        buf += d;
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const ev = /^event: (.+)$/m.exec(block)?.[1];
          const data = /^data: (.+)$/m.exec(block)?.[1];
          if (ev && data) {
            const v = JSON.parse(data) as unknown;
            if (until(ev, v)) { r.destroy(); resolve({ event: ev, data: v }); return; }
          }
        }
      });
    });
    r.on('error', (e) => { if (!r.destroyed) reject(e); });
    r.end();
  });
}

beforeAll(async () => {
  broker = await startMosquitto();
  dir = mkdtempSync(join(tmpdir(), 'dash-api-'));
  store = SqliteHqStore.open(join(dir, 'hq.db'));
  await store.registerStation({ stationId: 'ST-D-01', unit: 'W-HP', publicKey: generateStationKeyPair().publicKeyPem });
  await addAccount(accounts(), 'ops1', 'operator', 'operator password 1');
  await addAccount(accounts(), 'view1', 'viewer', 'viewer password 1');
  // the signer's clock stands still here, so its one-minute rate window cannot expire however slow the machine is
  const t0 = Date.now();
  signer = await startSigner({ socketPath: join(dir, 'signer.sock'), opsKey: ops.privateKey, logger: silent, maxPerMinute: 5, now: () => t0 });
  live = new LiveFleet({ brokerUrl: broker.url, store, logger: silent, refreshMs: 500 });
  await live.start();
  dash = await startDashboard({
    host: '127.0.0.1', port: 0, store, accountsFile: accounts(), live, logger: silent,
    signer: socketSigner(signer.socketPath), broker: { url: broker.url }, commandWaitMs: 2_000,
  });
}, 60_000);

afterAll(async () => {
  await dash?.close();
  await live?.stop();
  await signer?.close();
  await store?.close();
  await broker?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

describe('starting', () => {
  it('refuses an address beyond loopback without TLS, and an empty accounts file', async () => {
    await expect(startDashboard({ host: '0.0.0.0', port: 0, store, accountsFile: accounts(), live, logger: silent, broker: { url: broker.url } }))
      .rejects.toMatchObject({ code: 'DASH_TLS_REQUIRED' });
    await expect(startDashboard({ host: '127.0.0.1', port: 0, store, accountsFile: join(dir, 'none.json'), live, logger: silent, broker: { url: broker.url } }))
      .rejects.toMatchObject({ code: 'DASH_NO_ACCOUNTS' });
  });

  it('serves the page with the kiosk headers and Chart.js from the npm package', async () => {
    const page = await http('GET', '/');
    expect(page.status).toBe(200);
    expect(page.headers['content-security-policy']).toMatch(/default-src 'none'; script-src 'self'/);
    expect(page.headers['x-frame-options']).toBe('DENY');
    expect(page.text).toMatch(/<script src="\/vendor\/chart\.umd\.min\.js"/);
    const chart = await http('GET', '/vendor/chart.umd.min.js');
    expect(chart.status).toBe(200);
    expect(chart.text).toMatch(/Chart\.js v4/);
  });
});

describe('TLS', () => {
  it('serves HTTPS with the configured certificate; the session cookie is then Secure', async () => {
    const ca = makeCa(join(dir, 'pki'), 'dash-ca');
    const srv = issue(ca, 'dash', { cn: 'dashboard', kind: 'server' });
    const tlsDash = await startDashboard({
      host: '127.0.0.1', port: 0, store, accountsFile: accounts(), live, logger: silent, broker: { url: broker.url },
      tls: { cert: readFileSync(srv.crt), key: readFileSync(srv.key) },
    });
    try {
      expect(tlsDash.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/$/);
      const u = new URL('/api/login', tlsDash.url);
      const body = Buffer.from(JSON.stringify({ user: 'view1', password: 'viewer password 1' }));
      const res = await new Promise<{ status: number; cookie: string }>((resolve, reject) => {
        const r = httpsRequest({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', ca: readFileSync(ca.crt), headers: { 'Content-Type': 'application/json', 'Content-Length': body.length } }, (rs) => {
          rs.resume().on('end', () => resolve({ status: rs.statusCode ?? 0, cookie: String(rs.headers['set-cookie'] ?? '') }));
        });
        r.on('error', reject);
        r.end(body);
      });
      expect(res.status).toBe(200);
      expect(res.cookie).toMatch(/HttpOnly; SameSite=Strict; Max-Age=\d+; Secure/);
    } finally {
      await tlsDash.close();
    }
  });
});

describe('authentication', () => {
  it('wrong password and unknown account are the same refusal; the right one sets an HttpOnly SameSite=Strict cookie', async () => {
    const wrong = await login('view1', 'not the password');
    const unknown = await login('nobody', 'not the password');
    expect(wrong.res.status).toBe(401);
    expect(wrong.res.json.error.code).toBe('DASH_BAD_CREDENTIALS');
    expect(unknown.res.json.error).toEqual(wrong.res.json.error);
    const ok = await login('view1', 'viewer password 1');
    expect(ok.res.status).toBe(200);
    expect(ok.res.json).toMatchObject({ user: 'view1', role: 'viewer' });
    expect(String(ok.res.headers['set-cookie'])).toMatch(/HttpOnly; SameSite=Strict/);
    expect((await http('GET', '/api/session', { cookie: ok.cookie })).json).toMatchObject({ user: 'view1', role: 'viewer' });
    expect((await http('GET', '/api/session')).json.error.code).toBe('DASH_NOT_LOGGED_IN');
    expect((await http('GET', '/api/fleet', { cookie: 'hqdash=forged-token-value' })).status).toBe(401);
  });

  it('20 wrong guesses and the right password sent at once: at most 5 are tried, and the lock holds afterwards', async () => {
    await addAccount(accounts(), 'flood1', 'viewer', 'the right password');
    const guesses = Array.from({ length: 20 }, (_, i) => login('flood1', `guess number ${i}`));
    const results = await Promise.all([...guesses, login('flood1', 'the right password')]);
    const codes = results.map((r) => r.res.json?.error?.code ?? 'ok');
    const tried = codes.filter((c) => c === 'DASH_BAD_CREDENTIALS' || c === 'ok').length;
    expect(tried).toBeLessThanOrEqual(5);
    expect(codes.filter((c) => c === 'DASH_LOCKED_OUT').length).toBeGreaterThanOrEqual(16);
    // the count was not reset by a success among them: the right password is refused now too
    const after = await login('flood1', 'the right password');
    expect(after.res.status).toBe(429);
    expect(after.res.json.error.message).toMatch(/try again in \d+ min/);
    const log = await store.opsAuditLog(100);
    expect(log.filter((r) => r.user_name === 'flood1' && r.action === 'login-failed').length).toBe(codes.filter((c) => c === 'DASH_BAD_CREDENTIALS').length);
  });

  it('the throttle forgets old failures after a quiet period, not during a lock', () => {
    const th = new Throttle(3, 1_000);
    for (let i = 0; i < 3; i++) th.begin('k', 0);
    expect(th.blockedFor('k', 500)).toBe(500);
    th.succeeded('k'); // a success during the lock takes back only its own attempt
    expect(th.blockedFor('k', 500)).toBe(500);
    expect(th.blockedFor('k', 1_001)).toBe(0);
    th.begin('k', 2_500); // quiet for more than the lock: starts over
    expect(th.blockedFor('k', 2_500)).toBe(0);
  });

  it('a removed account is logged out at its next request', async () => {
    await addAccount(accounts(), 'temp1', 'viewer', 'temporary password');
    const s = await login('temp1', 'temporary password');
    expect((await http('GET', '/api/fleet', { cookie: s.cookie })).status).toBe(200);
    removeAccount(accounts(), 'temp1');
    const r = await http('GET', '/api/fleet', { cookie: s.cookie });
    expect(r.status).toBe(401);
    expect(r.json.error.message).toMatch(/no longer exists/);
  });
});

describe('requests from elsewhere', () => {
  it('another Host (DNS rebinding) or Origin is refused; a POST without the CSRF token is refused', async () => {
    expect((await http('GET', '/', { host: 'evil.example:80' })).json.error.code).toBe('DASH_HOST');
    const s = await login('ops1', 'operator password 1');
    const cross = await http('POST', '/api/logout', { cookie: s.cookie, csrf: s.csrf, origin: 'http://evil.example', body: {} });
    expect(cross.status).toBe(403);
    expect(cross.json.error.code).toBe('DASH_HOST');
    const noToken = await http('POST', '/api/logout', { cookie: s.cookie, body: {} });
    expect(noToken.json.error.code).toBe('DASH_CSRF');
    const badToken = await http('POST', '/api/logout', { cookie: s.cookie, csrf: 'x'.repeat(32), body: {} });
    expect(badToken.json.error.code).toBe('DASH_CSRF');
    // a form post (text/plain) cannot carry the action either
    const form = await http('POST', '/api/logout', { cookie: s.cookie, csrf: s.csrf, body: 'a=b', type: 'text/plain' });
    expect(form.status).toBe(415);
    expect((await http('GET', '/api/session', { cookie: s.cookie })).status).toBe(200);
    const out = await http('POST', '/api/logout', { cookie: s.cookie, csrf: s.csrf, body: {} });
    expect(out.status).toBe(200);
    expect((await http('GET', '/api/session', { cookie: s.cookie })).status).toBe(401);
  });
});

describe('roles, alarms and commands', () => {
  it('a viewer cannot acknowledge; an operator can, and who did is recorded', async () => {
    await store.alarm('tamper', 'case opened at ST-D-01', 'ST-D-01');
    const id = (await store.openAlarms()).find((a) => a.kind === 'tamper' && a.station_id === 'ST-D-01')!.id;
    const v = await login('view1', 'viewer password 1');
    const refused = await http('POST', `/api/alarms/${id}/ack`, { cookie: v.cookie, csrf: v.csrf, body: {} });
    expect(refused.status).toBe(403);
    expect(refused.json.error.code).toBe('DASH_FORBIDDEN');
    expect((await store.openAlarms()).some((a) => a.id === id)).toBe(true);
    const o = await login('ops1', 'operator password 1');
    const ok = await http('POST', `/api/alarms/${id}/ack`, { cookie: o.cookie, csrf: o.csrf, body: { note: 'technician replaced the seal' } });
    expect(ok.status).toBe(200);
    expect((await store.openAlarms()).some((a) => a.id === id)).toBe(false);
    const row = store.sync.db.prepare('SELECT cleared_by FROM alarms WHERE id = ?').get(id) as { cleared_by: string };
    expect(row.cleared_by).toBe('ops1');
    expect((await store.opsAuditLog(10)).find((r) => r.action === 'alarm-ack')).toMatchObject({ user_name: 'ops1', target: 'ST-D-01' });
    expect((await http('POST', `/api/alarms/${id}/ack`, { cookie: o.cookie, csrf: o.csrf, body: {} })).json.error.code).toBe('DASH_NOT_FOUND');
  });

  it('commands: a viewer is refused; an operator\'s lock is signed by the signer and reaches the booth, logged with who sent it', async () => {
    const booth = await mqtt.connectAsync(broker.url, { clientId: 'booth-ST-D-01' });
    const got = new Promise<Buffer>((r) => booth.on('message', (_t, p) => r(p)));
    await booth.subscribeAsync('enroll/v1/st/ST-D-01/cmd/#', { qos: 1 });
    try {
      const v = await login('view1', 'viewer password 1');
      expect((await http('POST', '/api/commands', { cookie: v.cookie, csrf: v.csrf, body: { station: 'ST-D-01', name: 'sync-now' } })).json.error.code).toBe('DASH_FORBIDDEN');
      const o = await login('ops1', 'operator password 1');
      const post = (body: unknown) => http('POST', '/api/commands', { cookie: o.cookie, csrf: o.csrf, body });
      expect((await post({ station: 'ST-D-01', name: 'set-policy' })).json.error.message).toMatch(/cannot be sent from the dashboard/);
      expect((await post({ station: 'ST-D-01', name: 'lock' })).json.error.message).toMatch(/needs a reason/);
      expect((await post({ station: 'ST-NOPE', name: 'unlock' })).json.error.code).toBe('DASH_NOT_FOUND');
      const sent = await post({ station: 'ST-D-01', name: 'lock', reason: 'thiết bị bị mất' });
      expect(sent.status).toBe(202);
      const v1 = verifySignedBody(await got, new TrustedKeys([ops.publicKey]), ['command']);
      expect(v1.ok).toBe(true);
      expect(v1.ok && v1.body).toMatchObject({ id: sent.json.id, target: 'ST-D-01', name: 'lock', args: { reason: 'thiết bị bị mất' } });
      const row = store.sync.db.prepare('SELECT sent_by, name FROM commands WHERE id = ?').get(sent.json.id) as { sent_by: string; name: string };
      expect(row).toEqual({ sent_by: 'ops1', name: 'lock' });
      expect((await store.opsAuditLog(20)).find((r) => r.action === 'command')).toMatchObject({ user_name: 'ops1', target: 'ST-D-01' });
    } finally {
      await booth.endAsync();
    }
  });

  it('the signer itself signs only the dashboard commands, within its lifetime cap and rate', async () => {
    const ask = (req: Record<string, unknown>) => new Promise<any>((resolve, reject) => {
      const s = createConnection(signer.socketPath);
      let buf = Buffer.alloc(0);
      s.on('data', (d: Buffer) => { buf = Buffer.concat([buf, d]); if (buf.length >= 4 && buf.length >= 4 + buf.readUInt32BE(0)) { s.destroy(); resolve(decodeCbor(buf.subarray(4))); } });
      s.on('error', reject);
      s.on('connect', () => s.write(frame(req as CborValue)));
    });
    const base = { v: 1, target: 'ST-D-01', args: {}, ttlMs: 60_000, sentBy: 'ops1' };
    expect((await ask({ ...base, name: 'rotate-key' })).error).toMatch(/not signed for the dashboard/);
    expect((await ask({ ...base, name: 'update-hq-key', args: { identity: {} } })).error).toMatch(/not signed for the dashboard/);
    expect((await ask({ ...base, name: 'sync-now', ttlMs: 30 * 86_400_000 })).error).toMatch(/ttlMs/);
    expect((await ask({ ...base, name: 'sync-now', sentBy: '' })).error).toMatch(/sentBy/);
    // 5 a minute in this test (one lock was signed above): the sixth is refused
    const answers = [];
    for (let i = 0; i < 5; i++) answers.push(await ask({ ...base, name: 'request-health' }));
    expect(answers.filter((a) => typeof a.body === 'string').length).toBe(4);
    expect(answers[4].error).toMatch(/more than 5 commands in a minute/);
  });
});

describe('the web server\'s side of the signer', () => {
  it('refuses an answer that signs another command than the one asked for, and a signer that is not there', async () => {
    const path = join(dir, 'rogue.sock');
    const rogue = createServer((sock) => {
      sock.once('data', () => {
        const { body, message } = signCommand({ target: 'ST-OTHER', name: 'unlock', ttlMs: 60_000 }, ops.privateKey);
        sock.end(frame({ v: 1, body: JSON.stringify(body), message: JSON.stringify(message) }));
      });
    });
    await new Promise<void>((r) => rogue.listen(path, () => r()));
    try {
      await expect(socketSigner(path)({ target: 'ST-D-01', name: 'lock', args: { reason: 'x' }, ttlMs: 60_000, sentBy: 'ops1' }))
        .rejects.toThrow(/signed unlock for ST-OTHER, not the lock for ST-D-01/);
    } finally {
      await new Promise<void>((r) => rogue.close(() => r()));
    }
    await expect(socketSigner(join(dir, 'none.sock'))({ target: 'ST-D-01', name: 'sync-now', args: {}, ttlMs: 60_000, sentBy: 'ops1' }))
      .rejects.toThrow(/not reachable .* is `hq signer` running\?/);
  });
});

describe('the live fleet', () => {
  it('a booth coming online appears, and its connection dropping turns it lost through its last will, over server-sent events', async () => {
    const o = await login('view1', 'viewer password 1');
    const online = events(o.cookie, (e, d) => e === 'fleet' && d.stations.some((s: any) => s.stationId === 'ST-D-01' && s.state === 'online'));
    const booth = await mqtt.connectAsync(broker.url, {
      clientId: 'booth-live-ST-D-01', keepalive: 5, reconnectPeriod: 0,
      will: { topic: 'enroll/v1/st/ST-D-01/status', payload: Buffer.from(JSON.stringify({ v: 1, state: 'lost', session: 1, at: Date.now() })), qos: 1, retain: true },
    });
    await booth.publishAsync('enroll/v1/st/ST-D-01/status', JSON.stringify({ v: 1, state: 'online', session: 1, at: Date.now() }), { qos: 1, retain: true });
    const first = await online;
    expect(first.data.stations.find((s: any) => s.stationId === 'ST-D-01')).toMatchObject({ unit: 'W-HP', registered: true });
    // a malformed status is refused by schema and changes nothing
    const other = await mqtt.connectAsync(broker.url, { clientId: 'forger' });
    await other.publishAsync('enroll/v1/st/ST-D-01/status', JSON.stringify({ v: 1, state: 'hacked', session: 1, at: 1 }), { qos: 1 });
    await other.endAsync();
    const lost = events(o.cookie, (e, d) => e === 'fleet' && d.stations.some((s: any) => s.stationId === 'ST-D-01' && s.state === 'lost'));
    (booth as unknown as { stream: { destroy(): void } }).stream.destroy(); // no DISCONNECT: the broker sends the will
    const after = await lost;
    expect(after.data.stations.find((s: any) => s.stationId === 'ST-D-01').state).toBe('lost');
    booth.end(true);
  });
});
