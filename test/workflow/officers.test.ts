import { afterEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OfficerStore, cardBinding, hashPin, verifyPin } from '../../station/officers/store';
import { ProgressCounters, dayOf } from '../../station/progress';
import { FAST_SCRYPT } from './helpers';

const dirs: string[] = [];
function tmp(): string { const d = mkdtempSync(join(tmpdir(), 'officers-')); dirs.push(d); return d; }
afterEach(() => { while (dirs.length) rmSync(dirs.pop()!, { recursive: true, force: true }); });

function store(dir: string, now?: () => number): OfficerStore {
  return new OfficerStore(join(dir, 'officers.db'), { scrypt: FAST_SCRYPT, maxFailures: 3, lockoutMs: 60_000, ...(now ? { now } : {}) }).open();
}

describe('officer store', () => {
  it('stores only a booth-bound scrypt verifier of the PIN', async () => {
    const dir = tmp();
    const s = store(dir);
    await s.add({ id: 'an.nguyen', name: 'Nguyễn An', pin: '80417263' });
    s.close();
    for (const f of readdirSync(dir)) if (f.startsWith('officers.db')) expect(readFileSync(join(dir, f)).includes(Buffer.from('80417263'))).toBe(false);
    expect(readFileSync(join(dir, 'officers.db')).includes(Buffer.from('bound1$1024$8$1$'))).toBe(true);
    const h = await hashPin('80417263', FAST_SCRYPT);
    expect(h).toMatch(/^scrypt\$1024\$8\$1\$/);
    expect(await verifyPin('80417263', h)).toBe(true);
    expect(await verifyPin('80417264', h)).toBe(false);
  });

  it('locks an officer after repeated wrong PINs, even against the right PIN, until the lock expires or is cleared', async () => {
    let t = 1_000_000;
    const s = store(tmp(), () => t);
    await s.add({ id: 'o1', name: 'O One', pin: '111111' });
    expect(await s.verify('o1', '000000')).toMatchObject({ ok: false, code: 'OFFICER_BAD_CREDENTIALS', remaining: 2 });
    expect(await s.verify('o1', '000000')).toMatchObject({ ok: false, remaining: 1 });
    expect(await s.verify('o1', '000000')).toMatchObject({ ok: false, code: 'OFFICER_LOCKED', until: t + 60_000 });
    expect(await s.verify('o1', '111111')).toMatchObject({ ok: false, code: 'OFFICER_LOCKED' });
    t += 61_000;
    expect(await s.verify('o1', '111111')).toMatchObject({ ok: true, officer: { id: 'o1' } });
    // the count restarts after a success; a second lockout doubles
    for (let i = 0; i < 3; i++) await s.verify('o1', '000000');
    expect(s.get('o1')!.lockedUntil).toBe(t + 60_000);
    expect(s.unlock('o1')).toBe(true);
    expect((await s.verify('o1', '111111')).ok).toBe(true);
    expect(await s.verify('nobody', '111111')).toMatchObject({ ok: false, code: 'OFFICER_BAD_CREDENTIALS' });
    s.close();
  });

  it('a card-bound officer needs the PIN and the same card', async () => {
    const s = store(tmp());
    const card = { atr: '3B:8F:80:01:80:4F', uid: '04A1B2C3' };
    await s.add({ id: 'o2', name: 'O Two', pin: '222222', card });
    expect(s.get('o2')!.cardBound).toBe(true);
    expect(await s.verify('o2', '222222')).toMatchObject({ ok: false, code: 'OFFICER_CARD_REQUIRED' });
    expect(await s.verify('o2', '222222', async () => ({ atr: '3b8f8001804f', uid: '04a1b2c4' }))).toMatchObject({ ok: false, code: 'OFFICER_CARD_MISMATCH' });
    expect(await s.verify('o2', '222222', async () => { throw new Error('no card'); })).toMatchObject({ ok: false, code: 'OFFICER_CARD_REQUIRED' });
    // a login without the right card is a failed attempt like a wrong PIN: the third locks (maxFailures 3)
    expect(s.get('o2')!.failedAttempts).toBe(3);
    expect(await s.verify('o2', '222222', async () => ({ atr: '3b8f8001804f', uid: '04a1b2c3' }))).toMatchObject({ ok: false, code: 'OFFICER_LOCKED' });
    s.unlock('o2');
    expect((await s.verify('o2', '222222', async () => ({ atr: '3b8f8001804f', uid: '04a1b2c3' }))).ok).toBe(true);
    expect(s.get('o2')!.failedAttempts).toBe(0);
    s.close();
  });

  it('applies officer pushes from headquarters, and refuses malformed ones', async () => {
    const s = store(tmp());
    const pinHash = await hashPin('333333', FAST_SCRYPT);
    expect(s.applyHqCommand({ op: 'upsert', officer: { id: 'hq1', name: 'From HQ', pinHash, cardHash: cardBinding({ atr: 'aa', uid: 'bb' }) } })).toEqual({ applied: true, op: 'upsert', id: 'hq1' });
    expect(s.get('hq1')).toMatchObject({ source: 'hq', cardBound: true, active: true });
    expect((await s.verify('hq1', '333333', async () => ({ atr: 'AA', uid: 'BB' }))).ok).toBe(true);
    s.applyHqCommand({ op: 'upsert', officer: { id: 'hq1', name: 'From HQ', pinHash, active: false } });
    expect((await s.verify('hq1', '333333')).ok).toBe(false);
    for (const bad of [null, 'x', { op: 'drop' }, { op: 'upsert' }, { op: 'upsert', officer: { id: 'hq2', name: 'X', pin: '123456' } },
      { op: 'upsert', officer: { id: 'hq2', name: 'X', pinHash: 'scrypt$3$8$1$AAAA$AAAA' } }, { op: 'upsert', officer: { id: '../x', name: 'X', pinHash } },
      { op: 'remove', id: 42 }]) {
      expect(() => s.applyHqCommand(bad), JSON.stringify(bad)).toThrow(/officer command refused/);
    }
    expect(s.applyHqCommand({ op: 'remove', id: 'hq1' }).op).toBe('remove');
    expect(s.get('hq1')).toBeNull();
    s.close();
  });

  it('refuses bad ids and short PINs', async () => {
    const s = store(tmp());
    await expect(s.add({ id: 'a b', name: 'x', pin: '123456' })).rejects.toMatchObject({ code: 'OFFICER_BAD_ID' });
    await expect(s.add({ id: 'ab', name: 'x', pin: '1234' })).rejects.toMatchObject({ code: 'OFFICER_BAD_PIN' });
    await s.add({ id: 'ab', name: 'x', pin: '123456' });
    await expect(s.add({ id: 'ab', name: 'x', pin: '123456' })).rejects.toMatchObject({ code: 'OFFICER_EXISTS' });
    s.close();
  });
});

