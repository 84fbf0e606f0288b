/**
 * How slow this machine is right now, for the tests whose waits grow with it
 * (a Linux boot in v86): a fixed piece of CPU work (test pattern frames) timed
 * on the wall clock, against what it took on a quiet reference machine. A
 * slower CPU and CPU-hungry neighbours both stretch it.
 */
import { renderTestPattern } from '../src/sources/test-pattern.ts';

/** Wall time of {@link FRAMES} frames on the reference machine (2-core Xeon VM, nothing else running: the CPU time of the work). */
const REFERENCE_MS = 500;
const FRAMES = 150;

/** Factor ≥ 1 by which this machine is slower than the reference at this moment. */
export function slowdown(): number {
  const px = new Uint32Array(1024 * 768);
  const t0 = performance.now();
  for (let f = 0; f < FRAMES; f++) renderTestPattern(f, 1024, 768, px);
  return Math.max(1, (performance.now() - t0) / REFERENCE_MS);
}

let measured: number | undefined;

/** {@link slowdown}, measured once per worker process (at its first use) and kept. */
export function slowdownOnce(): number {
  measured ??= slowdown();
  return measured;
}
