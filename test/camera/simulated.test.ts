import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { createCamera, previewFrames } from '../../drivers/camera';
import { processPortrait } from '../../drivers/camera/portrait';
import { DeviceTimeoutError, StationError, UsageError } from '../../drivers/common/errors';
import { nullLogger } from '../../station/log';

const logger = nullLogger();

async function failure(p: Promise<unknown>): Promise<StationError> {
  const e = await p.then(() => undefined, (x: unknown) => x);
  expect(e).toBeInstanceOf(StationError);
  return e as StationError;
}

describe('simulated camera', () => {
  it('gives a good photo, then a bad one on demand, then good again (next-fault is one-shot)', async () => {
    const cam = createCamera({ backend: 'simulated', timeoutMs: 10_000, logger });
    await cam.open();
    expect(cam.sim).toBeDefined();
    const first = await processPortrait((await cam.capture()).jpeg);
    expect(first.verdict).toBe('accept');
    cam.sim!.setNextFault('dark');
    expect(cam.sim!.fault).toBe('dark');
    const bad = await processPortrait((await cam.capture()).jpeg);
    expect(bad.verdict).toBe('reject');
    expect(bad.reasons[0]).toEqual({ code: 'too-dark', message: expect.stringMatching(/^too dark/) });
    const again = await processPortrait((await cam.capture()).jpeg);
    expect(again.verdict).toBe('accept');
    expect(cam.sim!.captures).toBe(3);
    await cam.close();
  });

  it('a sticky fault stays until cleared', async () => {
    const cam = createCamera({ backend: 'simulated', timeoutMs: 10_000, logger, sim: { fault: 'off-centre' } });
    await cam.open();
    for (let i = 0; i < 2; i++) expect((await processPortrait((await cam.capture()).jpeg)).reasons.map((r) => r.code)).toContain('off-centre');
    cam.sim!.setFault(null);
    expect((await processPortrait((await cam.capture()).jpeg)).verdict).toBe('accept');
  });

  it('slow → CAM_TIMEOUT at the configured timeout; close() ends a pending capture', async () => {
    const cam = createCamera({ backend: 'simulated', timeoutMs: 300, logger, sim: { fault: 'slow' } });
    await cam.open();
    const t0 = Date.now();
    const e = await failure(cam.capture());
    expect(e).toBeInstanceOf(DeviceTimeoutError);
    expect(e.code).toBe('CAM_TIMEOUT');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
    const cam2 = createCamera({ backend: 'simulated', timeoutMs: 60_000, logger, sim: { fault: 'slow' } });
    await cam2.open();
    const p = cam2.capture();
    await cam2.close();
    expect((await failure(p)).code).toBe('CAM_CLOSED');
  });

  it('process faults fail with the same codes as the real child-process backends', async () => {
    const cam = createCamera({ backend: 'simulated', timeoutMs: 10_000, logger });
    await cam.open();
    const expected: Record<string, string> = { 'child-crash': 'CAM_CAPTURE_FAILED', busy: 'CAM_BUSY', garbage: 'CAM_GARBAGE' };
    for (const [fault, code] of Object.entries(expected)) {
      cam.sim!.setNextFault(fault as 'busy');
      expect((await failure(cam.capture())).code).toBe(code);
    }
    // …and the officer can retry right away.
    expect((await cam.capture()).jpeg.length).toBeGreaterThan(1000);
  });

  it('preview frames are small JPEGs', async () => {
    const cam = createCamera({ backend: 'simulated', timeoutMs: 10_000, logger });
    await cam.open();
    const meta = await sharp(await cam.previewFrame()).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['jpeg', 640, 480]);
  });

  it('factory refuses an unknown backend and a bad timeout as configuration errors', () => {
    expect(() => createCamera({ backend: 'webcam' as 'v4l2', timeoutMs: 1000, logger })).toThrow(UsageError);
    expect(() => createCamera({ backend: 'simulated', timeoutMs: 0, logger })).toThrow(/timeout/);
    expect(createCamera({ backend: 'v4l2', timeoutMs: 1000, logger, device: '/dev/video3' }).description).toContain('/dev/video3');
  });
});

describe('previewFrames', () => {
  it('streams preview JPEGs until aborted, and surfaces a camera error', async () => {
    const cam = createCamera({ backend: 'simulated', timeoutMs: 10_000, logger });
    await cam.open();
    const ac = new AbortController();
    const frames: Buffer[] = [];
    for await (const f of previewFrames(cam, { intervalMs: 10, signal: ac.signal })) {
      frames.push(f);
      if (frames.length === 3) ac.abort();
    }
    expect(frames).toHaveLength(3);
    for (const f of frames) expect(f.subarray(0, 2).toString('hex')).toBe('ffd8');
    cam.sim!.setFault('busy');
    const it = previewFrames(cam, { intervalMs: 10 });
    await expect(it.next()).rejects.toMatchObject({ code: 'CAM_BUSY' });
  });
});