describe('progress counters', () => {
  it('counts per local day (UTC+7) and unit and survive a reopen', () => {
    const dir = tmp();
    const file = join(dir, 'progress.db');
    const at = Date.UTC(2026, 10, 28, 16, 59); // 23:59 in Hà Nội
    let p = new ProgressCounters(file).open();
    p.record('enrollment', '00004', at);
    p.record('enrollment', '00004', at);
    p.record('eid-activation', '00004', at);
    p.record('enrollment', '00007', at);
    p.record('enrollment', '00004', at + 2 * 60_000); // next local day
    p.close();
    p = new ProgressCounters(file).open();
    expect(dayOf(at)).toBe('2026-11-28');
    expect(p.today('00004', 50, at)).toMatchObject({ day: '2026-11-28', enrollments: 2, activations: 1, quota: 50 });
    expect(p.today('00004', 50, at).units.map((u) => u.unit)).toEqual(['00004', '00007']);
    expect(p.today('00004', 50, at + 2 * 60_000)).toMatchObject({ day: '2026-11-29', enrollments: 1 });
    expect(p.rows('2026-11-29')).toHaveLength(1);
    p.close();
  });
});

function cli(args: string[], input: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', join(__dirname, 'officer-cli-entry.ts'), ...args], {
      cwd: join(__dirname, '..', '..'), stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, TS_NODE_TRANSPILE_ONLY: '1' },
    });
    let stdout = '', stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input);
  });
}

describe('station officer CLI', () => {
  it('adds (PIN from stdin), lists, refuses a bad PIN with exit 2, removes', async () => {
    const dir = tmp();
    const add = await cli(['officer', 'add', 'lan.tran', '--name', 'Trần Thị Lan', '--data-dir', dir], '24681357\n');
    expect(add.stderr).toBe('');
    expect(add.code).toBe(0);
    expect(add.stdout).toMatch(/added officer lan\.tran/);
    const bad = await cli(['officer', 'add', 'x1', '--name', 'X', '--data-dir', dir], '12\n');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/PIN must be 6–16 digits/);
    expect(bad.stderr).not.toMatch(/\n\s+at /);
    const list = await cli(['officer', 'list', '--json', '--data-dir', dir], '');
    expect(JSON.parse(list.stdout)).toEqual([{ id: 'lan.tran', name: 'Trần Thị Lan', cardBound: false, active: true, source: 'local', failedAttempts: 0, lockedUntil: null }]);
    const s = new OfficerStore(join(dir, 'officers.db')).open();
    expect((await s.verify('lan.tran', '24681357')).ok).toBe(true);
    s.close();
    expect((await cli(['officer', 'remove', 'lan.tran', '--data-dir', dir], '')).code).toBe(0);
    const again = await cli(['officer', 'remove', 'lan.tran', '--data-dir', dir], '');
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/no officer "lan.tran"/);
  }, 120_000);
});
