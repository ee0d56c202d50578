import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeviceTimeoutError, StationError } from '../../drivers/common/errors';
import { assertJpeg, runChild } from '../../drivers/camera/child';
import { processPortrait } from '../../drivers/camera/portrait';
import { RpicamCamera } from '../../drivers/camera/rpicam';
import { V4l2Camera } from '../../drivers/camera/v4l2';
import { nullLogger } from '../../station/log';
import { fakeBinDir, isAlive } from './helpers';

const logger = nullLogger();

async function failure(p: Promise<unknown>): Promise<StationError> {
  const e = await p.then(() => undefined, (x: unknown) => x);
  expect(e).toBeInstanceOf(StationError);
  return e as StationError;
}

function readLog(file: string): { pid: number; argv: string[] }[] {
  return existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)) : [];
}

async function waitFor(cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('camera child processes (fake camera program behind real rpicam/ffmpeg/fswebcam names)', () => {
  let bins: { dir: string; cleanup: () => void };
  let work: string;
  let device: string;
  beforeAll(() => {
    bins = fakeBinDir(['libcamera-still', 'ffmpeg']);
    work = mkdtempSync(join(tmpdir(), 'camtest-'));
    device = join(work, 'video0');
    writeFileSync(device, '');
  });
  afterAll(() => {
    bins.cleanup();
    rmSync(work, { recursive: true, force: true });
  });
  const env = (fault = '', extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({ ...process.env, FAKE_CAMERA_FAULT: fault, ...extra });
  const rpicam = (fault = '', timeoutMs = 30_000, extra: Record<string, string> = {}): RpicamCamera =>
    new RpicamCamera({ logger, timeoutMs, pathEnv: bins.dir, env: env(fault, extra), width: 1640, height: 1232 });

  it('finds libcamera-still when rpicam-still is absent and captures a JPEG of the requested size', async () => {
    const log = join(work, 'argv-good.log');
    const cam = rpicam('', 30_000, { FAKE_CAMERA_ARGV: log });
    await cam.open();
    expect(cam.description).toContain(join(bins.dir, 'libcamera-still'));
    const shot = await cam.capture();
    const meta = await sharp(shot.jpeg).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['jpeg', 1640, 1232]);
    const argv = readLog(log)[0]!.argv;
    expect(argv.slice(-2)).toEqual(['-o', '-']);
    expect(argv).toContain('--nopreview');
    // Through the portrait pipeline: a good photo.
    expect((await processPortrait(shot.jpeg)).verdict).toBe('accept');
    // A dark scene from the same program is refused for the right reason.
    const dark = await rpicam('dark').capture();
    expect((await processPortrait(dark.jpeg)).reasons.map((r) => r.code)).toContain('too-dark');
  });

  it('program missing → CAM_BINARY_MISSING naming what was looked for', async () => {
    const cam = new RpicamCamera({ logger, timeoutMs: 5000, pathEnv: join(work, 'nowhere') });
    const e = await failure(cam.capture());
    expect(e.code).toBe('CAM_BINARY_MISSING');
    expect(e.message).toContain('rpicam-still');
    expect(e.message).toContain('libcamera-still');
    expect(e.hint).toMatch(/rpicam-apps/);
    const e2 = await failure(runChild({ command: join(work, 'no-such-program'), args: [], what: 'rpicam-still', timeoutMs: 5000 }));
    expect(e2.code).toBe('CAM_BINARY_MISSING');
  });

  it('program not executable → CAM_BINARY_NOT_EXECUTABLE', async () => {
    const f = join(work, 'not-exec');
    writeFileSync(f, '#!/bin/sh\necho hi\n');
    chmodSync(f, 0o644);
    const e = await failure(runChild({ command: f, args: [], what: 'rpicam-still', timeoutMs: 5000 }));
    expect(e.code).toBe('CAM_BINARY_NOT_EXECUTABLE');
  });

  it('camera busy (non-zero exit) → CAM_BUSY with the tool’s own words', async () => {
    const e = await failure(rpicam('busy').capture());
    expect(e.code).toBe('CAM_BUSY');
    expect(e.message).toMatch(/Device or resource busy/);
    expect(e.details).toMatchObject({ exitCode: 255 });
    expect(e.hint).toMatch(/retry/i);
  });

  it('program crashes half-way → CAM_CAPTURE_FAILED naming the signal; the half picture is not used', async () => {
    const e = await failure(rpicam('child-crash').capture());
    expect(e.code).toBe('CAM_CAPTURE_FAILED');
    expect(e.message).toContain('crashed (signal SIGSEGV)');
    expect(e.message).toContain('dequeue timeout');
  });

  it('garbage on stdout with exit 0 → CAM_GARBAGE', async () => {
    const e = await failure(rpicam('garbage').capture());
    expect(e.code).toBe('CAM_GARBAGE');
    expect(e.message).toMatch(/not a complete JPEG/);
  });

  it('a hung program is killed at the timeout → CAM_TIMEOUT, never a hang', async () => {
    const log = join(work, 'argv-slow.log');
    const cam = rpicam('slow', 10_000, { FAKE_CAMERA_ARGV: log });
    const t0 = Date.now();
    const e = await failure(cam.capture());
    const took = Date.now() - t0;
    expect(e).toBeInstanceOf(DeviceTimeoutError);
    expect(e.code).toBe('CAM_TIMEOUT');
    expect(e.message).toContain('within 10000 ms');
    expect(took).toBeGreaterThanOrEqual(9900); // it did wait the whole timeout (an upper bound would only measure the machine)
    const started = readLog(log);
    expect(started.length).toBe(1); // it really was running…
    await waitFor(() => !isAlive(started[0]!.pid)); // …and it is gone now
    // The camera is usable again after the timeout.
    const ok = await rpicam('').capture();
    expect(assertJpeg(ok.jpeg, { what: 'x' }).length).toBeGreaterThan(1000);
  });

  it('an aborted capture kills the program → CAM_ABORTED', async () => {
    const log = join(work, 'argv-abort.log');
    const cam = rpicam('slow', 60_000, { FAKE_CAMERA_ARGV: log });
    const ac = new AbortController();
    const p = cam.capture({ signal: ac.signal });
    await waitFor(() => readLog(log).length === 1, 30_000);
    ac.abort();
    const e = await failure(p);
    expect(e.code).toBe('CAM_ABORTED');
    await waitFor(() => !isAlive(readLog(log)[0]!.pid));
  });

  it('captures on one camera run one at a time', async () => {
    const log = join(work, 'argv-queue.log');
    const cam = rpicam('', 30_000, { FAKE_CAMERA_ARGV: log });
    const [a, b] = await Promise.all([cam.capture(), cam.previewFrame()]);
    expect((await sharp(a.jpeg).metadata()).width).toBe(1640);
    expect((await sharp(b).metadata()).width).toBe(640);
    expect(readLog(log).length).toBe(2);
  });

  it('USB camera via ffmpeg: device and size are passed; a missing device → CAM_NOT_FOUND', async () => {
    const log = join(work, 'argv-v4l2.log');
    const cam = new V4l2Camera({ logger, timeoutMs: 30_000, device, width: 1280, height: 960, pathEnv: bins.dir, env: env('', { FAKE_CAMERA_ARGV: log }) });
    await cam.open();
    expect(cam.description).toBe(`USB camera ${device} via ffmpeg`);
    const shot = await cam.capture();
    expect((await sharp(shot.jpeg).metadata()).height).toBe(960);
    const argv = readLog(log)[0]!.argv;
    expect(argv[argv.indexOf('-i') + 1]).toBe(device);
    expect(argv[argv.indexOf('-video_size') + 1]).toBe('1280x960');
    expect(argv).toContain('-frames:v');

    const gone = new V4l2Camera({ logger, timeoutMs: 30_000, device: join(work, 'video9'), pathEnv: bins.dir });
    const e = await failure(gone.open());
    expect(e.code).toBe('CAM_NOT_FOUND');
    expect(e.message).toContain(join(work, 'video9'));
  });

  it('USB camera unplugged after open → CAM_NOT_FOUND on the next capture', async () => {
    const dev = join(work, 'video1');
    writeFileSync(dev, '');
    const cam = new V4l2Camera({ logger, timeoutMs: 30_000, device: dev, pathEnv: bins.dir, env: env() });
    await cam.open();
    rmSync(dev);
    expect((await failure(cam.capture())).code).toBe('CAM_NOT_FOUND');
  });

  it('USB camera via fswebcam when ffmpeg is absent', async () => {
    const fsw = fakeBinDir(['fswebcam']);
    try {
      const log = join(work, 'argv-fsw.log');
      const cam = new V4l2Camera({ logger, timeoutMs: 30_000, device, width: 800, height: 600, pathEnv: fsw.dir, env: env('', { FAKE_CAMERA_ARGV: log }) });
      const shot = await cam.capture();
      expect((await sharp(shot.jpeg).metadata()).width).toBe(800);
      const argv = readLog(log)[0]!.argv;
      expect(argv[argv.indexOf('-d') + 1]).toBe(device);
      expect(argv[argv.length - 1]).toBe('-');
      const none = new V4l2Camera({ logger, timeoutMs: 5000, device, pathEnv: join(work, 'nowhere') });
      const e = await failure(none.open());
      expect(e.code).toBe('CAM_BINARY_MISSING');
      expect(e.message).toMatch(/ffmpeg, fswebcam/);
    } finally {
      fsw.cleanup();
    }
  });
});

describe('assertJpeg', () => {
  it('accepts a JPEG and refuses empty, truncated and non-JPEG data', async () => {
    const jpeg = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#808080' } }).jpeg().toBuffer();
    expect(assertJpeg(jpeg, { what: 't' })).toBe(jpeg);
    for (const bad of [Buffer.alloc(0), jpeg.subarray(0, jpeg.length - 10), Buffer.from('x'.repeat(500))]) {
      expect(() => assertJpeg(bad, { what: 'ffmpeg', device: '/dev/video0' })).toThrow(/ffmpeg on \/dev\/video0 returned/);
    }
  });
});
