/**
 * `station fingerprint …` as a technician runs it, against the simulator on a real pty.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { startSimulator, type SimulatorHandle } from '../../drivers/fingerprint';

const root = join(__dirname, '..', '..');
const harness = join(__dirname, 'cli-harness.ts');

function run(args: string[], opts: { untilStdout?: RegExp } = {}): Promise<{ code: number | null; stdout: string; stderr: string; kill?: () => void }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', harness, ...args], { cwd: root, env: { ...process.env, TS_NODE_PROJECT: join(root, 'tsconfig.json') } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
      if (opts.untilStdout?.test(stdout)) resolve({ code: null, stdout, stderr, kill: () => child.kill('SIGTERM') });
    });
    child.stderr.on('data', (d) => (stderr += d));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('station fingerprint (CLI)', () => {
  let sim: SimulatorHandle;
  let dir: string;
  beforeAll(async () => {
    sim = await startSimulator({ model: 'r307', image: 'good' });
    dir = mkdtempSync(join(tmpdir(), 'fpcli-'));
  });
  afterAll(async () => {
    await sim.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('info --json reports the module', async () => {
    const r = await run(['fingerprint', 'info', '--model', 'r307', '--port', sim.path, '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ model: 'r307', width: 256, height: 288, ppi: 500, baud: 57600, capacity: 1000 });
  });

  it('capture --out writes an 8-bit grey PNG with the sensor ppi', async () => {
    const out = join(dir, 'f.png');
    const r = await run(['fingerprint', 'capture', '--model', 'r307', '--port', sim.path, '--out', out, '--json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.quality).toBeGreaterThanOrEqual(60);
    expect(j.out).toBe(out);
    const meta = await sharp(readFileSync(out)).metadata();
    expect(meta).toMatchObject({ width: 256, height: 288, channels: 1, density: 500 });
  });

  it('bad input: unknown model is a usage error (exit 2); a missing port names the path (exit 1)', async () => {
    const a = await run(['fingerprint', 'info', '--model', 'r999', '--port', sim.path]);
    expect(a.code).toBe(2);
    expect(a.stderr).toMatch(/unknown fingerprint model "r999"/);
    const b = await run(['fingerprint', 'info', '--model', 'r307', '--port', join(dir, 'nope')]);
    expect(b.code).toBe(1);
    expect(b.stderr).toContain(join(dir, 'nope'));
    expect(b.stderr).not.toMatch(/\n\s+at /); // no stack trace without --debug
  });

  it('simulate prints a pty path that capture can use, and cleans up on SIGTERM', async () => {
    const s = await run(['fingerprint', 'simulate', '--model', 'gt521f32', '--json'], { untilStdout: /\}\s*$/ });
    const { path } = JSON.parse(s.stdout) as { path: string };
    expect(existsSync(path)).toBe(true);
    try {
      const r = await run(['fingerprint', 'capture', '--model', 'gt521f32', '--port', path, '--position', '2', '--json']);
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ position: 2, finger: 'right index', width: 202, height: 258, ppi: 450, attempts: 1 });
    } finally {
      s.kill?.();
    }
    for (let i = 0; i < 100 && existsSync(path); i++) await new Promise((r) => setTimeout(r, 100));
    expect(existsSync(path)).toBe(false);
  });
});
