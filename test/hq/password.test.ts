/**
 * `hq` takes its broker password from a file or the environment, never from
 * argv (where `ps` shows it): against a real Mosquitto that requires a password.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto';
import { hqInProcess } from '../helpers/hq-inprocess';

const hq = hqInProcess;

describe('hq broker password', () => {
  let broker: Mosquitto;
  let root: string;
  const noEnv = { HQ_BROKER_PASSWORD: undefined, HQ_BROKER_PASSWORD_FILE: undefined };
  const g = (): string[] => ['--data-dir', join(root, 'hq'), '--broker', broker.url, '--username', 'hq'];

  beforeAll(async () => {
    broker = await startMosquitto({ users: { hq: 'the-right-password' } });
    root = mkdtempSync(join(tmpdir(), 'hqpw-'));
  });
  afterAll(async () => {
    await broker?.dispose();
    rmSync(root, { recursive: true, force: true });
  });

  it('refuses --password on the command line, saying what to use instead', async () => {
    const r = await hq([...g(), '--password', 'the-right-password', 'stations', '--json', '--wait', '300'], noEnv);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--password is not accepted/);
    expect(r.err).toMatch(/--password-file/);
    expect(r.err).toMatch(/HQ_BROKER_PASSWORD/);
    expect(r.out).toBe('');
  });

  it('reads the password from --password-file (first line) and connects', async () => {
    const f = join(root, 'pw');
    writeFileSync(f, 'the-right-password\n', { mode: 0o600 });
    const r = await hq([...g(), '--password-file', f, 'stations', '--json', '--wait', '300'], noEnv);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toHaveProperty('stations');
  });

  it('reads it from HQ_BROKER_PASSWORD_FILE and from HQ_BROKER_PASSWORD', async () => {
    const f = join(root, 'pw2');
    writeFileSync(f, 'the-right-password', { mode: 0o600 });
    const a = await hq([...g(), 'stations', '--json', '--wait', '300'], { HQ_BROKER_PASSWORD_FILE: f, HQ_BROKER_PASSWORD: undefined });
    expect(a.code).toBe(0);
    const b = await hq([...g(), 'stations', '--json', '--wait', '300'], { HQ_BROKER_PASSWORD_FILE: undefined, HQ_BROKER_PASSWORD: 'the-right-password' });
    expect(b.code).toBe(0);
  });

  it('a wrong password from the file is refused by the broker; a missing or empty file is a usage error naming it', async () => {
    const f = join(root, 'wrong');
    writeFileSync(f, 'not-it\n', { mode: 0o600 });
    const wrong = await hq([...g(), '--password-file', f, 'stations', '--json', '--wait', '300'], noEnv);
    expect(wrong.code).not.toBe(0);
    const missing = await hq([...g(), '--password-file', join(root, 'nope'), 'stations'], noEnv);
    expect(missing.code).toBe(2);
    expect(missing.err).toContain(join(root, 'nope'));
    const empty = join(root, 'empty');
    writeFileSync(empty, '\n', { mode: 0o600 });
    const e = await hq([...g(), '--password-file', empty, 'stations'], noEnv);
    expect(e.code).toBe(2);
    expect(e.err).toMatch(/is empty/);
  });
});
