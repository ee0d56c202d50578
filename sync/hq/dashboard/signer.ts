/**
 * `hq signer` (#20 item 5): the one process of the dashboard layout that holds the
 * ops key. The dashboard's web server, which parses every request from browsers,
 * asks it over a Unix socket (0660, the dashboard's group) to sign one command and
 * gets back the signed message; the key never enters the web server.
 *
 * It signs only what an operator may send from the page — lock (with a reason),
 * unlock, sync-now, request-health — with a lifetime of at most `maxTtlMs`, at most
 * `maxPerMinute` commands a minute (a web server that was taken over cannot flood the
 * fleet), and logs each with the operator the web server names. Everything else
 * (set-policy, rotate-key, officer-push, update-hq-key) stays with `hq cmd`.
 *
 * Wire (local only), framed like the record validator's socket (4-byte big-endian
 * length + canonical CBOR):
 *   request  {v: 1, target, name, args: {…}, ttlMs, sentBy}
 *   response {v: 1, body: text (the command body, JSON), message: text (the signed message, JSON)}
 *            or {v: 1, error: text}
 */
import { chmodSync, existsSync, lstatSync, unlinkSync } from 'node:fs';
import { createConnection, createServer, type Socket } from 'node:net';
import type { KeyObject } from 'node:crypto';
import type { Logger } from 'pino';
import { decodeCbor, type CborValue } from '../../wire/cbor';
import { signCommand, checkCommandArgs } from '../../commands';
import { isValidStationId, type CommandBody, type CommandName, type SignedMessage } from '../../topics';
import { frame, framer } from '../validator-service';
import type { CommandSigner } from '../commands';

export const SIGNER_PROTOCOL_VERSION = 1;
/** The commands an operator may send from the dashboard. */
export const DASHBOARD_COMMANDS = ['lock', 'unlock', 'sync-now', 'request-health'] as const satisfies readonly CommandName[];
export type DashboardCommand = (typeof DASHBOARD_COMMANDS)[number];
const MAX_MESSAGE = 64 * 1024;

export interface SignerOptions {
  socketPath: string;
  opsKey: KeyObject;
  logger: Logger;
  maxTtlMs?: number;
  maxPerMinute?: number;
  mode?: number;
  now?: () => number;
}

export interface SignerService {
  readonly socketPath: string;
  close(): Promise<void>;
}

/** Checks one signing request; throws an Error whose message says what was refused. */
export function checkSignRequest(req: unknown, maxTtlMs: number): { target: string; name: DashboardCommand; args: Record<string, unknown>; ttlMs: number; sentBy: string } {
  const r = req as { v?: unknown; target?: unknown; name?: unknown; args?: unknown; ttlMs?: unknown; sentBy?: unknown };
  if (typeof r !== 'object' || r === null || r.v !== SIGNER_PROTOCOL_VERSION) throw new Error(`not a signing request of version ${SIGNER_PROTOCOL_VERSION}`);
  if (typeof r.target !== 'string' || !isValidStationId(r.target)) throw new Error('target: not a station id');
  if (typeof r.name !== 'string' || !(DASHBOARD_COMMANDS as readonly string[]).includes(r.name)) {
    throw new Error(`"${String(r.name)}" is not signed for the dashboard (only ${DASHBOARD_COMMANDS.join(', ')}; other commands: hq cmd)`);
  }
  const args = (r.args ?? {}) as Record<string, unknown>;
  if (typeof args !== 'object' || args === null || Array.isArray(args)) throw new Error('args: expected a map');
  checkCommandArgs(r.name as CommandName, args);
  if (args.reason !== undefined && (typeof args.reason !== 'string' || args.reason.length > 200)) throw new Error('args.reason: text of at most 200 characters');
  if (typeof r.ttlMs !== 'number' || !Number.isInteger(r.ttlMs) || r.ttlMs < 1000 || r.ttlMs > maxTtlMs) throw new Error(`ttlMs: an integer from 1000 to ${maxTtlMs}`);
  if (typeof r.sentBy !== 'string' || !/^[A-Za-z0-9._@-]{1,64}$/.test(r.sentBy)) throw new Error('sentBy: the operator\'s account name');
  return { target: r.target, name: r.name as DashboardCommand, args, ttlMs: r.ttlMs, sentBy: r.sentBy };
}

