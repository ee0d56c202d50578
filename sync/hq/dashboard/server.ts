/**
 * The ops dashboard's web server (#20): `hq dashboard`. One page (public/) for
 * central operations and campaign leaders, in Vietnamese and English, served with
 * the kiosk's security headers and no asset from the internet (Chart.js is the
 * npm package, served from here).
 *
 * Trust, each refusal with a named code (config/error-codes.ts, layer hq/dashboard):
 * - TLS whenever the address is not loopback (DASH_TLS_REQUIRED at start);
 * - Host and Origin must be this dashboard's own (DNS rebinding, cross-site posts);
 * - accounts with scrypt-hashed passwords (./accounts.ts), failures limited per
 *   account and per client address, counted before the hash runs;
 * - a session is a random 32-byte token in an HttpOnly, SameSite=Strict cookie
 *   (Secure under TLS), ending after `sessionIdleMinutes` without a request or
 *   12 hours in all, and when its account is removed or its role changes;
 * - every state-changing request carries the session's CSRF token in
 *   X-CSRF-Token and a JSON body (so no HTML form from elsewhere can send it);
 * - roles: a viewer reads; an operator also acknowledges alarms, sends commands
 *   and edits campaigns. Every such act goes to the ops audit log (store.opsAudit)
 *   with the account's name, as do failed logins.
 * - commands are signed by `hq signer` (./signer.ts): this process never holds the ops key.
 */
import { randomBytes, timingSafeEqual, createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer as createHttp, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttps } from 'node:https';
import { dirname, extname, join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { IClientOptions } from 'mqtt';
import type { Logger } from 'pino';
import { StationError } from '../../../config/errors';
import type { ErrorCode } from '../../../config/error-codes';
import { sendCommand, type CommandSigner } from '../commands';
import type { HqStoreApi } from '../store-api';
import { checkPassword, readAccounts, Throttle, type Role } from './accounts';
import { DASHBOARD_COMMANDS } from './signer';
import type { LiveFleet, LiveView } from './live';

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);
const MAX_BODY = 16 * 1024;
const COOKIE = 'hqdash';
const ABSOLUTE_SESSION_MS = 12 * 3600_000;

export const DASHBOARD_HEADERS: Record<string, string> = {
  'Cache-Control': 'no-store',
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Content-Security-Policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
};

/** What the campaign view needs (sync/hq/campaign.ts implements it over the store). */
export interface CampaignSource {
  list(): Promise<unknown[]>;
  summary(id: string, level: string, now: number): Promise<unknown | null>;
  csv(id: string, level: string, now: number): Promise<string | null>;
}

export interface DashboardOptions {
  host: string;
  port: number;
  tls?: { cert: Buffer; key: Buffer } | null;
  /** The address users type (https://ops.example.vn:8443); default from host and port. */
  publicOrigin?: string | null;
  store: HqStoreApi;
  accountsFile: string;
  live: LiveFleet;
  campaigns?: CampaignSource | null;
  /** Signs commands without this process holding the ops key; null: commands disabled. */
  signer?: CommandSigner | null;
  broker: { url: string; mqtt?: IClientOptions; topicPrefix?: string };
  commandTtlMs?: number;
  commandWaitMs?: number;
  sessionIdleMs?: number;
  logger: Logger;
  /** Where index.html & co are (default: this module's public/ next to the sources). */
  publicDir?: string;
  now?: () => number;
}

export interface DashboardHandle {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

class HttpError extends Error {
  constructor(readonly status: number, readonly code: ErrorCode, message: string, readonly hint?: string) { super(message); }
}

interface Session { token: string; user: string; role: Role; csrf: string; createdAt: number; lastAt: number }

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.json': 'application/json; charset=utf-8',
};

/** public/ sits next to the TypeScript sources; the compiled server finds it from dist/ too. */
function publicDir(): string {
  const here = __dirname;
  const src = here.includes(`${join('dist', 'sync')}`) ? here.replace(`${join('dist', 'sync')}`, 'sync') : here;
  return join(src, 'public');
}

