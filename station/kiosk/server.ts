/**
 * The officer kiosk: a node:http server on loopback serving the static page
 * (station/kiosk/public, no external assets), the translation files and the
 * local JSON API documented in docs/local-api.md. Live updates go out as
 * server-sent events. Every API call except login needs the officer's session
 * token (Authorization: Bearer …; the event stream takes ?token= because
 * EventSource cannot set headers).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, extname, relative, sep } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { StationError, UsageError } from '../../drivers/common/errors';
import type { ErrorCode } from '../../config/error-codes';
import type { Workflow, WorkflowView, Step } from '../workflow/machine';
import type { DeviceState, EnrollmentKind, UplinkStatus } from '../workflow/ports';
import { LANGUAGES, loadCatalogues } from './catalogue';
import type { DemoFaults, DemoFault } from '../demo-faults';

export interface KioskOptions {
  /** TCP port; 0 = any free port. */
  port: number;
  /** Must be a loopback address; default 127.0.0.1. */
  host?: string;
  workflow: Workflow;
  logger: Logger;
  /** Default page language (config kiosk.language). */
  language?: 'vi' | 'en';
  /** How often device/uplink states are polled for the live view (ms). */
  statusIntervalMs?: number;
  /** A request's headers must arrive within this (default 10 s). */
  headersTimeoutMs?: number;
  /** A whole request — headers and body — must arrive within this (default 30 s); the answer may take longer. */
  requestTimeoutMs?: number;
  /** The demo's trainer panel (`station demo --faults`); absent on a booth, and then POST /api/demo/faults is 404. */
  faults?: DemoFaults;
}

export interface KioskHandle {
  url: string;
  port: number;
  stop(): Promise<void>;
}

export interface Snapshot extends WorkflowView {
  uplink: UplinkStatus | null;
  devices: DeviceState[];
  serverTime: number;
  language: 'vi' | 'en';
  /** Only in `station demo --faults`: which rehearsal failures are on. */
  demoFaults?: Partial<Record<DemoFault, boolean>>;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);
const MAX_BODY = 64 * 1024;

const STATUS: Record<string, number> = {
  WORKFLOW_AUTH: 401, OFFICER_BAD_CREDENTIALS: 401, OFFICER_CARD_REQUIRED: 401, OFFICER_CARD_MISMATCH: 401, OFFICER_LOCKED: 423, OFFICER_RATE_LIMITED: 429,
  WORKFLOW_REFUSED: 423, WORKFLOW_BLOCKED: 409, OVERRIDE_REFUSED: 403, WORKFLOW_STEP: 409, WORKFLOW_BUSY: 409, WORKFLOW_INCOMPLETE: 409, WORKFLOW_INPUT: 400,
};

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8', '.svg': 'image/svg+xml', '.png': 'image/png',
};

/** Finds a folder next to this file, or in the source tree when running from dist/. */
function locate(name: string): string {
  const candidates = [join(__dirname, name), join(__dirname, '..', '..', '..', 'station', 'kiosk', name)];
  for (const c of candidates) if (existsSync(c)) return c;
  throw new StationError('KIOSK_ASSETS', `kiosk files "${name}" not found (looked in ${candidates.join(', ')})`, { hint: 'reinstall the station package' });
}

/** Every file of the page (public/, with sub-folders such as steps/), read once at start. */
function loadStatic(): Map<string, { body: Buffer; type: string }> {
  const files = new Map<string, { body: Buffer; type: string }>();
  const pub = locate('public');
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const full = join(dir, name);
      if (statSync(full).isDirectory()) { walk(full); continue; }
      const type = MIME[extname(name)];
      if (!type) continue;
      files.set(`/${relative(pub, full).split(sep).join('/')}`, { body: readFileSync(full), type });
    }
  };
  walk(pub);
  if (!files.has('/index.html')) throw new StationError('KIOSK_ASSETS', `kiosk page ${join(pub, 'index.html')} is missing`, { hint: 'reinstall the station package' });
  files.set('/', files.get('/index.html')!);
  // fail at start, not in front of an officer: merged per language, same keys in both
  const cats = loadCatalogues(locate('i18n'));
  for (const l of LANGUAGES) files.set(`/i18n/${l}.json`, { body: Buffer.from(JSON.stringify(cats[l])), type: MIME['.json']! });
  return files;
}

