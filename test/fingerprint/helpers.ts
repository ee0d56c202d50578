import { createScanner, startSimulator, type FingerprintScanner, type ScannerOptions, type SimulatorHandle, type SimulatorOptions } from '../../drivers/fingerprint';

/** Start a simulator and a driver on its pty; always stops both. */
export async function withSim<T>(
  simOpts: SimulatorOptions,
  fn: (sim: SimulatorHandle, scanner: FingerprintScanner) => Promise<T>,
  scanOpts: Partial<ScannerOptions> = {},
): Promise<T> {
  const sim = await startSimulator(simOpts);
  const scanner = createScanner({ model: simOpts.model, port: sim.path, ...scanOpts });
  try {
    return await fn(sim, scanner);
  } finally {
    await scanner.close().catch(() => undefined);
    await sim.stop();
  }
}

/** Resolve when `ev` fires on the emitter (with a generous limit). */
export function once(em: NodeJS.EventEmitter, ev: string, limitMs = 20000): Promise<unknown[]> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`event ${ev} did not fire within ${limitMs} ms`)), limitMs);
    em.once(ev, (...args: unknown[]) => {
      clearTimeout(t);
      resolve(args);
    });
  });
}

export async function rejectionOf(p: Promise<unknown>): Promise<Error & { code?: string; hint?: string }> {
  try {
    await p;
  } catch (e) {
    return e as Error & { code?: string; hint?: string };
  }
  throw new Error('expected the promise to reject');
}