function loadStatic(dir: string): Map<string, { body: Buffer; type: string; etag: string }> {
  const files = new Map<string, { body: Buffer; type: string; etag: string }>();
  const add = (path: string, file: string): void => {
    const body = readFileSync(file);
    files.set(path, { body, type: MIME[extname(file)] ?? 'application/octet-stream', etag: createHash('sha256').update(body).digest('base64url').slice(0, 16) });
  };
  for (const f of ['index.html', 'app.js', 'app.css', 'charts.js', 'print.html', 'print.js']) add(`/${f}`, join(dir, f));
  for (const l of ['vi', 'en']) add(`/i18n/${l}.json`, join(dir, 'i18n', `${l}.json`));
  // Chart.js from its npm package (no CDN): the UMD build defines window.Chart.
  add('/vendor/chart.umd.min.js', join(dirname(require.resolve('chart.js')), 'chart.umd.min.js'));
  files.set('/', files.get('/index.html')!);
  // both catalogues must have the same keys: fail at start, not in front of ops
  const vi = JSON.parse(files.get('/i18n/vi.json')!.body.toString('utf8')) as Record<string, string>;
  const en = JSON.parse(files.get('/i18n/en.json')!.body.toString('utf8')) as Record<string, string>;
  const missing = [...Object.keys(vi).filter((k) => !(k in en)).map((k) => `en lacks ${k}`), ...Object.keys(en).filter((k) => !(k in vi)).map((k) => `vi lacks ${k}`)];
  if (missing.length) throw new Error(`dashboard catalogues differ: ${missing.join(', ')}`);
  return files;
}

