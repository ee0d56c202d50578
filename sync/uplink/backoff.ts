/** Exponential backoff with "equal jitter": half fixed, half random, capped. */
export interface BackoffOptions {
  baseMs: number;
  maxMs: number;
  factor?: number;
}

export function backoffDelay(attempt: number, o: BackoffOptions, rnd: () => number = Math.random): number {
  const n = Math.max(0, attempt - 1);
  const raw = Math.min(o.maxMs, o.baseMs * Math.pow(o.factor ?? 2, Math.min(n, 30)));
  return Math.round(raw / 2 + rnd() * (raw / 2));
}