const SECURITY_HEADERS: Record<string, string> = {
  'Cache-Control': 'no-store',
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
  'Content-Security-Policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
};

class HttpError extends Error {
  constructor(readonly status: number, readonly code: ErrorCode, message: string) { super(message); }
}

export async function startKiosk(opts: KioskOptions): Promise<KioskHandle> {
  const host = opts.host ?? '127.0.0.1';
  if (!LOOPBACK.has(host)) throw new UsageError(`kiosk host "${host}" is not a loopback address`, 'the kiosk API is bound to 127.0.0.1 only', 'KIOSK_HOST');
  const wf = opts.workflow;
  const log = opts.logger;
  const language = opts.language ?? 'vi';
  const files = loadStatic();
  const clients = new Set<{ token: string; res: ServerResponse }>();
  let boundPort = opts.port;

  const snapshot = async (token: string): Promise<Snapshot> => ({
    ...wf.view(token), uplink: await wf.uplinkStatus(), devices: wf.deviceStates(), serverTime: Date.now(), language,
    ...(opts.faults ? { demoFaults: opts.faults.state() } : {}),
  });

  const send = (res: ServerResponse, status: number, body: unknown): void => {
    const data = Buffer.from(JSON.stringify(body));
    res.writeHead(status, { ...SECURITY_HEADERS, 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': data.length });
    res.end(data);
  };

  const sendError = (res: ServerResponse, e: unknown): void => {
    if (e instanceof HttpError) return send(res, e.status, { error: { code: e.code, message: e.message } });
    if (e instanceof StationError) {
      return send(res, STATUS[e.code] ?? 500, { error: { code: e.code, message: e.message, ...(e.hint ? { hint: e.hint } : {}), ...(e.details ? { details: e.details } : {}) } });
    }
    log.error({ err: e }, 'kiosk request failed');
    send(res, 500, { error: { code: 'KIOSK_INTERNAL', message: 'internal error in the station; the session is kept', hint: 'retry; if it persists restart the station' } });
  };

  const readJson = (req: IncomingMessage): Promise<Record<string, unknown>> => new Promise((resolve, reject) => {
    const ct = req.headers['content-type'] ?? '';
    const len = Number(req.headers['content-length'] ?? 0);
    if (len > MAX_BODY) { reject(new HttpError(413, 'KIOSK_BODY_TOO_LARGE', `request body larger than ${MAX_BODY} bytes`)); req.resume(); return; }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) { reject(new HttpError(413, 'KIOSK_BODY_TOO_LARGE', `request body larger than ${MAX_BODY} bytes`)); req.destroy(); return; }
      chunks.push(c);
    });
    req.on('error', reject);
    req.on('end', () => {
      if (size === 0) return resolve({});
      if (!/^application\/json\b/i.test(ct)) return reject(new HttpError(415, 'KIOSK_CONTENT_TYPE', 'request body must be application/json'));
      try {
        const v = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
        if (!v || typeof v !== 'object' || Array.isArray(v)) return reject(new HttpError(400, 'KIOSK_BAD_JSON', 'request body must be a JSON object'));
        resolve(v as Record<string, unknown>);
      } catch { reject(new HttpError(400, 'KIOSK_BAD_JSON', 'request body is not valid JSON')); }
    });
  });

  const bearer = (req: IncomingMessage): string => {
    const h = req.headers.authorization ?? '';
    const m = /^Bearer ([A-Za-z0-9_-]{20,100})$/.exec(h);
    if (!m) throw new StationError('WORKFLOW_AUTH', 'no valid officer session', { hint: 'log in again' });
    return m[1]!;
  };

  /** DNS-rebinding and cross-site protection: only our own loopback origin may talk to the API. */
  const hostOk = (req: IncomingMessage): boolean => {
    const allowed = [`127.0.0.1:${boundPort}`, `localhost:${boundPort}`, `[::1]:${boundPort}`];
    if (!allowed.includes(String(req.headers.host ?? ''))) return false;
    const origin = req.headers.origin;
    if (origin !== undefined && !allowed.map((a) => `http://${a}`).includes(origin)) return false;
    return true;
  };

  const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isInteger(v) ? v : typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : undefined);
  const str = (v: unknown): string => (typeof v === 'string' ? v : '');

  type Handler = (token: string, body: Record<string, unknown>) => Promise<unknown> | unknown;
  const routes: Record<string, Handler> = {
    '/api/logout': (t) => { wf.logout(t); return { ok: true }; },
    '/api/activity': (t) => wf.activity(t),
    '/api/lost/dismiss': (t) => { wf.dismissLost(t); },
    '/api/session/start': (t) => wf.startSession(t),
    '/api/session/kind': (t, b) => wf.chooseKind(t, b.kind as EnrollmentKind),
    '/api/session/consent': (t, b) => wf.giveConsent(t, { accepted: b.accepted, language: b.language, sha256: b.sha256 }),
    '/api/session/finger/capture': (t, b) => wf.captureFinger(t, num(b.position)),
    '/api/session/finger/keep': (t, b) => wf.keepFinger(t, num(b.position) ?? 0),
    '/api/session/finger/exception': (t, b) => wf.fingerException(t, num(b.position) ?? 0, str(b.code), b.reason),
    '/api/session/finger/redo': (t, b) => wf.redoFinger(t, num(b.position) ?? 0),
    '/api/session/portrait/capture': (t) => wf.capturePortrait(t),
    '/api/session/portrait/exception': (t, b) => wf.portraitException(t, str(b.code), b.reason),
    '/api/session/chip/read': (t, b) => wf.readChip(t, {
      ...(b.documentNumber ? { documentNumber: str(b.documentNumber) } : {}),
      ...(b.birthDate ? { birthDate: str(b.birthDate) } : {}),
      ...(b.expiryDate ? { expiryDate: str(b.expiryDate) } : {}),
      ...(b.can !== undefined ? { can: str(b.can) } : {}),
    }),
    '/api/session/chip/exception': (t, b) => wf.chipException(t, str(b.code), b.reason),
    '/api/session/override': (t, b) => wf.override(t, { kind: b.kind, officerId: b.officerId, pin: b.pin, reason: b.reason }),
    '/api/session/next': (t) => wf.next(t),
    '/api/session/goto': (t, b) => wf.goto(t, str(b.step) as Step),
    '/api/session/confirm': (t) => wf.confirm(t),
    '/api/session/finish': (t) => wf.finish(t),
    '/api/session/abort': (t) => wf.abort(t),
    '/api/session/dismiss-error': (t) => wf.dismissError(t),
  };
  if (opts.faults) {
    const faults = opts.faults;
    routes['/api/demo/faults'] = async (t, b) => {
      wf.auth(t);
      await faults.set(b.fault, b.on);
      broadcast();
    };
  }

  const handleEvents = (req: IncomingMessage, res: ServerResponse, url: URL): void => {
    const token = url.searchParams.get('token') ?? '';
    wf.auth(token, true);
    res.writeHead(200, { ...SECURITY_HEADERS, 'Content-Type': 'text/event-stream; charset=utf-8', Connection: 'keep-alive' });
    res.write('retry: 2000\n\n');
    const client = { token, res };
    clients.add(client);
    req.on('close', () => clients.delete(client));
    void pushState(client);
  };

  const pushState = async (c: { token: string; res: ServerResponse }): Promise<void> => {
    try {
      const snap = await snapshot(c.token);
      c.res.write(`event: state\ndata: ${JSON.stringify(snap)}\n\n`);
    } catch (e) {
      if (e instanceof StationError && e.code === 'WORKFLOW_AUTH') {
        c.res.write(`event: logout\ndata: ${JSON.stringify({ reason: 'expired' })}\n\n`);
        c.res.end();
        clients.delete(c);
      }
    }
  };

  let pending = false;
  const broadcast = (): void => {
    if (pending) return;
    pending = true;
    setImmediate(() => { pending = false; for (const c of clients) void pushState(c); });
  };
  const onChange = (): void => broadcast();
  const onProgress = (p: unknown): void => { for (const c of clients) c.res.write(`event: progress\ndata: ${JSON.stringify(p)}\n\n`); };
  const onLogout = (ev: { reason: string; tokens: string[]; parked?: boolean }): void => {
    for (const c of [...clients]) {
      if (!ev.tokens.includes(c.token)) continue;
      c.res.write(`event: logout\ndata: ${JSON.stringify({ reason: ev.reason, parked: ev.parked === true })}\n\n`);
      c.res.end();
      clients.delete(c);
    }
  };
  // The idle countdown: {remainingMs, warnMs} when it starts, {remainingMs: null} when activity cancels it.
  const onIdle = (ev: { tokens: string[]; remainingMs: number | null; warnMs: number }): void => {
    for (const c of clients) if (ev.tokens.includes(c.token)) c.res.write(`event: idle\ndata: ${JSON.stringify({ remainingMs: ev.remainingMs, warnMs: ev.warnMs })}\n\n`);
  };
  wf.on('change', onChange);
  wf.on('progress', onProgress);
  wf.on('logout', onLogout);
  wf.on('idle', onIdle);

  // Device and uplink states change outside the workflow: poll and push on change.
  let lastStatus = '';
  const statusTimer = setInterval(() => {
    void (async () => {
      if (!clients.size) return;
      const guard = await wf.refreshGuard();
      const key = JSON.stringify([wf.deviceStates(), await wf.uplinkStatus(), guard]);
      if (key !== lastStatus) { lastStatus = key; broadcast(); }
      for (const c of clients) c.res.write(': ping\n\n');
    })();
  }, opts.statusIntervalMs ?? 2000);
  statusTimer.unref();

  // A slow or stalled client (a local process trickling bytes) must not hold a connection open:
  // the headers and the whole request body have deadlines. They bound only the *receiving* of a
  // request; a device capture that takes longer to answer is not cut off (Node stops the clock
  // once the request is complete).
  const headersTimeout = opts.headersTimeoutMs ?? 10_000;
  const requestTimeout = Math.max(opts.requestTimeoutMs ?? 30_000, headersTimeout);
  const server: Server = createServer({
    headersTimeout, requestTimeout,
    // how often Node checks those deadlines (its default, 30 s, would let a stalled request live that much longer)
    connectionsCheckingInterval: Math.max(100, Math.min(1_000, Math.floor(headersTimeout / 2))),
  }, (req, res) => {
    void (async () => {
      try {
        if (!hostOk(req)) throw new HttpError(403, 'KIOSK_FORBIDDEN_ORIGIN', 'requests must come from the kiosk page on this station');
        const url = new URL(req.url ?? '/', `http://127.0.0.1:${boundPort}`);
        const path = url.pathname;
        if (req.method === 'GET' && files.has(path)) {
          const f = files.get(path)!;
          res.writeHead(200, { ...SECURITY_HEADERS, 'Content-Type': f.type, 'Content-Length': f.body.length });
          res.end(f.body);
          return;
        }
        if (req.method === 'POST' && path === '/api/login') {
          const b = await readJson(req);
          const r = await wf.login(str(b.officerId), str(b.pin));
          return send(res, 200, { token: r.token, officer: r.officer, restored: r.restored, state: await snapshot(r.token) });
        }
        if (req.method === 'GET' && path === '/api/hello') {
          // Public, for the login screen: no personal data, no officer ids (only whether they are all digits).
          const lost = wf.lostSession();
          return send(res, 200, {
            language, officerIdNumeric: wf.officerIdsNumeric(), time: Date.now(),
            lostSession: lost && { step: lost.step, kind: lost.kind, startedAt: lost.startedAt, sealed: lost.sealed, sealedAt: lost.sealedAt, recordRef: lost.recordRef },
          });
        }
        if (req.method === 'GET' && path === '/api/events') return handleEvents(req, res, url);
        if (req.method === 'GET' && path === '/api/state') return send(res, 200, await snapshot(bearer(req)));
        if (req.method === 'GET' && path === '/api/preview/camera-live') {
          const img = await wf.livePreview(bearer(req));
          if (!img) throw new HttpError(404, 'KIOSK_NO_IMAGE', 'no live view now');
          res.writeHead(200, { ...SECURITY_HEADERS, 'Content-Type': 'image/jpeg', 'Content-Length': img.length });
          res.end(img);
          return;
        }
        if (req.method === 'GET' && path.startsWith('/api/preview/')) {
          const token = bearer(req);
          const m = /^\/api\/preview\/(finger\/(\d{1,2})|portrait|chip-face)$/.exec(path);
          if (!m) throw new HttpError(404, 'KIOSK_NOT_FOUND', `no such preview ${path}`);
          const img = m[2] ? wf.fingerPreview(token, Number(m[2])) : m[1] === 'portrait' ? wf.portraitPreview(token) : wf.chipFace(token);
          if (!img) throw new HttpError(404, 'KIOSK_NO_IMAGE', 'nothing captured yet');
          res.writeHead(200, { ...SECURITY_HEADERS, 'Content-Type': m[2] ? 'image/png' : 'image/jpeg', 'Content-Length': img.length });
          res.end(img);
          return;
        }
        if (req.method === 'POST' && path === '/api/session/details') {
          const token = bearer(req);
          const b = await readJson(req);
          const r = wf.submitDetails(token, b.details ?? b);
          return send(res, r.ok ? 200 : 422, { ok: r.ok, errors: r.errors, state: await snapshot(token) });
        }
        const handler = routes[path];
        if (handler) {
          if (req.method !== 'POST') throw new HttpError(405, 'KIOSK_METHOD', `${path} takes POST`);
          const token = bearer(req);
          const b = await readJson(req);
          await handler(token, b);
          if (path === '/api/logout') return send(res, 200, { ok: true });
          return send(res, 200, { ok: true, state: await snapshot(token) });
        }
        throw new HttpError(404, 'KIOSK_NOT_FOUND', `no such resource ${req.method} ${path}`);
      } catch (e) {
        if (!res.headersSent) sendError(res, e);
        else res.end();
      }
    })();
  });
  // an idle keep-alive connection is closed after 5 s (Node's default); the event stream writes a ping every status interval
  server.keepAliveTimeout = 5_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => reject(new StationError('KIOSK_LISTEN', `kiosk cannot listen on ${host}:${opts.port}: ${e.code ?? e.message}`, {
      hint: e.code === 'EADDRINUSE' ? 'another process uses this port; change kiosk.port' : 'check kiosk.port', cause: e,
    })));
    server.listen(opts.port, host, () => resolve());
  });
  boundPort = (server.address() as AddressInfo).port;
  const url = `http://${host === '::1' ? '[::1]' : host}:${boundPort}/`;
  log.info({ url }, 'kiosk listening');

  return {
    url,
    port: boundPort,
    async stop(): Promise<void> {
      clearInterval(statusTimer);
      wf.off('change', onChange);
      wf.off('progress', onProgress);
      wf.off('logout', onLogout);
      wf.off('idle', onIdle);
      for (const c of clients) c.res.end();
      clients.clear();
      await new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections(); });
    },
  };
}
