/** Timing helper shared by the benchmark and the tests that print speeds. */

/** Runs `fn` repeatedly for at least `minMs` and `minRuns` runs; returns the best time of one run in ms. */
export function bestTime(fn: () => void, minMs = 300, minRuns = 3): number {
  let bestMs = Infinity;
  let runs = 0;
  const start = performance.now();
  while (runs < minRuns || performance.now() - start < minMs) {
    const t = performance.now();
    fn();
    bestMs = Math.min(bestMs, performance.now() - t);
    runs++;
  }
  return bestMs;
}
