/**
 * Officer login holds against a local attacker (#14 item 1): attempts are counted
 * before the PIN is hashed, one at a time, with a station-wide rate limit; the PIN
 * verifiers are bound to the booth; logins end after an absolute lifetime.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'node:http';
import Database from 'better-sqlite3';
import { OfficerStore, hashPin, type LoginResult } from '../../station/officers/store';
import { startKiosk, type KioskHandle } from '../../station/kiosk/server';
import { nullLogger } from '../../station/log';
import { FAST_SCRYPT, GOOD_DETAILS, makeRig, type Rig, consentGiven } from './helpers';
import { LOGIN_GRACE_MS, createWorkflow } from '../../station/workflow/machine';

const dirs: string[] = [];
function tmp(): string { const d = mkdtempSync(join(tmpdir(), 'login-')); dirs.push(d); return d; }
let rig: Rig | null = null;
let kiosk: KioskHandle | null = null;
afterEach(async () => {
  await kiosk?.stop(); kiosk = null;
  rig?.cleanup(); rig = null;
  while (dirs.length) rmSync(dirs.pop()!, { recursive: true, force: true });
});

const WIDE = { attempts: 10_000, windowMs: 60_000 };
const wrongPins = (n: number): string[] => Array.from({ length: n }, (_, i) => String(500_000 + i));

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

describe('PIN lockout under parallel attempts', () => {
  it('100 parallel wrong PINs then the right one: refused, locked, the count exact', async () => {
    const dir = tmp();
    const s = new OfficerStore(join(dir, 'officers.db'), { scrypt: FAST_SCRYPT, maxFailures: 5, lockoutMs: 60_000, rateLimit: WIDE }).open();
    await s.add({ id: 'o1', name: 'O One', pin: '246813' });
    const results = await Promise.all(wrongPins(100).map((p) => s.verify('o1', p)));
    const codes = results.map((r) => (r.ok ? 'OK' : r.code));
    expect(codes.filter((c) => c === 'OFFICER_BAD_CREDENTIALS')).toHaveLength(4);
    expect(codes.filter((c) => c === 'OFFICER_LOCKED')).toHaveLength(96);
    expect(codes).not.toContain('OK');
    const right = await s.verify('o1', '246813');
    expect(right).toMatchObject({ ok: false, code: 'OFFICER_LOCKED' });
    // exactly maxFailures PINs were hashed and counted; the rest were refused unchecked
    const o = s.get('o1')!;
    expect(o.failedAttempts).toBe(5);
    expect(o.lockedUntil).toBeGreaterThan(Date.now());
    expect(s.recentChecks()).toBe(5); // the right PIN after the lock was not checked either
    // another connection (another process) sees the same count: it was committed, not held in memory
    const other = new Database(join(dir, 'officers.db'), { readonly: true });
    expect((other.prepare('SELECT failed FROM officers WHERE id = ?').get('o1') as { failed: number }).failed).toBe(5);
    other.close();
    s.close();
  });

  it('the same through the kiosk API: 100 parallel logins, then the right PIN gets 423', async () => {
    rig = await makeRig(); // maxFailures 3
    kiosk = await startKiosk({ port: 0, workflow: rig.wf, logger: nullLogger() });
    const port = kiosk.port;
    const res = await Promise.all(wrongPins(100).map((pin) => post(port, '/api/login', { officerId: 'off1', pin })));
    const statuses = res.map((r) => r.status);
    expect(statuses.filter((x) => x === 401)).toHaveLength(2);
    expect(statuses.filter((x) => x === 423)).toHaveLength(98);
    // the officer sees how many tries are left, then that the account is locked and until when
    const left = res.filter((r) => r.status === 401).map((r) => r.body.error.details.remaining).sort();
    expect(left).toEqual([1, 2]);
    expect(res.find((r) => r.status === 423)!.body.error).toMatchObject({ code: 'OFFICER_LOCKED', details: { until: expect.any(Number) } });
    const right = await post(port, '/api/login', { officerId: 'off1', pin: '123456' });
    expect(right.status).toBe(423);
    expect(right.body.error.code).toBe('OFFICER_LOCKED');
    expect(rig.officers.get('off1')!.failedAttempts).toBe(3);
  });

  it('an attempt is counted before the PIN is checked: while one is in progress the count already includes it', async () => {
    const dir = tmp();
    const s = new OfficerStore(join(dir, 'officers.db'), { scrypt: FAST_SCRYPT, maxFailures: 5, rateLimit: WIDE }).open();
    const card = { atr: '3b8f8001', uid: '04a1b2c3' };
    await s.add({ id: 'o2', name: 'O Two', pin: '135792', card });
    let cardAsked!: () => void;
    const asked = new Promise<void>((r) => (cardAsked = r));
    let giveCard!: (c: typeof card) => void;
    // the right PIN: the check reaches the card step and waits there (as if the process died now)
    const inProgress = s.verify('o2', '135792', () => { cardAsked(); return new Promise((r) => (giveCard = r)); });
    await asked;
    const other = new OfficerStore(join(dir, 'officers.db'), { scrypt: FAST_SCRYPT }).open();
    expect(other.get('o2')!.failedAttempts).toBe(1);
    giveCard(card);
    expect((await inProgress).ok).toBe(true);
    expect(other.get('o2')!.failedAttempts).toBe(0);
    other.close();
    s.close();
  });

  it('checks one attempt at a time: parallel logins never overlap', async () => {
    const dir = tmp();
    const s = new OfficerStore(join(dir, 'officers.db'), { scrypt: FAST_SCRYPT, maxFailures: 50, rateLimit: WIDE }).open();
    const card = { atr: '3b8f8001', uid: '04a1b2c3' };
    await s.add({ id: 'o3', name: 'O Three', pin: '975310', card });
    let inside = 0;
    let most = 0;
    const readCard = async (): Promise<typeof card> => {
      inside++;
      most = Math.max(most, inside);
      await new Promise((r) => setImmediate(r));
      inside--;
      return card;
    };
    const all = await Promise.all(Array.from({ length: 10 }, () => s.verify('o3', '975310', readCard)));
    expect(all.every((r) => r.ok)).toBe(true);
    expect(most).toBe(1);
    s.close();
  });

  it('a station-wide rate limit refuses every attempt past it, for any officer id, and a right PIN too', async () => {
    let t = 1_000_000;
    const dir = tmp();
    const s = new OfficerStore(join(dir, 'officers.db'), { scrypt: FAST_SCRYPT, maxFailures: 5, rateLimit: { attempts: 6, windowMs: 60_000 }, now: () => t }).open();
    await s.add({ id: 'real', name: 'Real', pin: '864202' });
    // an attacker walks through officer ids (each would have its own lockout budget)
    const guesses: LoginResult[] = [];
    for (let i = 0; i < 6; i++) guesses.push(await s.verify(`guess${i}`, '111111'));
    expect(guesses.every((g) => !g.ok && g.code === 'OFFICER_BAD_CREDENTIALS')).toBe(true);
    t += 1_000;
    const blocked = await s.verify('real', '864202');
    expect(blocked).toEqual({ ok: false, code: 'OFFICER_RATE_LIMITED', retryAfterMs: 59_000 });
    expect(s.get('real')!.failedAttempts).toBe(0); // refused without a check: not the officer's fault
    t += 59_000;
    expect((await s.verify('real', '864202')).ok).toBe(true);
    s.close();
  });

  it('the kiosk answers a rate-limited login with 429 and says to wait', async () => {
    const dir = tmp();
    rig = await makeRig({}, dir);
    rig.officers.close();
    const limited = new OfficerStore(join(dir, 'officers.db'), { scrypt: FAST_SCRYPT, rateLimit: { attempts: 2, windowMs: 600_000 } }).open();
    rig.deps.officers = limited;
    rig.wf.stop();
    const wf = createWorkflow(rig.deps);
    await wf.start();
    kiosk = await startKiosk({ port: 0, workflow: wf, logger: nullLogger() });
    expect((await post(kiosk.port, '/api/login', { officerId: 'x', pin: '000000' })).status).toBe(401);
    expect((await post(kiosk.port, '/api/login', { officerId: 'y', pin: '000000' })).status).toBe(401);
    const r = await post(kiosk.port, '/api/login', { officerId: 'off1', pin: '123456' });
    expect(r.status).toBe(429);
    expect(r.body.error).toMatchObject({ code: 'OFFICER_RATE_LIMITED', message: expect.stringMatching(/wait/), details: { retryAfterMs: expect.any(Number) } });
    wf.stop();
    limited.close();
  });
});

describe('PIN verifiers are bound to the booth', () => {
  it('the same pushed hash gives each booth a different verifier; a file copied to another booth does not log in', async () => {
    const a = tmp();
    const b = tmp();
    const pinHash = await hashPin('192837', FAST_SCRYPT);
    const sa = new OfficerStore(join(a, 'officers.db'), { scrypt: FAST_SCRYPT }).open();
    const sb = new OfficerStore(join(b, 'officers.db'), { scrypt: FAST_SCRYPT }).open();
    for (const s of [sa, sb]) s.applyHqCommand({ op: 'upsert', officer: { id: 'hq1', name: 'From HQ', pinHash } });
    expect((await sa.verify('hq1', '192837')).ok).toBe(true);
    expect((await sb.verify('hq1', '192837')).ok).toBe(true);
    sa.close();
    sb.close();
    const stored = (dir: string): string => {
      const db = new Database(join(dir, 'officers.db'), { readonly: true });
      try { return (db.prepare('SELECT pin_hash FROM officers').get() as { pin_hash: string }).pin_hash; } finally { db.close(); }
    };
    const va = stored(a);
    const vb = stored(b);
    expect(va).toMatch(/^bound1\$/);
    expect(va).not.toBe(vb);
    // the hash as it travelled is nowhere in the booth's file
    const pushedKey = Buffer.from(pinHash.split('$')[5]!, 'base64');
    expect(readFileSync(join(a, 'officers.db')).includes(pushedKey)).toBe(false);
    expect(readFileSync(join(a, 'officers.db')).includes(Buffer.from(pinHash.split('$')[5]!))).toBe(false);
    // booth A's file on booth B (B's key): the right PIN does not log in
    const c = tmp();
    mkdirSync(join(c, 'keys'), { mode: 0o700 });
    copyFileSync(join(a, 'officers.db'), join(c, 'officers.db'));
    copyFileSync(join(b, 'keys', 'officer-pin.key'), join(c, 'keys', 'officer-pin.key'));
    const sc = new OfficerStore(join(c, 'officers.db'), { scrypt: FAST_SCRYPT }).open();
    expect(await sc.verify('hq1', '192837')).toMatchObject({ ok: false, code: 'OFFICER_BAD_CREDENTIALS' });
    sc.close();
  });

  it('officers.db without its booth key refuses to open (no silent new key that locks everyone out)', async () => {
    const d = tmp();
    const s = new OfficerStore(join(d, 'officers.db'), { scrypt: FAST_SCRYPT }).open();
    await s.add({ id: 'o1', name: 'O', pin: '123456' });
    s.close();
    unlinkSync(join(d, 'keys', 'officer-pin.key'));
    expect(() => new OfficerStore(join(d, 'officers.db'), { scrypt: FAST_SCRYPT }).open()).toThrow(expect.objectContaining({ code: 'OFFICER_KEY_MISSING', hint: expect.stringMatching(/restore/) }));
  });

  it('an older store with plain scrypt hashes is bound to the booth on open; its officers still log in', async () => {
    const d = tmp();
    const db = new Database(join(d, 'officers.db'));
    db.exec(`CREATE TABLE officers (id TEXT PRIMARY KEY, name TEXT NOT NULL, pin_hash TEXT NOT NULL, card_hash TEXT,
      active INTEGER NOT NULL DEFAULT 1, source TEXT NOT NULL DEFAULT 'local', failed INTEGER NOT NULL DEFAULT 0, locked_until INTEGER,
      created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL); PRAGMA user_version = 1;`);
    db.prepare("INSERT INTO officers (id, name, pin_hash, created_at, updated_at) VALUES ('old', 'Old', ?, 1, 1)").run(await hashPin('654321', FAST_SCRYPT));
    db.close();
    const s = new OfficerStore(join(d, 'officers.db'), { scrypt: FAST_SCRYPT }).open();
    expect((await s.verify('old', '654321')).ok).toBe(true);
    expect((await s.verify('old', '654320')).ok).toBe(false);
    s.close();
    const check = new Database(join(d, 'officers.db'), { readonly: true });
    expect((check.prepare('SELECT pin_hash FROM officers').get() as { pin_hash: string }).pin_hash).toMatch(/^bound1\$/);
    check.close();
  });

  it('PIN length policy comes from the configuration (never below 6)', async () => {
    const s = new OfficerStore(join(tmp(), 'officers.db'), { scrypt: FAST_SCRYPT, pinMinLength: 8 }).open();
    await expect(s.add({ id: 'a', name: 'A', pin: '1234567' })).rejects.toMatchObject({ code: 'OFFICER_BAD_PIN', message: expect.stringMatching(/8–16 digits/) });
    await s.add({ id: 'a', name: 'A', pin: '12345678' });
    s.close();
    const low = new OfficerStore(join(tmp(), 'officers.db'), { scrypt: FAST_SCRYPT, pinMinLength: 4 }).open();
    await expect(low.add({ id: 'b', name: 'B', pin: '12345' })).rejects.toMatchObject({ code: 'OFFICER_BAD_PIN' });
    low.close();
  });
});

describe('officer login lifetime', () => {
  it('ends after the absolute lifetime however active; a session in progress may be finished within the grace', async () => {
    const t0 = Date.parse('2026-12-01T08:00:00Z');
    let t = t0;
    rig = await makeRig({ now: () => t, loginLifetimeMs: 3_600_000, idleLogoutMs: 10 * 3_600_000 });
    const { token } = await rig.wf.login('off1', '123456');
    expect(rig.wf.view(token).loginExpiresAt).toBe(t0 + 3_600_000);
    // active all along, no session: refused at the lifetime
    t += 3_599_000;
    rig.wf.auth(token);
    t += 1_000;
    expect(() => rig!.wf.auth(token)).toThrow(expect.objectContaining({ code: 'WORKFLOW_AUTH', message: expect.stringMatching(/maximum lifetime/) }));

    // a person's session under way when the lifetime ends: kept for the grace, not one moment longer
    const second = await rig.wf.login('off1', '123456');
    await rig.wf.startSession(second.token);
    rig.wf.chooseKind(second.token, 'enrollment');
    consentGiven(rig.wf, second.token);
    expect(rig.wf.submitDetails(second.token, GOOD_DETAILS).ok).toBe(true);
    t += 3_600_000 + LOGIN_GRACE_MS - 1;
    expect(rig.wf.view(second.token).session!.step).toBe('fingerprints');
    const logouts: string[] = [];
    rig.wf.on('audit', (e: { kind: string; reason?: string }) => { if (e.kind === 'logout') logouts.push(e.reason ?? ''); });
    t += 1;
    expect(() => rig!.wf.auth(second.token)).toThrow(expect.objectContaining({ code: 'WORKFLOW_AUTH' }));
    expect(rig.wf.currentStep()).toBeNull();
    expect(logouts).toEqual(['expired']);
  });

  it('past the lifetime, finishing the session in progress ends the login', async () => {
    let t = 1_000;
    rig = await makeRig({ now: () => t, loginLifetimeMs: 60_000 });
    const { token } = await rig.wf.login('off1', '123456');
    await rig.wf.startSession(token);
    t += 61_000;
    rig.wf.auth(token); // a session is open: still allowed
    // aborting discards the session; the answer already says the login is over
    expect(() => rig!.wf.abort(token)).toThrow(expect.objectContaining({ code: 'WORKFLOW_AUTH' }));
    expect(rig.wf.currentStep()).toBeNull();
    expect(() => rig!.wf.auth(token)).toThrow(expect.objectContaining({ code: 'WORKFLOW_AUTH' }));
  });
});