function cookieOf(req: IncomingMessage, name: string): string | undefined {
  for (const part of String(req.headers.cookie ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

function eqToken(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export async function startDashboard(o: DashboardOptions): Promise<DashboardHandle> {
  const log = o.logger.child({ component: 'hq-dashboard' });
  const now = o.now ?? Date.now;
  if (!LOOPBACK.has(o.host) && !o.tls) {
    throw new StationError('DASH_TLS_REQUIRED', `the dashboard would listen on ${o.host} without TLS: passwords and session cookies would cross the network in clear`, {
      exitCode: 2, hint: 'set dashboard.tls.certFile and dashboard.tls.keyFile, or listen on 127.0.0.1 behind a TLS-terminating proxy',
    });
  }
  if (Object.keys(readAccounts(o.accountsFile)).length === 0) {
    throw new StationError('DASH_NO_ACCOUNTS', `no dashboard account in ${o.accountsFile}: nobody could log in`, { exitCode: 2, hint: 'hq dashboard user add NAME --role operator (the password is read from the terminal or --password-file)' });
  }
  const files = loadStatic(o.publicDir ?? publicDir());
  const sessions = new Map<string, Session>();
  // per account: 5 failures; per client address a higher bar (an ops room behind one proxy shares it)
  const throttle = new Throttle();
  const addrThrottle = new Throttle(20);
  const idleMs = o.sessionIdleMs ?? 30 * 60_000;
  const scheme = o.tls ? 'https' : 'http';
  const sse = new Set<{ s: Session; res: ServerResponse }>();
  let port = o.port;
  let allowedHosts: string[] = [];
  let origins: string[] = [];

  const computeAllowed = (): void => {
    const hosts = new Set<string>([`${o.host}:${port}`]);
    if (LOOPBACK.has(o.host)) for (const h of ['127.0.0.1', 'localhost', '[::1]']) hosts.add(`${h}:${port}`);
    if (o.publicOrigin) hosts.add(new URL(o.publicOrigin).host);
    allowedHosts = [...hosts];
    origins = allowedHosts.map((h) => `${scheme}://${h}`);
    if (o.publicOrigin) origins.push(new URL(o.publicOrigin).origin);
  };

  const send = (res: ServerResponse, status: number, body: unknown, extra: Record<string, string | string[]> = {}): void => {
    const data = Buffer.from(JSON.stringify(body));
    res.writeHead(status, { ...DASHBOARD_HEADERS, 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': data.length, ...extra });
    res.end(data);
  };
  const sendError = (res: ServerResponse, e: unknown): void => {
    if (e instanceof HttpError) return send(res, e.status, { error: { code: e.code, message: e.message, ...(e.hint ? { hint: e.hint } : {}) } });
    log.error({ err: (e as Error).message }, 'dashboard request failed');
    send(res, 500, { error: { code: 'DASH_INTERNAL', message: 'the dashboard failed on this request (logged)', hint: 'retry; if it persists, read the dashboard log' } });
  };

  const readJson = (req: IncomingMessage): Promise<Record<string, unknown>> => new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) { reject(new HttpError(413, 'DASH_BODY_TOO_LARGE', `request body larger than ${MAX_BODY} bytes`)); req.destroy(); return; }
      chunks.push(c);
    });
    req.on('error', reject);
    req.on('end', () => {
      if (!/^application\/json\b/i.test(String(req.headers['content-type'] ?? ''))) return reject(new HttpError(415, 'DASH_BAD_REQUEST', 'the request body must be application/json'));
      try {
        const v = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as unknown;
        if (!v || typeof v !== 'object' || Array.isArray(v)) return reject(new HttpError(400, 'DASH_BAD_REQUEST', 'the request body must be a JSON object'));
        resolve(v as Record<string, unknown>);
      } catch { reject(new HttpError(400, 'DASH_BAD_REQUEST', 'the request body is not valid JSON')); }
    });
  });

  const clientAddr = (req: IncomingMessage): string => req.socket.remoteAddress ?? 'unknown';

  /** The session of this request, re-checked against the accounts file; throws DASH_NOT_LOGGED_IN. */
  const sessionOf = (req: IncomingMessage): Session => {
    const token = cookieOf(req, COOKIE);
    const s = token ? sessions.get(token) : undefined;
    const t = now();
    if (!s || t - s.lastAt > idleMs || t - s.createdAt > ABSOLUTE_SESSION_MS) {
      if (s) sessions.delete(s.token);
      throw new HttpError(401, 'DASH_NOT_LOGGED_IN', s ? 'the session has ended (idle too long); log in again' : 'not logged in');
    }
    const acct = readAccounts(o.accountsFile)[s.user];
    if (!acct || acct.role !== s.role) {
      sessions.delete(s.token);
      throw new HttpError(401, 'DASH_NOT_LOGGED_IN', acct ? 'the account\'s role changed; log in again' : 'the account no longer exists');
    }
    s.lastAt = t;
    return s;
  };

  const needOperator = (s: Session, what: string): void => {
    if (s.role !== 'operator') throw new HttpError(403, 'DASH_FORBIDDEN', `${s.user} is a viewer: only an operator may ${what}`, 'ask an operator, or an administrator for the operator role');
  };

  const checkCsrf = (req: IncomingMessage, s: Session): void => {
    const t = req.headers['x-csrf-token'];
    if (typeof t !== 'string' || !eqToken(t, s.csrf)) throw new HttpError(403, 'DASH_CSRF', 'the request lacks this session\'s anti-forgery token', 'reload the page and try again');
  };

  const audit = async (user: string, action: string, target: string | null, detail: string): Promise<void> => {
    await o.store.opsAudit({ user, action, target, detail }, now());
  };

  const cookie = (value: string, maxAgeS: number): string =>
    `${COOKIE}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeS}${o.tls ? '; Secure' : ''}`;

  const login = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const b = await readJson(req);
    const user = typeof b.user === 'string' ? b.user.trim() : '';
    const password = typeof b.password === 'string' ? b.password : '';
    if (!user || !password) throw new HttpError(400, 'DASH_BAD_REQUEST', 'give the account name and the password');
    const t = now();
    const keys: [Throttle, string][] = [[throttle, `u:${user}`], [addrThrottle, `a:${clientAddr(req)}`]];
    const wait = Math.max(...keys.map(([th, k]) => th.blockedFor(k, t)));
    if (wait > 0) {
      await audit(user, 'login-refused', null, `locked out for ${Math.ceil(wait / 1000)} s more (from ${clientAddr(req)})`);
      throw new HttpError(429, 'DASH_LOCKED_OUT', `too many failed logins: try again in ${Math.ceil(wait / 60_000)} min`, 'wait, or ask an administrator');
    }
    for (const [th, k] of keys) th.begin(k, t); // counted before the hash runs: parallel guesses cannot all slip through
    const acct = readAccounts(o.accountsFile)[user];
    // an unknown account costs the same scrypt as a known one (no timing oracle for names)
    const ok = await checkPassword(password, acct?.hash ?? 'scrypt$32768$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=');
    if (!acct || !ok) {
      await audit(user, 'login-failed', null, `wrong name or password (from ${clientAddr(req)})`);
      throw new HttpError(401, 'DASH_BAD_CREDENTIALS', 'wrong account name or password', 'check both; after 5 failures the account is locked for 5 minutes');
    }
    for (const [th, k] of keys) th.succeeded(k);
    const s: Session = { token: randomBytes(32).toString('base64url'), user, role: acct.role, csrf: randomBytes(24).toString('base64url'), createdAt: t, lastAt: t };
    sessions.set(s.token, s);
    await audit(user, 'login', null, `role ${acct.role}, from ${clientAddr(req)}`);
    send(res, 200, { user, role: s.role, csrf: s.csrf, idleMs }, { 'Set-Cookie': cookie(s.token, Math.floor(ABSOLUTE_SESSION_MS / 1000)) });
  };

  const commandsView = async (): Promise<unknown[]> => (await o.store.recentCommands(50)).map((c) => ({
    id: c.id, stationId: c.station_id, name: c.name, issuedAt: Number(c.issued_at), sentBy: c.sent_by,
    status: c.result_status, resultAt: c.result_at === null ? null : Number(c.result_at),
    message: (() => { try { const r = c.result ? JSON.parse(c.result) as { message?: string; code?: string } : null; return r ? [r.code, r.message].filter(Boolean).join(': ') || null : null; } catch { return null; } })(),
  }));

  const alarmsView = async (): Promise<unknown[]> => (await o.store.openAlarms()).map((a) => ({
    id: a.id, stationId: a.station_id, kind: a.kind, recordId: a.record_id, detail: a.detail, at: Number(a.at), firstAt: Number(a.first_at ?? a.at), count: Number(a.count),
  }));

  const broadcast = (event: string, data: unknown): void => {
    const line = `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
    for (const c of sse) {
      if (now() - c.s.lastAt > idleMs + 60_000 && !sessions.has(c.s.token)) { c.res.end(); sse.delete(c); continue; }
      c.res.write(line);
    }
  };

  const onFleet = (v: LiveView): void => broadcast('fleet', v);
  o.live.on('change', onFleet);
  let lastAlarms = '';
  const alarmTimer = setInterval(() => {
    if (sse.size === 0) return;
    void alarmsView().then((a) => {
      const j = JSON.stringify(a);
      if (j !== lastAlarms) { lastAlarms = j; broadcast('alarms', a); }
    }).catch((e: Error) => log.warn({ err: e.message }, 'alarms could not be read'));
  }, 3_000);
  alarmTimer.unref();
  const keepalive = setInterval(() => { for (const c of sse) c.res.write(': keepalive\n\n'); }, 25_000);
  keepalive.unref();

  const pushCommands = (): void => { void commandsView().then((c) => broadcast('commands', c)).catch(() => undefined); };

  const sendCmd = async (s: Session, b: Record<string, unknown>): Promise<unknown> => {
    needOperator(s, 'send commands');
    if (!o.signer) throw new HttpError(503, 'DASH_NO_SIGNER', 'commands are not enabled on this dashboard (no command signer)', 'run `hq signer` and set dashboard.signerSocket');
    const station = typeof b.station === 'string' ? b.station : '';
    const name = typeof b.name === 'string' ? b.name : '';
    if (!(DASHBOARD_COMMANDS as readonly string[]).includes(name)) throw new HttpError(400, 'DASH_BAD_REQUEST', `"${name}" cannot be sent from the dashboard (only ${DASHBOARD_COMMANDS.join(', ')}; others with hq cmd)`);
    if (!(await o.store.station(station))) throw new HttpError(404, 'DASH_NOT_FOUND', `station "${station}" is not registered`);
    const args: Record<string, unknown> = {};
    if (name === 'lock') {
      const reason = typeof b.reason === 'string' ? b.reason.trim() : '';
      if (!reason) throw new HttpError(400, 'DASH_BAD_REQUEST', 'a lock needs a reason (the officer sees it)');
      if (reason.length > 200) throw new HttpError(400, 'DASH_BAD_REQUEST', 'the reason is longer than 200 characters');
      args.reason = reason;
    }
    await audit(s.user, 'command', station, `${name}${args.reason ? ` (${String(args.reason)})` : ''}`);
    const ttlMs = o.commandTtlMs ?? 3600_000;
    let signed: Awaited<ReturnType<CommandSigner>>;
    try {
      signed = await o.signer({ target: station, name: name as (typeof DASHBOARD_COMMANDS)[number], args, ttlMs, sentBy: s.user });
    } catch (e) {
      throw new HttpError(502, 'DASH_SIGNER', `the command was not signed: ${(e as Error).message}`, 'check that `hq signer` runs');
    }
    // Answered once signed; sending and the station's answer show in the command list (events).
    void sendCommand({
      brokerUrl: o.broker.url, mqtt: o.broker.mqtt, topicPrefix: o.broker.topicPrefix,
      opsKey: async () => signed, sentBy: s.user, target: station, name: signed.body.name, args,
      ttlMs, waitMs: o.commandWaitMs ?? 60_000,
      store: {
        recordCommand: async (c) => { await o.store.recordCommand(c); pushCommands(); },
        stationKeys: (id) => o.store.stationKeys(id),
        recordCommandResult: (id, st, json, at) => o.store.recordCommandResult(id, st, json, at),
      },
    }).then((r) => {
      log.info({ id: r.command.id, target: station, name, sentBy: s.user, status: r.result?.status ?? 'no answer' }, 'dashboard command');
      pushCommands();
    }, async (e: Error) => {
      log.warn({ err: e.message, id: signed.body.id, target: station, name }, 'dashboard command could not be sent');
      await o.store.recordCommandResult(signed.body.id, 'not-sent', JSON.stringify({ code: 'HQ_BROKER_UNREACHABLE', message: e.message }), now()).catch(() => undefined);
      pushCommands();
    });
    return { id: signed.body.id, name: signed.body.name, target: station, expiresAt: signed.body.expiresAt };
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://x');
    const path = url.pathname;
    if (!allowedHosts.includes(String(req.headers.host ?? ''))) throw new HttpError(421, 'DASH_HOST', `host "${String(req.headers.host ?? '')}" is not this dashboard`, `open ${origins[0]}`);
    const origin = req.headers.origin;
    if (origin !== undefined && !origins.includes(origin)) throw new HttpError(403, 'DASH_HOST', `origin ${origin} may not call this dashboard`);
    if (req.method === 'GET' || req.method === 'HEAD') {
      const f = files.get(path);
      if (f) {
        if (req.headers['if-none-match'] === f.etag) { res.writeHead(304, { ...DASHBOARD_HEADERS, ETag: f.etag }); res.end(); return; }
        res.writeHead(200, { ...DASHBOARD_HEADERS, 'Cache-Control': 'no-cache', ETag: f.etag, 'Content-Type': f.type, 'Content-Length': f.body.length });
        res.end(req.method === 'HEAD' ? undefined : f.body);
        return;
      }
    }
    if (!path.startsWith('/api/')) throw new HttpError(404, 'DASH_NOT_FOUND', `no page ${path}`);
    if (req.method === 'POST') {
      if (origin === undefined && req.headers['sec-fetch-site'] !== undefined && req.headers['sec-fetch-site'] !== 'same-origin') throw new HttpError(403, 'DASH_HOST', 'cross-site request refused');
      if (path === '/api/login') return login(req, res);
      const s = sessionOf(req);
      checkCsrf(req, s);
      const b = await readJson(req);
      if (path === '/api/logout') {
        sessions.delete(s.token);
        await audit(s.user, 'logout', null, '');
        return send(res, 200, { ok: true }, { 'Set-Cookie': cookie('', 0) });
      }
      const ack = /^\/api\/alarms\/([A-Za-z0-9-]{1,64})\/ack$/.exec(path);
      if (ack) {
        needOperator(s, 'acknowledge alarms');
        const row = await o.store.ackAlarm(ack[1]!, s.user, now());
        if (!row) throw new HttpError(404, 'DASH_NOT_FOUND', `alarm ${ack[1]!} is not open (acknowledged already, or no such alarm)`);
        const note = typeof b.note === 'string' ? b.note.slice(0, 500) : '';
        await audit(s.user, 'alarm-ack', row.station_id, `${row.kind} ${row.id}${note ? `: ${note}` : ''}`);
        log.info({ alarm: row.id, kind: row.kind, stationId: row.station_id, by: s.user }, 'alarm acknowledged');
        const a = await alarmsView();
        lastAlarms = JSON.stringify(a);
        broadcast('alarms', a);
        return send(res, 200, { ok: true });
      }
      if (path === '/api/commands') return send(res, 202, await sendCmd(s, b));
      throw new HttpError(404, 'DASH_NOT_FOUND', `no action ${path}`);
    }
    if (req.method !== 'GET') throw new HttpError(405, 'DASH_BAD_REQUEST', `${req.method ?? ''} is not allowed here`);
    const s = sessionOf(req);
    if (path === '/api/session') return send(res, 200, { user: s.user, role: s.role, csrf: s.csrf, idleMs, commands: o.signer ? DASHBOARD_COMMANDS : [] });
    if (path === '/api/fleet') return send(res, 200, o.live.view());
    if (path === '/api/alarms') return send(res, 200, await alarmsView());
    if (path === '/api/commands') return send(res, 200, await commandsView());
    if (path === '/api/audit') {
      needOperator(s, 'read the audit log');
      return send(res, 200, (await o.store.opsAuditLog(200)).map((r) => ({ ...r, at: Number(r.at) })));
    }
    if (path === '/api/campaigns') return send(res, 200, o.campaigns ? await o.campaigns.list() : []);
    const camp = /^\/api\/campaigns\/([A-Za-z0-9_-]{1,64})(\/summary|\/report\.csv)$/.exec(path);
    if (camp) {
      if (!o.campaigns) throw new HttpError(404, 'DASH_NOT_FOUND', 'no campaigns here');
      const level = url.searchParams.get('level') ?? 'ward';
      if (!['ward', 'district', 'city'].includes(level)) throw new HttpError(400, 'DASH_BAD_REQUEST', `level "${level}": one of ward, district, city`);
      if (camp[2] === '/summary') {
        const v = await o.campaigns.summary(camp[1]!, level, now());
        if (v === null) throw new HttpError(404, 'DASH_NOT_FOUND', `no campaign ${camp[1]!}`);
        return send(res, 200, v);
      }
      const csv = await o.campaigns.csv(camp[1]!, level, now());
      if (csv === null) throw new HttpError(404, 'DASH_NOT_FOUND', `no campaign ${camp[1]!}`);
      const body = Buffer.from(csv, 'utf8');
      res.writeHead(200, { ...DASHBOARD_HEADERS, 'Content-Type': 'text/csv; charset=utf-8', 'Content-Disposition': `attachment; filename="campaign-${camp[1]!}-${level}.csv"`, 'Content-Length': body.length });
      res.end(body);
      return;
    }
    if (path === '/api/events') {
      res.writeHead(200, { ...DASHBOARD_HEADERS, 'Content-Type': 'text/event-stream; charset=utf-8', Connection: 'keep-alive' });
      const c = { s, res };
      sse.add(c);
      req.on('close', () => sse.delete(c));
      res.write(`event: fleet\ndata: ${JSON.stringify(o.live.view())}\n\n`);
      res.write(`event: alarms\ndata: ${JSON.stringify(await alarmsView())}\n\n`);
      res.write(`event: commands\ndata: ${JSON.stringify(await commandsView())}\n\n`);
      return;
    }
    throw new HttpError(404, 'DASH_NOT_FOUND', `no API ${path}`);
  };

  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    handle(req, res).catch((e: unknown) => { if (!res.headersSent) sendError(res, e); else res.end(); });
  };
  const server: Server = o.tls ? createHttps({ cert: o.tls.cert, key: o.tls.key, minVersion: 'TLSv1.2' }, listener) : createHttp(listener);
  server.headersTimeout = 20_000;
  server.requestTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => reject(new StationError('DASH_BAD_REQUEST', `the dashboard cannot listen on ${o.host}:${o.port}: ${e.code ?? e.message}`, { exitCode: 2, hint: 'choose a free port (dashboard.port) or stop what holds it' })));
    server.listen(o.port, o.host, () => resolve());
  });
  port = (server.address() as AddressInfo).port;
  computeAllowed();
  const url = `${scheme}://${o.host.includes(':') ? `[${o.host}]` : o.host}:${port}/`;
  log.info({ url, tls: !!o.tls, commands: o.signer ? 'signed by hq signer' : 'disabled (no signer)' }, 'dashboard listening');
  return {
    url, port,
    close: async () => {
      o.live.off('change', onFleet);
      clearInterval(alarmTimer);
      clearInterval(keepalive);
      for (const c of sse) c.res.end();
      sse.clear();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
