/**
 * Dashboard accounts (#20 item 1): `<dataDir>/dashboard/accounts.json` (mode 0600,
 * written atomically), each account a role (viewer | operator) and an scrypt hash
 * of its password (N = 2^15, r = 8, p = 1, 16-byte salt, 32-byte hash; compared in
 * constant time). Managed with `hq dashboard user …`; the web server reads it on
 * each login, so a removed account cannot log in again (its sessions end too).
 *
 * Guessing is limited per account and per client address: after 5 failures (20 from
 * one address) the account (or address) is refused for 5 minutes, doubling up to an hour.
 * A failure is counted *before* scrypt runs, so parallel attempts cannot all pass
 * the check while the first one is still hashing (#14's PIN lesson).
 */
import { randomBytes, scrypt as scryptCb, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { UsageError } from '../../../config/errors';

const scrypt = promisify(scryptCb) as (pw: string | Buffer, salt: Buffer, len: number, o: { N: number; r: number; p: number; maxmem: number }) => Promise<Buffer>;

export const ROLES = ['viewer', 'operator'] as const;
export type Role = (typeof ROLES)[number];
export const ACCOUNT_NAME_RE = /^[A-Za-z0-9._@-]{1,64}$/;
export const MIN_PASSWORD = 10;
const N = 1 << 15;
const R = 8;
const P = 1;

export interface Account { role: Role; hash: string; createdAt: number }
interface AccountsFile { v: 1; accounts: Record<string, Account> }

export function accountsPath(dataDir: string): string {
  return join(dataDir, 'dashboard', 'accounts.json');
}

export function readAccounts(path: string): Record<string, Account> {
  if (!existsSync(path)) return {};
  let f: AccountsFile;
  try {
    f = JSON.parse(readFileSync(path, 'utf8')) as AccountsFile;
  } catch (e) {
    throw new Error(`${path} is not a dashboard accounts file (${(e as Error).message}); restore it from a backup or remove it and add the accounts again with hq dashboard user add`, { cause: e });
  }
  if (f?.v !== 1 || typeof f.accounts !== 'object' || f.accounts === null) throw new Error(`${path}: unknown accounts file version`);
  return f.accounts;
}

function writeAccounts(path: string, accounts: Record<string, Account>): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify({ v: 1, accounts }, null, 2)}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}

export async function hashPassword(pw: string): Promise<string> {
  const salt = randomBytes(16);
  const h = await scrypt(pw, salt, 32, { N, r: R, p: P, maxmem: 64 * 1024 * 1024 });
  return `scrypt$${N}$${R}$${P}$${salt.toString('base64')}$${h.toString('base64')}`;
}

export async function checkPassword(pw: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [n, r, p] = parts.slice(1, 4).map(Number) as [number, number, number];
  const salt = Buffer.from(parts[4]!, 'base64');
  const want = Buffer.from(parts[5]!, 'base64');
  const got = await scrypt(pw, salt, want.length, { N: n, r, p, maxmem: 64 * 1024 * 1024 });
  return got.length === want.length && timingSafeEqual(got, want);
}

function checkName(name: string): void {
  if (!ACCOUNT_NAME_RE.test(name)) throw new UsageError(`"${name}" is not an account name`, 'use 1–64 letters, digits, dot, dash, underscore or @');
}

function checkRole(role: string): asserts role is Role {
  if (!(ROLES as readonly string[]).includes(role)) throw new UsageError(`role "${role}" does not exist`, `one of: ${ROLES.join(', ')} (viewer sees everything; operator may also acknowledge alarms, send commands and edit campaigns)`);
}

export function checkNewPassword(pw: string): void {
  if (pw.length < MIN_PASSWORD) throw new UsageError(`the password has ${pw.length} characters; at least ${MIN_PASSWORD} are needed`, 'choose a longer passphrase');
}

export async function addAccount(path: string, name: string, role: string, password: string, now = Date.now()): Promise<void> {
  checkName(name);
  checkRole(role);
  checkNewPassword(password);
  const all = readAccounts(path);
  if (all[name]) throw new UsageError(`account "${name}" exists already`, `change its password with hq dashboard user passwd ${name}, or its role with --role after removing it`);
  all[name] = { role, hash: await hashPassword(password), createdAt: now };
  writeAccounts(path, all);
}

export async function setPassword(path: string, name: string, password: string): Promise<void> {
  checkNewPassword(password);
  const all = readAccounts(path);
  const a = all[name];
  if (!a) throw new UsageError(`no account "${name}"`, 'hq dashboard user list shows the accounts');
  a.hash = await hashPassword(password);
  writeAccounts(path, all);
}

export function removeAccount(path: string, name: string): void {
  const all = readAccounts(path);
  if (!all[name]) throw new UsageError(`no account "${name}"`, 'hq dashboard user list shows the accounts');
  delete all[name];
  writeAccounts(path, all);
}

/**
 * Failures per key (account name or client address), counted before the hash runs. A success
 * takes back only its own attempt: wrong guesses sent alongside it stay counted (so a burst of
 * parallel guesses with the right one among them does not reset the count). Failures expire after
 * a quiet period as long as the lock.
 */
export class Throttle {
  private readonly m = new Map<string, { failed: number; until: number; lastAt: number }>();
  constructor(private readonly limit = 5, private readonly baseMs = 5 * 60_000, private readonly maxMs = 3600_000) {}

  /** ms still refused for this key (0: may try). */
  blockedFor(key: string, now: number): number {
    const e = this.m.get(key);
    return e && e.until > now ? e.until - now : 0;
  }

  /** Counts an attempt as failed up front; `succeeded` takes it back. */
  begin(key: string, now: number): void {
    let e = this.m.get(key);
    if (e && e.until <= now && now - e.lastAt > this.baseMs) e = undefined;
    e ??= { failed: 0, until: 0, lastAt: now };
    e.failed += 1;
    e.lastAt = now;
    if (e.failed >= this.limit) e.until = now + Math.min(this.maxMs, this.baseMs * 2 ** (e.failed - this.limit));
    this.m.set(key, e);
  }

  succeeded(key: string): void {
    const e = this.m.get(key);
    if (!e) return;
    e.failed -= 1;
    if (e.failed <= 0 && e.until === 0) this.m.delete(key);
  }
}
