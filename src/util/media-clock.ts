/**
 * The SPICE media clock (ms) on every thread: wall-clock time since `epoch`,
 * kept below 2^31 (spice-html5 reads u32 values as signed ints). Wall-clock
 * time is the same in every thread, unlike performance.now()'s origin.
 */
export function mediaTime(epoch: number): number {
  return (Date.now() - epoch) & 0x7fffffff;
}
