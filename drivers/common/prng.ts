/**
 * A small seeded pseudo-random generator (mulberry32) for the simulators: the same
 * seed gives the same synthetic fingerprint or portrait scene in every run, so a
 * test that fails can be replayed. Not for anything security-related.
 */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
