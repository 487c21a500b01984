/**
 * The one seeded PRNG of the tests and benchmarks (mulberry32, Tommy
 * Ettinger's 32-bit generator): the same seed gives the same sequence on
 * every run, so a failing randomized run can be replayed exactly. Used by
 * the sync convergence test, the reliability load test and benchmark B5.
 *
 * Returns a function giving floats in [0, 1).
 */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