export async function startSigner(o: SignerOptions): Promise<SignerService> {
  const log = o.logger.child({ component: 'hq-signer' });
  const maxTtl = o.maxTtlMs ?? 3600_000;
  const perMinute = o.maxPerMinute ?? 60;
  const now = o.now ?? Date.now;
  const recent: number[] = [];
  if (existsSync(o.socketPath)) {
    if (!lstatSync(o.socketPath).isSocket()) throw new Error(`${o.socketPath} exists and is not a socket: refusing to replace it (set dashboard.signerSocket to a free path)`);
    unlinkSync(o.socketPath);
  }
  const conns = new Set<Socket>();
  const server = createServer((sock) => {
    conns.add(sock);
    sock.once('close', () => conns.delete(sock));
    sock.on('error', () => undefined);
    framer(sock, MAX_MESSAGE, (m) => {
      let reply: CborValue;
      try {
        const req = checkSignRequest(decodeCbor(m), maxTtl);
        const t = now();
        while (recent.length && recent[0]! < t - 60_000) recent.shift();
        if (recent.length >= perMinute) throw new Error(`more than ${perMinute} commands in a minute: refused (wait, or use hq cmd)`);
        recent.push(t);
        const { body, message } = signCommand({ target: req.target, name: req.name, args: req.args, ttlMs: req.ttlMs, now: t }, o.opsKey);
        log.info({ id: body.id, target: body.target, name: body.name, sentBy: req.sentBy }, `signed ${body.name} for ${body.target}, asked by ${req.sentBy}`);
        reply = { v: SIGNER_PROTOCOL_VERSION, body: JSON.stringify(body), message: JSON.stringify(message) };
      } catch (e) {
        log.warn({ err: (e as Error).message }, 'signing request refused');
        reply = { v: SIGNER_PROTOCOL_VERSION, error: (e as Error).message };
      }
      if (!sock.destroyed) sock.end(frame(reply));
    }, () => sock.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.socketPath, () => { server.off('error', reject); resolve(); });
  });
  chmodSync(o.socketPath, o.mode ?? 0o660);
  log.info({ socket: o.socketPath, commands: DASHBOARD_COMMANDS }, 'command signer listening');
  return {
    socketPath: o.socketPath,
    close: async () => {
      for (const c of conns) c.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** The web server's side: a CommandSigner that asks `hq signer` (one connection per command). */
export function socketSigner(socketPath: string, timeoutMs = 10_000): CommandSigner {
  return (input) => new Promise<{ body: CommandBody; message: SignedMessage }>((resolve, reject) => {
    const s = createConnection(socketPath);
    const timer = setTimeout(() => { s.destroy(); reject(new Error(`the command signer at ${socketPath} did not answer within ${timeoutMs} ms`)); }, timeoutMs);
    const done = (f: () => void): void => { clearTimeout(timer); s.destroy(); f(); };
    s.once('error', (e) => done(() => reject(new Error(`the command signer at ${socketPath} is not reachable (${(e as NodeJS.ErrnoException).code ?? e.message}): is \`hq signer\` running?`))));
    framer(s, MAX_MESSAGE, (m) => {
      try {
        const r = decodeCbor(m) as { error?: unknown; body?: unknown; message?: unknown };
        if (typeof r?.error === 'string') return done(() => reject(new Error(`the command signer refused: ${r.error as string}`)));
        if (typeof r?.body !== 'string' || typeof r.message !== 'string') return done(() => reject(new Error('the command signer answered without a signed command')));
        const body = JSON.parse(r.body) as CommandBody;
        const message = JSON.parse(r.message) as SignedMessage;
        if (body.target !== input.target || body.name !== input.name) return done(() => reject(new Error(`the command signer signed ${body.name} for ${body.target}, not the ${input.name} for ${input.target} asked for`)));
        done(() => resolve({ body, message }));
      } catch (e) {
        done(() => reject(new Error(`the command signer answered something unreadable: ${(e as Error).message}`)));
      }
    }, () => done(() => reject(new Error('the command signer answered too much'))));
    s.once('connect', () => s.write(frame({ v: SIGNER_PROTOCOL_VERSION, target: input.target, name: input.name, args: input.args as CborValue, ttlMs: input.ttlMs, sentBy: input.sentBy ?? '' })));
  });
}
