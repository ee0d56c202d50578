import type { Camera } from './types';

/**
 * Live view for the kiosk: preview JPEGs one after another, at most one every
 * `intervalMs`, until the signal aborts (the generator then just ends). A camera
 * error ends the stream with that error; the caller shows it and may start again.
 */
export async function* previewFrames(camera: Camera, o: { intervalMs?: number; signal?: AbortSignal } = {}): AsyncGenerator<Buffer> {
  const interval = o.intervalMs ?? 250;
  while (!o.signal?.aborted) {
    const started = Date.now();
    let frame: Buffer;
    try {
      frame = await camera.previewFrame({ signal: o.signal });
    } catch (e) {
      if (o.signal?.aborted) return;
      throw e;
    }
    yield frame;
    const rest = interval - (Date.now() - started);
    if (rest > 0 && !o.signal?.aborted) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(done, rest);
        function done(): void {
          clearTimeout(t);
          o.signal?.removeEventListener('abort', done);
          resolve();
        }
        o.signal?.addEventListener('abort', done, { once: true });
      });
    }
  }
}
