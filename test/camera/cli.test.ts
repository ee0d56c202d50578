import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { register } from '../../station/cli/camera';
import { inProcessStation } from '../helpers/cli-inprocess';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'camcli-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => {
  vi.restoreAllMocks();
  process.exitCode = undefined;
});

const station = inProcessStation(register);

describe('station camera capture', () => {
  it('writes the portrait and prints an OK verdict (exit 0)', async () => {
    const file = join(dir, 'good.jpg');
    const raw = join(dir, 'raw.jpg');
    const r = await station('camera', 'capture', '--simulated', '--out', file, '--raw', raw);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/verdict: {2}OK/);
    const meta = await sharp(readFileSync(file)).metadata();
    expect([meta.width, meta.height]).toEqual([480, 640]);
    expect((await sharp(readFileSync(raw)).metadata()).width).toBe(1640);
  });

  it('--json gives the verdict with reason codes and English messages; a refused photo exits 1', async () => {
    const file = join(dir, 'dark.jpg');
    const r = await station('camera', 'capture', '--simulated', '--fault', 'dark', '--out', file, '--json');
    expect(r.code).toBe(1);
    const j = JSON.parse(r.out);
    expect(j).toMatchObject({ ok: false, verdict: 'reject', width: 480, height: 640, camera: { backend: 'simulated' } });
    expect(j.reasons[0]).toEqual({ code: 'too-dark', message: expect.stringMatching(/^too dark/) });
    expect(j.bytes).toBe(readFileSync(file).length);
  });

  it('honours --width/--height/--max-bytes', async () => {
    const file = join(dir, 'small.jpg');
    const r = await station('camera', 'capture', '--simulated', '--out', file, '--width', '300', '--height', '400', '--max-bytes', '15000', '--json');
    const j = JSON.parse(r.out);
    expect([j.width, j.height]).toEqual([300, 400]);
    expect(j.bytes).toBeLessThanOrEqual(15000);
  });

  it('camera failures are clear errors with a hint, exit 1, no stack trace', async () => {
    const r = await station('camera', 'capture', '--simulated', '--fault', 'busy', '--out', join(dir, 'x.jpg'));
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/error: simulated camera is busy/);
    expect(r.err).toMatch(/→ Another program is using the camera/);
    expect(r.err).not.toMatch(/\n\s+at /);
    expect(existsSync(join(dir, 'x.jpg'))).toBe(false);
    const t = await station('camera', 'capture', '--simulated', '--fault', 'slow', '--timeout', '0.3', '--out', join(dir, 'x.jpg'));
    expect(t.code).toBe(1);
    expect(t.err).toMatch(/did not deliver a picture within 300 ms/);
  });

  it('bad usage exits 2', async () => {
    expect((await station('camera', 'capture', '--backend', 'webcam', '--out', join(dir, 'x.jpg'))).code).toBe(2);
    expect((await station('camera', 'capture', '--backend', 'rpicam', '--fault', 'dark', '--out', join(dir, 'x.jpg'))).code).toBe(2);
    expect((await station('camera', 'capture', '--simulated', '--fault', 'smudged', '--out', join(dir, 'x.jpg'))).code).toBe(2);
    // one flag per concept: the simulator is --simulated, as for the other devices
    const sim = await station('camera', 'capture', '--backend', 'sim', '--out', join(dir, 'x.jpg'));
    expect(sim.code).toBe(2);
    expect(sim.err).toMatch(/use --simulated/);
    const both = await station('camera', 'capture', '--simulated', '--backend', 'v4l2', '--out', join(dir, 'x.jpg'));
    expect(both.code).toBe(2);
    expect(both.err).toMatch(/--simulated and --backend exclude each other/);
    const ms = await station('camera', 'capture', '--simulated', '--timeout', '300ms', '--out', join(dir, 'x.jpg'));
    expect(ms.code).toBe(2);
    expect(ms.err).toMatch(/--timeout must be a number of seconds, got "300ms"/);
  });
});
